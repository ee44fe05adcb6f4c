//! The few fields of a stored object kept parsed beside its JSON.

use crate::apiserver::selector::Selectable;
use serde_json::Value;
use std::collections::BTreeMap;

/// One of an object's `metadata.ownerReferences`, as garbage collection reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    /// `apiVersion` of the owner.
    pub api_version: Box<str>,
    /// `kind` of the owner.
    pub kind: Box<str>,
    /// `name` of the owner (same namespace).
    pub name: Box<str>,
    /// `uid` of the owner.
    pub uid: Box<str>,
    /// `blockOwnerDeletion`.
    pub block_owner_deletion: bool,
}

/// What selectors, garbage collection, watch bookkeeping and the simulated controllers read
/// of a stored object without parsing it.
///
/// Typed rather than a serde_json tree: a tree of the same fields took about 5 kB per
/// SyncSetInstance (more than its 2.3 kB of JSON) and, over 60,000 instances plus the watch
/// history, most of the 2020 pipeline's memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    name: Box<str>,
    namespace: Box<str>,
    uid: Box<str>,
    resource_version: Box<str>,
    generation: Option<i64>,
    /// Sorted by key, so a lookup is a binary search.
    labels: Box<[(Box<str>, Box<str>)]>,
    owners: Box<[OwnerRef]>,
    deleting: bool,
    phase: Option<Box<str>>,
    type_: Option<Box<str>>,
}

fn text(v: Option<&Value>) -> Box<str> {
    v.and_then(Value::as_str).unwrap_or_default().into()
}

impl Head {
    /// The head of `obj`.
    pub fn of(obj: &Value) -> Self {
        let md = obj.get("metadata");
        let field = |k: &str| md.and_then(|m| m.get(k));
        let mut labels: Vec<(Box<str>, Box<str>)> = field("labels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str().into(), v.as_str()?.into())))
            .collect();
        labels.sort_unstable();
        let owners = field("ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| OwnerRef {
                api_version: text(r.get("apiVersion")),
                kind: text(r.get("kind")),
                name: text(r.get("name")),
                uid: text(r.get("uid")),
                block_owner_deletion: r.get("blockOwnerDeletion").and_then(Value::as_bool)
                    == Some(true),
            })
            .collect();
        Self {
            name: text(field("name")),
            namespace: text(field("namespace")),
            uid: text(field("uid")),
            resource_version: text(field("resourceVersion")),
            generation: field("generation").and_then(Value::as_i64),
            labels: labels.into_boxed_slice(),
            owners,
            deleting: field("deletionTimestamp").is_some_and(|t| !t.is_null()),
            phase: obj
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .map(Into::into),
            type_: obj.get("type").and_then(Value::as_str).map(Into::into),
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `metadata.namespace` (empty for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// `metadata.resourceVersion`.
    pub fn resource_version(&self) -> &str {
        &self.resource_version
    }

    /// `metadata.generation`, when set.
    pub fn generation(&self) -> Option<i64> {
        self.generation
    }

    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.labels[i].1)
    }

    /// All labels, as a map.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The owner reference naming `uid`.
    pub fn owner(&self, uid: &str) -> Option<&OwnerRef> {
        self.owners.iter().find(|r| &*r.uid == uid)
    }

    /// All owner references.
    pub fn owners(&self) -> &[OwnerRef] {
        &self.owners
    }

    /// Whether `metadata.deletionTimestamp` is set.
    pub fn deleting(&self) -> bool {
        self.deleting
    }

    /// `status.phase`, when set.
    pub fn phase(&self) -> Option<&str> {
        self.phase.as_deref()
    }

    /// Heap bytes the head holds, approximately.
    pub fn heap_size(&self) -> usize {
        let s = |b: &str| b.len();
        s(&self.name)
            + s(&self.namespace)
            + s(&self.uid)
            + s(&self.resource_version)
            + self
                .labels
                .iter()
                .map(|(k, v)| std::mem::size_of::<(Box<str>, Box<str>)>() + k.len() + v.len())
                .sum::<usize>()
            + self
                .owners
                .iter()
                .map(|r| {
                    std::mem::size_of::<OwnerRef>()
                        + r.api_version.len()
                        + r.kind.len()
                        + r.name.len()
                        + r.uid.len()
                })
                .sum::<usize>()
            + self.phase.as_deref().map_or(0, s)
            + self.type_.as_deref().map_or(0, s)
    }
}

impl Selectable for Head {
    fn label(&self, key: &str) -> Option<&str> {
        Head::label(self, key)
    }

    fn field(&self, path: &str) -> Option<&str> {
        match path {
            "metadata.name" => Some(self.name()),
            "metadata.namespace" => Some(self.namespace()).filter(|n| !n.is_empty()),
            "status.phase" => self.phase(),
            "type" => self.type_.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_head_reads_what_the_object_says() {
        let obj = json!({
            "type": "Opaque",
            "metadata": {
                "name": "c1", "namespace": "ns1", "uid": "u1", "resourceVersion": "7",
                "generation": 3, "deletionTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"z": "1", "a": "2", "n": 3},
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u0",
                     "blockOwnerDeletion": true},
                    {"apiVersion": "v1", "kind": "Secret", "name": "p", "uid": "u9"}
                ]
            },
            "status": {"phase": "Active"}
        });
        let h = Head::of(&obj);
        assert_eq!(
            (h.name(), h.namespace(), h.uid(), h.resource_version()),
            ("c1", "ns1", "u1", "7")
        );
        assert_eq!(h.generation(), Some(3));
        assert!(h.deleting());
        // A label whose value is not a string is no label at all, as for the API server.
        assert_eq!(
            (h.label("a"), h.label("z"), h.label("n")),
            (Some("2"), Some("1"), None)
        );
        assert_eq!(h.labels().len(), 2);
        assert!(
            h.owner("u0")
                .is_some_and(|r| r.block_owner_deletion && &*r.name == "o")
        );
        assert!(h.owner("u9").is_some_and(|r| !r.block_owner_deletion));
        assert!(h.owner("u1").is_none());
        assert_eq!(Selectable::field(&h, "status.phase"), Some("Active"));
        assert_eq!(Selectable::field(&h, "type"), Some("Opaque"));
        // The head and the tree answer selectors alike.
        for path in [
            "metadata.name",
            "metadata.namespace",
            "status.phase",
            "type",
        ] {
            assert_eq!(
                Selectable::field(&h, path),
                Selectable::field(&obj, path),
                "{path}"
            );
        }
        let bare = Head::of(&json!({"metadata": {"name": "x"}}));
        assert_eq!(
            (bare.namespace(), bare.generation(), bare.deleting()),
            ("", None, false)
        );
        assert_eq!(Selectable::field(&bare, "metadata.namespace"), None);
    }
}
