//! Runs the embedded Hive hub until Ctrl-C.
//!
//! ```text
//! cargo run --example hub -- [--dir DIR] [--port PORT]
//! ```
//! It prints `export KUBECONFIG=...`; `kubectl` and every hive-scale tool then talk to it.

use clap::Parser;
use hive_scale_sim::apiserver::faults::FaultConfig;
use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run the embedded Hive hub (a Kubernetes-compatible API server on loopback).
#[derive(Parser, Debug)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Directory for the kubeconfig (written with mode 0600).
    #[arg(long, default_value = "target/hive-scale")]
    dir: PathBuf,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Inject faults into resource requests, e.g. `429=0.1,500=0.1,503=0.1,409=0.1,drop=0.1,latency=5ms,retry-after=1,seed=7`.
    #[arg(long, value_parser = FaultConfig::parse)]
    faults: Option<FaultConfig>,
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
    hive_scale_examples::run(async move {
        let mut config = ApiServerConfig::new(&args.dir, "hub");
        config.bind.set_port(args.port);
        config.faults = args.faults.clone();
        let hub = ApiServer::start(config).await?;
        let path = std::fs::canonicalize(hub.kubeconfig_path())?;
        println!("hub listening on {}", hub.url());
        println!("export KUBECONFIG={}", path.display());
        tokio::signal::ctrl_c().await?;
        eprintln!("stopping");
        hub.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
