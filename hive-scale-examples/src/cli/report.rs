//! Writes a report from a recording: `report.md`, `metrics-summary.json` and one SVG chart per
//! query.
//!
//! ```text
//! cargo run --example report -- run.jsonl --out DIR [--force] [--clusters N] [--pairs N]
//!     [--pipeline clustersync|syncsetinstance] [--reapply-interval 2h]
//!     [--template FILE] [--json] [--ndjson FILE [--run ID] [--ndjson-label KEY=VALUE]...]
//! ```
//! The findings are those the 2020 scale test worked out by hand: peak queue depth and when, time
//! to drain, mean and peak rates, time left at the current rate, and whether a full re-apply fits
//! in the re-apply interval. The re-apply counts the sync queue's own items: clusters under
//! clustersync (`--clusters`), (set, cluster) pairs under the 2020 pipeline (`--pairs`); without
//! them, the queue's peak. The pipeline is the one whose sync queue the recording names
//! (`clusterSync-controller`, `syncsetinstance-controller`) unless `--pipeline` says. A line cut short at the end of the recording (the recorder was killed) is skipped
//! with a warning. `report.md` comes from a tera template fed the summary (the fields of
//! `metrics-summary.json`); `--template FILE` replaces the built-in one
//! (`hive-scale-core/src/metrics/report/report.md.tera`).

use crate::Failure;
use crate::flags::{LogFlags, OutputFlags, duration};
use clap::Parser;
use hive_scale_core::api::Pipeline;
use hive_scale_core::metrics::report::{REPORT_FILE, SUMMARY_FILE};
use hive_scale_core::metrics::{MetricsError, ReportOptions, read_recording, write_report};
use hive_scale_core::scenario::output::ndjson;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "The report of a recording of 1000 clusters under clustersync",
        "hive-scale report run.jsonl --out report --clusters 1000",
    ),
    (
        "A 2020-pipeline recording, and NDJSON documents for a dashboard",
        "hive-scale report run.jsonl --out report --pipeline syncsetinstance --pairs 60000 --ndjson run.ndjson --run nightly-42 --ndjson-label ci=nightly",
    ),
];

/// Write report.md, metrics-summary.json and SVG charts from a recording.
#[derive(Parser, Debug)]
#[command(version, after_help = super::after_help(EXAMPLES, ""))]
pub struct Args {
    /// The JSON Lines file `record` wrote.
    recording: PathBuf,
    /// Directory for the report (created if missing). One that holds an earlier run's
    /// results is refused unless --force.
    #[arg(long)]
    out: PathBuf,
    /// Replace an earlier run's results in --out: first remove the files and directories a run
    /// writes there (summary.json, junit.xml, recording.jsonl, report.md, metrics-summary.json,
    /// *.svg, hub/, hubs/), except the recording read, and nothing else.
    #[arg(long)]
    force: bool,
    /// (set, cluster) pairs a full re-apply covers under the 2020 pipeline (default: the sync
    /// queue's peak).
    #[arg(long)]
    pairs: Option<u64>,
    /// Clusters a full re-apply covers under clustersync (default: the sync queue's peak).
    #[arg(long)]
    clusters: Option<u64>,
    /// The pipeline the recording came from (default: the one its queues name).
    #[arg(long)]
    pipeline: Option<Pipeline>,
    /// How often Hive re-applies everything.
    #[arg(long, default_value = "2h", value_parser = duration)]
    reapply_interval: Duration,
    /// A tera template for report.md instead of the built-in one (it is fed the summary).
    #[arg(long)]
    template: Option<PathBuf>,
    #[command(flatten)]
    output: OutputFlags,
    /// Also write one NDJSON sample document per recorded point to FILE (for dashboards).
    #[arg(long, value_name = "FILE")]
    ndjson: Option<PathBuf>,
    /// The run id of the NDJSON documents (default: the run id of a summary.json beside the
    /// recording, else the recording's file name without extension).
    #[arg(long, alias = "run-id", value_parser = crate::flags::run_id, requires = "ndjson")]
    run: Option<String>,
    /// A label on every NDJSON document, e.g. ci=nightly (repeatable).
    #[arg(long = "ndjson-label", value_name = "KEY=VALUE", value_parser = crate::key_value, requires = "ndjson")]
    ndjson_labels: Vec<(String, String)>,
    #[command(flatten)]
    log: LogFlags,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    args.log.init();
    crate::run(async move {
        // A missing recording is bad input; found before anything is removed or written.
        if !args.recording.is_file() {
            return Err(Failure::usage(format!(
                "recording {}: no such file",
                args.recording.display()
            )));
        }
        let _out = crate::flags::claim_result_dir(&args.out, args.force, &[&args.recording])?;
        let mut opts = ReportOptions::default();
        opts.pairs = args.pairs;
        opts.clusters = args.clusters;
        opts.pipeline = args.pipeline;
        opts.reapply_interval = args.reapply_interval;
        opts.template = args.template.clone();
        let (recording, out) = (args.recording.clone(), args.out.clone());
        let s = tokio::task::spawn_blocking(move || write_report(&recording, &out, &opts))
            .await?
            .map_err(|e| match e {
                // The recording or the template the command line names: bad input.
                MetricsError::Recording { .. } | MetricsError::Template { .. } => {
                    Failure::usage(hive_scale_core::error::chain(&e))
                }
                e => e.into(),
            })?;
        let wrote_ndjson = match &args.ndjson {
            Some(path) => Some((path, write_ndjson(&args, path)?)),
            None => None,
        };
        if args.output.json {
            crate::print_stdout(&(serde_json::to_string_pretty(&s)? + "\n"))?;
            return Ok(ExitCode::SUCCESS);
        }
        if let Some((path, n)) = wrote_ndjson {
            crate::print_stdout(&format!(
                "wrote {n} NDJSON documents to {}\n",
                path.display()
            ))?;
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

/// Writes a sample document per recorded point; the run id and scenario come from the flags or
/// a scaletest's summary.json beside the recording.
fn write_ndjson(args: &Args, path: &Path) -> anyhow::Result<usize> {
    let recording = read_recording(&args.recording)?;
    let beside: Option<serde_json::Value> = args
        .recording
        .parent()
        .map(|d| d.join("summary.json"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok());
    let field = |f: &dyn Fn(&serde_json::Value) -> Option<&serde_json::Value>| {
        beside
            .as_ref()
            .and_then(f)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let run_id = args
        .run
        .clone()
        .or_else(|| field(&|v| v.get("run_id")))
        .or_else(|| {
            args.recording
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let scenario = field(&|v| v.get("scenario")?.get("name")).unwrap_or_default();
    let labels = args.ndjson_labels.iter().cloned().collect();
    let docs = ndjson::sample_documents(&recording, &run_id, &scenario, &labels);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    ndjson::write(path, &docs)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(docs.len())
}
