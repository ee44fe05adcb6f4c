//! `meta.k8s.io/v1 Table` responses, which kubectl asks for so the server picks the columns
//! (`additionalPrinterColumns` for custom resources).

use super::registry::ResourceDef;
use serde_json::{Value, json};

/// Whether the Accept header asks for a Table.
pub fn wanted(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',')
            .next()
            .is_some_and(|first| first.contains("as=Table"))
    })
}

struct Column {
    name: &'static str,
    type_: String,
    path: String,
}

fn columns(def: &ResourceDef) -> Vec<Column> {
    let col = |name: &'static str, type_: &str, path: &str| Column {
        name,
        type_: type_.into(),
        path: path.into(),
    };
    let mut cols = vec![col("Name", "string", ".metadata.name")];
    if def.custom {
        if def.printer_columns.is_empty() {
            cols.push(col("Age", "date", ".metadata.creationTimestamp"));
        }
        for c in &def.printer_columns {
            // The header comes from the CRD (see column_definitions); an empty name marks it.
            cols.push(Column {
                name: "",
                type_: c.type_.clone(),
                path: c.json_path.clone(),
            });
        }
        return cols;
    }
    match def.kind.as_str() {
        "Namespace" => cols.push(col("Status", "string", ".status.phase")),
        "ConfigMap" => cols.push(col("Data", "integer", "#data")),
        "Secret" => {
            cols.push(col("Type", "string", ".type"));
            cols.push(col("Data", "integer", "#data"));
        }
        _ => {}
    }
    cols.push(col("Age", "date", ".metadata.creationTimestamp"));
    cols
}

fn column_definitions(def: &ResourceDef) -> Vec<Value> {
    let mut printer = def.printer_columns.iter();
    columns(def)
        .iter()
        .map(|c| {
            let name = if c.name.is_empty() { printer.next().map(|p| p.name.clone()).unwrap_or_default() } else { c.name.to_string() };
            let format = if name == "Name" { "name" } else { "" };
            json!({"name": name, "type": if c.type_ == "date" { "string" } else { c.type_.as_str() }, "format": format, "description": "", "priority": 0})
        })
        .collect()
}

fn row(cols: &[Column], obj: &Value) -> Value {
    let cells: Vec<Value> = cols
        .iter()
        .map(|c| {
            if c.path == "#data" {
                let n = obj
                    .get("data")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
                    + obj
                        .get("binaryData")
                        .and_then(Value::as_object)
                        .map_or(0, |m| m.len());
                return n.into();
            }
            match (c.type_.as_str(), eval(obj, &c.path)) {
                ("date", Some(Value::String(ts))) => age(ts).into(),
                (_, Some(v)) => v.clone(),
                (_, None) => Value::Null,
            }
        })
        .collect();
    let mut meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.remove("managedFields");
    }
    json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
}

/// A Table of `items`.
pub fn table<'a>(
    def: &ResourceDef,
    items: impl Iterator<Item = &'a Value>,
    list_meta: Value,
    with_columns: bool,
) -> Value {
    let cols = columns(def);
    let rows: Vec<Value> = items.map(|o| row(&cols, o)).collect();
    let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "rows": rows});
    if with_columns {
        t["columnDefinitions"] = column_definitions(def).into();
    } else {
        t["columnDefinitions"] = json!([]);
    }
    t
}

/// Evaluates the simple JSONPaths printer columns use: `.a.b`, escaped dots, `[N]`.
pub fn eval<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut chars = path.trim_start_matches('.').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' => segs.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    segs.push(cur);
    let mut v = obj;
    for seg in segs {
        let (key, index) = match seg.find('[') {
            Some(i) => (
                &seg[..i],
                seg[i + 1..]
                    .strip_suffix(']')
                    .and_then(|n| n.parse::<usize>().ok()),
            ),
            None => (seg.as_str(), None),
        };
        if !key.is_empty() {
            v = v.get(key)?;
        }
        if let Some(i) = index {
            v = v.get(i)?;
        }
    }
    Some(v)
}

/// Kubernetes' short human duration since `ts` ("45s", "5m", "3h12m", "4d").
pub fn age(ts: &str) -> String {
    let Ok(t) = ts.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - t.as_second()).max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{m}m{}s", s % 60),
        s if s < 3 * 3600 => format!("{m}m"),
        s if s < 8 * 3600 => format!("{h}h{}m", m % 60),
        s if s < 48 * 3600 => format!("{h}h"),
        s if s < 8 * 86_400 => format!("{d}d{}h", h % 24),
        _ => format!("{d}d"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_handles_escapes_and_indexes() {
        let o = json!({"metadata": {"labels": {"hive.openshift.io/cluster-platform": "aws"}}, "status": {"conditions": [{"reason": "Success"}]}});
        assert_eq!(
            eval(
                &o,
                ".metadata.labels.hive\\.openshift\\.io/cluster-platform"
            ),
            Some(&json!("aws"))
        );
        assert_eq!(
            eval(&o, ".status.conditions[0].reason"),
            Some(&json!("Success"))
        );
        assert_eq!(eval(&o, ".status.conditions[3].reason"), None);
    }

    #[test]
    fn ages_read_like_kubectl() {
        let ago = |s: i64| {
            jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - s)
                .unwrap()
                .to_string()
        };
        assert_eq!(age(&ago(30)), "30s");
        assert_eq!(age(&ago(330)), "5m30s");
        assert_eq!(age(&ago(3 * 86_400 + 7200)), "3d2h");
    }
}
