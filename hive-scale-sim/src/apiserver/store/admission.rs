//! What a write body goes through before it is stored: endpoint checks (apiVersion, kind,
//! namespace), validation, the normalizations kube-apiserver makes (Secret `stringData`, default
//! type), and the metadata the server owns.

use super::{Entry, Store, meta, meta_mut, meta_str};
use crate::apiserver::error::ApiError;
use crate::apiserver::registry::ResourceDef;
use crate::apiserver::validate;
use base64::Engine as _;
use serde_json::{Value, json};

/// How much of admission a body gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Everything: the body is the object to store.
    Whole,
    /// Everything but decoding into the kind's type: an apply configuration may be partial,
    /// so the object the apply makes is decoded instead (see [`decode_check`]).
    Partial,
    /// A write by the simulated controllers: endpoint checks, names and normalization only.
    Internal,
}

impl Store {
    /// Checks a body against the endpoint and the kind's rules, and normalizes it.
    pub(super) fn admit(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        obj: &mut Value,
        admission: Admission,
    ) -> Result<(), ApiError> {
        let internal = admission == Admission::Internal;
        let Some(map) = obj.as_object_mut() else {
            return Err(ApiError::bad_request(
                "the request body must be a JSON or YAML object",
            ));
        };
        let expected = def.api_version();
        match map.get("apiVersion").and_then(Value::as_str) {
            Some(v) if v != expected => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({expected})"
                )));
            }
            Some(_) => {}
            None => {
                map.insert("apiVersion".into(), expected.clone().into());
            }
        }
        match map.get("kind").and_then(Value::as_str) {
            Some(k) if k != def.kind => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    def.kind
                )));
            }
            Some(_) => {}
            None => {
                map.insert("kind".into(), def.kind.clone().into());
            }
        }
        if let Some(body_ns) = meta_str(obj, "namespace")
            && def.namespaced
            && body_ns != ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let mut causes = validate::Causes::new();
        if def.plural == "namespaces" && def.group.is_empty() {
            validate::namespace_name(name, &mut causes);
        } else {
            validate::name(name, &mut causes);
        }
        validate::metadata(obj, &mut causes);
        if def.group.is_empty() && def.plural == "secrets" {
            fold_string_data(obj);
            // Kubernetes defaults an unset type, and clients (kubectl get -o) rely on it.
            if let Some(m) = obj.as_object_mut() {
                // A type that is not a string is left for decoding to refuse.
                let unset = match m.get("type") {
                    None | Some(Value::Null) => true,
                    Some(Value::String(t)) => t.is_empty(),
                    Some(_) => false,
                };
                if unset {
                    m.insert("type".into(), "Opaque".into());
                }
            }
            validate::secret(obj, &mut causes);
        }
        if !internal && let Some(schema) = &def.schema {
            validate::schema(schema, obj, &mut causes);
        }
        // Decoding finds what the checks above report better, so it only speaks when they
        // found nothing.
        if admission == Admission::Whole && causes.is_empty() {
            decode_check(def, name, obj, &mut causes);
        }
        invalid_unless_empty(def, name, causes)
    }
}

/// 422 Invalid with `causes`, if there are any.
pub(super) fn invalid_unless_empty(
    def: &ResourceDef,
    name: &str,
    causes: validate::Causes,
) -> Result<(), ApiError> {
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&def.kind, name, causes))
    }
}

/// Decodes an object as kube-apiserver does before storing it: built-in kinds into their
/// types, custom resources' metadata into ObjectMeta. A CRD that decodes must also define a
/// resource the server can serve.
pub(super) fn decode_check(
    def: &ResourceDef,
    name: &str,
    obj: &Value,
    causes: &mut validate::Causes,
) {
    if def.custom {
        validate::object_meta(obj, causes);
        return;
    }
    validate::builtin(&def.kind, obj, causes);
    if causes.is_empty() && is_crd(def) {
        validate::crd(name, obj, causes);
    }
    if causes.is_empty() && def.group == "rbac.authorization.k8s.io" {
        validate::rbac(&def.kind, obj, causes);
    }
}

/// What may not change once an object exists: a binding's roleRef (to grant another role,
/// a binding is deleted and created again, so the grant is checked again).
pub(super) fn check_immutable(
    def: &ResourceDef,
    name: &str,
    old: &Value,
    new: &Value,
) -> Result<(), ApiError> {
    let binding = def.group == "rbac.authorization.k8s.io"
        && (def.plural == "rolebindings" || def.plural == "clusterrolebindings");
    if binding && old.get("roleRef") != new.get("roleRef") {
        return Err(ApiError::invalid(
            &def.kind,
            name,
            vec![(
                "roleRef".into(),
                "Invalid value: cannot change roleRef".into(),
            )],
        ));
    }
    Ok(())
}

/// Whether `def` is CustomResourceDefinitions.
pub(super) fn is_crd(def: &ResourceDef) -> bool {
    def.group == "apiextensions.k8s.io" && def.plural == "customresourcedefinitions"
}

/// Refuses new content in a namespace that does not exist or is terminating.
pub(super) fn check_namespace_open(
    nsobj: Option<&Entry>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<(), ApiError> {
    match nsobj {
        None => Err(ApiError::not_found("namespaces", ns)),
        Some(n) if n.head().phase() == Some("Terminating") => Err(ApiError::forbidden(format!(
            "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            def.qualified()
        ))),
        Some(_) => Ok(()),
    }
}

/// What the server decides about a write's metadata.
#[derive(Debug, Clone, Copy)]
pub(super) struct ServerFields<'a> {
    /// The time of the write.
    pub(super) now: &'a str,
    /// The write is the server starting the object's deletion.
    pub(super) deleting: bool,
    /// Gives a new object its uid.
    pub(super) uids: &'a Uids,
}

/// Where uids come from: random, as a real API server's, or a seeded sequence, so that a plan
/// (whose clusters are sharded by uid) comes out the same every time it is run.
#[derive(Debug)]
pub struct Uids {
    seed: Option<u64>,
    next: std::sync::atomic::AtomicU64,
}

impl Uids {
    /// Random uids, or a sequence from `seed`.
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            seed,
            next: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A random uid whatever the seed, for what must differ from every other hub's (the
    /// kube-system namespace tells hubs apart). It still takes the seeded sequence's next
    /// number, so the objects after it get the uids they always had.
    pub fn unseeded(&self) -> String {
        self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        uuid::Uuid::new_v4().to_string()
    }

    /// The next uid: a version-4 UUID.
    pub fn next(&self) -> String {
        let Some(seed) = self.seed else {
            return uuid::Uuid::new_v4().to_string();
        };
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // splitmix64: well spread bits from a counter, so uid mod N shards like random uids.
        let mix = |mut z: u64| {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let (hi, lo) = (
            mix(seed ^ n.wrapping_mul(2)),
            mix(seed ^ n.wrapping_mul(2).wrapping_add(1)),
        );
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

/// Sets what the server owns in metadata: identity, timestamps, generation. Clients cannot set
/// these: whatever a body says, uid and creationTimestamp come from the stored object (or are
/// new), and deletionTimestamp and deletionGracePeriodSeconds only ever come from a delete.
pub(super) fn stamp_metadata(
    def: &ResourceDef,
    ns: &str,
    name: &str,
    old: Option<&Value>,
    new: &mut Value,
    server: ServerFields<'_>,
) {
    let m = meta_mut(new);
    // ObjectMeta is a typed struct in kube-apiserver whose maps and lists are `omitempty`: an
    // empty or null one written by a client (kubectl's apply sends `annotations: {}`) is not
    // stored, so it is neither read back nor seen as a difference.
    m.retain(|k, v| {
        let omitted = matches!(
            k.as_str(),
            "labels" | "annotations" | "finalizers" | "ownerReferences" | "managedFields"
        );
        let empty = v.is_null()
            || v.as_object().is_some_and(|o| o.is_empty())
            || v.as_array().is_some_and(|a| a.is_empty());
        !(omitted && empty)
    });
    m.insert("name".into(), name.into());
    if def.namespaced {
        m.insert("namespace".into(), ns.into());
    } else {
        m.remove("namespace");
    }
    match old {
        Some(o) => {
            for field in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                // Once set, a deletionTimestamp stays; a write may not remove it, and only the
                // server's delete sets it.
                let keep_new = server.deleting
                    && (field == "deletionTimestamp" || field == "deletionGracePeriodSeconds");
                match meta(o).and_then(|om| om.get(field)) {
                    Some(v) => {
                        m.insert(field.into(), v.clone());
                    }
                    None if keep_new => {}
                    None => {
                        m.remove(field);
                    }
                }
            }
            m.insert(
                "resourceVersion".into(),
                meta_str(o, "resourceVersion").unwrap_or_default().into(),
            );
            if def.custom && spec_changed(o, new) {
                let g = meta(o)
                    .and_then(|om| om.get("generation"))
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                meta_mut(new).insert("generation".into(), (g + 1).into());
            }
        }
        None => {
            let uid = if super::is_namespace(def) && name == "kube-system" {
                server.uids.unseeded()
            } else {
                server.uids.next()
            };
            m.insert("uid".into(), uid.into());
            m.insert("creationTimestamp".into(), server.now.into());
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            if def.custom {
                m.insert("generation".into(), 1.into());
            } else {
                m.remove("generation");
            }
        }
    }
}

/// Whether anything besides metadata and status differs: what a generation counts.
fn spec_changed(a: &Value, b: &Value) -> bool {
    let fields = |v: &Value| -> Vec<(String, Value)> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| *k != "metadata" && *k != "status")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Compare key by key without cloning the (possibly large) status.
    match (a.as_object(), b.as_object()) {
        (Some(x), Some(y)) => {
            let keys = |m: &serde_json::Map<String, Value>| {
                m.keys()
                    .filter(|k| *k != "metadata" && *k != "status")
                    .count()
            };
            keys(x) != keys(y)
                || x.iter()
                    .filter(|(k, _)| *k != "metadata" && *k != "status")
                    .any(|(k, v)| y.get(k) != Some(v))
        }
        _ => fields(a) != fields(b),
    }
}

/// Secret `stringData` is write-only: fold it into base64 `data`.
fn fold_string_data(obj: &mut Value) {
    let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    if let Some(sd) = string_data.as_object() {
        let data = obj
            .as_object_mut()
            .expect("checked")
            .entry("data")
            .or_insert_with(|| json!({}));
        if let Some(d) = data.as_object_mut() {
            for (k, v) in sd {
                let text = v
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string());
                d.insert(
                    k.clone(),
                    base64::engine::general_purpose::STANDARD
                        .encode(text)
                        .into(),
                );
            }
        }
    }
}
