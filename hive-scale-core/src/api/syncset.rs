use super::{Condition, Extra, LocalObjectReference, schema};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

super::open_enum! {
    /// How resources that leave a (Selector)SyncSet are treated. Hive's CRD has no enum here:
    /// any string is admitted, and anything but `Sync` behaves as `Upsert`.
    ResourceApplyMode, allowed [] {
        /// Create or update only (Hive's default when empty).
        #[default]
        Upsert = "Upsert",
        /// Also delete what was applied before and is no longer listed.
        Sync = "Sync",
    }
}

impl std::str::FromStr for ResourceApplyMode {
    type Err = String;
    /// A command line's spelling: either case of each mode.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Upsert" | "upsert" => Ok(Self::Upsert),
            "Sync" | "sync" => Ok(Self::Sync),
            other => Err(format!(
                "resourceApplyMode must be Upsert or Sync, not {other:?}"
            )),
        }
    }
}

super::open_enum! {
    /// How each resource is written to the spoke (Hive's CRD admits `""` too, meaning Apply).
    ApplyBehavior, allowed ["", "Apply", "CreateOnly", "CreateOrUpdate"] {
        /// kubectl-style apply (Hive's default when empty).
        #[default]
        Apply = "Apply",
        /// Create if absent, never update.
        CreateOnly = "CreateOnly",
        /// Create, or overwrite without the last-applied annotation.
        CreateOrUpdate = "CreateOrUpdate",
    }
}

impl std::str::FromStr for ApplyBehavior {
    type Err = String;
    /// A command line's spelling: Hive's, or kebab case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Apply" | "apply" => Ok(Self::Apply),
            "CreateOnly" | "create-only" => Ok(Self::CreateOnly),
            "CreateOrUpdate" | "create-or-update" => Ok(Self::CreateOrUpdate),
            other => Err(format!(
                "applyBehavior must be Apply, CreateOnly or CreateOrUpdate, not {other:?}"
            )),
        }
    }
}

/// A patch applied to an existing object on the spoke.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct SyncObjectPatch {
    /// apiVersion of the patched object.
    #[serde(default)]
    pub api_version: String,
    /// Kind of the patched object.
    #[serde(default)]
    pub kind: String,
    /// Name of the patched object.
    #[serde(default)]
    pub name: String,
    /// Namespace of the patched object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The patch document.
    #[serde(default)]
    pub patch: String,
    /// `json`, `merge` or `strategic` (empty means strategic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// The spec both SyncSet and SelectorSyncSet inline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSetCommonSpec {
    /// Complete objects to apply, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::embedded_resources")]
    pub resources: Vec<serde_json::Value>,
    /// Upsert (default) or Sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_apply_mode: Option<ResourceApplyMode>,
    /// Apply (default), CreateOnly or CreateOrUpdate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_behavior: Option<ApplyBehavior>,
    /// Patches applied after the resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<SyncObjectPatch>,
    /// Secrets copied from the hub to the spoke.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::free_object_list")]
    pub secret_mappings: Vec<serde_json::Value>,
    /// Enables `{{ fromCDLabel "key" }}` in resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_resource_templates: Option<bool>,
    /// Enables `{{ fromCDLabel "key" }}` in patches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_patch_templates: Option<bool>,
}

/// A label selector (`matchLabels`, `matchExpressions`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must all be present with these values.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub match_labels: std::collections::BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement of a [`LabelSelector`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key.
    #[serde(default)]
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[serde(default)]
    pub operator: String,
    /// Values for In/NotIn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector. An empty selector matches everything, as in Kubernetes.
    pub fn matches(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => value.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }

    /// The selector in the query-string syntax (`a=b,c in (d)`), for list calls.
    pub fn to_query(&self) -> String {
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for r in &self.match_expressions {
            parts.push(match r.operator.as_str() {
                "In" => format!("{} in ({})", r.key, r.values.join(",")),
                "NotIn" => format!("{} notin ({})", r.key, r.values.join(",")),
                "Exists" => r.key.clone(),
                _ => format!("!{}", r.key),
            });
        }
        parts.join(",")
    }
}

/// Resources applied to every cluster whose labels match a selector, in any namespace.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "hive.openshift.io",
    version = "v1",
    kind = "SelectorSyncSet",
    plural = "selectorsyncsets",
    shortname = "sss",
    status = "SyncSetStatus"
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct SelectorSyncSetSpec {
    /// The shared syncset fields.
    #[serde(flatten)]
    pub common: SyncSetCommonSpec,
    /// Which ClusterDeployments the set applies to.
    #[serde(default)]
    pub cluster_deployment_selector: LabelSelector,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Resources applied to the named clusters in the SyncSet's namespace.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "hive.openshift.io",
    version = "v1",
    kind = "SyncSet",
    plural = "syncsets",
    shortname = "ss",
    namespaced,
    status = "SyncSetStatus"
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct SyncSetSpec {
    /// The shared syncset fields.
    #[serde(flatten)]
    pub common: SyncSetCommonSpec,
    /// The ClusterDeployments (same namespace) the set applies to.
    #[serde(default)]
    pub cluster_deployment_refs: Vec<LocalObjectReference>,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// SyncSet and SelectorSyncSet status: empty in current Hive, kept verbatim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct SyncSetStatus {
    /// Whatever a Hive version wrote.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Legacy (2020) per-cluster instance of a (Selector)SyncSet, removed from Hive in August 2020.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "hive.openshift.io",
    version = "v1",
    kind = "SyncSetInstance",
    plural = "syncsetinstances",
    shortname = "ssi",
    namespaced,
    status = "SyncSetInstanceStatus",
    printcolumn(name = "Applied", type_ = "boolean", json_path = ".status.applied")
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct SyncSetInstanceSpec {
    /// The cluster the instance applies to.
    #[serde(default)]
    pub cluster_deployment_ref: LocalObjectReference,
    /// The SyncSet it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_set_ref: Option<LocalObjectReference>,
    /// The SelectorSyncSet it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector_sync_set_ref: Option<LocalObjectReference>,
    /// Copied from the source set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_apply_mode: Option<ResourceApplyMode>,
    /// Hash of the source set's spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_set_hash: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Legacy SyncSetInstance status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct SyncSetInstanceStatus {
    /// Per-resource results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::free_object_list")]
    pub resources: Vec<serde_json::Value>,
    /// Conditions (ApplySuccess, ApplyFailure, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Whether everything applied.
    #[serde(default)]
    pub applied: bool,
    /// First time everything applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_success_timestamp: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}
