//! Adopts copies of one real cluster into a hub (replaces `hack/scaletest/test_setup.sh`).
//!
//! ```text
//! cargo run --example test_setup -- KUBECONFIG START END [--concurrency N] [--qps Q] [--burst B]
//!     [--fake-cluster] [--label k=v]... [--annotation k=v]... [--platform none|aws] [--region R]
//!     [--base-domain D] [--kubeconfig FILE] [--context C] [--run ID] [--borrow-namespaces] [--json]
//! ```
//! KUBECONFIG is the spoke's admin kubeconfig (`-` with `--fake-cluster`); START and END are
//! inclusive. The hub comes from `--hub-kubeconfig`, else `KUBECONFIG` in the environment.

use crate::flags::{HubFlags, LogFlags, OutputFlags, clone_range};
use crate::{Failure, key_value, progress_bar, summary_line};
use clap::{Parser, ValueEnum};
use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions, PlatformChoice};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlatformArg {
    None,
    Aws,
}

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "Adopt 250 copies of the spoke (the first step of the 2020 test)",
        "hive-scale test-setup spoke.kubeconfig 1 250",
    ),
    (
        "1000 fake clusters (Hive contacts no spoke), 50 requests/s",
        "hive-scale test-setup - 1 1000 --fake-cluster --qps 50",
    ),
    (
        "The least-privilege Job's way: read back its own Secrets through a namespace role",
        "hive-scale test-setup spoke.kubeconfig 1 100 --namespace-role hive-scale-namespace --in-cluster",
    ),
];

/// Adopt clones START..=END of a spoke cluster into a Hive hub.
#[derive(Parser, Debug)]
#[command(
    version,
    allow_negative_numbers = true,
    after_help = super::after_help(EXAMPLES, "Exit codes: 0 every clone is in place, 1 a clone failed (run the same command again to finish), 2 bad command line, 3 clones refused (an object in the way is not this run's).")
)]
pub struct Args {
    /// The spoke's admin kubeconfig (`-` with --fake-cluster: no spoke).
    spoke_kubeconfig: String,
    /// First clone index (1 or more).
    start: u32,
    /// Last clone index (inclusive, at least START).
    end: u32,
    /// Clones in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// Mark clones hive.openshift.io/fake-cluster=true (Hive then contacts no spoke).
    #[arg(long)]
    fake_cluster: bool,
    /// Extra label on every ClusterDeployment, KEY=VALUE (repeatable).
    #[arg(long = "label", value_parser = key_value)]
    labels: Vec<(String, String)>,
    /// Extra annotation on every ClusterDeployment, KEY=VALUE (repeatable).
    #[arg(long = "annotation", value_parser = key_value)]
    annotations: Vec<(String, String)>,
    /// Platform block of the ClusterDeployments.
    #[arg(long, value_enum, default_value_t = PlatformArg::None)]
    platform: PlatformArg,
    /// AWS region (with --platform aws).
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// spec.baseDomain.
    #[arg(long, default_value = "new-installer.openshift.com")]
    base_domain: String,
    /// Namespace name prefix.
    #[arg(long, default_value = "ns")]
    namespace_prefix: String,
    /// ClusterDeployment name prefix.
    #[arg(long, default_value = "c")]
    name_prefix: String,
    /// The run id the clones carry (default: the scripts' stable id, `scaletest`, so running
    /// this again, or after a crash, finishes the same clones).
    #[arg(long, value_parser = crate::flags::run_id, default_value = hive_scale_core::labels::SCRIPTS_RUN)]
    run: String,
    /// Adopt into a namespace that exists and is not hive-scale's (it is left unlabelled and
    /// never deleted); without this such a clone is refused.
    #[arg(long)]
    borrow_namespaces: bool,
    /// A ClusterRole to bind to the hub credentials in each namespace created, so credentials
    /// that may create Secrets but read them only where granted can read their own back.
    #[arg(long, value_name = "CLUSTERROLE")]
    namespace_role: Option<String>,
    /// Also call the spoke's /version before adopting.
    #[arg(long)]
    check_spoke: bool,
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
    let range = clone_range(args.start, args.end)?;
    let mut plan = if args.spoke_kubeconfig == "-" {
        if !args.fake_cluster {
            return Err(Failure::usage(
                "the spoke kubeconfig may be '-' only with --fake-cluster",
            ));
        }
        AdoptPlan::fake()
    } else {
        let path = PathBuf::from(&args.spoke_kubeconfig);
        let bytes = std::fs::read(&path).map_err(|e| {
            Failure::usage(format!(
                "spoke kubeconfig {}: cannot be read: {e}",
                path.display()
            ))
        })?;
        // Without --check-spoke this only reads the file: what it finds wrong is bad input.
        let server = adopt::check_spoke(&bytes, Some(&path), args.check_spoke)
            .await
            .map_err(|e| match e {
                hive_scale_core::Error::Kubeconfig { .. } => {
                    Failure::usage(hive_scale_core::error::chain(&e))
                }
                e => e.into(),
            })?;
        tracing::info!(spoke = %server, "spoke kubeconfig is valid");
        let mut p = AdoptPlan::new(bytes);
        p.fake_cluster = args.fake_cluster;
        p
    };
    plan.labels = args.labels.iter().cloned().collect();
    plan.annotations = args.annotations.iter().cloned().collect();
    plan.platform = match args.platform {
        PlatformArg::None => PlatformChoice::None,
        PlatformArg::Aws => PlatformChoice::Aws {
            region: args.region.clone(),
        },
    };
    plan.base_domain = args.base_domain.clone();
    plan.namespace_prefix = args.namespace_prefix.clone();
    plan.name_prefix = args.name_prefix.clone();
    plan.run = args.run.clone();
    plan.namespace_role =
        args.namespace_role
            .clone()
            .map(|cluster_role| hive_scale_core::adopt::NamespaceRole {
                cluster_role,
                user: None,
            });
    plan.validate()
        .map_err(|e| Failure::usage(hive_scale_core::error::chain(&e)))?;

    let hub = args.hub.connect(50.0).await?;
    let total = range.count();
    let (progress, bar) = progress_bar(total, "adopting");
    let summary = adopt::adopt(
        &hub,
        &plan,
        range,
        &EngineOptions::default()
            .with_concurrency(args.concurrency as usize)
            .with_borrow_namespaces(args.borrow_namespaces),
        &progress,
    )
    .await?;
    drop(progress);
    bar.await?;
    if args.output.json {
        crate::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&summary)?))?;
    } else {
        let r = &summary.requests;
        println!(
            "clones {}..={} (run {}): {}",
            summary.start,
            summary.end,
            summary.run,
            summary_line(
                &summary.clones,
                std::time::Duration::from_secs_f64(summary.elapsed_seconds)
            )
        );
        println!(
            "{:.1} clones/s; {} requests ({} retried), latency p50 {:.1} ms p99 {:.1} ms, {:.1} s waiting on the rate limiter",
            summary.clones_per_second,
            r.requests,
            r.retries,
            r.latency_p50 * 1e3,
            r.latency_p99 * 1e3,
            r.limiter_wait_seconds
        );
    }
    for ns in &summary.borrowed_namespaces {
        eprintln!(
            "note: namespace {ns} existed and is not hive-scale's: it hosts the clone, stays unlabelled and is never deleted"
        );
    }
    for (i, r) in &summary.refused {
        eprintln!("refused clone {i}: {r}");
    }
    if let Some((i, why)) = summary.failures.first() {
        anyhow::bail!(
            "{} of {} clones failed (first: clone {i}: {why}); the others are in place, run the same command again (run {}) to finish",
            summary.failures.len(),
            total,
            summary.run
        );
    }
    if !summary.refused.is_empty() {
        return Err(Failure::with_code(
            3,
            format!(
                "{} of {} clones refused (listed above): objects in their way are not this run's and were left as they are",
                summary.refused.len(),
                total
            ),
        ));
    }
    Ok(ExitCode::SUCCESS)
}
