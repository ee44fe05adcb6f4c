//! The running API server: TLS listener, bearer token, kubeconfig on disk.

use super::auth::Tokens;
use super::error::ApiError;
use super::faults::{FaultConfig, Faults};
use super::request_metrics::RequestMetrics;
use super::routes;
use super::state::{ApiState, InFlight};
use super::store::{Store, StoreConfig};
use super::tls;
use crate::SimError;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use hive_scale_core::secret::Secret;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How to start an API server.
#[derive(Debug, Clone)]
pub struct ApiServerConfig {
    /// Address to listen on; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Where the kubeconfig (and nothing else) is written.
    pub dir: PathBuf,
    /// Name of the cluster, context and kubeconfig file (`hub` writes `hub.kubeconfig`).
    pub name: String,
    /// The bearer token; random when `None`.
    pub token: Option<hive_scale_core::secret::Secret>,
    /// Store tunables.
    pub store: StoreConfig,
    /// Largest accepted request body (Kubernetes allows 3 MiB).
    pub max_body: usize,
    /// Faults to inject into resource requests.
    pub faults: Option<FaultConfig>,
    /// CRDs to install; the Hive CRDs by default.
    pub crds: Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>,
}

impl ApiServerConfig {
    /// Defaults: loopback, a free port, the Hive CRDs, kubeconfig `DIR/NAME.kubeconfig`.
    pub fn new(dir: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir: dir.into(),
            name: name.into(),
            token: None,
            store: StoreConfig::default(),
            max_body: 3 * 1024 * 1024,
            faults: None,
            crds: hive_scale_core::api::crds(),
        }
    }
}

/// A Kubernetes-compatible API server on loopback.
pub struct ApiServer {
    addr: SocketAddr,
    store: Arc<Store>,
    tokens: Arc<Tokens>,
    name: String,
    dir: PathBuf,
    ca_pem: String,
    kubeconfig_path: PathBuf,
    kubeconfig_yaml: String,
    handle: Arc<parking_lot::Mutex<axum_server::Handle<SocketAddr>>>,
    restart_tx: tokio::sync::mpsc::UnboundedSender<Duration>,
    shutdown_tx: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    faults: Option<Arc<Faults>>,
    in_flight: Arc<InFlight>,
    metrics: Arc<RequestMetrics>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("addr", &self.addr)
            .field("kubeconfig", &self.kubeconfig_path)
            .finish_non_exhaustive()
    }
}

/// Installs ring as rustls' process-wide provider (kube and the server both use rustls).
pub fn install_crypto_provider() {
    // Err means another part of the process installed one first, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ApiServer {
    /// Starts serving; returns once the port is bound and the kubeconfig written.
    pub async fn start(config: ApiServerConfig) -> Result<Self, SimError> {
        install_crypto_provider();
        let certs = tls::generate()?;
        let listener =
            std::net::TcpListener::bind(config.bind).map_err(|e| SimError::Bind(config.bind, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| SimError::Bind(config.bind, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SimError::Bind(config.bind, e))?;
        let token = Arc::new(
            config
                .token
                .clone()
                .unwrap_or_else(|| hive_scale_core::secret::Secret::new(random_token())),
        );
        let store = Store::new(&config.crds, config.store.clone());
        let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        let faults = config
            .faults
            .clone()
            .filter(FaultConfig::active)
            .map(|f| Arc::new(Faults::new(f)));
        let in_flight = Arc::new(InFlight::default());
        let metrics = Arc::new(RequestMetrics::new(store.clone()));
        let tokens = Arc::new(Tokens::default());
        let state = ApiState {
            store: store.clone(),
            token: token.clone(),
            tokens: tokens.clone(),
            max_body: config.max_body,
            shutdown: shutdown_rx,
            faults: faults.clone(),
            in_flight: in_flight.clone(),
            metrics: metrics.clone(),
        };
        let app =
            Router::new().fallback(move |req: Request<Body>| routes::handle(state.clone(), req));
        let tls_config = axum_server::tls_rustls::RustlsConfig::from_pem(
            certs.cert_pem.into_bytes(),
            certs.key_pem.into_bytes(),
        )
        .await
        .map_err(|e| SimError::Tls(e.into()))?;
        let handle = Arc::new(parking_lot::Mutex::new(axum_server::Handle::new()));
        let (restart_tx, restart_rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(supervise(
            listener,
            addr,
            tls_config,
            app,
            handle.clone(),
            restart_rx,
        ));
        if let Some(f) = config.faults.as_ref().and_then(|f| f.restart) {
            let tx = restart_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(f.0).await;
                let _ = tx.send(f.1);
            });
        }
        let kubeconfig_yaml = kubeconfig_text(
            &config.name,
            &format!("{}-admin", config.name),
            &format!("https://{addr}"),
            &certs.ca_pem,
            token.expose(),
        );
        std::fs::create_dir_all(&config.dir).map_err(|e| SimError::Io {
            path: config.dir.clone(),
            source: e,
        })?;
        let kubeconfig_path = config.dir.join(format!("{}.kubeconfig", config.name));
        write_private(&kubeconfig_path, &kubeconfig_yaml)?;
        tracing::info!(%addr, kubeconfig = %kubeconfig_path.display(), "API server listening");
        Ok(Self {
            addr,
            store,
            tokens,
            name: config.name.clone(),
            dir: config.dir.clone(),
            ca_pem: certs.ca_pem,
            kubeconfig_path,
            kubeconfig_yaml,
            handle,
            restart_tx,
            shutdown_tx,
            task,
            faults,
            in_flight,
            metrics,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The kubeconfig file (mode 0600).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The object store, for in-process controllers and assertions.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Injected-fault counts, when faults are configured.
    pub fn fault_stats(&self) -> Option<super::faults::FaultStats> {
        self.faults.as_ref().map(|f| f.stats())
    }

    /// kube-apiserver's request metrics of this server, as `/metrics` serves them; the runner
    /// of a scale test on the embedded hub reads the duration histogram from here directly.
    pub fn request_metrics(&self) -> &Arc<RequestMetrics> {
        &self.metrics
    }

    /// Concurrent request accounting.
    pub fn in_flight(&self) -> &Arc<InFlight> {
        &self.in_flight
    }

    /// A kube client for this server (the admin's).
    pub async fn client(&self) -> Result<kube::Client, SimError> {
        client_from(&self.kubeconfig_yaml).await
    }

    /// A token for service account `name` in namespace `ns`, as `kubectl create token` gets
    /// one (the same tokens, without HTTP): requests bearing it are that service account's,
    /// authorized by the hub's RBAC objects, until `lifetime` passes or the service account is
    /// deleted.
    ///
    /// # Errors
    ///
    /// 404 when the service account does not exist.
    pub fn service_account_token(
        &self,
        ns: &str,
        name: &str,
        lifetime: Duration,
    ) -> Result<Secret, ApiError> {
        self.tokens
            .issue(&self.store, ns, name, lifetime)
            .map(|t| t.token)
    }

    /// A kube client for this server that presents `token` (a service account's) instead of
    /// the admin token.
    ///
    /// # Errors
    ///
    /// When the client cannot be built.
    pub async fn client_with_token(&self, token: &Secret) -> Result<kube::Client, SimError> {
        let yaml = kubeconfig_text(
            &self.name,
            "token",
            &self.url(),
            &self.ca_pem,
            token.expose(),
        );
        client_from(&yaml).await
    }

    /// Writes `DIR/FILE_NAME.kubeconfig` (mode 0600) reaching this server with `token`, for
    /// tools run as a service account (`hive-scale --kubeconfig`, kubectl); returns its path.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn write_kubeconfig_with_token(
        &self,
        file_name: &str,
        token: &Secret,
    ) -> Result<PathBuf, SimError> {
        let yaml = kubeconfig_text(
            &self.name,
            file_name,
            &self.url(),
            &self.ca_pem,
            token.expose(),
        );
        let path = self.dir.join(format!("{file_name}.kubeconfig"));
        write_private(&path, &yaml)?;
        Ok(path)
    }

    /// Simulates an API server restart: the listener and every connection go away now, and the
    /// server comes back on the same address with the same objects after `down`.
    pub fn restart(&self, down: Duration) {
        let _ = self.restart_tx.send(down);
    }

    /// Stops serving: open watches end, connections get a short grace period.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        drop(self.restart_tx);
        self.handle
            .lock()
            .graceful_shutdown(Some(Duration::from_secs(2)));
        let _ = self.task.await;
    }
}

/// Serves until shut down; a restart request drops the listener and all connections, waits,
/// and binds the same address again.
async fn supervise(
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: axum_server::tls_rustls::RustlsConfig,
    app: Router,
    handle: Arc<parking_lot::Mutex<axum_server::Handle<SocketAddr>>>,
    mut restart_rx: tokio::sync::mpsc::UnboundedReceiver<Duration>,
) {
    let mut listener = Some(listener);
    loop {
        let l = match listener.take() {
            Some(l) => l,
            None => match std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
            {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(%addr, error = %e, "cannot listen again after a restart");
                    return;
                }
            },
        };
        let h = axum_server::Handle::new();
        *handle.lock() = h.clone();
        let server = match axum_server::from_tcp_rustls(l, tls.clone()) {
            Ok(s) => s.handle(h.clone()),
            Err(e) => {
                tracing::error!(%addr, error = %e, "cannot serve");
                return;
            }
        };
        let serve = server.serve(app.clone().into_make_service());
        tokio::pin!(serve);
        tokio::select! {
            r = &mut serve => {
                if let Err(e) = r {
                    tracing::error!(error = %e, "API server stopped");
                }
                return;
            }
            down = restart_rx.recv() => match down {
                Some(down) => {
                    tracing::warn!(%addr, down_ms = down.as_millis() as u64, "restarting the API server");
                    // Every connection goes, as when the process dies.
                    h.shutdown();
                    let _ = serve.await;
                    tokio::time::sleep(down).await;
                }
                // The server is shutting down: let the graceful shutdown finish.
                None => {
                    h.graceful_shutdown(Some(Duration::from_secs(2)));
                    let _ = serve.await;
                    return;
                }
            },
        }
    }
}

/// A kube client from a kubeconfig's text, without kube's own retries (as every client of
/// the hub: the library retries, and tests count attempts).
async fn client_from(yaml: &str) -> Result<kube::Client, SimError> {
    let kc = kube::config::Kubeconfig::from_yaml(yaml).map_err(|e| SimError::Client(e.into()))?;
    let mut cfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| SimError::Client(e.into()))?;
    cfg.default_retry = false;
    kube::Client::try_from(cfg).map_err(|e| SimError::Client(e.into()))
}

/// A kubeconfig with the CA, server and a bearer token for `user` on cluster `name`.
fn kubeconfig_text(name: &str, user: &str, server: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {user}\n    namespace: default\ncurrent-context: {name}\n"
    )
}

/// Writes a file readable only by its owner (it holds a credential).
pub fn write_private(path: &Path, text: &str) -> Result<(), SimError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| SimError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| SimError::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
    }
    f.write_all(text.as_bytes()).map_err(|e| SimError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}
