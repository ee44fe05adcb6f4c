//! The outside-crate check: a Hive tool importing hive-scale-core (and the embedded hub to
//! point it at) through the public API alone, the way the README, the docs and the CHANGELOG
//! describe it. When a rename breaks this file, the CHANGELOG must say how to follow it.
//!
//! The tool adopts clones and tears them down with the engine, then runs a scaled-down scale
//! test of today's pipeline with three clustersync replicas, listening to its events and
//! writing its result directory through the output layer, and reads that directory back.

use hive_scale_core::adopt::{
    self, AdoptPlan, CloneRange, EngineOptions, Selection, TeardownOptions,
};
use hive_scale_core::fixtures::SelectorSyncSetFixture;
use hive_scale_core::scenario::Scenario;
use hive_scale_core::scenario::output::{Finish, ResultDir};
use hive_scale_core::scenario::runner::{
    self, Event, EventSink, PhaseOutcome, RunEvent, RunSettings, Status, Summary,
};
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::hub::EmbeddedHub;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_built_on_the_documented_api_adopts_runs_and_reads_its_results() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();

    // Today's pipeline, three replicas: the summary records what the hub showed of them.
    // Enough clusters that every replica gets one: UIDs are random, and with nine a replica
    // went without one time in 40 ((2/3)^9); with 30, once in 200,000.
    let mut scenario = Scenario::load("2020-adoption").unwrap().scaled(30, 2);
    scenario.configmaps = 2;
    scenario
        .embedded
        .insert("pipeline".into(), "clustersync".into());
    scenario.embedded.insert("replicas".into(), 3.into());
    scenario
        .embedded
        .insert("time-scale".into(), serde_json::json!(100.0));
    let (embedded, _) = EmbeddedHub::for_scenario(
        &scenario,
        tmp.path().join("hub"),
        Some(TimeScale::new(100.0).unwrap()),
    )
    .await
    .unwrap();
    let hub = embedded.connect(0.0).await.unwrap();

    // The engine on its own: clones 1..=3 of a run, then their teardown.
    let range = CloneRange::new(1, 3).unwrap();
    let mut plan = AdoptPlan::fake();
    plan.run = "importer".into();
    let adopted = adopt::adopt(
        &hub,
        &plan,
        range,
        &EngineOptions::default().with_concurrency(2),
        &None,
    )
    .await
    .unwrap();
    assert!(adopted.succeeded(), "{:?}", adopted.failures);
    assert_eq!(adopted.clones.created, 3);
    let mut down = TeardownOptions::new(Selection::Range {
        range,
        namespace_prefix: plan.namespace_prefix.clone(),
        name_prefix: plan.name_prefix.clone(),
    });
    down.run = Some("importer".into());
    let gone = adopt::teardown(&hub, &down, &None).await.unwrap();
    assert_eq!(gone.cluster_deployments.len(), 3, "{}", gone.counts());
    assert!(gone.problems().is_empty(), "{:?}", gone.problems());

    // Fixtures render without a hub.
    let sets = SelectorSyncSetFixture::new()
        .configmaps(2)
        .run("importer")
        .render_range(0, 2)
        .unwrap();
    assert_eq!(sets.len(), 2);

    // The scale test: events to the tool's own sink and to the result directory.
    let out = tmp.path().join("out");
    let dir = ResultDir::new(&out);
    let heard: Arc<Mutex<Vec<Event>>> = Arc::default();
    let keep = heard.clone();
    let mut settings = RunSettings::new(&out);
    settings.timeout = Duration::from_secs(120);
    settings.interval = Duration::from_millis(300);
    settings.events = Some(runner::fan_out(vec![
        EventSink::new(move |e| keep.lock().push(e.clone())),
        dir.sink(None),
    ]));
    let target = embedded.target(hub.clone(), false).unwrap();
    let summary = runner::run(&scenario, target, &settings).await.unwrap();
    let mut how = Finish::default();
    how.ndjson = Some((tmp.path().join("run.ndjson"), Default::default()));
    let finished = dir.finish(&summary, &how).unwrap();
    embedded.shutdown().await;

    assert_eq!(summary.status, Status::Passed, "{:?}", summary.phases);
    assert!(summary.phases.iter().all(|p| p.outcome == PhaseOutcome::Ok));
    assert_eq!(
        summary.clustersync_replicas,
        Some(3),
        "thirty clusters sharded over three replicas show all three"
    );
    assert!(finished.ndjson_documents > summary.phases.len());

    // What the tool heard is what the directory holds.
    let heard = heard.lock();
    let started = heard
        .iter()
        .filter(|e| matches!(e.what, RunEvent::PhaseStarted { .. }))
        .count();
    assert_eq!(started, summary.phases.len());
    assert!(
        heard
            .iter()
            .all(|e| e.hub.is_none() && !matches!(e.what, RunEvent::HubNotRun { .. }))
    );
    let Some(RunEvent::Ended(last)) = heard.last().map(|e| &e.what) else {
        panic!("a run's last event is its end");
    };
    assert_eq!(last.run_id, summary.run_id);
    let read: Summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(read.run_id, summary.run_id);
    assert_eq!(read.clustersync_replicas, Some(3));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("3 clustersync replicas"), "{report}");
    assert!(out.join("junit.xml").exists());
}
