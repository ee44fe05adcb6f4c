//! The main job: runs a Hive scale test end to end and leaves a report.
//!
//! ```text
//! cargo run --release --example scaletest -- [--scenario 2020-adoption|2019-incremental|starvation|FILE]
//!     [--clusters N] [--selectorsyncsets N] [--configmaps N] [--out DIR] [--keep] [--timeout 10m]
//!     [--kubeconfig F [--context C] (--spoke-kubeconfig F | --fake-cluster) [--prometheus URL | --metrics-url URL]]
//!     [--time-scale K] [--max-drain SECS] [--max-p99-fanout SECS] [--max-errors N] [--run ID]
//!     [--ndjson FILE [--ndjson-label KEY=VALUE]...]
//! ```
//! Without `--kubeconfig` or `--context` it runs on the embedded hub, picking a time scale so
//! the default scenario takes a few minutes. Exit codes: see `--help`.

use crate::exit::scaletest as exit;
use crate::flags::{LogFlags, RunFlags, ScenarioFlags, TargetFlags};
use crate::output;
use clap::Parser;
use hive_scale_core::scenario::fleet;
use hive_scale_core::scenario::output::{Finish, Finished, ResultDir};
use hive_scale_core::scenario::runner::{self, Summary};
use std::path::PathBuf;
use std::process::ExitCode;

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "The 2020 test on the embedded hub, in a few minutes",
        "hive-scale scaletest",
    ),
    (
        "A quick one: 50 clusters, 6 sets, fail if P99 fan-out passes 5 modeled minutes",
        "hive-scale scaletest --clusters 50 --selectorsyncsets 6 --max-p99-fanout 5m --out target/scaletest/quick",
    ),
    (
        "On a real hub, with its Prometheus, for up to a day",
        "hive-scale scaletest --kubeconfig hub.kubeconfig --spoke-kubeconfig spoke.kubeconfig --prometheus http://127.0.0.1:9091 --timeout 24h",
    ),
    (
        "Three embedded hubs sharing 300 clusters",
        "hive-scale scaletest --hubs 3 --clusters 300 --selectorsyncsets 6",
    ),
    (
        "The knee of a hub: 100 clusters every 10 minutes until a change takes over 5 minutes",
        "hive-scale scaletest --ramp --clusters 1000 --step 100 --every 10m --target-fanout 5m",
    ),
];

/// Run a Hive scale test (on the embedded hub unless --kubeconfig is given) and write a report.
#[derive(Parser, Debug)]
#[command(
    version,
    allow_negative_numbers = true,
    after_help = super::after_help(EXAMPLES, exit::HELP)
)]
pub struct Args {
    #[command(flatten)]
    scenario: ScenarioFlags,
    #[command(flatten)]
    target: TargetFlags,
    #[command(flatten)]
    run: RunFlags,
    /// Also write the run as NDJSON to FILE: a summary document, one per phase and threshold,
    /// and one per recorded sample, each with the run id and labels (for dashboards).
    #[arg(long, value_name = "FILE")]
    ndjson: Option<PathBuf>,
    /// A tera template for report.md instead of the built-in one: it renders every section (the
    /// metrics', the scale test's); see `hive-scale report --template`.
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// A label on every NDJSON document, e.g. ci=nightly (repeatable).
    #[arg(long = "ndjson-label", value_name = "KEY=VALUE", value_parser = crate::key_value, requires = "ndjson")]
    ndjson_labels: Vec<(String, String)>,
    /// Run over a fleet of hubs named in a YAML file (per hub: name, kubeconfig, context,
    /// spoke_kubeconfig or fake_cluster, metrics, weight or clusters); the scenario's clusters
    /// are spread over them and every hub gets every SelectorSyncSet.
    #[arg(long, value_name = "FILE", conflicts_with = "hubs", conflicts_with_all = FLEET_CONFLICTS)]
    fleet: Option<PathBuf>,
    /// Start N embedded hubs as separate `hive-scale hub` processes and run over them as a
    /// fleet (through their kubeconfigs and metrics URLs, as over real hubs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=50), conflicts_with_all = FLEET_CONFLICTS)]
    hubs: Option<u32>,
    /// Find the knee of the hub: add the scenario's clusters --step at a time, one step every
    /// --every (modeled), check the fleet's health after each (the step synced within it, a
    /// change to a set on 99% of the clusters within --target-fanout), stop at the first step
    /// that fails, tear down and report how many clusters the hub held.
    #[arg(long, conflicts_with_all = ["fleet", "hubs"])]
    ramp: bool,
    /// Clusters added per step of a ramp.
    #[arg(long, default_value_t = 100, requires = "ramp", value_parser = clap::value_parser!(u32).range(1..))]
    step: u32,
    /// Time per step of a ramp, modeled (`10m`, `90s`).
    #[arg(long, default_value = "10m", requires = "ramp", value_parser = crate::flags::duration)]
    every: std::time::Duration,
    /// A change's P99 fan-out a healthy step of a ramp keeps under, modeled (`5m`).
    #[arg(long, default_value = "5m", requires = "ramp", value_parser = crate::flags::duration)]
    target_fanout: std::time::Duration,
    #[command(flatten)]
    log: LogFlags,
}

/// What a fleet's hubs each say for themselves (in the fleet file, or as embedded hubs).
const FLEET_CONFLICTS: [&str; 11] = [
    "kubeconfig",
    "context",
    "in_cluster",
    "spoke_kubeconfig",
    "prometheus",
    "metrics_url",
    "token_file",
    "token_from_kubeconfig",
    "user",
    "allow_insecure_credentials",
    "ndjson",
];

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    args.log.init();
    crate::run(run(args))
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.fleet.is_some() || args.hubs.is_some() {
        return run_fleet(args).await;
    }
    let mut scenario = args.scenario.load()?;
    if args.ramp {
        // Hive's gauges, which the pairs come from with its metrics, are refreshed every two
        // minutes: a shorter step would be judged on what it looked like before.
        let m = &args.target.metrics;
        let gauges = m.prometheus.is_some() || !m.metrics_url.is_empty();
        if gauges && args.every < std::time::Duration::from_secs(300) {
            return Err(crate::Failure::usage(
                "--ramp with Hive's metrics (--prometheus, --metrics-url) needs --every of 5m or more: Hive refreshes the gauges the pairs come from every 2 minutes",
            ));
        }
        scenario = scenario.ramp(
            args.step,
            args.every.as_secs_f64(),
            args.target_fanout.as_secs_f64(),
        );
        scenario
            .validate()
            .map_err(|why| crate::Failure::usage(format!("--ramp: {why}")))?;
    }
    let mut settings = args.run.settings(&scenario)?;
    settings.parameters = serde_json::json!({
        "scenario": args.scenario.scenario,
        "timeout_seconds": args.run.timeout.as_secs_f64(),
        "keep": args.run.keep,
        "target": args.target.recorded(),
    });
    let out = settings.out.clone();
    // Before the embedded hub writes OUT/hub: the directory holds this run alone.
    let _results = args.run.claim_out(&out)?;
    let (target, embedded) = args.target.target(&scenario, &out.join("hub")).await?;
    println!(
        "scenario {} on {} ({} clusters, {} sets of {} ConfigMaps; {}); run {}; results in {}",
        scenario.name,
        target.description,
        scenario.clusters,
        scenario.selectorsyncsets,
        scenario.configmaps,
        target.pipeline.map_or(
            "pipeline found out when Hive first writes".to_string(),
            |p| format!("{p} pipeline")
        ),
        settings.run_id,
        out.display()
    );
    let (progress, drawing) = crate::observe_progress();
    settings.progress = Some(progress);
    let signals = runner::Signals::install();
    settings.signals = Some(signals.clone());
    let dir = ResultDir::new(&out);
    settings.events = Some(runner::fan_out(vec![output::console(), dir.sink(None)]));
    let summary = runner::run(&scenario, target, &settings).await;
    drop(settings.progress.take());
    let _ = drawing.await;
    let mut summary = summary?;
    if let Some(ramp) = summary.ramp.as_mut() {
        // The embedded hub's own model; on a real hub the scenario's (a preset calibrated to
        // that hub, say), in the pipeline the hub was seen to run.
        let model = match &embedded {
            Some(hub) => Some(hub.model().clone()),
            // Only a preset file says anything of a hub we did not start (one calibrated to
            // it with `plan --calibrate`); a named preset is some other machine.
            None => hive_scale_sim::model::ModelConfig::from_section(&scenario.embedded)
                .ok()
                .filter(|c| c.preset_file.is_some())
                .and_then(|c| c.resolve().ok())
                .map(|mut m| {
                    m.pipeline = summary.pipeline.unwrap_or(m.pipeline);
                    m
                }),
        };
        if let Some(m) = model {
            ramp.predicted_knee = hive_scale_sim::target::predicted_knee(&scenario, &m);
            ramp.predicted_for = ramp.predicted_knee.map(|_| m.preset.clone());
        }
    }
    let mut how = Finish::default();
    how.template = args.template.clone();
    how.ndjson = args.ndjson.clone().map(|path| {
        let labels = args.ndjson_labels.iter().cloned().collect();
        (path, labels)
    });
    let mut finished = finish(&dir, &mut summary, &how);
    if summary.signal.is_none() && signals.first().is_some() {
        // Heard while the results were written: they say so too.
        summary.signal = signals.first();
        summary.status = runner::Status::Interrupted;
        finished = finish(&dir, &mut summary, &how);
    }
    let mut code = summary.exit_code;
    match finished {
        Ok(f) => {
            if let Some((path, _)) = &how.ndjson {
                println!(
                    "wrote {} NDJSON documents to {}",
                    f.ndjson_documents,
                    path.display()
                );
            }
        }
        Err(e) => {
            eprintln!("error: {}", hive_scale_core::error::chain(&e));
            // The run's own failure says more; a passing run without its results fails.
            if code == exit::OK {
                code = 1;
            }
        }
    }
    let left_objects = args.run.keep
        || summary
            .teardown
            .as_ref()
            .is_none_or(runner::TeardownRecord::left_objects);
    if embedded.is_none() && left_objects {
        // Only this run's objects: `--all` alone would take every run's, colleagues' too.
        let hub = &args.target.hub.kubeconfig;
        let mut cmd = format!(
            "hive-scale teardown --all --run {} --selectorsyncsets",
            summary.run_id
        );
        if let Some(k) = &hub.kubeconfig {
            cmd.push_str(&format!(" --kubeconfig {}", k.display()));
        }
        if let Some(c) = &hub.context {
            cmd.push_str(&format!(" --context {c}"));
        }
        if hub.in_cluster {
            cmd.push_str(" --in-cluster");
        }
        println!("the run's objects are still on the hub; to remove them: {cmd}");
    }
    if let Some(hub) = embedded {
        if args.run.keep {
            let kubeconfig = std::fs::canonicalize(hub.kubeconfig_path())?;
            println!("export KUBECONFIG={}", kubeconfig.display());
            println!("the embedded hub keeps running; press Ctrl-C to stop it");
            runner::interrupted().await;
        }
        hub.shutdown().await;
    }
    if let Some(ramp) = &summary.ramp {
        println!("{}", ramp.verdict());
        if let Some(k) = ramp.predicted_knee {
            println!(
                "the planner predicts {k} clusters for the same targets and model (preset {})",
                ramp.predicted_for.as_deref().unwrap_or("?")
            );
        }
    }
    let f = &summary.fanout;
    println!(
        "{}: exit code {}; fan-out P50 {:.0}s P99 {:.0}s over {} pairs; report {}",
        summary.status,
        summary.exit_code,
        f.p50,
        f.p99,
        f.count,
        out.join("report.md").display()
    );
    Ok(ExitCode::from(code))
}

/// Decides the run's exit codes and writes every artefact of it.
fn finish(
    dir: &ResultDir,
    summary: &mut Summary,
    how: &Finish,
) -> Result<Finished, hive_scale_core::metrics::MetricsError> {
    output::decide(summary);
    dir.finish(summary, how)
}

/// `--fleet FILE` or `--hubs N`: the scenario over several hubs at once, one result directory.
async fn run_fleet(args: Args) -> anyhow::Result<ExitCode> {
    let scenario = args.scenario.load()?;
    if args.fleet.is_some() && (args.target.fake_cluster || args.target.time_scale.is_some()) {
        return Err(crate::Failure::usage(
            "with --fleet, fake_cluster and time_scale are set per hub in the fleet file",
        ));
    }
    let mut settings = args.run.settings(&scenario)?;
    let out = settings.out.clone();
    let _results = args.run.claim_out(&out)?;
    // Everything about the fleet is checked before anything starts or is written.
    let (members, embedded) = match (&args.fleet, args.hubs) {
        (Some(file), _) => (
            crate::members::load(file, scenario.clusters, &args.target.hub)?,
            None,
        ),
        (None, Some(n)) => {
            let counts = fleet::spread(
                scenario.clusters,
                &vec![fleet::Share::Weight(1.0); n as usize],
            )
            .map_err(|e| crate::Failure::usage(format!("--hubs {n}: {e}")))?;
            let largest = counts.iter().copied().max().unwrap_or(1);
            let (hubs, scale) = crate::members::EmbeddedFleet::start(
                n as usize,
                &scenario,
                largest,
                &out,
                args.target.time_scale,
            )
            .await?;
            println!(
                "started {n} embedded hubs (time scale {scale}; logs in {}/hubs/*/hub/hub.log)",
                out.display()
            );
            let members = crate::members::embedded_members(
                &hubs,
                &counts,
                args.target.fake_cluster,
                &args.target.hub,
            )?;
            (members, Some(hubs))
        }
        (None, None) => unreachable!("run_fleet runs only with --fleet or --hubs"),
    };
    let hubs: Vec<(String, Option<PathBuf>, Option<String>, bool)> = members
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                m.hub.hub.kubeconfig.clone(),
                m.hub.hub.context.clone(),
                m.hub.hub.in_cluster,
            )
        })
        .collect();
    settings.parameters = serde_json::json!({
        "scenario": args.scenario.scenario,
        "timeout_seconds": args.run.timeout.as_secs_f64(),
        "keep": args.run.keep,
        "fleet": args.fleet,
        "hubs": members.iter().map(|m| serde_json::json!({
            "name": m.name,
            "clusters": m.clusters,
            "kubeconfig": m.hub.hub.kubeconfig,
            "context": m.hub.hub.context,
            "in_cluster": m.hub.hub.in_cluster,
            "spoke_kubeconfig": m.hub.spoke_kubeconfig,
            "fake_cluster": m.hub.fake_cluster || m.hub.spoke_kubeconfig.is_none(),
            "metrics": m.hub.metrics.as_ref().map(|s| s.describe()),
            "time_scale": m.time_scale,
        })).collect::<Vec<_>>(),
    });
    println!(
        "scenario {} over {} hubs ({}; {} sets of {} ConfigMaps on each); run {} (each hub's: {}-NAME); results in {}",
        scenario.name,
        members.len(),
        members
            .iter()
            .map(|m| format!("{} {} clusters", m.name, m.clusters))
            .collect::<Vec<_>>()
            .join(", "),
        scenario.selectorsyncsets,
        scenario.configmaps,
        settings.run_id,
        settings.run_id,
        out.display()
    );
    settings.events = Some(runner::fan_out(vec![
        output::console(),
        output::fleet_files(&out),
    ]));
    let summary = fleet::run(&scenario, members, &settings).await;
    let mut summary = match summary {
        Ok(s) => s,
        Err(e) => {
            if let Some(h) = embedded {
                h.stop().await;
            }
            return Err(match e {
                // Found once connected, but a fault of the fleet as given: nothing was written.
                hive_scale_core::Error::SameHub { .. } => crate::Failure::usage(e.to_string()),
                e => e.into(),
            });
        }
    };
    output::decide_fleet(&mut summary);
    if let Err(e) = ResultDir::new(&out).finish_fleet(&summary, args.template.as_deref()) {
        eprintln!("error: cannot write the fleet's results: {e}");
    }
    let left_objects = args.run.keep
        || summary.hubs.iter().any(|h| {
            (h.summary.as_ref())
                .and_then(|s| s.teardown.as_ref())
                .is_none_or(runner::TeardownRecord::left_objects)
        });
    // Embedded hubs stop with this process (their objects with them) unless kept.
    if left_objects && (embedded.is_none() || args.run.keep) {
        for ((name, kubeconfig, context, in_cluster), row) in hubs.iter().zip(&summary.hubs) {
            // Each hub's objects carry its own run id, not the fleet's.
            let mut cmd = format!(
                "hive-scale teardown --all --run {} --selectorsyncsets",
                row.run_id
            );
            if let Some(k) = kubeconfig {
                cmd.push_str(&format!(" --kubeconfig {}", k.display()));
            }
            if let Some(c) = context {
                cmd.push_str(&format!(" --context {c}"));
            }
            if *in_cluster {
                cmd.push_str(" --in-cluster");
            }
            println!("hub {name}: the run's objects are still there; to remove them: {cmd}");
        }
    }
    if let Some(h) = embedded {
        if args.run.keep {
            println!("the embedded hubs keep running; press Ctrl-C to stop them");
            runner::interrupted().await;
        }
        h.stop().await;
    }
    let f = &summary.fleet;
    if !summary.failed_hubs.is_empty() {
        eprintln!("failed hubs: {}", summary.failed_hubs.join(", "));
    }
    println!(
        "{}: exit code {}; {} of {} hubs passed; {} of {} pairs applied; slowest hub {}; fleet fan-out P50 {:.0}s P99 {:.0}s over {} pairs; report {}",
        summary.status,
        summary.exit_code,
        f.hubs_passed,
        f.hubs,
        f.pairs_applied,
        f.pairs_expected,
        f.slowest_hub.as_deref().unwrap_or("none"),
        f.fanout.p50,
        f.fanout.p99,
        f.fanout.count,
        out.join("report.md").display()
    );
    Ok(ExitCode::from(summary.exit_code))
}
