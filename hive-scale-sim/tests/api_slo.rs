//! The scale test's API call latency SLO on the embedded hub: read from its API server's own
//! duration histogram, passing on a normal run and failing (the api-slo threshold, exit 9 in
//! the fronts) when the server is slow.

use hive_scale_core::scenario::Scenario;
use hive_scale_core::scenario::output::ResultDir;
use hive_scale_core::scenario::runner::{self, RunSettings, Status, Summary, ThresholdKind};
use hive_scale_sim::apiserver::faults::FaultConfig;
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
use std::path::Path;
use std::time::Duration;

async fn run(dir: &Path, faults: Option<&str>) -> (Summary, serde_json::Value, String) {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let scenario = Scenario::load("2020-adoption").unwrap().scaled(4, 2);
    let mut cfg = EmbeddedHubConfig::new(dir.join("hub"));
    cfg.time_scale = TimeScale::new(100.0).unwrap();
    cfg.faults = faults.map(|f| FaultConfig::parse(f).unwrap());
    let embedded = EmbeddedHub::start(cfg).await.unwrap();
    let target = embedded
        .target(embedded.connect(0.0).await.unwrap(), false)
        .unwrap();
    let out = dir.join("out");
    let mut settings = RunSettings::new(&out);
    settings.timeout = Duration::from_secs(120);
    settings.interval = Duration::from_millis(300);
    let dir = ResultDir::new(&out);
    settings.events = Some(dir.sink(None));
    let summary = runner::run(&scenario, target, &settings).await.unwrap();
    dir.finish(&summary, &Default::default()).unwrap();
    embedded.shutdown().await;
    let on_disk =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    (summary, on_disk, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_run_meets_the_slo_and_reports_every_group() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, on_disk, report) = run(dir.path(), None).await;
    assert_eq!(summary.status, Status::Passed, "{summary:#?}");
    let slo = &on_disk["api_slo"];
    assert_eq!(slo["status"], "passed", "{slo:#}");
    let groups = slo["groups"].as_array().unwrap();
    let find = |label: &dyn Fn(&serde_json::Value) -> bool| {
        groups
            .iter()
            .find(|g| label(g))
            .unwrap_or_else(|| panic!("missing group in {slo:#}"))
    };
    // The run created ClusterDeployments (a custom resource: a reference figure) and read
    // namespaces back.
    let cds =
        find(&|g| g["resource"] == "clusterdeployments.hive.openshift.io" && g["verb"] == "POST");
    assert_eq!(cds["custom_resource"], true);
    assert_eq!(cds["requests"], 4, "one create per clone: {cds:#}");
    assert_eq!(cds["limit_seconds"], 1.0);
    assert!(cds["p99_seconds"].as_f64().unwrap() < 1.0);
    assert!(groups.iter().any(|g| g["scope"] == "cluster"));
    assert!(groups.iter().all(|g| g["passed"] == true));
    let t = summary
        .thresholds
        .iter()
        .find(|t| t.kind == ThresholdKind::ApiSlo)
        .unwrap();
    assert!(t.held && t.value < 1.0, "{t:?}");
    assert!(
        report.contains("### API call latency SLO")
            && report.contains("| POST clusterdeployments.hive.openshift.io (reference) | 4 |"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_api_server_fails_the_run_with_its_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    // A third of the requests held 1.5 s: every busy group's P99 is above 1 s.
    let (summary, on_disk, report) = run(dir.path(), Some("delay=0.34:1500ms,seed=5")).await;
    assert_eq!(summary.status, Status::ThresholdsFailed, "{summary:#?}");
    let failed: Vec<ThresholdKind> = (summary.thresholds.iter())
        .filter(|t| !t.held)
        .map(|t| t.kind)
        .collect();
    assert_eq!(failed, [ThresholdKind::ApiSlo]);
    assert_eq!(on_disk["status"], "thresholds-failed");
    assert_eq!(on_disk["api_slo"]["status"], "failed");
    let failed: Vec<_> = on_disk["api_slo"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["passed"] == false)
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|g| g["p99_seconds"].as_f64().unwrap() > g["limit_seconds"].as_f64().unwrap())
    );
    assert!(report.contains("**FAILED**"), "{report}");
}
