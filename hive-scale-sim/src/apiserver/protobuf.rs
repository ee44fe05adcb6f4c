//! Protobuf request bodies. kubectl's imperative creates of built-in kinds (`create namespace`,
//! `create configmap`, `create secret`) are sent as protobuf and are not retried as JSON after a
//! 415, so the hub decodes those kinds into the JSON it stores. Answers stay JSON: clients that
//! send protobuf also accept JSON. Other kinds are refused with 415, as custom resources have no
//! protobuf encoding in Kubernetes either.

use super::error::ApiError;
use base64::Engine;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The content type of Kubernetes protobuf.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Every Kubernetes protobuf body starts with these bytes, then a `runtime.Unknown`.
const MAGIC: &[u8] = b"k8s\0";

/// Kinds whose protobuf bodies the hub reads.
pub const KINDS: [&str; 3] = ["Namespace", "ConfigMap", "Secret"];

fn bad(what: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "the protobuf body of the request is invalid: {what}"
    ))
}

/// Decodes a protobuf body for a resource of `kind` into its JSON form.
pub fn decode(kind: &str, body: &[u8]) -> Result<Value, ApiError> {
    if !KINDS.contains(&kind) {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "{CONTENT_TYPE} is accepted for {} only; send {kind} as JSON",
                KINDS.join(", ")
            ),
        ));
    }
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
        type_meta.api_version.unwrap_or_else(|| "v1".into()).into(),
    );
    obj.insert("kind".into(), kind.into());
    Ok(Value::Object(obj))
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
    fn bad_bodies_are_400_and_other_kinds_415() {
        let code = |kind: &str, body: &[u8]| decode(kind, body).unwrap_err().code;
        assert_eq!(code("ConfigMap", b"{}"), 400);
        assert_eq!(code("ConfigMap", b"k8s\0\xff\xff\xff"), 400);
        let ns = core::Namespace::default().encode_to_vec();
        assert_eq!(code("ConfigMap", &envelope("Namespace", ns)), 400);
        assert_eq!(code("ClusterDeployment", b"k8s\0"), 415);
    }
}
