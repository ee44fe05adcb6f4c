//! The knee of a hub, measured on the embedded hub and predicted by the planner for the same
//! model: a ramp adds clusters a step at a time until a change no longer reaches 99% of them
//! within the target, and the two knees agree within 25%.

use hive_scale_core::scenario::Scenario;
use hive_scale_core::scenario::output::{Finish, ResultDir};
use hive_scale_core::scenario::runner::{self, RunSettings, Status};
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::hub::EmbeddedHub;
use std::time::Duration;

// The 2020 costs on today's pipeline: a change costs each cluster about 0.9 s of the three
// cores, so about 65 clusters fit a one-minute target.
const SCENARIO: &str = "\
name: ramp
description: clusters ten at a time until a change takes over a minute to reach them
clusters: 200
selectorsyncsets: 3
configmaps: 10
embedded:
  preset: m4.xlarge-2020
  pipeline: clustersync
phases:
  - selectorsyncsets: {start: 0, count: 3}
  - ramp: {start: 1, end: 200, step: 10, every_seconds: 300, target_fanout_seconds: 60}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_measured_knee_is_the_planner_s_within_a_quarter() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    let scenario = Scenario::from_yaml(SCENARIO, "ramp.yaml").unwrap();
    let (embedded, _) = EmbeddedHub::for_scenario(
        &scenario,
        tmp.path().join("hub"),
        Some(TimeScale::new(100.0).unwrap()),
    )
    .await
    .unwrap();
    let predicted = hive_scale_sim::target::predicted_knee(&scenario, embedded.model());
    let hub = embedded.connect(0.0).await.unwrap();
    let out = tmp.path().join("out");
    let dir = ResultDir::new(&out);
    let mut settings = RunSettings::new(&out);
    settings.timeout = Duration::from_secs(300);
    settings.interval = Duration::from_millis(100);
    settings.events = Some(dir.sink(None));
    let target = embedded.target(hub, false).unwrap();
    let mut summary = runner::run(&scenario, target, &settings).await.unwrap();
    embedded.shutdown().await;
    let ramp = summary.ramp.as_mut().expect("a ramp's result");
    ramp.predicted_knee = predicted;
    let ramp = ramp.clone();
    dir.finish(&summary, &Finish::default()).unwrap();

    for s in &ramp.steps {
        println!(
            "{:>4} clusters: synced in {:?} s, a change on 99% in {:?} s, {}",
            s.clusters,
            s.synced_seconds.map(|v| v.round()),
            s.probe_p99_seconds.map(|v| v.round()),
            s.why.as_deref().unwrap_or("healthy")
        );
    }
    println!("measured knee {}, predicted {:?}", ramp.knee, predicted);
    assert_eq!(summary.status, Status::Passed, "{:?}", summary.phases);
    assert!(ramp.found, "a step failed before 200 clusters: {ramp:?}");
    assert!(ramp.knee > 0, "{ramp:?}");
    let last = ramp.steps.last().unwrap();
    assert!(!last.healthy && last.why.is_some(), "{last:?}");
    assert!(ramp.steps[..ramp.steps.len() - 1].iter().all(|s| s.healthy));
    // The embedded API server is read in-process: every step's SLO is measured, and held.
    assert!(
        ramp.steps
            .iter()
            .all(|s| s.api_slo == Some(hive_scale_core::metrics::slo::SloStatus::Passed)),
        "{ramp:?}"
    );
    // Adoption stopped at the failing step: no clusters past it.
    assert_eq!(last.clusters, ramp.knee + 10);
    let predicted = predicted.expect("the planner predicts a knee for today's pipeline");
    let off = (f64::from(predicted) / f64::from(ramp.knee) - 1.0).abs();
    assert!(
        off <= 0.25,
        "measured {} and predicted {predicted} differ by {:.0}%",
        ramp.knee,
        off * 100.0
    );
    // Torn down, as every run is.
    assert!(
        summary.teardown.as_ref().is_some_and(|t| !t.left_objects()),
        "{:?}",
        summary.teardown
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("### The knee"), "{report}");
    assert!(
        report.contains(&format!(
            "This hub and HiveConfig hold {} clusters under these targets",
            ramp.knee
        )),
        "{report}"
    );
    assert!(report.contains("The planner predicts"), "{report}");
    let read: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(read["ramp"]["knee"], ramp.knee);
    assert_eq!(read["ramp"]["predicted_knee"], predicted);
}

#[test]
fn a_ramp_is_checked_when_the_scenario_is_read() {
    for (bad, why) in [
        (
            "{start: 1, end: 201, step: 20, every_seconds: 300, target_fanout_seconds: 60}",
            "beyond clusters",
        ),
        (
            "{start: 1, end: 200, step: 0, every_seconds: 300, target_fanout_seconds: 60}",
            "above 0",
        ),
        (
            "{start: 0, end: 200, step: 20, every_seconds: 300, target_fanout_seconds: 60}",
            "start at 1",
        ),
        (
            "{start: 1, end: 200, step: 20, every_seconds: 300, target_fanout_seconds: -1}",
            "above 0",
        ),
    ] {
        let text = SCENARIO.replace(
            "{start: 1, end: 200, step: 10, every_seconds: 300, target_fanout_seconds: 60}",
            bad,
        );
        let e = Scenario::from_yaml(&text, "ramp.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{bad}: {e}");
    }
}
