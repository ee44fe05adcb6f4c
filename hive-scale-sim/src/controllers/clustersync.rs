//! Current Hive's clustersync controller: one ClusterSync (and ClusterSyncLease) per cluster,
//! applying every matching SelectorSyncSet and SyncSet in order and recording the result.

use super::clusterdeployment::set_condition;
use super::runner::{Reconciler, Requeue};
use super::{Sim, annotation_true, defs, labels_of, meta_str};
use crate::apiserver::store::{Obj, WriteOptions};
use crate::metrics::labels;
use futures::future::BoxFuture;
use hive_scale_core::api::LabelSelector;
use hive_scale_core::labels::{FAKE_CLUSTER, SYNCSET_PAUSE};
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
}

/// Why a cluster is skipped before any work (Hive's pre-checks).
pub fn skip_reason(cd: &Value) -> Option<&'static str> {
    if cd.pointer("/metadata/deletionTimestamp").is_some() {
        return Some("deleting");
    }
    if !cd
        .pointer("/spec/installed")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Some("not installed");
    }
    if annotation_true(cd, SYNCSET_PAUSE)
        || cd
            .pointer("/metadata/annotations/hive.openshift.io~1relocate")
            .is_some()
    {
        return Some("paused");
    }
    let reachable = cd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Unreachable"))
        })
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("False"));
    if !reachable {
        return Some("unreachable");
    }
    None
}

/// A set that applies to a cluster.
#[derive(Debug, Clone)]
pub struct MatchedSet {
    /// The set.
    pub obj: Obj,
    /// `selectorSyncSets` or `syncSets`.
    pub selector: bool,
}

impl MatchedSet {
    /// Name of the set.
    pub fn name(&self) -> &str {
        meta_str(&self.obj, "name")
    }
    /// Its generation.
    pub fn generation(&self) -> i64 {
        self.obj
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1)
    }
    /// Upsert or Sync.
    pub fn sync_mode(&self) -> bool {
        self.obj
            .pointer("/spec/resourceApplyMode")
            .and_then(Value::as_str)
            == Some("Sync")
    }
}

/// The SelectorSyncSets whose selector matches `cd`, and the SyncSets that name it.
pub fn matching_sets(sim: &Sim, cd: &Value) -> Vec<MatchedSet> {
    let ns = meta_str(cd, "namespace");
    let name = meta_str(cd, "name");
    let cd_labels = labels_of(cd);
    let mut out: Vec<MatchedSet> = sim
        .list_cached(&sim.def(defs::SSS), None)
        .into_iter()
        .filter(|s| {
            let sel: LabelSelector = s
                .pointer("/spec/clusterDeploymentSelector")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            sel.matches(&cd_labels)
        })
        .map(|obj| MatchedSet {
            obj,
            selector: true,
        })
        .collect();
    out.extend(
        sim.list_cached(&sim.def(defs::SS), Some(ns))
            .into_iter()
            .filter(|s| {
                s.pointer("/spec/clusterDeploymentRefs")
                    .and_then(Value::as_array)
                    .is_some_and(|r| {
                        r.iter()
                            .any(|x| x.get("name").and_then(Value::as_str) == Some(name))
                    })
            })
            .map(|obj| MatchedSet {
                obj,
                selector: false,
            }),
    );
    out
}

/// Applies one set's resources in order; the first failure stops the set.
pub async fn apply_set(
    sim: &Sim,
    controller: &str,
    set: &MatchedSet,
    cd_key: &str,
    fake: bool,
) -> Result<(), String> {
    let cache = sim.set_cache(set.name(), set.generation(), &set.obj);
    let writer = format!("{}@{cd_key}", set.name());
    for r in &cache.resources {
        sim.apply_resource(controller, r, &writer, fake).await?;
    }
    Ok(())
}

/// Deletes what a Sync-mode set applied and no longer lists.
pub async fn delete_stale(sim: &Sim, controller: &str, stale: &[Value]) -> Result<(), String> {
    for r in stale {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        sim.delete_resource(
            controller,
            s("apiVersion"),
            s("kind"),
            r.get("namespace").and_then(Value::as_str),
            s("name"),
        )
        .await?;
    }
    Ok(())
}

impl ClusterSyncController {
    /// A controller over `sim`.
    pub fn new(sim: Arc<Sim>) -> Arc<Self> {
        Arc::new(Self { sim })
    }

    async fn run(self: Arc<Self>, (ns, name): (String, String)) -> (Requeue, &'static str) {
        let sim = &self.sim;
        let Ok(cd) = sim.get_cached(&sim.def(defs::CD), &ns, &name) else {
            return (Requeue::Done, "no-op");
        };
        if skip_reason(&cd).is_some() {
            return (Requeue::Done, "skipped-sync");
        }
        sim.cores.run(sim.model.reconcile_cpu()).await;
        let cs_def = sim.def(defs::CSYNC);
        let cs = match sim.hub.get(&cs_def, &ns, &name) {
            Ok(cs) => cs,
            Err(_) => {
                let owner = json!([{"apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment", "name": name, "uid": meta_str(&cd, "uid"), "blockOwnerDeletion": true}]);
                let body = json!({"apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync", "metadata": {"name": name, "namespace": ns, "ownerReferences": owner}, "spec": {}});
                let _ = sim
                    .hub_write(
                        NAME,
                        "POST",
                        "hiveinternal.openshift.io/v1alpha1/clustersyncs",
                        |s, o| s.create(&cs_def, &ns, body, o),
                    )
                    .await;
                return (Requeue::Soon, "clustersync-created");
            }
        };
        let lease_def = sim.def(defs::LEASE);
        let lease = sim.hub.get(&lease_def, &ns, &name).ok();
        let now_ts = sim.clock.now();
        let now = sim.clock.now_rfc3339();
        let interval = sim.jittered_interval();
        let renew_due = lease
            .as_ref()
            .and_then(|l| l.pointer("/spec/renewTime").and_then(Value::as_str))
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .and_then(|t| {
                t.checked_add(jiff::SignedDuration::try_from(interval).ok()?)
                    .ok()
            });
        let full_reapply = renew_due.is_none_or(|due| due <= now_ts);
        let sets = matching_sets(sim, &cd);
        let old_status = cs.get("status").cloned().unwrap_or_else(|| json!({}));
        let old_entries = |field: &str| -> BTreeMap<String, Value> {
            old_status
                .get(field)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| Some((e.get("name")?.as_str()?.to_string(), e.clone())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (mut old_sss, mut old_ss) = (old_entries("selectorSyncSets"), old_entries("syncSets"));
        let fake = annotation_true(&cd, FAKE_CLUSTER);
        let cd_key = format!("{ns}/{name}");
        let installed_at = cd
            .pointer("/status/installedTimestamp")
            .and_then(Value::as_str)
            .map(String::from);
        let had_first_success = old_status.get("firstSuccessTime").is_some();
        let (mut new_sss, mut new_ss) = (Vec::new(), Vec::new());
        let mut failures = Vec::new();
        let mut sorted = sets.clone();
        sorted.sort_by(|a, b| (a.selector, a.name()).cmp(&(b.selector, b.name())));
        for set in &sorted {
            let old = if set.selector {
                old_sss.remove(set.name())
            } else {
                old_ss.remove(set.name())
            };
            let needs = full_reapply
                || old.is_none()
                || old
                    .as_ref()
                    .and_then(|o| o.get("result"))
                    .and_then(Value::as_str)
                    != Some("Success")
                || old
                    .as_ref()
                    .and_then(|o| o.get("observedGeneration"))
                    .and_then(Value::as_i64)
                    != Some(set.generation());
            if !needs {
                let entry = old.expect("needs is true without an old entry");
                if set.selector {
                    new_sss.push(entry)
                } else {
                    new_ss.push(entry)
                }
                continue;
            }
            let mut result = apply_set(sim, NAME, set, &cd_key, fake).await;
            let refs = sim
                .set_cache(set.name(), set.generation(), &set.obj)
                .refs
                .clone();
            if result.is_ok() && set.sync_mode() {
                let previous: Vec<Value> = old
                    .as_ref()
                    .and_then(|o| o.get("resourcesToDelete"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let stale: Vec<Value> =
                    previous.into_iter().filter(|p| !refs.contains(p)).collect();
                result = delete_stale(sim, NAME, &stale).await;
            }
            let ok = result.is_ok();
            let old_result = old
                .as_ref()
                .and_then(|o| o.get("result"))
                .and_then(Value::as_str);
            let mut entry = json!({
                "name": set.name(),
                "observedGeneration": set.generation(),
                "result": if ok { "Success" } else { "Failure" },
                "lastTransitionTime": if old_result == Some(if ok { "Success" } else { "Failure" }) { old.as_ref().and_then(|o| o.get("lastTransitionTime")).cloned().unwrap_or_else(|| now.clone().into()) } else { now.clone().into() },
            });
            if let Err(msg) = &result {
                entry["failureMessage"] = msg.clone().into();
                failures.push(set.name().to_string());
            }
            match old.as_ref().and_then(|o| o.get("firstSuccessTime")) {
                Some(t) => entry["firstSuccessTime"] = t.clone(),
                None if ok => {
                    entry["firstSuccessTime"] = now.clone().into();
                    sim.counters
                        .set_first_successes
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if !had_first_success {
                        // Measured from the latest of: set created, cluster installed, cluster reachable.
                        let mut since: Vec<&str> = vec![meta_str(&set.obj, "creationTimestamp")];
                        if let Some(i) = &installed_at {
                            since.push(i);
                        }
                        let latest = since
                            .iter()
                            .filter_map(|t| sim.clock.seconds_since(t))
                            .fold(f64::INFINITY, f64::min);
                        if latest.is_finite() {
                            if set.selector {
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
                    }
                }
                None => {}
            }
            if set.sync_mode() {
                entry["resourcesToDelete"] = Value::Array(refs);
            }
            if set.selector {
                new_sss.push(entry)
            } else {
                new_ss.push(entry)
            }
        }
        // Sets that stopped matching: Sync mode removes what they applied.
        for gone in old_sss.values().chain(old_ss.values()) {
            if let Some(stale) = gone.get("resourcesToDelete").and_then(Value::as_array)
                && let Err(e) = delete_stale(sim, NAME, stale).await
            {
                failures.push(format!(
                    "{} (cleanup: {e})",
                    gone.get("name").and_then(Value::as_str).unwrap_or("")
                ));
            }
        }
        let mut status =
            json!({"selectorSyncSets": new_sss, "syncSets": new_ss, "controlledByReplica": 0});
        if new_sss.is_empty() {
            status
                .as_object_mut()
                .expect("object")
                .remove("selectorSyncSets");
        }
        if new_ss.is_empty() {
            status.as_object_mut().expect("object").remove("syncSets");
        }
        status["conditions"] = old_status
            .get("conditions")
            .cloned()
            .unwrap_or_else(|| json!([]));
        if failures.is_empty() {
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
                &format!("Failed to apply: {}", failures.join(", ")),
                &now,
            );
        }
        match old_status.get("firstSuccessTime") {
            Some(t) => status["firstSuccessTime"] = t.clone(),
            None if failures.is_empty() && installed_at.is_some() => {
                status["firstSuccessTime"] = now.clone().into();
                sim.counters
                    .cluster_first_successes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(secs) = installed_at
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
        if status != old_status {
            let mut updated = (*cs).clone();
            updated["status"] = status;
            let write = |s: &crate::apiserver::store::Store, o: &WriteOptions| {
                s.update(
                    &cs_def,
                    &ns,
                    &name,
                    updated,
                    &WriteOptions {
                        status: true,
                        ..o.clone()
                    },
                )
            };
            if sim
                .hub_write(
                    NAME,
                    "PUT",
                    "hiveinternal.openshift.io/v1alpha1/clustersyncs/status",
                    write,
                )
                .await
                .is_err()
            {
                return (Requeue::Error, "full-sync");
            }
        }
        if full_reapply {
            let renew = sim.clock.now();
            let renew = renew.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string();
            let owner = json!([{"apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync", "name": name, "uid": meta_str(&cs, "uid")}]);
            let body = json!({"apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSyncLease", "metadata": {"name": name, "namespace": ns, "ownerReferences": owner}, "spec": {"renewTime": renew}});
            let _ = sim
                .hub_write(
                    NAME,
                    "PATCH",
                    "hiveinternal.openshift.io/v1alpha1/clustersyncleases",
                    |s, o| {
                        s.patch(
                            &lease_def,
                            &ns,
                            &name,
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
        if !failures.is_empty() {
            return (Requeue::Error, "full-sync");
        }
        let next = if full_reapply {
            interval
        } else {
            renew_due
                .map(|d| {
                    Duration::from_secs_f64(
                        ((d.as_millisecond() - now_ts.as_millisecond()).max(0) as f64) / 1000.0,
                    )
                })
                .unwrap_or(interval)
        };
        (Requeue::After(next), "full-sync")
    }
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
