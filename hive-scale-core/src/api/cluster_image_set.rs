use super::Extra;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A named OpenShift release image.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "hive.openshift.io",
    version = "v1",
    kind = "ClusterImageSet",
    plural = "clusterimagesets",
    shortname = "imgset",
    status = "ClusterImageSetStatus",
    printcolumn(name = "Release", type_ = "string", json_path = ".spec.releaseImage")
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterImageSetSpec {
    /// The release image pull spec.
    #[serde(default)]
    pub release_image: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// ClusterImageSet status (empty in current Hive).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterImageSetStatus {
    /// Whatever a Hive version wrote.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}
