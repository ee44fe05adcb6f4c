//! Protobuf request bodies. kubectl's imperative creates of built-in kinds (`create namespace`,
//! `create configmap`, `create secret`, `create rolebinding`, `create token`, `auth can-i`, ...)
//! are sent as protobuf and are not retried as JSON after a
//! 415, so the hub decodes those kinds into the JSON it stores. Answers stay JSON: clients that
//! send protobuf also accept JSON. Other kinds are refused with 415, as custom resources have no
//! protobuf encoding in Kubernetes either.

use super::error::ApiError;
use base64::Engine;
use k8s_pb::api::authentication::v1 as authn;
use k8s_pb::api::authorization::v1 as authz;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::rbac::v1 as rbac;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The content type of Kubernetes protobuf.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Every Kubernetes protobuf body starts with these bytes, then a `runtime.Unknown`.
const MAGIC: &[u8] = b"k8s\0";

/// Kinds whose protobuf bodies the hub reads, with their API versions: what kubectl's
/// imperative commands send (`create namespace|configmap|secret|serviceaccount|role|
/// clusterrole|rolebinding|clusterrolebinding|token`, `auth can-i`, `auth whoami`).
pub const KINDS: [(&str, &str); 11] = [
    ("Namespace", "v1"),
    ("ConfigMap", "v1"),
    ("Secret", "v1"),
    ("ServiceAccount", "v1"),
    ("Role", "rbac.authorization.k8s.io/v1"),
    ("ClusterRole", "rbac.authorization.k8s.io/v1"),
    ("RoleBinding", "rbac.authorization.k8s.io/v1"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1"),
    ("TokenRequest", "authentication.k8s.io/v1"),
    ("SelfSubjectReview", "authentication.k8s.io/v1"),
    ("SelfSubjectAccessReview", "authorization.k8s.io/v1"),
];

fn bad(what: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "the protobuf body of the request is invalid: {what}"
    ))
}

/// Decodes a protobuf body for a resource of `kind` into its JSON form.
pub fn decode(kind: &str, body: &[u8]) -> Result<Value, ApiError> {
    let Some((_, default_api_version)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "{CONTENT_TYPE} is accepted for {} only; send {kind} as JSON",
                kinds.join(", ")
            ),
        ));
    };
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("it does not start with the k8s protobuf magic"))?;
    let unknown = Unknown::decode(rest).map_err(bad)?;
    if unknown
        .content_encoding
        .as_deref()
        .is_some_and(|e| !e.is_empty())
    {
        return Err(bad("content encodings are not supported"));
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    let sent_kind = type_meta.kind.unwrap_or_default();
    if sent_kind != kind {
        return Err(bad(format!("it holds a {sent_kind:?}, not a {kind}")));
    }
    let raw = unknown.raw.unwrap_or_default();
    let mut obj = match kind {
        "Namespace" => {
            let ns = core::Namespace::decode(raw.as_slice()).map_err(bad)?;
            let mut o = object(ns.metadata);
            if let Some(spec) = ns.spec.filter(|s| !s.finalizers.is_empty()) {
                o.insert("spec".into(), json!({"finalizers": spec.finalizers}));
            }
            o
        }
        "ConfigMap" => {
            let cm = core::ConfigMap::decode(raw.as_slice()).map_err(bad)?;
            let mut o = object(cm.metadata);
            insert_map(&mut o, "data", cm.data);
            insert_map(&mut o, "binaryData", base64_values(cm.binary_data));
            if let Some(i) = cm.immutable {
                o.insert("immutable".into(), i.into());
            }
            o
        }
        "ServiceAccount" => {
            let sa = core::ServiceAccount::decode(raw.as_slice()).map_err(bad)?;
            let mut o = object(sa.metadata);
            let names = |refs: Vec<Option<String>>| -> Vec<Value> {
                refs.into_iter()
                    .flatten()
                    .map(|n| json!({"name": n}))
                    .collect()
            };
            let secrets = names(sa.secrets.into_iter().map(|r| r.name).collect());
            if !secrets.is_empty() {
                o.insert("secrets".into(), secrets.into());
            }
            let pulls = names(sa.image_pull_secrets.into_iter().map(|r| r.name).collect());
            if !pulls.is_empty() {
                o.insert("imagePullSecrets".into(), pulls.into());
            }
            if let Some(a) = sa.automount_service_account_token {
                o.insert("automountServiceAccountToken".into(), a.into());
            }
            o
        }
        "Role" => {
            let r = rbac::Role::decode(raw.as_slice()).map_err(bad)?;
            let mut o = object(r.metadata);
            o.insert("rules".into(), rules(r.rules));
            o
        }
        "ClusterRole" => {
            let r = rbac::ClusterRole::decode(raw.as_slice()).map_err(bad)?;
            let mut o = object(r.metadata);
            o.insert("rules".into(), rules(r.rules));
            if let Some(agg) = r.aggregation_rule {
                let selectors: Vec<Value> = agg
                    .cluster_role_selectors
                    .into_iter()
                    .map(|s| json!({"matchLabels": s.match_labels}))
                    .collect();
                o.insert(
                    "aggregationRule".into(),
                    json!({"clusterRoleSelectors": selectors}),
                );
            }
            o
        }
        "RoleBinding" => {
            let b = rbac::RoleBinding::decode(raw.as_slice()).map_err(bad)?;
            binding(object(b.metadata), b.subjects, b.role_ref)
        }
        "ClusterRoleBinding" => {
            let b = rbac::ClusterRoleBinding::decode(raw.as_slice()).map_err(bad)?;
            binding(object(b.metadata), b.subjects, b.role_ref)
        }
        "TokenRequest" => {
            let t = authn::TokenRequest::decode(raw.as_slice()).map_err(bad)?;
            let mut o = object(t.metadata);
            let spec = t.spec.unwrap_or_default();
            let mut sp = Map::new();
            if !spec.audiences.is_empty() {
                sp.insert("audiences".into(), json!(spec.audiences));
            }
            if let Some(secs) = spec.expiration_seconds {
                sp.insert("expirationSeconds".into(), secs.into());
            }
            if let Some(r) = spec.bound_object_ref {
                sp.insert(
                    "boundObjectRef".into(),
                    strings([
                        ("kind", r.kind),
                        ("apiVersion", r.api_version),
                        ("name", r.name),
                        ("uid", r.u_id),
                    ]),
                );
            }
            o.insert("spec".into(), Value::Object(sp));
            o
        }
        "SelfSubjectReview" => {
            let r = authn::SelfSubjectReview::decode(raw.as_slice()).map_err(bad)?;
            object(r.metadata)
        }
        "SelfSubjectAccessReview" => {
            let r = authz::SelfSubjectAccessReview::decode(raw.as_slice()).map_err(bad)?;
            let mut o = object(r.metadata);
            let spec = r.spec.unwrap_or_default();
            let mut sp = Map::new();
            if let Some(a) = spec.resource_attributes {
                sp.insert(
                    "resourceAttributes".into(),
                    strings([
                        ("namespace", a.namespace),
                        ("verb", a.verb),
                        ("group", a.group),
                        ("version", a.version),
                        ("resource", a.resource),
                        ("subresource", a.subresource),
                        ("name", a.name),
                    ]),
                );
            }
            if let Some(a) = spec.non_resource_attributes {
                sp.insert(
                    "nonResourceAttributes".into(),
                    strings([("path", a.path), ("verb", a.verb)]),
                );
            }
            o.insert("spec".into(), Value::Object(sp));
            o
        }
        _ => {
            let s = core::Secret::decode(raw.as_slice()).map_err(bad)?;
            let mut o = object(s.metadata);
            insert_map(&mut o, "data", base64_values(s.data));
            insert_map(&mut o, "stringData", s.string_data);
            if let Some(t) = s.r#type {
                o.insert("type".into(), t.into());
            }
            if let Some(i) = s.immutable {
                o.insert("immutable".into(), i.into());
            }
            o
        }
    };
    obj.insert(
        "apiVersion".into(),
        type_meta
            .api_version
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default_api_version.to_string())
            .into(),
    );
    obj.insert("kind".into(), kind.into());
    Ok(Value::Object(obj))
}

/// An object of the given string fields, leaving out those unset or empty.
fn strings<const N: usize>(fields: [(&str, Option<String>); N]) -> Value {
    let mut m = Map::new();
    for (k, v) in fields {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            m.insert(k.into(), v.into());
        }
    }
    Value::Object(m)
}

/// A role's rules, lists left out when empty as Kubernetes writes them (verbs always).
fn rules(rules: Vec<rbac::PolicyRule>) -> Value {
    rules
        .into_iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("verbs".into(), json!(r.verbs));
            for (k, list) in [
                ("apiGroups", r.api_groups),
                ("resources", r.resources),
                ("resourceNames", r.resource_names),
                ("nonResourceURLs", r.non_resource_ur_ls),
            ] {
                if !list.is_empty() {
                    m.insert(k.into(), json!(list));
                }
            }
            Value::Object(m)
        })
        .collect()
}

/// A RoleBinding or ClusterRoleBinding from its parts.
fn binding(
    mut o: Map<String, Value>,
    subjects: Vec<rbac::Subject>,
    role_ref: Option<rbac::RoleRef>,
) -> Map<String, Value> {
    let subjects: Vec<Value> = subjects
        .into_iter()
        .map(|s| {
            strings([
                ("kind", s.kind),
                ("apiGroup", s.api_group),
                ("name", s.name),
                ("namespace", s.namespace),
            ])
        })
        .collect();
    if !subjects.is_empty() {
        o.insert("subjects".into(), subjects.into());
    }
    let r = role_ref.unwrap_or_default();
    o.insert(
        "roleRef".into(),
        json!({
            "apiGroup": r.api_group.unwrap_or_default(),
            "kind": r.kind.unwrap_or_default(),
            "name": r.name.unwrap_or_default(),
        }),
    );
    o
}

fn base64_values(m: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    m.into_iter()
        .map(|(k, v)| (k, base64::engine::general_purpose::STANDARD.encode(v)))
        .collect()
}

fn insert_map(o: &mut Map<String, Value>, key: &str, m: BTreeMap<String, String>) {
    if !m.is_empty() {
        o.insert(key.into(), json!(m));
    }
}

/// An object holding the metadata a client may set; what the server owns (uid, timestamps,
/// managedFields) is dropped, as the store sets it.
fn object(m: Option<meta::ObjectMeta>) -> Map<String, Value> {
    let m = m.unwrap_or_default();
    let mut md = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            md.insert(k.into(), v.into());
        }
    };
    put("name", m.name);
    put("generateName", m.generate_name);
    put("namespace", m.namespace);
    put("resourceVersion", m.resource_version);
    insert_map(&mut md, "labels", m.labels);
    insert_map(&mut md, "annotations", m.annotations);
    if !m.finalizers.is_empty() {
        md.insert("finalizers".into(), json!(m.finalizers));
    }
    if !m.owner_references.is_empty() {
        let refs: Vec<Value> = m
            .owner_references
            .into_iter()
            .map(|r| {
                let mut o = json!({
                    "apiVersion": r.api_version.unwrap_or_default(),
                    "kind": r.kind.unwrap_or_default(),
                    "name": r.name.unwrap_or_default(),
                    "uid": r.uid.unwrap_or_default(),
                });
                if let Some(c) = r.controller {
                    o["controller"] = c.into();
                }
                if let Some(b) = r.block_owner_deletion {
                    o["blockOwnerDeletion"] = b.into();
                }
                o
            })
            .collect();
        md.insert("ownerReferences".into(), refs.into());
    }
    let mut o = Map::new();
    o.insert("metadata".into(), Value::Object(md));
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::apimachinery::pkg::runtime::TypeMeta;

    fn envelope(kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let u = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some("v1".into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(u.encode_to_vec());
        out
    }

    fn meta(name: &str) -> Option<meta::ObjectMeta> {
        Some(meta::ObjectMeta {
            name: Some(name.into()),
            labels: [("scaletest".to_string(), "true".to_string())].into(),
            ..Default::default()
        })
    }

    #[test]
    fn configmaps_secrets_and_namespaces_become_json() {
        let cm = core::ConfigMap {
            metadata: meta("cm"),
            data: [("a".to_string(), "1".to_string())].into(),
            binary_data: [("b".to_string(), vec![0u8, 255])].into(),
            immutable: None,
        };
        let v = decode("ConfigMap", &envelope("ConfigMap", cm.encode_to_vec())).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "cm", "labels": {"scaletest": "true"}},
                   "data": {"a": "1"}, "binaryData": {"b": "AP8="}})
        );
        let s = core::Secret {
            metadata: meta("s"),
            data: [("k".to_string(), b"v".to_vec())].into(),
            r#type: Some("Opaque".into()),
            ..Default::default()
        };
        let v = decode("Secret", &envelope("Secret", s.encode_to_vec())).unwrap();
        assert_eq!(v["data"], json!({"k": "dg=="}));
        assert_eq!(v["type"], "Opaque");
        let ns = core::Namespace {
            metadata: meta("ns1"),
            ..Default::default()
        };
        let v = decode("Namespace", &envelope("Namespace", ns.encode_to_vec())).unwrap();
        assert_eq!(v["metadata"]["name"], "ns1");
        assert_eq!(v["kind"], "Namespace");
    }

    #[test]
    fn bindings_and_reviews_become_json() {
        let b = rbac::RoleBinding {
            metadata: meta("rb"),
            subjects: vec![rbac::Subject {
                kind: Some("ServiceAccount".into()),
                api_group: Some(String::new()),
                name: Some("hive-scale".into()),
                namespace: Some("hive".into()),
            }],
            role_ref: Some(rbac::RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: Some("ClusterRole".into()),
                name: Some("view".into()),
            }),
        };
        let v = decode("RoleBinding", &envelope("RoleBinding", b.encode_to_vec())).unwrap();
        assert_eq!(v["apiVersion"], "v1", "the envelope's apiVersion is kept");
        assert_eq!(
            v["subjects"],
            json!([{"kind": "ServiceAccount", "name": "hive-scale", "namespace": "hive"}])
        );
        assert_eq!(v["roleRef"]["name"], "view");
        let r = authz::SelfSubjectAccessReview {
            spec: Some(authz::SelfSubjectAccessReviewSpec {
                resource_attributes: Some(authz::ResourceAttributes {
                    verb: Some("list".into()),
                    resource: Some("secrets".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = decode(
            "SelfSubjectAccessReview",
            &envelope("SelfSubjectAccessReview", r.encode_to_vec()),
        )
        .unwrap();
        assert_eq!(
            v["spec"],
            json!({"resourceAttributes": {"verb": "list", "resource": "secrets"}})
        );
        let t = authn::TokenRequest {
            spec: Some(authn::TokenRequestSpec {
                expiration_seconds: Some(600),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = decode("TokenRequest", &envelope("TokenRequest", t.encode_to_vec())).unwrap();
        assert_eq!(v["spec"], json!({"expirationSeconds": 600}));
    }

    #[test]
    fn bad_bodies_are_400_and_other_kinds_415() {
        let code = |kind: &str, body: &[u8]| decode(kind, body).unwrap_err().code;
        assert_eq!(code("ConfigMap", b"{}"), 400);
        assert_eq!(code("ConfigMap", b"k8s\0\xff\xff\xff"), 400);
        let ns = core::Namespace::default().encode_to_vec();
        assert_eq!(code("ConfigMap", &envelope("Namespace", ns)), 400);
        assert_eq!(code("ClusterDeployment", b"k8s\0"), 415);
    }
}
