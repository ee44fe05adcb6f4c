use super::*;
use serde_json::json;

fn store() -> Arc<Store> {
    Store::new(
        &hive_scale_core::api::crds(),
        StoreConfig {
            history_limit: 50,
            watch_buffer: 64,
            clock: None,
        },
    )
}

fn def(s: &Store, group: &str, version: &str, plural: &str) -> Arc<ResourceDef> {
    s.registry().lookup(group, version, plural).unwrap()
}

fn opts(manager: &str) -> WriteOptions {
    WriteOptions {
        field_manager: manager.into(),
        ..Default::default()
    }
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": data})
}

fn cd(name: &str) -> Value {
    json!({
        "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterName": name, "baseDomain": "example.com", "platform": {"none": {}}, "installed": true}
    })
}

fn rv(o: &Value) -> u64 {
    o["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn create_get_conflicts_and_metadata() {
    let s = store();
    let cms = def(&s, "", "v1", "configmaps");
    let (o, outcome) = s
        .create(&cms, "default", cm("a", json!({"k": "v"})), &opts("t"))
        .unwrap();
    assert_eq!(outcome, Outcome::Created);
    assert!(o["metadata"]["uid"].as_str().unwrap().len() == 36);
    assert!(
        o["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(
        o["metadata"].get("generation").is_none(),
        "core kinds have no generation"
    );
    assert_eq!(o["metadata"]["managedFields"][0]["manager"], "t");
    let err = s
        .create(&cms, "default", cm("a", json!({})), &opts("t"))
        .unwrap_err();
    assert_eq!((err.code, err.reason), (409, "AlreadyExists"));
    assert_eq!(s.get(&cms, "default", "a").unwrap()["data"]["k"], "v");
    assert_eq!(s.get(&cms, "default", "zz").unwrap_err().code, 404);
    let err = s
        .create(
            &cms,
            "missing",
            json!({"metadata": {"name": "x"}}),
            &opts("t"),
        )
        .unwrap_err();
    assert_eq!(err.code, 404);
    assert!(
        err.message.contains("namespaces \"missing\" not found"),
        "{}",
        err.message
    );
    let err = s
        .create(&cms, "default", cm("Bad_Name", json!({})), &opts("t"))
        .unwrap_err();
    assert_eq!((err.code, err.reason), (422, "Invalid"));
}

#[test]
fn update_needs_current_resource_version_and_bumps_generation_on_spec_only() {
    let s = store();
    let cds = def(&s, "hive.openshift.io", "v1", "clusterdeployments");
    let (o, _) = s.create(&cds, "default", cd("c1"), &opts("t")).unwrap();
    assert_eq!(o["metadata"]["generation"], 1);
    let mut changed = (*o).clone();
    changed["spec"]["preserveOnDelete"] = true.into();
    let (o2, outcome) = s
        .update(&cds, "default", "c1", changed.clone(), &opts("t"))
        .unwrap();
    assert_eq!(outcome, Outcome::Updated);
    assert_eq!(o2["metadata"]["generation"], 2);
    assert!(rv(&o2) > rv(&o));
    let err = s
        .update(&cds, "default", "c1", changed, &opts("t"))
        .unwrap_err();
    assert_eq!(
        (err.code, err.reason),
        (409, "Conflict"),
        "stale resourceVersion"
    );
    let mut labelled = (*o2).clone();
    labelled["metadata"]["labels"] = json!({"a": "b"});
    let (o3, _) = s
        .update(&cds, "default", "c1", labelled, &opts("t"))
        .unwrap();
    assert_eq!(
        o3["metadata"]["generation"], 2,
        "metadata changes do not bump generation"
    );
    let (o4, outcome) = s
        .update(&cds, "default", "c1", (*o3).clone(), &opts("t"))
        .unwrap();
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(rv(&o4), rv(&o3), "a no-op write keeps the resourceVersion");
}

#[test]
fn status_is_a_subresource() {
    let s = store();
    let cds = def(&s, "hive.openshift.io", "v1", "clusterdeployments");
    let mut body = cd("c1");
    body["status"] = json!({"installedTimestamp": "2020-01-01T00:00:00Z"});
    let (o, _) = s.create(&cds, "default", body, &opts("t")).unwrap();
    assert!(o.get("status").is_none(), "status is dropped on create");
    let mut st = (*o).clone();
    st["status"] = json!({"apiURL": "https://x"});
    st["spec"]["clusterName"] = "ignored".into();
    let status_opts = WriteOptions {
        status: true,
        ..opts("ctrl")
    };
    let (o2, _) = s.update(&cds, "default", "c1", st, &status_opts).unwrap();
    assert_eq!(o2["status"]["apiURL"], "https://x");
    assert_eq!(
        o2["spec"]["clusterName"], "c1",
        "the status endpoint ignores spec"
    );
    assert_eq!(o2["metadata"]["generation"], 1);
    let mut main = (*o2).clone();
    main["status"] = json!({});
    let (o3, outcome) = s.update(&cds, "default", "c1", main, &opts("t")).unwrap();
    assert_eq!(
        outcome,
        Outcome::Unchanged,
        "the main endpoint ignores status"
    );
    assert_eq!(o3["status"]["apiURL"], "https://x");
}

#[test]
fn schema_validation_names_the_field() {
    let s = store();
    let cds = def(&s, "hive.openshift.io", "v1", "clusterdeployments");
    let mut body = cd("c1");
    body["spec"].as_object_mut().unwrap().remove("platform");
    body["spec"]["installed"] = "yes".into();
    let err = s.create(&cds, "default", body, &opts("t")).unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message.contains("spec.platform: Required value"),
        "{}",
        err.message
    );
    assert!(err.message.contains("spec.installed"), "{}", err.message);
}

#[test]
fn patches() {
    let s = store();
    let cms = def(&s, "", "v1", "configmaps");
    s.create(
        &cms,
        "default",
        cm("a", json!({"x": "1", "y": "2"})),
        &opts("t"),
    )
    .unwrap();
    let (o, _) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Merge,
            json!({"data": {"x": null, "z": "3"}}),
            &opts("m"),
        )
        .unwrap();
    assert_eq!(o["data"], json!({"y": "2", "z": "3"}));
    let ops = json!([{"op": "replace", "path": "/data/y", "value": "9"}, {"op": "add", "path": "/metadata/labels", "value": {"l": "1"}}]);
    let (o, _) = s
        .patch(&cms, "default", "a", PatchKind::Json, ops, &opts("m"))
        .unwrap();
    assert_eq!(o["data"]["y"], "9");
    assert_eq!(o["metadata"]["labels"]["l"], "1");
    let err = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Json,
            json!([{"op": "test", "path": "/data/y", "value": "0"}]),
            &opts("m"),
        )
        .unwrap_err();
    assert_eq!(err.code, 422);
    let (o, _) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Strategic,
            json!({"data": {"$patch": "merge", "w": "1"}}),
            &opts("m"),
        )
        .unwrap();
    assert_eq!(o["data"]["w"], "1");
    assert!(o["data"].get("$patch").is_none());
    assert_eq!(
        s.patch(
            &cms,
            "default",
            "nope",
            PatchKind::Merge,
            json!({}),
            &opts("m")
        )
        .unwrap_err()
        .code,
        404
    );
}

#[test]
fn server_side_apply_creates_is_idempotent_removes_and_conflicts() {
    let s = store();
    let cms = def(&s, "", "v1", "configmaps");
    let applied = cm("a", json!({"x": "1", "y": "2"}));
    let (o, outcome) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            applied.clone(),
            &opts("hive-scale"),
        )
        .unwrap();
    assert_eq!(outcome, Outcome::Created);
    assert_eq!(o["metadata"]["managedFields"][0]["operation"], "Apply");
    let (o2, outcome) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            applied,
            &opts("hive-scale"),
        )
        .unwrap();
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(rv(&o2), rv(&o));
    // Dropping a field the manager owned removes it.
    let (o3, outcome) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            cm("a", json!({"x": "1"})),
            &opts("hive-scale"),
        )
        .unwrap();
    assert_eq!(outcome, Outcome::Updated);
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
        labels: LabelSelector::parse("even=true").unwrap(),
        ..Default::default()
    };
    assert_eq!(s.list(&cms, Some("default"), &q).unwrap().items.len(), 13);
    let q = ListQuery {
        fields: FieldSelector::parse("metadata.name=cm-03").unwrap(),
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
        names.extend(
            page.items
                .iter()
                .map(|o| o.head()["metadata"]["name"].as_str().unwrap().to_string()),
        );
        q.continue_token = page.continue_token;
        pages += 1;
    }
    while q.continue_token.is_some() {
        let page = s.list(&cms, Some("default"), &q).unwrap();
        assert_eq!(
            page.resource_version, first_rv,
            "pages report the first page's version"
        );
        names.extend(
            page.items
                .iter()
                .map(|o| o.head()["metadata"]["name"].as_str().unwrap().to_string()),
        );
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
fn finalizers_hold_deletion_and_preconditions_guard_it() {
    let s = store();
    let cds = def(&s, "hive.openshift.io", "v1", "clusterdeployments");
    let mut body = cd("c1");
    body["metadata"]["finalizers"] = json!(["hive.openshift.io/deprovision"]);
    let (o, _) = s.create(&cds, "default", body, &opts("t")).unwrap();
    let stale = Preconditions {
        resource_version: Some("1".into()),
        ..Default::default()
    };
    let err = s.delete(&cds, "default", "c1", &stale, false).unwrap_err();
    assert_eq!(err.code, 409);
    assert!(
        err.message.contains("Precondition failed"),
        "{}",
        err.message
    );
    let (held, outcome) = s
        .delete(&cds, "default", "c1", &Preconditions::default(), false)
        .unwrap();
    assert_eq!(outcome, Outcome::Finalizing);
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    let mut cleared = (*s.get(&cds, "default", "c1").unwrap()).clone();
    cleared["metadata"]["finalizers"] = json!([]);
    let (_, outcome) = s
        .update(&cds, "default", "c1", cleared, &opts("ctrl"))
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Deleted,
        "removing the last finalizer completes the deletion"
    );
    assert_eq!(s.get(&cds, "default", "c1").unwrap_err().code, 404);
    let _ = o;
}

#[test]
fn namespace_deletion_cascades_and_blocks_new_content() {
    let s = store();
    let nss = def(&s, "", "v1", "namespaces");
    let cms = def(&s, "", "v1", "configmaps");
    let cds = def(&s, "hive.openshift.io", "v1", "clusterdeployments");
    s.create(&nss, "", json!({"metadata": {"name": "ns1"}}), &opts("t"))
        .unwrap();
    let mut c = cd("c1");
    c["metadata"]["namespace"] = "ns1".into();
    c["metadata"]["finalizers"] = json!(["hold"]);
    s.create(&cds, "ns1", c, &opts("t")).unwrap();
    let mut m = cm("a", json!({}));
    m["metadata"]["namespace"] = "ns1".into();
    s.create(&cms, "ns1", m.clone(), &opts("t")).unwrap();
    let (_, outcome) = s
        .delete(&nss, "", "ns1", &Preconditions::default(), false)
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Finalizing,
        "a finalizer inside holds the namespace"
    );
    assert_eq!(s.get(&cms, "ns1", "a").unwrap_err().code, 404);
    m["metadata"]["name"] = "b".into();
    let err = s.create(&cms, "ns1", m, &opts("t")).unwrap_err();
    assert_eq!(err.code, 403);
    let mut held = (*s.get(&cds, "ns1", "c1").unwrap()).clone();
    held["metadata"]["finalizers"] = json!([]);
    s.update(&cds, "ns1", "c1", held, &opts("t")).unwrap();
    assert_eq!(
        s.get(&nss, "", "ns1").unwrap_err().code,
        404,
        "the namespace goes once it is empty"
    );
}

#[test]
fn owner_references_are_garbage_collected() {
    let s = store();
    let cds = def(&s, "hive.openshift.io", "v1", "clusterdeployments");
    let syncs = def(&s, "hiveinternal.openshift.io", "v1alpha1", "clustersyncs");
    let (owner, _) = s.create(&cds, "default", cd("c1"), &opts("t")).unwrap();
    let sync = json!({"apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync",
        "metadata": {"name": "c1", "ownerReferences": [{"apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment", "name": "c1", "uid": owner["metadata"]["uid"]}]},
        "spec": {}});
    s.create(&syncs, "default", sync, &opts("t")).unwrap();
    s.delete(&cds, "default", "c1", &Preconditions::default(), false)
        .unwrap();
    assert_eq!(s.get(&syncs, "default", "c1").unwrap_err().code, 404);
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
    s.delete(&cms, "default", "a", &Preconditions::default(), false)
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

#[test]
fn secrets_fold_string_data_and_need_base64() {
    let s = store();
    let secrets = def(&s, "", "v1", "secrets");
    let body = json!({"metadata": {"name": "s"}, "stringData": {"kubeconfig": "abc"}, "data": {"raw": "eHk="}});
    let (o, _) = s.create(&secrets, "default", body, &opts("t")).unwrap();
    assert_eq!(o["data"]["kubeconfig"], "YWJj");
    assert!(o.get("stringData").is_none());
    let bad = json!({"metadata": {"name": "t"}, "data": {"k": "%%%"}});
    assert_eq!(
        s.create(&secrets, "default", bad, &opts("t"))
            .unwrap_err()
            .code,
        422
    );
}

#[test]
fn dry_run_stores_nothing() {
    let s = store();
    let cms = def(&s, "", "v1", "configmaps");
    let before = s.current_rv();
    let dry = WriteOptions {
        dry_run: true,
        ..opts("t")
    };
    let (o, _) = s.create(&cms, "default", cm("a", json!({})), &dry).unwrap();
    assert_eq!(o["metadata"]["name"], "a");
    assert_eq!(s.get(&cms, "default", "a").unwrap_err().code, 404);
    assert_eq!(s.current_rv(), before);
}

#[test]
fn crds_created_at_runtime_are_served() {
    let s = store();
    let crds = def(
        &s,
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
    );
    assert!(
        s.registry()
            .lookup("example.com", "v1", "widgets")
            .is_none()
    );
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    s.create(&crds, "", crd, &opts("t")).unwrap();
    assert!(
        s.registry()
            .lookup("example.com", "v1", "widgets")
            .is_some()
    );
}
