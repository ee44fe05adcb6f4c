use super::{Condition, Extra};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Per-cluster sync state written by Hive's clustersync controller (spec is empty).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "hiveinternal.openshift.io",
    version = "v1alpha1",
    kind = "ClusterSync",
    plural = "clustersyncs",
    shortname = "csync",
    namespaced,
    status = "ClusterSyncStatus",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[0].reason"}"#,
    printcolumn = r#"{"name":"ControllerReplica","type":"string","jsonPath":".status.controlledByReplica"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterSyncSpec {
    /// Whatever a Hive version wrote.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

super::open_enum! {
    /// Result of the last apply of one (Selector)SyncSet to the cluster.
    SyncResult, allowed ["Success", "Failure"] {
        /// Everything applied.
        #[default]
        Success = "Success",
        /// Something failed.
        Failure = "Failure",
    }
}

/// A resource that Sync mode will delete from the spoke.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct SyncResourceReference {
    /// apiVersion of the resource.
    #[serde(default)]
    pub api_version: String,
    /// Kind of the resource (Hive's schema does not require it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the resource.
    #[serde(default)]
    pub name: String,
    /// Namespace of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Status of one (Selector)SyncSet on the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct SyncStatus {
    /// Name of the (Selector)SyncSet.
    #[serde(default)]
    pub name: String,
    /// Generation of the set that was last applied.
    #[serde(default)]
    pub observed_generation: i64,
    /// Success or Failure.
    #[serde(default)]
    pub result: SyncResult,
    /// Why the last apply failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// When `result` last changed.
    #[serde(default)]
    pub last_transition_time: String,
    /// First time the set applied successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_success_time: Option<String>,
    /// Resources Sync mode will delete when they leave the set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources_to_delete: Vec<SyncResourceReference>,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// ClusterSync status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterSyncStatus {
    /// SyncSets, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_sets: Vec<SyncStatus>,
    /// SelectorSyncSets, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selector_sync_sets: Vec<SyncStatus>,
    /// A single `Failed` condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// When every matching set had succeeded at least once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_success_time: Option<String>,
    /// Ordinal of the clustersync replica that last handled the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_by_replica: Option<i64>,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Records when a cluster's sets were last fully re-applied (no status subresource).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "hiveinternal.openshift.io",
    version = "v1alpha1",
    kind = "ClusterSyncLease",
    plural = "clustersyncleases",
    shortname = "csl",
    namespaced
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterSyncLeaseSpec {
    /// RFC 3339 time (microseconds) of the last full re-apply.
    #[serde(default)]
    pub renew_time: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}
