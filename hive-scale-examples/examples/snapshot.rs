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

use anyhow::Context as _;
use clap::Parser;
use hive_scale_core::metrics::{
    HttpOptions, Profile, PrometheusClient, Scraper, Secret, Source, parse_duration,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Evaluate a metric profile once, from Prometheus or straight from /metrics.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Prometheus' URL (default http://127.0.0.1:9091).
    #[arg(long, conflicts_with = "scrape")]
    prometheus: Option<String>,
    /// A /metrics URL to scrape instead of asking Prometheus (repeat for several pods).
    #[arg(long)]
    scrape: Vec<String>,
    /// Profile YAML (default: the built-in config/profiles/default.yaml).
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Print the snapshot as JSON.
    #[arg(long)]
    json: bool,
    /// A file holding a bearer token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// PEM file of the CA to trust for HTTPS.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// User for basic auth (password from --password-file).
    #[arg(long, requires = "password_file", conflicts_with = "token_file")]
    user: Option<String>,
    /// A file holding the basic-auth password.
    #[arg(long, requires = "user")]
    password_file: Option<PathBuf>,
    /// Limit for each request (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = duration)]
    timeout: Duration,
    /// With --scrape: seconds between the two scrapes a rate needs.
    #[arg(long, default_value = "2s", value_parser = duration)]
    rate_window: Duration,
    /// Log more (RUST_LOG overrides).
    #[arg(short, long)]
    verbose: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = match hive_scale_examples::parse_args::<Args>() {
        Ok(a) => a,
        Err(code) => return code,
    };
    hive_scale_examples::init_logging(args.verbose);
    hive_scale_examples::run(run(args))
}

fn http_options(args: &Args) -> anyhow::Result<HttpOptions> {
    let mut o = HttpOptions::default().with_timeout(args.timeout);
    if let Some(f) = &args.token_file {
        o = o.with_token_file(f)?;
    }
    if let (Some(user), Some(f)) = (&args.user, &args.password_file) {
        let pw = std::fs::read_to_string(f).with_context(|| f.display().to_string())?;
        o = o.with_basic_auth(user, Secret::new(pw.trim_end_matches(['\r', '\n'])));
    }
    if let Some(f) = &args.ca_file {
        o = o.with_ca_file(f)?;
    }
    Ok(o)
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let profile = match &args.profile {
        Some(f) => Profile::load(f)?,
        None => Profile::builtin(),
    };
    let opts = http_options(&args)?;
    let source = if args.scrape.is_empty() {
        let url = args
            .prometheus
            .as_deref()
            .unwrap_or("http://127.0.0.1:9091");
        Source::Prometheus(PrometheusClient::new(url, &opts)?)
    } else {
        Source::Scrape(Scraper::new(&args.scrape, &opts)?.with_rate_window(args.rate_window))
    };
    let snap = source.snapshot(&profile).await?;
    for r in snap.failed() {
        eprintln!(
            "warning: query {} failed: {}",
            r.name,
            r.error().unwrap_or_default()
        );
    }
    let out = if args.json {
        serde_json::to_string_pretty(&snap)? + "\n"
    } else {
        snap.table()
    };
    hive_scale_examples::print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}
