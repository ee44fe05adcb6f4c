//! The toolkit on a hub that holds other people's objects: it never takes them over, never
//! deletes them, and says so.

mod common;

use common::TestHub;
use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions, RefusalReason};
use hive_scale_core::api::ClusterDeployment;
use hive_scale_core::hub::{Hub, HubOptions};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;

fn meta(name: &str, ns: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(Into::into),
        labels: Some(BTreeMap::from([(
            "owner".to_string(),
            "team-a".to_string(),
        )])),
        ..Default::default()
    }
}

/// Namespace `ns` with ConfigMap `precious`, made by somebody else.
async fn foreign_namespace(c: &kube::Client, ns: &str) {
    Api::<Namespace>::all(c.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta(ns, None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(c.clone(), ns)
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: meta("precious", Some(ns)),
                data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

/// The story of the safety issue: a namespace `ns3` of somebody else's, with a ConfigMap
/// `precious` and a Secret of a clone's name; another foreign namespace `ns4` with nothing in
/// the way. Without `--borrow-namespaces` neither is used and nothing is written in them. With
/// it, adoption refuses clone 3 (the Secret is not ours, and no ClusterDeployment of ours may
/// point at it), hosts clone 4 in `ns4` without labelling it; teardown deletes our objects and
/// neither namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_namespace_and_secret_are_never_taken_over_or_deleted() {
    let hub = TestHub::start().await;
    let c = hub.server.client().await.unwrap();
    foreign_namespace(&c, "ns3").await;
    foreign_namespace(&c, "ns4").await;
    let theirs = Secret {
        metadata: meta("c3-adopted-admin-kubeconfig", Some("ns3")),
        data: Some(BTreeMap::from([(
            "kubeconfig".to_string(),
            ByteString(b"their own".to_vec()),
        )])),
        ..Default::default()
    };
    let secrets3 = Api::<Secret>::namespaced(c.clone(), "ns3");
    secrets3
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();

    let r = hub
        .run(
            "test_setup",
            &["-", "1", "5", "--fake-cluster", "--run", "r1"],
        )
        .await;
    assert_eq!(r.code, 3, "a refusal has its own exit code: {}", r.stderr);
    assert!(
        r.stderr.contains(
            "refused clone 4: Namespace ns4: it exists and is not hive-scale's; a clone is adopted into it only with --borrow-namespaces"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.one_error_line().contains("2 of 5 clones refused"),
        "{}",
        r.stderr
    );
    for ns in ["ns3", "ns4"] {
        let secrets = Api::<Secret>::namespaced(c.clone(), ns);
        let ours: Vec<String> = secrets
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .filter(|n| n.starts_with("c4"))
            .collect();
        assert!(ours.is_empty(), "nothing written in {ns}: {ours:?}");
    }
    let r = hub
        .run(
            "test_setup",
            &[
                "-",
                "1",
                "5",
                "--fake-cluster",
                "--run",
                "r1",
                "--borrow-namespaces",
            ],
        )
        .await;
    assert_eq!(r.code, 3, "a refusal has its own exit code: {}", r.stderr);
    assert!(
        r.stderr.contains(
            "refused clone 3: Secret ns3/c3-adopted-admin-kubeconfig: it exists and is not hive-scale's"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.one_error_line().contains("1 of 5 clones refused"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("created 1"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("namespace ns4 existed and is not hive-scale's")
    );
    // Their Secret: same data, same labels; no ClusterDeployment next to it.
    let s = secrets3.get("c3-adopted-admin-kubeconfig").await.unwrap();
    assert_eq!(s.data.unwrap()["kubeconfig"].0, b"their own");
    assert_eq!(s.metadata.labels, theirs.metadata.labels);
    assert!(
        Api::<ClusterDeployment>::namespaced(c.clone(), "ns3")
            .get_opt("c3")
            .await
            .unwrap()
            .is_none()
    );
    // Their namespaces keep their labels, and ns4 hosts clone 4.
    for ns in ["ns3", "ns4"] {
        let n = Api::<Namespace>::all(c.clone()).get(ns).await.unwrap();
        assert_eq!(n.metadata.labels, meta(ns, None).labels, "{ns} relabelled");
    }
    assert!(
        Api::<ClusterDeployment>::namespaced(c.clone(), "ns4")
            .get_opt("c4")
            .await
            .unwrap()
            .is_some()
    );

    let r = hub.run("teardown", &["1", "5", "--run", "r1"]).await;
    r.ok();
    assert!(r.stdout.contains("kept namespace ns4"), "{}", r.stdout);
    for ns in ["ns3", "ns4"] {
        assert!(
            Api::<ConfigMap>::namespaced(c.clone(), ns)
                .get_opt("precious")
                .await
                .unwrap()
                .is_some(),
            "precious survives in {ns}"
        );
    }
    assert!(
        secrets3
            .get_opt("c3-adopted-admin-kubeconfig")
            .await
            .unwrap()
            .is_some()
    );
    // Our objects in ns4 are gone; theirs stay.
    let ns4 = Api::<Secret>::namespaced(c.clone(), "ns4");
    assert!(
        ns4.get_opt("c4-adopted-admin-kubeconfig")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        Api::<ClusterDeployment>::all(c.clone())
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    for ns in ["ns1", "ns2", "ns5"] {
        assert!(
            Api::<Namespace>::all(c.clone())
                .get_opt(ns)
                .await
                .unwrap()
                .is_none(),
            "our {ns} is deleted"
        );
    }
}

/// Another run's objects are another run's: adoption, setup and teardown leave them alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_runs_objects_are_left_alone() {
    let hub = TestHub::start().await;
    hub.run(
        "test_setup",
        &["-", "1", "3", "--fake-cluster", "--run", "a"],
    )
    .await
    .ok();
    hub.run(
        "test_setup",
        &["-", "4", "5", "--fake-cluster", "--run", "b"],
    )
    .await
    .ok();
    let r = hub.run("teardown", &["--all", "--run", "b"]).await;
    r.ok();
    let c = hub.server.client().await.unwrap();
    let names: Vec<String> = Api::<ClusterDeployment>::all(c.clone())
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    assert_eq!(names, ["c1", "c2", "c3"], "run a's clones stay");
    let r = hub.run("teardown", &["1", "3", "--run", "b"]).await;
    r.ok();
    assert!(
        r.stdout.contains("deleted 0 clusterdeployments"),
        "{}",
        r.stdout
    );
    // Without a run, the scripts' run: neither a's nor b's.
    let r = hub.run("teardown", &["--all"]).await;
    r.ok();
    assert!(
        r.stdout.contains("deleted 0 clusterdeployments"),
        "{}",
        r.stdout
    );
    let r = hub.run("teardown", &["--all", "--all-runs"]).await;
    r.ok();
    assert!(
        r.stdout.contains("deleted 3 clusterdeployments"),
        "{}",
        r.stdout
    );
}

/// An object of ours that is being deleted is never "unchanged": adoption waits for it to go
/// and creates it again, or says it is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_objects_are_waited_for_and_recreated() {
    let hub = TestHub::start().await;
    let h = Hub::connect(&HubOptions::kubeconfig(hub.kubeconfig().to_path_buf()).with_qps(0.0))
        .await
        .unwrap();
    let plan = AdoptPlan::fake();
    adopt::adopt(&h, &plan, 1..=1, &EngineOptions::default(), &None)
        .await
        .unwrap();
    let c = hub.server.client().await.unwrap();
    let secrets = Api::<Secret>::namespaced(c.clone(), "ns1");
    let name = "c1-adopted-admin-kubeconfig";
    let hold = |on: bool| {
        let fin: Vec<String> = if on {
            vec!["example.com/hold".into()]
        } else {
            vec![]
        };
        serde_json::json!({"metadata": {"finalizers": fin}})
    };
    let pp = PatchParams::default();
    secrets
        .patch(name, &pp, &Patch::Merge(hold(true)))
        .await
        .unwrap();
    secrets
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
    let old_uid = secrets.get(name).await.unwrap().metadata.uid;

    // Too short a wait: a clear refusal, nothing reported unchanged.
    let quick =
        EngineOptions::default().with_terminating_timeout(std::time::Duration::from_millis(500));
    let s = adopt::adopt(&h, &plan, 1..=1, &quick, &None).await.unwrap();
    assert_eq!((s.clones.unchanged, s.refused.len()), (0, 1), "{s:?}");
    assert!(matches!(
        s.refused[0].1.reason,
        RefusalReason::StillTerminating(_)
    ));

    // The finalizer goes a moment into the wait: the Secret is created again.
    let release = {
        let secrets = secrets.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            secrets
                .patch(name, &PatchParams::default(), &Patch::Merge(hold(false)))
                .await
                .unwrap();
        })
    };
    let s = adopt::adopt(&h, &plan, 1..=1, &EngineOptions::default(), &None)
        .await
        .unwrap();
    release.await.unwrap();
    assert_eq!(s.clones.unchanged, 0, "{s:?}");
    assert!(s.succeeded(), "{s:?}");
    let now = secrets.get(name).await.unwrap();
    assert!(now.metadata.deletion_timestamp.is_none());
    assert_ne!(now.metadata.uid, old_uid, "a new Secret");
}
