//! A model of Hive's controllers, running against the embedded hub's store.
//!
//! * [`clusterdeployment`]: installedTimestamp, conditions, reachability, the deprovision finalizer.
//! * [`clustersync`]: current Hive's sync controller (one ClusterSync per cluster).
//! * [`legacy`]: the 2020 pipeline (syncset controller creating SyncSetInstances, and the
//!   syncsetinstance controller applying them).
//!
//! Work costs modeled time from the [`CostModel`] on one
//! [`Clock`]; see [`Sim`].

pub mod clusterdeployment;
pub mod clustersync;
pub mod legacy;
pub mod resources;
pub mod runner;
pub mod spoke;
pub mod workqueue;

use crate::apiserver::registry::ResourceDef;
use crate::apiserver::store::{Entry, Store, Stored, WriteOptions};
use crate::clock::Clock;
use crate::metrics::{HiveMetrics, labels};
use crate::model::{ApplyMode, CostModel, FAKE_APPLY_MS};
use clustersync::MatchedSet;
use hive_scale_core::api::{ClusterDeployment, Lenient, SelectorSyncSet, SyncSet};
use kube::api::ObjectMeta;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use resources::{ApiCapacity, ClientLimiter, CorePool};
use serde::de::DeserializeOwned;
use serde_json::Value;
use spoke::Spoke;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Everything the simulated controllers share.
#[derive(Debug)]
pub struct Sim {
    /// The one clock.
    pub clock: Clock,
    /// Costs.
    pub model: CostModel,
    /// Hive's metrics.
    pub metrics: Arc<HiveMetrics>,
    /// The hub's objects (its API server's store).
    pub store: Arc<Store>,
    /// Where resources are applied.
    pub spoke: Option<Arc<Spoke>>,
    /// The sync controller's processes: clustersync replicas, or the one hive-controllers pod
    /// of the 2020 pipeline. Each has its own cores.
    pub replicas: Vec<Replica>,
    /// The shared spoke's API server capacity (spokes: shared).
    pub spoke_api: ApiCapacity,
    /// Each cluster's own API server (spokes: per-cluster), by `namespace/name`.
    spoke_apis: Mutex<HashMap<String, Arc<ApiCapacity>>>,
    /// The hub API server's capacity.
    pub hub_api: ApiCapacity,
    /// The controllers' client-side limiter towards the hub.
    pub hub_client: ClientLimiter,
    /// Full re-apply interval (2h by default).
    pub reapply_interval: Duration,
    /// Which pipeline runs (the model's).
    pub pipeline: hive_scale_core::api::Pipeline,
    /// Counters the planner reads without scraping.
    pub counters: Counters,
    /// Record `hive_kube_client_*` per request (off in the planner, where nobody scrapes).
    pub client_metrics: bool,
    rng: Mutex<rand::rngs::StdRng>,
    /// Each set's resources by the set's uid and generation.
    sets: Mutex<HashMap<(String, i64), Arc<SetCache>>>,
}

type ApplyMetric = (
    prometheus_client::metrics::counter::Counter,
    prometheus_client::metrics::histogram::Histogram,
);

/// Where one apply goes.
#[derive(Debug, Clone, Copy)]
pub struct ApplyTarget<'a> {
    /// The cluster, `namespace/name`.
    pub cluster: &'a str,
    /// It is a fake cluster (Hive's fake-cluster helper).
    pub fake: bool,
    /// The set is new to the cluster (or changed since it last applied there).
    pub first: bool,
}

/// One process running the sync controller: a clustersync pod (`hive-clustersync-N`), or
/// hive-controllers in the 2020 pipeline. Its applies share its cores and saturate it, not
/// the other replicas.
#[derive(Debug)]
pub struct Replica {
    /// The pod's ordinal.
    pub ordinal: usize,
    /// `hive-clustersync-N` when there is more than one replica: the `pod` label Prometheus
    /// gives each pod's series, which tells replicas apart. `None` with one replica, whose
    /// series keep Hive's own label sets.
    pub pod: Option<String>,
    /// Its cores.
    pub cores: CorePool,
    in_flight: AtomicUsize,
    /// Resource applies finished.
    pub applies: AtomicU64,
    /// Sync reconciles.
    pub reconciles: AtomicU64,
    /// Its client's rate limit towards the hub.
    pub hub_client: ClientLimiter,
    apply_ok: ApplyMetric,
    apply_err: ApplyMetric,
}

impl Replica {
    fn new(
        ordinal: usize,
        count: usize,
        model: &CostModel,
        clock: &Clock,
        metrics: &Arc<HiveMetrics>,
    ) -> Self {
        let pod = (count > 1).then(|| format!("hive-clustersync-{ordinal}"));
        let handles = |result: &str| {
            let l = with_pod(
                labels(&[("type", "apply"), ("result", result)]),
                pod.as_deref(),
            );
            (
                metrics.resources_applied.get_or_create(&l).clone(),
                metrics.apply_duration.get_or_create(&l).clone(),
            )
        };
        Self {
            ordinal,
            cores: CorePool::new(model.cores, model.coherency, clock.clone(), metrics.clone()),
            in_flight: AtomicUsize::new(0),
            applies: AtomicU64::new(0),
            reconciles: AtomicU64::new(0),
            hub_client: ClientLimiter::new(
                model.hub_qps,
                crate::model::HUB_CLIENT_BURST,
                clock.clone(),
            ),
            apply_ok: handles("success"),
            apply_err: handles("error"),
            pod,
        }
    }
}

/// `l` with the `pod` label of a replica, when replicas are told apart.
pub fn with_pod(mut l: crate::metrics::Labels, pod: Option<&str>) -> crate::metrics::Labels {
    if let Some(p) = pod {
        l.push(("pod", p.to_string()));
    }
    l
}

/// Running totals of the sync controller's work.
#[derive(Debug, Default)]
pub struct Counters {
    /// Resource applies finished.
    pub applies: AtomicU64,
    /// Their summed modeled duration, nanoseconds.
    pub apply_nanos: AtomicU64,
    /// Reconciles of the sync controller.
    pub sync_reconciles: AtomicU64,
    /// (set, cluster) pairs that succeeded for the first time.
    pub set_first_successes: AtomicU64,
    /// Clusters whose every set has succeeded once.
    pub cluster_first_successes: AtomicU64,
    /// Requests the controllers sent to the hub (writes; their reads come from informer caches,
    /// as Hive's do). Counted only where client metrics are on (the live hub).
    pub hub_requests: AtomicU64,
    /// Bytes those requests cost the hub: each written object as the request body, again as
    /// the response, and once more as the watch event Hive's own informer receives.
    pub hub_bytes: AtomicU64,
}

/// The size of what a controller's write stored, for [`Counters::hub_bytes`].
pub trait WrittenObject {
    /// Bytes of the stored object as JSON (0 when the write failed).
    fn written_bytes(&self) -> u64;
}

impl<E> WrittenObject
    for Result<
        (
            crate::apiserver::store::Obj,
            crate::apiserver::store::WriteEffect,
        ),
        E,
    >
{
    fn written_bytes(&self) -> u64 {
        match self {
            Ok((obj, _)) => serde_json::to_vec(&**obj).map_or(0, |v| v.len() as u64),
            Err(_) => 0,
        }
    }
}

/// A (Selector)SyncSet's resources, parsed and hashed once per generation.
#[derive(Debug)]
pub struct SetCache {
    /// The resources.
    pub resources: Vec<CachedResource>,
    /// Their references, as ClusterSync's `resourcesToDelete` lists them.
    pub refs: Vec<Value>,
    /// Their references with content hashes, as a 2020 SyncSetInstance's status lists them.
    pub statuses: Vec<Value>,
    /// Hash of the set's spec (a 2020 SyncSetInstance's `syncSetHash`).
    pub spec_hash: String,
}

/// One resource of a set, with what every apply of it needs precomputed.
#[derive(Debug)]
pub struct CachedResource {
    /// The object.
    pub value: Value,
    /// Hash of its content.
    pub hash: u64,
    /// `apiVersion/kind/namespace/name`.
    pub key: String,
    /// `apiVersion/kind`, as client metrics label resources.
    pub label: String,
}

/// Settings of a [`Sim`] besides the model.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The model: pipeline, workers, cores, costs.
    pub model: CostModel,
    /// Full re-apply interval.
    pub reapply_interval: Duration,
    /// Seed of the jitter and fake-apply draws.
    pub seed: u64,
    /// Record per-request client metrics (the planner turns them off).
    pub client_metrics: bool,
}

impl SimConfig {
    /// 2h re-apply, seed 1, client metrics on.
    pub fn new(model: CostModel) -> Self {
        Self {
            model,
            reapply_interval: Duration::from_secs(7200),
            seed: 1,
            client_metrics: true,
        }
    }
}

/// The Kubernetes resource names the controllers use.
pub mod defs {
    /// (group, version, plural) of each kind.
    pub const CD: (&str, &str, &str) = ("hive.openshift.io", "v1", "clusterdeployments");
    /// SelectorSyncSets.
    pub const SSS: (&str, &str, &str) = ("hive.openshift.io", "v1", "selectorsyncsets");
    /// SyncSets.
    pub const SS: (&str, &str, &str) = ("hive.openshift.io", "v1", "syncsets");
    /// SyncSetInstances.
    pub const SSI: (&str, &str, &str) = ("hive.openshift.io", "v1", "syncsetinstances");
    /// ClusterSyncs.
    pub const CSYNC: (&str, &str, &str) = ("hiveinternal.openshift.io", "v1alpha1", "clustersyncs");
    /// ClusterSyncLeases.
    pub const LEASE: (&str, &str, &str) =
        ("hiveinternal.openshift.io", "v1alpha1", "clustersyncleases");
    /// HiveConfigs.
    pub const HIVECONFIG: (&str, &str, &str) = ("hive.openshift.io", "v1", "hiveconfigs");
    /// Secrets.
    pub const SECRET: (&str, &str, &str) = ("", "v1", "secrets");
}

impl Sim {
    /// A simulation over `hub`, applying to `spoke`.
    pub fn new(
        config: SimConfig,
        clock: Clock,
        metrics: Arc<HiveMetrics>,
        hub: Arc<Store>,
        spoke: Option<Arc<Spoke>>,
    ) -> Arc<Self> {
        metrics.sim_time_scale.set(clock.scale());
        let count = match config.model.pipeline {
            hive_scale_core::api::Pipeline::ClusterSync => config.model.replicas.max(1),
            hive_scale_core::api::Pipeline::SyncSetInstance => 1,
        };
        Arc::new(Self {
            replicas: (0..count)
                .map(|i| Replica::new(i, count, &config.model, &clock, &metrics))
                .collect(),
            spoke_api: ApiCapacity::new(config.model.spoke_capacity, clock.clone()),
            spoke_apis: Mutex::new(HashMap::new()),
            hub_api: ApiCapacity::new(config.model.hub_capacity, clock.clone()),
            hub_client: ClientLimiter::new(
                config.model.hub_qps,
                crate::model::HUB_CLIENT_BURST,
                clock.clone(),
            ),
            reapply_interval: config.reapply_interval,
            pipeline: config.model.pipeline,
            counters: Counters::default(),
            client_metrics: config.client_metrics,
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(config.seed)),
            sets: Mutex::new(HashMap::new()),
            model: config.model,
            clock,
            metrics,
            store: hub,
            spoke,
        })
    }

    /// The `pod` label of hive-controllers' series, when replicas are told apart: one
    /// endpoint then stands for several pods, and a metric's series must all carry the label
    /// (the Prometheus text format wants one label set per family).
    pub fn controllers_pod(&self) -> Option<&'static str> {
        (self.replicas.len() > 1).then_some("hive-controllers")
    }

    /// The replica that owns the ClusterDeployment `cd` (by its UID, as Hive shards).
    pub fn replica_for(&self, uid: &str) -> usize {
        crate::model::replica_of(uid, self.replicas.len())
    }

    /// The API server the cluster `cluster` (`namespace/name`) is served by.
    async fn spoke_request(&self, cluster: &str, latency: Duration) -> Duration {
        match self.model.spokes {
            crate::model::SpokeMode::PerCluster => {
                // Every apply passes here: look up without allocating the key.
                let api = {
                    let mut apis = self.spoke_apis.lock();
                    match apis.get(cluster) {
                        Some(api) => api.clone(),
                        None => apis
                            .entry(cluster.to_string())
                            .or_insert_with(|| {
                                Arc::new(ApiCapacity::new(
                                    self.model.spoke_capacity,
                                    self.clock.clone(),
                                ))
                            })
                            .clone(),
                    }
                };
                api.request(latency).await
            }
            _ => self.spoke_api.request(latency).await,
        }
    }

    /// A resource definition of the hub.
    pub fn def(&self, gvr: (&str, &str, &str)) -> Arc<ResourceDef> {
        self.store
            .registry()
            .lookup(gvr.0, gvr.1, gvr.2)
            .expect("the hub serves the Hive CRDs")
    }

    /// A random number in `0..1`, from the simulation's seed.
    pub fn fraction(&self) -> f64 {
        self.rng.lock().random_range(0.0..1.0)
    }

    /// Puts `items` in a random order, from the simulation's seed.
    pub fn shuffle<T>(&self, items: &mut [T]) {
        use rand::seq::SliceRandom;
        items.shuffle(&mut *self.rng.lock());
    }

    /// The re-apply interval plus Hive's 0-10 % jitter.
    pub fn jittered_interval(&self) -> Duration {
        let j: f64 = self.rng.lock().random_range(0.0..0.1);
        self.reapply_interval.mul_f64(1.0 + j)
    }

    /// A write to the hub by `controller` in hive-controllers: client limiter, hub capacity,
    /// latency, metrics; then `f`.
    pub async fn hub_write<T: WrittenObject>(
        &self,
        controller: &str,
        method: &str,
        resource: &str,
        f: impl FnOnce(&Store, &WriteOptions) -> T,
    ) -> T {
        self.hub_write_via(&self.hub_client, controller, method, resource, f)
            .await
    }

    /// [`Sim::hub_write`] through `client`: a clustersync replica's writes wait for its own
    /// client's rate limit (each pod has its own).
    pub async fn hub_write_via<T: WrittenObject>(
        &self,
        client: &ClientLimiter,
        controller: &str,
        method: &str,
        resource: &str,
        f: impl FnOnce(&Store, &WriteOptions) -> T,
    ) -> T {
        client.acquire().await;
        let took = self
            .hub_api
            .request(Duration::from_secs_f64(self.model.hub_write_latency))
            .await;
        let opts = WriteOptions {
            field_manager: "hive1-clustersync".into(),
            internal: true,
            ..Default::default()
        };
        let out = f(&self.store, &opts);
        if self.client_metrics {
            // Request body, response, and the watch event to Hive's informer.
            self.counters.hub_requests.fetch_add(1, Ordering::Relaxed);
            self.counters
                .hub_bytes
                .fetch_add(3 * out.written_bytes(), Ordering::Relaxed);
        }
        self.client_metric(controller, method, resource, false, took);
        out
    }

    fn client_metric(
        &self,
        controller: &str,
        method: &str,
        resource: &str,
        remote: bool,
        took: Duration,
    ) {
        if !self.client_metrics {
            return;
        }
        let remote = if remote { "true" } else { "false" };
        let l = labels(&[
            ("controller", controller),
            ("method", method),
            ("resource", resource),
            ("remote", remote),
            ("status", "200 OK"),
        ]);
        self.metrics.client_requests.get_or_create(&l).inc();
        self.metrics
            .client_request_seconds
            .get_or_create(&l)
            .observe(took.as_secs_f64());
    }

    /// The ClusterDeployment `ns/name` as Hive's informer gives it (see [`typed`]): `None`
    /// when there is none, or when our types cannot represent it.
    pub fn cluster_deployment(&self, ns: &str, name: &str) -> Option<Arc<ClusterDeployment>> {
        typed(&self.store.get_entry(&self.def(defs::CD), ns, name).ok()?)
    }

    /// Every SelectorSyncSet our types can represent (see [`typed`]).
    pub fn selector_sync_sets(&self) -> Vec<Arc<SelectorSyncSet>> {
        self.typed_list(defs::SSS, None)
    }

    /// The SyncSets of namespace `ns` our types can represent (see [`typed`]).
    pub fn sync_sets(&self, ns: &str) -> Vec<Arc<SyncSet>> {
        self.typed_list(defs::SS, Some(ns))
    }

    fn typed_list<K>(&self, gvr: (&str, &str, &str), ns: Option<&str>) -> Vec<Arc<K>>
    where
        K: kube::Resource<DynamicType = ()> + DeserializeOwned + Send + Sync + 'static,
    {
        self.store
            .list(&self.def(gvr), ns, &Default::default())
            .map(|l| l.items.iter().filter_map(typed).collect())
            .unwrap_or_default()
    }

    /// A set's resources, parsed and hashed once per generation of the set.
    pub fn set_cache(&self, set: &MatchedSet) -> Arc<SetCache> {
        let meta = set.metadata();
        let key = (meta.uid.clone().unwrap_or_default(), set.generation());
        if let Some(c) = self.sets.lock().get(&key) {
            return c.clone();
        }
        let resources: Vec<CachedResource> = set
            .common()
            .resources
            .iter()
            .map(|r| CachedResource {
                value: r.clone(),
                hash: spoke::content_hash(r),
                key: spoke::resource_key(r),
                label: format!(
                    "{}/{}",
                    r.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
                    r.get("kind").and_then(Value::as_str).unwrap_or("")
                ),
            })
            .collect();
        let refs = resources
            .iter()
            .map(|r: &CachedResource| {
                let v = &r.value;
                let mut reference = serde_json::Map::new();
                for (k, src) in [
                    ("apiVersion", v.get("apiVersion")),
                    ("kind", v.get("kind")),
                    ("name", v.get("metadata").and_then(|m| m.get("name"))),
                ] {
                    reference.insert(k.into(), src.cloned().unwrap_or(Value::Null));
                }
                if let Some(ns) = v.get("metadata").and_then(|m| m.get("namespace")) {
                    reference.insert("namespace".into(), ns.clone());
                }
                Value::Object(reference)
            })
            .collect();
        let statuses = resources
            .iter()
            .map(|r| {
                let v = &r.value;
                serde_json::json!({"apiVersion": v.get("apiVersion"), "kind": v.get("kind"), "name": v.pointer("/metadata/name"), "namespace": v.pointer("/metadata/namespace").cloned().unwrap_or_else(|| "".into()), "hash": format!("{:016x}", r.hash)})
            })
            .collect();
        let spec_hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            set.spec_json().hash(&mut h);
            format!("{:016x}", h.finish())
        };
        let c = Arc::new(SetCache {
            resources,
            refs,
            statuses,
            spec_hash,
        });
        self.sets.lock().insert(key, c.clone());
        c
    }

    /// Applies one resource of a set for the cluster `cluster` (`namespace/name`) in `replica`,
    /// as the controller `controller` does: modeled cost first, then the real write to the
    /// spoke as `writer`.
    ///
    /// # Errors
    ///
    /// What the spoke answered when it refused the write.
    pub async fn apply_resource(
        &self,
        replica: &Replica,
        controller: &str,
        resource: &CachedResource,
        writer: &str,
        ApplyTarget {
            cluster,
            fake,
            first,
        }: ApplyTarget<'_>,
    ) -> Result<(), spoke::SpokeError> {
        let start = self.clock.elapsed();
        let in_flight = replica.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let mode = if fake {
            ApplyMode::Fake
        } else {
            self.model.apply_mode
        };
        let result = match mode {
            ApplyMode::Fake => {
                replica
                    .cores
                    .run(self.model.apply_cpu_in(ApplyMode::Fake, in_flight))
                    .await;
                let ms = FAKE_APPLY_MS[self.rng.lock().random_range(0..FAKE_APPLY_MS.len())];
                self.clock.sleep(Duration::from_millis(ms)).await;
                Ok(())
            }
            ApplyMode::ClientSide | ApplyMode::ServerSide => {
                if mode == ApplyMode::ClientSide {
                    let took = self
                        .spoke_request(
                            cluster,
                            Duration::from_secs_f64(self.model.remote_get_latency),
                        )
                        .await;
                    self.client_metric(controller, "GET", &resource.label, true, took);
                }
                replica
                    .cores
                    .run(self.model.apply_cpu_in(mode, in_flight))
                    .await;
                let changed = match &self.spoke {
                    Some(s) => s.apply(&resource.value, &resource.key, resource.hash, writer),
                    None => Ok(false),
                };
                // Server-side apply always sends the patch; client-side only when something
                // changed. The stored spoke stands for every cluster: on per-cluster spokes a
                // cluster's own server has not seen content new to that cluster.
                let per_cluster_first =
                    first && self.model.spokes == crate::model::SpokeMode::PerCluster;
                if mode == ApplyMode::ServerSide
                    || per_cluster_first
                    || changed.as_ref().is_ok_and(|c| *c)
                {
                    let method = if mode == ApplyMode::ServerSide {
                        "PATCH"
                    } else {
                        "POST"
                    };
                    let took = self
                        .spoke_request(
                            cluster,
                            Duration::from_secs_f64(self.model.remote_write_latency),
                        )
                        .await;
                    self.client_metric(controller, method, &resource.label, true, took);
                }
                changed.map(|_| ())
            }
        };
        replica.in_flight.fetch_sub(1, Ordering::SeqCst);
        let took = self.clock.elapsed().saturating_sub(start);
        self.counters.applies.fetch_add(1, Ordering::Relaxed);
        replica.applies.fetch_add(1, Ordering::Relaxed);
        self.counters
            .apply_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        let (applied, duration) = if result.is_ok() {
            &replica.apply_ok
        } else {
            &replica.apply_err
        };
        applied.inc();
        duration.observe(took.as_secs_f64());
        result
    }

    /// Deletes a resource from the cluster `cluster`'s spoke (Sync mode), paying a remote
    /// write.
    ///
    /// # Errors
    ///
    /// What the spoke answered when it refused the delete (an absent resource is no error).
    pub async fn delete_resource(
        &self,
        controller: &str,
        cluster: &str,
        (api_version, kind): (&str, &str),
        ns: Option<&str>,
        name: &str,
    ) -> Result<(), spoke::SpokeError> {
        let took = self
            .spoke_request(
                cluster,
                Duration::from_secs_f64(self.model.remote_write_latency),
            )
            .await;
        self.client_metric(
            controller,
            "DELETE",
            &format!("{api_version}/{kind}"),
            true,
            took,
        );
        match &self.spoke {
            Some(s) => s.delete(api_version, kind, ns, name),
            None => Ok(()),
        }
    }
}

/// A Hive object as the simulated controllers read it, decoded once per stored version (as
/// Hive's informers hold decoded objects; see [`decode`]). For the kinds every reconcile reads:
/// ClusterDeployments, sets, leases.
pub fn typed<K>(entry: &Entry) -> Option<Arc<K>>
where
    K: kube::Resource<DynamicType = ()> + DeserializeOwned + Send + Sync + 'static,
{
    Option::clone(&entry.decoded(|_| decode(entry)))
}

/// A Hive object decoded leniently, as Hive's Go decodes: a value outside our enums is kept, a
/// field Hive defaults is defaulted. An object our types cannot represent at all is `None`,
/// with one warning per object ([`Undecodable::warn`]), as a Go informer skips what it cannot
/// decode. Not kept: for kinds with many objects, each read about once per version.
///
/// [`Undecodable::warn`]: hive_scale_core::api::Undecodable::warn
pub fn decode<K>(entry: &Stored) -> Option<Arc<K>>
where
    K: kube::Resource<DynamicType = ()> + DeserializeOwned,
{
    match serde_json::from_slice::<Lenient<K>>(entry.json()) {
        Ok(lenient) => lenient.ok_or_warn(),
        Err(e) => {
            // Lenient keeps an object whose body does not decode; only metadata that does not
            // decode lands here.
            tracing::warn!(
                kind = %K::kind(&()),
                object = %format!("{}/{}", entry.head().namespace(), entry.head().name()),
                error = %e,
                "skipped an object whose metadata cannot be read"
            );
            None
        }
    }
}

/// Go's ParseBool truthiness of the annotation `key`.
pub fn annotation_true(meta: &ObjectMeta, key: &str) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| hive_scale_core::labels::parse_bool(v))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::store::StoreConfig;
    use hive_scale_core::api::ResourceApplyMode as ResourceApplyModeOf;
    use serde_json::json;

    fn sim() -> Arc<Sim> {
        let hub = Store::new(&hive_scale_core::api::crds(), StoreConfig::default());
        let model = CostModel::preset("laptop").unwrap();
        Sim::new(
            SimConfig::new(model),
            Clock::real(),
            Arc::new(HiveMetrics::new()),
            hub,
            None,
        )
    }

    fn internal() -> WriteOptions {
        WriteOptions {
            field_manager: "test".into(),
            internal: true,
            ..Default::default()
        }
    }

    fn create(sim: &Sim, gvr: (&str, &str, &str), ns: &str, obj: Value) {
        sim.store
            .create(&sim.def(gvr), ns, obj, &internal())
            .unwrap();
    }

    fn namespace(sim: &Sim, name: &str) {
        create(
            sim,
            ("", "v1", "namespaces"),
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        );
    }

    fn selector_sync_set(name: &str, mode: &str) -> Value {
        json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
            "metadata": {"name": name},
            "spec": {"resourceApplyMode": mode, "clusterDeploymentSelector": {"matchLabels": {"a": "b"}}},
        })
    }

    fn cluster_deployment(name: &str, installed: Value) -> Value {
        json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
            "metadata": {"name": name, "namespace": "ns1", "labels": {"a": "b"},
                "annotations": {"hive.openshift.io/relocate": "elsewhere"}},
            "spec": {"clusterName": name, "baseDomain": "example.com", "installed": installed,
                "platform": {"none": {}}},
            "status": {"conditions": [{"type": "Unreachable", "status": "False"}]},
        })
    }

    #[test]
    fn a_stored_version_is_decoded_once() {
        let sim = sim();
        create(&sim, defs::SSS, "", selector_sync_set("s1", "Sync"));
        let (first, again) = (sim.selector_sync_sets(), sim.selector_sync_sets());
        assert_eq!(first.len(), 1);
        assert!(Arc::ptr_eq(&first[0], &again[0]), "the same decoding");
        let mut changed = selector_sync_set("s1", "Upsert");
        changed["metadata"]["resourceVersion"] = json!(first[0].metadata.resource_version);
        sim.store
            .update(&sim.def(defs::SSS), "", "s1", changed, &internal())
            .unwrap();
        let now = sim.selector_sync_sets();
        assert!(
            !Arc::ptr_eq(&first[0], &now[0]),
            "a new version, decoded anew"
        );
        assert_eq!(
            now[0].spec.common.resource_apply_mode,
            Some(ResourceApplyModeOf::Upsert)
        );
    }

    #[test]
    fn a_value_outside_our_enums_is_kept_and_read_as_hive_reads_it() {
        let sim = sim();
        // Hive's CRD admits any string here and compares the exact spelling.
        create(&sim, defs::SSS, "", selector_sync_set("lower", "sync"));
        let sets = sim.selector_sync_sets();
        assert_eq!(sets.len(), 1, "read, not skipped");
        assert_eq!(
            sets[0].spec.common.resource_apply_mode,
            Some(ResourceApplyModeOf::Other("sync".into()))
        );
        assert!(!MatchedSet::Selector(sets[0].clone()).sync_mode(), "Upsert");
    }

    #[test]
    fn a_cluster_our_types_cannot_represent_is_skipped_and_the_others_read() {
        let sim = sim();
        namespace(&sim, "ns1");
        create(
            &sim,
            defs::CD,
            "ns1",
            cluster_deployment("bad", json!("yes")),
        );
        create(
            &sim,
            defs::CD,
            "ns1",
            cluster_deployment("good", json!(true)),
        );
        // Creates drop the status (a subresource): written as the clusterdeployment
        // controller writes it.
        let status = WriteOptions {
            status: true,
            ..internal()
        };
        let stored = sim.store.get(&sim.def(defs::CD), "ns1", "good").unwrap();
        let mut with_status = (*stored).clone();
        with_status["status"] = cluster_deployment("good", json!(true))["status"].clone();
        sim.store
            .update(&sim.def(defs::CD), "ns1", "good", with_status, &status)
            .unwrap();
        assert!(sim.cluster_deployment("ns1", "bad").is_none());
        assert!(sim.cluster_deployment("ns1", "absent").is_none());
        let good = sim.cluster_deployment("ns1", "good").expect("decoded");
        assert!(good.spec.installed && good.is_reachable());
        assert_eq!(
            clustersync::skip_reason(&good),
            Some("paused"),
            "a cluster being relocated waits"
        );
        create(&sim, defs::SSS, "", selector_sync_set("s1", "Sync"));
        let matched = clustersync::matching_sets(&sim, &good);
        assert_eq!(
            matched.iter().map(MatchedSet::name).collect::<Vec<_>>(),
            ["s1"]
        );
        assert!(matched[0].selector() && matched[0].sync_mode());
    }
}
