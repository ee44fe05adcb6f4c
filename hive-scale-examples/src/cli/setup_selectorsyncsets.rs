//! Creates the scale test's SelectorSyncSets on a hub (replaces `setup-selectorsyncsets.sh`).
//!
//! ```text
//! cargo run --example setup_selectorsyncsets -- [--count 60] [--configmaps 10] [--start 0]
//!     [--template FILE] [--set k=v]... [--concurrency N] [--dry-run] [--delete] [--kubeconfig FILE]
//! ```

use crate::flags::{HubFlags, LogFlags};
use crate::{Failure, key_value, progress_bar, summary_line};
use anyhow::Context as _;
use clap::Parser;
use hive_scale_core::api::{ApplyBehavior, ResourceApplyMode};
use hive_scale_core::fixtures::{self, SelectorSyncSetFixture};
use std::path::PathBuf;
use std::process::ExitCode;

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "The 2020 test's 60 sets of 10 ConfigMaps each (the defaults)",
        "hive-scale setup-selectorsyncsets",
    ),
    (
        "Print 5 sets of 1 KiB ConfigMaps as YAML, contacting nothing",
        "hive-scale setup-selectorsyncsets --count 5 --payload-bytes 1024 --dry-run",
    ),
    (
        "Your own template with a variable of yours; later, delete exactly those sets",
        "hive-scale setup-selectorsyncsets --template mine.yaml.tera --set team=sre --delete",
    ),
];

/// Create (or delete) the SelectorSyncSets of a Hive scale test.
#[derive(Parser, Debug)]
#[command(
    version,
    allow_negative_numbers = true,
    after_help = super::after_help(EXAMPLES, "Exit codes: 0 done, 1 a set failed (the others are written), 2 bad command line, 3 sets refused (a set of that name is not this run's).")
)]
pub struct Args {
    /// How many SelectorSyncSets (indices START..START+COUNT).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: u32,
    /// ConfigMaps in each set.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    configmaps: u32,
    /// First index.
    #[arg(long, default_value_t = 0)]
    start: u32,
    /// A tera template rendering one SelectorSyncSet (variables: index, start, count, configmaps, ... and --set).
    #[arg(long)]
    template: Option<PathBuf>,
    /// A template variable, KEY=VALUE (repeatable).
    #[arg(long = "set", value_parser = key_value)]
    vars: Vec<(String, String)>,
    /// Namespace of the ConfigMaps on the spoke.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Upsert or Sync.
    #[arg(long, default_value = "Sync")]
    resource_apply_mode: ResourceApplyMode,
    /// Apply, CreateOnly or CreateOrUpdate (unset: Hive's default, Apply).
    #[arg(long)]
    apply_behavior: Option<ApplyBehavior>,
    /// Extra bytes of data in each ConfigMap.
    #[arg(long, default_value_t = 0)]
    payload_bytes: usize,
    /// The run id the sets carry (default: the scripts' stable id, `scaletest`, so running this
    /// again updates or deletes the same sets).
    #[arg(long, value_parser = crate::flags::run_id, default_value = hive_scale_core::labels::SCRIPTS_RUN)]
    run: String,
    /// Sets written at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    concurrency: u32,
    /// Print the YAML stream and contact nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete exactly the sets this command would create.
    #[arg(long, conflicts_with = "dry_run")]
    delete: bool,
    #[command(flatten)]
    hub: HubFlags,
    #[command(flatten)]
    log: LogFlags,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    args.log.init();
    crate::run(run(args))
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The template, its variables and what it renders come from the command line: a problem
    // with them is bad input, found before any hub is contacted.
    let usage = |e: hive_scale_core::Error| Failure::usage(hive_scale_core::error::chain(&e));
    let mut fixture = SelectorSyncSetFixture::new()
        .configmaps(args.configmaps as usize)
        .namespace(&args.namespace)
        .resource_apply_mode(args.resource_apply_mode)
        .apply_behavior(args.apply_behavior)
        .payload_bytes(args.payload_bytes)
        .run(&args.run);
    for (k, v) in &args.vars {
        fixture = fixture.var(k, v);
    }
    if let Some(t) = &args.template {
        fixture = fixture.template_file(t).map_err(usage)?;
    }
    for unused in fixture.unused_vars().map_err(usage)? {
        eprintln!("warning: --set {unused}=... is never used by the template");
    }
    let sets = fixture
        .render_range(args.start as usize, args.count as usize)
        .map_err(usage)?;
    if args.dry_run {
        let mut text = String::new();
        for set in &sets {
            text.push_str("---\n");
            text.push_str(&serde_saphyr::to_string(set).context("rendering YAML")?);
        }
        crate::print_stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let hub = args.hub.connect(50.0).await?;
    let (progress, bar) = progress_bar(
        sets.len() as u64,
        if args.delete { "deleting" } else { "applying" },
    );
    let summary = if args.delete {
        fixtures::delete_selector_syncsets(&hub, &sets, args.concurrency as usize, &progress)
            .await?
    } else {
        fixtures::apply_selector_syncsets(&hub, &sets, args.concurrency as usize, &progress).await?
    };
    drop(progress);
    bar.await?;
    let what = if args.delete {
        "selectorsyncsets (delete)"
    } else {
        "selectorsyncsets"
    };
    println!(
        "{what} (run {}): {}",
        fixture.run_id(),
        summary_line(&summary.counts, summary.elapsed)
    );
    for r in &summary.refused {
        eprintln!("refused {r}");
    }
    if !args.delete && summary.counts.nothing_changed() && summary.counts.failed == 0 {
        println!(
            "nothing to do: all {} sets already match",
            summary.counts.unchanged
        );
    }
    if let Some((name, why)) = summary.failures.first() {
        anyhow::bail!(
            "{} of {} sets failed (first: {name}: {why}); {} created, {} updated, {} unchanged were written and kept",
            summary.counts.failed,
            summary.counts.total(),
            summary.counts.created,
            summary.counts.updated,
            summary.counts.unchanged
        );
    }
    if !summary.refused.is_empty() {
        return Err(Failure::with_code(
            3,
            format!(
                "refused {} of {} sets (listed above): a set of that name is not this run's and was left as it is",
                summary.refused.len(),
                summary.counts.total()
            ),
        ));
    }
    Ok(ExitCode::SUCCESS)
}
