//! Records snapshots of a metric profile every interval into a JSON Lines file.
//!
//! ```text
//! cargo run --example record -- [--prometheus URL | --scrape URL...] [--profile FILE]
//!     [--interval 5s] --out run.jsonl [--force] [--duration D] [--phase NAME]
//!     [--token-file F] [--ca-file F] [--user U --password-file F] [--timeout 10s]
//! ```
//! Runs for `--duration` (e.g. `30m`, `2h`), or until Ctrl-C (or SIGTERM). Each line is written
//! and flushed as it is taken, so whatever happens the file holds everything recorded so far
//! (`report` skips a line cut short by a crash). Type a phase name and Enter on stdin to mark a
//! phase (`adopt`, `sync`, ...); `--phase NAME` marks the first one at the start.
//! An unreachable source at the start is one `error:` line and exit code 1; later outages are
//! recorded as error lines and recording goes on.

use crate::Failure;
use crate::flags::{KubeconfigFlags, LogFlags, MetricsFlags, duration, load_profile};
use clap::Parser;
use hive_scale_core::metrics::{Recorder, Source};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "Record the in-cluster Prometheus (port-forwarded to 9091) until Ctrl-C",
        "hive-scale record --out run.jsonl",
    ),
    (
        "One hour of clustersync's /metrics every 5 seconds, starting in phase adopt",
        "hive-scale record --metrics-url http://127.0.0.1:2112/metrics --out run.jsonl --duration 1h --phase adopt",
    ),
];

/// Record a metric profile every interval into JSON Lines, with phase markers.
#[derive(Parser, Debug)]
#[command(version, after_help = super::after_help(EXAMPLES, ""))]
pub struct Args {
    #[command(flatten)]
    metrics: MetricsFlags,
    #[command(flatten)]
    hub: KubeconfigFlags,
    /// Profile YAML (default: the built-in config/profiles/default.yaml).
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Time between snapshots (e.g. 5s, 1m).
    #[arg(long, default_value = "5s", value_parser = duration)]
    interval: Duration,
    /// The JSON Lines file to write; one that exists is refused unless --force.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists (an earlier recording).
    #[arg(long)]
    force: bool,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = duration)]
    duration: Option<Duration>,
    /// Mark this phase at the start.
    #[arg(long)]
    phase: Option<String>,
    /// The old name of --request-timeout.
    #[arg(long, hide = true, value_parser = duration)]
    timeout: Option<Duration>,
    #[command(flatten)]
    log: LogFlags,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    args.log.init();
    crate::run(run(args))
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // A recording holds one run: another's would be lost, or mixed in, without a word.
    if !args.force && std::fs::symlink_metadata(&args.out).is_ok() {
        return Err(Failure::usage(format!(
            "{} exists (an earlier recording?): give another --out, or --force to replace it",
            args.out.display()
        )));
    }
    let profile = load_profile(args.profile.as_deref())?;
    let mut metrics = args.metrics.clone();
    if let Some(t) = args.timeout {
        metrics.request_timeout = t;
    }
    // Each recorded snapshot is one scrape: rates come from consecutive snapshots.
    let source = match metrics.source_or(&args.hub, "http://127.0.0.1:9091")? {
        Source::Scrape(s) => Source::Scrape(s.with_rate_window(Duration::ZERO)),
        other => other,
    };
    let described = source.describe();
    let handle = Recorder::start(source, profile, args.interval, &args.out).await?;
    for r in handle.first_snapshot().failed() {
        eprintln!(
            "warning: query {} failed (still recording the others): {}",
            r.name,
            r.error().unwrap_or_default()
        );
    }
    if let Some(p) = &args.phase {
        handle.mark_phase(p);
    }
    eprintln!(
        "recording {described} every {:?} to {}{}",
        args.interval,
        args.out.display(),
        match args.duration {
            Some(d) => format!(" for {d:?}"),
            None => " until Ctrl-C (type a phase name and Enter to mark a phase)".into(),
        }
    );
    let (tx, mut phases) = tokio::sync::mpsc::unbounded_channel::<String>();
    // A plain thread: reading stdin blocks, and the process exits without waiting for it.
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            let name = line.trim();
            if !name.is_empty() && tx.send(name.to_string()).is_err() {
                break;
            }
        }
    });
    let deadline = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let stop = hive_scale_core::scenario::runner::interrupted();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = &mut stop => break,
            Some(p) = phases.recv() => {
                handle.mark_phase(&p);
                eprintln!("phase {p}");
            }
        }
    }
    let s = handle.stop().await?;
    eprintln!(
        "recorded {} snapshots ({} failed, {} phases) to {}",
        s.snapshots,
        s.errors,
        s.phases,
        s.path.display()
    );
    Ok(ExitCode::SUCCESS)
}
