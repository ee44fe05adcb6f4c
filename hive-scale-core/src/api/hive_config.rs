use super::Extra;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Hive's operator configuration; only the object named `hive` is honoured.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "hive.openshift.io",
    version = "v1",
    kind = "HiveConfig",
    plural = "hiveconfigs",
    status = "HiveConfigStatus"
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct HiveConfigSpec {
    /// Per-controller concurrency and client limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controllers_config: Option<ControllersConfig>,
    /// Go duration between full re-applies of every set (default 2h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_set_reapply_interval: Option<String>,
    /// Fields not modelled here (targetNamespace, deleteProtection, metricsConfig, ...).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// `spec.controllersConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControllersConfig {
    /// Applies to every controller without its own entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ControllerConfig>,
    /// Per-controller overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controllers: Vec<SpecificControllerConfig>,
}

/// One entry of `controllersConfig.controllers`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpecificControllerConfig {
    /// Controller name, e.g. `clustersync`.
    #[serde(default)]
    pub name: String,
    /// Its settings.
    #[serde(default)]
    pub config: ControllerConfig,
}

/// Settings of one controller.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ControllerConfig {
    /// Workers (goroutines) of the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_reconciles: Option<i32>,
    /// Client QPS towards the hub.
    #[serde(default, rename = "clientQPS", skip_serializing_if = "Option::is_none")]
    pub client_qps: Option<i32>,
    /// Client burst towards the hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_burst: Option<i32>,
    /// Workqueue QPS.
    #[serde(default, rename = "queueQPS", skip_serializing_if = "Option::is_none")]
    pub queue_qps: Option<i32>,
    /// Workqueue burst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_burst: Option<i32>,
    /// Replicas (StatefulSet controllers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Fields not modelled here (resources, ...).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

impl HiveConfigSpec {
    /// The `concurrentReconciles` Hive would use for `controller`: its own entry, then `default`.
    pub fn concurrent_reconciles(&self, controller: &str) -> Option<i32> {
        self.controller_setting(controller, |c| c.concurrent_reconciles)
    }

    /// The `clientQPS` Hive would give `controller`'s client towards the hub: its own entry,
    /// then `default`.
    pub fn client_qps(&self, controller: &str) -> Option<i32> {
        self.controller_setting(controller, |c| c.client_qps)
    }

    /// The `clientBurst` Hive would give `controller`'s client: its own entry, then `default`.
    pub fn client_burst(&self, controller: &str) -> Option<i32> {
        self.controller_setting(controller, |c| c.client_burst)
    }

    fn controller_setting(
        &self,
        controller: &str,
        get: impl Fn(&ControllerConfig) -> Option<i32>,
    ) -> Option<i32> {
        let cc = self.controllers_config.as_ref()?;
        cc.controllers
            .iter()
            .find(|c| c.name == controller)
            .and_then(|c| get(&c.config))
            .or_else(|| cc.default.as_ref().and_then(&get))
    }

    /// The `replicas` HiveConfig gives `controller`'s own entry (Hive honours it only for its
    /// StatefulSet controllers, clustersync and machinepool).
    pub fn replicas(&self, controller: &str) -> Option<i32> {
        self.controllers_config
            .as_ref()?
            .controllers
            .iter()
            .find(|c| c.name == controller)?
            .config
            .replicas
    }
}

/// HiveConfig status, kept verbatim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct HiveConfigStatus {
    /// Whatever the operator wrote.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}
