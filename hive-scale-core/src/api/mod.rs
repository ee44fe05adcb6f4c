//! Typed Hive resources.
//!
//! Each type derives [`kube::CustomResource`], so it works with `kube::Api` against any hub, and
//! its CRD ([`crds`]) comes from the same definition. Every struct keeps the fields it does not
//! model in an `extra` map, so a read-modify-write round trip never drops what a newer Hive wrote.

mod cluster_deployment;
mod cluster_image_set;
mod cluster_sync;
mod crd;
mod hive_config;
mod pipeline;
mod syncset;

pub use cluster_deployment::*;
pub use cluster_image_set::*;
pub use cluster_sync::*;
pub use crd::{crds, crds_yaml};
pub use hive_config::*;
pub use pipeline::Pipeline;
pub use syncset::*;

/// Fields a struct does not model, kept verbatim.
pub type Extra = std::collections::BTreeMap<String, serde_json::Value>;

/// A reference to an object by name, in the referrer's namespace (Kubernetes' `LocalObjectReference`).
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// Name of the referent.
    #[serde(default)]
    pub name: String,
}

impl LocalObjectReference {
    /// A reference to `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

/// A condition in Hive's shape (ClusterDeployment, ClusterSync, SyncSetInstance).
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct Condition {
    /// The condition's type, e.g. `Unreachable`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason of the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Last time the condition was probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<String>,
    /// Last time the status changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

pub(crate) mod schema {
    //! Schema fragments schemars cannot derive: free-form and embedded objects.
    use schemars::{Schema, SchemaGenerator, json_schema};

    /// An object whose fields the API server keeps as they are.
    pub fn free_object(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
    }

    /// An optional free-form object.
    pub fn free_object_opt(g: &mut SchemaGenerator) -> Schema {
        free_object(g)
    }

    /// A list of free-form objects.
    pub fn free_object_list(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}})
    }

    /// A list of complete Kubernetes objects (apiVersion, kind, metadata required).
    pub fn embedded_resources(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "array",
            "items": {
                "type": "object",
                "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true
            }
        })
    }
}
