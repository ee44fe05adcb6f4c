//! Admission checks: object names, built-in kinds decoded into their types, CRD schemas, and
//! the core kinds' own rules.

use base64::Engine as _;
use serde_json::Value;

/// Problems found, as `(field, message)`.
pub type Causes = Vec<(String, String)>;

/// Kubernetes' DNS-1123 subdomain rule for object names.
pub fn name(name: &str, causes: &mut Causes) {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if !ok {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"),
        ));
    }
}

/// Namespace names are DNS-1123 labels (no dots, at most 63 characters).
pub fn namespace_name(name: &str, causes: &mut Causes) {
    if name.len() > 63 || name.contains('.') {
        causes.push(("metadata.name".into(), format!("Invalid value: {name:?}: a lowercase RFC 1123 label must be at most 63 characters and contain no dots")));
    } else {
        self::name(name, causes);
    }
}

/// Labels must be maps of strings, values at most 63 characters; owner references must name
/// their owner completely (garbage collection goes by uid).
pub fn metadata(obj: &Value, causes: &mut Causes) {
    if let Some(refs) = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
    {
        for (i, r) in refs.iter().enumerate() {
            for f in ["apiVersion", "kind", "name", "uid"] {
                if r.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                    causes.push((
                        format!("metadata.ownerReferences[{i}].{f}"),
                        "Required value".into(),
                    ));
                }
            }
        }
    }
    for section in ["labels", "annotations"] {
        match obj.pointer(&format!("/metadata/{section}")) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    if !v.is_string() {
                        causes.push((
                            format!("metadata.{section}.{k}"),
                            "Invalid value: must be a string".into(),
                        ));
                    } else if section == "labels" && v.as_str().is_some_and(|s| s.len() > 63) {
                        causes.push((
                            format!("metadata.labels.{k}"),
                            "Invalid value: must be no more than 63 characters".into(),
                        ));
                    }
                }
            }
            Some(_) => causes.push((
                format!("metadata.{section}"),
                "Invalid value: must be a map of strings".into(),
            )),
        }
    }
}

/// Secret `data` values must be base64.
pub fn secret(obj: &Value, causes: &mut Causes) {
    if let Some(data) = obj.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            let ok = v
                .as_str()
                .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok());
            if !ok {
                causes.push((
                    format!("data[{k}]"),
                    "Invalid value: must be base64-encoded".into(),
                ));
            }
        }
    }
}

/// Decodes a built-in kind into its Kubernetes type, as kube-apiserver decodes every body: a
/// field of the wrong type, a missing required field or a Secret value that is not base64 is a
/// cause naming the field. Kinds without a type here pass.
pub fn builtin(kind: &str, obj: &Value, causes: &mut Causes) {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{
        ConfigMap, Namespace, PersistentVolumeClaim, Secret, ServiceAccount,
    };
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let cause = match kind {
        "Namespace" => typed::<Namespace>(obj),
        "ConfigMap" => typed::<ConfigMap>(obj),
        "Secret" => typed::<Secret>(obj),
        "ServiceAccount" => typed::<ServiceAccount>(obj),
        "PersistentVolumeClaim" => typed::<PersistentVolumeClaim>(obj),
        "Job" => typed::<Job>(obj),
        "ClusterRole" => typed::<ClusterRole>(obj),
        "ClusterRoleBinding" => typed::<ClusterRoleBinding>(obj),
        "Role" => typed::<Role>(obj),
        "RoleBinding" => typed::<RoleBinding>(obj),
        "CustomResourceDefinition" => typed::<CustomResourceDefinition>(obj),
        _ => None,
    };
    causes.extend(cause);
}

/// RBAC's own rules for roles and bindings (after they decoded into their types): every
/// rule names verbs and either resources with their API groups or, in cluster roles only,
/// non-resource URLs; a binding refers to a role of a kind it may bind and names its subjects
/// completely (a service account of a cluster role binding has no namespace to default to).
pub fn rbac(kind: &str, obj: &Value, causes: &mut Causes) {
    let list = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    match kind {
        "Role" | "ClusterRole" => {
            let rules = obj.get("rules").and_then(Value::as_array);
            for (i, rule) in rules.into_iter().flatten().enumerate() {
                let field = |f: &str| format!("rules[{i}].{f}");
                let urls = list(rule.get("nonResourceURLs"));
                let resources = list(rule.get("resources"));
                let groups = list(rule.get("apiGroups"));
                if list(rule.get("verbs")).is_empty() {
                    causes.push((
                        field("verbs"),
                        "Required value: verbs must contain at least one value".into(),
                    ));
                }
                if !urls.is_empty() {
                    if kind == "Role" {
                        causes.push((
                            field("nonResourceURLs"),
                            "Invalid value: namespaced rules cannot apply to non-resource URLs"
                                .into(),
                        ));
                    }
                    if !resources.is_empty() || !groups.is_empty() {
                        causes.push((field("nonResourceURLs"), "Invalid value: rules cannot apply to both regular resources and non-resource URLs".into()));
                    }
                    continue;
                }
                if resources.is_empty() {
                    causes.push((
                        field("resources"),
                        "Required value: resource rules must supply at least one resource".into(),
                    ));
                }
                if groups.is_empty() {
                    causes.push((
                        field("apiGroups"),
                        "Required value: resource rules must supply at least one api group".into(),
                    ));
                }
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let text = |v: &Value, k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let role_ref = obj.get("roleRef").cloned().unwrap_or_default();
            let group = text(&role_ref, "apiGroup");
            if group != "rbac.authorization.k8s.io" {
                causes.push(("roleRef.apiGroup".into(), format!("Unsupported value: {group:?}: supported values: \"rbac.authorization.k8s.io\"")));
            }
            let ref_kind = text(&role_ref, "kind");
            let kinds: &[&str] = if kind == "RoleBinding" {
                &["Role", "ClusterRole"]
            } else {
                &["ClusterRole"]
            };
            if !kinds.contains(&ref_kind.as_str()) {
                let supported: Vec<String> = kinds.iter().map(|k| format!("{k:?}")).collect();
                causes.push((
                    "roleRef.kind".into(),
                    format!(
                        "Unsupported value: {ref_kind:?}: supported values: {}",
                        supported.join(", ")
                    ),
                ));
            }
            let ref_name = text(&role_ref, "name");
            if ref_name.is_empty() {
                causes.push(("roleRef.name".into(), "Required value".into()));
            } else if ref_name.contains('/')
                || ref_name.contains('%')
                || ref_name == "."
                || ref_name == ".."
            {
                causes.push((
                    "roleRef.name".into(),
                    format!(
                        "Invalid value: {:?}: may not contain '/' or '%', or be '.' or '..'",
                        cut(&ref_name, 80)
                    ),
                ));
            }
            let subjects = obj.get("subjects").and_then(Value::as_array);
            for (i, subject) in subjects.into_iter().flatten().enumerate() {
                let field = |f: &str| format!("subjects[{i}].{f}");
                if text(subject, "name").is_empty() {
                    causes.push((field("name"), "Required value".into()));
                }
                let api_group = text(subject, "apiGroup");
                match text(subject, "kind").as_str() {
                    "ServiceAccount" => {
                        if !api_group.is_empty() {
                            causes.push((field("apiGroup"), format!("Unsupported value: {api_group:?}: supported values: \"\"")));
                        }
                        if kind == "ClusterRoleBinding" && text(subject, "namespace").is_empty() {
                            causes.push((field("namespace"), "Required value".into()));
                        }
                    }
                    "User" | "Group" => {
                        if !api_group.is_empty() && api_group != "rbac.authorization.k8s.io" {
                            causes.push((field("apiGroup"), format!("Unsupported value: {api_group:?}: supported values: \"rbac.authorization.k8s.io\"")));
                        }
                    }
                    other => causes.push((field("kind"), format!("Unsupported value: {other:?}: supported values: \"ServiceAccount\", \"User\", \"Group\""))),
                }
            }
        }
        _ => {}
    }
}

/// What the server needs of a CRD to serve the resource it defines: group, names, scope, at
/// least one version, and the name `<plural>.<group>`.
pub fn crd(name: &str, obj: &Value, causes: &mut Causes) {
    let text = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    for field in ["spec.group", "spec.names.plural", "spec.names.kind"] {
        if text(&format!("/{}", field.replace('.', "/"))).is_none() {
            causes.push((field.into(), "Required value".into()));
        }
    }
    match text("/spec/scope") {
        Some("Namespaced" | "Cluster") => {}
        Some(other) => causes.push((
            "spec.scope".into(),
            format!("Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""),
        )),
        None => causes.push(("spec.scope".into(), "Required value".into())),
    }
    if obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        causes.push(("spec.versions".into(), "Required value".into()));
    }
    if let (Some(plural), Some(group)) = (text("/spec/names/plural"), text("/spec/group"))
        && name != format!("{plural}.{group}")
    {
        causes.push((
            "metadata.name".into(),
            format!(
                "Invalid value: {:?}: must be spec.names.plural+\".\"+spec.group",
                cut(name, 80)
            ),
        ));
    }
}

/// Decodes `metadata` as an ObjectMeta (what custom resources share with built-in kinds).
pub fn object_meta(obj: &Value, causes: &mut Causes) {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    if let Some(m) = obj.get("metadata")
        && let Some((field, message)) = typed::<ObjectMeta>(m)
    {
        let field = if field.is_empty() {
            "metadata".to_string()
        } else {
            format!("metadata.{field}")
        };
        causes.push((field, message));
    }
}

/// The first problem decoding `v` as a `T`, as (field, message).
fn typed<T: serde::de::DeserializeOwned>(v: &Value) -> Option<(String, String)> {
    let err = serde_path_to_error::deserialize::<_, T>(v).err()?;
    let path = match err.path().to_string() {
        root if root == "." => String::new(),
        p => p,
    };
    let inner = err.inner().to_string();
    let join = |leaf: &str| match (path.is_empty(), leaf.is_empty()) {
        (true, _) => leaf.to_string(),
        (false, true) => path.clone(),
        (false, false) => format!("{path}.{leaf}"),
    };
    Some(match missing_field(&inner) {
        Some(field) => (join(field), "Required value".into()),
        None => (join(""), format!("Invalid value: {}", cut(&inner, 200))),
    })
}

/// The field a serde "missing field `x`" error names.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split_once('`')
        .map(|(f, _)| f)
}

/// `s` cut after `max` characters (not bytes: user text may be multi-byte, and a cut inside a
/// character would panic).
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_string(),
    }
}

/// Checks `obj` against a CRD's structural schema: types, required fields, enums.
pub fn schema(schema: &Value, obj: &Value, causes: &mut Causes) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            if k == "metadata" || k == "apiVersion" || k == "kind" {
                continue;
            }
            if let Some(v) = obj.get(k) {
                node(s, v, k, causes);
            }
        }
    }
    required(schema, obj, "", causes);
}

fn required(schema: &Value, obj: &Value, path: &str, causes: &mut Causes) {
    if let (Some(req), Some(map)) = (
        schema.get("required").and_then(Value::as_array),
        obj.as_object(),
    ) {
        for r in req.iter().filter_map(Value::as_str) {
            if !map.contains_key(r) {
                let field = if path.is_empty() {
                    r.to_string()
                } else {
                    format!("{path}.{r}")
                };
                causes.push((field, "Required value".into()));
            }
        }
    }
}

fn node(schema: &Value, v: &Value, path: &str, causes: &mut Causes) {
    // Kubernetes prunes nulls of non-nullable fields instead of refusing them.
    if v.is_null() {
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let ok = match ty {
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        _ => true,
    };
    if !ok {
        causes.push((
            path.to_string(),
            format!(
                "Invalid value: {}: {path} in body must be of type {}",
                short(v),
                ty.unwrap_or("?")
            ),
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
        causes.push((
            path.to_string(),
            format!(
                "Unsupported value: {}: supported values: {}",
                short(v),
                list.join(", ")
            ),
        ));
    }
    if let Some(map) = v.as_object() {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, s) in props {
                if let Some(child) = map.get(k) {
                    node(s, child, &format!("{path}.{k}"), causes);
                }
            }
        }
        required(schema, v, path, causes);
    }
    if let (Some(items), Some(list)) = (schema.get("items"), v.as_array()) {
        for (i, child) in list.iter().enumerate() {
            node(items, child, &format!("{path}[{i}]"), causes);
            if items
                .get("x-kubernetes-embedded-resource")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                for f in ["apiVersion", "kind"] {
                    if child
                        .get(f)
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        causes.push((
                            format!("{path}[{i}].{f}"),
                            "Required value: must not be empty".into(),
                        ));
                    }
                }
            }
        }
    }
}

/// A value for an error message: its JSON, cut after 40 characters.
fn short(v: &Value) -> String {
    cut(&v.to_string(), 40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_checks_types_required_enums_and_embedded_resources() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "mode": {"type": "string", "enum": ["A", "B"]},
            "n": {"type": "integer"},
            "res": {"type": "array", "items": {"type": "object", "x-kubernetes-embedded-resource": true}}
        }}}, "required": ["spec"]});
        let mut c = Causes::new();
        schema(
            &s,
            &json!({"spec": {"name": "x", "mode": "A", "n": 1, "res": [{"apiVersion": "v1", "kind": "K"}]}}),
            &mut c,
        );
        assert!(c.is_empty(), "{c:?}");
        schema(
            &s,
            &json!({"spec": {"mode": "C", "n": "1", "res": [{"kind": "K"}]}}),
            &mut c,
        );
        let fields: Vec<&str> = c.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec!["spec.mode", "spec.n", "spec.res[0].apiVersion", "spec.name"]
        );
        let mut c = Causes::new();
        schema(&s, &json!({}), &mut c);
        assert_eq!(c, vec![("spec".to_string(), "Required value".to_string())]);
    }

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        let v = Value::from("é".repeat(60));
        // 40 characters of the JSON text: the opening quote and 39 of the accented letters.
        assert_eq!(short(&v), format!("\"{}...", "é".repeat(39)));
        assert_eq!(short(&Value::from("ok")), "\"ok\"");
    }

    #[test]
    fn built_in_kinds_decode_and_crds_define_a_resource() {
        let mut c = Causes::new();
        builtin("Secret", &json!({"data": {"k": 5}}), &mut c);
        builtin("Widget", &json!({"anything": 5}), &mut c);
        object_meta(&json!({"metadata": {"labels": {"a": 1}}}), &mut c);
        let fields: Vec<&str> = c.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["data.k", "metadata.labels.a"], "{c:?}");
        let mut c = Causes::new();
        let spec = json!({"spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}, "scope": "Namespaced", "versions": [{"name": "v1"}]}});
        crd("widgets.example.com", &spec, &mut c);
        assert!(c.is_empty(), "{c:?}");
        crd("other", &spec, &mut c);
        crd("x", &json!({"spec": {"scope": "Galaxy"}}), &mut c);
        let fields: Vec<&str> = c.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "metadata.name",
                "spec.group",
                "spec.names.plural",
                "spec.names.kind",
                "spec.scope",
                "spec.versions"
            ]
        );
    }

    #[test]
    fn roles_and_bindings_follow_rbac_rules() {
        let fields = |kind: &str, obj: Value| {
            let mut c = Causes::new();
            rbac(kind, &obj, &mut c);
            c.into_iter().map(|(f, _)| f).collect::<Vec<_>>()
        };
        let good_rules = json!({"rules": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        ]});
        assert!(fields("Role", good_rules.clone()).is_empty());
        assert!(
            fields(
                "ClusterRole",
                json!({"rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]})
            )
            .is_empty()
        );
        assert_eq!(
            fields(
                "Role",
                json!({"rules": [
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": []},
                    {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
                    {"resources": ["secrets"], "verbs": ["get"]},
                    {"apiGroups": [""], "verbs": ["get"]},
                ]})
            ),
            [
                "rules[0].verbs",
                "rules[1].nonResourceURLs",
                "rules[2].apiGroups",
                "rules[3].resources"
            ]
        );
        let binding = |role_kind: &str, subject: Value| json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": "r"}, "subjects": [subject]});
        let sa = json!({"kind": "ServiceAccount", "name": "hive-scale", "namespace": "hive"});
        assert!(fields("RoleBinding", binding("Role", sa.clone())).is_empty());
        assert!(fields("ClusterRoleBinding", binding("ClusterRole", sa)).is_empty());
        assert!(
            fields(
                "RoleBinding",
                binding(
                    "ClusterRole",
                    json!({"kind": "ServiceAccount", "name": "x"})
                )
            )
            .is_empty()
        );
        assert_eq!(
            fields(
                "ClusterRoleBinding",
                binding("Role", json!({"kind": "ServiceAccount", "name": "x"}))
            ),
            ["roleRef.kind", "subjects[0].namespace"]
        );
        assert_eq!(
            fields(
                "RoleBinding",
                binding("Role", json!({"kind": "Robot", "name": ""}))
            ),
            ["subjects[0].name", "subjects[0].kind"]
        );
        assert_eq!(
            fields(
                "RoleBinding",
                json!({"roleRef": {"apiGroup": "x", "kind": "Role", "name": "a/b"}})
            ),
            ["roleRef.apiGroup", "roleRef.name"]
        );
    }

    #[test]
    fn names_and_secrets() {
        let mut c = Causes::new();
        name("ok-name.x", &mut c);
        namespace_name("ns1", &mut c);
        secret(&json!({"data": {"k": "aGk="}}), &mut c);
        assert!(c.is_empty());
        name("Bad_Name", &mut c);
        namespace_name("a.b", &mut c);
        secret(&json!({"data": {"k": "not base64!"}}), &mut c);
        assert_eq!(c.len(), 3);
    }
}
