//! Runs the embedded Hive hub until Ctrl-C: the hub API server, one spoke every clone can point
//! at, the simulated Hive controllers, and Hive's metrics endpoint.
//!
//! ```text
//! cargo run --example hub -- [--dir DIR] [--port PORT] [--metrics-port PORT] [--time-scale K]
//!     [--preset NAME | --preset-file FILE] [--apply client-side|server-side|fake] [--workers N] [--pipeline clustersync|syncsetinstance]
//!     [--faults SPEC] [--no-controllers]
//! ```
//! It prints `export KUBECONFIG=...`; `kubectl` and every hive-scale tool then talk to it.

use crate::Failure;
use crate::flags::LogFlags;
use clap::Parser;
use hive_scale_core::error::chain;
use hive_scale_core::files::LockError;
use hive_scale_sim::SimError;
use hive_scale_sim::apiserver::faults::FaultConfig;
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::controllers::SimConfig;
use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
use hive_scale_sim::model::{ModelConfig, ModelError};
use std::path::PathBuf;
use std::process::ExitCode;

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "A hub at real time in target/hive-scale (then: export KUBECONFIG=... as printed)",
        "hive-scale hub",
    ),
    (
        "The 2020 pipeline, 100 times faster than real time, Hive's metrics on Hive's port",
        "hive-scale hub --pipeline syncsetinstance --time-scale 100 --metrics-port 2112",
    ),
    (
        "Today's Hive on a big machine, 3 clustersync replicas of 40 workers",
        "hive-scale hub --preset c5.9xlarge --replicas 3 --workers 40",
    ),
    (
        "A flaky API server: 10% 429s and 5% dropped connections, the same each time",
        "hive-scale hub --no-controllers --faults 429=0.1,drop=0.05,seed=7",
    ),
];

/// Run the embedded Hive hub (a Kubernetes-compatible API server with simulated Hive controllers).
#[derive(Parser, Debug)]
#[command(
    version,
    allow_negative_numbers = true,
    after_help = super::after_help(EXAMPLES, "Exit codes: 0 stopped by Ctrl-C or SIGTERM (or its stdin closed), 1 it could not start or failed, 2 bad command line or model, or the directory is held by another running hub.")
)]
pub struct Args {
    /// Directory for hub.kubeconfig and spoke.kubeconfig (written with mode 0600) and hub.json;
    /// one hub at a time serves it (a second is refused while the first runs).
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
    /// Sync controller workers (clustersync's, or syncsetinstance's with --pipeline
    /// syncsetinstance; default: the preset's).
    #[arg(long)]
    workers: Option<usize>,
    /// Modeled cores (default: the preset's).
    #[arg(long)]
    cores: Option<usize>,
    #[command(flatten)]
    model: ModelConfig,
    /// The model as YAML, in the shape of a scenario's `embedded:` section (how `scaletest
    /// --hubs` hands each hub its scenario's model); --workers and --cores still override it.
    #[arg(long = "model", value_name = "FILE", conflicts_with_all = ["preset", "preset_file", "apply", "pipeline"])]
    model_file: Option<PathBuf>,
    /// Stop when standard input reaches its end, as when the process that started the hub
    /// exits (however it ends), so a hub never outlives its parent.
    #[arg(long)]
    stop_when_stdin_closes: bool,
    /// Serve the API only: no simulated controllers, no spoke.
    #[arg(long)]
    no_controllers: bool,
    /// Inject faults into resource requests, e.g. `429=0.1,500=0.1,503=0.1,409=0.1,drop=0.1,latency=5ms,retry-after=1,seed=7`.
    #[arg(long, value_parser = faults)]
    faults: Option<FaultConfig>,
    #[command(flatten)]
    log: LogFlags,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    args.log.init();
    crate::run(async move {
        let mut config = match &args.model_file {
            Some(path) => read_model(path).map_err(Failure::usage)?,
            None => args.model.clone(),
        };
        config.workers = args.workers.or(config.workers);
        config.cores = args.cores.or(config.cores);
        // A bad preset or value is a usage error (exit 2, as for `plan`), found before any
        // server starts.
        let model = config.resolve().map_err(|e| Failure::usage(chain(&e)))?;
        let mut cfg = EmbeddedHubConfig::new(&args.dir);
        cfg.port = args.port;
        cfg.metrics_addr.set_port(args.metrics_port);
        cfg.controllers = !args.no_controllers;
        cfg.spoke = !args.no_controllers;
        cfg.time_scale = args.time_scale;
        cfg.faults = args.faults.clone();
        cfg.sim = SimConfig::new(model);
        let hub = EmbeddedHub::start(cfg).await.map_err(|e| match e {
            SimError::Lock(LockError::Held { dir, pid }) => Failure::usage(format!(
                "{} is served by another hub{}: stop it, or give another --dir",
                dir.display(),
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            )),
            e => e.into(),
        })?;
        println!("hub listening on {}", hub.api_server().url());
        if let Some(spoke) = hub.spoke() {
            println!(
                "spoke listening on {} (kubeconfig {})",
                spoke.url(),
                std::fs::canonicalize(spoke.kubeconfig_path())?.display()
            );
        }
        println!("Hive metrics on {}", hub.metrics_url());
        let kubeconfig = std::fs::canonicalize(hub.kubeconfig_path())?;
        println!("export KUBECONFIG={}", kubeconfig.display());
        // Last, so whoever waits for it finds every endpoint serving.
        let endpoints = Endpoints {
            hub_url: hub.api_server().url().to_string(),
            kubeconfig,
            spoke_kubeconfig: hub
                .spoke()
                .map(|s| std::fs::canonicalize(s.kubeconfig_path()))
                .transpose()?,
            metrics_url: hub.metrics_url(),
            time_scale: f64::from(args.time_scale),
            pid: std::process::id(),
        };
        hive_scale_core::files::write_atomic(
            &args.dir.join(ENDPOINTS_FILE),
            &serde_json::to_vec_pretty(&endpoints)?,
        )?;
        tokio::select! {
            _ = hive_scale_core::scenario::runner::interrupted() => {}
            _ = stdin_closed(args.stop_when_stdin_closes) => {}
        }
        eprintln!("stopping");
        hub.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The file a hub writes in its directory once it serves: where to reach it (no credentials;
/// those stay in the kubeconfigs, mode 0600).
pub const ENDPOINTS_FILE: &str = "hub.json";

/// What `hub.json` holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Endpoints {
    /// The hub API server's URL.
    pub hub_url: String,
    /// The hub's kubeconfig.
    pub kubeconfig: PathBuf,
    /// The spoke's kubeconfig (none with --no-controllers).
    pub spoke_kubeconfig: Option<PathBuf>,
    /// Hive's metrics endpoint.
    pub metrics_url: String,
    /// Modeled seconds per real second.
    pub time_scale: f64,
    /// The hub's process.
    pub pid: u32,
}

/// A scenario's `embedded:` section from a YAML file.
fn read_model(path: &std::path::Path) -> Result<ModelConfig, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("model file {}: {e}", path.display()))?;
    let section: serde_json::Map<String, serde_json::Value> = serde_saphyr::from_str(&text)
        .map_err(|e| {
            format!(
                "model file {}",
                hive_scale_core::error::yaml_line(&path.display().to_string(), &e)
            )
        })?;
    let invalid = |e: ModelError| format!("model file {}: {}", path.display(), chain(&e));
    let config = ModelConfig::from_section(&section).map_err(invalid)?;
    config.resolve().map_err(invalid)?;
    Ok(config)
}

/// `--faults` for clap, which shows an error's own text only: the whole chain on one line.
fn faults(spec: &str) -> Result<FaultConfig, String> {
    FaultConfig::parse(spec).map_err(|e| chain(&e))
}

/// Resolves when standard input ends (or fails), if asked to watch it; never otherwise.
async fn stdin_closed(watch: bool) {
    if !watch {
        return std::future::pending().await;
    }
    // A blocking read on a thread of its own: nothing else reads stdin, and the thread ends
    // with the process.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        use std::io::Read as _;
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = tx.send(());
    });
    let _ = rx.await;
}
