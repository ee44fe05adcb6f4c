//! CustomResourceDefinitions generated from the types, for the embedded hub and for users.

use super::{
    ClusterDeployment, ClusterImageSet, ClusterSync, ClusterSyncLease, HiveConfig, SelectorSyncSet,
    SyncSet, SyncSetInstance,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The CRDs of every Hive resource this crate models, legacy SyncSetInstance included, with
/// Hive's constraints on the fields we model and none stricter: what
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
    .map(require_what_hive_requires)
    .collect()
}

/// Where Hive's schemas require fields we model: (kind, JSON pointer into the
/// `openAPIV3Schema` of an object node, the fields it requires). Facts read from Hive's CRDs.
/// Our types decode those fields with defaults, as Go does (so an object whose spec is absent,
/// which Hive admits, still reads), which leaves the derived schemas without these lists.
pub(crate) const HIVE_REQUIRED: &[(&str, &str, &[&str])] = &[
    (
        "ClusterDeployment",
        "/properties/spec",
        &["baseDomain", "clusterName", "platform"],
    ),
    (
        "ClusterDeployment",
        "/properties/spec/properties/platform/properties/aws",
        &["region"],
    ),
    (
        "ClusterDeployment",
        "/properties/spec/properties/clusterMetadata",
        &["adminKubeconfigSecretRef", "clusterID", "infraID"],
    ),
    (
        "ClusterDeployment",
        "/properties/status/properties/conditions/items",
        &["status", "type"],
    ),
    (
        "SelectorSyncSet",
        "/properties/spec/properties/patches/items",
        &["apiVersion", "kind", "name", "patch"],
    ),
    (
        "SelectorSyncSet",
        "/properties/spec/properties/clusterDeploymentSelector/properties/matchExpressions/items",
        &["key", "operator"],
    ),
    ("SyncSet", "/properties/spec", &["clusterDeploymentRefs"]),
    (
        "SyncSet",
        "/properties/spec/properties/patches/items",
        &["apiVersion", "kind", "name", "patch"],
    ),
    ("ClusterImageSet", "/properties/spec", &["releaseImage"]),
    (
        "HiveConfig",
        "/properties/spec/properties/controllersConfig/properties/controllers/items",
        &["config", "name"],
    ),
    (
        "SyncSetInstance",
        "/properties/spec",
        &["clusterDeploymentRef"],
    ),
    (
        "SyncSetInstance",
        "/properties/status/properties/conditions/items",
        &["status", "type"],
    ),
    (
        "ClusterSync",
        "/properties/status/properties/selectorSyncSets/items",
        &["lastTransitionTime", "name", "observedGeneration", "result"],
    ),
    (
        "ClusterSync",
        "/properties/status/properties/syncSets/items",
        &["lastTransitionTime", "name", "observedGeneration", "result"],
    ),
    (
        "ClusterSync",
        "/properties/status/properties/selectorSyncSets/items/properties/resourcesToDelete/items",
        &["apiVersion", "name"],
    ),
    (
        "ClusterSync",
        "/properties/status/properties/syncSets/items/properties/resourcesToDelete/items",
        &["apiVersion", "name"],
    ),
    (
        "ClusterSync",
        "/properties/status/properties/conditions/items",
        &["status", "type"],
    ),
    ("ClusterSyncLease", "/properties/spec", &["renewTime"]),
];

/// Sets the `required` lists of [`HIVE_REQUIRED`] on the CRD of their kind.
fn require_what_hive_requires(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let kind = crd.spec.names.kind.clone();
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        let Ok(mut value) = serde_json::to_value(&*schema) else {
            continue;
        };
        for (_, pointer, fields) in HIVE_REQUIRED.iter().filter(|(k, ..)| *k == kind) {
            let node = value
                .pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{kind}: no schema node at {pointer}"));
            node["required"] = serde_json::json!(fields);
        }
        if let Ok(required) = serde_json::from_value(value) {
            *schema = required;
        }
    }
    crd
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

    /// Every `required` list and every `enum` of our schemas, by (kind, pointer).
    fn constraints(key: &str) -> Vec<(String, String, serde_json::Value)> {
        fn walk(
            v: &serde_json::Value,
            at: &str,
            key: &str,
            out: &mut Vec<(String, serde_json::Value)>,
        ) {
            let Some(m) = v.as_object() else { return };
            if let Some(found) = m.get(key) {
                out.push((at.to_string(), found.clone()));
            }
            if let Some(props) = m.get("properties").and_then(|p| p.as_object()) {
                for (k, child) in props {
                    walk(child, &format!("{at}/properties/{k}"), key, out);
                }
            }
            for k in ["items", "additionalProperties"] {
                if let Some(child) = m.get(k) {
                    walk(child, &format!("{at}/{k}"), key, out);
                }
            }
        }
        let mut all = Vec::new();
        for c in crds() {
            let schema = serde_json::to_value(&c.spec.versions[0].schema).unwrap();
            let mut out = Vec::new();
            walk(&schema["openAPIV3Schema"], "", key, &mut out);
            all.extend(
                out.into_iter()
                    .map(|(at, v)| (c.spec.names.kind.clone(), at, v)),
            );
        }
        all
    }

    #[test]
    fn nothing_is_required_that_hive_does_not_require() {
        let ours = constraints("required");
        for (kind, at, fields) in &ours {
            let hive = HIVE_REQUIRED
                .iter()
                .find(|(k, p, _)| k == kind && p == at)
                .unwrap_or_else(|| panic!("{kind} requires {fields} at {at:?}; Hive does not"));
            assert_eq!(fields, &serde_json::json!(hive.2), "{kind} {at}");
        }
        assert_eq!(
            ours.len(),
            HIVE_REQUIRED.len(),
            "every list of Hive's is set"
        );
    }

    #[test]
    fn no_enum_where_hive_has_none() {
        // Hive's enums on the fields we model that keep one (facts from Hive's CRDs); it has
        // none on resourceApplyMode, and applyBehavior admits "".
        let apply_behavior = serde_json::json!(["", "Apply", "CreateOnly", "CreateOrUpdate"]);
        let result = serde_json::json!(["Success", "Failure"]);
        let hive = [
            (
                "SelectorSyncSet",
                "/properties/spec/properties/applyBehavior",
                &apply_behavior,
            ),
            (
                "SyncSet",
                "/properties/spec/properties/applyBehavior",
                &apply_behavior,
            ),
            (
                "ClusterSync",
                "/properties/status/properties/selectorSyncSets/items/properties/result",
                &result,
            ),
            (
                "ClusterSync",
                "/properties/status/properties/syncSets/items/properties/result",
                &result,
            ),
        ];
        let ours = constraints("enum");
        for (kind, at, values) in &ours {
            let (.., want) = hive
                .iter()
                .find(|(k, p, _)| k == kind && p == at)
                .unwrap_or_else(|| {
                    panic!("{kind} has an enum at {at:?} ({values}); Hive has none")
                });
            assert_eq!(values, *want, "{kind} {at}");
        }
        assert_eq!(ours.len(), hive.len());
    }

    #[test]
    fn yaml_stream_parses_back() {
        let docs: Vec<CustomResourceDefinition> =
            serde_saphyr::from_multiple(&crds_yaml()).unwrap();
        assert_eq!(docs.len(), crds().len());
    }
}
