//! What a production hub does to us on day one: other teams' objects holding whatever Hive's
//! CRDs admit, sets of other runs in the way, the card's scripts run twice, a pod stopped in the
//! middle of teardown. Each story as it was met, and the safe outcome.

mod common;

use common::{TestHub, bin, run_bin, run_with_env};
use hive_scale_core::api::{ClusterDeployment, ClusterSync, SelectorSyncSet, crds};
use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use rand::SeedableRng;
use std::time::Duration;

async fn embedded_hub(dir: &std::path::Path) -> EmbeddedHub {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let mut cfg = EmbeddedHubConfig::new(dir.join("hub"));
    cfg.time_scale = hive_scale_sim::clock::TimeScale::new(20.0).unwrap();
    EmbeddedHub::start(cfg).await.unwrap()
}

fn summary(out: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// Another team's objects of every kind we read, holding what Hive's schemas admit (other
/// spellings, empty strings, fields nobody models, optional fields missing), a SelectorSyncSet
/// with `resourceApplyMode: sync` selecting the test's clusters, and one ClusterSync that a
/// looser CRD (as a newer Hive might install) let hold what our types cannot read: a scale test
/// on the real-hub path runs beside them, passes, and names the unreadable one once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_hive_admits_never_stop_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let hub = embedded_hub(dir.path()).await;
    let client = hub.api_server().client().await.unwrap();
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "other-team"}}))
                .unwrap(),
        )
        .await
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let mut created = Vec::new();
    for crd in crds() {
        let namespaced = crd.spec.scope == "Namespaced";
        let ar = ApiResource {
            group: crd.spec.group.clone(),
            version: crd.spec.versions[0].name.clone(),
            api_version: format!("{}/{}", crd.spec.group, crd.spec.versions[0].name),
            kind: crd.spec.names.kind.clone(),
            plural: crd.spec.names.plural.clone(),
        };
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(client.clone(), "other-team", &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        };
        for i in 0..12 {
            let name = format!("theirs-{i}");
            let obj = hive_scale_sim::testing::admitted_object(
                &crd,
                &name,
                namespaced.then_some("other-team"),
                &mut rng,
            );
            let obj: DynamicObject = serde_json::from_value(obj).unwrap();
            api.create(&PostParams::default(), &obj)
                .await
                .unwrap_or_else(|e| panic!("{} {name} is admitted by Hive's schema: {e}", ar.kind));
            created.push((ar.kind.clone(), name));
        }
    }
    // The story as met: lower-case `sync`, which Hive's CRD admits (no enum on the field).
    let sets: Api<SelectorSyncSet> = Api::all(client.clone());
    let theirs: SelectorSyncSet = serde_json::from_value(serde_json::json!({
        "apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
        "metadata": {"name": "team-config"},
        "spec": {
            "clusterDeploymentSelector": {"matchLabels": {"scaletest": "true"}},
            "resourceApplyMode": "sync",
            "resources": [{"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "team", "namespace": "default"}, "data": {"a": "b"}}]
        }
    }))
    .unwrap();
    sets.create(&PostParams::default(), &theirs).await.unwrap();
    let before = sets
        .get("team-config")
        .await
        .unwrap()
        .metadata
        .resource_version;
    // A newer Hive's looser ClusterSync schema, and a status our types cannot represent.
    let crd_api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut cs_crd = crd_api
        .get("clustersyncs.hiveinternal.openshift.io")
        .await
        .unwrap();
    let schema = cs_crd.spec.versions[0]
        .schema
        .as_mut()
        .unwrap()
        .open_api_v3_schema
        .as_mut()
        .unwrap();
    schema.properties.as_mut().unwrap().insert(
        "status".into(),
        serde_json::from_value(
            serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        )
        .unwrap(),
    );
    crd_api
        .replace(
            &cs_crd.metadata.name.clone().unwrap(),
            &PostParams::default(),
            &cs_crd,
        )
        .await
        .unwrap();
    let odd: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "other-team",
        &ApiResource::erase::<ClusterSync>(&()),
    );
    let mut o: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync",
        "metadata": {"name": "odd", "namespace": "other-team"}, "spec": {}
    }))
    .unwrap();
    o = odd.create(&PostParams::default(), &o).await.unwrap();
    o.data["status"] = serde_json::json!({"selectorSyncSets": [{"name": "x",
        "observedGeneration": "the first", "result": "Success",
        "lastTransitionTime": "2026-12-07T06:00:00Z"}]});
    odd.replace_status("odd", &PostParams::default(), &o)
        .await
        .unwrap();

    let out = dir.path().join("run");
    let kubeconfig = hub.kubeconfig_path().to_str().unwrap().to_string();
    // No metrics URL: ClusterDeployments, SelectorSyncSets and ClusterSyncs are all watched.
    let r = run_bin(
        &[
            "scaletest",
            "--kubeconfig",
            &kubeconfig,
            "--fake-cluster",
            "--clusters",
            "6",
            "--selectorsyncsets",
            "2",
            "--configmaps",
            "1",
            "--timeout",
            "2m",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let s = summary(&out);
    assert_eq!(s["status"], "passed");
    // It describes what ran: the scaled shape, and no model of a hub it did not start.
    assert_eq!(
        s["scenario"]["description"],
        "2 SelectorSyncSets x 1 ConfigMaps, then 6 adopted copies of one spoke (from 2020-adoption)"
    );
    assert!(s["scenario"].get("embedded").is_none(), "{}", s["scenario"]);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!report.contains("1000 adopted copies"), "{report}");
    let named = r.stderr.matches("ClusterSync other-team/odd").count();
    assert_eq!(named, 1, "one warning naming it: {}", r.stderr);
    // Nothing of theirs was written or removed.
    assert_eq!(
        sets.get("team-config")
            .await
            .unwrap()
            .metadata
            .resource_version,
        before
    );
    let cds: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "other-team",
        &ApiResource::erase::<ClusterDeployment>(&()),
    );
    for (kind, name) in created.iter().filter(|(k, _)| k == "ClusterDeployment") {
        assert!(cds.get_opt(name).await.unwrap().is_some(), "{kind} {name}");
    }
    hub.shutdown().await;
}

/// A scenario whose `add-resource` phase names a set this run did not create (another run's
/// `scaletest-0-configmap`): the change is refused, the run fails, and that set is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_resource_to_another_runs_set_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let hub = embedded_hub(dir.path()).await;
    let client = hub.api_server().client().await.unwrap();
    let colleague = hive_scale_core::fixtures::SelectorSyncSetFixture::new()
        .run("colleague")
        .configmaps(1)
        .render_range(0, 1)
        .unwrap()
        .remove(0);
    let sets: Api<SelectorSyncSet> = Api::all(client);
    sets.create(&PostParams::default(), &colleague)
        .await
        .unwrap();
    let before = sets.get("scaletest-0-configmap").await.unwrap();
    let scenario = dir.path().join("scenario.yaml");
    std::fs::write(
        &scenario,
        "name: borrowed-set\nclusters: 2\nselectorsyncsets: 2\nconfigmaps: 1\nphases:\n  - selectorsyncsets: {start: 1, count: 1}\n  - adopt: {start: 1, end: 2}\n  - observe: {}\n  - add-resource: {set: 0}\n  - observe: {}\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let r = run_bin(
        &[
            "scaletest",
            "--kubeconfig",
            hub.kubeconfig_path().to_str().unwrap(),
            "--fake-cluster",
            "--scenario",
            scenario.to_str().unwrap(),
            "--timeout",
            "2m",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let s = summary(&out);
    assert_eq!(s["status"], "failed");
    let phase = s["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "add-resource to set 0")
        .unwrap();
    assert!(
        phase["outcome"]
            .as_str()
            .unwrap()
            .contains("belongs to hive-scale run \"colleague\""),
        "{phase}"
    );
    let after = sets.get("scaletest-0-configmap").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(after.spec.common.resources.len(), 1);
    hub.shutdown().await;
}

/// The card's scripts, each run twice in a row as the 2020 scripts could be: the second run
/// succeeds and reports everything unchanged (or nothing left to delete).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cards_scripts_run_twice_finish_and_say_unchanged() {
    let hub = TestHub::start().await;
    let first = hub.run("setup_selectorsyncsets", &[]).await;
    first.ok();
    assert!(first.stdout.contains("created 60"), "{}", first.stdout);
    let again = hub.run("setup_selectorsyncsets", &[]).await;
    again.ok();
    assert!(
        again
            .stdout
            .contains("nothing to do: all 60 sets already match"),
        "{}",
        again.stdout
    );
    for _ in 0..2 {
        hub.run("test_setup", &["-", "1", "3", "--fake-cluster"])
            .await
            .ok();
    }
    let again = hub
        .run("test_setup", &["-", "1", "3", "--fake-cluster", "--json"])
        .await;
    again.ok();
    let s: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(s["clones"]["unchanged"], 3, "{s}");
    assert_eq!(s["run"], "scaletest");
    let kubeconfig = hub.kubeconfig().to_str().unwrap().to_string();
    let printed = run_with_env(
        "get_kubeconfig",
        &["ns2/c2"],
        &[("KUBECONFIG", kubeconfig.as_str())],
    )
    .await;
    printed.ok();
    assert!(
        printed.stdout.contains("fake-cluster"),
        "{}",
        printed.stdout
    );
    let first = hub.run("teardown", &["1", "3"]).await;
    first.ok();
    assert!(
        first.stdout.contains("deleted 3 clusterdeployments"),
        "{}",
        first.stdout
    );
    let again = hub.run("teardown", &["1", "3"]).await;
    again.ok();
    assert!(
        again.stdout.contains("deleted 0 clusterdeployments"),
        "{}",
        again.stdout
    );
    // The sets of the same scripts' run are still there, and go the same way.
    hub.run("setup_selectorsyncsets", &["--delete"]).await.ok();
    hub.run("setup_selectorsyncsets", &["--delete"]).await.ok();
    hub.server.shutdown().await;
}

/// A teardown of a range acts on one run only: another run's clone in that range is refused,
/// and `--all-runs` is how to say every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_of_a_range_touches_one_run_unless_told_all_runs() {
    let hub = TestHub::start().await;
    hub.run("test_setup", &["-", "1", "2", "--fake-cluster"])
        .await
        .ok();
    hub.run(
        "test_setup",
        &["-", "3", "3", "--fake-cluster", "--run", "colleague"],
    )
    .await
    .ok();
    let r = hub.run("teardown", &["1", "3", "--dry-run"]).await;
    r.ok();
    assert!(
        r.stdout.contains("would delete clusterdeployment ns1/c1"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("ns3/c3"),
        "another run's clone: {}",
        r.stdout
    );
    let r = hub
        .run("teardown", &["1", "3", "--all-runs", "--dry-run"])
        .await;
    r.ok();
    assert!(
        r.stdout.contains("would delete clusterdeployment ns3/c3"),
        "{}",
        r.stdout
    );
    let r = hub
        .run("teardown", &["1", "3", "--all-runs", "--run", "x"])
        .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    hub.server.shutdown().await;
}

/// A pod stopped in the middle of teardown: the SIGTERM is recorded, teardown goes on for its
/// grace and then stops, listing what is left, and the run exits 143; a second signal stops it
/// at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_teardown_is_recorded_and_bounded_by_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let hub = embedded_hub(dir.path()).await;
    let client = hub.api_server().client().await.unwrap();
    let kubeconfig = hub.kubeconfig_path().to_str().unwrap().to_string();
    // Clones a few seconds apart, so one can be held before teardown.
    let scenario = dir.path().join("slow.yaml");
    std::fs::write(
        &scenario,
        "name: slow\nclusters: 3\nselectorsyncsets: 1\nconfigmaps: 1\nphases:\n  - selectorsyncsets: {start: 0, count: 1}\n  - trickle: {start: 1, count: 3, every_seconds: 3}\n  - observe: {}\n",
    )
    .unwrap();
    for (signals, grace) in [(1, "2s"), (2, "5m")] {
        let out = dir.path().join(format!("run-{signals}"));
        let run = format!("hs-term-{signals}");
        let mut child = tokio::process::Command::new(bin())
            .args([
                "scaletest",
                "--kubeconfig",
                &kubeconfig,
                "--fake-cluster",
                "--scenario",
                scenario.to_str().unwrap(),
                "--timeout",
                "2m",
                "--grace",
                grace,
                "--run",
                &run,
                "--out",
                out.to_str().unwrap(),
            ])
            .env_remove("KUBECONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Somebody's finalizer on a clone holds its deletion: teardown waits for it to go.
        let cds: Api<ClusterDeployment> = Api::namespaced(client.clone(), "ns1");
        for _ in 0..600 {
            if cds.get_opt("c1").await.unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cds.patch(
            "c1",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"finalizers": ["example.com/hold"]}})),
        )
        .await
        .unwrap();
        let pid = child.id().unwrap().to_string();
        let mut lines = {
            use tokio::io::AsyncBufReadExt;
            tokio::io::BufReader::new(child.stdout.take().unwrap()).lines()
        };
        let mut seen = String::new();
        while let Ok(Some(l)) = lines.next_line().await {
            seen.push_str(&l);
            seen.push('\n');
            if l.contains("phase teardown ...") {
                break;
            }
        }
        assert!(seen.contains("phase teardown ..."), "{seen}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = std::time::Instant::now();
        for _ in 0..signals {
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("the run ends within its grace")
            .unwrap();
        let took = sent.elapsed();
        while let Ok(Some(l)) = lines.next_line().await {
            seen.push_str(&l);
            seen.push('\n');
        }
        assert_eq!(status.code(), Some(143), "{seen}");
        assert!(took < Duration::from_secs(20), "took {took:?}: {seen}");
        let s = summary(&out);
        assert_eq!(s["status"], "interrupted", "{s}");
        assert_eq!(s["signal"], "SIGTERM");
        assert_eq!(s["exit_code"], 143);
        assert_eq!(s["teardown"]["stopped"], true, "{}", s["teardown"]);
        let left: Vec<&str> = s["teardown"]["left_behind"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(left.contains(&"ClusterDeployment ns1/c1"), "{left:?}");
        // Let the clone go for the next round.
        cds.patch(
            "c1",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
        let r = run_bin(
            &[
                "teardown",
                "--all",
                "--run",
                &run,
                "--selectorsyncsets",
                "--kubeconfig",
                &kubeconfig,
            ],
            &[],
        )
        .await;
        r.ok();
    }
    hub.shutdown().await;
}

/// A churn on the real-hub path, with and without Hive's metrics: each generation is followed
/// to every cluster through the ClusterSyncs' watch (never a list per poll), and timed by the
/// watch event that showed it, not by the observer's 5-second poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_churn_on_a_real_hub_is_timed_by_watch_events() {
    let dir = tempfile::tempdir().unwrap();
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let mut cfg = EmbeddedHubConfig::new(dir.path().join("hub"));
    cfg.sim.model.pipeline = hive_scale_core::api::Pipeline::ClusterSync;
    let hub = EmbeddedHub::start(cfg).await.unwrap();
    let scenario = dir.path().join("churn.yaml");
    std::fs::write(
        &scenario,
        "name: churn\nclusters: 3\nselectorsyncsets: 2\nconfigmaps: 1\nphases:\n  - selectorsyncsets: {start: 0, count: 2}\n  - adopt: {start: 1, end: 3}\n  - observe: {}\n  - churn: {sets: 1, every_seconds: 10, duration_seconds: 20}\n  - observe: {}\n",
    )
    .unwrap();
    let metrics = hub.metrics_url();
    for (name, extra) in [
        ("watched", vec![]),
        ("metrics", vec!["--metrics-url", &metrics]),
    ] {
        let out = dir.path().join(name);
        let mut args = vec![
            "scaletest",
            "--kubeconfig",
            hub.kubeconfig_path().to_str().unwrap(),
            "--fake-cluster",
            "--scenario",
            scenario.to_str().unwrap(),
            "--timeout",
            "2m",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let r = run_bin(&args, &[]).await;
        assert_eq!(r.code, 0, "{name}: {}\n{}", r.stdout, r.stderr);
        let s = summary(&out);
        let changes = s["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 2, "{name}: {changes:?}");
        for c in changes {
            assert_eq!(c["clusters"], 3, "{name}: {c}");
            assert_eq!(c["reached"], 3, "{name}: {c}");
            let max = c["fanout"]["max"].as_f64().unwrap();
            assert!(
                max > 0.0 && max < 4.5,
                "{name}: timed by the watch, not the 5 s poll: {c}"
            );
        }
    }
    hub.shutdown().await;
}
