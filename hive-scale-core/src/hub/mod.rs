//! Connecting to a hub: kubeconfig and context, one shared rate limiter, request statistics,
//! and the retry policy every write of the toolkit goes through.
//!
//! ```no_run
//! # async fn demo() -> hive_scale_core::Result<()> {
//! use hive_scale_core::hub::{Hub, HubOptions};
//! let hub = Hub::connect(&HubOptions::default()).await?;
//! println!("{} runs Kubernetes {}", hub.server(), hub.check().await?);
//! # Ok(()) }
//! ```

pub mod kubeconfig;
mod limiter;
mod stats;

pub use limiter::RateLimiter;
pub use stats::{RequestStats, StatsSnapshot, percentile};

use crate::api::Lenient;
use crate::{Error, Result};
use backon::{ExponentialBuilder, Retryable};
use futures::future::BoxFuture;
use kube::Resource;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often and how long to retry transient failures.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry).
    pub max_retries: usize,
    /// First backoff.
    pub min_delay: Duration,
    /// Longest backoff (a server's Retry-After may ask for more, up to a minute).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            // Twenty: with half of all attempts failing (10% each of 429, 500, 503, a dropped
            // connection and a write committed before its response was lost), a request still
            // fails for good only about once in two million tries; against a hub that is down,
            // backing off to 10 s, it gives up after about two and a half minutes.
            max_retries: 20,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// `max_retries` retries, backing off from `min_delay` to `max_delay`.
    pub fn new(max_retries: usize, min_delay: Duration, max_delay: Duration) -> Self {
        Self {
            max_retries,
            min_delay,
            max_delay,
        }
    }

    /// The same, with `max_retries` retries.
    pub fn with_max_retries(mut self, max_retries: usize) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }
}

/// How to reach a hub.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HubOptions {
    /// Kubeconfig file; `KUBECONFIG` or `~/.kube/config` when `None`.
    pub kubeconfig: Option<PathBuf>,
    /// Context; the current context when `None`.
    pub context: Option<String>,
    /// Use the pod's service account, whatever kubeconfig exists (a Kubernetes Job).
    pub in_cluster: bool,
    /// Client-side requests per second shared by every request (0: unlimited).
    pub qps: f64,
    /// Burst of the limiter.
    pub burst: u32,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            in_cluster: false,
            qps: 50.0,
            burst: 100,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl HubOptions {
    /// The hub of `kubeconfig` (its current context), everything else default.
    pub fn kubeconfig(kubeconfig: impl Into<PathBuf>) -> Self {
        Self {
            kubeconfig: Some(kubeconfig.into()),
            ..Self::default()
        }
    }

    /// The same, with this context.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// The same, limited to `qps` requests per second (0: unlimited).
    pub fn with_qps(mut self, qps: f64) -> Self {
        self.qps = qps;
        self
    }

    /// The same, with this burst.
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// The same, with this retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The same, with this per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A connected hub (real, or the embedded one: nothing here can tell them apart).
#[derive(Clone)]
pub struct Hub {
    client: kube::Client,
    watch_client: kube::Client,
    server: String,
    limiter: Arc<RateLimiter>,
    stats: Arc<RequestStats>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("server", &self.server)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Resolves the credentials as kubectl does (see [`kubeconfig::resolve`]: kubeconfig
    /// files, then the pod's service account) and builds a client. Does not contact the hub:
    /// see [`Hub::check`].
    ///
    /// # Errors
    ///
    /// [`Error::Kubeconfig`] when no usable credentials are found: no kubeconfig (and not in a
    /// pod), one that does not parse, lacks the context or its user's credentials, or a pod's
    /// service account that cannot be read.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn example() -> hive_scale_core::Result<()> {
    /// use hive_scale_core::hub::{Hub, HubOptions};
    ///
    /// let mut opts = HubOptions::default();
    /// opts.context = Some("hub-east-1".into());
    /// opts.qps = 20.0;
    /// let hub = Hub::connect(&opts).await?;
    /// println!("{} runs Kubernetes {}", hub.server(), hub.check().await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(opts: &HubOptions) -> Result<Self> {
        let credentials = if opts.in_cluster {
            kubeconfig::Credentials::InCluster
        } else {
            kubeconfig::resolve(opts.kubeconfig.as_deref(), opts.context.as_deref())?
        };
        match credentials {
            kubeconfig::Credentials::Kubeconfig(loaded) => {
                Self::from_kubeconfig(*loaded, opts).await
            }
            kubeconfig::Credentials::InCluster => {
                let cfg = kube::Config::incluster().map_err(|e| Error::Kubeconfig {
                    path: None,
                    reason: "the pod's service account cannot be used".into(),
                    source: Some(e.into()),
                })?;
                let server = cfg.cluster_url.to_string();
                Self::from_config(cfg, server, None, opts)
            }
        }
    }

    /// Builds a client from an already loaded kubeconfig.
    pub async fn from_kubeconfig(
        loaded: kubeconfig::LoadedKubeconfig,
        opts: &HubOptions,
    ) -> Result<Self> {
        let server = loaded.server.clone();
        let path = loaded.path.clone();
        let kc_opts = kube::config::KubeConfigOptions {
            context: Some(loaded.context.clone()),
            ..Default::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(loaded.config, &kc_opts)
            .await
            .map_err(|e| Error::Kubeconfig {
                path: path.clone(),
                reason: "cannot be used".into(),
                source: Some(e.into()),
            })?;
        Self::from_config(cfg, server, path, opts)
    }

    fn from_config(
        mut cfg: kube::Config,
        server: String,
        path: Option<PathBuf>,
        opts: &HubOptions,
    ) -> Result<Self> {
        // Retries are ours (see `call`), so the limiter and the statistics see every attempt.
        cfg.default_retry = false;
        cfg.read_timeout = Some(opts.timeout);
        cfg.write_timeout = Some(opts.timeout);
        cfg.connect_timeout = Some(opts.timeout.min(Duration::from_secs(10)));
        let limiter = Arc::new(RateLimiter::new(opts.qps, opts.burst));
        let stats = Arc::new(RequestStats::default());
        let layer = CountingLayer {
            limiter: limiter.clone(),
            stats: stats.clone(),
        };
        // Watches are quiet for minutes and end at the server's timeoutSeconds: a read timeout
        // sized for single requests would cut them every `opts.timeout`.
        let mut watch_cfg = cfg.clone();
        watch_cfg.read_timeout = None;
        let build = |cfg: kube::Config| {
            kube::client::ClientBuilder::try_from(cfg)
                .map_err(|e| Error::Kubeconfig {
                    path: path.clone(),
                    reason: "cannot make a client from it".into(),
                    source: Some(e.into()),
                })
                .map(|b| b.with_layer(&layer).build())
        };
        let client = build(cfg)?;
        let watch_client = build(watch_cfg)?;
        Ok(Self {
            client,
            watch_client,
            server,
            limiter,
            stats,
            retry: opts.retry.clone(),
        })
    }

    /// The kube client; requests made with it are limited and counted too.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// A client for watches: the same limiter and statistics, without a read timeout.
    pub fn watch_client(&self) -> kube::Client {
        self.watch_client.clone()
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Request statistics so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot(self.limiter.total_wait())
    }

    /// Calls `/version`; a hub that cannot be reached gives [`Error::Unreachable`].
    pub async fn check(&self) -> Result<String> {
        let client = self.client.clone();
        // A hub that is down should say so quickly: fewer retries than for writes.
        let quick = Self {
            retry: RetryPolicy {
                max_retries: self.retry.max_retries.min(2),
                ..self.retry.clone()
            },
            ..self.clone()
        };
        let info = quick
            .call("get", "/version", || client.apiserver_version())
            .await?;
        Ok(info.git_version)
    }

    /// Runs one API operation with the retry policy: 429 (honouring the server's
    /// retryAfterSeconds), 5xx, timeouts and dropped connections are retried with exponential
    /// backoff and jitter; everything else (validation errors, 404, conflicts) is returned at once.
    pub async fn call<T, F, Fut>(&self, verb: &str, what: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_jitter();
        let stats = self.stats.clone();
        op.retry(backoff)
            .when(is_transient)
            .adjust(move |e, next| {
                let next = next?;
                stats.retried();
                tracing::debug!(verb, what, error = %short_error(e), wait_ms = next.as_millis() as u64, "retrying");
                Some(retry_after(e).map_or(next, |ra| ra.max(next)))
            })
            .await
            .map_err(|e| convert(verb, what, &self.server, e))
    }

    /// Server-side apply with field manager `hive-scale`, forcing ownership of what we write
    /// (the toolkit is the owner of its fixtures; a re-run converges them).
    pub async fn apply<K>(&self, api: &Api<K>, name: &str, obj: &K) -> Result<K>
    where
        K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let params = PatchParams::apply(crate::labels::FIELD_MANAGER).force();
        let what = format!("{} {name}", K::kind(&Default::default()));
        let patch = Patch::Apply(obj);
        self.call("apply", &what, || api.patch(name, &params, &patch))
            .await
    }

    /// Reads an object; `Ok(None)` when it does not exist.
    ///
    /// # Errors
    ///
    /// [`Error::Undecodable`] when it exists but holds what `K` cannot represent (see
    /// [`Hub::get_lenient`] to judge it by its metadata anyway); the request's error otherwise.
    pub async fn get_opt<K>(&self, api: &Api<K>, name: &str) -> Result<Option<K>>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        match self.get_lenient(api, name).await? {
            None => Ok(None),
            Some(o) => Ok(Some(Arc::unwrap_or_clone(
                o.into_decoded().map_err(Error::Undecodable)?,
            ))),
        }
    }

    /// Reads an object, decoded or not (see [`Lenient`]); `Ok(None)` when it does not exist.
    pub async fn get_lenient<K>(&self, api: &Api<K>, name: &str) -> Result<Option<Lenient<K>>>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let what = format!("{} {name}", K::kind(&()));
        let client = self.client.clone();
        let url = api.resource_url().to_string();
        let got = self
            .call("get", &what, || {
                let req = kube::core::Request::new(&url).get(name, &Default::default());
                let client = client.clone();
                async move {
                    let req = req.map_err(kube::Error::BuildRequest)?;
                    client.request::<Lenient<K>>(req).await
                }
            })
            .await;
        match got {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists everything a label selector matches, 500 per page as kubectl does. An object that
    /// does not decode as `K` (another team's, holding what our types cannot represent) is
    /// skipped with one warning naming it, never failing the list.
    pub async fn list_all<K>(&self, api: &Api<K>, selector: &str) -> Result<Vec<K>>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        self.list_all_with(api, selector, |k| k).await
    }

    /// As [`Hub::list_all`], keeping `keep(object)` of each object as its page arrives: a
    /// caller that needs less than whole objects (a count over 60,000 SyncSetInstances) never
    /// holds every whole object at once.
    pub async fn list_all_with<K, T>(
        &self,
        api: &Api<K>,
        selector: &str,
        mut keep: impl FnMut(K) -> T,
    ) -> Result<Vec<T>>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let mut out = Vec::new();
        self.list_pages(api, selector, |object| {
            // Just decoded, so the only reference: unwrapped without a copy.
            if let Some(k) = object.into_ok_or_warn() {
                out.push(keep(Arc::unwrap_or_clone(k)));
            }
        })
        .await?;
        Ok(out)
    }

    /// Lists everything a label selector matches, each object decoded or not (see
    /// [`Lenient`]), 500 per page.
    pub async fn list_lenient<K>(&self, api: &Api<K>, selector: &str) -> Result<Vec<Lenient<K>>>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let mut out = Vec::new();
        self.list_pages(api, selector, |o| out.push(o)).await?;
        Ok(out)
    }

    /// Lists everything a label selector matches, 500 per page as kubectl does, handing each
    /// object to `each` as its page arrives.
    async fn list_pages<K>(
        &self,
        api: &Api<K>,
        selector: &str,
        mut each: impl FnMut(Lenient<K>),
    ) -> Result<()>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let mut token: Option<String> = None;
        let what = format!("{} ({selector})", K::plural(&()));
        let client = self.client.clone();
        let url = api.resource_url().to_string();
        loop {
            let mut lp = ListParams::default().labels(selector).limit(500);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let page: kube::core::ObjectList<Lenient<K>> = self
                .call("list", &what, || {
                    let req = kube::core::Request::new(&url).list(&lp);
                    let client = client.clone();
                    async move {
                        let req = req.map_err(kube::Error::BuildRequest)?;
                        client.request(req).await
                    }
                })
                .await?;
            page.items.into_iter().for_each(&mut each);
            token = page.metadata.continue_.filter(|c| !c.is_empty());
            if token.is_none() {
                return Ok(());
            }
        }
    }
}

/// Whether a failure is worth retrying.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// The server's `retryAfterSeconds` (capped at a minute).
fn retry_after(e: &kube::Error) -> Option<Duration> {
    match e {
        kube::Error::Api(s) => s
            .details
            .as_ref()
            .map(|d| d.retry_after_seconds)
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(u64::from(s).min(60))),
        _ => None,
    }
}

fn short_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("HTTP {} {}: {}", s.code, s.reason, s.message),
        other => crate::error::chain(other),
    }
}

fn convert(verb: &str, what: &str, server: &str, e: kube::Error) -> Error {
    match e {
        kube::Error::Api(s) => Error::Api {
            verb: verb.into(),
            what: what.into(),
            code: s.code,
            reason: s.reason,
            message: s.message,
        },
        other => {
            let lower = crate::error::chain(&other).to_ascii_lowercase();
            if [
                "connection refused",
                "dns error",
                "tcp connect",
                "no route to host",
                "certificate",
                "invalid peer",
            ]
            .iter()
            .any(|m| lower.contains(m))
            {
                Error::Unreachable {
                    server: server.into(),
                    source: other.into(),
                }
            } else {
                Error::Transport {
                    verb: verb.into(),
                    what: what.into(),
                    source: other,
                }
            }
        }
    }
}

/// Counts and rate-limits every HTTP request of a kube client.
#[derive(Clone)]
struct CountingLayer {
    limiter: Arc<RateLimiter>,
    stats: Arc<RequestStats>,
}

impl<S> tower::Layer<S> for CountingLayer {
    type Service = Counting<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Counting {
            inner,
            limiter: self.limiter.clone(),
            stats: self.stats.clone(),
        }
    }
}

struct Counting<S> {
    inner: S,
    limiter: Arc<RateLimiter>,
    stats: Arc<RequestStats>,
}

impl<S, B, R> tower::Service<http::Request<B>> for Counting<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: http_body::Body + Send + 'static,
{
    type Response = http::Response<CountingBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The inner future does nothing until polled, so the request leaves only after the
        // limiter grants a token.
        let fut = self.inner.call(req);
        let limiter = self.limiter.clone();
        let stats = self.stats.clone();
        Box::pin(async move {
            limiter.acquire().await;
            let start = tokio::time::Instant::now();
            let res = fut.await;
            let ok = matches!(&res, Ok(r) if r.status().as_u16() < 400);
            stats.record(start.elapsed(), ok);
            res.map(|r| {
                r.map(|inner| CountingBody {
                    inner: Box::pin(inner),
                    stats,
                })
            })
        })
    }
}

/// A response body that counts its bytes into the hub's statistics as they arrive.
struct CountingBody<R> {
    inner: std::pin::Pin<Box<R>>,
    stats: Arc<RequestStats>,
}

impl<R: http_body::Body> http_body::Body for CountingBody<R> {
    type Data = R::Data;
    type Error = R::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            use bytes::Buf as _;
            self.stats.received(data.remaining() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
