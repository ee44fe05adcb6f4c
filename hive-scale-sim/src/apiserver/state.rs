//! What every request handler shares: the server's state, in-flight accounting, and the
//! helpers that render responses and read query flags.

use super::error::ApiError;
use super::faults::Faults;
use super::store::Store;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// State shared by every request.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The objects.
    pub store: Arc<Store>,
    /// The admin's bearer token.
    pub token: Arc<hive_scale_core::secret::Secret>,
    /// Service accounts' tokens issued by TokenRequests.
    pub tokens: Arc<super::auth::Tokens>,
    /// Largest accepted request body.
    pub max_body: usize,
    /// Tells open watches the server is stopping.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Injected faults, when configured.
    pub faults: Option<Arc<Faults>>,
    /// Requests being served now, and the most ever at once.
    pub in_flight: Arc<InFlight>,
    /// kube-apiserver's request metrics.
    pub metrics: Arc<super::request_metrics::RequestMetrics>,
}

/// Concurrent request accounting.
#[derive(Debug, Default)]
pub struct InFlight {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
    total: std::sync::atomic::AtomicU64,
}

impl InFlight {
    /// Counts a request until the returned guard is dropped.
    pub(super) fn enter(self: &Arc<Self>) -> InFlightGuard {
        use std::sync::atomic::Ordering::SeqCst;
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(n, SeqCst);
        self.total.fetch_add(1, SeqCst);
        InFlightGuard(self.clone())
    }

    /// The most requests served at once so far.
    pub fn max(&self) -> usize {
        self.max.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests served now.
    pub fn current(&self) -> usize {
        self.now.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests received so far.
    pub fn total(&self) -> u64 {
        self.total.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets the maximum (a test measures one phase).
    pub fn reset_max(&self) {
        self.max
            .store(self.current(), std::sync::atomic::Ordering::SeqCst);
    }
}

/// A request being served; dropping it ends the count.
pub(super) struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Renders an error as a `Status` response.
pub fn error_response(e: &ApiError) -> Response {
    let mut resp = json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &e.status(),
    );
    if let Some(secs) = e.retry_after() {
        resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    resp
}

/// A JSON response.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    json_bytes(code, serde_json::to_vec(body).unwrap_or_default())
}

/// A response of JSON already written (stored objects go out as they are).
pub fn json_bytes(code: StatusCode, json: impl Into<axum::body::Body>) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        json.into(),
    )
        .into_response()
}

/// Whether a boolean query parameter is set (`true` or `1`).
pub fn flag(query: &HashMap<String, String>, key: &str) -> bool {
    query.get(key).is_some_and(|v| v == "true" || v == "1")
}
