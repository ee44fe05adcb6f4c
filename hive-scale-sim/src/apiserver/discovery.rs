//! Discovery documents (`/version`, `/api`, `/apis`, resource lists) and `/openapi/v3`,
//! which kubectl reads before it creates or applies anything (`/openapi/v2`, for older
//! clients, is derived from these in [`super::openapi_v2`]).

use super::registry::{Registry, ResourceDef};
use serde_json::{Map, Value, json};

/// The Kubernetes version the hub reports.
pub const KUBE_VERSION: &str = "v1.32.0";

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": format!("{KUBE_VERSION}+hive-scale-sim.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "n/a (Rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "apiVersion": "v1", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

/// Resources served by handlers rather than stored: (group, version, plural, kind), each only
/// ever created, cluster-scoped (the reviews kubectl's `auth whoami` and `auth can-i` send).
const REVIEWS: &[(&str, &str, &str, &str)] = &[
    (
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
    ),
    (
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
    ),
];

/// The registry's groups and the reviews'.
fn all_groups(registry: &Registry) -> Vec<(String, Vec<String>)> {
    let mut groups = registry.groups();
    for (g, v, _, _) in REVIEWS {
        match groups.iter_mut().find(|(name, _)| name == g) {
            Some((_, versions)) if !versions.iter().any(|x| x == v) => versions.push(v.to_string()),
            Some(_) => {}
            None => groups.push((g.to_string(), vec![v.to_string()])),
        }
    }
    groups
}

/// `/apis`.
pub fn groups(registry: &Registry) -> Value {
    let groups: Vec<Value> = all_groups(registry)
        .into_iter()
        .map(|(g, versions)| group_doc(&g, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/GROUP`.
pub fn group(registry: &Registry, group: &str) -> Option<Value> {
    let (g, versions) = all_groups(registry).into_iter().find(|(g, _)| g == group)?;
    let mut doc = group_doc(&g, &versions);
    doc["kind"] = "APIGroup".into();
    doc["apiVersion"] = "v1".into();
    Some(doc)
}

fn group_doc(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs[0]})
}

/// `/api/v1` or `/apis/GROUP/VERSION`.
pub fn resources(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = registry.in_group_version(group, version);
    let reviews: Vec<Value> = REVIEWS
        .iter()
        .filter(|(g, v, _, _)| *g == group && *v == version)
        .map(|(_, _, plural, kind)| {
            json!({"name": plural, "singularName": "", "namespaced": false, "kind": kind, "verbs": ["create"]})
        })
        .collect();
    if defs.is_empty() && reviews.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut list: Vec<Value> = defs.iter().flat_map(|d| d.discovery()).collect();
    list.extend(reviews);
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}

/// The group/versions that have OpenAPI documents: the core `v1`, then the registry's.
pub fn openapi_group_versions(registry: &Registry) -> Vec<(String, String)> {
    let mut gvs = vec![(String::new(), "v1".to_string())];
    for (g, versions) in registry.groups() {
        gvs.extend(versions.into_iter().map(|v| (g.clone(), v)));
    }
    gvs
}

/// `/openapi/v3`: one entry per group/version.
pub fn openapi_index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (g, v) in openapi_group_versions(registry) {
        let path = if g.is_empty() {
            format!("api/{v}")
        } else {
            format!("apis/{g}/{v}")
        };
        let hash = fnv(&openapi_gv(registry, &g, &v)
            .map(|d| d.to_string())
            .unwrap_or_default());
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash:016X}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION`: paths (so kubectl sees that
/// `fieldValidation` is supported server-side) and the CRDs' schemas.
pub fn openapi_gv(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = registry.in_group_version(group, version);
    if defs.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for d in &defs {
        let gvk = json!({"group": d.group, "version": d.version, "kind": d.kind});
        let prefix = if d.group.is_empty() {
            format!("/api/{}", d.version)
        } else {
            format!("/apis/{}/{}", d.group, d.version)
        };
        let collection = if d.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", d.plural)
        } else {
            format!("{prefix}/{}", d.plural)
        };
        let schema_name = schema_name(d);
        let schema_ref = json!({"$ref": format!("#/components/schemas/{schema_name}")});
        let op = |action: &str, write: bool| {
            let mut params =
                vec![json!({"name": "dryRun", "in": "query", "schema": {"type": "string"}})];
            if write {
                params.push(
                    json!({"name": "fieldManager", "in": "query", "schema": {"type": "string"}}),
                );
                params.push(
                    json!({"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}),
                );
            }
            json!({
                "operationId": format!("{action}{}", d.kind),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": params,
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}},
            })
        };
        let mut patch = op("patch", true);
        patch["parameters"]
            .as_array_mut()
            .expect("built above")
            .push(json!({"name": "force", "in": "query", "schema": {"type": "boolean"}}));
        patch["requestBody"] = json!({"content": {
            "application/apply-patch+yaml": {"schema": {"type": "object"}},
            "application/json-patch+json": {"schema": {"type": "object"}},
            "application/merge-patch+json": {"schema": {"type": "object"}},
        }});
        paths.insert(
            collection.clone(),
            json!({"get": op("list", false), "post": op("post", true)}),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"get": op("get", false), "put": op("put", true), "patch": patch, "delete": op("delete", false)}),
        );
        let mut schema = d.schema.clone().unwrap_or_else(
            || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        );
        schema["x-kubernetes-group-version-kind"] = json!([gvk]);
        schemas.insert(schema_name, schema);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

fn schema_name(d: &ResourceDef) -> String {
    if d.group.is_empty() {
        format!("io.k8s.api.core.{}.{}", d.version, d.kind)
    } else {
        let reversed: Vec<&str> = d.group.split('.').rev().collect();
        format!("{}.{}.{}", reversed.join("."), d.version, d.kind)
    }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
