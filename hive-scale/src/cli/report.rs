//! Writes a report from a recording: `report.md`, `metrics-summary.json` and one SVG chart per
//! query.
//!
//! ```text
//! cargo run --example report -- run.jsonl --out DIR [--pairs N] [--reapply-interval 2h]
//!     [--template FILE] [--json]
//! ```
//! The findings are those the 2020 scale test worked out by hand: peak queue depth and when, time
//! to drain, mean and peak rates, time left at the current rate, and whether a full re-apply of
//! every (set, cluster) pair (`--pairs`, default: the queue's peak) fits in the re-apply
//! interval. A line cut short at the end of the recording (the recorder was killed) is skipped
//! with a warning. `report.md` comes from a tera template fed the summary (the fields of
//! `metrics-summary.json`); `--template FILE` replaces the built-in one
//! (`hive-scale-core/src/metrics/report/report.md.tera`).

use clap::Parser;
use hive_scale_core::metrics::report::{REPORT_FILE, SUMMARY_FILE};
use hive_scale_core::metrics::{ReportOptions, parse_duration, write_report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Write report.md, metrics-summary.json and SVG charts from a recording.
#[derive(Parser, Debug)]
#[command(version)]
pub struct Args {
    /// The JSON Lines file `record` wrote.
    recording: PathBuf,
    /// Directory for the report (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// (set, cluster) pairs a full re-apply covers (default: the main queue's peak).
    #[arg(long)]
    pairs: Option<u64>,
    /// How often Hive re-applies everything.
    #[arg(long, default_value = "2h", value_parser = duration)]
    reapply_interval: Duration,
    /// A tera template for report.md instead of the built-in one (it is fed the summary).
    #[arg(long)]
    template: Option<PathBuf>,
    /// Print metrics-summary.json on stdout.
    #[arg(long)]
    json: bool,
    /// Log more (RUST_LOG overrides).
    #[arg(short, long)]
    verbose: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    crate::init_logging(args.verbose);
    crate::run(async move {
        let opts = ReportOptions {
            pairs: args.pairs,
            reapply_interval: args.reapply_interval,
            template: args.template.clone(),
        };
        let (recording, out) = (args.recording.clone(), args.out.clone());
        let s =
            tokio::task::spawn_blocking(move || write_report(&recording, &out, &opts)).await??;
        if args.json {
            crate::print_stdout(&(serde_json::to_string_pretty(&s)? + "\n"))?;
            return Ok(ExitCode::SUCCESS);
        }
        // The findings, as report.md words them (nothing, from a template without that section).
        let md = std::fs::read_to_string(args.out.join(REPORT_FILE))?;
        let mut text: String = md
            .lines()
            .skip_while(|l| *l != "## Findings")
            .skip(1)
            .take_while(|l| !l.starts_with("## "))
            .filter(|l| !l.is_empty())
            .map(|l| format!("{}\n", l.trim_start_matches("- ")))
            .collect();
        text.push_str(&format!(
            "wrote {}, {SUMMARY_FILE} and {} charts from {} snapshots\n",
            args.out.join(REPORT_FILE).display(),
            s.queries.iter().filter(|q| q.chart.is_some()).count(),
            s.snapshots
        ));
        crate::print_stdout(&text)?;
        Ok(ExitCode::SUCCESS)
    })
}
