//! Capacity planning on the virtual clock: how fast would Hive sync this fleet?
//!
//! ```text
//! cargo run --release --example plan -- --clusters 1000 --selectorsyncsets 60 --configmaps 10 \
//!     --workers 5 --preset m4.xlarge-2020 --apply client-side [--pipeline syncsetinstance] [--json] [--out DIR]
//! ```
//! `--workers 5,10,20,40,100` (and `--cores` likewise) sweeps, one row per combination.
//! `--preset-file FILE` takes the model from a YAML file shaped like `config/presets/*.yaml`.

use crate::flags::{Numbers, number_list};
use clap::Parser;
use hive_scale_sim::model::ModelConfig;
use hive_scale_sim::plan::{PlanConfig, PlanResult, plan};
use std::path::PathBuf;

use std::process::ExitCode;

/// Plan Hive's sync capacity with the cost model on a virtual clock.
#[derive(Parser, Debug)]
#[command(version, allow_negative_numbers = true)]
pub struct Args {
    /// Adopted clusters.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    clusters: u32,
    /// SelectorSyncSets matching every cluster.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    selectorsyncsets: u32,
    /// ConfigMaps per set.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    configmaps: u32,
    /// Sync workers, or a list to sweep (5,10,20).
    #[arg(long, value_parser = number_list)]
    workers: Option<Numbers>,
    /// Modeled cores, or a list to sweep.
    #[arg(long, value_parser = number_list)]
    cores: Option<Numbers>,
    #[command(flatten)]
    model: ModelConfig,
    /// Skip timing one new set's fan-out after the drain.
    #[arg(long)]
    no_probe: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Write each run's time series (JSON) into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The new-set column: "not measured" when the probe did not run, which is not "never".
fn new_set(r: &PlanResult) -> String {
    if r.new_set_measured {
        hours(r.new_set_seconds)
    } else {
        "not measured".into()
    }
}

fn hours(s: Option<f64>) -> String {
    match s {
        None => "never".into(),
        Some(s) if s < 120.0 => format!("{s:.0}s"),
        Some(s) if s < 7200.0 => format!("{:.1}m", s / 60.0),
        Some(s) => format!("{:.1}h", s / 3600.0),
    }
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    crate::init_logging(false);
    let workers: Vec<Option<usize>> = args
        .workers
        .clone()
        .map(|w| w.0.into_iter().map(Some).collect())
        .unwrap_or(vec![None]);
    let cores: Vec<Option<usize>> = args
        .cores
        .clone()
        .map(|c| c.0.into_iter().map(Some).collect())
        .unwrap_or(vec![None]);
    let mut results: Vec<PlanResult> = Vec::new();
    for w in &workers {
        for c in &cores {
            let mut config = args.model.clone();
            (config.workers, config.cores) = (*w, *c);
            let model = match config.resolve() {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut cfg = PlanConfig::new(model);
            cfg.clusters = args.clusters as usize;
            cfg.selectorsyncsets = args.selectorsyncsets as usize;
            cfg.configmaps = args.configmaps as usize;
            cfg.probe_new_set = !args.no_probe;
            match plan(&cfg) {
                Ok(r) => results.push(r),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if let Some(dir) = &args.out {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        for r in &results {
            let name = match r.replicas {
                1 => format!("plan-w{}-c{}.json", r.workers, r.cores),
                n => format!("plan-r{n}-w{}-c{}.json", r.workers, r.cores),
            };
            let path = dir.join(name);
            let text = serde_json::to_string_pretty(r).unwrap_or_default();
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let out = if args.json {
        let brief: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v.as_object_mut().map(|m| m.remove("series"));
                v
            })
            .collect();
        format!(
            "{}\n",
            serde_json::to_string_pretty(&brief).unwrap_or_default()
        )
    } else {
        let mut t = String::from(
            "replicas workers cores  applies/s  reconciles/s  apply(s)  drain        new-set  fits-2h  cores-busy\n",
        );
        for r in &results {
            t.push_str(&format!(
                "{:>8} {:>7} {:>5} {:>10.1} {:>13.2} {:>9.3} {:>7} {:>14} {:>8} {:>10.1}\n",
                r.replicas,
                r.workers,
                r.cores,
                r.applies_per_second,
                r.reconciles_per_second,
                r.apply_seconds,
                hours(r.drain_seconds),
                new_set(r),
                if r.reapply_fits_2h { "yes" } else { "no" },
                r.cores_busy
            ));
            if r.per_replica.len() > 1 {
                for p in &r.per_replica {
                    t.push_str(&format!(
                        "         hive-clustersync-{}: {} clusters, {:.1} applies/s, {:.1} cores busy, peak queue {}\n",
                        p.ordinal, p.clusters, p.applies_per_second, p.cores_busy, p.peak_queue_depth
                    ));
                }
            }
        }
        if let Some(r) = results.first() {
            t.push_str(&format!(
                "{} clusters x {} sets x {} resources, preset {}, {} apply, {} spokes, {} pipeline; {:.1}s wall\n",
                r.clusters,
                r.selectorsyncsets,
                r.configmaps,
                r.preset,
                r.apply_mode,
                r.spokes,
                r.pipeline,
                results.iter().map(|r| r.wall_seconds).sum::<f64>()
            ));
            t.push_str(&r.hub.line());
            t.push('\n');
        }
        t
    };
    if let Err(e) = crate::print_stdout(&out) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
