//! The acceptance bar of the model: with the 2020 presets and the 2020 pipeline, every
//! throughput the 2020 report measured comes out within 30%.
//!
//! Runs 100 clusters x 60 sets x 10 ConfigMaps (6,000 SyncSetInstances) per row: rates do not
//! depend on the fleet size once the queue is deep, and "time for 60,000" is 60,000 divided by
//! the measured instance rate. `cargo run --release --example plan` shows the full 1000-cluster runs.

use hive_scale_sim::model::{ApplyMode, CostModel};
use hive_scale_sim::plan::{PlanConfig, PlanResult, plan};

fn run(preset: &str, mode: ApplyMode, workers: usize) -> PlanResult {
    let mut model = CostModel::preset(preset).unwrap();
    model.apply_mode = mode;
    model.workers = workers;
    model.pipeline = hive_scale_core::api::Pipeline::SyncSetInstance;
    let mut cfg = PlanConfig::new(model);
    cfg.clusters = 100;
    cfg.probe_new_set = false;
    plan(&cfg).unwrap()
}

/// `value` within 30% of the reported range `[lo, hi]`.
fn within(what: &str, value: f64, lo: f64, hi: f64, failures: &mut Vec<String>) {
    let ok = value >= lo * 0.7 && value <= hi * 1.3;
    println!(
        "{what:<55} model {value:>10.3}   report {lo}..{hi}   {}",
        if ok { "ok" } else { "OUT" }
    );
    if !ok {
        failures.push(format!("{what}: model {value:.3}, report {lo}..{hi}"));
    }
}

#[test]
fn the_model_reproduces_the_2020_report() {
    let mut f = Vec::new();
    let r = run("m4.xlarge-2020", ApplyMode::ClientSide, 5);
    within(
        "m4 client-side 5 workers: syncsetinstances/s",
        r.reconciles_per_second,
        0.6,
        1.2,
        &mut f,
    );
    within(
        "m4 client-side 5 workers: seconds per resource apply",
        r.apply_seconds,
        0.54,
        0.71,
        &mut f,
    );
    within(
        "m4 client-side 5 workers: hours for 60,000 instances",
        60_000.0 / r.reconciles_per_second / 3600.0,
        14.0,
        14.0,
        &mut f,
    );

    let r = run("m4.xlarge-2020", ApplyMode::ClientSide, 100);
    within(
        "m4 client-side 100 workers: resource applies/s",
        r.applies_per_second,
        6.0,
        6.0,
        &mut f,
    );
    within(
        "m4 client-side 100 workers: seconds per resource apply",
        r.apply_seconds,
        14.5,
        14.5,
        &mut f,
    );

    let r = run("m4.xlarge-2020", ApplyMode::ServerSide, 5);
    within(
        "m4 server-side 5 workers: syncsetinstances/s",
        r.reconciles_per_second,
        10.0,
        10.0,
        &mut f,
    );
    within(
        "m4 server-side 5 workers: seconds per resource apply",
        r.apply_seconds,
        0.03,
        0.03,
        &mut f,
    );

    let r = run("c5.24xlarge-2020", ApplyMode::ServerSide, 5);
    within(
        "c5 server-side 5 workers: syncsetinstances/s",
        r.reconciles_per_second,
        30.0,
        30.0,
        &mut f,
    );
    within(
        "c5 server-side 5 workers: seconds per resource apply",
        r.apply_seconds,
        0.02,
        0.02,
        &mut f,
    );
    within(
        "c5 server-side 5 workers: cores busy",
        r.cores_busy,
        5.0,
        5.0,
        &mut f,
    );

    let r = run("c5.24xlarge-2020", ApplyMode::ServerSide, 100);
    within(
        "c5 server-side 100 workers: syncsetinstances/s",
        r.reconciles_per_second,
        90.0,
        90.0,
        &mut f,
    );
    within(
        "c5 server-side 100 workers: minutes to drain 60,000",
        60_000.0 / r.reconciles_per_second / 60.0,
        16.0,
        16.0,
        &mut f,
    );
    within(
        "c5 server-side 100 workers: cores busy",
        r.cores_busy,
        11.0,
        11.0,
        &mut f,
    );
    assert!(
        f.is_empty(),
        "outside 30% of the 2020 report:\n{}",
        f.join("\n")
    );
}

#[test]
fn more_workers_do_not_help_client_side_and_do_help_server_side() {
    // The report's central finding, as a property of the model rather than of one number.
    let cs5 = run("m4.xlarge-2020", ApplyMode::ClientSide, 5).applies_per_second;
    let cs100 = run("m4.xlarge-2020", ApplyMode::ClientSide, 100).applies_per_second;
    assert!(
        cs100 <= cs5,
        "client-side: 100 workers {cs100:.1}/s should not beat 5 workers {cs5:.1}/s"
    );
    let ss5 = run("c5.24xlarge-2020", ApplyMode::ServerSide, 5).applies_per_second;
    let ss100 = run("c5.24xlarge-2020", ApplyMode::ServerSide, 100).applies_per_second;
    assert!(
        ss100 > 2.5 * ss5,
        "server-side on 96 cores: 100 workers {ss100:.1}/s vs 5 workers {ss5:.1}/s"
    );
}
