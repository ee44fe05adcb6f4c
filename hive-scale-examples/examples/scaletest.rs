//! The main job: runs the scale test end to end.
//!
//! ```text
//! cargo run --release --example scaletest -- [--hub-kubeconfig FILE] [--selectorsyncsets 60] [--configmaps 10]
//! ```
//! Without `--hub-kubeconfig` it starts the embedded hub and runs against it.

use clap::Parser;
use hive_scale_core::fixtures::{self, SelectorSyncSetFixture};
use hive_scale_core::hub::{Hub, HubOptions};
use hive_scale_examples::summary_line;
use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run the Hive scale test (on the embedded hub unless --hub-kubeconfig is given).
#[derive(Parser, Debug)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// A real hub's kubeconfig; without it the embedded hub is started.
    #[arg(long)]
    hub_kubeconfig: Option<PathBuf>,
    /// SelectorSyncSets to create.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    selectorsyncsets: u32,
    /// ConfigMaps per SelectorSyncSet.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    configmaps: u32,
    /// Where the embedded hub writes its kubeconfig.
    #[arg(long, default_value = "target/hive-scale")]
    dir: PathBuf,
    /// Keep the embedded hub running after the test until Ctrl-C.
    #[arg(long)]
    keep: bool,
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

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (embedded, kubeconfig) = match &args.hub_kubeconfig {
        Some(k) => (None, k.clone()),
        None => {
            let hub = ApiServer::start(ApiServerConfig::new(&args.dir, "hub")).await?;
            println!(
                "phase hub: embedded hub at {} (kubeconfig {})",
                hub.url(),
                hub.kubeconfig_path().display()
            );
            let path = hub.kubeconfig_path().to_path_buf();
            (Some(hub), path)
        }
    };
    let hub = Hub::connect(&HubOptions {
        kubeconfig: Some(kubeconfig.clone()),
        qps: 0.0,
        ..Default::default()
    })
    .await?;
    let version = hub.check().await?;
    println!("phase hub: connected to {} ({version})", hub.server());
    let sets = SelectorSyncSetFixture::new()
        .configmaps(args.configmaps as usize)
        .render_range(0, args.selectorsyncsets as usize)?;
    let summary = fixtures::apply_selector_syncsets(&hub, &sets, 16, &None)
        .await?
        .into_result()?;
    println!(
        "phase selectorsyncsets: {}",
        summary_line(&summary.counts, summary.elapsed)
    );
    if let Some(server) = embedded {
        if args.keep {
            println!(
                "export KUBECONFIG={}",
                std::fs::canonicalize(&kubeconfig)?.display()
            );
            println!("the embedded hub keeps running; press Ctrl-C to stop it");
            tokio::signal::ctrl_c().await?;
        }
        server.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}
