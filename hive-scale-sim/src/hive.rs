//! The simulated Hive: its controllers started over a hub store, fed by the store's events.

use crate::apiserver::store::{Entry, EventType, Head, ListQuery};
use crate::controllers::clusterdeployment::ClusterDeploymentController;
use crate::controllers::clustersync::ClusterSyncController;
use crate::controllers::legacy::{SyncSetController, SyncSetInstanceController};
use crate::controllers::runner::{Controller, pump};
use crate::controllers::{Sim, defs, typed};
use crate::metrics::labels;
use hive_scale_core::api::{ClusterDeployment, HiveConfig, Pipeline, SelectorSyncSet, SyncSet};
use std::sync::Arc;
use std::time::Duration;

type Key = (String, String);

/// Running controllers.
#[derive(Debug)]
pub struct SimulatedHive {
    sim: Arc<Sim>,
    clusterdeployment: Arc<Controller<Key>>,
    /// clustersync (one per replica), or syncsetinstance in legacy mode: the controller the
    /// cost model describes.
    sync: Vec<Arc<Controller<Key>>>,
    /// The legacy syncset controller.
    syncset: Option<Arc<Controller<Key>>>,
}

fn key_of(obj: &Head) -> Key {
    (obj.namespace().to_string(), obj.name().to_string())
}

impl SimulatedHive {
    /// Starts the controllers Hive runs for adopted clusters.
    pub fn start(sim: Arc<Sim>) -> Self {
        let cd_rec = ClusterDeploymentController::new(sim.clone());
        let clusterdeployment = Controller::start(&sim, cd_rec, "clusterdeployment-controller", 5);
        {
            let q = clusterdeployment.queue.clone();
            pump(&sim, sim.def(defs::CD), move |e| {
                q.add(key_of(e.object.head()))
            });
        }
        let workers = sim.model.workers;
        let (sync, syncset) = if sim.pipeline == Pipeline::SyncSetInstance {
            let ssi = Controller::start(
                &sim,
                Arc::new(SyncWorkers {
                    sim: sim.clone(),
                    replica: 0,
                }),
                crate::controllers::legacy::SYNCSETINSTANCE,
                workers,
            );
            let ss = Controller::start(
                &sim,
                SyncSetController::new(sim.clone()),
                crate::controllers::legacy::SYNCSET,
                5,
            );
            {
                let q = ssi.queue.clone();
                // Like controller-runtime's GenerationChangedPredicate: an instance's own status
                // updates do not requeue it (one reconcile per apply, as the 2020 report counts).
                pump(&sim, sim.def(defs::SSI), move |e| {
                    let changed = match (&e.type_, &e.prev) {
                        (EventType::Added, _) | (_, None) => true,
                        (EventType::Modified, Some(p)) => {
                            p.head().generation() != e.object.head().generation()
                        }
                        (EventType::Deleted, _) => false,
                    };
                    if changed {
                        q.add(key_of(e.object.head()));
                    }
                });
            }
            {
                // A cluster change (say, it became reachable) concerns its instances too.
                let (q, qi, s) = (ss.queue.clone(), ssi.queue.clone(), sim.clone());
                pump(&sim, sim.def(defs::CD), move |e| {
                    let (ns, name) = key_of(e.object.head());
                    q.add((ns.clone(), name.clone()));
                    let reachability = |o: &Entry| {
                        typed::<ClusterDeployment>(o)
                            .map(|cd| crate::controllers::clustersync::skip_reason(&cd))
                    };
                    let became_ready = e.type_ == EventType::Modified
                        && e.prev.as_ref().map(reachability) != Some(reachability(&e.object));
                    if became_ready {
                        let lq = ListQuery {
                            labels: crate::apiserver::selector::LabelQuery::parse(&format!(
                                "hive.openshift.io/cluster-deployment-name={name}"
                            ))
                            .unwrap_or_default(),
                            ..Default::default()
                        };
                        for i in s
                            .store
                            .list(&s.def(defs::SSI), Some(&ns), &lq)
                            .map(|l| l.items)
                            .unwrap_or_default()
                        {
                            qi.add(key_of(i.head()));
                        }
                    }
                });
            }
            Self::pump_sets(&sim, Shards(vec![ss.queue.clone()]));
            (vec![ssi], Some(ss))
        } else {
            // Every replica watches every cluster and works on its own shard: each queue is
            // given every cluster, and the non-owners' reconciles end at once as skipped-sync.
            let replicas: Vec<_> = (0..sim.replicas.len())
                .map(|replica| {
                    Controller::start(
                        &sim,
                        Arc::new(SyncWorkers {
                            sim: sim.clone(),
                            replica,
                        }),
                        crate::controllers::clustersync::NAME,
                        workers,
                    )
                })
                .collect();
            let shards = Shards(replicas.iter().map(|c| c.queue.clone()).collect());
            {
                let shards = shards.clone();
                pump(&sim, sim.def(defs::CD), move |e| {
                    shards.add(key_of(e.object.head()))
                });
            }
            Self::pump_sets(&sim, shards);
            (replicas, None)
        };
        let hive = Self {
            sim: sim.clone(),
            clusterdeployment,
            sync,
            syncset,
        };
        hive.watch_hiveconfig();
        hive.start_metrics_loop();
        hive
    }

    /// SelectorSyncSet changes enqueue the clusters its old or new selector matches; SyncSet
    /// changes enqueue the clusters they name.
    fn pump_sets(sim: &Arc<Sim>, q: Shards) {
        let (qq, s) = (q.clone(), sim.clone());
        pump(sim, sim.def(defs::SSS), move |e| {
            let selectors: Vec<Arc<SelectorSyncSet>> = std::iter::once(&e.object)
                .chain(e.prev.as_ref())
                .filter_map(typed)
                .collect();
            let mut keys: Vec<_> = s
                .store
                .list(&s.def(defs::CD), None, &ListQuery::default())
                .map(|l| l.items)
                .unwrap_or_default()
                .iter()
                .filter(|cd| {
                    let l = cd.head().labels();
                    selectors
                        .iter()
                        .any(|set| set.spec.cluster_deployment_selector.matches(&l))
                })
                .map(|cd| key_of(cd.head()))
                .collect();
            // Hive lists the matching ClusterDeployments from its informer cache, a Go map:
            // they are queued in no particular order, not by name (by name, the clusters
            // adopted together, and so due together, would be reached together).
            s.shuffle(&mut keys);
            for key in keys {
                qq.add(key);
            }
        });
        pump(sim, sim.def(defs::SS), move |e| {
            let ns = e.object.head().namespace().to_string();
            for set in std::iter::once(&e.object)
                .chain(e.prev.as_ref())
                .filter_map(typed::<SyncSet>)
            {
                for r in &set.spec.cluster_deployment_refs {
                    q.add((ns.clone(), r.name.clone()));
                }
            }
        });
    }

    /// HiveConfig `hive`'s `controllersConfig` sets the sync controller's workers, as in Hive.
    fn watch_hiveconfig(&self) {
        let (sim, sync) = (self.sim.clone(), self.sync.clone());
        let name = sim.pipeline.config_name();
        pump(
            &self.sim.clone(),
            self.sim.def(defs::HIVECONFIG),
            move |e| {
                if e.object.head().name() != "hive" {
                    return;
                }
                let spec = typed::<HiveConfig>(&e.object)
                    .map(|c| c.spec.clone())
                    .unwrap_or_default();
                let running = sim.replicas.len();
                if let Some(n) = spec.replicas(name)
                    && e.type_ != EventType::Deleted
                    && n.max(1) as usize != running
                {
                    // Replicas are fixed when the hub starts; saying so beats a silent no.
                    tracing::warn!(
                        "HiveConfig asks for {n} {name} replicas; the embedded hub keeps the \
                         {running} it was started with (hub --replicas, or the model's replicas)"
                    );
                }
                // The client towards the hub: HiveConfig's, else the model's.
                let client = match e.type_ {
                    EventType::Deleted => (None, None),
                    _ => (spec.client_qps(name), spec.client_burst(name)),
                };
                // Zero or less is unset, as client-go takes it.
                let client = (
                    client
                        .0
                        .filter(|q| *q > 0)
                        .map(f64::from)
                        .or(sim.model.hub_qps),
                    client
                        .1
                        .filter(|b| *b > 0)
                        .map_or(crate::model::HUB_CLIENT_BURST, |b| b as u32),
                );
                for r in &sim.replicas {
                    r.hub_client.set(client.0, client.1);
                }
                let workers = match (e.type_, spec.concurrent_reconciles(name)) {
                    (EventType::Deleted, _) | (_, None) => sim.model.workers,
                    (_, Some(n)) => n.max(1) as usize,
                };
                for (replica, controller) in sync.iter().enumerate() {
                    let rec = Arc::new(SyncWorkers {
                        sim: sim.clone(),
                        replica,
                    });
                    controller.set_workers(&sim, &rec, workers);
                }
            },
        );
    }

    /// Refreshes the workqueue gauges every 2 modeled minutes.
    fn start_metrics_loop(&self) {
        let (sim, queues) = (self.sim.clone(), self.queues());
        tokio::spawn(async move {
            loop {
                for q in &queues {
                    q.refresh_gauges();
                }
                // hive_selectorsyncset_clusters_* are computed when scraped (see hub.rs): scanning
                // every instance every 2 modeled minutes would cost more than the simulation.
                sim.clock.sleep(Duration::from_secs(120)).await;
            }
        });
    }

    fn queues(&self) -> Vec<Arc<crate::controllers::workqueue::WorkQueue<Key>>> {
        let mut v = vec![self.clusterdeployment.queue.clone()];
        v.extend(self.sync.iter().map(|c| c.queue.clone()));
        if let Some(s) = &self.syncset {
            v.push(s.queue.clone());
        }
        v
    }

    /// Keys waiting or being worked on in each replica's sync queue, by ordinal.
    pub fn pending_by_replica(&self) -> Vec<usize> {
        self.sync
            .iter()
            .map(|c| c.queue.len() + c.queue.in_progress())
            .collect()
    }

    /// Keys waiting or being worked on in the sync controller's queue (and the legacy syncset
    /// controller's).
    pub fn pending(&self) -> usize {
        self.queues()
            .iter()
            .skip(1)
            .map(|q| q.len() + q.in_progress())
            .sum()
    }

    /// A closure reporting [`SimulatedHive::pending`], for pollers that outlive a borrow.
    pub fn pending_counter(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let queues = self.queues();
        move || {
            queues
                .iter()
                .skip(1)
                .map(|q| q.len() + q.in_progress())
                .sum()
        }
    }

    /// The shared simulation state.
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }

    /// Refreshes gauges that are computed on scrape.
    pub fn refresh(&self) {
        for q in self.queues() {
            q.refresh_gauges();
        }
    }

    /// Stops handing out work.
    pub fn shutdown(&self) {
        for q in self.queues() {
            q.shutdown();
        }
    }
}

/// `hive_selectorsyncset_clusters_total` and `..._unapplied_total` from the ClusterSyncs (or,
/// in legacy mode, the SyncSetInstances).
pub fn refresh_selectorsyncset_gauges(sim: &Sim) {
    // Typed views of just the fields counted: deserializing them from the stored JSON skips
    // the rest, which is far cheaper than building whole trees for 60,000 instances.
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Named {
        name: String,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct SsiSpec {
        selector_sync_set_ref: Option<Named>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct SsiStatus {
        applied: bool,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Ssi {
        spec: SsiSpec,
        status: SsiStatus,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Entry {
        name: String,
        result: String,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct CsStatus {
        selector_sync_sets: Vec<Entry>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Cs {
        status: CsStatus,
    }
    let all = |def: (&str, &str, &str)| {
        sim.store
            .list(&sim.def(def), None, &ListQuery::default())
            .map(|l| l.items)
            .unwrap_or_default()
    };
    let mut totals: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    if sim.pipeline == Pipeline::SyncSetInstance {
        for ssi in all(defs::SSI) {
            let ssi: Ssi = serde_json::from_slice(ssi.json()).unwrap_or_default();
            if let Some(set) = ssi.spec.selector_sync_set_ref {
                let e = totals.entry(set.name).or_default();
                e.0 += 1;
                if !ssi.status.applied {
                    e.1 += 1;
                }
            }
        }
    } else {
        for cs in all(defs::CSYNC) {
            let cs: Cs = serde_json::from_slice(cs.json()).unwrap_or_default();
            for entry in cs.status.selector_sync_sets {
                let e = totals.entry(entry.name).or_default();
                e.0 += 1;
                if entry.result != "Success" {
                    e.1 += 1;
                }
            }
        }
    }
    for (name, (total, unapplied)) in totals {
        sim.metrics
            .selectorsyncset_clusters
            .get_or_create(&labels(&[("name", &name)]))
            .set(total);
        sim.metrics
            .selectorsyncset_unapplied
            .get_or_create(&labels(&[("name", &name)]))
            .set(unapplied);
    }
}

/// The sync controllers' queues, one per replica.
#[derive(Clone)]
struct Shards(Vec<Arc<crate::controllers::workqueue::WorkQueue<Key>>>);

impl Shards {
    /// Queues a ClusterDeployment on every replica, as every Hive pod's informer sees it.
    fn add(&self, key: Key) {
        for q in &self.0 {
            q.add(key.clone());
        }
    }
}

/// The sync controller's reconciler, rebuilt when HiveConfig changes the worker count.
struct SyncWorkers {
    sim: Arc<Sim>,
    replica: usize,
}

impl SyncWorkers {
    /// Whether the cluster `key` falls to this replica (by its UID, as in Hive). A cluster
    /// that does not exist is every replica's, to find nothing to do.
    fn owns(&self, (ns, name): &Key) -> bool {
        let sim = &self.sim;
        sim.replicas.len() == 1
            || sim
                .store
                .get_entry(&sim.def(defs::CD), ns, name)
                .map_or(true, |cd| sim.replica_for(cd.head().uid()) == self.replica)
    }
}

impl crate::controllers::runner::Reconciler<Key> for SyncWorkers {
    fn name(&self) -> &str {
        self.sim.pipeline.sync_controller()
    }
    fn pod(&self) -> Option<&str> {
        self.sim.replicas[self.replica].pod.as_deref()
    }
    fn reconcile(
        self: Arc<Self>,
        key: Key,
    ) -> futures::future::BoxFuture<'static, (crate::controllers::runner::Requeue, &'static str)>
    {
        if !self.owns(&key) {
            // Hive's other pods look the cluster up, see it is not theirs and return.
            return Box::pin(async { (crate::controllers::runner::Requeue::Done, "skipped-sync") });
        }
        self.sim
            .counters
            .sync_reconciles
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.sim.replicas[self.replica]
            .reconciles
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.sim.pipeline {
            Pipeline::SyncSetInstance => {
                SyncSetInstanceController::new(self.sim.clone()).reconcile(key)
            }
            Pipeline::ClusterSync => {
                ClusterSyncController::new(self.sim.clone(), self.replica).reconcile(key)
            }
        }
    }
}
