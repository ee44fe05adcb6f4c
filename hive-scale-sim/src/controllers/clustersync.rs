//! Current Hive's clustersync controller: one ClusterSync (and ClusterSyncLease) per cluster,
//! applying every matching SelectorSyncSet and SyncSet in order and recording the result.

use super::clusterdeployment::set_condition;
use super::runner::{Reconciler, Requeue};
use super::spoke::SpokeError;
use super::{ApplyTarget, Replica, Sim, annotation_true, defs, typed};
use crate::apiserver::store::{Obj, WriteOptions};
use crate::metrics::labels;
use futures::future::BoxFuture;
use hive_scale_core::api::{
    ClusterDeployment, ClusterSyncLease, ResourceApplyMode, SelectorSyncSet, SyncSet,
    SyncSetCommonSpec,
};
use hive_scale_core::error::chain;
use hive_scale_core::labels::{FAKE_CLUSTER, SYNCSET_PAUSE};
use kube::api::ObjectMeta;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The controller and workqueue name Hive uses.
pub const NAME: &str = hive_scale_core::api::Pipeline::ClusterSync.sync_controller();

/// The reconciler.
#[derive(Debug)]
pub struct ClusterSyncController {
    sim: Arc<Sim>,
    /// The replica (pod ordinal) this controller runs in.
    replica: usize,
}

/// Hive's annotation that a cluster is being moved to another hub: its sets wait.
const RELOCATE: &str = "hive.openshift.io/relocate";

/// Why a cluster is skipped before any work (Hive's pre-checks).
pub fn skip_reason(cd: &ClusterDeployment) -> Option<&'static str> {
    let meta = &cd.metadata;
    if meta.deletion_timestamp.is_some() {
        return Some("deleting");
    }
    if !cd.spec.installed {
        return Some("not installed");
    }
    if annotation_true(meta, SYNCSET_PAUSE)
        || meta
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(RELOCATE))
    {
        return Some("paused");
    }
    if !cd.is_reachable() {
        return Some("unreachable");
    }
    None
}

/// A set that applies to a cluster.
#[derive(Debug, Clone)]
pub enum MatchedSet {
    /// A SelectorSyncSet whose selector matches the cluster's labels.
    Selector(Arc<SelectorSyncSet>),
    /// A SyncSet in the cluster's namespace that names it.
    Plain(Arc<SyncSet>),
}

impl MatchedSet {
    /// Whether it is a SelectorSyncSet (`selectorSyncSets` in a ClusterSync's status) rather
    /// than a SyncSet (`syncSets`).
    pub fn selector(&self) -> bool {
        matches!(self, Self::Selector(_))
    }
    /// The set's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Self::Selector(s) => &s.metadata,
            Self::Plain(s) => &s.metadata,
        }
    }
    /// Name of the set.
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
    /// Its generation (1 when the server has not set one).
    pub fn generation(&self) -> i64 {
        self.metadata().generation.unwrap_or(1)
    }
    /// When it was created.
    pub fn created(&self) -> Option<jiff::Timestamp> {
        self.metadata().creation_timestamp.as_ref().map(|t| t.0)
    }
    /// What SelectorSyncSets and SyncSets share: resources, apply mode, patches.
    pub fn common(&self) -> &SyncSetCommonSpec {
        match self {
            Self::Selector(s) => &s.spec.common,
            Self::Plain(s) => &s.spec.common,
        }
    }
    /// Sync mode: what leaves the set is deleted from the cluster. Hive compares the exact
    /// spelling; anything else, `sync` included, is Upsert.
    pub fn sync_mode(&self) -> bool {
        self.common().resource_apply_mode == Some(ResourceApplyMode::Sync)
    }
    /// The spec as JSON, which a 2020 SyncSetInstance's `syncSetHash` hashes.
    pub fn spec_json(&self) -> String {
        let spec = match self {
            Self::Selector(s) => serde_json::to_string(&s.spec),
            Self::Plain(s) => serde_json::to_string(&s.spec),
        };
        spec.expect("a decoded spec serializes")
    }
}

/// The SelectorSyncSets whose selector matches `cd`, and the SyncSets that name it.
pub fn matching_sets(sim: &Sim, cd: &ClusterDeployment) -> Vec<MatchedSet> {
    let no_labels = BTreeMap::new();
    let cd_labels = cd.metadata.labels.as_ref().unwrap_or(&no_labels);
    let mut out: Vec<MatchedSet> = sim
        .selector_sync_sets()
        .into_iter()
        .filter(|s| s.spec.cluster_deployment_selector.matches(cd_labels))
        .map(MatchedSet::Selector)
        .collect();
    if let Some(ns) = cd.metadata.namespace.as_deref() {
        let name = cd.metadata.name.as_deref().unwrap_or_default();
        out.extend(
            sim.sync_sets(ns)
                .into_iter()
                .filter(|s| {
                    s.spec
                        .cluster_deployment_refs
                        .iter()
                        .any(|r| r.name == name)
                })
                .map(MatchedSet::Plain),
        );
    }
    out
}

/// Applies one set's resources in order; the first failure stops the set.
///
/// # Errors
///
/// The first resource the spoke refused.
pub async fn apply_set(
    sim: &Sim,
    replica: &Replica,
    controller: &str,
    set: &MatchedSet,
    target: ApplyTarget<'_>,
) -> Result<(), SpokeError> {
    let cache = sim.set_cache(set);
    let writer = format!("{}@{}", set.name(), target.cluster);
    for r in &cache.resources {
        sim.apply_resource(replica, controller, r, &writer, target)
            .await?;
    }
    Ok(())
}

/// Deletes what a Sync-mode set applied to the cluster `cd_key` and no longer lists.
///
/// # Errors
///
/// The first delete the spoke refused.
pub async fn delete_stale(
    sim: &Sim,
    controller: &str,
    cd_key: &str,
    stale: &[Value],
) -> Result<(), SpokeError> {
    for r in stale {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        sim.delete_resource(
            controller,
            cd_key,
            (s("apiVersion"), s("kind")),
            r.get("namespace").and_then(Value::as_str),
            s("name"),
        )
        .await?;
    }
    Ok(())
}

/// One reconcile's view of a cluster.
struct Cluster<'a> {
    ns: &'a str,
    name: &'a str,
    cd: Arc<ClusterDeployment>,
    /// `namespace/name`, the spoke writer's key.
    key: String,
    fake: bool,
    installed_at: Option<String>,
    /// The ClusterSync had `firstSuccessTime` before this reconcile.
    had_first_success: bool,
}

/// When the lease says the next full re-apply is due.
struct Lease {
    /// Modeled time the lease was read (the reconcile's start).
    read_at: jiff::Timestamp,
    full_reapply: bool,
    /// The lease's renew time: the last full re-apply.
    renewed: Option<jiff::Timestamp>,
    interval: Duration,
}

/// The per-set entries a reconcile wrote, and the sets that failed.
#[derive(Default)]
struct Applied {
    selector_sync_sets: Vec<Value>,
    sync_sets: Vec<Value>,
    failures: Vec<String>,
}

impl Applied {
    fn push(&mut self, selector: bool, entry: Value) {
        if selector {
            self.selector_sync_sets.push(entry)
        } else {
            self.sync_sets.push(entry)
        }
    }
}

fn entries_by_name<'a>(status: &'a Value, field: &str) -> BTreeMap<&'a str, &'a Value> {
    status
        .get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e.get("name")?.as_str()?, e)))
                .collect()
        })
        .unwrap_or_default()
}

fn str_field<'a>(entry: Option<&'a Value>, field: &str) -> Option<&'a str> {
    entry.and_then(|o| o.get(field)).and_then(Value::as_str)
}

impl ClusterSyncController {
    /// The controller of replica `replica` over `sim`.
    pub fn new(sim: Arc<Sim>, replica: usize) -> Arc<Self> {
        Arc::new(Self { sim, replica })
    }

    fn replica(&self) -> &Replica {
        &self.sim.replicas[self.replica]
    }

    async fn run(self: Arc<Self>, (ns, name): (String, String)) -> (Requeue, &'static str) {
        let sim = &self.sim;
        let Some(cd) = sim.cluster_deployment(&ns, &name) else {
            return (Requeue::Done, "no-op");
        };
        if skip_reason(&cd).is_some() {
            // Hive's skipped-sync means another replica's cluster; one it may not sync now is a
            // no-op.
            return (Requeue::Done, "no-op");
        }
        self.replica().cores.run(sim.model.reconcile_cpu()).await;
        // A real spoke's reconcile builds a new resource helper, which fetches the spoke's
        // OpenAPI schema for client-side apply's merge: a wait that holds the worker, not a
        // core.
        let fake = annotation_true(&cd.metadata, FAKE_CLUSTER);
        if !fake && sim.model.apply_mode == crate::model::ApplyMode::ClientSide {
            sim.clock
                .sleep(Duration::from_secs_f64(sim.model.reconcile_remote_latency))
                .await;
        }
        let Some(cs) = self.clustersync(&ns, &name, &cd).await else {
            // A fresh ClusterSync: Hive returns and comes back at once.
            return (Requeue::Soon, "clustersync-created");
        };
        let lease = self.lease(&ns, &name);
        // A ClusterSync's status lists every set's resources (tens of kB a cluster): it is
        // taken out of the object the store just decoded, not copied.
        let mut cs = Arc::unwrap_or_clone(cs);
        let old_status = match cs.get_mut("status").map(Value::take) {
            Some(s) if s.is_object() => s,
            _ => json!({}),
        };
        let cluster = Cluster {
            ns: &ns,
            name: &name,
            fake,
            key: format!("{ns}/{name}"),
            installed_at: cd
                .status
                .as_ref()
                .and_then(|s| s.installed_timestamp.clone()),
            had_first_success: old_status.get("firstSuccessTime").is_some(),
            cd,
        };
        let applied = self.apply_sets(&cluster, &lease, &old_status).await;
        let failed = !applied.failures.is_empty();
        let status = self.status(&cluster, applied, &old_status);
        let uid = cs["metadata"]["uid"].clone();
        if status != old_status && !self.write_status(&cluster, cs, status).await {
            return (Requeue::Error, "full-sync");
        }
        if lease.full_reapply {
            self.renew_lease(&cluster, uid).await;
        }
        if failed {
            return (Requeue::Error, "full-sync");
        }
        (self.next_renewal(&lease), "full-sync")
    }

    /// The cluster's ClusterSync, or `None` after creating it.
    async fn clustersync(&self, ns: &str, name: &str, cd: &ClusterDeployment) -> Option<Obj> {
        let sim = &self.sim;
        let cs_def = sim.def(defs::CSYNC);
        if let Ok(cs) = sim.store.get(&cs_def, ns, name) {
            return Some(cs);
        }
        let owner = json!([{"apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment", "name": name, "uid": cd.metadata.uid, "blockOwnerDeletion": true}]);
        let body = json!({"apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync", "metadata": {"name": name, "namespace": ns, "ownerReferences": owner}, "spec": {}});
        let _ = sim
            .hub_write_via(
                &self.replica().hub_client,
                NAME,
                "POST",
                "hiveinternal.openshift.io/v1alpha1/clustersyncs",
                |s, o| s.create(&cs_def, ns, body, o),
            )
            .await;
        None
    }

    /// Whether a full re-apply is due: no lease yet, or its renew time plus the jittered
    /// interval has passed.
    fn lease(&self, ns: &str, name: &str) -> Lease {
        let sim = &self.sim;
        let interval = sim.jittered_interval();
        let renewed = sim
            .store
            .get_entry(&sim.def(defs::LEASE), ns, name)
            .ok()
            .and_then(|l| typed::<ClusterSyncLease>(&l))
            .and_then(|l| l.spec.renew_time.parse::<jiff::Timestamp>().ok());
        let read_at = sim.clock.now();
        Lease {
            read_at,
            full_reapply: renewed
                .and_then(|t| due_after(t, interval))
                .is_none_or(|due| due <= read_at),
            renewed,
            interval,
        }
    }

    /// When to come back: after the interval following a full re-apply; else when the lease
    /// comes due, asked again with a jitter of its own (Hive draws it afresh on every call,
    /// so a cluster inside its jitter window is asked again and again until a draw says due).
    fn next_renewal(&self, lease: &Lease) -> Requeue {
        if lease.full_reapply {
            return Requeue::After(lease.interval);
        }
        let due = lease
            .renewed
            .and_then(|t| due_after(t, self.sim.jittered_interval()));
        match due {
            Some(due) if due > lease.read_at => Requeue::After(Duration::from_secs_f64(
                (due.as_millisecond() - lease.read_at.as_millisecond()) as f64 / 1000.0,
            )),
            Some(_) => Requeue::Soon,
            None => Requeue::After(lease.interval),
        }
    }

    /// Applies every matching set that needs it (in Hive's order), keeps the entries of those
    /// that do not, and cleans up after sets that stopped matching.
    async fn apply_sets(&self, c: &Cluster<'_>, lease: &Lease, old_status: &Value) -> Applied {
        let sim = &self.sim;
        let mut old_sss = entries_by_name(old_status, "selectorSyncSets");
        let mut old_ss = entries_by_name(old_status, "syncSets");
        let mut sets = matching_sets(sim, &c.cd);
        sets.sort_by(|a, b| (a.selector(), a.name()).cmp(&(b.selector(), b.name())));
        let mut applied = Applied::default();
        for set in &sets {
            let old = if set.selector() {
                old_sss.remove(set.name())
            } else {
                old_ss.remove(set.name())
            };
            let needs = lease.full_reapply
                || str_field(old, "result") != Some("Success")
                || old
                    .and_then(|o| o.get("observedGeneration"))
                    .and_then(Value::as_i64)
                    != Some(set.generation());
            let entry = match old {
                Some(entry) if !needs => entry.clone(),
                old => {
                    let (entry, failure) = self.apply_one(c, set, old).await;
                    applied.failures.extend(failure);
                    entry
                }
            };
            applied.push(set.selector(), entry);
        }
        // Sets that stopped matching: Sync mode removes what they applied.
        for gone in old_sss.values().chain(old_ss.values()) {
            if let Some(stale) = gone.get("resourcesToDelete").and_then(Value::as_array)
                && let Err(e) = delete_stale(sim, NAME, &c.key, stale).await
            {
                applied.failures.push(format!(
                    "{} (cleanup: {})",
                    gone.get("name").and_then(Value::as_str).unwrap_or(""),
                    chain(&e)
                ));
            }
        }
        applied
    }

    /// Applies one set and returns its status entry (and its name if it failed).
    async fn apply_one(
        &self,
        c: &Cluster<'_>,
        set: &MatchedSet,
        old: Option<&Value>,
    ) -> (Value, Option<String>) {
        let sim = &self.sim;
        // New to this cluster, or a new generation: its own API server has never seen this
        // content (a shared spoke may have, from another cluster).
        let first = str_field(old, "result") != Some("Success")
            || old
                .and_then(|o| o.get("observedGeneration"))
                .and_then(Value::as_i64)
                != Some(set.generation());
        let target = ApplyTarget {
            cluster: &c.key,
            fake: c.fake,
            first,
        };
        let mut result = apply_set(sim, self.replica(), NAME, set, target).await;
        let cache = sim.set_cache(set);
        if result.is_ok() && set.sync_mode() {
            let previous = old
                .and_then(|o| o.get("resourcesToDelete"))
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            // Nearly always the set still lists what it listed: one pass finds that, rather
            // than looking each previous resource up among the current ones.
            let stale: Vec<Value> = if previous == cache.refs.as_slice() {
                Vec::new()
            } else {
                previous
                    .iter()
                    .filter(|p| !cache.refs.contains(p))
                    .cloned()
                    .collect()
            };
            result = delete_stale(sim, NAME, &c.key, &stale).await;
        }
        let result_name = if result.is_ok() { "Success" } else { "Failure" };
        // Times are taken when the set's applies are done, not when the reconcile began: a
        // set's firstSuccessTime is when it reached the cluster.
        let now = sim.clock.now_rfc3339();
        // The transition time moves only when the result changes.
        let transition = match old.and_then(|o| o.get("lastTransitionTime")) {
            Some(t) if str_field(old, "result") == Some(result_name) => t.clone(),
            _ => now.clone().into(),
        };
        let mut entry = json!({
            "name": set.name(),
            "observedGeneration": set.generation(),
            "result": result_name,
            "lastTransitionTime": transition,
        });
        let failure = match &result {
            Err(e) => {
                entry["failureMessage"] = chain(e).into();
                Some(set.name().to_string())
            }
            Ok(()) => None,
        };
        match old.and_then(|o| o.get("firstSuccessTime")) {
            Some(t) => entry["firstSuccessTime"] = t.clone(),
            None if result.is_ok() => {
                entry["firstSuccessTime"] = now.into();
                self.first_success(c, set);
            }
            None => {}
        }
        if set.sync_mode() {
            entry["resourcesToDelete"] = Value::Array(cache.refs.clone());
        }
        (entry, failure)
    }

    /// Counts a (set, cluster) pair's first success and, while the cluster has never fully
    /// succeeded, observes the apply-duration histogram as Hive does.
    fn first_success(&self, c: &Cluster<'_>, set: &MatchedSet) {
        let sim = &self.sim;
        sim.counters
            .set_first_successes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if c.had_first_success {
            return;
        }
        // Measured from the latest of: set created, cluster installed.
        let latest = set
            .created()
            .map(|t| sim.clock.seconds_since_time(t))
            .into_iter()
            .chain(
                c.installed_at
                    .as_deref()
                    .and_then(|t| sim.clock.seconds_since(t)),
            )
            .fold(f64::INFINITY, f64::min);
        if !latest.is_finite() {
            return;
        }
        if set.selector() {
            sim.metrics
                .selectorsyncset_apply_duration
                .get_or_create(&labels(&[("name", set.name())]))
                .observe(latest.max(0.0));
        } else {
            sim.metrics
                .syncset_apply_duration
                .get_or_create(&labels(&[("group", "none")]))
                .observe(latest.max(0.0));
        }
    }

    /// The ClusterSync's new status: the entries, the `Failed` condition, `firstSuccessTime`.
    fn status(&self, c: &Cluster<'_>, applied: Applied, old_status: &Value) -> Value {
        let sim = &self.sim;
        // After every apply of the reconcile: the cluster's firstSuccessTime is when its last
        // set reached it.
        let now = sim.clock.now_rfc3339();
        let mut status = json!({});
        if !applied.selector_sync_sets.is_empty() {
            status["selectorSyncSets"] = Value::Array(applied.selector_sync_sets);
        }
        if !applied.sync_sets.is_empty() {
            status["syncSets"] = Value::Array(applied.sync_sets);
        }
        status["controlledByReplica"] = self.replica.into();
        status["conditions"] = old_status
            .get("conditions")
            .cloned()
            .unwrap_or_else(|| json!([]));
        if applied.failures.is_empty() {
            set_condition(
                &mut status,
                "Failed",
                "False",
                "Success",
                "All SyncSets and SelectorSyncSets have been applied to the cluster",
                &now,
            );
        } else {
            set_condition(
                &mut status,
                "Failed",
                "True",
                "Failure",
                &format!("Failed to apply: {}", applied.failures.join(", ")),
                &now,
            );
        }
        match old_status.get("firstSuccessTime") {
            Some(t) => status["firstSuccessTime"] = t.clone(),
            None if applied.failures.is_empty() && c.installed_at.is_some() => {
                status["firstSuccessTime"] = now.into();
                sim.counters
                    .cluster_first_successes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(secs) = c
                    .installed_at
                    .as_deref()
                    .and_then(|i| sim.clock.seconds_since(i))
                {
                    sim.metrics
                        .clustersync_first_success
                        .get_or_create(&Vec::new())
                        .observe(secs.max(0.0));
                }
            }
            None => {}
        }
        status
    }

    /// Writes the status; false if the hub refused.
    async fn write_status(&self, c: &Cluster<'_>, mut updated: Value, status: Value) -> bool {
        let sim = &self.sim;
        let cs_def = sim.def(defs::CSYNC);
        updated["status"] = status;
        let write = |s: &crate::apiserver::store::Store, o: &WriteOptions| {
            s.update(
                &cs_def,
                c.ns,
                c.name,
                updated,
                &WriteOptions {
                    status: true,
                    ..o.clone()
                },
            )
        };
        sim.hub_write_via(
            &self.replica().hub_client,
            NAME,
            "PUT",
            "hiveinternal.openshift.io/v1alpha1/clustersyncs/status",
            write,
        )
        .await
        .is_ok()
    }

    /// Records a full re-apply in the ClusterSyncLease.
    async fn renew_lease(&self, c: &Cluster<'_>, cs_uid: Value) {
        let sim = &self.sim;
        let lease_def = sim.def(defs::LEASE);
        let renew = sim
            .clock
            .now()
            .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
            .to_string();
        let owner = json!([{"apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync", "name": c.name, "uid": cs_uid}]);
        let body = json!({"apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSyncLease", "metadata": {"name": c.name, "namespace": c.ns, "ownerReferences": owner}, "spec": {"renewTime": renew}});
        let _ = sim
            .hub_write_via(
                &self.replica().hub_client,
                NAME,
                "PATCH",
                "hiveinternal.openshift.io/v1alpha1/clustersyncleases",
                |s, o| {
                    s.patch(
                        &lease_def,
                        c.ns,
                        c.name,
                        crate::apiserver::store::PatchKind::Apply,
                        body,
                        &WriteOptions {
                            force: true,
                            ..o.clone()
                        },
                    )
                },
            )
            .await;
    }
}

/// `renewed` plus `interval`.
fn due_after(renewed: jiff::Timestamp, interval: Duration) -> Option<jiff::Timestamp> {
    renewed
        .checked_add(jiff::SignedDuration::try_from(interval).ok()?)
        .ok()
}

impl Reconciler<(String, String)> for ClusterSyncController {
    fn name(&self) -> &str {
        NAME
    }
    fn reconcile(
        self: Arc<Self>,
        key: (String, String),
    ) -> BoxFuture<'static, (Requeue, &'static str)> {
        Box::pin(self.run(key))
    }
}
