//! Evaluates a metric profile once and prints a table (or JSON).
//!
//! ```text
//! cargo run --example snapshot -- [--prometheus URL | --scrape URL...] [--profile FILE] [--json]
//!     [--token-file F] [--ca-file F] [--user U --password-file F] [--timeout 10s] [--rate-window 2s]
//! ```
//! Without `--prometheus` or `--scrape` it asks the Prometheus at `http://127.0.0.1:9091` (where
//! `oc port-forward svc/prometheus -n hive 9091:9090` puts the in-cluster one). `--scrape` reads
//! `/metrics` pages directly and computes the profile's queries that have a scrape equivalent.
//! Against the simulator (it exports `hive_sim_time_scale`), rates are per modeled second.
//! A query that fails is reported on its own line (`warning: query NAME failed: ...`) and the
//! others are still shown; an unreachable source is one `error:` line and exit code 1.

use crate::flags::{KubeconfigFlags, LogFlags, MetricsFlags, OutputFlags, duration, load_profile};
use clap::Parser;
use hive_scale_core::metrics::Source;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "The in-cluster Prometheus, port-forwarded to 9091 (the default)",
        "hive-scale snapshot",
    ),
    (
        "Straight from clustersync's /metrics, as JSON",
        "hive-scale snapshot --metrics-url http://127.0.0.1:2112/metrics --json",
    ),
    (
        "OpenShift's monitoring, with the hub's token",
        "hive-scale snapshot --prometheus https://thanos-querier-openshift-monitoring.apps.hub.example.com --token-from-kubeconfig --ca-file ingress-ca.crt",
    ),
];

/// Evaluate a metric profile once, from Prometheus or straight from /metrics.
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
    #[command(flatten)]
    output: OutputFlags,
    /// The old name of --request-timeout.
    #[arg(long, hide = true, value_parser = duration)]
    timeout: Option<Duration>,
    /// With --scrape: seconds between the two scrapes a rate needs.
    #[arg(long, default_value = "2s", value_parser = duration)]
    rate_window: Duration,
    #[command(flatten)]
    log: LogFlags,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    args.log.init();
    crate::run(run(args))
}

/// The flags' source (Prometheus at 127.0.0.1:9091 when none is named); a scrape waits `window`
/// between the two scrapes a rate needs.
fn source(args: &Args, window: Duration) -> anyhow::Result<Source> {
    let mut metrics = args.metrics.clone();
    if let Some(t) = args.timeout {
        metrics.request_timeout = t;
    }
    Ok(
        match metrics.source_or(&args.hub, "http://127.0.0.1:9091")? {
            Source::Scrape(s) => Source::Scrape(s.with_rate_window(window)),
            other => other,
        },
    )
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let profile = load_profile(args.profile.as_deref())?;
    let source = source(&args, args.rate_window)?;
    let snap = source.snapshot(&profile).await?;
    for r in snap.failed() {
        eprintln!(
            "warning: query {} failed: {}",
            r.name,
            r.error().unwrap_or_default()
        );
    }
    let out = if args.output.json {
        serde_json::to_string_pretty(&snap)? + "\n"
    } else {
        snap.table()
    };
    crate::print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}
