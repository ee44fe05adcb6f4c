//! Create, update, patch, status, validation and dry runs.

use super::*;

#[test]
fn create_get_conflicts_and_metadata() {
    let s = store();
    let cms = def(&s, "", "v1", "configmaps");
    let (o, effect) = s
        .create(&cms, "default", cm("a", json!({"k": "v"})), &opts("t"))
        .unwrap();
    assert_eq!(effect, WriteEffect::Created);
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
    let (o2, effect) = s
        .update(&cds, "default", "c1", changed.clone(), &opts("t"))
        .unwrap();
    assert_eq!(effect, WriteEffect::Updated);
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
    let (o4, effect) = s
        .update(&cds, "default", "c1", (*o3).clone(), &opts("t"))
        .unwrap();
    assert_eq!(effect, WriteEffect::Unchanged);
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
    let (o3, effect) = s.update(&cds, "default", "c1", main, &opts("t")).unwrap();
    assert_eq!(
        effect,
        WriteEffect::Unchanged,
        "the main endpoint ignores status"
    );
    assert_eq!(o3["status"]["apiURL"], "https://x");
    // A second status write replaces the whole status in its place among the object's fields;
    // one without a status removes it.
    let mut again = (*o3).clone();
    again["status"] = json!({"webConsoleURL": "https://y"});
    let (o4, _) = s
        .update(&cds, "default", "c1", again, &status_opts)
        .unwrap();
    assert_eq!(o4["status"], json!({"webConsoleURL": "https://y"}));
    let keys = |o: &Value| o.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&o4), keys(&o3), "the fields keep their order");
    assert_eq!(o4["metadata"]["uid"], o["metadata"]["uid"]);
    let mut none = (*o4).clone();
    none.as_object_mut().unwrap().remove("status");
    let (o5, _) = s.update(&cds, "default", "c1", none, &status_opts).unwrap();
    assert!(o5.get("status").is_none(), "{o5}");
    assert_eq!(o5["spec"], o4["spec"]);
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
fn timestamps_come_from_the_store_clock() {
    let clock = crate::clock::Clock::starting_at("2001-01-01T00:00:00Z".parse().unwrap());
    let s = Store::new(
        &[],
        StoreConfig {
            clock: Some(clock),
            ..Default::default()
        },
    );
    let cms = def(&s, "", "v1", "configmaps");
    let (o, _) = s
        .create(&cms, "default", cm("a", json!({"k": "v"})), &opts("t"))
        .unwrap();
    assert!(
        o["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .starts_with("2001-01-01")
    );
    let (o, _) = s
        .patch(
            &cms,
            "default",
            "a",
            PatchKind::Apply,
            cm("a", json!({"other": "w"})),
            &opts("applier"),
        )
        .unwrap();
    let times: Vec<&str> = o["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_str().unwrap())
        .collect();
    assert_eq!(times.len(), 2, "{o}");
    assert!(
        times.iter().all(|t| t.starts_with("2001-01-01")),
        "{times:?}"
    );
}

#[test]
fn kube_system_s_uid_is_the_hub_s_own_even_with_seeded_uids() {
    let seeded = || {
        Store::new(
            &hive_scale_core::api::crds(),
            StoreConfig {
                uid_seed: Some(7),
                ..Default::default()
            },
        )
    };
    let (a, b) = (seeded(), seeded());
    let uid = |s: &Store, name: &str| {
        let ns = def(s, "", "v1", "namespaces");
        s.get(&ns, "", name).unwrap()["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(uid(&a, "kube-system"), uid(&b, "kube-system"));
    // The seeded sequence is unchanged around it: what follows gets the uids it always had.
    assert_eq!(uid(&a, "kube-public"), uid(&b, "kube-public"));
    assert_eq!(uid(&a, "default"), uid(&b, "default"));
    let plain = (store(), store());
    assert_ne!(uid(&plain.0, "kube-system"), uid(&plain.1, "kube-system"));
}

#[test]
fn seeded_uids_repeat_and_shard_like_random_ones() {
    use crate::apiserver::store::admission::Uids;
    let (a, b) = (Uids::new(Some(7)), Uids::new(Some(7)));
    let first: Vec<String> = (0..3000).map(|_| a.next()).collect();
    let again: Vec<String> = (0..3000).map(|_| b.next()).collect();
    assert_eq!(first, again, "the same seed, the same uids");
    let distinct: std::collections::HashSet<&String> = first.iter().collect();
    assert_eq!(distinct.len(), first.len());
    for u in &first[..10] {
        let parsed = uuid::Uuid::parse_str(u).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "{u}");
    }
    assert_ne!(
        Uids::new(Some(8)).next(),
        first[0],
        "another seed, other uids"
    );
    assert_ne!(
        Uids::new(None).next(),
        Uids::new(None).next(),
        "unseeded: random"
    );
    // Hive's sharding (the uid as one hex number, mod N) spreads them evenly.
    let mut shards = [0usize; 3];
    for u in &first {
        shards[crate::model::replica_of(u, 3)] += 1;
    }
    assert!(
        shards.iter().all(|n| (900..=1100).contains(n)),
        "{shards:?}"
    );
}
