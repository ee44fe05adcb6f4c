//! Capacity planning on the virtual clock: how fast would Hive sync this fleet?
//!
//! ```text
//! cargo run --release --example plan -- --clusters 1000 --selectorsyncsets 60 --configmaps 10 \
//!     --workers 5 --preset m4.xlarge-2020 --apply client-side [--pipeline syncsetinstance] [--json] [--out DIR]
//! ```
//! `--workers 5,10,20,40,100` (and `--cores` likewise) sweeps, one row per combination.
//! `--preset-file FILE` takes the model from a YAML file shaped like `config/presets/*.yaml`.
//! `--recommend` with targets answers the sizing question instead;
//! `--hubs N` splits the fleet across N hubs.

mod arrival;
mod calibrate;
mod recommend;

use crate::flags::{Numbers, OutputFlags, duration, number_list};
use clap::Parser;
use hive_scale_sim::model::ModelConfig;
use hive_scale_sim::plan::{PlanConfig, PlanResult, plan};
use std::path::PathBuf;

use std::process::ExitCode;

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "The 2020 test: 1000 clusters, 60 sets of 10 ConfigMaps, 5 workers (the defaults)",
        "hive-scale plan --pipeline syncsetinstance",
    ),
    (
        "Sweep workers on today's Hive",
        "hive-scale plan --preset c5.9xlarge --workers 5,10,20,40,100",
    ),
    (
        "How many replicas, workers and cores for 3000 clusters and 150 sets?",
        "hive-scale plan --recommend --clusters 3000 --selectorsyncsets 150 --preset c5.9xlarge --target-fanout 5m --target-reapply 2h",
    ),
    (
        "Fit the model to a recording of your hub (16 cores per clustersync pod)",
        "hive-scale plan --calibrate run/recording.jsonl --cores 16 --out-preset my-hub.yaml",
    ),
];

/// Plan Hive's sync capacity with the cost model on a virtual clock.
#[derive(Parser, Debug)]
#[command(
    version,
    allow_negative_numbers = true,
    after_help = super::after_help(EXAMPLES, "")
)]
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
    /// Simulate every cluster, even of a fleet above 2,000 clusters (which is otherwise
    /// simulated as two smaller samples and extrapolated: faster and lighter, within a few
    /// percent; see docs/performance.md). `--recommend` always samples the shards it confirms;
    /// `--arrival-every` never samples.
    #[arg(long, conflicts_with_all = ["recommend", "arrival_every"])]
    no_sample: bool,
    /// Split the fleet across this many hubs (each its own Hive) and print each hub's and the
    /// fleet's figures.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    hubs: u32,
    #[command(flatten)]
    recommend: RecommendFlags,
    /// Clusters arrive one every this long (e.g. 60s) instead of all at once; prints the
    /// fan-out latency each one saw over time.
    #[arg(long, value_parser = duration, conflicts_with_all = ["recommend", "hubs"])]
    arrival_every: Option<std::time::Duration>,
    /// Fit the model to a recording (recording.jsonl from record or scaletest) and print the
    /// fitted preset; give the cores clustersync has with --cores (Hive's metrics do not say).
    #[arg(long, value_name = "RECORDING", conflicts_with_all = ["recommend", "hubs", "arrival_every"])]
    calibrate: Option<PathBuf>,
    /// With --calibrate: write the fitted preset to this file (else it is printed).
    #[arg(long, value_name = "FILE", requires = "calibrate")]
    out_preset: Option<PathBuf>,
    #[command(flatten)]
    output: OutputFlags,
    /// Write each run's time series (JSON) into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The fleet of `--hubs` hubs: how many hubs hold how many clusters.
fn hub_sizes(args: &Args) -> [(usize, usize); 2] {
    let (clusters, hubs) = (args.clusters as usize, args.hubs as usize);
    let big = clusters.div_ceil(hubs);
    let with_big = clusters - (big - 1) * hubs;
    [(with_big, big), (hubs - with_big, big - 1)]
}

/// The fleet's figures from the biggest hub's plan `r`: hubs run side by side, so rates add
/// up and the slowest hub sets the times.
fn fleet_figures(args: &Args, r: &PlanResult) -> serde_json::Value {
    let per_cluster_rate = r.applies_per_second / r.clusters.max(1) as f64;
    serde_json::json!({
        "hubs": args.hubs,
        "clusters": args.clusters,
        "hub_sizes": hub_sizes(args).iter().filter(|(n, _)| *n > 0).map(|(n, c)| serde_json::json!({"hubs": n, "clusters": c})).collect::<Vec<_>>(),
        "applies_per_second": per_cluster_rate * args.clusters as f64,
        "slowest_hub_drain_seconds": r.drain_seconds,
        "slowest_hub_new_set_seconds": r.new_set_seconds,
        "hive_objects": r.hub.hive_objects * args.hubs as usize,
    })
}

fn fleet_line(args: &Args, results: &[PlanResult]) -> String {
    let sizes: Vec<String> = hub_sizes(args)
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, c)| format!("{n} of {c}"))
        .collect();
    let mut t = format!(
        "fleet of {} hubs ({} clusters: {}); the rows are the biggest hub, each hub its own Hive\n",
        args.hubs,
        args.clusters,
        sizes.join(", ")
    );
    for r in results {
        let f = fleet_figures(args, r);
        t.push_str(&format!(
            "  {} workers, {} cores: {:.1} applies/s across the fleet, slowest hub drains in {}, new set everywhere in {}\n",
            r.workers,
            r.cores,
            f["applies_per_second"].as_f64().unwrap_or(0.0),
            hours(r.drain_seconds),
            new_set(r),
        ));
    }
    t
}

/// `--recommend` and what it aims at.
#[derive(clap::Args, Debug, Clone)]
pub struct RecommendFlags {
    /// Print the cheapest configurations (fewest cores, then replicas) that meet the targets,
    /// instead of planning one configuration.
    #[arg(long, conflicts_with_all = ["hubs", "out", "no_probe"])]
    recommend: bool,
    /// Target: one new SelectorSyncSet reaches every cluster within this (e.g. 5m).
    #[arg(long, value_parser = duration, requires = "recommend")]
    target_fanout: Option<std::time::Duration>,
    /// Target: a full re-apply of everything fits in this (e.g. 2h).
    #[arg(long, value_parser = duration, requires = "recommend")]
    target_reapply: Option<std::time::Duration>,
    /// Target: a new cluster gets every set within this (e.g. 2m).
    #[arg(long, value_parser = duration, requires = "recommend")]
    target_new_cluster: Option<std::time::Duration>,
    /// Limit: clustersync replicas at most.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000), requires = "recommend")]
    max_replicas: u32,
    /// Limit: cores per replica at most.
    #[arg(long, default_value_t = 96, value_parser = clap::value_parser!(u32).range(1..=4096), requires = "recommend")]
    max_cores: u32,
    /// Limit: workers per replica at most.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000), requires = "recommend")]
    max_workers: u32,
    /// Limit: hubs the fleet may be split across.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000), requires = "recommend")]
    max_hubs: u32,
    /// Trust the closed form: do not confirm the answer on the virtual clock.
    #[arg(long, requires = "recommend")]
    no_confirm: bool,
}

/// The new-set column: "skipped" when the probe did not run (`--no-probe`), which is not
/// "never" (the new set never reached every cluster).
fn new_set(r: &PlanResult) -> String {
    if r.new_set_measured {
        hours(r.new_set_seconds)
    } else {
        "skipped".into()
    }
}

/// Prints the error and its causes as one `error:` line and exits with `code`.
fn fail(e: &(dyn std::error::Error + 'static), code: u8) -> ExitCode {
    eprintln!("error: {}", hive_scale_core::error::chain(e));
    ExitCode::from(code)
}

fn hours(s: Option<f64>) -> String {
    match s {
        None => "never".into(),
        Some(s) if s < 120.0 => format!("{s:.0}s"),
        Some(s) if s < 7200.0 => format!("{:.1}m", s / 60.0),
        Some(s) => format!("{:.1}h", s / 3600.0),
    }
}

/// The model flags of `config` as given (each ` --flag value`), for a command that plans the
/// same model: everything but the replicas, workers and cores `--recommend` chooses itself.
fn model_flags(config: &hive_scale_sim::model::ModelConfig) -> String {
    // The settings are keyed as their flags are (`hub-qps` is `--hub-qps`).
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(config) else {
        return String::new();
    };
    let quote = |v: String| {
        if v.is_empty() || v.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
            format!("'{}'", v.replace('\'', "'\\''"))
        } else {
            v
        }
    };
    let mut out = String::new();
    for (key, value) in fields {
        let skip = matches!(
            key.as_str(),
            "replicas" | "workers" | "cores" | "time-scale"
        ) || (key == "preset" && config.preset_file.is_some());
        let value = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        if !skip {
            out.push_str(&format!(" --{key} {}", quote(value)));
        }
    }
    out
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    crate::init_logging(false);
    let f = &args.recommend;
    let targets = [
        ("--target-fanout", f.target_fanout.is_some()),
        ("--target-reapply", f.target_reapply.is_some()),
        ("--target-new-cluster", f.target_new_cluster.is_some()),
    ];
    let given: Vec<&str> = targets.iter().filter(|t| t.1).map(|t| t.0).collect();
    if !f.recommend && !given.is_empty() {
        eprintln!(
            "error: {} is a target of --recommend, which was not given",
            given.join(", ")
        );
        return ExitCode::from(2);
    }
    if args.recommend.recommend {
        return recommend::main(&args);
    }
    if let Some(recording) = &args.calibrate {
        return calibrate::main(&args, recording);
    }
    if let Some(every) = args.arrival_every {
        return arrival::main(&args, every);
    }
    if args.hubs > args.clusters {
        eprintln!(
            "error: --hubs {} is more than the {} clusters to split across them",
            args.hubs, args.clusters
        );
        return ExitCode::from(2);
    }
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
                Err(e) => return fail(&e, 2),
            };
            let mut cfg = PlanConfig::new(model);
            // Split across hubs, the biggest hub is the slowest: the others hold at most one
            // cluster fewer, so it stands for each of them.
            cfg.clusters = (args.clusters as usize).div_ceil(args.hubs as usize);
            cfg.selectorsyncsets = args.selectorsyncsets as usize;
            cfg.configmaps = args.configmaps as usize;
            cfg.probe_new_set = !args.no_probe;
            if args.no_sample {
                cfg.sample_above = None;
            }
            match plan(&cfg) {
                Ok(r) => results.push(r),
                Err(e) => return fail(&e, 1),
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
    let out = if args.output.json {
        let brief: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(m) = v.as_object_mut() {
                    m.remove("series");
                    if args.hubs > 1 {
                        m.insert("fleet".into(), fleet_figures(&args, r));
                    }
                }
                v
            })
            .collect();
        format!(
            "{}\n",
            serde_json::to_string_pretty(&brief).unwrap_or_default()
        )
    } else {
        let mut t = String::from(
            "replicas workers/replica cores/replica applies/s(hub) reconciles/s apply(s) re-apply(time) new-set(time) fits-2h busy(cores)\n",
        );
        for r in &results {
            t.push_str(&format!(
                "{:>8} {:>14} {:>13} {:>14.1} {:>12.2} {:>8.3} {:>14} {:>13} {:>7} {:>11.1}\n",
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
            if let Some(s) = r.sampled {
                t.push_str(&format!(
                    "simulated as samples of {} and {} clusters (fleet time shrunk to match) and extrapolated to {}; --no-sample simulates every cluster\n",
                    s.small, s.large, r.clusters
                ));
                if !args.no_probe && !r.new_set_measured {
                    t.push_str("the new set is not timed from samples of a fleet whose re-applies do not keep up (their backlog does not scale down); --no-sample times it\n");
                }
            }
            t.push_str(&r.hub.line());
            t.push('\n');
            if args.hubs > 1 {
                t.push_str(&fleet_line(&args, &results));
            }
        }
        if results.iter().any(|r| !r.reapply_fits_2h) {
            t.push_str(&format!(
                "a full re-apply does not fit Hive's 2 h interval{}: `hive-scale plan --recommend --clusters {} --selectorsyncsets {} --configmaps {}{} --target-reapply 2h` finds the cheapest configuration that does\n",
                if results.len() > 1 { " in some of these" } else { "" },
                args.clusters,
                args.selectorsyncsets,
                args.configmaps,
                model_flags(&args.model)
            ));
        }
        t
    };
    if let Err(e) = crate::print_stdout(&out) {
        return fail(&e, 1);
    }
    ExitCode::SUCCESS
}
