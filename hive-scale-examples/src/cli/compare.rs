//! Puts two scaletest result directories side by side and fails when a metric regressed.
//!
//! ```text
//! cargo run --example compare -- RUN_A RUN_B [--fail-on METRIC:PCT]... [--json]
//! ```
//! RUN_A is the baseline. Per run and per phase (matched by name): phase times, fan-out
//! P50/P90/P99/max, pairs applied per modeled second, errors, peak queue depth, queue drain and
//! the metrics' rates, with the change in percent. `--fail-on p99-fanout:10%` exits 1 when B's
//! P99 fan-out is more than 10% worse than A's, "worse" in the metric's direction (longer times
//! and deeper queues, lower rates). Exit codes: see `--help`.

use crate::Failure;
use crate::exit::compare as exit;
use crate::flags::OutputFlags;
use clap::Parser;
use hive_scale_core::scenario::compare::{self, Gate, GateOutcome, RUN_METRICS};
use std::path::PathBuf;
use std::process::ExitCode;

/// Compare two scaletest result directories (A the baseline, B the new run); fail on regressions.
#[derive(Parser, Debug)]
#[command(version, after_help = after_help())]
pub struct Args {
    /// The baseline's result directory (holds summary.json).
    run_a: PathBuf,
    /// The result directory compared with it.
    run_b: PathBuf,
    /// Fail (exit 1) when METRIC regressed by more than PCT percent of A's value, e.g.
    /// p99-fanout:10% (repeatable; also METRIC=PCT).
    #[arg(long = "fail-on", visible_alias = "max-regression", value_name = "METRIC:PCT", value_parser = gate)]
    fail_on: Vec<Gate>,
    #[command(flatten)]
    output: OutputFlags,
}

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "Last night's run against the baseline, side by side",
        "hive-scale compare target/scaletest/base target/scaletest/new",
    ),
    (
        "Fail (exit 1) when P99 fan-out grew by more than 10% or the drain by more than 20%",
        "hive-scale compare base new --fail-on p99-fanout:10% --fail-on drain:20%",
    ),
];

fn gate(s: &str) -> Result<Gate, String> {
    s.parse().map_err(|e: compare::CompareError| e.to_string())
}

fn after_help() -> String {
    let metrics: Vec<String> = RUN_METRICS
        .iter()
        .map(|(name, unit, _, what)| {
            if unit.is_empty() {
                format!("  {name:<14} {what}")
            } else {
                format!("  {name:<14} {what} ({unit})")
            }
        })
        .collect();
    super::after_help(
        EXAMPLES,
        &format!(
            "Metrics for --fail-on:\n{}\n  and the metrics report's rate queries by name (resources_applied_rate, reconcile_rate...).\n\n{}",
            metrics.join("\n"),
            exit::HELP
        ),
    )
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    crate::finish(run(args))
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Every problem with the inputs is a usage error: nothing was compared.
    let usage = |e: compare::CompareError| Failure::usage(hive_scale_core::error::chain(&e));
    let a = compare::load(&args.run_a).map_err(usage)?;
    let b = compare::load(&args.run_b).map_err(usage)?;
    let mut cmp = compare::compare(&a, &b);
    cmp.gates = compare::check(&cmp, &args.fail_on).map_err(usage)?;
    let text = if args.output.json {
        serde_json::to_string_pretty(&cmp)? + "\n"
    } else {
        cmp.table()
    };
    crate::print_stdout(&text)?;
    Ok(ExitCode::from(match cmp.verdict() {
        GateOutcome::Regressed => exit::REGRESSION,
        GateOutcome::Missing => exit::MISSING,
        _ => exit::OK,
    }))
}
