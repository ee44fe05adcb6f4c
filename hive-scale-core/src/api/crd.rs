//! CustomResourceDefinitions generated from the types, for the embedded hub and for users.

use super::{
    ClusterDeployment, ClusterImageSet, ClusterSync, ClusterSyncLease, HiveConfig, SelectorSyncSet,
    SyncSet, SyncSetInstance,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The CRDs of every Hive resource this crate models, legacy SyncSetInstance included, with
/// Hive's constraints on the fields we model and none stricter (see [`as_hive_admits`]): what
/// a hub holding them admits, a hub holding Hive's own admits too.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        ClusterDeployment::crd(),
        SyncSet::crd(),
        SelectorSyncSet::crd(),
        ClusterImageSet::crd(),
        HiveConfig::crd(),
        SyncSetInstance::crd(),
        ClusterSync::crd(),
        ClusterSyncLease::crd(),
    ]
    .into_iter()
    .map(as_hive_admits)
    .collect()
}

/// Removes what the derived schemas say and Hive's do not, where it would refuse or change an
/// object Hive admits: a top-level `required: [spec]` (Hive requires neither spec nor
/// status), `nullable` and `null` in enums (Hive's API server drops a null instead of storing
/// it), and defaults (Hive's schemas default nothing we model but a reference's empty name,
/// which reads the same when absent).
fn as_hive_admits(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("nullable");
                m.remove("default");
                if let Some(serde_json::Value::Array(allowed)) = m.get_mut("enum") {
                    allowed.retain(|a| !a.is_null());
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        schema.required = None;
        let Ok(mut value) = serde_json::to_value(&*schema) else {
            continue;
        };
        strip(&mut value);
        if let Ok(stripped) = serde_json::from_value(value) {
            *schema = stripped;
        }
    }
    crd
}

/// [`crds`] as one multi-document YAML stream, ready for `kubectl apply -f -`.
pub fn crds_yaml() -> String {
    crds()
        .iter()
        .map(|crd| {
            let text = serde_saphyr::to_string(crd).expect("a CRD always serializes");
            format!("---\n{text}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(plural: &str) -> CustomResourceDefinition {
        crds()
            .into_iter()
            .find(|c| c.spec.names.plural == plural)
            .unwrap()
    }

    #[test]
    fn scopes_and_short_names_match_hive() {
        let expect = [
            ("clusterdeployments", "Namespaced", Some("cd"), true),
            ("syncsets", "Namespaced", Some("ss"), true),
            ("selectorsyncsets", "Cluster", Some("sss"), true),
            ("clusterimagesets", "Cluster", Some("imgset"), true),
            ("hiveconfigs", "Cluster", None, true),
            ("syncsetinstances", "Namespaced", Some("ssi"), true),
            ("clustersyncs", "Namespaced", Some("csync"), true),
            ("clustersyncleases", "Namespaced", Some("csl"), false),
        ];
        for (plural, scope, short, status) in expect {
            let c = crd(plural);
            assert_eq!(c.spec.scope, scope, "{plural}");
            let shorts = c.spec.names.short_names.clone().unwrap_or_default();
            assert_eq!(shorts.first().map(String::as_str), short, "{plural}");
            let v = &c.spec.versions[0];
            assert_eq!(
                v.subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some(),
                status,
                "{plural} status subresource"
            );
        }
    }

    #[test]
    fn schemas_keep_unknown_fields_and_require_what_hive_requires() {
        let c = crd("clusterdeployments");
        let schema = serde_json::to_value(&c.spec.versions[0].schema).unwrap();
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["x-kubernetes-preserve-unknown-fields"], true);
        let required: Vec<&str> = spec["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for field in ["clusterName", "baseDomain", "platform"] {
            assert!(
                required.contains(&field),
                "{field} not required: {required:?}"
            );
        }
        let sss = crd("selectorsyncsets");
        let schema = serde_json::to_value(&sss.spec.versions[0].schema).unwrap();
        let resources = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["resources"];
        assert_eq!(resources["items"]["x-kubernetes-embedded-resource"], true);
    }

    #[test]
    fn yaml_stream_parses_back() {
        let docs: Vec<CustomResourceDefinition> =
            serde_saphyr::from_multiple(&crds_yaml()).unwrap();
        assert_eq!(docs.len(), crds().len());
    }
}
