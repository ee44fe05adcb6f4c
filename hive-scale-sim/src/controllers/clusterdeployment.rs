//! The clusterdeployment controller, as far as adopted clusters need it: installedTimestamp,
//! platform labels, the deprovision finalizer, and the `Unreachable` condition (False when the
//! admin kubeconfig names the embedded spoke, or the cluster is a fake cluster).

use super::runner::{Reconciler, Requeue};
use super::{Sim, annotation_true, decode, defs};
use crate::apiserver::store::WriteOptions;
use futures::future::BoxFuture;
use hive_scale_core::api::{ClusterDeployment, Condition};
use hive_scale_core::labels::{DEPROVISION_FINALIZER, FAKE_CLUSTER};
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The controller's name in metrics.
pub const NAME: &str = "clusterdeployment";

/// The reconciler.
#[derive(Debug)]
pub struct ClusterDeploymentController {
    sim: Arc<Sim>,
}

impl ClusterDeploymentController {
    /// A controller over `sim`.
    pub fn new(sim: Arc<Sim>) -> Arc<Self> {
        Arc::new(Self { sim })
    }

    /// Whether Hive could reach the cluster behind `cd`.
    fn reachable(&self, cd: &ClusterDeployment, ns: &str) -> bool {
        if annotation_true(&cd.metadata, FAKE_CLUSTER) {
            return true;
        }
        let Some(spoke) = &self.sim.spoke else {
            return false;
        };
        let secret_name = cd
            .spec
            .cluster_metadata
            .as_ref()
            .map_or("", |m| m.admin_kubeconfig_secret_ref.name.as_str());
        let Some(secret) = self
            .sim
            .store
            .get_entry(&self.sim.def(defs::SECRET), ns, secret_name)
            .ok()
            .and_then(|e| decode::<Secret>(&e))
        else {
            return false;
        };
        let Some(bytes) = secret.data.as_ref().and_then(|d| d.get("kubeconfig")) else {
            return false;
        };
        let Ok(kc) = kube::config::Kubeconfig::from_yaml(&String::from_utf8_lossy(&bytes.0)) else {
            return false;
        };
        let current = kc.current_context.clone().unwrap_or_default();
        let cluster = kc
            .contexts
            .iter()
            .find(|c| c.name == current)
            .and_then(|c| c.context.as_ref())
            .map(|c| c.cluster.clone())
            .unwrap_or_default();
        kc.clusters
            .iter()
            .find(|c| c.name == cluster)
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.as_deref())
            .is_some_and(|s| s.trim_end_matches('/') == spoke.url.trim_end_matches('/'))
    }

    async fn run(self: Arc<Self>, (ns, name): (String, String)) -> (Requeue, &'static str) {
        let sim = &self.sim;
        let def = sim.def(defs::CD);
        let Some(cd) = sim.cluster_deployment(&ns, &name) else {
            return (Requeue::Done, "no-op");
        };
        let finalizers = cd.metadata.finalizers.as_deref().unwrap_or_default();
        let has_finalizer = finalizers.iter().any(|f| f == DEPROVISION_FINALIZER);
        if cd.metadata.deletion_timestamp.is_some() {
            if has_finalizer {
                if !cd.preserves_on_delete() {
                    sim.metrics.sim_deprovisions.inc();
                    let infra_id = cd
                        .spec
                        .cluster_metadata
                        .as_ref()
                        .map_or("", |m| m.infra_id.as_str());
                    tracing::warn!(cluster = %format!("{ns}/{name}"), infra_id, "a real Hive would now deprovision this cluster");
                }
                let mut updated = (*cd).clone();
                updated.metadata.finalizers = Some(
                    finalizers
                        .iter()
                        .filter(|f| *f != DEPROVISION_FINALIZER)
                        .cloned()
                        .collect(),
                );
                let _ = sim
                    .hub_write(
                        NAME,
                        "PUT",
                        "hive.openshift.io/v1/clusterdeployments",
                        |s, o| s.update(&def, &ns, &name, to_value(&updated), o),
                    )
                    .await;
            }
            return (Requeue::Done, "no-op");
        }
        if !cd.spec.installed {
            return (Requeue::Done, "no-op");
        }
        // Main resource: finalizer and platform labels (all it changes is metadata).
        let mut main = (*cd).clone();
        if !has_finalizer {
            main.metadata
                .finalizers
                .get_or_insert_with(Vec::new)
                .push(DEPROVISION_FINALIZER.to_string());
        }
        let labels = main.metadata.labels.get_or_insert_with(Default::default);
        labels.insert(PLATFORM_LABEL.into(), cd.spec.platform.label_value().into());
        if let Some(aws) = cd
            .spec
            .platform
            .aws
            .as_ref()
            .filter(|a| !a.region.is_empty())
        {
            labels.insert(REGION_LABEL.into(), aws.region.clone());
        }
        let mut current = cd.clone();
        if main.metadata != cd.metadata {
            match sim
                .hub_write(
                    NAME,
                    "PUT",
                    "hive.openshift.io/v1/clusterdeployments",
                    |s, o| s.update(&def, &ns, &name, to_value(&main), o),
                )
                .await
            {
                // What the write stored: no other writer runs between it and this read.
                Ok(_) => match sim.cluster_deployment(&ns, &name) {
                    Some(stored) => current = stored,
                    None => return (Requeue::Soon, "no-op"),
                },
                Err(e) if e.code == 409 || e.code == 404 => return (Requeue::Soon, "no-op"),
                Err(_) => return (Requeue::Error, "unspecified"),
            }
        }
        // Status: installedTimestamp and conditions.
        let reachable = self.reachable(&current, &ns);
        let now = sim.clock.now_rfc3339();
        let mut status = current.status.clone().unwrap_or_default();
        if status.installed_timestamp.is_none() {
            status.installed_timestamp = current
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string());
        }
        let (unreachable, reason, message) = if reachable {
            ("False", "ClusterReachable", "cluster is reachable")
        } else {
            (
                "True",
                "ErrorConnectingToCluster",
                "cannot connect to the cluster's API server",
            )
        };
        let conditions = &mut status.conditions;
        set_typed_condition(
            conditions,
            "Unreachable",
            unreachable,
            reason,
            message,
            &now,
        );
        set_typed_condition(
            conditions,
            "Provisioned",
            "True",
            "Provisioned",
            "cluster is provisioned",
            &now,
        );
        if current.status.as_ref() != Some(&status) {
            let mut with_status = (*current).clone();
            with_status.status = Some(status);
            let opts_status = |s: &crate::apiserver::store::Store, o: &WriteOptions| {
                let o = WriteOptions {
                    status: true,
                    ..o.clone()
                };
                s.update(&def, &ns, &name, to_value(&with_status), &o)
            };
            if sim
                .hub_write(
                    NAME,
                    "PUT",
                    "hive.openshift.io/v1/clusterdeployments/status",
                    opts_status,
                )
                .await
                .is_err()
            {
                return (Requeue::Soon, "no-op");
            }
        }
        // Hive rechecks reachability every 2h for reachable clusters.
        let recheck = if reachable {
            Duration::from_secs(7200)
        } else {
            Duration::from_secs(60)
        };
        (Requeue::After(recheck), "full-sync")
    }
}

/// Hive's label of a cluster's platform.
const PLATFORM_LABEL: &str = "hive.openshift.io/cluster-platform";
/// Hive's label of an AWS cluster's region.
const REGION_LABEL: &str = "hive.openshift.io/cluster-region";

/// A ClusterDeployment as the body of a write.
fn to_value(cd: &ClusterDeployment) -> Value {
    serde_json::to_value(cd).expect("a decoded ClusterDeployment serializes")
}

/// Sets the condition `type_`, keeping its times when its status did not change (Hive's
/// `SetStatusCondition` with its "update only if changed" check).
fn set_typed_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
) {
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = Some(now.into());
                c.last_probe_time = Some(now.into());
            }
            c.status = status.into();
            c.reason = Some(reason.into());
            c.message = Some(message.into());
        }
        None => conditions.push(Condition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_probe_time: Some(now.into()),
            last_transition_time: Some(now.into()),
            extra: Default::default(),
        }),
    }
}

/// Sets a condition, keeping lastTransitionTime when the status did not change.
pub fn set_condition(
    status: &mut Value,
    type_: &str,
    value: &str,
    reason: &str,
    message: &str,
    now: &str,
) {
    if !status.get("conditions").is_some_and(Value::is_array) {
        status["conditions"] = json!([]);
    }
    let conds = status["conditions"].as_array_mut().expect("set above");
    match conds.iter_mut().find(|c| c.get("type").and_then(Value::as_str) == Some(type_)) {
        Some(c) => {
            if c.get("status").and_then(Value::as_str) != Some(value) {
                c["lastTransitionTime"] = now.into();
                c["lastProbeTime"] = now.into();
            }
            c["status"] = value.into();
            c["reason"] = reason.into();
            c["message"] = message.into();
        }
        None => conds.push(json!({"type": type_, "status": value, "reason": reason, "message": message, "lastProbeTime": now, "lastTransitionTime": now})),
    }
}

impl Reconciler<(String, String)> for ClusterDeploymentController {
    fn name(&self) -> &str {
        NAME
    }
    fn pod(&self) -> Option<&str> {
        self.sim.controllers_pod()
    }
    fn reconcile(
        self: Arc<Self>,
        key: (String, String),
    ) -> BoxFuture<'static, (Requeue, &'static str)> {
        Box::pin(self.run(key))
    }
}
