//! Reading objects other teams own without letting one of them stop a run.
//!
//! A hub holds whatever Hive's CRDs admit, and a newer Hive, an older one or another team's
//! tooling may have written values our types cannot represent. A typed list or watch fails as
//! a whole on one such object. [`Lenient`] is the same resource decoded one object at a time:
//! an object that does not decode keeps its metadata (so ownership can still be judged and the
//! object named) and the reason, and readers skip it with one warning ([`Undecodable::warn`]).

use kube::Resource;
use kube::api::ObjectMeta;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::sync::Arc;

/// An object of kind `K` as a hub returned it: decoded, or not decodable and why.
#[derive(Debug)]
pub struct Lenient<K> {
    metadata: ObjectMeta,
    decoded: Result<Arc<K>, String>,
}

impl<K> Clone for Lenient<K> {
    fn clone(&self) -> Self {
        Self {
            metadata: self.metadata.clone(),
            decoded: self.decoded.clone(),
        }
    }
}

/// An object that could not be decoded: what it is and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object} cannot be read as hive-scale models it ({reason}); skipped")]
pub struct Undecodable {
    /// `Kind namespace/name`.
    pub object: String,
    /// The decoder's complaint.
    pub reason: String,
}

impl<K: Resource<DynamicType = ()>> Lenient<K> {
    /// The decoded object, or why it could not be decoded.
    pub fn decoded(&self) -> Result<&Arc<K>, Undecodable> {
        self.decoded.as_ref().map_err(|reason| Undecodable {
            object: crate::ownership::describe(&K::kind(&()), &self.metadata),
            reason: reason.clone(),
        })
    }

    /// The decoded object, warning once per object (see [`Undecodable::warn`]) when there is
    /// none.
    pub fn ok_or_warn(&self) -> Option<Arc<K>> {
        match self.decoded() {
            Ok(k) => Some(k.clone()),
            Err(e) => {
                e.warn(self.metadata.uid.as_deref());
                None
            }
        }
    }

    /// As [`Lenient::ok_or_warn`], consuming `self`: the object is moved out, not shared.
    pub fn into_ok_or_warn(self) -> Option<Arc<K>> {
        match self.decoded {
            Ok(k) => Some(k),
            Err(reason) => {
                Undecodable {
                    object: crate::ownership::describe(&K::kind(&()), &self.metadata),
                    reason,
                }
                .warn(self.metadata.uid.as_deref());
                None
            }
        }
    }

    /// The decoded object, if any.
    pub fn into_decoded(self) -> Result<Arc<K>, Undecodable> {
        let object = crate::ownership::describe(&K::kind(&()), &self.metadata);
        self.decoded
            .map_err(|reason| Undecodable { object, reason })
    }
}

impl Undecodable {
    /// Logs a warning naming the object, once per object (`uid`) for the life of the process:
    /// a watched or re-listed object would otherwise be reported at every read.
    pub fn warn(&self, uid: Option<&str>) {
        static WARNED: std::sync::LazyLock<parking_lot::Mutex<std::collections::HashSet<String>>> =
            std::sync::LazyLock::new(Default::default);
        let key = format!("{}\0{}", self.object, uid.unwrap_or_default());
        if WARNED.lock().insert(key) {
            tracing::warn!(object = %self.object, reason = %self.reason, "skipped an object hive-scale cannot read");
        }
    }
}

impl<'de, K: DeserializeOwned> serde::Deserialize<'de> for Lenient<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        // The API server has validated metadata; only the body can hold what we do not model.
        let metadata = value
            .get("metadata")
            .map(ObjectMeta::deserialize)
            .transpose()
            .map_err(serde::de::Error::custom)?
            .unwrap_or_default();
        let mut decoded = K::deserialize(&value).map_err(|e| without_values(&e.to_string()));
        if decoded.is_err()
            && let serde_json::Value::Object(mut fields) = value
            && !fields.contains_key("spec")
        {
            // Hive's schemas require no spec; Go reads an absent one as empty, and so do we.
            fields.insert("spec".into(), serde_json::json!({}));
            if let Ok(k) = K::deserialize(&serde_json::Value::Object(fields)) {
                decoded = Ok(k);
            }
        }
        Ok(Self {
            metadata,
            decoded: decoded.map(Arc::new),
        })
    }
}

/// A decoder's complaint without the values it quotes: the object may be a Secret, and a reason
/// is logged.
fn without_values(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut quoted = false;
    for c in reason.chars() {
        match (c, quoted) {
            ('"', false) => {
                quoted = true;
                out.push_str("\"…");
            }
            ('"', true) => {
                quoted = false;
                out.push('"');
            }
            (c, false) => out.push(c),
            (_, true) => {}
        }
    }
    out
}

impl<K: Resource> Resource for Lenient<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ClusterSync, ResourceApplyMode, SelectorSyncSet};
    use serde_json::json;

    #[test]
    fn a_reason_never_carries_the_values_it_complains_about() {
        let bad: Lenient<k8s_openapi::api::core::v1::Secret> = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns"},
            "immutable": "hunter2-credential"
        }))
        .unwrap();
        let e = bad.decoded().unwrap_err();
        assert!(!e.reason.contains("hunter2"), "{e}");
        assert!(e.reason.contains("invalid type"), "{e}");
    }

    #[test]
    fn an_undecodable_object_keeps_its_name_and_reason() {
        let ok: Lenient<SelectorSyncSet> = serde_json::from_value(json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
            "metadata": {"name": "theirs", "uid": "u1"},
            "spec": {"resourceApplyMode": "sync"}
        }))
        .unwrap();
        let set = ok.decoded().unwrap();
        assert_eq!(
            set.spec.common.resource_apply_mode,
            Some(ResourceApplyMode::Other("sync".into()))
        );
        // A ClusterSync status entry whose generation is not a number cannot be modelled.
        let bad: Lenient<ClusterSync> = serde_json::from_value(json!({
            "apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync",
            "metadata": {"name": "c1", "namespace": "ns1", "uid": "u2"},
            "spec": {},
            "status": {"selectorSyncSets": [{"name": "s", "observedGeneration": "one",
                "result": "Success", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        }))
        .unwrap();
        assert_eq!(bad.meta().name.as_deref(), Some("c1"));
        let e = bad.decoded().unwrap_err();
        assert_eq!(e.object, "ClusterSync ns1/c1");
        assert!(e.to_string().contains("skipped"), "{e}");
        assert!(bad.ok_or_warn().is_none());
    }
}
