//! Adoption, get_kubeconfig and teardown against the embedded hub.

mod common;

use common::{TestHub, run_with_env};
use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions, Selection, TeardownOptions};
use hive_scale_core::api::ClusterDeployment;
use hive_scale_core::hub::{Hub, HubOptions, RetryPolicy};
use hive_scale_sim::apiserver::faults::FaultConfig;
use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, PostParams};

async fn connect(kubeconfig: &std::path::Path, qps: f64, burst: u32) -> Hub {
    Hub::connect(
        &HubOptions::kubeconfig(kubeconfig.to_path_buf())
            .with_qps(qps)
            .with_burst(burst),
    )
    .await
    .unwrap()
}

async fn count_clones(hub: &TestHub) -> (usize, usize, usize) {
    let c = hub.server.client().await.unwrap();
    let lp = ListParams::default().labels("app.kubernetes.io/managed-by=hive-scale");
    let cds = Api::<ClusterDeployment>::all(c.clone())
        .list(&lp)
        .await
        .unwrap()
        .items
        .len();
    let secrets = Api::<Secret>::all(c.clone())
        .list(&lp)
        .await
        .unwrap()
        .items
        .len();
    let ns = Api::<Namespace>::all(c)
        .list(&lp)
        .await
        .unwrap()
        .items
        .len();
    (cds, secrets, ns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopts_250_with_every_field_then_reports_them_unchanged() {
    let hub = TestHub::start().await;
    let spoke = std::fs::read(hub.kubeconfig()).unwrap();
    let h = connect(hub.kubeconfig(), 0.0, 1).await;
    let plan = AdoptPlan::new(spoke.clone());
    let s = adopt::adopt(&h, &plan, 1..=250, &EngineOptions::default(), &None)
        .await
        .unwrap();
    assert_eq!((s.clones.created, s.clones.failed), (250, 0), "{s:?}");
    let c = hub.server.client().await.unwrap();
    for i in [1u32, 17, 250] {
        let ns = format!("ns{i}");
        let n = Api::<Namespace>::all(c.clone()).get(&ns).await.unwrap();
        assert_eq!(n.metadata.labels.as_ref().unwrap()["scaletest"], "true");
        let secret = Api::<Secret>::namespaced(c.clone(), &ns)
            .get(&format!("c{i}-adopted-admin-kubeconfig"))
            .await
            .unwrap();
        let data = secret.data.unwrap();
        assert_eq!(data["kubeconfig"].0, spoke);
        assert_eq!(data["raw-kubeconfig"].0, spoke);
        let cd = Api::<ClusterDeployment>::namespaced(c.clone(), &ns)
            .get(&format!("c{i}"))
            .await
            .unwrap();
        assert!(cd.spec.installed && cd.spec.preserve_on_delete);
        assert_eq!(cd.spec.cluster_name, format!("c{i}"));
        assert_eq!(cd.spec.base_domain, "new-installer.openshift.com");
        assert!(cd.spec.platform.none.is_some() && cd.spec.platform.count() == 1);
        let md = cd.spec.cluster_metadata.unwrap();
        assert_eq!(md.cluster_id, format!("fake-c{i}"));
        assert_eq!(md.infra_id, format!("fake-c{i}"));
        assert_eq!(
            md.admin_kubeconfig_secret_ref.name,
            format!("c{i}-adopted-admin-kubeconfig")
        );
        let labels = cd.metadata.labels.unwrap();
        assert_eq!(labels["scaletest"], "true");
        assert_eq!(labels["hive-scale.openshift.io/run"], "scaletest");
    }
    assert_eq!(count_clones(&hub).await, (250, 250, 250));
    let again = adopt::adopt(&h, &plan, 1..=250, &EngineOptions::default(), &None)
        .await
        .unwrap();
    assert_eq!(again.clones.unchanged, 250, "{again:?}");
    let r = hub
        .run(
            "test_setup",
            &[
                hub.kubeconfig().to_str().unwrap(),
                "1",
                "250",
                "--json",
                "--run",
                "scaletest",
            ],
        )
        .await;
    r.ok();
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["clones"]["unchanged"], 250, "{}", r.stdout);
    assert_eq!(
        json["requests"]["requests"], 4,
        "a re-run only checks /version and lists: {}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_bound_and_rate_limit_hold() {
    let hub = TestHub::start().await;
    let h = connect(hub.kubeconfig(), 0.0, 1).await;
    hub.server.in_flight().reset_max();
    let s = adopt::adopt(
        &h,
        &AdoptPlan::fake(),
        1..=200,
        &EngineOptions::default().with_concurrency(4),
        &None,
    )
    .await
    .unwrap();
    assert_eq!(s.clones.created, 200);
    assert_eq!(s.max_in_flight, 4);
    assert!(
        hub.server.in_flight().max() <= 4,
        "the hub saw {} requests at once",
        hub.server.in_flight().max()
    );

    let h = connect(hub.kubeconfig(), 100.0, 1).await;
    let before = hub.server.in_flight().total();
    let start = std::time::Instant::now();
    let s = adopt::adopt(
        &h,
        &AdoptPlan::fake(),
        201..=260,
        &EngineOptions::default().with_concurrency(16),
        &None,
    )
    .await
    .unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let sent = hub.server.in_flight().total() - before;
    assert_eq!(
        sent, s.requests.requests,
        "every request went through the limiter"
    );
    let rate = (sent - 1) as f64 / elapsed;
    assert!(
        (90.0..=110.0).contains(&rate),
        "{sent} requests in {elapsed:.2}s = {rate:.1}/s, want 100 ±10%"
    );
    assert!(s.requests.limiter_wait_seconds > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_retries_finish_the_job() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ApiServerConfig::new(dir.path(), "hub");
    cfg.faults = Some(FaultConfig::parse("429=0.2,retry-after=1,seed=5").unwrap());
    let server = ApiServer::start(cfg).await.unwrap();
    let h = connect(server.kubeconfig_path(), 0.0, 1).await;
    // One clone at a time: creates of one kind share a URL, so the injector can tell a retry
    // from another clone's first try only when they do not overlap.
    let s = adopt::adopt(
        &h,
        &AdoptPlan::fake(),
        1..=10,
        &EngineOptions::default().with_concurrency(1),
        &None,
    )
    .await
    .unwrap();
    assert_eq!(s.clones.created, 10, "{s:?}");
    let stats = server.fault_stats().unwrap();
    assert!(stats.injected["429"] > 0);
    assert!(s.requests.retries >= stats.injected["429"]);
    let gap = stats.min_retry_gap.unwrap();
    assert!(
        gap >= 1.0,
        "a client came back {gap:.3}s after a 429 asking for 1s"
    );

    // Without retries, the same faults fail clones, and the summary says which.
    let none = Hub::connect(
        &HubOptions::kubeconfig(server.kubeconfig_path().to_path_buf())
            .with_qps(0.0)
            .with_retry(RetryPolicy::none()),
    )
    .await
    .unwrap();
    let s = adopt::adopt(
        &none,
        &AdoptPlan::fake(),
        21..=60,
        &EngineOptions::default(),
        &None,
    )
    .await
    .unwrap();
    assert!(s.clones.failed > 0 && !s.failures.is_empty());
    assert_eq!(s.clones.total(), 40);
    assert!(s.failures[0].1.contains("429"), "{:?}", s.failures[0]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_resumes_to_the_exact_set() {
    let hub = TestHub::start().await;
    let kc = hub.kubeconfig().to_str().unwrap().to_string();
    let mut child = tokio::process::Command::new(common::example("test_setup"))
        .args([
            kc.as_str(),
            "1",
            "300",
            "--qps",
            "150",
            "--concurrency",
            "8",
            "--run",
            "resume-1",
        ])
        .env("KUBECONFIG", &kc)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let (cds, _, _) = count_clones(&hub).await;
    assert!(
        cds > 0 && cds < 300,
        "the kill should land mid-run ({cds} adopted)"
    );
    // Another run (a fresh run id) leaves the killed run's clones alone and says how to resume.
    let r = hub.run("test_setup", &[&kc, "1", "1"]).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("pass --run resume-1"), "{}", r.stderr);
    let r = hub
        .run(
            "test_setup",
            &[&kc, "1", "300", "--qps", "0", "--run", "resume-1"],
        )
        .await;
    r.ok();
    assert_eq!(count_clones(&hub).await, (300, 300, 300));
    let c = hub.server.client().await.unwrap();
    let names: std::collections::BTreeSet<String> = Api::<ClusterDeployment>::all(c)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    let want: std::collections::BTreeSet<String> = (1..=300).map(|i| format!("c{i}")).collect();
    assert_eq!(names, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_kubeconfig_prints_the_adopted_kubeconfig_byte_for_byte() {
    let hub = TestHub::start().await;
    let spoke = hub.dir.path().join("spoke.kubeconfig");
    let text = std::fs::read_to_string(hub.kubeconfig()).unwrap() + "# trailing comment, kept\n";
    std::fs::write(&spoke, &text).unwrap();
    hub.run("test_setup", &[spoke.to_str().unwrap(), "7", "7"])
        .await
        .ok();
    let r = hub.run("get_kubeconfig", &["ns7/c7"]).await;
    r.ok();
    assert_eq!(r.stdout, text);
    assert!(
        r.stderr.is_empty(),
        "nothing else goes anywhere: {}",
        r.stderr
    );
    let r = hub.run("get_kubeconfig", &["ns7/c8"]).await;
    assert!(
        r.one_error_line()
            .contains("ClusterDeployment ns7/c8 not found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_refuses_what_the_interlock_forbids() {
    let hub = TestHub::start().await;
    hub.run("test_setup", &["-", "1", "6", "--fake-cluster"])
        .await
        .ok();
    let c = hub.server.client().await.unwrap();
    // c2 loses preserveOnDelete; a foreign CD (no toolkit label) lands in ns3.
    let cds2 = Api::<ClusterDeployment>::namespaced(c.clone(), "ns2");
    let mut cd2 = cds2.get("c2").await.unwrap();
    cd2.spec.preserve_on_delete = false;
    cds2.replace("c2", &PostParams::default(), &cd2)
        .await
        .unwrap();
    let mut foreign = Api::<ClusterDeployment>::namespaced(c.clone(), "ns3")
        .get("c3")
        .await
        .unwrap();
    foreign.metadata = kube::api::ObjectMeta {
        name: Some("real".into()),
        namespace: Some("ns3".into()),
        labels: Some([("scaletest".to_string(), "true".to_string())].into()),
        ..Default::default()
    };
    Api::<ClusterDeployment>::namespaced(c.clone(), "ns3")
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();

    let r = hub.run("teardown", &["1", "6", "--dry-run"]).await;
    assert!(
        r.stdout.contains("would delete clusterdeployment ns1/c1") && !r.stdout.contains("ns2/c2"),
        "{}",
        r.stdout
    );

    let r = hub.run("teardown", &["1", "6"]).await;
    assert_eq!(r.code, 3, "refusals have their own exit code: {}", r.stderr);
    assert!(
        r.stderr
            .contains("refused ClusterDeployment ns2/c2: spec.preserveOnDelete is not true"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "refused Namespace ns3: the namespace still holds ClusterDeployments (ns3/real)"
        ),
        "{}",
        r.stderr
    );
    let left: Vec<String> = Api::<ClusterDeployment>::all(c.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| {
            format!(
                "{}/{}",
                c.metadata.namespace.unwrap(),
                c.metadata.name.unwrap()
            )
        })
        .collect();
    assert_eq!(
        left,
        ["ns2/c2", "ns3/real"],
        "only the refused CDs remain (c3 itself passed)"
    );
    assert!(
        Api::<Namespace>::all(c.clone())
            .get_opt("ns1")
            .await
            .unwrap()
            .is_none()
    );

    // A selector matching more than we created: the foreign CD is refused by the library too.
    let h = connect(hub.kubeconfig(), 0.0, 1).await;
    let s = adopt::teardown(
        &h,
        &TeardownOptions::new(Selection::Selector("scaletest=true".into())),
        &None,
    )
    .await
    .unwrap();
    let refused: Vec<&str> = s.refused.iter().map(|r| r.object.as_str()).collect();
    assert!(
        refused.contains(&"ClusterDeployment ns2/c2")
            && refused.contains(&"ClusterDeployment ns3/real"),
        "{refused:?}"
    );
    let foreign = Api::<ClusterDeployment>::namespaced(c.clone(), "ns3")
        .get("real")
        .await
        .unwrap();
    let err = adopt::teardown::delete_cluster_deployment(&h, &foreign, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not hive-scale's"), "{err}");
    let mut preserved = foreign.clone();
    preserved.spec.preserve_on_delete = true;
    let err = adopt::teardown::delete_cluster_deployment(&h, &preserved, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err.refusal(), Some(r) if r.reason == adopt::RefusalReason::NotOurs),
        "preserveOnDelete alone is not enough: {err}"
    );
    assert_eq!(
        Api::<ClusterDeployment>::all(c)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_line_and_creates_nothing() {
    let hub = TestHub::start().await;
    let kc = hub.kubeconfig().to_str().unwrap().to_string();
    let garbage = hub.dir.path().join("garbage");
    std::fs::write(&garbage, "token: SECRET-XYZ\n: [").unwrap();
    let no_server = hub.dir.path().join("noserver");
    std::fs::write(
        &no_server,
        std::fs::read_to_string(&kc)
            .unwrap()
            .replace("server:", "serverless:"),
    )
    .unwrap();
    for (args, want) in [
        (
            vec![kc.as_str(), "0", "5"],
            "START END (0 5): clone indices start at 1",
        ),
        (
            vec![kc.as_str(), "5", "1"],
            "START END (5 1): the first clone index (5) is greater than the last (1)",
        ),
        (vec![kc.as_str(), "one", "5"], "invalid value 'one'"),
        (vec![kc.as_str(), "-1", "5"], "invalid value '-1'"),
        (
            vec!["/nonexistent", "1", "5"],
            "/nonexistent: cannot be read",
        ),
        (
            vec![garbage.to_str().unwrap(), "1", "5"],
            "not a valid kubeconfig",
        ),
        (vec![no_server.to_str().unwrap(), "1", "5"], "has no server"),
        (vec!["-", "1", "5"], "only with --fake-cluster"),
        (vec![kc.as_str(), "1", "5", "--label", "bad"], "key=value"),
    ] {
        let r = hub.run("test_setup", &args).await;
        let line = r.one_error_line();
        assert!(line.contains(want), "{args:?}: {line}");
        assert_eq!(r.code, 2, "bad input: {args:?}: {line}");
        assert!(!r.stderr.contains("SECRET-XYZ"));
    }
    assert_eq!(
        count_clones(&hub).await,
        (0, 0, 0),
        "rejected command lines create nothing"
    );
    let r = run_with_env(
        "test_setup",
        &[kc.as_str(), "1", "1", "--check-spoke"],
        &[("KUBECONFIG", "/nonexistent")],
    )
    .await;
    assert!(r.one_error_line().contains("/nonexistent"), "{}", r.stderr);

    // Hub down.
    let port = {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let down = hub.dir.path().join("down");
    std::fs::write(
        &down,
        std::fs::read_to_string(&kc)
            .unwrap()
            .replace(&hub.server.url(), &format!("https://127.0.0.1:{port}")),
    )
    .unwrap();
    let r = run_with_env(
        "test_setup",
        &[
            "-",
            "1",
            "5",
            "--fake-cluster",
            "--hub-kubeconfig",
            down.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(
        r.one_error_line().contains("cannot reach the hub"),
        "{}",
        r.stderr
    );
    // A spoke that is down, with --check-spoke.
    let r = hub
        .run(
            "test_setup",
            &[down.to_str().unwrap(), "1", "5", "--check-spoke"],
        )
        .await;
    assert!(r.one_error_line().contains("(the spoke)"), "{}", r.stderr);
    assert_eq!(count_clones(&hub).await, (0, 0, 0));
}
