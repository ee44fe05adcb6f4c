//! Faults, crashes and the deprovision interlock on the paths a run deletes through.

mod common;

use common::run_with_env;
use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions};
use hive_scale_core::api::{ClusterDeployment, SelectorSyncSet};
use hive_scale_core::fixtures::{self, SelectorSyncSetFixture};
use hive_scale_core::hub::{Hub, HubOptions, RetryPolicy};
use hive_scale_sim::apiserver::faults::FaultConfig;
use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, PostParams};

async fn faulty(spec: &str) -> (tempfile::TempDir, ApiServer) {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ApiServerConfig::new(dir.path(), "hub");
    cfg.faults = Some(FaultConfig::parse(spec).unwrap());
    let server = ApiServer::start(cfg).await.unwrap();
    (dir, server)
}

async fn exact(server: &ApiServer, clones: usize, sets: usize) {
    exact_with(server, (clones, clones, clones, sets)).await;
}

/// The toolkit's (ClusterDeployments, Secrets, Namespaces, SelectorSyncSets) on the hub.
async fn exact_with(server: &ApiServer, want: (usize, usize, usize, usize)) {
    let kc = server.client().await.unwrap();
    let lp = ListParams::default().labels("app.kubernetes.io/managed-by=hive-scale");
    // The hub still injects faults: read with retries.
    let h = Hub::connect(
        &HubOptions::kubeconfig(server.kubeconfig_path().to_path_buf())
            .with_qps(0.0)
            .with_retry(RetryPolicy::default().with_max_retries(30)),
    )
    .await
    .unwrap();
    let (a, b, c, d) = (
        Api::<ClusterDeployment>::all(kc.clone()),
        Api::<Secret>::all(kc.clone()),
        Api::<Namespace>::all(kc.clone()),
        Api::<SelectorSyncSet>::all(kc),
    );
    let cds = h.call("list", "cds", || a.list(&lp)).await.unwrap().items;
    let secrets = h
        .call("list", "secrets", || b.list(&lp))
        .await
        .unwrap()
        .items;
    let ns = h.call("list", "ns", || c.list(&lp)).await.unwrap().items;
    let sss = h.call("list", "sss", || d.list(&lp)).await.unwrap().items;
    assert_eq!((cds.len(), secrets.len(), ns.len(), sss.len()), want);
}

/// Somebody else's objects on the hub: a namespace that will host clone 500 (with a ConfigMap
/// and a ClusterDeployment without preserveOnDelete in it) and a SelectorSyncSet of its own.
async fn foreign_objects(server: &ApiServer) {
    let kc = server.client().await.unwrap();
    let pp = PostParams::default();
    let meta = |name: &str, ns: Option<&str>| kube::api::ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(Into::into),
        labels: Some([("owner".to_string(), "team-a".to_string())].into()),
        ..Default::default()
    };
    // The hub injects faults into these writes too: retry until each is in.
    let h = Hub::connect(
        &HubOptions::kubeconfig(server.kubeconfig_path().to_path_buf())
            .with_qps(0.0)
            .with_retry(RetryPolicy::default().with_max_retries(30)),
    )
    .await
    .unwrap();
    let ns = Namespace {
        metadata: meta("ns500", None),
        ..Default::default()
    };
    let nsapi = Api::<Namespace>::all(kc.clone());
    let _ = h.call("create", "ns", || nsapi.create(&pp, &ns)).await;
    let cm = k8s_openapi::api::core::v1::ConfigMap {
        metadata: meta("precious", Some("ns500")),
        ..Default::default()
    };
    let cmapi = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(kc.clone(), "ns500");
    let _ = h.call("create", "cm", || cmapi.create(&pp, &cm)).await;
    let mut cd = AdoptPlan::fake().clone_objects(500).cluster_deployment;
    cd.metadata = meta("real", Some("ns500"));
    cd.spec.preserve_on_delete = false;
    let cdapi = Api::<ClusterDeployment>::namespaced(kc.clone(), "ns500");
    let _ = h.call("create", "cd", || cdapi.create(&pp, &cd)).await;
    let mut set = SelectorSyncSetFixture::new()
        .render_range(0, 1)
        .unwrap()
        .remove(0);
    set.metadata = meta("team-a-set", None);
    let setapi = Api::<SelectorSyncSet>::all(kc);
    let _ = h.call("create", "sss", || setapi.create(&pp, &set)).await;
}

/// The foreign objects, untouched: same labels, nothing of ours on them.
async fn foreign_intact(server: &ApiServer) {
    let kc = server.client().await.unwrap();
    let h = Hub::connect(
        &HubOptions::kubeconfig(server.kubeconfig_path().to_path_buf())
            .with_qps(0.0)
            .with_retry(RetryPolicy::default().with_max_retries(30)),
    )
    .await
    .unwrap();
    let labels = |m: &kube::api::ObjectMeta| m.labels.clone().unwrap_or_default();
    let want: std::collections::BTreeMap<String, String> =
        [("owner".to_string(), "team-a".to_string())].into();
    let nsapi = Api::<Namespace>::all(kc.clone());
    let ns = h.call("get", "ns", || nsapi.get("ns500")).await.unwrap();
    assert_eq!(
        labels(&ns.metadata),
        want,
        "the namespace is not relabelled"
    );
    assert!(ns.metadata.deletion_timestamp.is_none());
    let cmapi = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(kc.clone(), "ns500");
    h.call("get", "cm", || cmapi.get("precious")).await.unwrap();
    let cdapi = Api::<ClusterDeployment>::namespaced(kc.clone(), "ns500");
    let cd = h.call("get", "cd", || cdapi.get("real")).await.unwrap();
    assert_eq!(labels(&cd.metadata), want);
    assert!(cd.metadata.deletion_timestamp.is_none());
    let setapi = Api::<SelectorSyncSet>::all(kc);
    let set = h
        .call("get", "sss", || setapi.get("team-a-set"))
        .await
        .unwrap();
    assert_eq!(labels(&set.metadata), want);
}

/// 10% of every fault a real network and a busy hub give, each kind at once, including writes
/// that were committed before the connection dropped and 409s on apply, patch and delete: the
/// job still ends with exactly the expected objects, no false failures, and nothing foreign
/// touched; teardown under the same faults leaves nothing of ours and everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_of_each_fault_and_the_job_still_ends_exact() {
    let (_d, server) = faulty(
        "429=0.1,500=0.1,503=0.1,409=0.1,drop=0.1,commit-drop=0.1,latency=1ms,retry-after=1,seed=11",
    )
    .await;
    foreign_objects(&server).await;
    let kc = server.kubeconfig_path().to_str().unwrap().to_string();
    let env = [("KUBECONFIG", kc.as_str())];
    let r = run_with_env(
        "test_setup",
        &[
            "-",
            "1",
            "1000",
            "--fake-cluster",
            "--qps",
            "0",
            "--json",
            "--concurrency",
            "64",
            "--run",
            "faults",
            // ns500 is somebody else's, and hosts clone 500 when asked.
            "--borrow-namespaces",
            // The backoff of a test, not of a real hub: the faults are what is tested. Some
            // request of thousands, each attempt failing about half the time here, can run out
            // of a real hub's 20 retries (one did in a local CI run): this test allows 60.
            "--retry-min-delay",
            "10ms",
            "--retry-max-delay",
            "500ms",
            "--max-retries",
            "60",
        ],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "no false failures: {}", r.stderr);
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(s["clones"]["created"], 1000, "{}", r.stdout);
    assert_eq!(s["borrowed_namespaces"][0], "ns500");
    assert!(
        s["requests"]["retries"].as_u64().unwrap() > 300,
        "about half of ~3000 requests were faulted: {}",
        s["requests"]
    );
    let r = run_with_env(
        "setup_selectorsyncsets",
        &[
            "--qps",
            "0",
            "--count",
            "60",
            "--run",
            "faults",
            "--retry-min-delay",
            "10ms",
            "--retry-max-delay",
            "500ms",
            "--max-retries",
            "60",
        ],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    // ns500 is somebody else's: 999 namespaces of ours.
    exact_with(&server, (1000, 1000, 999, 60)).await;
    foreign_intact(&server).await;
    let injected = server.fault_stats().unwrap().injected;
    for kind in ["429", "500", "503", "409", "drop", "commit-drop"] {
        assert!(
            injected.get(kind).copied().unwrap_or(0) > 50,
            "{kind}: {injected:?}"
        );
    }

    let r = run_with_env(
        "teardown",
        &[
            "--all",
            "--run",
            "faults",
            "--selectorsyncsets",
            "--qps",
            "0",
            "--concurrency",
            "64",
            "--retry-min-delay",
            "10ms",
            "--retry-max-delay",
            "500ms",
            "--max-retries",
            "60",
        ],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "nothing of ours is refused: {}", r.stderr);
    assert!(r.stdout.contains("kept namespace ns500"), "{}", r.stdout);
    exact_with(&server, (0, 0, 0, 0)).await;
    foreign_intact(&server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retries_the_summary_says_what_was_and_was_not_written() {
    let (_d, server) = faulty("500=0.2,seed=3").await;
    let h = Hub::connect(
        &HubOptions::kubeconfig(server.kubeconfig_path().to_path_buf())
            .with_qps(0.0)
            .with_retry(RetryPolicy::none()),
    )
    .await
    .unwrap();
    let s = loop {
        // The initial lists themselves may be faulted: that is an error before anything is written.
        match adopt::adopt(
            &h,
            &AdoptPlan::fake(),
            1..=100,
            &EngineOptions::default(),
            &None,
        )
        .await
        {
            Ok(s) => break s,
            Err(e) => assert!(e.to_string().contains("500"), "{e}"),
        }
    };
    assert!(
        s.clones.failed > 0 && s.clones.created > 0,
        "{:?}",
        s.clones
    );
    assert_eq!(s.clones.failed, s.failures.len());
    let kc = server.client().await.unwrap();
    let written = loop {
        if let Ok(l) = Api::<ClusterDeployment>::all(kc.clone())
            .list(&ListParams::default())
            .await
        {
            break l.items.len();
        }
    };
    assert!(
        written >= s.clones.created,
        "every clone reported created has its ClusterDeployment"
    );
    let sets = SelectorSyncSetFixture::new().render_range(0, 60).unwrap();
    if let Ok(summary) = fixtures::apply_selector_syncsets(&h, &sets, 8, &None).await {
        let msg = summary.clone().into_result().unwrap_err().to_string();
        assert!(
            msg.contains("failed (first:") && msg.contains("created"),
            "{msg}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaletest_cleanup_goes_through_the_interlock() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let server = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let kc = server.client().await.unwrap();
    // A ClusterDeployment carrying the toolkit's labels but not preserveOnDelete, in a namespace of
    // the run: scaletest's cleanup must refuse it (and the namespace).
    let h =
        Hub::connect(&HubOptions::kubeconfig(server.kubeconfig_path().to_path_buf()).with_qps(0.0))
            .await
            .unwrap();
    adopt::adopt(
        &h,
        &AdoptPlan::fake(),
        1..=1,
        &EngineOptions::default(),
        &None,
    )
    .await
    .unwrap();
    let cds: Api<ClusterDeployment> = Api::namespaced(kc.clone(), "ns1");
    let mut risky = cds.get("c1").await.unwrap();
    risky.metadata = kube::api::ObjectMeta {
        name: Some("real-cluster".into()),
        namespace: Some("ns1".into()),
        labels: risky.metadata.labels.clone(),
        ..Default::default()
    };
    risky.spec.preserve_on_delete = false;
    cds.create(&PostParams::default(), &risky).await.unwrap();
    let out = dir.path().join("out");
    let hub_kc = server.kubeconfig_path().to_str().unwrap().to_string();
    let r = run_with_env(
        "scaletest",
        &[
            "--hub-kubeconfig",
            &hub_kc,
            "--fake-cluster",
            "--clusters",
            "2",
            "--selectorsyncsets",
            "1",
            "--configmaps",
            "1",
            "--timeout",
            "3",
            "--run",
            "scaletest",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    // No controllers on this hub, so the observe phase times out (exit 4); cleanup still runs.
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "refused ClusterDeployment ns1/real-cluster: spec.preserveOnDelete is not true"
        ),
        "{}",
        r.stderr
    );
    assert!(
        cds.get_opt("real-cluster").await.unwrap().is_some(),
        "never deleted"
    );
    assert!(
        Api::<Namespace>::all(kc.clone())
            .get_opt("ns1")
            .await
            .unwrap()
            .is_some(),
        "nor its namespace"
    );
    assert!(
        Api::<Namespace>::all(kc)
            .get_opt("ns2")
            .await
            .unwrap()
            .is_none(),
        "the run's other clone was cleaned up"
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(
        s["teardown"]["refused"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["object"] == "ClusterDeployment ns1/real-cluster")
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_restart_in_the_middle_of_a_run_is_ridden_out() {
    // The API server goes away one second in, for two seconds; the objects survive (etcd).
    let (_d, server) = faulty("restart=1:2").await;
    let kc = server.kubeconfig_path().to_str().unwrap().to_string();
    let env = [("KUBECONFIG", kc.as_str())];
    let start = std::time::Instant::now();
    let r = run_with_env(
        "test_setup",
        &["-", "1", "400", "--fake-cluster", "--qps", "100", "--json"],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        start.elapsed() > std::time::Duration::from_secs(3),
        "the run spanned the restart"
    );
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(s["clones"]["created"], 400);
    assert!(
        s["requests"]["retries"].as_u64().unwrap() > 0,
        "requests during the outage were retried"
    );
    let r = run_with_env("setup_selectorsyncsets", &["--qps", "0"], &env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    exact(&server, 400, 60).await;
    server.shutdown().await;
}

/// A fixed-seed generator for kill points, so a failure repeats.
struct Seeded(u64);

impl Seeded {
    fn millis(&mut self, lo: u64, hi: u64) -> std::time::Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        std::time::Duration::from_millis(lo + self.0 % (hi - lo))
    }
}

/// Starts `name`, SIGKILLs it after `after` (unless it ended first), and says whether it was
/// killed.
async fn kill_after(name: &str, args: &[&str], after: std::time::Duration) -> bool {
    let mut child = tokio::process::Command::new(common::example(name))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    tokio::select! {
        status = child.wait() => {
            let mut text = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await.unwrap();
            assert!(status.unwrap().success(), "{name} ended on its own, failing: {text}");
            false
        }
        _ = tokio::time::sleep(after) => {
            // start_kill sends SIGKILL: no handler runs, nothing is flushed on the way out.
            child.start_kill().unwrap();
            child.wait().await.unwrap();
            true
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_setup_killed_at_random_points_ends_exact() {
    let (_dir, server) = faulty("latency=2ms,seed=1").await;
    let kc = server.kubeconfig_path().to_str().unwrap().to_string();
    let args = [
        kc.as_str(),
        "1",
        "400",
        "--hub-kubeconfig",
        &kc,
        "--qps",
        "200",
        // Every attempt is the same run, resumed.
        "--run",
        "crash-1",
    ];
    let mut rng = Seeded(0x5eed_2020);
    let mut kills = 0;
    for _ in 0..5 {
        kills += usize::from(kill_after("test_setup", &args, rng.millis(200, 1500)).await);
    }
    assert!(kills >= 3, "most runs should be cut short ({kills} killed)");
    let r = run_with_env("test_setup", &args, &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    exact(&server, 400, 0).await;
    let names: std::collections::BTreeSet<String> =
        Api::<ClusterDeployment>::all(server.client().await.unwrap())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .collect();
    assert_eq!(names, (1..=400).map(|i| format!("c{i}")).collect());
    server.shutdown().await;
}

/// What a killed scaletest left must be readable: a whole summary, whole recording lines (only
/// the last may be cut), and a report made from it.
async fn readable_after_kill(out: &std::path::Path) {
    if let Ok(text) = std::fs::read_to_string(out.join("summary.json")) {
        let s: serde_json::Value = serde_json::from_str(&text).expect("summary.json is whole");
        assert!(s["phases"].is_array(), "{s}");
    }
    if let Ok(text) = std::fs::read_to_string(out.join("recording.jsonl")) {
        let lines: Vec<&str> = text.lines().collect();
        let whole = if text.ends_with('\n') {
            lines.len()
        } else {
            lines.len().saturating_sub(1)
        };
        for l in &lines[..whole] {
            serde_json::from_str::<serde_json::Value>(l).expect("a whole recording line");
        }
        if whole > 0 {
            let report = out.join("report-after-kill");
            let r = run_with_env(
                "report",
                &[
                    out.join("recording.jsonl").to_str().unwrap(),
                    "--out",
                    report.to_str().unwrap(),
                ],
                &[],
            )
            .await;
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert!(report.join("report.md").exists());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaletest_killed_at_random_points_ends_exact_and_leaves_readable_files() {
    use hive_scale_sim::controllers::SimConfig;
    use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
    use hive_scale_sim::model::CostModel;
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    // A hub that outlives every run, as a real one does.
    let mut cfg = EmbeddedHubConfig::new(dir.path().join("hub"));
    cfg.time_scale = hive_scale_sim::clock::TimeScale::new(20.0).unwrap();
    cfg.sim = SimConfig::new(CostModel::preset("laptop").unwrap());
    let hub = EmbeddedHub::start(cfg).await.unwrap();
    let (hub_kc, spoke_kc, metrics) = (
        hub.kubeconfig_path().to_str().unwrap().to_string(),
        hub.spoke_kubeconfig_path()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string(),
        hub.metrics_url(),
    );
    // Killed runs would tear down at the end, so each is a whole run and a kill can land in any
    // phase, teardown included; the last run keeps what it made, to be counted.
    let args = |out: &std::path::Path, keep: bool| -> Vec<String> {
        let mut a = [
            "--hub-kubeconfig",
            &hub_kc,
            "--spoke-kubeconfig",
            &spoke_kc,
            "--metrics-url",
            &metrics,
            "--clusters",
            "40",
            "--selectorsyncsets",
            "3",
            "--configmaps",
            "2",
            "--interval",
            "0.2",
            "--timeout",
            "120",
            // Every attempt is the same run, resumed.
            "--run",
            "crash-2",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        if keep {
            a.push("--keep".into());
        }
        a
    };
    let mut rng = Seeded(0xdead_beef);
    let mut kills = 0;
    for i in 0..4 {
        let out = dir.path().join(format!("killed-{i}"));
        let a = args(&out, false);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        kills += usize::from(kill_after("scaletest", &a, rng.millis(300, 6000)).await);
        readable_after_kill(&out).await;
    }
    assert!(kills >= 3, "most runs should be cut short ({kills} killed)");
    let out = dir.path().join("final");
    let a = args(&out, true);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let r = run_with_env("scaletest", &a, &[]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let kc = hub.api_server().client().await.unwrap();
    let lp = ListParams::default().labels("app.kubernetes.io/managed-by=hive-scale");
    let cds = Api::<ClusterDeployment>::all(kc.clone())
        .list(&lp)
        .await
        .unwrap()
        .items;
    let sets = Api::<SelectorSyncSet>::all(kc.clone())
        .list(&lp)
        .await
        .unwrap()
        .items;
    assert_eq!((cds.len(), sets.len()), (40, 3));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "passed");
    let observe = s["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "observe")
        .unwrap();
    assert_eq!(observe["pairs_applied"], 40 * 3);
    hub.shutdown().await;
}
