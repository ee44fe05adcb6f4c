//! Watch streams: newline-delimited `{"type":..., "object":...}` events, resumable from a
//! resourceVersion, with bookmarks and the "initial events" of streaming lists.

use super::error::ApiError;
use super::registry::ResourceDef;
use super::state::{ApiState, error_response, flag};
use super::store::{EventType, Head, ListQuery, Stored, WatchEvent};
use super::table;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

/// How often a watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);

/// Watch-specific query parameters.
#[derive(Debug, Clone, Default)]
pub struct WatchParams {
    /// `resourceVersion` to resume after (`None` or 0: start with the current state).
    pub resource_version: Option<u64>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// `sendInitialEvents` (streaming list).
    pub send_initial_events: bool,
}

impl WatchParams {
    /// Reads the parameters, refusing malformed numbers.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        let rv = match q.get("resourceVersion").map(String::as_str) {
            None | Some("") | Some("0") => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {v:?}")))?,
            ),
        };
        let timeout = match q.get("timeoutSeconds") {
            Some(t) => Some(Duration::from_secs(
                t.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?
                    .min(86_400),
            )),
            None => None,
        };
        Ok(Self {
            resource_version: rv,
            bookmarks: flag(q, "allowWatchBookmarks"),
            timeout,
            send_initial_events: flag(q, "sendInitialEvents"),
        })
    }
}

struct Stream {
    def: Arc<ResourceDef>,
    namespace: Option<String>,
    query: ListQuery,
    pending: VecDeque<Bytes>,
    rx: broadcast::Receiver<Arc<WatchEvent>>,
    last_rv: u64,
    deadline: Option<Instant>,
    next_bookmark: Option<Instant>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// Send each object as a one-row Table (kubectl get -w).
    table: bool,
    columns_sent: bool,
}

impl Stream {
    /// The event as this watcher should see it, given its namespace and selectors.
    fn render(&mut self, e: &WatchEvent) -> Option<Bytes> {
        let in_scope = |o: &Head| {
            self.namespace
                .as_deref()
                .is_none_or(|ns| o.namespace() == ns)
                && self.query.matches(o)
        };
        let now = in_scope(e.object.head());
        let before = e.prev.as_deref().map(Stored::head).is_some_and(in_scope);
        let type_ = match (e.type_, before, now) {
            (EventType::Deleted, true, _) => EventType::Deleted,
            (EventType::Deleted, false, _) => return None,
            (_, true, true) => e.type_,
            (EventType::Added, false, true) => EventType::Added,
            (EventType::Modified, false, true) => EventType::Added,
            (_, true, false) => EventType::Deleted,
            (_, false, false) => return None,
        };
        if self.table {
            let meta = json!({"resourceVersion": e.rv.to_string()});
            let t = table::table(
                &self.def,
                std::iter::once(&e.object.value()),
                meta,
                !self.columns_sent,
            );
            self.columns_sent = true;
            return Some(line(type_.as_str(), &t));
        }
        Some(line_raw(type_.as_str(), e.object.json()))
    }

    fn bookmark(&self, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": self.last_rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            &json!({"kind": self.def.kind, "apiVersion": self.def.api_version(), "metadata": meta}),
        )
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Some(b);
            }
            let deadline = self.deadline;
            let bookmark = self.next_bookmark;
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                ev = self.rx.recv() => match ev {
                    Ok(e) => {
                        self.last_rv = self.last_rv.max(e.rv);
                        if let Some(b) = self.render(&e) {
                            return Some(b);
                        }
                    }
                    // A watcher that fell behind is closed; it resumes from its last version.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => return None,
                _ = tokio::time::sleep_until(bookmark.unwrap_or(far)), if bookmark.is_some() => {
                    self.next_bookmark = Some(Instant::now() + BOOKMARK_EVERY);
                    return Some(self.bookmark(false));
                }
                _ = self.shutdown.changed() => return None,
            }
        }
    }
}

/// An event line around an object's stored JSON, which goes out as it is.
fn line_raw(type_: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(br#"{"type":""#);
    out.extend_from_slice(type_.as_bytes());
    out.extend_from_slice(br#"","object":"#);
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn line(type_: &str, object: &Value) -> Bytes {
    let mut out = serde_json::to_vec(&json!({"type": type_, "object": object})).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// Starts a watch response.
pub fn serve(
    state: &ApiState,
    def: Arc<ResourceDef>,
    namespace: Option<String>,
    query: ListQuery,
    params: WatchParams,
    as_table: bool,
) -> Result<Response, ApiError> {
    let (initial, rx, now) = match state.store.watch(&def, params.resource_version) {
        Ok(w) => (w.initial, w.rx, w.resource_version),
        // Kubernetes reports an expired version inside a 200 stream as an ERROR event.
        Err(e) if e.code == 410 => {
            let body = line("ERROR", &e.status());
            return Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response());
        }
        Err(e) => return Ok(error_response(&e)),
    };
    let mut s = Stream {
        def,
        namespace,
        query,
        pending: VecDeque::new(),
        rx,
        last_rv: params.resource_version.unwrap_or(now),
        deadline: params.timeout.map(|t| Instant::now() + t),
        next_bookmark: params.bookmarks.then(|| Instant::now() + BOOKMARK_EVERY),
        shutdown: state.shutdown.clone(),
        table: as_table,
        columns_sent: false,
    };
    for e in &initial {
        if let Some(b) = s.render(e) {
            s.pending.push_back(b);
        }
        s.last_rv = s.last_rv.max(e.rv);
    }
    if params.send_initial_events {
        s.last_rv = s.last_rv.max(now);
        let b = s.bookmark(true);
        s.pending.push_back(b);
    }
    let body = futures::stream::unfold(s, |mut s| async move {
        s.next().await.map(|b| (Ok::<_, std::io::Error>(b), s))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}
