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
