//! kube-apiserver's own request metrics, with its names, label names and buckets:
//! `apiserver_request_total`, `apiserver_request_duration_seconds`, `apiserver_response_sizes`
//! and `apiserver_storage_objects`, served on `/metrics` and readable in-process
//! ([`RequestMetrics::durations`]) by a runner on the same process.
//!
//! A request is timed from its receipt to the moment the server lets go of the response body
//! (after its last byte), and its size is the bytes that body actually yielded: the response is
//! wrapped in a `MeteredBody` that records when it is dropped. Watches are long-running:
//! they are counted in `apiserver_request_total` when they end and kept out of the duration
//! and size histograms (the SLO leaves them out; a watch's length says nothing of latency).

use super::store::Store;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use hive_scale_core::metrics::names;
use hive_scale_core::metrics::slo::{DURATION_BUCKETS, DurationSample, DurationSeries};
use parking_lot::RwLock;
use prometheus_client::encoding::{
    EncodeLabel, EncodeLabelSet, EncodeMetric, LabelSetEncoder, MetricEncoder, NoLabelSet,
    prometheus_text,
};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

/// Response size buckets (bytes): 1000 times powers of 8, as kube-apiserver's.
pub const SIZE_BUCKETS: [f64; 8] = [
    1e3, 8e3, 6.4e4, 5.12e5, 4.096e6, 3.2768e7, 2.62144e8, 2.097152e9,
];

/// What a request was, in kube-apiserver's label values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RequestKey {
    /// `GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `DELETE`, `DELETECOLLECTION`.
    pub verb: String,
    /// `All` for a dry run, else empty.
    pub dry_run: String,
    /// API group; empty for the core group and non-resource URLs.
    pub group: String,
    /// API version; empty for non-resource URLs.
    pub version: String,
    /// The resource's plural; empty for non-resource URLs.
    pub resource: String,
    /// `status`, `finalize`, or empty.
    pub subresource: String,
    /// `resource`, `namespace`, `cluster`; empty for non-resource URLs.
    pub scope: String,
}

impl RequestKey {
    /// Classifies a request by method, path and query string, as kube-apiserver labels it:
    /// a GET of a collection is a LIST (a WATCH with `watch=true`), a DELETE of one a
    /// DELETECOLLECTION; a named object or a create has scope `resource`, a collection in a
    /// namespace `namespace`, anything else `cluster`.
    pub fn classify(method: &Method, path: &str, query: &HashMap<String, String>) -> Self {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match segs.as_slice() {
            ["api", v, rest @ ..] if !rest.is_empty() => ("", *v, rest),
            ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
            _ => {
                return Self {
                    verb: method.as_str().to_ascii_uppercase(),
                    ..Default::default()
                };
            }
        };
        let (namespace, resource, name, subresource) = match rest {
            ["namespaces", ns] => (None, "namespaces", Some(*ns), ""),
            ["namespaces", ns, sub @ ("status" | "finalize")] => {
                (None, "namespaces", Some(*ns), *sub)
            }
            ["namespaces", ns, res, tail @ ..] => (
                Some(*ns),
                *res,
                tail.first().copied(),
                tail.get(1).copied().unwrap_or(""),
            ),
            [res, tail @ ..] => (
                None,
                *res,
                tail.first().copied(),
                tail.get(1).copied().unwrap_or(""),
            ),
            [] => (None, "", None, ""),
        };
        let watch = query.get("watch").is_some_and(|v| v == "true" || v == "1");
        let verb = match (method.as_str(), name.is_some()) {
            ("GET", false) if watch => "WATCH",
            ("GET", false) => "LIST",
            ("DELETE", false) => "DELETECOLLECTION",
            (m, _) => m,
        }
        .to_ascii_uppercase();
        let scope = if name.is_some() || verb == "POST" {
            "resource"
        } else if namespace.is_some() {
            "namespace"
        } else {
            "cluster"
        };
        let dry_run = if query.get("dryRun").is_some_and(|v| v == "All") {
            "All"
        } else {
            ""
        };
        Self {
            verb,
            dry_run: dry_run.into(),
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            scope: scope.into(),
        }
    }

    fn labels(&self, dry_run: bool) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("verb", self.verb.as_str()),
            ("dry_run", self.dry_run.as_str()),
            ("group", self.group.as_str()),
            ("version", self.version.as_str()),
            ("resource", self.resource.as_str()),
            ("subresource", self.subresource.as_str()),
            ("scope", self.scope.as_str()),
            ("component", "apiserver"),
        ]
        .into_iter()
        .filter(move |(k, _)| dry_run || *k != "dry_run")
    }
}

/// The duration family's labels: every [`RequestKey`] label and `component`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DurationLabels(RequestKey);

impl EncodeLabelSet for DurationLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        for l in self.0.labels(true) {
            EncodeLabel::encode(&l, encoder.encode_label())?;
        }
        Ok(())
    }
}

/// The size family's labels: as durations, without `dry_run` (kube-apiserver's has none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SizeLabels(RequestKey);

impl EncodeLabelSet for SizeLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        for l in self.0.labels(false) {
            EncodeLabel::encode(&l, encoder.encode_label())?;
        }
        Ok(())
    }
}

/// The request counter's labels: a key and the response code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CodeLabels(RequestKey, u16);

impl EncodeLabelSet for CodeLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        DurationLabels(self.0.clone()).encode(encoder)?;
        EncodeLabel::encode(
            &("code", self.1.to_string().as_str()),
            encoder.encode_label(),
        )
    }
}

/// A classic histogram whose buckets can be read back (prometheus-client's cannot).
#[derive(Debug)]
struct Buckets {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    counts: Box<[AtomicU64]>,
    /// The sum's f64 bits.
    sum: AtomicU64,
}

impl Buckets {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    fn observe(&self, v: f64) {
        let i = self.bounds.partition_point(|b| *b < v);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    /// `(le, count in that bucket alone)`, `+Inf` last.
    fn read(&self) -> Vec<(f64, u64)> {
        self.bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Series of one histogram family, created on first use.
#[derive(Debug)]
struct Histograms<L> {
    bounds: &'static [f64],
    series: RwLock<HashMap<L, Arc<Buckets>>>,
}

impl<L: Clone + Eq + std::hash::Hash> Histograms<L> {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            series: RwLock::default(),
        }
    }

    fn get(&self, labels: &L) -> Arc<Buckets> {
        if let Some(b) = self.series.read().get(labels) {
            return b.clone();
        }
        self.series
            .write()
            .entry(labels.clone())
            .or_insert_with(|| Arc::new(Buckets::new(self.bounds)))
            .clone()
    }
}

/// A family registered with prometheus-client while the server keeps its own handle.
#[derive(Debug)]
struct Shared<T>(Arc<T>);

impl<L> EncodeMetric for Shared<Histograms<L>>
where
    L: EncodeLabelSet + std::fmt::Debug + Send + Sync,
{
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, b) in self.0.series.read().iter() {
            let buckets = b.read();
            let count = buckets.iter().map(|(_, c)| c).sum();
            let sum = f64::from_bits(b.sum.load(Ordering::Relaxed));
            encoder
                .encode_family(labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

impl<L> TypedMetric for Shared<Histograms<L>> {
    const TYPE: MetricType = MetricType::Histogram;
}

/// Request counters by labels and code.
#[derive(Debug, Default)]
struct Counters(RwLock<HashMap<CodeLabels, Arc<AtomicU64>>>);

impl Counters {
    fn inc(&self, labels: CodeLabels) {
        if let Some(c) = self.0.read().get(&labels) {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.0
            .write()
            .entry(labels)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }
}

impl EncodeMetric for Shared<Counters> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, c) in self.0.0.read().iter() {
            encoder
                .encode_family(labels)?
                .encode_counter::<NoLabelSet, _, u64>(&c.load(Ordering::Relaxed), None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Objects per resource, read from the store when the page is rendered.
#[derive(Debug)]
struct StorageObjects(Arc<Store>);

impl EncodeMetric for StorageObjects {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (resource, n) in self.0.counts() {
            encoder
                .encode_family(&[("resource", resource.as_str())])?
                .encode_gauge(&(n as i64))?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// One request's counts, read back in-process.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestCount {
    /// What it was.
    pub key: RequestKey,
    /// The response code.
    pub code: u16,
    /// How many.
    pub count: u64,
}

/// The API server's request metrics.
pub struct RequestMetrics {
    registry: Registry,
    requests: Arc<Counters>,
    durations: Arc<Histograms<DurationLabels>>,
    sizes: Arc<Histograms<SizeLabels>>,
}

impl std::fmt::Debug for RequestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetrics").finish_non_exhaustive()
    }
}

/// prometheus-client appends `_total` to counters itself.
fn counter_name(name: &'static str) -> &'static str {
    name.strip_suffix("_total").unwrap_or(name)
}

impl RequestMetrics {
    /// Metrics of a server keeping its objects in `store`.
    pub fn new(store: Arc<Store>) -> Self {
        let requests = Arc::new(Counters::default());
        let durations = Arc::new(Histograms::new(&DURATION_BUCKETS));
        let sizes = Arc::new(Histograms::new(&SIZE_BUCKETS));
        let mut registry = Registry::default();
        registry.register(
            counter_name(names::APISERVER_REQUEST_TOTAL),
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code",
            Shared(requests.clone()),
        );
        registry.register(
            names::APISERVER_REQUEST_DURATION_SECONDS,
            "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component",
            Shared(durations.clone()),
        );
        registry.register(
            names::APISERVER_RESPONSE_SIZES,
            "Response size distribution in bytes for each group, version, verb, resource, subresource, scope and component",
            Shared(sizes.clone()),
        );
        registry.register(
            names::APISERVER_STORAGE_OBJECTS,
            "Number of stored objects at the time of last check split by kind",
            StorageObjects(store),
        );
        Self {
            registry,
            requests,
            durations,
            sizes,
        }
    }

    /// Records a finished request.
    pub fn record(&self, key: &RequestKey, code: u16, seconds: f64, bytes: Option<u64>) {
        if key.verb != "WATCH" {
            self.durations
                .get(&DurationLabels(key.clone()))
                .observe(seconds);
            if let Some(b) = bytes {
                self.sizes.get(&SizeLabels(key.clone())).observe(b as f64);
            }
        }
        self.requests.inc(CodeLabels(key.clone(), code));
    }

    /// The page `/metrics` serves (Prometheus text format 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// The content type of [`RequestMetrics::encode`].
    pub fn content_type() -> &'static str {
        prometheus_text::CONTENT_TYPE
    }

    /// Requests served so far, by key and code.
    pub fn requests(&self) -> Vec<RequestCount> {
        self.requests
            .0
            .read()
            .iter()
            .map(|(l, c)| RequestCount {
                key: l.0.clone(),
                code: l.1,
                count: c.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// The duration histogram now, as the SLO check reads it; `at` stamps the sample.
    pub fn durations(&self, at: f64) -> DurationSample {
        let series = self
            .durations
            .series
            .read()
            .iter()
            .map(|(l, b)| {
                let mut cumulative = 0;
                let buckets = b
                    .read()
                    .into_iter()
                    .map(|(le, c)| {
                        cumulative += c;
                        (le, cumulative as f64)
                    })
                    .collect();
                let k = &l.0;
                DurationSeries {
                    verb: k.verb.clone(),
                    group: k.group.clone(),
                    resource: k.resource.clone(),
                    scope: k.scope.clone(),
                    id: format!(
                        "dry_run={},subresource={},version={}",
                        k.dry_run, k.subresource, k.version
                    ),
                    buckets,
                }
            })
            .collect();
        DurationSample { at, series }
    }

    /// Wraps `response` so the request is recorded when its body has been sent (or dropped).
    pub(super) fn meter(
        self: &Arc<Self>,
        key: RequestKey,
        started: Instant,
        response: Response,
    ) -> Response {
        let (parts, body) = response.into_parts();
        let metered = MeteredBody {
            inner: body,
            bytes: 0,
            pending: Some(Pending {
                metrics: self.clone(),
                key,
                code: parts.status,
                started,
            }),
        };
        Response::from_parts(parts, Body::new(metered))
    }
}

struct Pending {
    metrics: Arc<RequestMetrics>,
    key: RequestKey,
    code: StatusCode,
    started: Instant,
}

/// A response body that counts its bytes and records the request when it is dropped: the
/// server drops a body once its last byte is written, or when the client goes away.
pub(super) struct MeteredBody {
    inner: Body,
    bytes: u64,
    pending: Option<Pending>,
}

impl HttpBody for MeteredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes += data.len() as u64;
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

impl Drop for MeteredBody {
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            p.metrics.record(
                &p.key,
                p.code.as_u16(),
                p.started.elapsed().as_secs_f64(),
                Some(self.bytes),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(method: Method, path: &str, query: &str) -> (String, String, String, String) {
        let q = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .unwrap()
            .into_iter()
            .collect();
        let k = RequestKey::classify(&method, path, &q);
        (k.verb, k.resource, k.subresource, k.scope)
    }

    fn t(v: &str, r: &str, s: &str, sc: &str) -> (String, String, String, String) {
        (v.into(), r.into(), s.into(), sc.into())
    }

    #[test]
    fn classifies_as_kube_apiserver_labels() {
        assert_eq!(
            classify(Method::GET, "/api/v1/namespaces/a/configmaps/x", ""),
            t("GET", "configmaps", "", "resource")
        );
        assert_eq!(
            classify(Method::GET, "/api/v1/namespaces/a/configmaps", ""),
            t("LIST", "configmaps", "", "namespace")
        );
        assert_eq!(
            classify(Method::GET, "/api/v1/configmaps", "watch=true"),
            t("WATCH", "configmaps", "", "cluster")
        );
        assert_eq!(
            classify(Method::POST, "/api/v1/namespaces/a/configmaps", ""),
            t("POST", "configmaps", "", "resource")
        );
        assert_eq!(
            classify(Method::DELETE, "/api/v1/namespaces/a/configmaps", ""),
            t("DELETECOLLECTION", "configmaps", "", "namespace")
        );
        assert_eq!(
            classify(Method::GET, "/api/v1/namespaces/a", ""),
            t("GET", "namespaces", "", "resource")
        );
        assert_eq!(
            classify(Method::PUT, "/api/v1/namespaces/a/finalize", ""),
            t("PUT", "namespaces", "finalize", "resource")
        );
        assert_eq!(
            classify(Method::GET, "/api/v1/namespaces", ""),
            t("LIST", "namespaces", "", "cluster")
        );
        assert_eq!(
            classify(
                Method::PATCH,
                "/apis/hive.openshift.io/v1/namespaces/a/clusterdeployments/c/status",
                "dryRun=All"
            ),
            t("PATCH", "clusterdeployments", "status", "resource")
        );
        assert_eq!(
            classify(Method::GET, "/apis/hive.openshift.io/v1", ""),
            t("GET", "", "", "")
        );
        assert_eq!(classify(Method::GET, "/metrics", ""), t("GET", "", "", ""));
    }

    #[test]
    fn histograms_are_cumulative_and_watches_stay_out_of_them() {
        let store = Store::new(&[], Default::default());
        let m = RequestMetrics::new(store);
        let get = RequestKey::classify(
            &Method::GET,
            "/api/v1/namespaces/a/configmaps/x",
            &HashMap::new(),
        );
        m.record(&get, 200, 0.003, Some(10));
        m.record(&get, 200, 0.7, Some(2000));
        let watch = RequestKey {
            verb: "WATCH".into(),
            ..get.clone()
        };
        m.record(&watch, 200, 120.0, Some(1));
        let s = m.durations(1.0);
        assert_eq!(s.series.len(), 1, "{s:?}");
        let b = &s.series[0].buckets;
        assert_eq!(b.first(), Some(&(0.005, 1.0)));
        assert_eq!(b.iter().find(|(le, _)| *le == 0.8), Some(&(0.8, 2.0)));
        assert_eq!(b.last(), Some(&(f64::INFINITY, 2.0)));
        let text = m.encode();
        assert!(
            text.contains("apiserver_response_sizes_bucket{verb=\"GET\",group=\"\",version=\"v1\",resource=\"configmaps\",subresource=\"\",scope=\"resource\",component=\"apiserver\",le=\"8000\"} 2"),
            "{text}"
        );
        assert!(text.contains("verb=\"WATCH\""), "{text}");
        assert!(!text.contains("apiserver_request_duration_seconds_bucket{verb=\"WATCH\""));
    }
}
