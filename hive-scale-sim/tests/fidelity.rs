//! The acceptance bar of the model: with the 2020 presets and the 2020 pipeline, every
//! throughput the 2020 report measured comes out within 30%.
//!
//! Runs 100 clusters x 60 sets x 10 ConfigMaps (6,000 SyncSetInstances) per row: rates do not
//! depend on the fleet size once the queue is deep, and "time for 60,000" is 60,000 divided by
//! the measured instance rate. `cargo run --release --example plan` shows the full 1000-cluster runs.

use hive_scale_sim::model::{ApplyMode, CostModel, SpokeMode};
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

/// Today's clustersync on Hive's scaling guide's 36-vCPU machine with `workers` workers.
fn on_36_vcpus(spokes: SpokeMode, mode: ApplyMode, workers: usize) -> PlanResult {
    let mut model = CostModel::preset("c5.9xlarge").unwrap();
    (model.apply_mode, model.spokes, model.workers) = (mode, spokes, workers);
    if mode != ApplyMode::ClientSide {
        // Not in today's Hive (client-side apply only): shown for the CPU alone, without the
        // client's 5 requests/s that its faster applies would run into.
        model.hub_qps = None;
    }
    model.validate().unwrap();
    let mut cfg = PlanConfig::new(model);
    // The scale test's shape (60 sets of 10), and enough clusters that 100 workers stay busy
    // for several rounds.
    (cfg.clusters, cfg.selectorsyncsets) = (300, 60);
    cfg.probe_new_set = false;
    plan(&cfg).unwrap()
}

#[test]
fn goroutines_against_vcpus_as_the_scaling_guide_says() {
    // The guide: 20 workers on 36 vCPUs leave about half the CPU idle, 40 run it in the high
    // 90s, 100 are busy but slower overall than 40. Today's Hive applies client-side, on real
    // spokes (each cluster its own API server).
    let mut f = Vec::new();
    // The steady state the guide speaks of: the median minute of the drain, not its start
    // (ClusterSyncs being created) or its tail (fewer clusters left than workers).
    let busy = |r: &PlanResult| {
        let mut v: Vec<f64> = r.series.iter().map(|s| s.cores_busy).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(r.cores_busy) / r.cores as f64
    };
    let [w20, w40, w100] =
        [20, 40, 100].map(|w| on_36_vcpus(SpokeMode::PerCluster, ApplyMode::ClientSide, w));
    within(
        "CPU busy, 20 workers on 36 vCPUs",
        busy(&w20),
        0.5,
        0.5,
        &mut f,
    );
    for (what, r) in [("40", &w40), ("100", &w100)] {
        let b = busy(r);
        println!("CPU busy, {what} workers on 36 vCPUs: model {b:.3}, the guide: high 90s / busy");
        if b < 0.9 {
            f.push(format!("{what} workers: CPU busy {b:.3}, not in the 90s"));
        }
    }
    println!(
        "applies/s 20: {:.0}, 40: {:.0}, 100: {:.0}",
        w20.applies_per_second, w40.applies_per_second, w100.applies_per_second
    );
    if w100.applies_per_second >= w40.applies_per_second {
        f.push(format!(
            "100 workers ({:.0}/s) should be slower overall than 40 ({:.0}/s)",
            w100.applies_per_second, w40.applies_per_second
        ));
    }
    if w40.applies_per_second <= w20.applies_per_second {
        f.push("40 workers should beat 20 on 36 vCPUs".into());
    }
    // Server-side apply (not in today's Hive): cheaper applies, so more of a worker's time is
    // the spoke's latency and the CPU is a little less busy, but within 30% of the guide; the
    // saturation past the cores still makes 100 slower than 40.
    let ss = [20, 40, 100].map(|w| on_36_vcpus(SpokeMode::PerCluster, ApplyMode::ServerSide, w));
    for (w, r) in [20, 40, 100].iter().zip(&ss) {
        println!(
            "server-side: {w} workers on 36 vCPUs: {:.0} applies/s",
            r.applies_per_second,
        );
    }
    within(
        "server-side: CPU busy, 20 workers on 36 vCPUs",
        busy(&ss[0]),
        0.5,
        0.5,
        &mut f,
    );
    for (what, r) in [("40", &ss[1]), ("100", &ss[2])] {
        within(
            &format!("server-side: CPU busy, {what} workers (high 90s)"),
            busy(r),
            0.95,
            0.99,
            &mut f,
        );
    }
    if ss[2].applies_per_second >= ss[1].applies_per_second {
        f.push("server-side: 100 workers should be slower overall than 40".into());
    }
    // Fake clusters: the helper sleeps instead of working, so a worker is mostly asleep, threads
    // are nearly free and the CPU stays idle; the guide's statements are about workers that
    // keep a core busy. Printed for the record.
    for w in [20, 40, 100] {
        let r = on_36_vcpus(SpokeMode::Fake, ApplyMode::Fake, w);
        println!(
            "fake: {w} workers on 36 vCPUs: {:.0} applies/s, CPU busy {:.2}",
            r.applies_per_second,
            r.cores_busy / r.cores as f64
        );
    }
    assert!(
        f.is_empty(),
        "outside 30% of the scaling guide:\n{}",
        f.join("\n")
    );
}

#[test]
fn thread_starvation_as_the_scaling_guide_tells_it() {
    // The guide's example: m5.xlarge, the default 5 clustersync workers, 60 SelectorSyncSets,
    // one new cluster every 60 s for 5 h. Applies degraded after about 150 clusters and took
    // more than 30 minutes past 200.
    let model = CostModel::preset("m5.xlarge").unwrap();
    let mut cfg = PlanConfig::new(model);
    (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (300, 60, 10);
    cfg.max_duration = std::time::Duration::from_secs(6 * 3600);
    let r =
        hive_scale_sim::plan::arrival::arrivals(&cfg, std::time::Duration::from_secs(60)).unwrap();
    for a in r.arrivals.iter().step_by(25) {
        println!(
            "cluster {:>3} at {:>5.0} min: {}",
            a.cluster,
            a.arrived_at / 60.0,
            a.latency
                .map_or("never".into(), |l| format!("{:.1} min", l / 60.0))
        );
    }
    let mut f = Vec::new();
    let onset = r.degraded_after.map_or(f64::INFINITY, |c| c as f64);
    within(
        "clusters before applies degrade",
        onset,
        150.0,
        150.0,
        &mut f,
    );
    let past_200 = r.arrivals[200..]
        .iter()
        .filter_map(|a| a.latency)
        .fold(f64::INFINITY, f64::min);
    within(
        "minutes a cluster past 200 waits, at least",
        past_200 / 60.0,
        30.0,
        1e9,
        &mut f,
    );
    println!(
        "baseline {:?} s, 30 min first at cluster {:?}",
        r.baseline_seconds, r.over_30m_at
    );
    assert!(
        f.is_empty(),
        "outside 30% of the scaling guide:\n{}",
        f.join("\n")
    );
}

/// Today's preset `preset` with `workers` workers, over the scale test's shape.
fn today(preset: &str, workers: usize) -> PlanResult {
    let mut model = CostModel::preset(preset).unwrap();
    model.workers = workers;
    let mut cfg = PlanConfig::new(model);
    (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (300, 60, 10);
    cfg.probe_new_set = false;
    plan(&cfg).unwrap()
}

#[test]
fn today_s_presets_against_hive_s_published_magnitudes() {
    // What Hive published of today's clustersync, as magnitudes: applies/s in the low
    // thousands with 20 and with 40 goroutines on 36 vCPUs, in the high hundreds on an 8-vCPU
    // worker (goroutines near the vCPUs, as the guide sizes them), and slightly less with 100
    // goroutines on 96 vCPUs than with 40 on 36. Near spokes: the situation of those
    // measurements (the starvation test above is the one over a WAN).
    let mut f = Vec::new();
    let w20 = today("c5.9xlarge", 20).applies_per_second;
    let w40 = today("c5.9xlarge", 40).applies_per_second;
    let w100 = today("c5.24xlarge", 100).applies_per_second;
    let small = today("c5.2xlarge", 8).applies_per_second;
    within(
        "applies/s, 20 goroutines on 36 vCPUs",
        w20,
        1000.0,
        3000.0,
        &mut f,
    );
    within(
        "applies/s, 40 goroutines on 36 vCPUs",
        w40,
        1000.0,
        3000.0,
        &mut f,
    );
    within(
        "applies/s, 8 goroutines on 8 vCPUs",
        small,
        700.0,
        999.0,
        &mut f,
    );
    within(
        "applies/s, 100 goroutines on 96 vCPUs over 40 on 36",
        w100 / w40,
        0.8,
        0.999,
        &mut f,
    );
    if w100 >= w40 {
        f.push(format!(
            "100 goroutines on 96 vCPUs ({w100:.0}/s) should not beat 40 on 36 ({w40:.0}/s)"
        ));
    }
    // The 2020 price of a client-side apply (a kubectl process and a temp file) on the same
    // machine: the order of magnitude today's in-process apply removed.
    let mut old = CostModel::preset("c5.9xlarge").unwrap();
    old.cpu_per_apply_client_side = CostModel::preset("m4.xlarge-2020")
        .unwrap()
        .cpu_per_apply_client_side;
    old.workers = 20;
    let mut cfg = PlanConfig::new(old);
    (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (300, 60, 10);
    cfg.probe_new_set = false;
    let then = plan(&cfg).unwrap().applies_per_second;
    println!("with 2020's client-side apply, 20 goroutines on 36 vCPUs: {then:.0} applies/s");
    if w20 < 5.0 * then {
        f.push(format!(
            "today's apply ({w20:.0}/s) should be several times 2020's ({then:.0}/s)"
        ));
    }
    assert!(
        f.is_empty(),
        "outside 30% of Hive's published magnitudes:\n{}",
        f.join("\n")
    );
}

/// The sampled shortcut ([`hive_scale_sim::plan::sample`]) against whole simulations of the same
/// fleets: the drain and a new set's fan-out extrapolated from two samples, the new cluster
/// read from the larger. Prints both; each within 10%, or 35% for a fleet whose re-applies
/// never keep up (its backlog grows faster than linearly with the fleet: its new set, and
/// under load its new cluster, are not timed from samples at all).
/// docs/performance.md records the 10,000 cluster comparison, in release.
#[test]
fn sampled_plans_agree_with_whole_ones() {
    let mut failures = Vec::new();
    let cases: [(&str, usize, usize, bool); 4] = [
        ("m4.xlarge-2020", 1, 5, false),
        ("c5.9xlarge", 1, 20, false),
        ("c5.9xlarge", 3, 10, true),
        ("m5.xlarge", 1, 10, true),
    ];
    for (preset, replicas, workers, under_load) in cases {
        let mut model = CostModel::preset(preset).unwrap();
        model.replicas = replicas;
        model.workers = workers;
        let mut cfg = PlanConfig::new(model);
        (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (3000, 6, 10);
        if under_load {
            cfg.adopt_over = Some(std::time::Duration::from_secs(7200));
            cfg.probe_under_load = true;
        }
        cfg.sample_above = Some(1000);
        let sampled = plan(&cfg).unwrap();
        let samples = sampled
            .sampled
            .expect("3000 clusters above 1000 are sampled");
        cfg.sample_above = None;
        let whole = plan(&cfg).unwrap();
        assert!(whole.sampled.is_none());
        let figures = [
            ("drain s", whole.drain_seconds, sampled.drain_seconds),
            ("new set s", whole.new_set_seconds, sampled.new_set_seconds),
            (
                "new cluster s",
                whole.new_cluster_seconds,
                sampled.new_cluster_seconds,
            ),
        ];
        for (what, w, s) in figures {
            let (Some(w), Some(s)) = (w, s) else {
                // A sampled plan does not time the new set of a fleet whose re-applies do not
                // keep up (see `plan::sample`), and says so.
                let not_timed = (what == "new set s" || under_load && what == "new cluster s")
                    && !sampled.new_set_measured
                    && whole.drain_seconds.is_none_or(|d| d > 7200.0 * 1.1);
                assert!(
                    w.is_some() == s.is_some() || not_timed,
                    "{preset} {what}: {w:?} vs {s:?}"
                );
                continue;
            };
            let off = s / w - 1.0;
            println!(
                "{preset:<15} {replicas} x {workers:>3} workers{}: {what:<14} whole {w:>9.1}  sampled ({} + {}) {s:>9.1}  {:+.1}%",
                if under_load { ", under load" } else { "" },
                samples.small,
                samples.large,
                off * 100.0
            );
            let overloaded = whole.drain_seconds.is_none_or(|d| d > 7200.0);
            if off.abs() > if overloaded { 0.35 } else { 0.10 } {
                failures.push(format!(
                    "{preset} {replicas}x{workers} {what}: whole {w:.1}, sampled {s:.1}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
