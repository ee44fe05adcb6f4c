//! The churn phase on the embedded hub: sets changed every interval, each new generation's
//! fan-out to every cluster measured from the ClusterSyncs and reported.

use hive_scale_core::scenario::Scenario;
use hive_scale_core::scenario::output::{Finish, ResultDir};
use hive_scale_core::scenario::runner::{self, RunSettings, Status};
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::hub::EmbeddedHub;
use std::time::Duration;

const SCENARIO: &str = "\
name: churn
description: two sets on four clusters, a third on the synced fleet, then two sets changed every minute for three minutes
clusters: 4
selectorsyncsets: 3
configmaps: 2
embedded:
  pipeline: clustersync
  workers: 4
phases:
  - selectorsyncsets: {start: 0, count: 2}
  - adopt: {start: 1, end: 4}
  - observe: {}
  - selectorsyncsets: {start: 2, count: 1}
  - observe: {}
  - churn: {sets: 2, every_seconds: 60, duration_seconds: 180}
  - observe: {}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generation_of_a_churn_is_followed_to_every_cluster() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    let scenario = Scenario::from_yaml(SCENARIO, "churn.yaml").unwrap();
    let (embedded, _) = EmbeddedHub::for_scenario(
        &scenario,
        tmp.path().join("hub"),
        Some(TimeScale::new(100.0).unwrap()),
    )
    .await
    .unwrap();
    let hub = embedded.connect(0.0).await.unwrap();
    let out = tmp.path().join("out");
    let dir = ResultDir::new(&out);
    let mut settings = RunSettings::new(&out);
    settings.timeout = Duration::from_secs(120);
    settings.interval = Duration::from_millis(100);
    settings.events = Some(dir.sink(None));
    let target = embedded.target(hub, false).unwrap();
    let summary = runner::run(&scenario, target, &settings).await.unwrap();
    let mut how = Finish::default();
    how.ndjson = Some((tmp.path().join("run.ndjson"), Default::default()));
    dir.finish(&summary, &how).unwrap();
    // Hive observes its apply-duration histogram only until a ClusterSync's first success:
    // the first two sets once per cluster, the set added to the synced fleet and every
    // churned generation never.
    let text = embedded.metrics().encode();
    for (set, count) in [
        ("scaletest-0-configmap", "4"),
        ("scaletest-1-configmap", "4"),
    ] {
        let line =
            format!("hive_selectorsyncset_apply_duration_seconds_count{{name=\"{set}\"}} {count}");
        assert!(text.contains(&line), "{line} missing from\n{text}");
    }
    assert!(
        !text.contains(
            "hive_selectorsyncset_apply_duration_seconds_count{name=\"scaletest-2-configmap\"}"
        ),
        "{text}"
    );
    embedded.shutdown().await;

    assert_eq!(summary.status, Status::Passed, "{:?}", summary.phases);
    // Three steps of two sets: six changes, the sets in turn (0, 1, 2, 0, 1, 2).
    assert_eq!(summary.changes.len(), 6, "{:#?}", summary.changes);
    let mut sets: Vec<&str> = summary.changes.iter().map(|c| c.set.as_str()).collect();
    sets.sort();
    assert_eq!(
        sets.iter().filter(|s| s.contains("-0-")).count(),
        2,
        "{sets:?}"
    );
    for c in &summary.changes {
        assert!(c.complete(), "{c:?}");
        assert_eq!(c.clusters, 4, "every cluster held the set: {c:?}");
        assert_eq!(c.fanout.count, 4);
        assert!(c.generation.is_some_and(|g| g >= 2), "{c:?}");
        assert!(c.phase.starts_with("churn 2 sets"), "{c:?}");
        let last = c.curve.last().unwrap();
        assert_eq!(last.share, 1.0);
        assert!((last.seconds - c.fanout.max).abs() < 1e-3, "{c:?}");
        // Hive applies a changed set in the reconcile the change queues: seconds, not the 2 h
        // re-apply (timed by the ClusterSyncs' watch, not by a poll every 25 modeled s).
        assert!(c.fanout.max < 60.0, "{c:?}");
    }
    // A set changed twice shows two generations.
    let gens: Vec<i64> = summary
        .changes
        .iter()
        .filter(|c| c.set == summary.changes[0].set)
        .filter_map(|c| c.generation)
        .collect();
    assert_eq!(gens.len(), 2);
    assert_ne!(gens[0], gens[1]);

    let read: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let first = &read["changes"][0];
    for key in [
        "set",
        "generation",
        "clusters",
        "reached",
        "fanout",
        "curve",
    ] {
        assert!(
            !first[key].is_null(),
            "summary.json changes[0].{key}: {first}"
        );
    }
    assert!(first["fanout"]["p99"].is_number());
    let ndjson = std::fs::read_to_string(tmp.path().join("run.ndjson")).unwrap();
    let changes: Vec<serde_json::Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|d| d["type"] == "change")
        .collect();
    assert_eq!(changes.len(), 6, "{ndjson}");
    assert!(
        changes
            .iter()
            .all(|d| d["complete"] == true && d["clusters"] == 4)
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("### Every change's fan-out"), "{report}");
    assert_eq!(
        report
            .lines()
            .filter(|l| l.starts_with("| churn 2 sets") && l.contains("| scaletest-"))
            .count(),
        6,
        "{report}"
    );
}

#[test]
fn a_churn_is_checked_when_the_scenario_is_read() {
    for (bad, why) in [
        (
            "{sets: 0, every_seconds: 60, duration_seconds: 180}",
            "between 1",
        ),
        (
            "{sets: 4, every_seconds: 60, duration_seconds: 180}",
            "between 1",
        ),
        (
            "{sets: 1, every_seconds: 0, duration_seconds: 180}",
            "above 0",
        ),
        (
            "{sets: 1, every_seconds: 60, duration_seconds: 30}",
            "at least one step",
        ),
    ] {
        let text = SCENARIO.replace("{sets: 2, every_seconds: 60, duration_seconds: 180}", bad);
        let e = Scenario::from_yaml(&text, "churn.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{bad}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let s = Scenario::from_yaml(SCENARIO, "churn.yaml").unwrap();
    let small = s.scaled(2, 1);
    assert!(
        small.describe().contains("1 sets changed every 60"),
        "{}",
        small.describe()
    );
}

/// A set with nothing to change (no ConfigMap) is not a change that "lands" at once: the churn
/// fails, saying why, and records no fan-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_with_nothing_to_change_fails_the_churn_instead_of_landing_at_once() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    let text = SCENARIO.replace("configmaps: 2", "configmaps: 0");
    let scenario = Scenario::from_yaml(&text, "empty.yaml").unwrap();
    let (embedded, _) = EmbeddedHub::for_scenario(
        &scenario,
        tmp.path().join("hub"),
        Some(TimeScale::new(100.0).unwrap()),
    )
    .await
    .unwrap();
    let hub = embedded.connect(0.0).await.unwrap();
    let mut settings = RunSettings::new(tmp.path().join("out"));
    settings.timeout = Duration::from_secs(60);
    settings.interval = Duration::from_millis(100);
    let target = embedded.target(hub, false).unwrap();
    let summary = runner::run(&scenario, target, &settings).await.unwrap();
    embedded.shutdown().await;
    assert_eq!(summary.status, Status::Failed, "{:?}", summary.phases);
    let churn = summary
        .phases
        .iter()
        .find(|p| p.name.starts_with("churn"))
        .unwrap_or_else(|| panic!("{:#?}", summary.phases));
    assert!(
        churn.outcome.to_string().contains("could not be changed"),
        "{}",
        churn.outcome
    );
    assert!(summary.changes.is_empty(), "{:?}", summary.changes);
}
