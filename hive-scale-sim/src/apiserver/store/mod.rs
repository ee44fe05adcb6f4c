//! The object store and its Kubernetes semantics: resourceVersions, generations, uids,
//! namespaces, finalizers, owner garbage collection, managed fields and the watch history.
//!
//! * `objects`: the stored representation, reads (get, list, the start of a watch) and
//!   continue tokens.
//! * `writes`: create, update, patch and the one place objects change
//!   (`Store::mutate`), which holds the resource's lock (and, for namespaced resources, a read
//!   lock on namespaces, so a namespace cannot start terminating half-way through a create),
//!   assigns the next resourceVersion and publishes the event.
//! * `apply`: server-side apply.
//! * `delete`: deletes, their preconditions and propagation policies.
//! * `admission`: what every write body goes through before it is stored.
//! * `bounds`: how deep and big a stored object may be, and JSON patches kept within that.
//! * `gc`: consequences for other objects: owner-reference dependents, namespace
//!   finalization, the served resources when CRDs change, the objects of a deleted CRD.

mod admission;
mod apply;
pub mod bounds;
mod delete;
mod gc;
mod head;
mod objects;
mod writes;

pub use delete::{DeleteOptions, Preconditions, Propagation};
pub use head::{Head, OwnerRef};
pub use objects::{EventType, ListQuery, ListResult, Stored, WatchEvent, WatchStart};
pub use writes::{PatchKind, WriteEffect, WriteGuard, WriteOptions};

use super::registry::{Registry, ResourceDef};
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
    /// Seed of the uids the store gives new objects; random uids when `None`, as a real API
    /// server's. The planner seeds them, so a plan with replicas (sharded by uid) is the same
    /// every time.
    pub uid_seed: Option<u64>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            history_limit: 10_000,
            watch_buffer: 16_384,
            clock: None,
            uid_seed: None,
        }
    }
}

/// All objects of the hub.
pub struct Store {
    rv: AtomicU64,
    clock: crate::clock::Clock,
    uids: admission::Uids,
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

fn is_namespace(def: &ResourceDef) -> bool {
    def.group.is_empty() && def.plural == "namespaces"
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
            uids: admission::Uids::new(config.uid_seed),
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
            .map(|o| o.json().len() + o.head().heap_size() + std::mem::size_of::<Stored>())
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

#[cfg(test)]
mod tests;
