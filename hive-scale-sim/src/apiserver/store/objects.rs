//! Objects at rest and the reads: get, list with selectors and continue tokens, the start of a
//! watch.

use super::bounds::{self, Exceeded};
use super::head::Head;
use super::{Entry, Obj, Store};
use crate::apiserver::error::ApiError;
use crate::apiserver::registry::ResourceDef;
use crate::apiserver::selector::{FieldQuery, LabelQuery, Selectable};
use base64::Engine as _;
use serde_json::{Value, json};
use std::any::Any;
use std::sync::{Arc, OnceLock};
use tokio::sync::broadcast;

/// An object at rest: its compact JSON plus the few fields selectors and bookkeeping read.
/// A parsed serde_json tree takes about twelve times its text (a ClusterSync with 60 Sync-mode
/// entries is 68 kB of JSON and 800 kB parsed), and a hub holds 1000 of those, or 60,000
/// SyncSetInstances, plus its watch history; as text they fit in a laptop's memory.
#[derive(Debug)]
pub struct Stored {
    json: Box<[u8]>,
    head: Head,
    /// The object decoded by its readers ([`Stored::decoded`]), kept with this version: the
    /// simulated controllers read every ClusterDeployment and set at each reconcile, and a
    /// version never changes. Empty for what nobody decodes.
    decoded: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl Stored {
    /// Stores `v`, if it is within the bounds every reader can parse back
    /// ([`bounds::MAX_OBJECT_DEPTH`], [`bounds::MAX_OBJECT_BYTES`]).
    pub(super) fn bounded(v: &Value) -> Result<Self, Exceeded> {
        Ok(Self {
            json: bounds::encode(v)?.into_boxed_slice(),
            head: Head::of(v),
            decoded: OnceLock::new(),
        })
    }

    /// An object the server made from a stored one by changing only metadata it owns (the
    /// resourceVersion of a removal, the timestamp of a deletion): no deeper and a few bytes
    /// longer, so it reads back as the stored one did. Not refused: a delete must not fail.
    pub(super) fn derived(v: &Value) -> Self {
        Self {
            json: serde_json::to_vec(v)
                .expect("a JSON value serializes")
                .into_boxed_slice(),
            head: Head::of(v),
            decoded: OnceLock::new(),
        }
    }

    /// The object, parsed.
    pub fn value(&self) -> Value {
        // Cannot fail: only `bounded` (or `derived` from what it stored) makes a Stored, and it
        // keeps what serde_json's parser reads back.
        serde_json::from_slice(&self.json).expect("the store wrote this JSON itself")
    }

    /// The object's JSON, as sent on the wire.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// Metadata (name, namespace, labels, uid, resourceVersion, generation, ownerReferences,
    /// deletionTimestamp), `status.phase` and `type`: enough for selectors without parsing.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The object as `decode` makes it of the JSON, decoded once for this version when every
    /// reader of the resource asks for the same type `T`; a reader asking for another type
    /// than the one kept gets its own decoding, not kept.
    pub fn decoded<T: Send + Sync + 'static>(&self, decode: impl FnOnce(&[u8]) -> T) -> Arc<T> {
        if let Some(kept) = self.decoded.get() {
            return match kept.clone().downcast::<T>() {
                Ok(t) => t,
                Err(_) => Arc::new(decode(&self.json)),
            };
        }
        let t = Arc::new(decode(&self.json));
        // A reader racing this one decoded the same bytes; whichever is kept is the same.
        let _ = self.decoded.set(t.clone());
        t
    }
}

/// Kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created (or started matching a watch's selector).
    Added,
    /// Changed.
    Modified,
    /// Removed (or stopped matching).
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change of one object.
#[derive(Debug)]
pub struct WatchEvent {
    /// What happened.
    pub type_: EventType,
    /// The resourceVersion the change was given.
    pub rv: u64,
    /// The object after the change (for deletes: its last state).
    pub object: Entry,
    /// The object before the change, so selector watches can tell "stopped matching".
    pub prev: Option<Entry>,
}

/// Filters and paging of a list or watch.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `labelSelector`.
    pub labels: LabelQuery,
    /// `fieldSelector`.
    pub fields: FieldQuery,
    /// `limit` (0: everything).
    pub limit: usize,
    /// `continue` token from a previous page.
    pub continue_token: Option<String>,
}

impl ListQuery {
    /// Whether `obj` passes both selectors.
    pub fn matches(&self, obj: &(impl Selectable + ?Sized)) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

/// One page of a list.
#[derive(Debug)]
pub struct ListResult {
    /// The objects, ordered by namespace then name.
    pub items: Vec<Entry>,
    /// The list's resourceVersion (a watch from it misses nothing).
    pub resource_version: u64,
    /// Token for the next page.
    pub continue_token: Option<String>,
    /// How many matching objects follow this page, when known.
    pub remaining: Option<u64>,
}

/// The start of a watch: what to send first, and the feed of later events.
#[derive(Debug)]
pub struct WatchStart {
    /// Replayed history (or the current state as ADDED events).
    pub initial: Vec<Arc<WatchEvent>>,
    /// Events after `initial`.
    pub rx: broadcast::Receiver<Arc<WatchEvent>>,
    /// The store's resourceVersion when the watch started.
    pub resource_version: u64,
}

impl Store {
    /// Reads one object.
    pub fn get(&self, def: &ResourceDef, ns: &str, name: &str) -> Result<Obj, ApiError> {
        self.get_entry(def, ns, name).map(|e| Arc::new(e.value()))
    }

    /// One object as stored (unparsed).
    pub fn get_entry(&self, def: &ResourceDef, ns: &str, name: &str) -> Result<Entry, ApiError> {
        let kind = self.kind(def);
        let st = kind.state.read();
        st.objects
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&def.qualified(), name))
    }

    /// Lists objects of `def` in `ns` (all namespaces when `None`).
    pub fn list(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        q: &ListQuery,
    ) -> Result<ListResult, ApiError> {
        let kind = self.kind(def);
        let st = kind.state.read();
        let (list_rv, after) = match &q.continue_token {
            Some(t) => {
                let (rv, key) = decode_continue(t)?;
                (rv, Some(key))
            }
            None => (self.current_rv(), None),
        };
        let pinned = q.fields.pinned_name();
        let mut items = Vec::new();
        let mut last_key = None;
        let mut more = false;
        let range: Box<dyn Iterator<Item = (&(String, String), &Entry)>> = match (ns, &after) {
            (_, Some(k)) => Box::new(st.objects.range((
                std::ops::Bound::Excluded(k.clone()),
                std::ops::Bound::Unbounded,
            ))),
            (Some(ns), None) => Box::new(st.objects.range((ns.to_string(), String::new())..)),
            (None, None) => Box::new(st.objects.iter()),
        };
        for (key, obj) in range {
            if let Some(ns) = ns
                && key.0 != ns
            {
                if key.0.as_str() > ns {
                    break;
                }
                continue;
            }
            if pinned.is_some_and(|n| n != key.1) || !q.matches(obj.head()) {
                continue;
            }
            if q.limit > 0 && items.len() == q.limit {
                // One more match means another page; counting them all would make paging
                // quadratic, so remainingItemCount is left out (as Kubernetes does with selectors).
                more = true;
                break;
            }
            items.push(obj.clone());
            last_key = Some(key.clone());
        }
        let continue_token = more.then(|| {
            encode_continue(
                list_rv,
                last_key.as_ref().expect("a full page has a last key"),
            )
        });
        Ok(ListResult {
            items,
            resource_version: list_rv,
            continue_token,
            remaining: None,
        })
    }

    /// Every object `list` selects, parsed (no paging).
    pub fn list_values(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        q: &ListQuery,
    ) -> Result<Vec<Obj>, ApiError> {
        Ok(self
            .list(def, ns, q)?
            .items
            .iter()
            .map(|e| Arc::new(e.value()))
            .collect())
    }

    /// Events after `rv` (or the current state, when `rv` is `None`) and a receiver for what follows.
    pub fn watch(&self, def: &ResourceDef, rv: Option<u64>) -> Result<WatchStart, ApiError> {
        let kind = self.kind(def);
        let st = kind.state.read();
        let rx = st.tx.subscribe();
        let now = self.current_rv();
        let initial = match rv {
            None => st
                .objects
                .values()
                .map(|o| {
                    let rv = o.head().resource_version().parse().unwrap_or(now);
                    Arc::new(WatchEvent {
                        type_: EventType::Added,
                        rv,
                        object: o.clone(),
                        prev: None,
                    })
                })
                .collect(),
            Some(from) => {
                if from < st.compacted_rv {
                    return Err(ApiError::gone(format!(
                        "too old resource version: {from} ({})",
                        st.compacted_rv + 1
                    )));
                }
                st.history.iter().filter(|e| e.rv > from).cloned().collect()
            }
        };
        Ok(WatchStart {
            initial,
            rx,
            resource_version: now,
        })
    }
}

fn encode_continue(rv: u64, key: &(String, String)) -> String {
    let raw = json!({"rv": rv, "ns": key.0, "name": key.1}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> Result<(u64, (String, String)), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let ns = v
        .get("ns")
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .to_string();
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .to_string();
    Ok((rv, (ns, name)))
}
