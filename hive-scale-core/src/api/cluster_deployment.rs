use super::{Condition, Extra, LocalObjectReference, schema};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A cluster Hive manages: installed by Hive or, as in the scale test, adopted.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "hive.openshift.io",
    version = "v1",
    kind = "ClusterDeployment",
    plural = "clusterdeployments",
    shortname = "cd",
    namespaced,
    status = "ClusterDeploymentStatus",
    printcolumn = r#"{"name":"InfraID","type":"string","jsonPath":".spec.clusterMetadata.infraID"}"#,
    printcolumn = r#"{"name":"Platform","type":"string","jsonPath":".metadata.labels.hive\\.openshift\\.io/cluster-platform"}"#,
    printcolumn = r#"{"name":"Installed","type":"boolean","jsonPath":".spec.installed"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterDeploymentSpec {
    /// The cluster's name, used in its DNS name.
    #[serde(default)]
    pub cluster_name: String,
    /// The base DNS domain of the cluster.
    #[serde(default)]
    pub base_domain: String,
    /// The cloud (or `none`) the cluster runs on; exactly one member is set.
    #[serde(default)]
    pub platform: Platform,
    /// Secret holding the pull secret (only read before install).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret_ref: Option<LocalObjectReference>,
    /// When true, deleting the ClusterDeployment leaves the cluster's infrastructure alone.
    #[serde(default)]
    pub preserve_on_delete: bool,
    /// Whether the cluster is installed (adopted clusters are). Go emits it always.
    #[serde(default)]
    pub installed: bool,
    /// Identity of an installed cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_metadata: Option<ClusterMetadata>,
    /// Install-time configuration (only meaningful before install).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_object_opt")]
    pub provisioning: Option<serde_json::Value>,
    /// Whether Hive manages the cluster's DNS.
    #[serde(default, rename = "manageDNS", skip_serializing_if = "Option::is_none")]
    pub manage_dns: Option<bool>,
    /// `""`, `Running` or `Hibernating`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
    /// Go duration after which a running cluster hibernates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hibernate_after: Option<String>,
    /// Fields not modelled here (controlPlaneConfig, ingress, clusterPoolRef, ...).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// The platform block: exactly one member is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct Platform {
    /// Amazon Web Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsPlatform>,
    /// No cloud integration (`none: {}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_object_opt")]
    pub none: Option<serde_json::Value>,
    /// Bare metal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_object_opt")]
    pub baremetal: Option<serde_json::Value>,
    /// Other platforms (azure, gcp, openstack, vsphere, ...), kept verbatim.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

impl Platform {
    /// The `none: {}` platform.
    pub fn none() -> Self {
        Self {
            none: Some(serde_json::json!({})),
            ..Default::default()
        }
    }

    /// An AWS platform in `region` whose credentials live in Secret `credentials`.
    pub fn aws(region: impl Into<String>, credentials: impl Into<String>) -> Self {
        Self {
            aws: Some(AwsPlatform {
                region: region.into(),
                credentials_secret_ref: Some(LocalObjectReference::new(credentials)),
                extra: Extra::new(),
            }),
            ..Default::default()
        }
    }

    /// Hive's value for the `hive.openshift.io/cluster-platform` label.
    pub fn label_value(&self) -> &str {
        if self.aws.is_some() {
            "aws"
        } else if self.none.is_some() {
            "none-platform"
        } else if self.baremetal.is_some() {
            "baremetal"
        } else {
            self.extra
                .keys()
                .next()
                .map(String::as_str)
                .unwrap_or("unknown")
        }
    }

    /// How many platform members are set (Hive's webhook wants exactly one).
    pub fn count(&self) -> usize {
        usize::from(self.aws.is_some())
            + usize::from(self.none.is_some())
            + usize::from(self.baremetal.is_some())
            + self.extra.len()
    }
}

/// `platform.aws`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct AwsPlatform {
    /// AWS region.
    #[serde(default)]
    pub region: String,
    /// Secret with `aws_access_key_id` and `aws_secret_access_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<LocalObjectReference>,
    /// Fields not modelled here (userTags, privateLink, credentialsAssumeRole, ...).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// `spec.clusterMetadata`: identity of an installed cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterMetadata {
    /// The cluster's ID.
    #[serde(default, rename = "clusterID")]
    pub cluster_id: String,
    /// The infrastructure ID (prefix of cloud resource names).
    #[serde(default, rename = "infraID")]
    pub infra_id: String,
    /// Secret holding the admin kubeconfig (key `kubeconfig`).
    #[serde(default)]
    pub admin_kubeconfig_secret_ref: LocalObjectReference,
    /// Secret holding the admin password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_secret_ref: Option<LocalObjectReference>,
    /// Secret holding metadata.json.
    #[serde(
        default,
        rename = "metadataJSONSecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata_json_secret_ref: Option<LocalObjectReference>,
    /// Fields not modelled here (platform, ...).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// ClusterDeployment status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterDeploymentStatus {
    /// When the cluster was installed; for adopted clusters, their creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_timestamp: Option<String>,
    /// The cluster's API URL.
    #[serde(default, rename = "apiURL", skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// The cluster's web console URL.
    #[serde(
        default,
        rename = "webConsoleURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub web_console_url: Option<String>,
    /// The installed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_version: Option<String>,
    /// Observed power state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
    /// Conditions (`Unreachable`, `Provisioned`, `SyncSetFailed`, `Hibernating`, `Ready`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

impl ClusterDeploymentStatus {
    /// The condition of type `type_`, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

impl ClusterDeployment {
    /// Whether deleting this ClusterDeployment leaves the cluster alone.
    pub fn preserves_on_delete(&self) -> bool {
        self.spec.preserve_on_delete
    }

    /// Whether the `Unreachable` condition exists and is `False` (clustersync's precondition).
    pub fn is_reachable(&self) -> bool {
        self.status
            .as_ref()
            .and_then(|s| s.condition("Unreachable"))
            .is_some_and(|c| c.status == "False")
    }
}
