//! The clusterdeployment controller, as far as adopted clusters need it: installedTimestamp,
//! platform labels, the deprovision finalizer, and the `Unreachable` condition (False when the
//! admin kubeconfig names the embedded spoke, or the cluster is a fake cluster).

use super::runner::{Reconciler, Requeue};
use super::{Sim, annotation_true, defs, meta_str};
use crate::apiserver::store::WriteOptions;
use base64::Engine as _;
use futures::future::BoxFuture;
use hive_scale_core::labels::{DEPROVISION_FINALIZER, FAKE_CLUSTER};
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
    fn reachable(&self, cd: &Value, ns: &str) -> bool {
        if annotation_true(cd, FAKE_CLUSTER) {
            return true;
        }
        let Some(spoke) = &self.sim.spoke else {
            return false;
        };
        let secret_name = cd
            .pointer("/spec/clusterMetadata/adminKubeconfigSecretRef/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Ok(secret) = self
            .sim
            .hub
            .get(&self.sim.def(defs::SECRET), ns, secret_name)
        else {
            return false;
        };
        let Some(b64) = secret.pointer("/data/kubeconfig").and_then(Value::as_str) else {
            return false;
        };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return false;
        };
        let Ok(kc) = kube::config::Kubeconfig::from_yaml(&String::from_utf8_lossy(&bytes)) else {
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
        let Ok(cd) = sim.hub.get(&def, &ns, &name) else {
            return (Requeue::Done, "no-op");
        };
        let finalizers: Vec<String> = cd
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if cd.pointer("/metadata/deletionTimestamp").is_some() {
            if finalizers.iter().any(|f| f == DEPROVISION_FINALIZER) {
                if !cd
                    .pointer("/spec/preserveOnDelete")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    sim.metrics.sim_deprovisions.inc();
                    let infra_id = cd
                        .pointer("/spec/clusterMetadata/infraID")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    tracing::warn!(cluster = %format!("{ns}/{name}"), infra_id, "a real Hive would now deprovision this cluster");
                }
                let mut updated = (*cd).clone();
                updated["metadata"]["finalizers"] = json!(
                    finalizers
                        .iter()
                        .filter(|f| *f != DEPROVISION_FINALIZER)
                        .collect::<Vec<_>>()
                );
                let _ = sim
                    .hub_write(
                        NAME,
                        "PUT",
                        "hive.openshift.io/v1/clusterdeployments",
                        |s, o| s.update(&def, &ns, &name, updated, o),
                    )
                    .await;
            }
            return (Requeue::Done, "no-op");
        }
        if !cd
            .pointer("/spec/installed")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            return (Requeue::Done, "no-op");
        }
        // Main resource: finalizer and platform label.
        let mut main = (*cd).clone();
        if !finalizers.iter().any(|f| f == DEPROVISION_FINALIZER) {
            let mut f = finalizers.clone();
            f.push(DEPROVISION_FINALIZER.to_string());
            main["metadata"]["finalizers"] = json!(f);
        }
        let platform = match cd
            .pointer("/spec/platform")
            .and_then(Value::as_object)
            .and_then(|p| p.keys().next())
        {
            Some(p) if p == "none" => "none-platform".to_string(),
            Some(p) => p.clone(),
            None => "unknown".to_string(),
        };
        main["metadata"]["labels"]["hive.openshift.io/cluster-platform"] = platform.into();
        if let Some(region) = cd
            .pointer("/spec/platform/aws/region")
            .and_then(Value::as_str)
        {
            main["metadata"]["labels"]["hive.openshift.io/cluster-region"] = region.into();
        }
        let mut current = cd.clone();
        if main != *cd {
            match sim
                .hub_write(
                    NAME,
                    "PUT",
                    "hive.openshift.io/v1/clusterdeployments",
                    |s, o| s.update(&def, &ns, &name, main, o),
                )
                .await
            {
                Ok((obj, _)) => current = obj,
                Err(e) if e.code == 409 || e.code == 404 => return (Requeue::Soon, "no-op"),
                Err(_) => return (Requeue::Error, "unspecified"),
            }
        }
        // Status: installedTimestamp and conditions.
        let reachable = self.reachable(&current, &ns);
        let now = sim.clock.now_rfc3339();
        let mut status = current.get("status").cloned().unwrap_or_else(|| json!({}));
        if status.get("installedTimestamp").is_none() {
            status["installedTimestamp"] = meta_str(&current, "creationTimestamp").into();
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
        set_condition(
            &mut status,
            "Unreachable",
            unreachable,
            reason,
            message,
            &now,
        );
        set_condition(
            &mut status,
            "Provisioned",
            "True",
            "Provisioned",
            "cluster is provisioned",
            &now,
        );
        if current.get("status") != Some(&status) {
            let mut with_status = (*current).clone();
            with_status["status"] = status;
            let opts_status = |s: &crate::apiserver::store::Store, o: &WriteOptions| {
                let o = WriteOptions {
                    status: true,
                    ..o.clone()
                };
                s.update(&def, &ns, &name, with_status, &o)
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
