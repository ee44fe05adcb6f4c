//! Label and field selectors in the query-string syntax kubectl sends.

use super::error::ApiError;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

/// What selectors read of an object: its labels and the few fields field selectors support.
/// Implemented by parsed objects and by the store's [`Head`](super::store::Head).
pub trait Selectable {
    /// The value of label `key`.
    fn label(&self, key: &str) -> Option<&str>;
    /// `metadata.name`, `metadata.namespace`, `status.phase` or `type`.
    fn field(&self, path: &str) -> Option<&str>;
}

impl Selectable for Value {
    fn label(&self, key: &str) -> Option<&str> {
        self.pointer("/metadata/labels")?.get(key)?.as_str()
    }

    fn field(&self, path: &str) -> Option<&str> {
        let v = match path {
            "metadata.name" => self.pointer("/metadata/name"),
            "metadata.namespace" => self.pointer("/metadata/namespace"),
            "status.phase" => self.pointer("/status/phase"),
            "type" => self.get("type"),
            _ => None,
        };
        v?.as_str()
    }
}

/// The parsed `labelSelector=` query parameter of a list, watch or deletecollection (not the
/// `LabelSelector` API type objects carry).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelQuery(Vec<(String, Op)>);

impl LabelQuery {
    /// Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let bad = |why: &str| {
            ApiError::bad_request(format!(
                "unable to parse requirement: {why} in label selector {text:?}"
            ))
        };
        let mut reqs = Vec::new();
        if text.trim().is_empty() {
            return Ok(Self(reqs));
        }
        for part in split_top_level(text) {
            let part = part.trim();
            // An empty requirement (`a=b,` or `,`) is malformed, not "no requirement": a
            // selector that fails to parse must never select everything.
            if part.is_empty() {
                return Err(bad("empty requirement"));
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                (key.trim().to_string(), Op::DoesNotExist)
            } else if let Some((k, v)) = part.split_once("!=") {
                (k.trim().to_string(), Op::NotEq(v.trim().to_string()))
            } else if let Some((k, v)) = part.split_once("==") {
                (k.trim().to_string(), Op::Eq(v.trim().to_string()))
            } else if let Some((k, v)) = part.split_once('=') {
                (k.trim().to_string(), Op::Eq(v.trim().to_string()))
            } else if let Some((k, rest)) = split_word(part, " notin ") {
                (
                    k,
                    Op::NotIn(parse_set(rest).ok_or_else(|| bad("malformed set"))?),
                )
            } else if let Some((k, rest)) = split_word(part, " in ") {
                (
                    k,
                    Op::In(parse_set(rest).ok_or_else(|| bad("malformed set"))?),
                )
            } else {
                (part.to_string(), Op::Exists)
            };
            if !valid_key(&req.0) {
                return Err(bad(&format!("invalid label key {:?}", req.0)));
            }
            let values = match &req.1 {
                Op::Eq(v) | Op::NotEq(v) => std::slice::from_ref(v),
                Op::In(vs) | Op::NotIn(vs) if vs.is_empty() => {
                    return Err(bad("the set of values of in and notin cannot be empty"));
                }
                Op::In(vs) | Op::NotIn(vs) => vs.as_slice(),
                Op::Exists | Op::DoesNotExist => &[],
            };
            if let Some(v) = values.iter().find(|v| !valid_value(v)) {
                return Err(bad(&format!("invalid label value {v:?}")));
            }
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    /// Whether the object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &(impl Selectable + ?Sized)) -> bool {
        let get = |k: &str| obj.label(k);
        self.0.iter().all(|(k, op)| match op {
            Op::Eq(v) => get(k) == Some(v.as_str()),
            Op::NotEq(v) => get(k) != Some(v.as_str()),
            Op::In(vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Op::NotIn(vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Op::Exists => get(k).is_some(),
            Op::DoesNotExist => get(k).is_none(),
        })
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The parsed `fieldSelector=` query parameter (metadata.name, metadata.namespace, and a few
/// status fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldQuery(Vec<(String, bool, String)>);

impl FieldQuery {
    /// Parses `metadata.name=x,metadata.namespace!=y`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if text.trim().is_empty() {
            return Ok(Self(reqs));
        }
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: {text:?}; empty requirement"
                )));
            }
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: {text:?}; can't understand {part:?}"
                )));
            };
            let field = field.trim();
            if !matches!(
                field,
                "metadata.name" | "metadata.namespace" | "status.phase" | "type"
            ) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    /// Whether the object satisfies every requirement.
    pub fn matches(&self, obj: &(impl Selectable + ?Sized)) -> bool {
        self.0.iter().all(|(field, eq, value)| {
            let actual = obj.field(field).unwrap_or("");
            (actual == value) == *eq
        })
    }

    /// The name the selector pins, if it pins one (`metadata.name=x`).
    pub fn pinned_name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, eq, _)| f == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn split_word(part: &str, word: &str) -> Option<(String, String)> {
    let normalized = part.replace('\t', " ");
    let idx = normalized.find(word)?;
    Some((
        normalized[..idx].trim().to_string(),
        normalized[idx + word.len()..].trim().to_string(),
    ))
}

fn parse_set(text: String) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name.
fn valid_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    prefix.is_none_or(hive_scale_core::labels::is_dns_subdomain)
        && valid_value(name)
        && !name.is_empty()
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && v.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
        && v.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "n", "namespace": "ns", "labels": labels}})
    }

    #[test]
    fn label_selector_syntax() {
        let o = obj(
            json!({"scaletest": "true", "env": "prod", "app.kubernetes.io/managed-by": "hive-scale"}),
        );
        for (sel, want) in [
            ("", true),
            ("scaletest=true", true),
            ("scaletest==true", true),
            ("scaletest!=true", false),
            ("env in (prod, dev)", true),
            ("env notin (prod)", false),
            ("env", true),
            ("!env", false),
            ("!missing", true),
            ("missing notin (x)", true),
            ("scaletest=true,env in (dev)", false),
            ("app.kubernetes.io/managed-by=hive-scale,scaletest", true),
        ] {
            assert_eq!(LabelQuery::parse(sel).unwrap().matches(&o), want, "{sel}");
        }
        for bad in [
            "a in (",
            "=x",
            "a=b c",
            "a in x",
            ",",
            "a=b,",
            ",a=b",
            "a in ()",
            "a notin (b c)",
            "a in (b,c d)",
            "Example.com/a=b",
            "a/b/c",
            "/a",
            "日本=x",
            "a=日本",
        ] {
            assert!(LabelQuery::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_selector_syntax() {
        let o = obj(json!({}));
        assert!(FieldQuery::parse("metadata.name=n").unwrap().matches(&o));
        assert!(
            !FieldQuery::parse("metadata.namespace!=ns")
                .unwrap()
                .matches(&o)
        );
        assert_eq!(
            FieldQuery::parse("metadata.name=n").unwrap().pinned_name(),
            Some("n")
        );
        for bad in [",", "metadata.name=a,", "metadata.name"] {
            assert!(FieldQuery::parse(bad).is_err(), "{bad}");
        }
        assert!(FieldQuery::parse(" ").unwrap().matches(&o));
        let err = FieldQuery::parse("spec.foo=1").unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("field label not supported"));
    }
}
