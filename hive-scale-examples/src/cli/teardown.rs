//! Removes adopted clones (and optionally the SelectorSyncSets), safely.
//!
//! ```text
//! cargo run --example teardown -- START END | --all | --selector SEL
//!     [--selectorsyncsets] [--run R | --all-runs] [--dry-run] [--timeout 5m] [--grace 25s]
//!     [--kubeconfig FILE]
//! ```
//! A ClusterDeployment without `preserveOnDelete: true` or without the toolkit's label is never
//! deleted (Hive would deprovision the real cluster behind it); the command lists what it refused.
//! Only one run's objects are touched (the scripts' `scaletest` unless `--run` names another),
//! or every run's with `--all-runs`.

use crate::flags::HubFlags;
use crate::{Failure, progress_bar};
use clap::Parser;
use hive_scale_core::adopt::{self, Selection, TeardownOptions};
use hive_scale_core::signals::Signals;
use std::process::ExitCode;
use std::time::Duration;

/// Delete adopted clones by index range, by label, or everything the toolkit created.
#[derive(Parser, Debug)]
#[command(
    version,
    allow_negative_numbers = true,
    after_help = "Exit codes: 0 everything selected is gone, 1 a deletion failed or timed out (what was left is listed), 2 bad command line, 3 objects refused (not ours, another run's, or the deprovision interlock), 130/143 stopped by SIGINT/SIGTERM (what was left is listed)."
)]
pub struct Args {
    /// First clone index.
    #[arg(required_unless_present_any = ["all", "selector"], conflicts_with_all = ["all", "selector"])]
    start: Option<u32>,
    /// Last clone index (inclusive).
    #[arg(requires = "start")]
    end: Option<u32>,
    /// Everything the toolkit created for the run (or, with --all-runs, for every run).
    #[arg(long, conflicts_with = "selector")]
    all: bool,
    /// ClusterDeployments matching this label selector (what is not the run's is refused).
    #[arg(long)]
    selector: Option<String>,
    /// Only objects of this run (default: the scripts' stable id, `scaletest`).
    #[arg(long, value_parser = crate::flags::run_id, default_value = hive_scale_core::labels::SCRIPTS_RUN)]
    run: String,
    /// The toolkit's objects of every run instead of one run's (colleagues' runs included).
    #[arg(long, conflicts_with = "run")]
    all_runs: bool,
    /// Also delete the SelectorSyncSets the toolkit created.
    #[arg(long)]
    selectorsyncsets: bool,
    /// List what would be deleted, delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// How long to wait for everything to be gone (e.g. 5m, 300).
    #[arg(long, default_value = "5m", value_parser = crate::flags::duration)]
    timeout: Duration,
    /// After SIGINT or SIGTERM, how long to go on deleting before stopping and listing what is
    /// left (a second signal stops at once).
    #[arg(long, default_value = "25s", value_parser = crate::flags::duration)]
    grace: Duration,
    /// Deletions in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// Namespace name prefix (with START END).
    #[arg(long, default_value = "ns")]
    namespace_prefix: String,
    /// ClusterDeployment name prefix (with START END).
    #[arg(long, default_value = "c")]
    name_prefix: String,
    #[command(flatten)]
    hub: HubFlags,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    json: bool,
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
    let selection = if args.all {
        Selection::All
    } else if let Some(sel) = &args.selector {
        Selection::Selector(sel.clone())
    } else {
        let start = args.start.unwrap_or_default();
        let end = args.end.unwrap_or(start);
        Selection::Range {
            range: hive_scale_core::adopt::CloneRange::new(start, end)?,
            namespace_prefix: args.namespace_prefix.clone(),
            name_prefix: args.name_prefix.clone(),
        }
    };
    let signals = Signals::install();
    let hub = args.hub.connect(50.0).await?;
    let mut opts = TeardownOptions::new(selection);
    opts.run = (!args.all_runs).then(|| args.run.clone());
    let stop = signals.stop_after_grace(args.grace);
    opts.stop = Some(stop.clone());
    opts.concurrency = args.concurrency as usize;
    opts.timeout = args.timeout;
    opts.dry_run = args.dry_run;
    opts.selectorsyncsets = args.selectorsyncsets;
    let (progress, bar) = progress_bar(0, "deleting");
    let summary = adopt::teardown(&hub, &opts, &progress).await;
    stop.cancel();
    let summary = summary?;
    drop(progress);
    bar.await?;
    if args.json {
        crate::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&summary)?))?;
    } else {
        let verb = if summary.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        if summary.dry_run {
            for cd in &summary.cluster_deployments {
                println!("would delete clusterdeployment {cd}");
            }
            for ns in &summary.namespaces {
                println!("would delete namespace {ns}");
            }
            for s in &summary.secrets {
                println!("would delete secret {s}");
            }
            for s in &summary.selectorsyncsets {
                println!("would delete selectorsyncset {s}");
            }
        }
        for ns in &summary.kept_namespaces {
            println!("kept namespace {ns}: not hive-scale's (only our objects in it are deleted)");
        }
        println!(
            "{verb} {} clusterdeployments, {} namespaces, {} selectorsyncsets in {:.1}s; refused {}",
            summary.cluster_deployments.len(),
            summary.namespaces.len(),
            summary.selectorsyncsets.len(),
            summary.elapsed_seconds,
            summary.refused.len()
        );
    }
    for line in summary.problems() {
        eprintln!("{line}");
    }
    if let Some(signal) = signals.first() {
        return Err(Failure {
            code: signal.exit_code(),
            message: format!(
                "stopped by {signal}: {}; run the same command again to finish",
                summary.counts()
            ),
        }
        .into());
    }
    if let Some((what, why)) = summary.failures.first() {
        return Err(Failure {
            code: 1,
            message: format!(
                "{} deletions failed (first: {what}: {why})",
                summary.failures.len()
            ),
        }
        .into());
    }
    if summary.timed_out {
        return Err(Failure {
            code: 1,
            message: format!(
                "timed out after {:.0}s waiting for the deletions to finish; {} objects left behind (listed above)",
                args.timeout.as_secs_f64(),
                summary.left_behind.len()
            ),
        }
        .into());
    }
    if !summary.refused.is_empty() || !summary.secrets_left.is_empty() {
        return Err(Failure {
            code: 3,
            message: format!(
                "refused {} objects and left {} Secrets (listed above); everything else selected was deleted",
                summary.refused.len(),
                summary.secrets_left.len()
            ),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}
