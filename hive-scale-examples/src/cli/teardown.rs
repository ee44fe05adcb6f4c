//! Removes adopted clones (and optionally the SelectorSyncSets), safely.
//!
//! ```text
//! cargo run --example teardown -- (START [END] | --all | --selector SEL)
//!     [--selectorsyncsets] [--run R | --all-runs] [--dry-run] [--timeout 5m] [--grace 25s]
//!     [--kubeconfig FILE]
//! ```
//! A ClusterDeployment without `preserveOnDelete: true` or without the toolkit's label is never
//! deleted (Hive would deprovision the real cluster behind it); the command lists what it refused.
//! Only one run's objects are touched (the scripts' `scaletest` unless `--run` names another),
//! or every run's with `--all-runs`.

use crate::flags::{HubFlags, LogFlags, OutputFlags, clone_range};
use crate::{Failure, progress_bar};
use clap::Parser;
use hive_scale_core::adopt::{self, Selection, TeardownOptions};
use hive_scale_core::signals::Signals;
use std::process::ExitCode;
use std::time::Duration;

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "Remove clones 1 to 250 of the scripts' run (scaletest)",
        "hive-scale teardown 1 250",
    ),
    (
        "List what a kept scale test left, then remove it with its SelectorSyncSets",
        "hive-scale teardown --all --run hs-20250601t120000-4f2a --selectorsyncsets --dry-run",
    ),
    (
        "The clones of every run that carry a label",
        "hive-scale teardown --selector scaletest=true --all-runs",
    ),
];

/// Delete adopted clones by index range, by label, or everything the toolkit created.
#[derive(Parser, Debug)]
#[command(
    version,
    allow_negative_numbers = true,
    // What to delete: a range, everything, or a selector; exactly one.
    group = clap::ArgGroup::new("selection").args(["start", "all", "selector"]).required(true),
    after_help = super::after_help(EXAMPLES, "Exit codes: 0 everything selected is gone, 1 a deletion failed or timed out (what was left is listed), 2 bad command line, 3 objects refused (not ours, another run's, or the deprovision interlock), 130/143 stopped by SIGINT/SIGTERM (what was left is listed).")
)]
pub struct Args {
    /// First clone index (1 or more).
    start: Option<u32>,
    /// Last clone index (inclusive, at least START; default START).
    #[arg(requires = "start")]
    end: Option<u32>,
    /// Everything the toolkit created for the run (or, with --all-runs, for every run).
    #[arg(long)]
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
    #[command(flatten)]
    output: OutputFlags,
    #[command(flatten)]
    log: LogFlags,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    args.log.init();
    crate::run(run(args))
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let selection = if args.all {
        Selection::All
    } else if let Some(sel) = &args.selector {
        Selection::Selector(sel.clone())
    } else {
        let start = args.start.unwrap_or_default();
        Selection::Range {
            range: clone_range(start, args.end.unwrap_or(start))?,
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
    if args.output.json {
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
        return Err(Failure::with_code(
            crate::output::signal_code(signal),
            format!(
                "stopped by {signal}: {}; run the same command again to finish",
                summary.counts()
            ),
        ));
    }
    if let Some((what, why)) = summary.failures.first() {
        anyhow::bail!(
            "{} deletions failed (first: {what}: {why})",
            summary.failures.len()
        );
    }
    if summary.timed_out {
        anyhow::bail!(
            "timed out after {:.0}s waiting for the deletions to finish; {} objects left behind (listed above)",
            args.timeout.as_secs_f64(),
            summary.left_behind.len()
        );
    }
    if !summary.refused.is_empty() || !summary.secrets_left.is_empty() {
        return Err(Failure::with_code(
            3,
            format!(
                "refused {} objects and left {} Secrets (listed above); everything else selected was deleted",
                summary.refused.len(),
                summary.secrets_left.len()
            ),
        ));
    }
    Ok(ExitCode::SUCCESS)
}
