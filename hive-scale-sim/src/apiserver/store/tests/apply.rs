//! Server-side apply: ownership, conflicts, removal.

use super::*;

#[test]
fn server_side_apply_creates_is_idempotent_removes_and_conflicts() {
    let s = store();
    let cms = def(&s, "", "v1", "configmaps");
    let applied = cm("a", json!({"x": "1", "y": "2"}));
    let (o, effect) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            applied.clone(),
            &opts("hive-scale"),
        )
        .unwrap();
    assert_eq!(effect, WriteEffect::Created);
    assert_eq!(o["metadata"]["managedFields"][0]["operation"], "Apply");
    let (o2, effect) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            applied,
            &opts("hive-scale"),
        )
        .unwrap();
    assert_eq!(effect, WriteEffect::Unchanged);
    assert_eq!(rv(&o2), rv(&o));
    // Dropping a field the manager owned removes it.
    let (o3, effect) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            cm("a", json!({"x": "1"})),
            &opts("hive-scale"),
        )
        .unwrap();
    assert_eq!(effect, WriteEffect::Updated);
    assert_eq!(o3["data"], json!({"x": "1"}));
    // Another manager changing an owned field conflicts, unless forced.
    let err = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            cm("a", json!({"x": "other"})),
            &opts("someone"),
        )
        .unwrap_err();
    assert_eq!((err.code, err.reason), (409, "Conflict"));
    assert!(
        err.message.contains(".data.x") && err.message.contains("hive-scale"),
        "{}",
        err.message
    );
    // Same value: shared ownership, no conflict.
    s.patch(
        &cms,
        "default",
        "a",
        PatchKind::Apply,
        cm("a", json!({"x": "1"})),
        &opts("someone"),
    )
    .unwrap();
    let forced = WriteOptions {
        force: true,
        ..opts("someone")
    };
    let (o4, _) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            cm("a", json!({"x": "2"})),
            &forced,
        )
        .unwrap();
    assert_eq!(o4["data"]["x"], "2");
    // An Update by another writer takes ownership away from the applier.
    let (o5, _) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Merge,
            json!({"data": {"x": "3"}}),
            &opts("editor"),
        )
        .unwrap();
    let managers: Vec<&str> = o5["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert!(managers.contains(&"editor"));
    assert!(
        s.patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            cm("a", json!({"x": "4"})),
            &opts("hive-scale")
        )
        .is_err()
    );
}

#[test]
fn apply_requires_a_manager_and_matching_kind() {
    let s = store();
    let cms = def(&s, "", "v1", "configmaps");
    assert_eq!(
        s.patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            cm("a", json!({})),
            &opts("")
        )
        .unwrap_err()
        .code,
        400
    );
    let mut wrong = cm("a", json!({}));
    wrong["kind"] = "Secret".into();
    assert_eq!(
        s.patch(&cms, "default", "a", PatchKind::Apply, wrong, &opts("m"))
            .unwrap_err()
            .code,
        400
    );
}
