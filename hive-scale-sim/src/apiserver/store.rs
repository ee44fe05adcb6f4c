//! The object store and its Kubernetes semantics: resourceVersions, generations, uids,
//! namespaces, finalizers, owner garbage collection, managed fields and the watch history.
//!
//! Every write goes through `Store::mutate`, which holds the resource's lock (and, for
//! namespaced resources, a read lock on namespaces, so a namespace cannot start terminating
//! half-way through a create), assigns the next resourceVersion and publishes the event.

use super::error::ApiError;
use super::fields::{self, FieldSet, Scope};
use super::registry::{Registry, ResourceDef};
use super::selector::{FieldSelector, LabelSelector};
use super::validate;
use base64::Engine as _;
use parking_lot::RwLock;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// An object being read or written: parsed, owned by the caller.
pub type Obj = Arc<Value>;

/// An object at rest, shared by the store, list results and watch events.
pub type Entry = Arc<Stored>;

/// An object at rest: its compact JSON plus the few fields selectors and bookkeeping read.
/// A parsed serde_json tree takes about twelve times its text (a ClusterSync with 60 Sync-mode
/// entries is 68 kB of JSON and 800 kB parsed), and a hub holds 1000 of those, or 60,000
/// SyncSetInstances, plus its watch history; as text they fit in a laptop's memory.
#[derive(Debug)]
pub struct Stored {
    json: Box<[u8]>,
    head: Value,
}

/// Fields kept parsed in [`Stored::head`]: what label and field selectors, garbage collection
/// and watch bookkeeping read.
const HEAD_METADATA: [&str; 8] = [
    "name",
    "namespace",
    "labels",
    "uid",
    "resourceVersion",
    "generation",
    "ownerReferences",
    "deletionTimestamp",
];

impl Stored {
    /// Stores `v`.
    pub fn new(v: &Value) -> Self {
        let mut md = Map::new();
        if let Some(m) = meta(v) {
            for k in HEAD_METADATA {
                if let Some(x) = m.get(k) {
                    md.insert(k.into(), x.clone());
                }
            }
        }
        let mut head = json!({ "metadata": md });
        if let Some(phase) = v.pointer("/status/phase") {
            head["status"] = json!({ "phase": phase });
        }
        if let Some(t) = v.get("type").filter(|t| t.is_string()) {
            head["type"] = t.clone();
        }
        Self {
            json: serde_json::to_vec(v)
                .expect("a JSON value serializes")
                .into_boxed_slice(),
            head,
        }
    }

    /// The object, parsed.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).expect("the store wrote this JSON itself")
    }

    /// The object's JSON, as sent on the wire.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// Metadata (name, namespace, labels, uid, resourceVersion, generation, ownerReferences,
    /// deletionTimestamp), `status.phase` and `type`: enough for selectors without parsing.
    pub fn head(&self) -> &Value {
        &self.head
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
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
    /// `limit` (0: everything).
    pub limit: usize,
    /// `continue` token from a previous page.
    pub continue_token: Option<String>,
}

impl ListQuery {
    /// Whether `obj` passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
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

/// Options of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `fieldManager` (or one derived from the User-Agent).
    pub field_manager: String,
    /// `dryRun=All`: validate and compute, store nothing.
    pub dry_run: bool,
    /// `force` of server-side apply.
    pub force: bool,
    /// The write targets the `/status` subresource.
    pub status: bool,
    /// A write by the simulated controllers, whose objects are built by code: schema validation
    /// and managed-field tracking are skipped (on big statuses they cost more than the rest of
    /// the write, and nobody applies over them).
    pub internal: bool,
}

/// Patch formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/strategic-merge-patch+json`, treated as a merge patch with directives dropped.
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

/// Preconditions of a delete.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    /// The object must have this uid.
    pub uid: Option<String>,
    /// The object must be at this resourceVersion.
    pub resource_version: Option<String>,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new object.
    Created,
    /// An existing object changed.
    Updated,
    /// Nothing changed (no new resourceVersion, no event).
    Unchanged,
    /// Deletion started; finalizers hold the object.
    Finalizing,
    /// The object is gone.
    Deleted,
}

enum Decision {
    Put(Value),
    Remove,
    Keep,
}

enum Step {
    Store(Value, Outcome),
    Drop(Obj),
}

fn is_namespace(def: &ResourceDef) -> bool {
    def.group.is_empty() && def.plural == "namespaces"
}

fn check_namespace_open(
    nsobj: Option<&Entry>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<(), ApiError> {
    match nsobj {
        None => Err(ApiError::not_found("namespaces", ns)),
        Some(n)
            if n.head().pointer("/status/phase").and_then(Value::as_str) == Some("Terminating") =>
        {
            Err(ApiError::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                def.qualified()
            )))
        }
        Some(_) => Ok(()),
    }
}

/// Sets what the server owns in metadata: identity, timestamps, generation.
fn stamp_metadata(
    def: &ResourceDef,
    ns: &str,
    name: &str,
    old: Option<&Value>,
    new: &mut Value,
    now: &str,
) {
    let m = meta_mut(new);
    m.insert("name".into(), name.into());
    if def.namespaced {
        m.insert("namespace".into(), ns.into());
    } else {
        m.remove("namespace");
    }
    match old {
        Some(o) => {
            for field in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                // Once set, a deletionTimestamp stays; a write may not remove it.
                let keep_new =
                    field == "deletionTimestamp" || field == "deletionGracePeriodSeconds";
                match meta(o).and_then(|om| om.get(field)) {
                    Some(v) => {
                        m.insert(field.into(), v.clone());
                    }
                    None if keep_new => {}
                    None => {
                        m.remove(field);
                    }
                }
            }
            m.insert(
                "resourceVersion".into(),
                meta_str(o, "resourceVersion").unwrap_or_default().into(),
            );
            if def.custom && spec_changed(o, new) {
                let g = meta(o)
                    .and_then(|om| om.get("generation"))
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                meta_mut(new).insert("generation".into(), (g + 1).into());
            }
        }
        None => {
            m.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
            m.insert("creationTimestamp".into(), now.into());
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            if def.custom {
                m.insert("generation".into(), 1.into());
            } else {
                m.remove("generation");
            }
        }
    }
}

struct KindState {
    objects: BTreeMap<(String, String), Entry>,
    history: VecDeque<Arc<WatchEvent>>,
    compacted_rv: u64,
    tx: broadcast::Sender<Arc<WatchEvent>>,
}

struct Kind {
    state: RwLock<KindState>,
}

/// Tunables of the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Watch events kept per resource for resuming watches; older versions get 410 Gone.
    pub history_limit: usize,
    /// Events a slow watcher may fall behind before its stream is closed.
    pub watch_buffer: usize,
    /// Clock of timestamps (creation, deletion, managed fields); real time when `None`. A hub
    /// on a scaled clock stamps modeled time, so ages and latencies read in modeled seconds.
    pub clock: Option<crate::clock::Clock>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            history_limit: 10_000,
            watch_buffer: 16_384,
            clock: None,
        }
    }
}

/// All objects of the hub.
pub struct Store {
    rv: AtomicU64,
    clock: crate::clock::Clock,
    config: StoreConfig,
    registry: RwLock<Arc<Registry>>,
    kinds: RwLock<HashMap<(String, String), Arc<Kind>>>,
    namespaces: Arc<ResourceDef>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.current_rv())
            .finish_non_exhaustive()
    }
}

/// The current time as Kubernetes writes timestamps (RFC 3339, seconds).
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)?.get(field)?.as_str()
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

fn has_finalizers(obj: &Value) -> bool {
    meta(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

/// The object without the fields that change on every write, for "did anything change?".
fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    v
}

/// Everything except metadata and status: what a generation counts.
/// Whether anything besides metadata and status differs: what a generation counts.
fn spec_changed(a: &Value, b: &Value) -> bool {
    let fields = |v: &Value| -> Vec<(String, Value)> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| *k != "metadata" && *k != "status")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Compare key by key without cloning the (possibly large) status.
    match (a.as_object(), b.as_object()) {
        (Some(x), Some(y)) => {
            let keys = |m: &serde_json::Map<String, Value>| {
                m.keys()
                    .filter(|k| *k != "metadata" && *k != "status")
                    .count()
            };
            keys(x) != keys(y)
                || x.iter()
                    .filter(|(k, _)| *k != "metadata" && *k != "status")
                    .any(|(k, v)| y.get(k) != Some(v))
        }
        _ => fields(a) != fields(b),
    }
}

impl Store {
    /// A store serving the built-in kinds plus `crds` (which are stored as objects too).
    pub fn new(
        crds: &[k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition],
        config: StoreConfig,
    ) -> Arc<Self> {
        let registry = Registry::new(&[]);
        let namespaces = registry
            .lookup("", "v1", "namespaces")
            .expect("namespaces are built in");
        let store = Arc::new(Self {
            rv: AtomicU64::new(1),
            clock: config
                .clock
                .clone()
                .unwrap_or_else(crate::clock::Clock::real),
            config,
            registry: RwLock::new(Arc::new(registry)),
            kinds: RwLock::new(HashMap::new()),
            namespaces,
        });
        let crd_def = store
            .registry()
            .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .expect("built in");
        for crd in crds {
            let mut v = serde_json::to_value(crd).expect("CRDs serialize");
            v["apiVersion"] = "apiextensions.k8s.io/v1".into();
            v["kind"] = "CustomResourceDefinition".into();
            let opts = WriteOptions {
                field_manager: "hive-scale-sim".into(),
                ..Default::default()
            };
            store
                .create(&crd_def, "", v, &opts)
                .expect("built-in CRDs are valid");
        }
        for ns in ["default", "kube-system", "kube-public", "hive"] {
            let opts = WriteOptions {
                field_manager: "hive-scale-sim".into(),
                ..Default::default()
            };
            store
                .create(
                    &store.namespaces.clone(),
                    "",
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                    &opts,
                )
                .expect("built-in namespaces are valid");
        }
        store
    }

    /// The resources currently served.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().clone()
    }

    /// The newest resourceVersion handed out.
    pub fn current_rv(&self) -> u64 {
        self.rv.load(Ordering::SeqCst)
    }

    fn kind(&self, def: &ResourceDef) -> Arc<Kind> {
        let key = def.storage_key();
        if let Some(k) = self.kinds.read().get(&key) {
            return k.clone();
        }
        self.kinds
            .write()
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Kind {
                    state: RwLock::new(KindState {
                        objects: BTreeMap::new(),
                        history: VecDeque::new(),
                        compacted_rv: 0,
                        tx: broadcast::channel(self.config.watch_buffer).0,
                    }),
                })
            })
            .clone()
    }

    /// Number of stored objects per resource (`group/plural`), for metrics and tests.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let kinds: Vec<_> = self
            .kinds
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        kinds
            .into_iter()
            .map(|((g, p), k)| {
                (
                    if g.is_empty() { p } else { format!("{p}.{g}") },
                    k.state.read().objects.len(),
                )
            })
            .collect()
    }

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
                    let rv = meta_str(o.head(), "resourceVersion")
                        .and_then(|r| r.parse().ok())
                        .unwrap_or(now);
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

    /// The one place objects change.
    fn mutate(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        dry_run: bool,
        decide: impl FnOnce(Option<&Obj>) -> Result<Decision, ApiError>,
    ) -> Result<(Obj, Outcome), ApiError> {
        let ns_kind = def.namespaced.then(|| self.kind(&self.namespaces));
        let ns_state = ns_kind.as_ref().map(|k| k.state.read());
        let kind = self.kind(def);
        let mut st = kind.state.write();
        let key = (ns.to_string(), name.to_string());
        let old_entry = st.objects.get(&key).cloned();
        let old = old_entry.as_ref().map(|e| Arc::new(e.value()));
        let step = match decide(old.as_ref())? {
            Decision::Keep => {
                let old = old.ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
                return Ok((old, Outcome::Unchanged));
            }
            Decision::Remove => Step::Drop(
                old.clone()
                    .ok_or_else(|| ApiError::not_found(&def.qualified(), name))?,
            ),
            Decision::Put(mut new) => {
                if old.is_none()
                    && let Some(nss) = &ns_state
                {
                    check_namespace_open(
                        nss.objects.get(&(String::new(), ns.to_string())),
                        def,
                        ns,
                        name,
                    )?;
                }
                stamp_metadata(
                    def,
                    ns,
                    name,
                    old.as_deref(),
                    &mut new,
                    &self.clock.now_rfc3339(),
                );
                match &old {
                    Some(o) if **o == new => return Ok((o.clone(), Outcome::Unchanged)),
                    // A namespace's own finalizer is its contents: finish_namespace removes it.
                    Some(o)
                        if meta(&new).is_some_and(|m| m.contains_key("deletionTimestamp"))
                            && !has_finalizers(&new)
                            && !is_namespace(def) =>
                    {
                        Step::Drop(o.clone())
                    }
                    Some(_) => Step::Store(new, Outcome::Updated),
                    None => Step::Store(new, Outcome::Created),
                }
            }
        };
        if dry_run {
            return Ok(match step {
                Step::Store(n, outcome) => (Arc::new(n), outcome),
                Step::Drop(last) => (last, Outcome::Deleted),
            });
        }
        let rv = self.rv.fetch_add(1, Ordering::SeqCst) + 1;
        let (event, result) = match step {
            Step::Store(mut n, outcome) => {
                meta_mut(&mut n).insert("resourceVersion".into(), rv.to_string().into());
                let stored = Arc::new(Stored::new(&n));
                st.objects.insert(key, stored.clone());
                let type_ = if outcome == Outcome::Created {
                    EventType::Added
                } else {
                    EventType::Modified
                };
                (
                    WatchEvent {
                        type_,
                        rv,
                        object: stored,
                        prev: old_entry,
                    },
                    (Arc::new(n), outcome),
                )
            }
            Step::Drop(last) => {
                st.objects.remove(&key);
                let mut gone = (*last).clone();
                meta_mut(&mut gone).insert("resourceVersion".into(), rv.to_string().into());
                let event = WatchEvent {
                    type_: EventType::Deleted,
                    rv,
                    object: Arc::new(Stored::new(&gone)),
                    prev: old_entry,
                };
                drop(last);
                (event, (Arc::new(gone), Outcome::Deleted))
            }
        };
        let event = Arc::new(event);
        st.history.push_back(event.clone());
        while st.history.len() > self.config.history_limit {
            if let Some(e) = st.history.pop_front() {
                st.compacted_rv = e.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = st.tx.send(event);
        drop(st);
        drop(ns_state);
        self.after_write(def, &result.0, result.1);
        Ok(result)
    }

    /// Consequences of a write that touch other objects: CRD registration, namespace
    /// finalization, garbage collection of dependents.
    fn after_write(&self, def: &ResourceDef, obj: &Value, outcome: Outcome) {
        if def.plural == "customresourcedefinitions" && def.group == "apiextensions.k8s.io" {
            self.rebuild_registry(def);
        }
        if outcome != Outcome::Deleted {
            return;
        }
        let ns = meta_str(obj, "namespace").unwrap_or_default().to_string();
        if let Some(uid) = meta_str(obj, "uid") {
            self.collect_dependents(&ns, uid);
        }
        if def.namespaced {
            self.finish_namespace(&ns);
        }
    }

    fn rebuild_registry(&self, crd_def: &ResourceDef) {
        let kind = self.kind(crd_def);
        let crds: Vec<_> = kind
            .state
            .read()
            .objects
            .values()
            .filter_map(|o| serde_json::from_value(o.value()).ok())
            .collect();
        *self.registry.write() = Arc::new(Registry::new(&crds));
    }

    /// Deletes objects in `ns` whose ownerReferences name `uid` (background propagation).
    fn collect_dependents(&self, ns: &str, uid: &str) {
        if ns.is_empty() {
            return;
        }
        for def in self.registry().all().iter().filter(|d| d.namespaced) {
            let kind = self.kind(def);
            let dependents: Vec<String> = {
                let st = kind.state.read();
                st.objects
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .filter(|(_, o)| {
                        meta(o.head())
                            .and_then(|m| m.get("ownerReferences"))
                            .and_then(Value::as_array)
                            .is_some_and(|refs| {
                                refs.iter()
                                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                            })
                    })
                    .map(|((_, name), _)| name.clone())
                    .collect()
            };
            for name in dependents {
                // Already gone or finalizing: nothing else to do.
                let _ = self.delete(def, ns, &name, &Preconditions::default(), false);
            }
        }
    }

    /// Removes a terminating namespace once nothing is left in it.
    fn finish_namespace(&self, ns: &str) {
        let Ok(nsobj) = self.get(&self.namespaces, "", ns) else {
            return;
        };
        if nsobj.pointer("/status/phase").and_then(Value::as_str) != Some("Terminating")
            || !self.namespace_empty(ns)
        {
            return;
        }
        let namespaces = self.namespaces.clone();
        // Somebody else may have finished it first.
        let _ = self.mutate(&namespaces, "", ns, false, |old| match old {
            Some(o)
                if o.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating") =>
            {
                Ok(Decision::Remove)
            }
            _ => Ok(Decision::Keep),
        });
    }

    fn namespace_empty(&self, ns: &str) -> bool {
        self.registry()
            .all()
            .iter()
            .filter(|d| d.namespaced)
            .all(|def| {
                let kind = self.kind(def);
                let st = kind.state.read();
                st.objects
                    .range((ns.to_string(), String::new())..)
                    .next()
                    .is_none_or(|((n, _), _)| n != ns)
            })
    }

    /// Checks a body against the endpoint and the kind's rules, and normalizes it.
    fn admit(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        obj: &mut Value,
        internal: bool,
    ) -> Result<(), ApiError> {
        let Some(map) = obj.as_object_mut() else {
            return Err(ApiError::bad_request(
                "the request body must be a JSON or YAML object",
            ));
        };
        let expected = def.api_version();
        match map.get("apiVersion").and_then(Value::as_str) {
            Some(v) if v != expected => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({expected})"
                )));
            }
            Some(_) => {}
            None => {
                map.insert("apiVersion".into(), expected.clone().into());
            }
        }
        match map.get("kind").and_then(Value::as_str) {
            Some(k) if k != def.kind => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    def.kind
                )));
            }
            Some(_) => {}
            None => {
                map.insert("kind".into(), def.kind.clone().into());
            }
        }
        if let Some(body_ns) = meta_str(obj, "namespace")
            && def.namespaced
            && body_ns != ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let mut causes = validate::Causes::new();
        if def.plural == "namespaces" && def.group.is_empty() {
            validate::namespace_name(name, &mut causes);
        } else {
            validate::name(name, &mut causes);
        }
        validate::metadata(obj, &mut causes);
        if def.group.is_empty() && def.plural == "secrets" {
            fold_string_data(obj);
            // Kubernetes defaults an unset type, and clients (kubectl get -o) rely on it.
            if let Some(m) = obj.as_object_mut()
                && m.get("type")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                m.insert("type".into(), "Opaque".into());
            }
            validate::secret(obj, &mut causes);
        }
        if !internal && let Some(schema) = &def.schema {
            validate::schema(schema, obj, &mut causes);
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&def.kind, name, causes));
        }
        Ok(())
    }

    /// Creates an object (POST).
    pub fn create(
        &self,
        def: &ResourceDef,
        ns: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<(Obj, Outcome), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON or YAML object",
            ));
        }
        let name = match meta_str(&obj, "name").filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => match meta_str(&obj, "generateName").filter(|n| !n.is_empty()) {
                Some(prefix) => format!("{prefix}{}", random_suffix()),
                None => {
                    return Err(ApiError::invalid(
                        &def.kind,
                        "",
                        vec![(
                            "metadata.name".into(),
                            "Required value: name or generateName is required".into(),
                        )],
                    ));
                }
            },
        };
        self.admit(def, ns, &name, &mut obj, opts.internal)?;
        let m = meta_mut(&mut obj);
        m.remove("resourceVersion");
        m.remove("managedFields");
        if def.status_subresource && def.custom {
            obj.as_object_mut()
                .expect("admitted objects are maps")
                .remove("status");
        }
        if def.group.is_empty() && def.plural == "namespaces" {
            obj["status"] = json!({"phase": "Active"});
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        let scope = Scope::Main {
            status_subresource: def.status_subresource,
        };
        if !opts.internal {
            let owned = fields::leaf_paths(&obj, scope);
            set_managed(
                &mut obj,
                &[],
                &opts.field_manager,
                "Update",
                None,
                owned,
                false,
            );
        }
        self.mutate(def, ns, &name, opts.dry_run, |old| match old {
            Some(_) => Err(ApiError::already_exists(&def.qualified(), &name)),
            None => Ok(Decision::Put(obj)),
        })
    }

    /// Replaces an object (PUT), or its status with `opts.status`.
    pub fn update(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<(Obj, Outcome), ApiError> {
        if let Some(body_name) = meta_str(&obj, "name")
            && body_name != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        self.admit(def, ns, name, &mut obj, opts.internal)?;
        let want_rv = meta_str(&obj, "resourceVersion")
            .filter(|r| !r.is_empty())
            .map(String::from);
        if want_rv.is_none() && def.custom {
            return Err(ApiError::invalid(
                &def.kind,
                name,
                vec![(
                    "metadata.resourceVersion".into(),
                    "Invalid value: 0x0: must be specified for an update".into(),
                )],
            ));
        }
        self.mutate(def, ns, name, opts.dry_run, |old| {
            let old = old.ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
            if let Some(rv) = &want_rv
                && meta_str(old, "resourceVersion") != Some(rv.as_str())
            {
                return Err(ApiError::conflict(
                    &def.qualified(),
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                ));
            }
            let new = self.merge_scope(def, old, obj, opts.status);
            Ok(Decision::Put(self.track_update(def, old, new, opts)))
        })
    }

    /// Keeps the part of `new` the endpoint may change and takes the rest from `old`.
    fn merge_scope(
        &self,
        def: &ResourceDef,
        old: &Value,
        mut new: Value,
        status_endpoint: bool,
    ) -> Value {
        if !def.status_subresource {
            return new;
        }
        if status_endpoint {
            let mut out = old.clone();
            match new.as_object_mut().and_then(|m| m.remove("status")) {
                Some(s) => out["status"] = s,
                None => {
                    out.as_object_mut()
                        .expect("stored objects are maps")
                        .remove("status");
                }
            }
            out
        } else {
            let m = new.as_object_mut().expect("admitted objects are maps");
            match old.get("status") {
                Some(s) => m.insert("status".into(), s.clone()),
                None => m.remove("status"),
            };
            new
        }
    }

    /// Records a non-apply write in managedFields: the writer takes the fields it changed.
    fn track_update(
        &self,
        def: &ResourceDef,
        old: &Value,
        mut new: Value,
        opts: &WriteOptions,
    ) -> Value {
        if opts.internal {
            return new;
        }
        let scope = if opts.status {
            Scope::Status
        } else {
            Scope::Main {
                status_subresource: def.status_subresource,
            }
        };
        let before = fields::leaf_paths(old, scope);
        let after = fields::leaf_paths(&new, scope);
        let changed: FieldSet = after
            .iter()
            .filter(|p| fields::get(old, p) != fields::get(&new, p))
            .cloned()
            .collect();
        let removed: FieldSet = before.difference(&after).cloned().collect();
        let entries = managed_entries(old);
        let subresource = opts.status.then_some("status");
        set_managed(
            &mut new,
            &entries,
            &opts.field_manager,
            "Update",
            subresource,
            changed,
            false,
        );
        strip_from_all(&mut new, &removed);
        new
    }

    /// Applies a patch (PATCH); server-side apply creates missing objects.
    pub fn patch(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        kind: PatchKind,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<(Obj, Outcome), ApiError> {
        if kind == PatchKind::Apply {
            return self.apply(def, ns, name, body, opts);
        }
        // Validation needs the patched object, so it happens inside the decision.
        self.mutate(def, ns, name, opts.dry_run, |old| {
            let old = old.ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
            let mut patched = (**old).clone();
            match kind {
                PatchKind::Merge | PatchKind::Strategic => {
                    let body = if kind == PatchKind::Strategic { strip_directives(body) } else { body };
                    if !body.is_object() {
                        return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                    }
                    json_patch::merge(&mut patched, &body);
                }
                PatchKind::Json => {
                    let ops: json_patch::Patch =
                        serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
                    json_patch::patch(&mut patched, &ops).map_err(|e| ApiError::invalid(&def.kind, name, vec![("".into(), e.to_string())]))?;
                }
                PatchKind::Apply => unreachable!("handled above"),
            }
            if let Some(rv) = meta_str(&patched, "resourceVersion")
                && Some(rv) != meta_str(old, "resourceVersion")
            {
                return Err(ApiError::conflict(&def.qualified(), name, "the object has been modified; please apply your changes to the latest version and try again"));
            }
            if meta_str(&patched, "name") != Some(name) {
                return Err(ApiError::bad_request("a patch cannot change metadata.name"));
            }
            self.admit(def, ns, name, &mut patched, opts.internal)?;
            let new = self.merge_scope(def, old, patched, opts.status);
            Ok(Decision::Put(self.track_update(def, old, new, opts)))
        })
    }

    /// Server-side apply.
    fn apply(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        mut applied: Value,
        opts: &WriteOptions,
    ) -> Result<(Obj, Outcome), ApiError> {
        if opts.field_manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH with apply requires a fieldManager",
            ));
        }
        if !applied.is_object() {
            return Err(ApiError::bad_request(
                "the apply configuration must be an object",
            ));
        }
        if meta_str(&applied, "name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta_str(&applied, "name").unwrap_or_default()
            )));
        }
        for k in ["apiVersion", "kind"] {
            if applied.get(k).and_then(Value::as_str).is_none() {
                return Err(ApiError::bad_request(format!(
                    "{k} must be set in an apply configuration"
                )));
            }
        }
        self.admit(def, ns, name, &mut applied, opts.internal)?;
        let m = meta_mut(&mut applied);
        m.insert("name".into(), name.into());
        m.remove("managedFields");
        m.remove("resourceVersion");
        let scope = if opts.status {
            Scope::Status
        } else {
            Scope::Main {
                status_subresource: def.status_subresource,
            }
        };
        let new_set = fields::leaf_paths(&applied, scope);
        let subresource = opts.status.then_some("status");
        self.mutate(def, ns, name, opts.dry_run, |old| {
            let Some(old) = old else {
                let mut obj = applied.clone();
                if def.status_subresource && def.custom && !opts.status {
                    obj.as_object_mut().expect("checked above").remove("status");
                }
                if def.group.is_empty() && def.plural == "namespaces" {
                    obj["status"] = json!({"phase": "Active"});
                }
                set_managed(
                    &mut obj,
                    &[],
                    &opts.field_manager,
                    "Apply",
                    subresource,
                    new_set,
                    true,
                );
                return Ok(Decision::Put(obj));
            };
            let mut entries = managed_entries(old);
            let mut conflicts = Vec::new();
            for e in entries.iter_mut() {
                let mine = e.manager == opts.field_manager && e.operation == "Apply";
                if mine || e.subresource.as_deref() != subresource {
                    continue;
                }
                let overlapping: Vec<fields::Path> = e
                    .fields
                    .iter()
                    .filter(|p| new_set.iter().any(|q| fields::overlaps(p, q)))
                    .cloned()
                    .collect();
                for p in overlapping {
                    let differs = new_set
                        .iter()
                        .filter(|q| fields::overlaps(&p, q))
                        .any(|q| fields::get(&applied, q) != fields::get(old, q));
                    if !differs {
                        continue;
                    }
                    if opts.force {
                        e.fields.remove(&p);
                    } else {
                        conflicts.push((fields::display(&p), e.manager.clone()));
                    }
                }
            }
            if !conflicts.is_empty() {
                return Err(ApiError::apply_conflict(&def.qualified(), name, &conflicts));
            }
            let previous: FieldSet = entries
                .iter()
                .find(|e| {
                    e.manager == opts.field_manager
                        && e.operation == "Apply"
                        && e.subresource.as_deref() == subresource
                })
                .map(|e| e.fields.clone())
                .unwrap_or_default();
            let mut new = (**old).clone();
            for p in previous.difference(&new_set) {
                let owned_elsewhere = entries.iter().any(|e| {
                    !(e.manager == opts.field_manager && e.operation == "Apply")
                        && e.fields.iter().any(|q| fields::overlaps(p, q))
                });
                if !owned_elsewhere {
                    fields::remove(&mut new, p);
                }
            }
            let mut body = applied.clone();
            if let Some(m) = body.as_object_mut() {
                match scope {
                    Scope::Status => {
                        m.retain(|k, _| k == "status" || k == "apiVersion" || k == "kind")
                    }
                    Scope::Main {
                        status_subresource: true,
                    } => {
                        m.remove("status");
                    }
                    Scope::Main { .. } => {}
                }
            }
            fields::deep_merge(&mut new, &body);
            set_managed(
                &mut new,
                &entries,
                &opts.field_manager,
                "Apply",
                subresource,
                new_set.clone(),
                true,
            );
            if comparable(&new) == comparable(old)
                && managed_entries(&new)
                    .iter()
                    .map(|e| &e.fields)
                    .eq(managed_entries(old).iter().map(|e| &e.fields))
            {
                return Ok(Decision::Keep);
            }
            Ok(Decision::Put(new))
        })
    }

    /// Deletes an object; with finalizers it only gets a deletionTimestamp. Namespaces cascade.
    pub fn delete(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        pre: &Preconditions,
        dry_run: bool,
    ) -> Result<(Obj, Outcome), ApiError> {
        let is_namespace = is_namespace(def);
        let result = self.mutate(def, ns, name, dry_run, |old| {
            let old = old.ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
            if let Some(uid) = &pre.uid
                && meta_str(old, "uid") != Some(uid.as_str())
            {
                return Err(ApiError::conflict(
                    &def.qualified(),
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", meta_str(old, "uid").unwrap_or_default()),
                ));
            }
            if let Some(rv) = &pre.resource_version
                && meta_str(old, "resourceVersion") != Some(rv.as_str())
            {
                return Err(ApiError::conflict(
                    &def.qualified(),
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        meta_str(old, "resourceVersion").unwrap_or_default()
                    ),
                ));
            }
            if meta(old).is_some_and(|m| m.contains_key("deletionTimestamp")) {
                return Ok(Decision::Keep);
            }
            if is_namespace || has_finalizers(old) {
                let mut new = (**old).clone();
                let m = meta_mut(&mut new);
                m.insert("deletionTimestamp".into(), self.clock.now_rfc3339().into());
                m.insert("deletionGracePeriodSeconds".into(), 0.into());
                if is_namespace {
                    new["status"] = json!({"phase": "Terminating"});
                }
                return Ok(Decision::Put(new));
            }
            Ok(Decision::Remove)
        })?;
        if is_namespace && !dry_run {
            self.empty_namespace(name);
            self.finish_namespace(name);
            if let Ok(obj) = self.get(def, "", name) {
                return Ok((obj, Outcome::Finalizing));
            }
            return Ok((result.0, Outcome::Deleted));
        }
        let outcome = if result.1 == Outcome::Deleted {
            Outcome::Deleted
        } else {
            Outcome::Finalizing
        };
        Ok((result.0, outcome))
    }

    fn empty_namespace(&self, ns: &str) {
        for def in self.registry().all().iter().filter(|d| d.namespaced) {
            let kind = self.kind(def);
            let names: Vec<String> = kind
                .state
                .read()
                .objects
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|((_, name), _)| name.clone())
                .collect();
            for name in names {
                // Objects deleted meanwhile are fine.
                let _ = self.delete(def, ns, &name, &Preconditions::default(), false);
            }
        }
    }

    /// Deletes every object a list query selects.
    pub fn delete_collection(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        q: &ListQuery,
        dry_run: bool,
    ) -> Result<Vec<Obj>, ApiError> {
        let all = ListQuery {
            limit: 0,
            continue_token: None,
            ..q.clone()
        };
        let items = self.list(def, ns, &all)?.items;
        let mut out = Vec::new();
        for item in items {
            let ns = meta_str(item.head(), "namespace").unwrap_or_default();
            let name = meta_str(item.head(), "name").unwrap_or_default();
            match self.delete(def, ns, name, &Preconditions::default(), dry_run) {
                Ok((o, _)) => out.push(o),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Approximate bytes held per stored object beyond its JSON text, for the performance notes.
    pub fn overhead_estimate(&self, def: &ResourceDef) -> Option<(usize, usize)> {
        let kind = self.kind(def);
        let st = kind.state.read();
        let n = st.objects.len();
        if n == 0 {
            return None;
        }
        let json: usize = st.objects.values().map(|o| o.json().len()).sum();
        let values: usize = st
            .objects
            .values()
            .map(|o| o.json().len() + value_heap_size(o.head()) + std::mem::size_of::<Stored>())
            .sum();
        let keys: usize = st
            .objects
            .keys()
            .map(|(a, b)| a.capacity() + b.capacity() + 2 * std::mem::size_of::<String>())
            .sum();
        let per_entry = std::mem::size_of::<Entry>() + 16 /* Arc counts */ + 8 /* B-tree slack */;
        Some((json / n, (values + keys) / n + per_entry))
    }
}

/// Heap bytes of a JSON value (strings, maps, vectors), approximately.
fn value_heap_size(v: &Value) -> usize {
    const NODE: usize = std::mem::size_of::<Value>();
    match v {
        Value::String(s) => NODE + s.capacity(),
        Value::Array(a) => NODE + a.iter().map(value_heap_size).sum::<usize>(),
        Value::Object(m) => {
            NODE + m
                .iter()
                .map(|(k, v)| {
                    k.capacity() + std::mem::size_of::<String>() + 16 + value_heap_size(v)
                })
                .sum::<usize>()
        }
        _ => NODE,
    }
}

/// Secret `stringData` is write-only: fold it into base64 `data`.
fn fold_string_data(obj: &mut Value) {
    let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    if let Some(sd) = string_data.as_object() {
        let data = obj
            .as_object_mut()
            .expect("checked")
            .entry("data")
            .or_insert_with(|| json!({}));
        if let Some(d) = data.as_object_mut() {
            for (k, v) in sd {
                let text = v
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string());
                d.insert(
                    k.clone(),
                    base64::engine::general_purpose::STANDARD
                        .encode(text)
                        .into(),
                );
            }
        }
    }
}

/// Drops strategic-merge-patch directives (`$patch`, `$retainKeys`, `$setElementOrder/...`).
fn strip_directives(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k, strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_directives).collect()),
        other => other,
    }
}

#[derive(Debug, Clone)]
struct ManagedEntry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: FieldSet,
}

fn managed_entries(obj: &Value) -> Vec<ManagedEntry> {
    meta(obj)
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| ManagedEntry {
                    manager: e
                        .get("manager")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    operation: e
                        .get("operation")
                        .and_then(Value::as_str)
                        .unwrap_or("Update")
                        .into(),
                    api_version: e
                        .get("apiVersion")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    time: e
                        .get("time")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    subresource: e
                        .get("subresource")
                        .and_then(Value::as_str)
                        .map(String::from),
                    fields: e
                        .get("fieldsV1")
                        .map(fields::from_fields_v1)
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_managed(obj: &mut Value, entries: &[ManagedEntry]) {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": if e.api_version.is_empty() { api_version.clone() } else { e.api_version.clone() },
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields::to_fields_v1(&e.fields),
            });
            if let Some(s) = &e.subresource {
                v["subresource"] = s.clone().into();
            }
            v
        })
        .collect();
    let m = meta_mut(obj);
    if list.is_empty() {
        m.remove("managedFields");
    } else {
        m.insert("managedFields".into(), list.into());
    }
}

/// Gives `fields` to (`manager`, `operation`); other Update entries lose them. With `replace`
/// (apply) the manager's set becomes exactly `fields`, otherwise it grows by them.
fn set_managed(
    obj: &mut Value,
    entries: &[ManagedEntry],
    manager: &str,
    operation: &str,
    subresource: Option<&str>,
    fields: FieldSet,
    replace: bool,
) {
    let mut entries = entries.to_vec();
    let manager = if manager.is_empty() {
        "unknown"
    } else {
        manager
    };
    if operation == "Update" {
        for e in entries
            .iter_mut()
            .filter(|e| !(e.manager == manager && e.operation == operation))
        {
            e.fields
                .retain(|p| !fields.iter().any(|q| fields::overlaps(p, q)));
        }
    }
    let idx = entries.iter().position(|e| {
        e.manager == manager && e.operation == operation && e.subresource.as_deref() == subresource
    });
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match idx {
        Some(i) => {
            let e = &mut entries[i];
            let new_set = if replace {
                fields
            } else {
                e.fields.union(&fields).cloned().collect()
            };
            if new_set != e.fields {
                e.fields = new_set;
                e.time = now_rfc3339();
            }
        }
        None if !fields.is_empty() => entries.push(ManagedEntry {
            manager: manager.into(),
            operation: operation.into(),
            api_version,
            time: now_rfc3339(),
            subresource: subresource.map(String::from),
            fields,
        }),
        None => {}
    }
    write_managed(obj, &entries);
}

fn strip_from_all(obj: &mut Value, removed: &FieldSet) {
    if removed.is_empty() {
        return;
    }
    let mut entries = managed_entries(obj);
    for e in &mut entries {
        e.fields.retain(|p| !removed.contains(p));
    }
    write_managed(obj, &entries);
}

fn random_suffix() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
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

#[cfg(test)]
mod tests;
