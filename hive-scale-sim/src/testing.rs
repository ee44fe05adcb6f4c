//! For tests that drive real programs against the embedded hub (kubectl, Prometheus).

use std::io::Write;
use std::path::PathBuf;

/// The environment variable that makes a missing program a failure instead of a skip.
/// `hack/test.sh` (the test command CI runs) sets it after installing what the tests need.
pub const REQUIRE_TOOLS: &str = "HIVE_SCALE_REQUIRE_TOOLS";

/// Finds `name` on `PATH`. When it is missing, the test should return early: under
/// [`REQUIRE_TOOLS`] this panics instead, and otherwise it says on the terminal which test is
/// skipped and why (written to stderr directly, so the test harness does not swallow it).
///
/// # Panics
///
/// When `name` is missing and [`REQUIRE_TOOLS`] is set.
pub fn tool(name: &str, test: &str) -> Option<PathBuf> {
    let found = on_path(name);
    if found.is_none() {
        let why = format!(
            "{name} is not on PATH (hack/test.sh installs what the tests need and runs them all)"
        );
        skip_or_fail(test, &why);
    }
    found
}

/// Finds an older kubectl, `kubectl.1.MINOR`: on `PATH`, or beside the file the `kubectl` on
/// `PATH` resolves to (the Google Cloud SDK keeps `kubectl.1.27` to `kubectl.1.33` in its `bin`
/// folder and links only `kubectl`). Missing, it is handled as [`tool`] handles a missing program.
///
/// # Panics
///
/// When it is missing and [`REQUIRE_TOOLS`] is set.
pub fn kubectl_version(minor: u32, test: &str) -> Option<PathBuf> {
    let name = format!("kubectl.1.{minor}");
    let found = on_path(&name).or_else(|| {
        let kubectl = std::fs::canonicalize(on_path("kubectl")?).ok()?;
        Some(kubectl.with_file_name(&name)).filter(|f| f.is_file())
    });
    if found.is_none() {
        skip_or_fail(
            test,
            &format!(
                "{name} is neither on PATH nor beside kubectl (the Google Cloud SDK ships it)"
            ),
        );
    }
    found
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

fn skip_or_fail(test: &str, why: &str) {
    assert!(
        std::env::var_os(REQUIRE_TOOLS).is_none(),
        "{test}: {why}; {REQUIRE_TOOLS} is set, so this is a failure"
    );
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}

/// Objects a hub holding `crd` admits, generated from its schema: each optional field present or
/// not, strings that are empty, other spellings of Hive's words (`sync`, `SUCCESS`) or a
/// value of the field's enum, integers across their format's range, fields nobody models
/// where the schema keeps unknown fields, lists empty or not. What another team's tooling, an
/// older or a newer Hive may have written: readers must take all of it.
pub fn admitted_object(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    name: &str,
    namespace: Option<&str>,
    rng: &mut impl rand::Rng,
) -> serde_json::Value {
    let version = &crd.spec.versions[0];
    let schema = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .map(|s| serde_json::to_value(s).unwrap_or_default())
        .unwrap_or_default();
    let mut obj = admitted_value(&schema, rng, 0);
    let o = obj.as_object_mut().expect("a CRD's schema is an object");
    o.insert(
        "apiVersion".into(),
        format!("{}/{}", crd.spec.group, version.name).into(),
    );
    o.insert("kind".into(), crd.spec.names.kind.clone().into());
    let mut metadata = serde_json::json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = ns.into();
    }
    if rng.random_bool(0.5) {
        metadata["labels"] = serde_json::json!({"team": "theirs", "scaletest": "true"});
    }
    o.insert("metadata".into(), metadata);
    obj
}

/// Strings Hive's objects hold besides the spellings we name: empty, other cases, unknown.
const TRICKY: &[&str] = &[
    "",
    "sync",
    "SYNC",
    "upsert",
    "Upsert",
    "Sync",
    "success",
    "FAILURE",
    "Success",
    "apply",
    "True",
    "false",
    "x",
    "2026-12-07T06:00:00Z",
];

fn admitted_value(
    schema: &serde_json::Value,
    rng: &mut impl rand::Rng,
    depth: usize,
) -> serde_json::Value {
    use rand::seq::IndexedRandom as _;
    use serde_json::{Value, json};
    if schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)) {
        return json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("theirs-{}", rng.random_range(0..1000)), "namespace": "default"},
            "data": {"k": "v"}});
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && let Some(v) = allowed.choose(rng)
    {
        return v.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut out = serde_json::Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, s) in props {
                    // Deep optional fields thin out, so objects stay small.
                    let keep =
                        required.contains(&k.as_str()) || (depth < 6 && rng.random_bool(0.5));
                    if keep {
                        out.insert(k.clone(), admitted_value(s, rng, depth + 1));
                    }
                }
            }
            if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
                for i in 0..rng.random_range(0..3) {
                    out.insert(format!("key-{i}"), admitted_value(values, rng, depth + 1));
                }
            }
            if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
                && rng.random_bool(0.3)
            {
                out.insert(
                    "someFieldNobodyModels".into(),
                    json!({"nested": [1, "two"]}),
                );
            }
            Value::Object(out)
        }
        Some("array") => {
            let items = schema.get("items").cloned().unwrap_or_default();
            let n = if depth < 6 { rng.random_range(0..3) } else { 0 };
            Value::Array(
                (0..n)
                    .map(|_| admitted_value(&items, rng, depth + 1))
                    .collect(),
            )
        }
        Some("string") => (*TRICKY.choose(rng).unwrap_or(&"")).into(),
        Some("integer") => match schema.get("format").and_then(Value::as_str) {
            Some("int32") => rng
                .random_range(i64::from(i32::MIN)..=i64::from(i32::MAX))
                .into(),
            _ => rng.random_range(-(1i64 << 52)..(1i64 << 52)).into(),
        },
        Some("number") => rng.random_range(-1e6..1e6).into(),
        Some("boolean") => rng.random_bool(0.5).into(),
        // No type: anything (a preserved free-form value).
        _ => json!({"free": "form"}),
    }
}
