//! Store semantics, exercised without HTTP.

use super::*;

mod apply;
mod gc;
mod reads;
mod writes;

use crate::apiserver::selector::{FieldQuery, LabelQuery};
use serde_json::json;

fn store() -> Arc<Store> {
    Store::new(
        &hive_scale_core::api::crds(),
        StoreConfig {
            history_limit: 50,
            watch_buffer: 64,
            ..Default::default()
        },
    )
}

fn def(s: &Store, group: &str, version: &str, plural: &str) -> Arc<ResourceDef> {
    s.registry().lookup(group, version, plural).unwrap()
}

fn opts(manager: &str) -> WriteOptions {
    WriteOptions {
        field_manager: manager.into(),
        ..Default::default()
    }
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": data})
}

fn cd(name: &str) -> Value {
    json!({
        "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterName": name, "baseDomain": "example.com", "platform": {"none": {}}, "installed": true}
    })
}

fn rv(o: &Value) -> u64 {
    o["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}
