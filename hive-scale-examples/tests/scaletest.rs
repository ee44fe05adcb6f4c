//! The main job, scaled down, end to end on the embedded hub.

mod common;

use common::run_with_env;
use hive_scale_core::api::{ClusterDeployment, SyncSetInstance};
use hive_scale_core::scenario::Scenario;
use hive_scale_core::scenario::runner::{self, RunSettings, Status};
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::hub::EmbeddedHub;
use kube::api::{Api, ListParams};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_scenario_scaled_down_matches_the_hubs_state() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::load("2020-adoption").unwrap().scaled(50, 6);
    let (embedded, _) = EmbeddedHub::for_scenario(
        &scenario,
        dir.path().join("hub"),
        Some(TimeScale::new(200.0).unwrap()),
    )
    .await
    .unwrap();
    let target = embedded
        .target(embedded.connect(0.0).await.unwrap(), false)
        .unwrap();
    let out = dir.path().join("out");
    let mut settings = RunSettings::new(&out);
    settings.timeout = Duration::from_secs(120);
    settings.interval = Duration::from_millis(300);
    settings.keep = true;
    // The library writes nothing: the output layer keeps the summary as it goes and writes the
    // result directory at the end.
    let dir = hive_scale_core::scenario::output::ResultDir::new(&out);
    settings.events = Some(dir.sink(None));
    let summary = runner::run(&scenario, target, &settings).await.unwrap();
    dir.finish(&summary, &Default::default()).unwrap();
    assert_eq!(summary.status, Status::Passed, "{summary:?}");
    assert_eq!(summary.exit_code, 0);

    // The summary's numbers against the hub's own state.
    let kc = embedded.api_server().client().await.unwrap();
    let cds = Api::<ClusterDeployment>::all(kc.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(cds.len(), 50);
    let ssis = Api::<SyncSetInstance>::all(kc)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let applied: Vec<&SyncSetInstance> = ssis
        .iter()
        .filter(|s| {
            s.status
                .as_ref()
                .is_some_and(|st| st.first_success_timestamp.is_some())
        })
        .collect();
    assert_eq!(applied.len(), 300, "50 clusters x 6 sets");
    let observe = summary.phases.iter().find(|p| p.name == "observe").unwrap();
    assert_eq!((observe.pairs_expected, observe.pairs_applied), (300, 300));
    assert_eq!(summary.fanout.count, 300);
    // Recompute the slowest fan-out from the objects.
    let created = |c: &ClusterDeployment| c.metadata.creation_timestamp.as_ref().unwrap().0;
    let max = applied
        .iter()
        .map(|s| {
            let cd = cds
                .iter()
                .find(|c| {
                    c.metadata.name.as_deref() == Some(s.spec.cluster_deployment_ref.name.as_str())
                })
                .unwrap();
            let first: jiff::Timestamp = s
                .status
                .as_ref()
                .unwrap()
                .first_success_timestamp
                .as_deref()
                .unwrap()
                .parse()
                .unwrap();
            (first.as_second() - created(cd).as_second()) as f64
        })
        .fold(0.0, f64::max);
    assert!(
        (summary.fanout.max - max).abs() <= 1.0,
        "summary max {} vs hub {max}",
        summary.fanout.max
    );
    assert!(summary.fanout.p50 <= summary.fanout.p99 && summary.fanout.p99 <= summary.fanout.max);

    // The result directory.
    for f in [
        "summary.json",
        "recording.jsonl",
        "report.md",
        "workqueue_depth.svg",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(on_disk["status"], "passed");
    assert_eq!(on_disk["scenario"]["name"], "2020-adoption");
    assert_eq!(on_disk["tool_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(on_disk["run_id"], settings.run_id.as_str());
    assert_eq!(on_disk["pipeline"], "syncsetinstance");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## Scale test: 2020-adoption") && report.contains("| observe | ok |"),
        "{report}"
    );
    embedded.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_with_a_code_per_failure_and_always_writes_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    // Passes, then tears down.
    let ok = out("ok");
    let r = run_with_env(
        "scaletest",
        &[
            "--clusters",
            "5",
            "--selectorsyncsets",
            "2",
            "--configmaps",
            "2",
            "--time-scale",
            "100",
            "--out",
            &ok,
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("phase teardown: deleted 5 clusterdeployments"),
        "{}",
        r.stdout
    );
    // A P99 fan-out threshold nobody can meet: exit 6, summary says which threshold.
    let th = out("threshold");
    let r = run_with_env(
        "scaletest",
        &[
            "--clusters",
            "5",
            "--selectorsyncsets",
            "2",
            "--configmaps",
            "2",
            "--time-scale",
            "100",
            "--max-p99-fanout",
            "0.001",
            "--out",
            &th,
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{th}/summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["thresholds"][0]["kind"], "p99-fanout");
    assert_eq!(s["thresholds"][0]["held"], false);
    // An observe phase that cannot finish in time: exit 4, summary written.
    let to = out("timeout");
    let r = run_with_env(
        "scaletest",
        &[
            "--clusters",
            "20",
            "--selectorsyncsets",
            "6",
            "--time-scale",
            "1",
            "--timeout",
            "1",
            "--out",
            &to,
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{to}/summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["status"], "timeout");
    assert!(std::path::Path::new(&format!("{to}/report.md")).exists());
    // Bad scenario: exit 2, one line.
    let r = run_with_env("scaletest", &["--scenario", "/nonexistent.yaml"], &[]).await;
    assert_eq!(r.code, 2);
    assert!(r.one_error_line().contains("no scenario"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_keeps_what_was_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int");
    let child = tokio::process::Command::new(common::example("scaletest"))
        .args([
            "--clusters",
            "30",
            "--selectorsyncsets",
            "6",
            "--time-scale",
            "1",
            "--interval",
            "0.2",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().await.unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "interrupted");
    // junit.xml is written with the summary: the interrupted phase fails, and teardown still
    // ran (within its grace after the signal) and passed.
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let failures: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.attribute("type"))
        .collect();
    assert_eq!(failures, ["interrupted"], "{junit}");
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("teardown")),
        "{junit}"
    );
    assert_eq!(s["teardown"]["stopped"], false, "{}", s["teardown"]);
    assert_eq!(s["signal"], "SIGINT");
    let recording = std::fs::read_to_string(out.join("recording.jsonl")).unwrap();
    assert!(
        recording.lines().count() > 3,
        "snapshots were recorded before the interrupt"
    );
    assert!(
        recording
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "every line is whole JSON"
    );
    assert!(out.join("report.md").exists());
}

/// Runs the scaletest binary on `scenario` scaled to `clusters` and 6 sets at `time_scale`,
/// expects success, and returns its summary.
async fn scaled_run(
    dir: &std::path::Path,
    scenario: &str,
    clusters: &str,
    time_scale: &str,
) -> serde_json::Value {
    scaled_run_with(dir, scenario, clusters, time_scale, &[]).await
}

/// [`scaled_run`] with more flags.
async fn scaled_run_with(
    dir: &std::path::Path,
    scenario: &str,
    clusters: &str,
    time_scale: &str,
    more: &[&str],
) -> serde_json::Value {
    let out = dir.join(scenario);
    let args = [
        "--scenario",
        scenario,
        "--clusters",
        clusters,
        "--selectorsyncsets",
        "6",
        "--time-scale",
        time_scale,
        "--out",
        out.to_str().unwrap(),
    ];
    let r = run_with_env("scaletest", &[&args[..], more].concat(), &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// The other built-in scenarios, scaled down: every step's fan-out is timed, including a
/// resource added to an existing set (which no creation timestamp can time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_and_starvation_scenarios_time_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let s = scaled_run(dir.path(), "2019-incremental", "20", "20").await;
    let phases = s["phases"].as_array().unwrap();
    let names: Vec<&str> = phases.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("selectorsyncsets"))
            .count(),
        3
    );
    // Each observe phase times exactly the pairs its step added: 20 x 1, 20 x 1, 20 x 4, the
    // 20 clusters reached by the added resource, then the new cluster's 6 sets.
    let counts: Vec<u64> = phases
        .iter()
        .filter(|p| p["name"] == "observe")
        .map(|p| p["fanout"]["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![0, 20, 20, 80, 20, 6], "{phases:#?}");
    let change = &phases
        .iter()
        .filter(|p| p["name"] == "observe")
        .nth(4)
        .unwrap()["fanout"];
    assert!(change["max"].as_f64().unwrap() > 0.0, "{change}");
    assert_eq!(phases.last().unwrap()["pairs_applied"], 21 * 6);

    let s = scaled_run(dir.path(), "starvation", "8", "120").await;
    let trickle = s["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str().unwrap().starts_with("trickle"))
        .unwrap();
    // Eight clusters, one every 60 modeled seconds: the phase spans at least 7 intervals.
    assert!(
        trickle["modeled_seconds"].as_f64().unwrap() >= 7.0 * 60.0,
        "{trickle}"
    );
    assert_eq!(s["fanout"]["count"], 8 * 6);
}

/// Teardown that cannot finish fails the run: a namespace of the run held by a finalizer
/// (somebody else's controller, say) is left behind, listed, and the exit code says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teardown_that_leaves_objects_behind_fails_the_run() {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Patch, PatchParams};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stuck");
    let child = tokio::process::Command::new(common::example("scaletest"))
        .args([
            "--clusters",
            "3",
            "--selectorsyncsets",
            "1",
            "--configmaps",
            "1",
            "--time-scale",
            "1",
            "--teardown-timeout",
            "2s",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The embedded hub writes its kubeconfig into the result directory: hold ns1 as soon as
    // it exists.
    let kubeconfig = out.join("hub").join("hub.kubeconfig");
    let hold = serde_json::json!({"metadata": {"finalizers": ["example.com/hold"]}});
    let mut held = None;
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&kubeconfig)
            && let Ok(kc) = kube::config::Kubeconfig::from_yaml(&text)
            && let Ok(cfg) = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await
            && let Ok(client) = kube::Client::try_from(cfg)
        {
            let ns = Api::<Namespace>::all(client.clone());
            if let Ok(Some(n)) = ns.get_opt("ns1").await {
                assert!(
                    n.metadata.deletion_timestamp.is_none(),
                    "the run reached teardown before ns1 could be held"
                );
                ns.patch("ns1", &PatchParams::default(), &Patch::Merge(&hold))
                    .await
                    .unwrap();
                held = Some(ns);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(held.is_some(), "ns1 never appeared");
    let o = child.wait_with_output().await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(8), "{stdout}\n{stderr}");
    assert!(stderr.contains("left behind Namespace ns1"), "{stderr}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "teardown-failed");
    assert_eq!(s["exit_code"], 8);
    assert_eq!(s["teardown"]["left_behind"][0], "Namespace ns1");
    assert_eq!(s["teardown"]["timed_out"], true);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("- left behind Namespace ns1"), "{report}");
}

/// The report's re-apply verdict agrees with the planner's on the same fleet and model: the
/// scaled-down `starvation` scenario (clustersync) counts its re-apply in clusters at the
/// clustersync queue's rate, as `plan` does, not in (set, cluster) pairs (which would be the
/// number of sets too slow).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_s_re_apply_agrees_with_the_planner_on_starvation() {
    let dir = tempfile::tempdir().unwrap();
    // Snapshots every 100 ms (12 modeled s): the clustersync queue's rate is seen.
    let s = scaled_run_with(
        dir.path(),
        "starvation",
        "8",
        "120",
        &["--interval", "100ms"],
    )
    .await;
    let r = &s["metrics"]["findings"]["reapply"];
    assert_eq!(r["unit"], "clusters", "{r}");
    assert_eq!(r["pipeline"], "clustersync", "{r}");
    assert_eq!(r["queue"], "clusterSync-controller", "{r}");
    assert_eq!(r["items"], 8.0, "{r}");
    let report_s = r["seconds"].as_f64().unwrap();

    // The scenario's embedded section: m5.xlarge, client-side, 5 workers, 10 ConfigMaps a set.
    let p = run_with_env(
        "plan",
        &[
            "--clusters",
            "8",
            "--selectorsyncsets",
            "6",
            "--configmaps",
            "10",
            "--preset",
            "m5.xlarge",
            "--apply",
            "client-side",
            "--workers",
            "5",
            "--no-probe",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(p.code, 0, "{}", p.stderr);
    let plan: serde_json::Value = serde_json::from_str(&p.stdout).unwrap();
    let plan = &plan[0];
    assert_eq!(plan["pipeline"], "clustersync");
    assert_eq!(
        r["fits"], plan["reapply_fits_2h"],
        "report {r}\nplan {plan}"
    );
    let plan_s = plan["drain_seconds"].as_f64().unwrap();
    // The report divides by the rate the queue was seen worked at, which under a trickle of
    // new clusters can be below what the workers could do; still within a small factor of the
    // planner's. Pairs at the same rate would be 6x (the sets) more and fail this.
    let ratio = report_s / plan_s;
    assert!(
        (0.5..=4.0).contains(&ratio),
        "report {report_s:.0} s vs plan {plan_s:.0} s\nreport {r}\nplan {plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramp_reports_the_knee_beside_the_planner_s() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("today.yaml");
    std::fs::write(
        &scenario,
        "name: today\ndescription: today's pipeline\nclusters: 40\nselectorsyncsets: 2\nconfigmaps: 5\n\
         embedded:\n  preset: m4.xlarge-2020\n  pipeline: clustersync\nphases:\n  - observe: {}\n",
    )
    .unwrap();
    let out = dir.path().join("ramp");
    let r = run_with_env(
        "scaletest",
        &[
            "--scenario",
            scenario.to_str().unwrap(),
            "--ramp",
            "--step",
            "10",
            "--every",
            "2m",
            "--target-fanout",
            "15s",
            "--time-scale",
            "100",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("This hub and HiveConfig hold")
            || r.stdout.contains("This hub and HiveConfig held all 40"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("the planner predicts"), "{}", r.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let ramp = &summary["ramp"];
    assert!(
        ramp["steps"].as_array().is_some_and(|s| !s.is_empty()),
        "{ramp}"
    );
    assert!(ramp["predicted_knee"].is_u64(), "{ramp}");
    assert_eq!(summary["scenario"]["phases"][1]["ramp"]["step"], 10);
    // Everything the ramp adopted was torn down.
    assert!(r.stdout.contains("left behind 0"), "{}", r.stdout);

    // Ramp flags without --ramp, or a ramp over a fleet: a bad command line.
    for args in [
        vec!["--step", "10"],
        vec!["--ramp", "--hubs", "2"],
        vec!["--ramp", "--step", "0"],
        // Hive's gauges lag up to 2 minutes: a shorter step would be judged on stale counts.
        vec![
            "--ramp",
            "--every",
            "1m",
            "--kubeconfig",
            "/nonexistent",
            "--fake-cluster",
            "--prometheus",
            "http://127.0.0.1:9",
        ],
    ] {
        let r = run_with_env("scaletest", &args, &[]).await;
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{args:?}: {}", r.stderr);
    }
}
