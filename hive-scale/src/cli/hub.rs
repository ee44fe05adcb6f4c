//! Runs the embedded Hive hub until Ctrl-C: the hub API server, one spoke every clone can point
//! at, the simulated Hive controllers, and Hive's metrics endpoint.
//!
//! ```text
//! cargo run --example hub -- [--dir DIR] [--port PORT] [--metrics-port 2112] [--time-scale K]
//!     [--preset laptop | --preset-file FILE] [--apply client-side|server-side|fake] [--workers 5] [--pipeline clustersync|syncsetinstance]
//!     [--faults SPEC] [--no-controllers]
//! ```
//! It prints `export KUBECONFIG=...`; `kubectl` and every hive-scale tool then talk to it.

use clap::Parser;
use hive_scale_sim::apiserver::faults::FaultConfig;
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::controllers::SimConfig;
use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
use hive_scale_sim::model::ModelConfig;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run the embedded Hive hub (a Kubernetes-compatible API server with simulated Hive controllers).
#[derive(Parser, Debug)]
#[command(version, allow_negative_numbers = true)]
pub struct Args {
    /// Directory for hub.kubeconfig and spoke.kubeconfig (written with mode 0600).
    #[arg(long, default_value = "target/hive-scale")]
    dir: PathBuf,
    /// Port of the hub API server (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Port of the plain-HTTP metrics endpoint (Hive uses 2112; 0: any free port).
    #[arg(long, default_value_t = 0)]
    metrics_port: u16,
    /// Modeled seconds per real second (time runs this much faster inside the hub).
    #[arg(long, default_value = "1")]
    time_scale: TimeScale,
    /// Sync controller workers (clustersync, or syncsetinstance with --legacy-syncsetinstances).
    #[arg(long)]
    workers: Option<usize>,
    /// Modeled cores.
    #[arg(long)]
    cores: Option<usize>,
    #[command(flatten)]
    model: ModelConfig,
    /// Serve the API only: no simulated controllers, no spoke.
    #[arg(long)]
    no_controllers: bool,
    /// Inject faults into resource requests, e.g. `429=0.1,500=0.1,503=0.1,409=0.1,drop=0.1,latency=5ms,retry-after=1,seed=7`.
    #[arg(long, value_parser = FaultConfig::parse)]
    faults: Option<FaultConfig>,
    /// Log more (RUST_LOG overrides).
    #[arg(short, long)]
    verbose: bool,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    crate::init_logging(args.verbose);
    let mut config = args.model.clone();
    (config.workers, config.cores) = (args.workers, args.cores);
    // A bad preset or value is a usage error (exit 2, as for `plan`), found before any server
    // starts.
    let model = match config.resolve() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::run(async move {
        let mut cfg = EmbeddedHubConfig::new(&args.dir);
        cfg.port = args.port;
        cfg.metrics_addr.set_port(args.metrics_port);
        cfg.controllers = !args.no_controllers;
        cfg.spoke = !args.no_controllers;
        cfg.time_scale = args.time_scale;
        cfg.faults = args.faults.clone();
        cfg.sim = SimConfig::new(model);
        let hub = EmbeddedHub::start(cfg).await?;
        println!("hub listening on {}", hub.hub().url());
        if let Some(spoke) = hub.spoke() {
            println!(
                "spoke listening on {} (kubeconfig {})",
                spoke.url(),
                std::fs::canonicalize(spoke.kubeconfig_path())?.display()
            );
        }
        println!("Hive metrics on {}", hub.metrics_url());
        println!(
            "export KUBECONFIG={}",
            std::fs::canonicalize(hub.kubeconfig_path())?.display()
        );
        tokio::signal::ctrl_c().await?;
        eprintln!("stopping");
        hub.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
