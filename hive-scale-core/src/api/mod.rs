//! Typed Hive resources.
//!
//! Each type derives [`kube::CustomResource`], so it works with `kube::Api` against any hub, and
//! its CRD ([`crds`]) comes from the same definition. Every struct keeps the fields it does not
//! model in an `extra` map, so a read-modify-write round trip never drops what a newer Hive wrote.
//! A field Hive's schema requires is required in the CRD but defaults when decoding, as Go
//! decodes it: an object whose spec is absent (which Hive's schemas admit) still reads.

mod cluster_deployment;
mod cluster_image_set;
mod cluster_sync;
mod crd;
mod hive_config;
mod lenient;
mod pipeline;
mod syncset;

pub use cluster_deployment::*;
pub use cluster_image_set::*;
pub use cluster_sync::*;
pub use crd::{crds, crds_yaml};
pub use hive_config::*;
pub use lenient::{Lenient, Undecodable};
pub use pipeline::Pipeline;
pub use syncset::*;

/// A string field of Hive's whose usual values we name: any other value a hub holds is kept as
/// `Other`, so an object Hive admits always decodes (Hive's CRDs have no enum on some of these
/// fields, and its controllers compare the exact spelling: `sync` is not `Sync` to Hive).
/// `$allowed` is the CRD's `enum`, or empty where Hive's schema has none.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident, allowed [$($allowed:literal),*] {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value Hive's schema admits that has no name here, kept as written.
            Other(String),
        }

        impl $name {
            /// The value as Hive stores it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $text => Self::$variant, )+
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::from(s.as_ref()))
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let allowed: &[&str] = &[$($allowed),*];
                if allowed.is_empty() {
                    schemars::json_schema!({"type": "string"})
                } else {
                    schemars::json_schema!({"type": "string", "enum": allowed})
                }
            }
        }
    };
}
pub(crate) use open_enum;

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
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
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
