//! How deep and how big a stored object may be, and the JSON patch operations that could
//! build something deeper or bigger than a request body can carry.
//!
//! Every object is stored as compact JSON and parsed again on every read, delete and write,
//! by serde_json (whose parser refuses more than 128 nested arrays and maps) here and in
//! every Rust client. An object nested deeper than that could be stored but never read or
//! deleted again, so every write is checked as it is encoded for storage (see
//! [`encode`]); a request body cannot be that deep (it is parsed by the same parser, YAML as
//! deep), but a JSON patch can copy or move a value into itself and so builds one from a small
//! body, which [`apply_json_patch`] refuses operation by operation.

use serde_json::Value;

/// Deepest nesting of maps and arrays a stored object may have, counting the object itself
/// (`{}` is 1 deep). Readers must parse what is stored: serde_json stops at 128 levels, and
/// a stored object reaches clients one to three levels further down (a list's `items`, a
/// watch event's `object`, a Table row's `object`), so 100 leaves that and a margin. It also
/// bounds the recursion of everything that walks an object (clone, comparison, field sets).
/// kube-apiserver decodes up to 10,000 levels, which its Go clients read back; Rust clients
/// would not.
pub const MAX_OBJECT_DEPTH: usize = 100;

/// Largest stored object, as compact JSON: etcd's default request limit (1.5 MiB). Custom
/// resources are stored in etcd as JSON, so for them this is the bound a real hub has; for
/// built-in kinds, stored as protobuf, it is somewhat stricter.
pub const MAX_OBJECT_BYTES: usize = 3 * 512 * 1024;

/// Most operations in one JSON patch, as kube-apiserver allows.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Most bytes one JSON patch may add by `copy` operations (kube-apiserver's default for the
/// same limit, its request body limit of 3 MiB). Without it, each copy of a value into its
/// own parent doubles the object: thirty operations in a few kilobytes of request ask for
/// gigabytes.
pub const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// Values a JSON patch may look at to decide whether a `move` to a deeper place nests too
/// deep: ten thousand moves of a large subtree must not each walk all of it.
const MAX_JSON_PATCH_MEASURED_NODES: usize = 16 * 1024 * 1024;

/// Why an object cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exceeded {
    /// Nested deeper than [`MAX_OBJECT_DEPTH`]; `field` is where it first goes too deep.
    Depth {
        /// The field (dotted path) of the first map or array beyond the limit.
        field: String,
    },
    /// Larger than [`MAX_OBJECT_BYTES`] as JSON.
    Size,
}

impl Exceeded {
    /// The (field, message) cause of a 422 Invalid.
    pub fn cause(&self) -> (String, String) {
        match self {
            Self::Depth { field } => (
                field.clone(),
                format!(
                    "Invalid value: nested more than {MAX_OBJECT_DEPTH} levels deep (maps and lists)"
                ),
            ),
            Self::Size => (
                String::new(),
                format!(
                    "Too long: the object must be at most {MAX_OBJECT_BYTES} bytes as JSON (etcd's request limit)"
                ),
            ),
        }
    }
}

/// `v` as compact JSON, if it is within [`MAX_OBJECT_DEPTH`] and [`MAX_OBJECT_BYTES`]: the
/// form the store keeps. The depth is measured first, without recursion, so nothing deeper is
/// ever serialized; the walk visits values but not their text, a small part of the cost of the
/// serialization every write does anyway.
pub fn encode(v: &Value) -> Result<Vec<u8>, Exceeded> {
    if deeper_than(v, MAX_OBJECT_DEPTH) {
        return Err(Exceeded::Depth {
            field: too_deep_field(v),
        });
    }
    let json = serde_json::to_vec(v).expect("a JSON value serializes");
    if json.len() > MAX_OBJECT_BYTES {
        return Err(Exceeded::Size);
    }
    Ok(json)
}

/// Whether `v` nests maps and lists more than `limit` deep. Without recursion, and looking
/// only at maps and lists (the bulk of an object is its strings, which it skips).
fn deeper_than(v: &Value, limit: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(v, 1)];
    while let Some((node, depth)) = stack.pop() {
        let children = match node {
            Value::Object(m) => m.values(),
            // A list's items are checked here; only maps and lists among them are pushed.
            Value::Array(a) => {
                for c in a {
                    if c.is_object() || c.is_array() {
                        if depth + 1 > limit {
                            return true;
                        }
                        stack.push((c, depth + 1));
                    }
                }
                continue;
            }
            _ => continue,
        };
        for c in children {
            if c.is_object() || c.is_array() {
                if depth + 1 > limit {
                    return true;
                }
                stack.push((c, depth + 1));
            }
        }
    }
    false
}

/// The dotted field of the first map or list of `v` that is nested too deep, for the error
/// message. Content is searched before `metadata.managedFields` (which mirrors the content a
/// few levels deeper), so the field named is the one the client wrote.
fn too_deep_field(v: &Value) -> String {
    let path = first_beyond(v, MAX_OBJECT_DEPTH, true)
        .or_else(|| first_beyond(v, MAX_OBJECT_DEPTH, false))
        .unwrap_or_default();
    let mut text = String::new();
    for seg in path {
        if !text.is_empty() && !seg.starts_with('[') {
            text.push('.');
        }
        text.push_str(&seg);
    }
    match text.char_indices().nth(120) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

/// The path of the first container deeper than `limit` (iterative, so any depth is safe).
fn first_beyond(v: &Value, limit: usize, skip_managed_fields: bool) -> Option<Vec<String>> {
    let mut stack: Vec<(&Value, Vec<String>)> = vec![(v, Vec::new())];
    while let Some((node, path)) = stack.pop() {
        let children: Vec<(String, &Value)> = match node {
            Value::Object(m) => m.iter().map(|(k, c)| (k.clone(), c)).collect(),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("[{i}]"), c))
                .collect(),
            _ => continue,
        };
        // `path` has one segment per container above `node`; `node` itself is one more.
        if path.len() + 1 > limit {
            return Some(path);
        }
        for (seg, child) in children.into_iter().rev() {
            if skip_managed_fields
                && path.len() == 1
                && path[0] == "metadata"
                && seg == "managedFields"
            {
                continue;
            }
            let mut p = path.clone();
            p.push(seg);
            stack.push((child, p));
        }
    }
    None
}

/// What measuring a value found, as far as the limits let it look.
struct Measure {
    /// Nesting depth (`{}` is 1), or `None` when deeper than asked.
    depth: Option<usize>,
    /// Approximate JSON length (at least the length of its strings and numbers).
    bytes: usize,
    /// Values looked at.
    nodes: usize,
}

/// Measures `v` without recursion, stopping once it is deeper than `max_depth`, longer than
/// `max_bytes` or has more than `max_nodes` values.
fn measure(v: &Value, max_depth: usize, max_bytes: usize, max_nodes: usize) -> Measure {
    let mut m = Measure {
        depth: Some(0),
        bytes: 0,
        nodes: 0,
    };
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((node, above)) = stack.pop() {
        m.nodes += 1;
        if m.bytes > max_bytes || m.nodes > max_nodes {
            break;
        }
        match node {
            Value::Object(map) => {
                let d = above + 1;
                if d > max_depth {
                    m.depth = None;
                    return m;
                }
                deepest = deepest.max(d);
                m.bytes += 2;
                for (k, c) in map {
                    m.bytes += k.len() + 4;
                    stack.push((c, d));
                }
            }
            Value::Array(items) => {
                let d = above + 1;
                if d > max_depth {
                    m.depth = None;
                    return m;
                }
                deepest = deepest.max(d);
                m.bytes += 2;
                for c in items {
                    m.bytes += 1;
                    stack.push((c, d));
                }
            }
            Value::String(s) => m.bytes += s.len() + 2,
            Value::Number(_) => m.bytes += 8,
            Value::Bool(_) | Value::Null => m.bytes += 4,
        }
    }
    m.depth = Some(deepest);
    m
}

/// Why a JSON patch was not applied: the operation (from 0), where and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchRefused {
    /// Index of the operation.
    pub operation: usize,
    /// The operation's `path`, dotted as fields are in a Status.
    pub field: String,
    /// What went wrong, for the Status message.
    pub message: String,
}

/// Applies `ops` to `doc` one by one, refusing an operation that would nest the document
/// deeper than [`MAX_OBJECT_DEPTH`] or, with the copies before it, copy more than
/// [`MAX_JSON_PATCH_COPY_BYTES`]. `doc` must be within the depth bound to begin with (stored
/// objects are); on an error it is left part-patched, so callers patch a copy.
pub fn apply_json_patch(
    doc: &mut Value,
    ops: &[json_patch::PatchOperation],
) -> Result<(), PatchRefused> {
    use json_patch::PatchOperation as Op;
    let mut copied = 0usize;
    let mut measured = 0usize;
    for (i, op) in ops.iter().enumerate() {
        let refuse = |message: String| PatchRefused {
            operation: i,
            field: op
                .path()
                .tokens()
                .map(|t| t.decoded().into_owned())
                .collect::<Vec<_>>()
                .join("."),
            message,
        };
        let too_deep = || {
            refuse(format!(
                "Invalid value: operation {i} ({}) would nest the object more than {MAX_OBJECT_DEPTH} levels deep",
                op_name(op),
            ))
        };
        // A value at a pointer of k segments sits inside k maps or lists.
        let room = MAX_OBJECT_DEPTH.saturating_sub(op.path().count());
        match op {
            Op::Add(a) => {
                if measure(&a.value, room, usize::MAX, usize::MAX)
                    .depth
                    .is_none()
                {
                    return Err(too_deep());
                }
            }
            Op::Replace(r) => {
                if measure(&r.value, room, usize::MAX, usize::MAX)
                    .depth
                    .is_none()
                {
                    return Err(too_deep());
                }
            }
            Op::Copy(c) => {
                if let Some(source) = doc.pointer(c.from.as_str()) {
                    let left = MAX_JSON_PATCH_COPY_BYTES - copied;
                    let m = measure(source, room, left, usize::MAX);
                    if m.depth.is_none() {
                        return Err(too_deep());
                    }
                    if m.bytes > left {
                        return Err(refuse(format!(
                            "Too long: operation {i} (copy) would take the bytes this patch copies past {MAX_JSON_PATCH_COPY_BYTES}"
                        )));
                    }
                    copied += m.bytes;
                }
            }
            Op::Move(m) if m.path.count() > m.from.count() => {
                if let Some(source) = doc.pointer(m.from.as_str()) {
                    let left = MAX_JSON_PATCH_MEASURED_NODES - measured;
                    let found = measure(source, room, usize::MAX, left);
                    if found.depth.is_none() {
                        return Err(too_deep());
                    }
                    if found.nodes > left {
                        return Err(refuse(format!(
                            "Too long: operation {i} (move) moves more than this patch may measure"
                        )));
                    }
                    measured += found.nodes;
                }
            }
            // Moves to a place no deeper, removals and tests nest nothing further.
            Op::Move(_) | Op::Remove(_) | Op::Test(_) => {}
        }
        // One operation at a time, without json_patch's undo log: the caller drops `doc` on
        // an error anyway.
        json_patch::patch_unsafe(doc, std::slice::from_ref(op)).map_err(|e| {
            refuse(format!(
                "Invalid value: operation {i} ({}) failed: {}",
                op_name(op),
                e.kind
            ))
        })?;
    }
    Ok(())
}

fn op_name(op: &json_patch::PatchOperation) -> &'static str {
    use json_patch::PatchOperation as Op;
    match op {
        Op::Add(_) => "add",
        Op::Remove(_) => "remove",
        Op::Replace(_) => "replace",
        Op::Move(_) => "move",
        Op::Copy(_) => "copy",
        Op::Test(_) => "test",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(Value::from("leaf"), |inner, _| json!({"a": inner}))
    }

    fn ops(v: Value) -> Vec<json_patch::PatchOperation> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn encoding_refuses_depth_and_size_and_names_the_field() {
        assert!(encode(&nested(MAX_OBJECT_DEPTH)).is_ok());
        let deep = json!({"metadata": {}, "spec": {"x": nested(MAX_OBJECT_DEPTH)}});
        let Err(Exceeded::Depth { field }) = encode(&deep) else {
            panic!("{deep} is too deep");
        };
        // spec, x and 97 "a"s make 100 maps; the 101st is where it goes too deep.
        assert!(field.starts_with("spec.x.a.a"), "{field}");
        let big = json!({"data": {"k": "x".repeat(MAX_OBJECT_BYTES)}});
        assert_eq!(encode(&big), Err(Exceeded::Size));
        let fits = json!({"data": {"k": "x".repeat(MAX_OBJECT_BYTES - 100)}});
        assert!(encode(&fits).is_ok());
        // Arrays count as much as maps.
        let mut arrays = Value::from(1);
        for _ in 0..=MAX_OBJECT_DEPTH {
            arrays = json!([arrays]);
        }
        assert!(matches!(encode(&arrays), Err(Exceeded::Depth { .. })));
    }

    #[test]
    fn json_patch_refuses_copies_and_moves_into_itself_that_nest_too_deep() {
        let mut doc = json!({"spec": {"v": nested(60)}});
        // Next to itself it fits; inside its innermost map it would be 122 deep.
        let beside = ops(json!([{"op": "copy", "from": "/spec/v", "path": "/spec/v/a/copy"}]));
        apply_json_patch(&mut doc.clone(), &beside).unwrap();
        let innermost = format!("/spec/v{}/copy", "/a".repeat(59));
        let into_itself = ops(json!([{"op": "copy", "from": "/spec/v", "path": innermost}]));
        let err = apply_json_patch(&mut doc.clone(), &into_itself).unwrap_err();
        assert_eq!(err.operation, 0);
        assert!(err.message.contains("more than 100 levels"), "{err:?}");
        // A move to a deeper place is measured too; one to a shallower place is not refused.
        let mut two = json!({"spec": {"v": nested(60), "w": nested(60)}});
        let deep_inside = format!("/spec/v{}/w", "/a".repeat(50));
        let deeper = ops(json!([{"op": "move", "from": "/spec/w", "path": deep_inside}]));
        assert!(apply_json_patch(&mut two.clone(), &deeper).is_err());
        let shallower = ops(json!([{"op": "move", "from": "/spec/w/a", "path": "/w"}]));
        apply_json_patch(&mut two, &shallower).unwrap();
        // Adding what fits is fine, and failures of the patch itself name the operation.
        let fine = ops(json!([
            {"op": "add", "path": "/spec/n", "value": nested(30)},
            {"op": "remove", "path": "/spec/missing"},
        ]));
        let err = apply_json_patch(&mut doc, &fine).unwrap_err();
        assert_eq!(err.operation, 1, "{err:?}");
    }

    #[test]
    fn json_patch_copies_are_bounded_in_bytes() {
        let mut doc = json!({"spec": {"x": {"s": "y".repeat(1024)}}});
        // Each copy doubles x: 12 of them would be 4 MiB.
        let doubling: Vec<Value> = (0..12)
            .map(|i| json!({"op": "copy", "from": "/spec/x", "path": format!("/spec/x/c{i}")}))
            .collect();
        let err = apply_json_patch(&mut doc, &ops(Value::Array(doubling))).unwrap_err();
        assert!(err.message.contains("copies past"), "{err:?}");
        assert_eq!(err.field, format!("spec.x.c{}", err.operation));
        assert!(err.operation >= 10, "{err:?}");
    }
}
