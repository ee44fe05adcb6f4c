//! The closed form that ranks `--recommend`'s candidates against the simulation that confirms
//! them, over a grid of configurations: a full round of re-applies, and a new set and a new
//! cluster amid the steady re-applies of a fleet adopted over the interval (what
//! `recommend::confirm` runs, a small shard's averaged over a few seeds). Prints both; every
//! figure within 25%.

use hive_scale_sim::model::CostModel;
use hive_scale_sim::plan::analytic::{Fleet, estimate};
use hive_scale_sim::plan::recommend::steady;
use hive_scale_sim::plan::{PlanConfig, plan};
use std::time::Duration;

#[test]
fn the_closed_form_agrees_with_the_simulation_over_a_grid() {
    // (preset, workers, cores, clusters, sets): loads from light to near the interval.
    let grid: &[(&str, usize, usize, usize, usize)] = &[
        ("c5.9xlarge", 10, 4, 400, 30),
        ("c5.9xlarge", 20, 8, 800, 30),
        ("c5.9xlarge", 5, 2, 600, 30),
        ("c5.9xlarge", 2, 1, 1200, 30),
        ("c5.9xlarge", 4, 2, 1800, 30),
        ("m5.xlarge", 10, 4, 150, 20),
        ("m5.xlarge", 20, 4, 400, 20),
        ("m5.xlarge", 40, 4, 300, 30),
        // The 2020 price on shared spokes, near the interval: the default preset.
        ("m4.xlarge-2020", 20, 16, 300, 30),
        ("m4.xlarge-2020", 40, 24, 500, 30),
        // 150 sets at the 2020 price: a cluster's full re-apply takes minutes, longer than the
        // new set's fan-out (the shards of `--recommend` at 3000 x 150).
        ("m4.xlarge-2020", 3, 5, 40, 150),
        ("m4.xlarge-2020", 6, 4, 25, 150),
        ("m4.xlarge-2020", 10, 8, 60, 150),
    ];
    let mut failures = Vec::new();
    for &(preset, workers, cores, clusters, sets) in grid {
        let mut m = CostModel::preset(preset).unwrap();
        (m.replicas, m.workers, m.cores) = (1, workers, cores);
        let fleet = Fleet {
            clusters,
            sets,
            resources: 10,
        };
        let e = estimate(&m, fleet);
        let mut cfg = PlanConfig::new(m);
        (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (clusters, sets, 10);
        cfg.sample_above = None;
        cfg.max_duration = Duration::from_secs(6 * 3600);
        let round = plan(&PlanConfig {
            probe_new_set: false,
            ..cfg.clone()
        })
        .unwrap();
        // As `--recommend` confirms: a small shard's new set averaged over a few seeds.
        let steady = steady(&cfg).unwrap();
        let rows = [
            // The simulation's round starts from nothing: every pair's content is new to its
            // cluster, so it is the first sync the closed form prices.
            ("full round", e.first_sync_seconds, round.drain_seconds),
            ("new set", e.new_set_seconds, steady.new_set_seconds),
            (
                "new cluster",
                e.new_cluster_seconds,
                steady.new_cluster_seconds,
            ),
        ];
        for (what, closed, sim) in rows {
            let off = sim.map(|s| closed / s - 1.0);
            println!(
                "{preset:<11} {workers:>3} workers {cores:>2} cores {clusters:>4} x {sets:>2} (load {:.2}): {what:<11} closed {closed:>8.1} s  sim {:>8} s  {}",
                e.reapply_load,
                sim.map_or("never".into(), |s| format!("{s:.1}")),
                off.map_or("-".into(), |o| format!("{:+.0}%", o * 100.0)),
            );
            if off.is_none_or(|o| o.abs() > 0.25) {
                failures.push(format!(
                    "{preset} {workers}w {cores}c {clusters}x{sets} {what}: closed {closed:.1}, sim {sim:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
