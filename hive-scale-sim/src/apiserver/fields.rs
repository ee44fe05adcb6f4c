//! Field ownership for server-side apply: which manager set which field (`managedFields`).
//!
//! Paths are tracked down to leaves: maps are recursed into, lists and scalars are atomic (as
//! Kubernetes treats lists without merge keys). This is enough for the conflict, removal and
//! ownership rules clients observe.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// A field path, one segment per map key.
pub type Path = Vec<String>;
/// A set of leaf paths.
pub type FieldSet = BTreeSet<Path>;

/// Which part of an object an operation writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything except status (when status is a subresource).
    Main {
        /// Whether the resource has a status subresource.
        status_subresource: bool,
    },
    /// Only `status`.
    Status,
}

const UNTRACKED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "generateName",
];

/// The leaf paths of `obj` that `scope` tracks.
pub fn leaf_paths(obj: &Value, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(map) = obj.as_object() else {
        return out;
    };
    for (k, v) in map {
        let tracked = match (scope, k.as_str()) {
            (_, "apiVersion" | "kind") => false,
            (Scope::Status, key) => key == "status",
            (Scope::Main { status_subresource }, "status") => !status_subresource,
            _ => true,
        };
        if !tracked {
            continue;
        }
        if k == "metadata" {
            if let Some(meta) = v.as_object() {
                for (mk, mv) in meta {
                    if !UNTRACKED_METADATA.contains(&mk.as_str()) {
                        walk(mv, vec![k.clone(), mk.clone()], &mut out);
                    }
                }
            }
            continue;
        }
        walk(v, vec![k.clone()], &mut out);
    }
    out
}

fn walk(v: &Value, path: Path, out: &mut FieldSet) {
    match v.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, child) in m {
                let mut p = path.clone();
                p.push(k.clone());
                walk(child, p, out);
            }
        }
        _ => {
            out.insert(path);
        }
    }
}

/// The value at `path`, if present.
pub fn get<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, seg| v.as_object()?.get(seg))
}

/// Removes the value at `path`, then any maps it leaves empty (except metadata and spec).
pub fn remove(obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = &mut *obj;
    for seg in parents {
        match cur.as_object_mut().and_then(|m| m.get_mut(seg)) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
    // Prune maps emptied by the removal, innermost first, but keep top-level sections.
    for depth in (2..path.len()).rev() {
        let parent = &path[..depth];
        if get(obj, parent)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            let (last, grand) = parent.split_last().expect("depth >= 2");
            let mut cur = &mut *obj;
            for seg in grand {
                cur = cur.get_mut(seg.as_str()).expect("path exists");
            }
            if let Some(m) = cur.as_object_mut() {
                m.remove(last);
            }
        }
    }
}

/// Whether two paths overlap (one is a prefix of the other).
pub fn overlaps(a: &[String], b: &[String]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Paths of `set` that overlap `path`.
pub fn overlapping<'a>(
    set: &'a FieldSet,
    path: &'a [String],
) -> impl Iterator<Item = &'a Path> + 'a {
    set.iter().filter(move |p| overlaps(p, path))
}

/// Merges `patch` into `target`: maps recursively, everything else replaced.
pub fn deep_merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// The `FieldsV1` encoding of a set: `{"f:spec":{"f:replicas":{}}}`.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for seg in path {
            cur = cur
                .entry(format!("f:{seg}"))
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("only maps are inserted");
        }
    }
    Value::Object(root)
}

/// Decodes `FieldsV1`; list-item keys (`k:`, `v:`, `i:`) make their list an atomic leaf.
pub fn from_fields_v1(v: &Value) -> FieldSet {
    fn go(v: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(m) = v.as_object() else { return };
        let mut any_child = false;
        for (k, child) in m {
            if let Some(seg) = k.strip_prefix("f:") {
                any_child = true;
                path.push(seg.to_string());
                go(child, path, out);
                path.pop();
            } else if k == "." || k.starts_with("k:") || k.starts_with("v:") || k.starts_with("i:")
            {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
                any_child = true;
            }
        }
        if !any_child && !path.is_empty() {
            out.insert(path.clone());
        }
    }
    let mut out = FieldSet::new();
    go(v, &mut Vec::new(), &mut out);
    // A list leaf recorded through its items also covers paths recorded below it.
    let leaves: Vec<Path> = out.iter().cloned().collect();
    out.retain(|p| !leaves.iter().any(|q| q.len() < p.len() && overlaps(q, p)));
    out
}

/// Display form of a path for conflict messages: `.spec.clusterName`.
pub fn display(path: &[String]) -> String {
    path.iter().map(|s| format!(".{s}")).collect()
}

/// One `managedFields` entry: who wrote which fields, how, and through which subresource.
#[derive(Debug, Clone)]
pub(super) struct ManagedEntry {
    pub(super) manager: String,
    pub(super) operation: String,
    pub(super) api_version: String,
    pub(super) time: String,
    pub(super) subresource: Option<String>,
    pub(super) fields: FieldSet,
}

/// The object's `managedFields`, decoded.
pub(super) fn managed_entries(obj: &Value) -> Vec<ManagedEntry> {
    let text = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).map(String::from);
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| ManagedEntry {
                    manager: text(e, "manager").unwrap_or_default(),
                    operation: text(e, "operation").unwrap_or_else(|| "Update".into()),
                    api_version: text(e, "apiVersion").unwrap_or_default(),
                    time: text(e, "time").unwrap_or_default(),
                    subresource: text(e, "subresource"),
                    fields: e.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `entries` as the object's `managedFields`, leaving out entries that own nothing.
fn write_managed(obj: &mut Value, entries: &[ManagedEntry]) {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": if e.api_version.is_empty() { api_version.clone() } else { e.api_version.clone() },
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if let Some(s) = &e.subresource {
                v["subresource"] = s.clone().into();
            }
            v
        })
        .collect();
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    let Some(m) = obj["metadata"].as_object_mut() else {
        return;
    };
    if list.is_empty() {
        m.remove("managedFields");
    } else {
        m.insert("managedFields".into(), list.into());
    }
}

/// A change of ownership: (`manager`, `operation`) on `subresource` takes `fields` at `time`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Claim<'a> {
    pub(super) manager: &'a str,
    pub(super) operation: &'a str,
    pub(super) subresource: Option<&'a str>,
    pub(super) time: &'a str,
}

/// Gives `fields` to the claimant; other Update entries lose them. With `replace` (apply) the
/// manager's set becomes exactly `fields`, otherwise it grows by them.
pub(super) fn set_managed(
    obj: &mut Value,
    entries: &[ManagedEntry],
    claim: Claim<'_>,
    fields: FieldSet,
    replace: bool,
) {
    let mut entries = entries.to_vec();
    let manager = if claim.manager.is_empty() {
        "unknown"
    } else {
        claim.manager
    };
    let operation = claim.operation;
    if operation == "Update" {
        for e in entries
            .iter_mut()
            .filter(|e| !(e.manager == manager && e.operation == operation))
        {
            e.fields.retain(|p| !fields.iter().any(|q| overlaps(p, q)));
        }
    }
    let idx = entries.iter().position(|e| {
        e.manager == manager
            && e.operation == operation
            && e.subresource.as_deref() == claim.subresource
    });
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match idx {
        Some(i) => {
            let e = &mut entries[i];
            let new_set = if replace {
                fields
            } else {
                e.fields.union(&fields).cloned().collect()
            };
            if new_set != e.fields {
                e.fields = new_set;
                e.time = claim.time.into();
            }
        }
        None if !fields.is_empty() => entries.push(ManagedEntry {
            manager: manager.into(),
            operation: operation.into(),
            api_version,
            time: claim.time.into(),
            subresource: claim.subresource.map(String::from),
            fields,
        }),
        None => {}
    }
    write_managed(obj, &entries);
}

/// Takes `removed` (fields no longer in the object) away from every manager.
pub(super) fn strip_from_all(obj: &mut Value, removed: &FieldSet) {
    if removed.is_empty() {
        return;
    }
    let mut entries = managed_entries(obj);
    for e in &mut entries {
        e.fields.retain(|p| !removed.contains(p));
    }
    write_managed(obj, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn leaf_paths_skip_identity_and_respect_scope() {
        let obj = json!({
            "apiVersion": "v1", "kind": "X",
            "metadata": {"name": "a", "resourceVersion": "3", "labels": {"x": "1"}},
            "spec": {"list": [1, 2], "m": {"k": "v"}, "empty": {}},
            "status": {"phase": "ok"}
        });
        let main = leaf_paths(
            &obj,
            Scope::Main {
                status_subresource: true,
            },
        );
        let want: FieldSet = [
            p("metadata.labels.x"),
            p("spec.list"),
            p("spec.m.k"),
            p("spec.empty"),
        ]
        .into();
        assert_eq!(main, want);
        let all = leaf_paths(
            &obj,
            Scope::Main {
                status_subresource: false,
            },
        );
        assert!(all.contains(&p("status.phase")));
        assert_eq!(leaf_paths(&obj, Scope::Status), [p("status.phase")].into());
    }

    #[test]
    fn fields_v1_round_trip() {
        let set: FieldSet = [p("metadata.labels.x"), p("spec.list"), p("spec.m.k")].into();
        let v = to_fields_v1(&set);
        assert_eq!(
            v,
            json!({"f:metadata": {"f:labels": {"f:x": {}}}, "f:spec": {"f:list": {}, "f:m": {"f:k": {}}}})
        );
        assert_eq!(from_fields_v1(&v), set);
        // Real apiservers record associative list items; we treat the list as one field.
        let real =
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}}}}});
        assert_eq!(from_fields_v1(&real), [p("spec.containers")].into());
    }

    #[test]
    fn remove_prunes_empty_maps() {
        let mut obj = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": {"y": 1}, "z": 2}});
        remove(&mut obj, &p("spec.x.y"));
        assert_eq!(
            obj,
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"z": 2}})
        );
        remove(&mut obj, &p("metadata.labels.a"));
        assert_eq!(obj, json!({"metadata": {}, "spec": {"z": 2}}));
    }

    #[test]
    fn deep_merge_merges_maps_and_replaces_lists() {
        let mut t = json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
        deep_merge(&mut t, &json!({"a": {"c": [3], "e": 4}}));
        assert_eq!(t, json!({"a": {"b": 1, "c": [3], "e": 4}, "d": 1}));
    }
}
