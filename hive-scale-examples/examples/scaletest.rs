//! The main job: runs a Hive scale test end to end and leaves a report.
//!
//! ```text
//! cargo run --release --example scaletest -- [--scenario 2020-adoption|2019-incremental|starvation|FILE]
//!     [--clusters N] [--selectorsyncsets N] [--configmaps N] [--out DIR] [--keep] [--timeout SECS]
//!     [--kubeconfig F [--context C] (--spoke-kubeconfig F | --fake-cluster) [--prometheus URL | --metrics-url URL]]
//!     [--time-scale K] [--max-drain SECS] [--max-p99-fanout SECS] [--max-errors N] [--run ID]
//! ```
//! Without `--kubeconfig` or `--context` it runs on the embedded hub, picking a time scale so
//! the default scenario takes a few minutes. Exit codes: see `--help`.

use clap::Parser;
use hive_scale_core::scenario::exit;
use hive_scale_core::scenario::runner::{self, RealHub, Target};
use hive_scale_examples::Failure;
use hive_scale_examples::flags::{HubFlags, MetricsFlags, RunFlags, ScenarioFlags};
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::hub::EmbeddedHub;
use hive_scale_sim::scenario::ScaleChoice;
use std::path::PathBuf;
use std::process::ExitCode;

// Many small JSON trees are built and dropped per request and reconcile; see plan.rs.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run a Hive scale test (on the embedded hub unless --kubeconfig is given) and write a report.
#[derive(Parser, Debug)]
#[command(
    version,
    allow_negative_numbers = true,
    after_help = "Exit codes: 0 passed, 1 a phase failed, 2 bad command line or scenario, 3 teardown refused objects, 4 an observe phase timed out, 5 drain threshold failed, 6 P99 fan-out threshold failed, 7 error threshold failed, 8 teardown failed or timed out (objects left behind), 130 interrupted (Ctrl-C or SIGTERM)."
)]
struct Args {
    #[command(flatten)]
    scenario: ScenarioFlags,
    #[command(flatten)]
    hub: HubFlags,
    #[command(flatten)]
    metrics: MetricsFlags,
    /// The spoke's admin kubeconfig, adopted many times (real hub).
    #[arg(long)]
    spoke_kubeconfig: Option<PathBuf>,
    /// Adopt fake clusters (hive.openshift.io/fake-cluster) instead of a spoke.
    #[arg(long)]
    fake_cluster: bool,
    #[command(flatten)]
    run: RunFlags,
    /// Modeled seconds per real second on the embedded hub (default: picked for a few minutes).
    #[arg(long)]
    time_scale: Option<TimeScale>,
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

fn usage(message: impl Into<String>) -> anyhow::Error {
    let message = message.into();
    Failure {
        code: exit::USAGE,
        message,
    }
    .into()
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let scenario = args.scenario.load()?;
    let mut settings = args.run.settings(&scenario)?;
    let out = settings.out.clone();
    settings.parameters = serde_json::json!({
        "scenario": args.scenario.scenario, "clusters": scenario.clusters,
        "selectorsyncsets": scenario.selectorsyncsets, "configmaps": scenario.configmaps,
        "timeout": args.run.timeout, "keep": args.run.keep, "kubeconfig": args.hub.kubeconfig,
        "context": args.hub.context, "fake_cluster": args.fake_cluster,
        "time_scale": args.time_scale.map(f64::from),
    });
    // A real hub only when a flag names one: a KUBECONFIG in the environment is not a request.
    let (target, embedded) = if args.hub.given() {
        if args.spoke_kubeconfig.is_none() && !args.fake_cluster {
            return Err(usage(
                "a real hub needs --spoke-kubeconfig or --fake-cluster",
            ));
        }
        let mut real = RealHub::default();
        real.hub = args.hub.options(50.0);
        real.spoke_kubeconfig = args.spoke_kubeconfig.clone();
        real.fake_cluster = args.fake_cluster;
        real.prometheus = args.metrics.prometheus.clone();
        real.metrics_url = args.metrics.metrics_url.clone();
        (Target::real(&real).await?, None)
    } else {
        let (hub, choice) = EmbeddedHub::for_scenario(&scenario, out.join("hub"), args.time_scale)
            .await
            .map_err(|e| usage(e.to_string()))?;
        if let ScaleChoice::Predicted {
            scale,
            modeled_seconds,
        } = choice
        {
            let hours = modeled_seconds / 3600.0;
            println!(
                "time scale {scale}: the model predicts {hours:.1} modeled hours of syncing, so this runs in a few minutes"
            );
        }
        let client = hub.connect(args.hub.qps.unwrap_or(0.0)).await?;
        (hub.target(client, args.fake_cluster)?, Some(hub))
    };
    let model = (embedded.as_ref().map(|h| h.model())).map(|m| {
        format!(
            ", {} {} apply, {} workers",
            m.preset, m.apply_mode, m.workers
        )
    });
    println!(
        "scenario {} on {} ({} clusters, {} sets of {} ConfigMaps; {} pipeline{}); run {}; results in {}",
        scenario.name,
        target.description,
        scenario.clusters,
        scenario.selectorsyncsets,
        scenario.configmaps,
        target.pipeline,
        model.unwrap_or_default(),
        settings.run_id,
        out.display()
    );
    let summary = runner::run(&scenario, target, &settings).await?;
    if let Some(hub) = embedded {
        if args.run.keep {
            let kubeconfig = std::fs::canonicalize(hub.kubeconfig_path())?;
            println!("export KUBECONFIG={}", kubeconfig.display());
            println!("the embedded hub keeps running; press Ctrl-C to stop it");
            runner::interrupted().await;
        }
        hub.shutdown().await;
    }
    let f = &summary.fanout;
    println!(
        "{}: exit code {}; fan-out P50 {:.0}s P99 {:.0}s over {} pairs; report {}",
        summary.status,
        summary.exit_code,
        f.p50,
        f.p99,
        f.count,
        out.join("report.md").display()
    );
    Ok(ExitCode::from(summary.exit_code))
}
