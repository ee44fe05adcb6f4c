//! The 2020 pipeline the report's numbers came from: the syncset controller keeps one
//! SyncSetInstance per (cluster, matching set), and the syncsetinstance controller applies each.

use super::clusterdeployment::set_condition;
use super::clustersync::{MatchedSet, apply_set, matching_sets, skip_reason};
use super::runner::{Reconciler, Requeue};
use super::{Sim, annotation_true, defs};
use super::{decode, typed};
use crate::apiserver::selector::LabelQuery;
use crate::apiserver::store::{ListQuery, WriteOptions};
use crate::metrics::labels;
use futures::future::BoxFuture;
use hive_scale_core::api::{ClusterDeployment, ResourceApplyMode, SyncSetInstance};
use hive_scale_core::error::chain;
use hive_scale_core::labels::FAKE_CLUSTER;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The syncset controller's name (2020).
pub const SYNCSET: &str = "syncset-controller";
/// The syncsetinstance controller's name (2020).
pub const SYNCSETINSTANCE: &str = hive_scale_core::api::Pipeline::SyncSetInstance.sync_controller();
const CD_LABEL: &str = "hive.openshift.io/cluster-deployment-name";

/// Name of the instance of `set` for cluster `cd`.
pub fn instance_name(cd: &str, set: &MatchedSet) -> String {
    if set.selector() {
        format!("{cd}-{}-selector-syncset", set.name())
    } else {
        format!("{cd}-{}-syncset", set.name())
    }
}

/// The SyncSetInstance the syncset controller wants for `cd` and `set`.
pub fn instance_object(sim: &Sim, cd: &ClusterDeployment, set: &MatchedSet) -> Value {
    let meta = &cd.metadata;
    let (ns, name) = (
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    );
    let (ref_field, set_label) = if set.selector() {
        (
            "selectorSyncSetRef",
            "hive.openshift.io/selector-syncset-name",
        )
    } else {
        ("syncSetRef", "hive.openshift.io/syncset-name")
    };
    json!({
        "apiVersion": "hive.openshift.io/v1", "kind": "SyncSetInstance",
        "metadata": {"name": instance_name(name, set), "namespace": ns, "labels": {CD_LABEL: name, set_label: set.name()},
            "ownerReferences": [{"apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment", "name": name, "uid": meta.uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"clusterDeploymentRef": {"name": name}, ref_field: {"name": set.name()}, "syncSetHash": spec_hash(sim, set),
            "resourceApplyMode": if set.sync_mode() { "Sync" } else { "Upsert" }},
    })
}

fn spec_hash(sim: &Sim, set: &MatchedSet) -> String {
    sim.set_cache(set).spec_hash.clone()
}

/// Creates, updates and deletes a cluster's SyncSetInstances.
#[derive(Debug)]
pub struct SyncSetController {
    sim: Arc<Sim>,
}

impl SyncSetController {
    /// A controller over `sim`.
    pub fn new(sim: Arc<Sim>) -> Arc<Self> {
        Arc::new(Self { sim })
    }

    async fn run(self: Arc<Self>, (ns, name): (String, String)) -> (Requeue, &'static str) {
        let sim = &self.sim;
        let Some(cd) = sim.cluster_deployment(&ns, &name) else {
            return (Requeue::Done, "no-op");
        };
        if cd.metadata.deletion_timestamp.is_some() || !cd.spec.installed {
            return (Requeue::Done, "no-op");
        }
        sim.replicas[0].cores.run(sim.model.reconcile_cpu()).await;
        let ssi_def = sim.def(defs::SSI);
        let q = ListQuery {
            labels: LabelQuery::parse(&format!("{CD_LABEL}={name}")).unwrap_or_default(),
            ..Default::default()
        };
        // Most reconciles only compare hashes: read just the spec hash from each stored instance
        // and parse a whole one only to update or delete it.
        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct Spec {
            sync_set_hash: Option<String>,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Lite {
            spec: Spec,
        }
        let existing: Vec<(String, Option<String>, crate::apiserver::store::Entry)> = sim
            .store
            .list(&ssi_def, Some(&ns), &q)
            .map(|l| l.items)
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                let lite: Lite = serde_json::from_slice(e.json()).unwrap_or_default();
                (e.head().name().to_string(), lite.spec.sync_set_hash, e)
            })
            .collect();
        let mut wanted = std::collections::BTreeSet::new();
        let mut failed = false;
        for set in matching_sets(sim, &cd) {
            let ssi_name = instance_name(&name, &set);
            wanted.insert(ssi_name.clone());
            let hash = spec_hash(sim, &set);
            let current = existing.iter().find(|(n, _, _)| *n == ssi_name);
            if current.is_some_and(|(_, h, _)| h.as_deref() == Some(hash.as_str())) {
                continue;
            }
            let current = current.map(|(_, _, e)| e.value());
            let mut body = instance_object(sim, &cd, &set);
            let result = match current {
                None => {
                    sim.hub_write(
                        SYNCSET,
                        "POST",
                        "hive.openshift.io/v1/syncsetinstances",
                        |s, o| s.create(&ssi_def, &ns, body, o),
                    )
                    .await
                }
                Some(c) => {
                    body["metadata"]["resourceVersion"] = c
                        .pointer("/metadata/resourceVersion")
                        .cloned()
                        .unwrap_or_default();
                    if let Some(st) = c.get("status") {
                        body["status"] = st.clone();
                    }
                    sim.hub_write(
                        SYNCSET,
                        "PUT",
                        "hive.openshift.io/v1/syncsetinstances",
                        |s, o| s.update(&ssi_def, &ns, &ssi_name, body, o),
                    )
                    .await
                }
            };
            failed |= result.is_err_and(|e| e.code != 409);
        }
        for (stale_name, _, stale) in existing.iter().filter(|(n, _, _)| !wanted.contains(n)) {
            if let Some(stale) = decode::<SyncSetInstance>(stale)
                && stale.spec.resource_apply_mode == Some(ResourceApplyMode::Sync)
            {
                let refs = stale
                    .status
                    .as_ref()
                    .map(|s| s.resources.as_slice())
                    .unwrap_or_default();
                let _ =
                    super::clustersync::delete_stale(sim, SYNCSET, &format!("{ns}/{name}"), refs)
                        .await;
            }
            let _ = sim
                .hub_write(
                    SYNCSET,
                    "DELETE",
                    "hive.openshift.io/v1/syncsetinstances",
                    |s, _| s.delete(&ssi_def, &ns, stale_name, &Default::default(), false),
                )
                .await;
        }
        if failed {
            (Requeue::Error, "full-sync")
        } else {
            (Requeue::Done, "full-sync")
        }
    }
}

impl Reconciler<(String, String)> for SyncSetController {
    fn name(&self) -> &str {
        SYNCSET
    }
    fn reconcile(
        self: Arc<Self>,
        key: (String, String),
    ) -> BoxFuture<'static, (Requeue, &'static str)> {
        Box::pin(self.run(key))
    }
}

/// Applies one SyncSetInstance.
#[derive(Debug)]
pub struct SyncSetInstanceController {
    sim: Arc<Sim>,
}

impl SyncSetInstanceController {
    /// A controller over `sim`.
    pub fn new(sim: Arc<Sim>) -> Arc<Self> {
        Arc::new(Self { sim })
    }

    async fn run(self: Arc<Self>, (ns, ssi_name): (String, String)) -> (Requeue, &'static str) {
        let sim = &self.sim;
        let ssi_def = sim.def(defs::SSI);
        let Ok(ssi) = sim.store.get(&ssi_def, &ns, &ssi_name) else {
            return (Requeue::Done, "no-op");
        };
        let cd_name = ssi
            .pointer("/spec/clusterDeploymentRef/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(cd) = sim.cluster_deployment(&ns, &cd_name) else {
            return (Requeue::Done, "no-op");
        };
        if skip_reason(&cd).is_some() {
            return (Requeue::Done, "no-op");
        }
        let set = match ssi
            .pointer("/spec/selectorSyncSetRef/name")
            .and_then(Value::as_str)
        {
            Some(n) => sim
                .store
                .get_entry(&sim.def(defs::SSS), "", n)
                .ok()
                .and_then(|e| typed(&e))
                .map(MatchedSet::Selector),
            None => ssi
                .pointer("/spec/syncSetRef/name")
                .and_then(Value::as_str)
                .and_then(|n| sim.store.get_entry(&sim.def(defs::SS), &ns, n).ok())
                .and_then(|e| typed(&e))
                .map(MatchedSet::Plain),
        };
        let Some(set) = set else {
            return (Requeue::Done, "no-op");
        };
        let now = sim.clock.now_rfc3339();
        let interval = sim.jittered_interval();
        let status = ssi.get("status").cloned().unwrap_or_else(|| json!({}));
        let hash = ssi
            .pointer("/spec/syncSetHash")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let last = status
            .get("conditions")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some("ApplySuccess"))
            })
            .and_then(|c| c.get("lastProbeTime").and_then(Value::as_str))
            .and_then(|t| sim.clock.seconds_since(t));
        let applied = status
            .get("applied")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let due = last.is_none_or(|secs| secs >= interval.as_secs_f64());
        if applied
            && status.get("syncSetHash").and_then(Value::as_str) == Some(hash.as_str())
            && !due
        {
            let left = interval.as_secs_f64() - last.unwrap_or(0.0);
            return (
                Requeue::After(Duration::from_secs_f64(left.max(1.0))),
                "no-op",
            );
        }
        sim.replicas[0].cores.run(sim.model.reconcile_cpu()).await;
        let fake = annotation_true(&cd.metadata, FAKE_CLUSTER);
        let cluster = format!("{ns}/{cd_name}");
        let target = super::ApplyTarget {
            cluster: &cluster,
            fake,
            first: false,
        };
        let result = apply_set(sim, &sim.replicas[0], SYNCSETINSTANCE, &set, target).await;
        let ok = result.is_ok();
        let mut new_status = status.clone();
        new_status["applied"] = ok.into();
        new_status["syncSetHash"] = hash.into();
        let resources = sim.set_cache(&set).statuses.clone();
        new_status["resources"] = json!(resources);
        if ok {
            set_condition(
                &mut new_status,
                "ApplySuccess",
                "True",
                "ApplySucceeded",
                "Apply successful",
                &now,
            );
            // The probe time marks the last full apply, for the re-apply interval.
            if let Some(c) = new_status["conditions"]
                .as_array_mut()
                .and_then(|cs| cs.iter_mut().find(|c| c["type"] == "ApplySuccess"))
            {
                c["lastProbeTime"] = now.clone().into();
            }
            if status.get("firstSuccessTimestamp").is_none() {
                new_status["firstSuccessTimestamp"] = now.clone().into();
                sim.counters
                    .set_first_successes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let installed = cd
                    .status
                    .as_ref()
                    .and_then(|s| s.installed_timestamp.as_deref());
                let since = set
                    .created()
                    .map(|t| sim.clock.seconds_since_time(t))
                    .into_iter()
                    .chain(installed.and_then(|t| sim.clock.seconds_since(t)))
                    .fold(f64::INFINITY, f64::min);
                if since.is_finite() {
                    sim.metrics
                        .selectorsyncset_apply_duration
                        .get_or_create(&labels(&[("name", set.name())]))
                        .observe(since.max(0.0));
                }
            }
        } else {
            set_condition(
                &mut new_status,
                "ApplySuccess",
                "False",
                "ApplyFailed",
                &match &result {
                    Err(e) => chain(e),
                    Ok(()) => String::new(),
                },
                &now,
            );
        }
        let mut updated = (*ssi).clone();
        updated["status"] = new_status;
        let write = |s: &crate::apiserver::store::Store, o: &WriteOptions| {
            s.update(
                &ssi_def,
                &ns,
                &ssi_name,
                updated,
                &WriteOptions {
                    status: true,
                    ..o.clone()
                },
            )
        };
        let written = sim
            .hub_write(
                SYNCSETINSTANCE,
                "PUT",
                "hive.openshift.io/v1/syncsetinstances/status",
                write,
            )
            .await;
        match (ok, written) {
            (true, Ok(_)) => (Requeue::After(interval), "full-sync"),
            (_, Err(e)) if e.code == 409 => (Requeue::Soon, "full-sync"),
            _ => (Requeue::Error, "full-sync"),
        }
    }
}

impl Reconciler<(String, String)> for SyncSetInstanceController {
    fn name(&self) -> &str {
        SYNCSETINSTANCE
    }
    fn reconcile(
        self: Arc<Self>,
        key: (String, String),
    ) -> BoxFuture<'static, (Requeue, &'static str)> {
        Box::pin(self.run(key))
    }
}
