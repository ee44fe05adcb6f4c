//! The embedded hub: the hub API server, the one spoke every clone points at, the simulated
//! Hive controllers, and a plain-HTTP metrics endpoint in Hive's format.

use crate::SimError;
use crate::apiserver::faults::FaultConfig;
use crate::apiserver::{ApiServer, ApiServerConfig};
use crate::clock::{Clock, TimeScale};
use crate::controllers::spoke::Spoke;
use crate::controllers::{Sim, SimConfig};
use crate::hive::SimulatedHive;
use crate::metrics::HiveMetrics;
use crate::model::CostModel;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Without a simulation, publishes wall time times `scale` for the API servers' timestamps.
fn published_by_wall(scale: TimeScale, published: Arc<AtomicU64>) {
    let scale = scale.get();
    let start = std::time::Instant::now();
    let weak = Arc::downgrade(&published);
    drop(published);
    tokio::spawn(async move {
        while let Some(p) = weak.upgrade() {
            p.store(
                start.elapsed().mul_f64(scale).as_nanos() as u64,
                Ordering::Relaxed,
            );
            drop(p);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    });
}

/// How to run the embedded hub.
#[derive(Debug, Clone)]
pub struct EmbeddedHubConfig {
    /// Where `hub.kubeconfig` and `spoke.kubeconfig` are written.
    pub dir: PathBuf,
    /// The hub API server's port (0: any free port).
    pub port: u16,
    /// The metrics endpoint's address (Hive serves :2112; port 0: any free port).
    pub metrics_addr: SocketAddr,
    /// Run the simulated Hive controllers (off: a plain API server, as for fixture tests).
    pub controllers: bool,
    /// Start the embedded spoke.
    pub spoke: bool,
    /// The simulation's settings.
    pub sim: SimConfig,
    /// Modeled seconds per real second.
    pub time_scale: TimeScale,
    /// Faults injected into the hub API server.
    pub faults: Option<FaultConfig>,
    /// The hub's bearer token (random when `None`).
    pub token: Option<hive_scale_core::secret::Secret>,
}

impl EmbeddedHubConfig {
    /// Hub, spoke and controllers with the `laptop` preset (fake applies are not assumed: the
    /// clones point at the embedded spoke), at real time.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let model = CostModel::preset("laptop").expect("built-in preset");
        Self {
            dir: dir.into(),
            port: 0,
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            controllers: true,
            spoke: true,
            sim: SimConfig::new(model),
            time_scale: TimeScale::REAL,
            faults: None,
            token: None,
        }
    }
}

/// The lock file of a hub's directory: one hub at a time serves a directory, since a second
/// would rewrite the kubeconfigs that reach the first.
pub const LOCK_FILE: &str = "hub.lock";

/// A running embedded hub.
#[derive(Debug)]
pub struct EmbeddedHub {
    hub: ApiServer,
    spoke: Option<ApiServer>,
    hive: Option<SimulatedHive>,
    metrics: Arc<HiveMetrics>,
    metrics_addr: SocketAddr,
    metrics_task: tokio::task::JoinHandle<()>,
    clock: Clock,
    model: CostModel,
    sim_thread: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
    // Held for as long as the hub serves its directory; released when it is dropped.
    _lock: hive_scale_core::files::DirLock,
}

/// Starts the simulated Hive on its own thread: a current-thread runtime with a paused clock,
/// paced to `scale` times real time (see [`crate::clock::pace`]).
fn start_paced_hive(
    sim_config: SimConfig,
    scale: TimeScale,
    epoch: jiff::Timestamp,
    metrics: Arc<HiveMetrics>,
    hub: Arc<crate::apiserver::Store>,
    spoke: Option<Arc<Spoke>>,
    published: Arc<AtomicU64>,
) -> Result<(SimulatedHive, Arc<AtomicBool>, std::thread::JoinHandle<()>), SimError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("hive-sim".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let sim = Sim::new(sim_config, Clock::starting_at(epoch), metrics, hub, spoke);
                sim.metrics.sim_time_scale.set(scale.get());
                let _ = tx.send(Ok(SimulatedHive::start(sim)));
                crate::clock::pace(scale, stop2, published).await;
            });
        })
        .map_err(SimError::Runtime)?;
    let hive = rx
        .recv()
        .map_err(|_| SimError::SimulationEnded)?
        .map_err(SimError::Runtime)?;
    Ok((hive, stop, thread))
}

impl EmbeddedHub {
    /// Starts everything; returns when the ports are bound and the kubeconfigs written.
    ///
    /// # Errors
    ///
    /// [`SimError::Lock`] when another hub serves `cfg.dir` (nothing in it is touched), a model
    /// that is not valid, a port that cannot be bound, files that cannot be written.
    pub async fn start(cfg: EmbeddedHubConfig) -> Result<Self, SimError> {
        cfg.sim.model.validate().map_err(SimError::Model)?;
        // Before anything is written there: the kubeconfigs of a hub already serving the
        // directory are how its clients reach it.
        let lock = hive_scale_core::files::DirLock::acquire(&cfg.dir, LOCK_FILE)?;
        // The API servers stamp objects with the simulation's modeled time.
        let published = Arc::new(AtomicU64::new(0));
        let epoch = jiff::Timestamp::now();
        let clock = Clock::following(epoch, cfg.time_scale, published.clone());
        let mut hub_cfg = ApiServerConfig::new(&cfg.dir, "hub");
        hub_cfg.bind.set_port(cfg.port);
        hub_cfg.faults = cfg.faults.clone();
        hub_cfg.token = cfg.token.clone();
        hub_cfg.store.clock = Some(clock.clone());
        let hub = ApiServer::start(hub_cfg).await?;
        let spoke = if cfg.spoke {
            let mut spoke_cfg = ApiServerConfig::new(&cfg.dir, "spoke");
            spoke_cfg.crds = Vec::new();
            spoke_cfg.store.clock = Some(clock.clone());
            Some(ApiServer::start(spoke_cfg).await?)
        } else {
            None
        };
        let metrics = Arc::new(HiveMetrics::new());
        metrics.sim_time_scale.set(clock.scale());
        let (hive, sim_thread) = if cfg.controllers {
            let target = spoke
                .as_ref()
                .map(|s| Arc::new(Spoke::new(s.url(), s.store().clone(), metrics.clone())));
            let (hive, stop, thread) = start_paced_hive(
                cfg.sim.clone(),
                cfg.time_scale,
                epoch,
                metrics.clone(),
                hub.store().clone(),
                target,
                published,
            )?;
            (Some(hive), Some((stop, thread)))
        } else {
            // No simulation to follow: modeled time is real time times the scale.
            published_by_wall(cfg.time_scale, published);
            (None, None)
        };
        let listener = tokio::net::TcpListener::bind(cfg.metrics_addr)
            .await
            .map_err(|e| SimError::Bind(cfg.metrics_addr, e))?;
        let metrics_addr = listener
            .local_addr()
            .map_err(|e| SimError::Bind(cfg.metrics_addr, e))?;
        let (m, queues) = (metrics.clone(), hive.as_ref().map(|h| h.sim().clone()));
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let (m, sim) = (m.clone(), queues.clone());
                async move {
                    if let Some(sim) = &sim {
                        crate::hive::refresh_selectorsyncset_gauges(sim);
                    }
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            HiveMetrics::content_type(),
                        )],
                        m.encode(),
                    )
                }
            }),
        );
        let metrics_task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "metrics endpoint stopped");
            }
        });
        tracing::info!(metrics = %metrics_addr, "Hive metrics endpoint listening");
        Ok(Self {
            hub,
            spoke,
            hive,
            metrics,
            metrics_addr,
            metrics_task,
            clock,
            model: cfg.sim.model.clone(),
            sim_thread,
            _lock: lock,
        })
    }

    /// The hub API server.
    pub fn api_server(&self) -> &ApiServer {
        &self.hub
    }

    /// The spoke API server.
    pub fn spoke(&self) -> Option<&ApiServer> {
        self.spoke.as_ref()
    }

    /// The hub's kubeconfig.
    pub fn kubeconfig_path(&self) -> &Path {
        self.hub.kubeconfig_path()
    }

    /// The spoke's kubeconfig: the admin kubeconfig to adopt copies of.
    pub fn spoke_kubeconfig_path(&self) -> Option<&Path> {
        self.spoke.as_ref().map(|s| s.kubeconfig_path())
    }

    /// `http://127.0.0.1:PORT/metrics`.
    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.metrics_addr)
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<HiveMetrics> {
        &self.metrics
    }

    /// The simulated controllers, when running.
    pub fn hive(&self) -> Option<&SimulatedHive> {
        self.hive.as_ref()
    }

    /// The clock the hub runs on.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The model the simulated controllers run.
    pub fn model(&self) -> &CostModel {
        &self.model
    }

    /// Stops everything.
    pub async fn shutdown(self) {
        if let Some(h) = &self.hive {
            h.shutdown();
        }
        if let Some((stop, thread)) = self.sim_thread {
            stop.store(true, Ordering::Relaxed);
            // The pacing loop notices within a millisecond.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        self.metrics_task.abort();
        if let Some(s) = self.spoke {
            s.shutdown().await;
        }
        self.hub.shutdown().await;
    }
}
