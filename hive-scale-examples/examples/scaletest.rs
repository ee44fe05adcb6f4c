//! The main job: runs a Hive scale test end to end and leaves a report.
//!
//! ```text
//! cargo run --release --example scaletest -- [--scenario 2020-adoption|2019-incremental|starvation|FILE]
//!     [--clusters N] [--selectorsyncsets N] [--configmaps N] [--out DIR] [--keep] [--timeout SECS]
//!     [--hub-kubeconfig F (--spoke-kubeconfig F | --fake-cluster) [--prometheus URL | --metrics-url URL]]
//!     [--time-scale K] [--max-drain SECS] [--max-p99-fanout SECS] [--max-errors N]
//! ```
//! Without `--hub-kubeconfig` it runs on the embedded hub, picking a time scale so the default
//! scenario takes a few minutes. Exit codes: 0 passed, 1 a phase failed, 2 bad command line or
//! scenario, 3 teardown refused objects (deprovision interlock), 4 an observe phase timed out,
//! 5 drain threshold, 6 P99 fan-out threshold, 7 error threshold, 130 interrupted.

use anyhow::Context as _;
use clap::Parser;
use hive_scale_core::hub::{Hub, HubOptions};
use hive_scale_core::metrics::{HttpOptions, PrometheusClient, Scraper, Source};
use hive_scale_core::scenario::{Scenario, exit};
use hive_scale_examples::Failure;
use hive_scale_examples::scaletest::{self, RunSettings, Target};
use hive_scale_sim::controllers::SimConfig;
use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
use hive_scale_sim::model::{ApplyMode, CostModel};
use hive_scale_sim::plan::{PlanConfig, plan};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

// Many small JSON trees are built and dropped per request and reconcile; see plan.rs.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run a Hive scale test (on the embedded hub unless --hub-kubeconfig is given) and write a report.
#[derive(Parser, Debug)]
#[command(
    version,
    allow_negative_numbers = true,
    after_help = "Exit codes: 0 passed, 1 a phase failed, 2 bad command line or scenario, 3 teardown refused objects (deprovision interlock), 4 an observe phase timed out, 5 drain threshold failed, 6 P99 fan-out threshold failed, 7 error threshold failed, 130 interrupted."
)]
struct Args {
    /// A built-in scenario (2020-adoption, 2019-incremental, starvation) or a YAML file.
    #[arg(long, default_value = "2020-adoption")]
    scenario: String,
    /// Scale the scenario to this many clusters.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    clusters: Option<u32>,
    /// Scale the scenario to this many SelectorSyncSets.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    selectorsyncsets: Option<u32>,
    /// ConfigMaps per set.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    configmaps: Option<u32>,
    /// The result directory (default target/scaletest/SCENARIO-TIMESTAMP).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep what was created (no teardown); on the embedded hub, keep serving until Ctrl-C.
    #[arg(long)]
    keep: bool,
    /// Wall seconds an observe phase may take.
    #[arg(long, default_value_t = 600.0)]
    timeout: f64,
    /// A real hub's kubeconfig (without it the embedded hub runs).
    #[arg(long)]
    hub_kubeconfig: Option<PathBuf>,
    /// The spoke's admin kubeconfig, adopted many times (real hub).
    #[arg(long)]
    spoke_kubeconfig: Option<PathBuf>,
    /// Adopt fake clusters (hive.openshift.io/fake-cluster) instead of a spoke.
    #[arg(long)]
    fake_cluster: bool,
    /// Prometheus to record Hive's metrics from (real hub).
    #[arg(long)]
    prometheus: Option<String>,
    /// A /metrics URL to scrape instead (e.g. a port-forward to hive-clustersync:2112).
    #[arg(long)]
    metrics_url: Option<String>,
    /// Modeled seconds per real second on the embedded hub (default: picked for a few minutes).
    #[arg(long)]
    time_scale: Option<f64>,
    /// Recording interval, wall seconds.
    #[arg(long, default_value_t = 2.0)]
    interval: f64,
    /// Fail (exit 5) if an observe phase takes longer than this, modeled seconds.
    #[arg(long)]
    max_drain: Option<f64>,
    /// Fail (exit 6) if the P99 fan-out latency exceeds this, modeled seconds.
    #[arg(long)]
    max_p99_fanout: Option<f64>,
    /// Fail (exit 7) if more writes than this failed.
    #[arg(long)]
    max_errors: Option<u64>,
    /// Clones in flight while adopting.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Client-side QPS towards the hub (0: unlimited; default 0 on the embedded hub, 50 on a real one).
    #[arg(long)]
    qps: Option<f64>,
    /// Log more (RUST_LOG overrides).
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = match hive_scale_examples::parse_args::<Args>() {
        Ok(a) => a,
        Err(code) => return code,
    };
    hive_scale_examples::init_logging(args.verbose);
    hive_scale_examples::run(run(args))
}

/// Modeled seconds the scenario should take on the embedded hub, from the planner (run on at
/// most 100 clusters: rates do not depend on the fleet size).
fn predict(s: &Scenario, model: &CostModel, legacy: bool) -> f64 {
    let clusters = s.clusters.min(100);
    let mut cfg = PlanConfig::new(model.clone());
    cfg.clusters = clusters as usize;
    cfg.selectorsyncsets = s.selectorsyncsets.max(1) as usize;
    cfg.configmaps = s.configmaps as usize;
    cfg.legacy = legacy;
    cfg.probe_new_set = false;
    // The planner runs its own (virtual-clock) runtime, so it gets a thread of its own.
    let planned = std::thread::spawn(move || plan(&cfg))
        .join()
        .ok()
        .and_then(|r| r.ok());
    let drain = planned.and_then(|r| r.drain_seconds).unwrap_or(3600.0) * f64::from(s.clusters)
        / f64::from(clusters);
    let trickle: f64 = s
        .phases
        .iter()
        .map(|p| match p {
            hive_scale_core::scenario::Phase::Trickle {
                count,
                every_seconds,
                ..
            } => f64::from(*count) * every_seconds,
            _ => 0.0,
        })
        .sum();
    drain.max(trickle)
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut scenario = Scenario::load(&args.scenario).map_err(|e| Failure {
        code: exit::USAGE,
        message: e.to_string(),
    })?;
    if args.clusters.is_some() || args.selectorsyncsets.is_some() {
        scenario = scenario.scaled(
            args.clusters.unwrap_or(scenario.clusters),
            args.selectorsyncsets.unwrap_or(scenario.selectorsyncsets),
        );
    }
    if let Some(c) = args.configmaps {
        scenario.configmaps = c;
    }
    let t = &mut scenario.thresholds;
    t.max_drain_seconds = args.max_drain.or(t.max_drain_seconds);
    t.max_p99_fanout_seconds = args.max_p99_fanout.or(t.max_p99_fanout_seconds);
    t.max_errors = args.max_errors.or(t.max_errors);
    scenario.validate().map_err(|why| Failure {
        code: exit::USAGE,
        message: format!("scenario {}: {why}", scenario.name),
    })?;
    if !(args.interval >= 0.1 && args.timeout > 0.0) {
        return Err(Failure {
            code: exit::USAGE,
            message: "--interval must be at least 0.1 and --timeout positive".into(),
        }
        .into());
    }
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "target/scaletest/{}-{}",
            scenario.name,
            jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S")
        ))
    });
    let parameters = serde_json::json!({
        "scenario": args.scenario, "clusters": scenario.clusters, "selectorsyncsets": scenario.selectorsyncsets,
        "configmaps": scenario.configmaps, "timeout": args.timeout, "keep": args.keep,
        "hub_kubeconfig": args.hub_kubeconfig, "fake_cluster": args.fake_cluster,
        "prometheus": args.prometheus, "metrics_url": args.metrics_url, "time_scale": args.time_scale,
    });
    let settings = RunSettings {
        out: out.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        interval: Duration::from_secs_f64(args.interval),
        concurrency: args.concurrency.max(1),
        keep: args.keep,
        parameters,
    };
    let http = HttpOptions::default();
    let summary = if let Some(kubeconfig) = &args.hub_kubeconfig {
        // A real hub: nothing here assumes the embedded one.
        let spoke = match (&args.spoke_kubeconfig, args.fake_cluster) {
            (Some(p), _) => Some(
                std::fs::read(p).with_context(|| format!("spoke kubeconfig {}", p.display()))?,
            ),
            (None, true) => None,
            (None, false) => {
                return Err(Failure {
                    code: exit::USAGE,
                    message: "a real hub needs --spoke-kubeconfig or --fake-cluster".into(),
                }
                .into());
            }
        };
        if let Some(k) = &spoke {
            hive_scale_core::adopt::check_spoke(k, args.spoke_kubeconfig.as_deref(), false).await?;
        }
        let hub = Hub::connect(&HubOptions {
            kubeconfig: Some(kubeconfig.clone()),
            qps: args.qps.unwrap_or(50.0),
            ..Default::default()
        })
        .await?;
        hub.check().await?;
        let metrics = match (&args.prometheus, &args.metrics_url) {
            (Some(url), _) => Some(Source::Prometheus(PrometheusClient::new(url, &http)?)),
            (None, Some(url)) => Some(Source::Scrape(Scraper::new(
                std::slice::from_ref(url),
                &http,
            )?)),
            (None, None) => None,
        };
        let target = Target {
            description: hub.server().to_string(),
            hub,
            spoke_kubeconfig: spoke,
            fake_cluster: args.fake_cluster,
            legacy: false,
            time_scale: 1.0,
            metrics,
            queue: None,
            applied_pairs: None,
        };
        println!(
            "scenario {} on {} ({} clusters, {} sets of {} ConfigMaps); results in {}",
            scenario.name,
            target.description,
            scenario.clusters,
            scenario.selectorsyncsets,
            scenario.configmaps,
            out.display()
        );
        scaletest::run(&scenario, target, &settings).await?
    } else {
        let e = &scenario.embedded;
        let mut model = CostModel::preset(&e.preset).map_err(|m| Failure {
            code: exit::USAGE,
            message: m,
        })?;
        model.apply_mode = e.apply.parse::<ApplyMode>().map_err(|m| Failure {
            code: exit::USAGE,
            message: m,
        })?;
        model.workers = e.workers.max(1);
        let scale = match args.time_scale.or(e.time_scale) {
            Some(k) if k.is_finite() && k > 0.0 => k,
            Some(k) => {
                return Err(Failure {
                    code: exit::USAGE,
                    message: format!("--time-scale must be positive, not {k}"),
                }
                .into());
            }
            None => {
                let modeled = predict(&scenario, &model, e.legacy);
                let k = (modeled / 150.0).clamp(1.0, 2000.0).round();
                println!(
                    "time scale {k}: the model predicts {:.1} modeled hours of syncing, so this runs in a few minutes",
                    modeled / 3600.0
                );
                k
            }
        };
        let mut cfg = EmbeddedHubConfig::new(out.join("hub"));
        cfg.time_scale = scale;
        cfg.sim = SimConfig {
            legacy: e.legacy,
            hub_qps: e.hub_qps,
            ..SimConfig::new(model)
        };
        let embedded = EmbeddedHub::start(cfg).await?;
        let hub = Hub::connect(&HubOptions {
            kubeconfig: Some(embedded.kubeconfig_path().to_path_buf()),
            qps: args.qps.unwrap_or(0.0),
            ..Default::default()
        })
        .await?;
        let spoke = embedded
            .spoke_kubeconfig_path()
            .map(std::fs::read)
            .transpose()?;
        let metrics = Some(Source::Scrape(Scraper::new(
            &[embedded.metrics_url()],
            &http,
        )?));
        let target = Target {
            description: format!("embedded ({})", embedded.hub().url()),
            hub,
            spoke_kubeconfig: spoke,
            fake_cluster: args.fake_cluster,
            legacy: e.legacy,
            time_scale: scale,
            metrics,
            queue: embedded
                .hive()
                .map(|h| Box::new(h.pending_counter()) as Box<dyn Fn() -> usize + Send + Sync>),
            applied_pairs: embedded.hive().map(|h| {
                let sim = h.sim().clone();
                Box::new(move || {
                    sim.counters
                        .set_first_successes
                        .load(std::sync::atomic::Ordering::Relaxed)
                }) as Box<dyn Fn() -> u64 + Send + Sync>
            }),
        };
        println!(
            "scenario {} on the embedded hub ({} clusters, {} sets of {} ConfigMaps; {} {} apply, {} workers{}); results in {}",
            scenario.name,
            scenario.clusters,
            scenario.selectorsyncsets,
            scenario.configmaps,
            e.preset,
            e.apply,
            e.workers,
            if e.legacy { ", 2020 pipeline" } else { "" },
            out.display()
        );
        let summary = scaletest::run(&scenario, target, &settings).await?;
        if args.keep {
            println!(
                "export KUBECONFIG={}",
                std::fs::canonicalize(embedded.kubeconfig_path())?.display()
            );
            println!("the embedded hub keeps running; press Ctrl-C to stop it");
            tokio::signal::ctrl_c().await?;
        }
        embedded.shutdown().await;
        summary
    };
    println!(
        "{}: exit code {}; fan-out P50 {:.0}s P99 {:.0}s over {} pairs; report {}",
        summary.status,
        summary.exit_code,
        summary.fanout.p50,
        summary.fanout.p99,
        summary.fanout.count,
        out.join("report.md").display()
    );
    Ok(ExitCode::from(summary.exit_code))
}
