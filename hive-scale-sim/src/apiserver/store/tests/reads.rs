//! Lists, selectors, paging and watch history.

use super::*;

#[test]
fn list_selectors_and_pagination() {
    let s = store();
    let cms = def(&s, "", "v1", "configmaps");
    for i in 0..25 {
        let mut o = cm(&format!("cm-{i:02}"), json!({}));
        o["metadata"]["labels"] = json!({"even": (i % 2 == 0).to_string()});
        s.create(&cms, "default", o, &opts("t")).unwrap();
    }
    let q = ListQuery {
        labels: LabelQuery::parse("even=true").unwrap(),
        ..Default::default()
    };
    assert_eq!(s.list(&cms, Some("default"), &q).unwrap().items.len(), 13);
    let q = ListQuery {
        fields: FieldQuery::parse("metadata.name=cm-03").unwrap(),
        ..Default::default()
    };
    assert_eq!(s.list(&cms, None, &q).unwrap().items.len(), 1);
    let mut names = Vec::new();
    let mut q = ListQuery {
        limit: 10,
        ..Default::default()
    };
    let mut pages = 0;
    let first_rv;
    {
        let page = s.list(&cms, Some("default"), &q).unwrap();
        first_rv = page.resource_version;
        assert!(page.continue_token.is_some());
        names.extend(page.items.iter().map(|o| o.head().name().to_string()));
        q.continue_token = page.continue_token;
        pages += 1;
    }
    while q.continue_token.is_some() {
        let page = s.list(&cms, Some("default"), &q).unwrap();
        assert_eq!(
            page.resource_version, first_rv,
            "pages report the first page's version"
        );
        names.extend(page.items.iter().map(|o| o.head().name().to_string()));
        q.continue_token = page.continue_token;
        pages += 1;
    }
    assert_eq!(pages, 3);
    let want: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, want);
    let bad = ListQuery {
        continue_token: Some("garbage!".into()),
        ..Default::default()
    };
    assert_eq!(s.list(&cms, None, &bad).unwrap_err().code, 400);
}

#[test]
fn watch_replays_history_and_expires_old_versions() {
    let s = store();
    let cms = def(&s, "", "v1", "configmaps");
    let start = s.current_rv();
    s.create(&cms, "default", cm("a", json!({})), &opts("t"))
        .unwrap();
    s.patch(
        &cms,
        "default",
        "a",
        PatchKind::Merge,
        json!({"data": {"k": "v"}}),
        &opts("t"),
    )
    .unwrap();
    s.delete(&cms, "default", "a", &DeleteOptions::default(), false)
        .unwrap();
    let w = s.watch(&cms, Some(start)).unwrap();
    let types: Vec<EventType> = w.initial.iter().map(|e| e.type_).collect();
    assert_eq!(
        types,
        vec![EventType::Added, EventType::Modified, EventType::Deleted]
    );
    for i in 0..60 {
        s.create(&cms, "default", cm(&format!("x{i}"), json!({})), &opts("t"))
            .unwrap();
    }
    let err = s.watch(&cms, Some(start)).unwrap_err();
    assert_eq!(err.code, 410);
    let w = s.watch(&cms, None).unwrap();
    assert_eq!(
        w.initial.len(),
        60,
        "no version: the current state as ADDED events"
    );
}
