//! The main job: runs a Hive scale test end to end and leaves a report.
//!
//! ```text
//! cargo run --release --example scaletest -- [--scenario 2020-adoption|2019-incremental|starvation|FILE]
//!     [--clusters N] [--selectorsyncsets N] [--configmaps N] [--out DIR] [--keep] [--timeout 10m]
//!     [--kubeconfig F [--context C] (--spoke-kubeconfig F | --fake-cluster) [--prometheus URL | --metrics-url URL]]
//!     [--time-scale K] [--max-drain SECS] [--max-p99-fanout SECS] [--max-errors N] [--run ID]
//! ```
//! Without `--kubeconfig` or `--context` it runs on the embedded hub, picking a time scale so
//! the default scenario takes a few minutes. Exit codes: see `--help`.

use crate::flags::{RunFlags, ScenarioFlags, TargetFlags};
use clap::Parser;
use hive_scale_core::scenario::exit;
use hive_scale_core::scenario::runner;
use std::process::ExitCode;

/// Run a Hive scale test (on the embedded hub unless --kubeconfig is given) and write a report.
#[derive(Parser, Debug)]
#[command(version, allow_negative_numbers = true, after_help = exit::HELP)]
pub struct Args {
    #[command(flatten)]
    scenario: ScenarioFlags,
    #[command(flatten)]
    target: TargetFlags,
    #[command(flatten)]
    run: RunFlags,
    /// Log more (RUST_LOG overrides).
    #[arg(short, long)]
    verbose: bool,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    crate::init_logging(args.verbose);
    crate::run(run(args))
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let scenario = args.scenario.load()?;
    let mut settings = args.run.settings(&scenario)?;
    settings.parameters = serde_json::json!({
        "scenario": args.scenario.scenario,
        "timeout_seconds": args.run.timeout.as_secs_f64(),
        "keep": args.run.keep,
        "target": args.target.recorded(),
    });
    let out = settings.out.clone();
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
    let summary = runner::run(&scenario, target, &settings).await;
    drop(settings.progress.take());
    let _ = drawing.await;
    let summary = summary?;
    if let Some(hub) = embedded {
        if args.run.keep {
            let kubeconfig = std::fs::canonicalize(hub.kubeconfig_path())?;
            println!("export KUBECONFIG={}", kubeconfig.display());
            println!("the embedded hub keeps running; press Ctrl-C to stop it");
            runner::interrupted().await;
        }
        hub.shutdown().await;
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
    Ok(ExitCode::from(summary.exit_code))
}
