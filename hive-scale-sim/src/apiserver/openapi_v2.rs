//! `/openapi/v2`: the Swagger 2.0 document that kubectl before 1.28 (so `oc` 4.14) reads before
//! every apply, and that older client-go tools read for a server's schemas. client-go asks for
//! it as gnostic's protobuf (`openapi.v2.Document`); browsers and scripts ask for JSON.
//!
//! The document is derived from the `/openapi/v3` documents, so both versions describe the same
//! paths, parameters and schemas; the v2 form drops what Swagger 2.0 cannot say (`nullable`,
//! `anyOf`, `oneOf`, `not`), as kube-apiserver does when it publishes a CRD's schema in v2.

use super::discovery;
use super::registry::Registry;
use prost::Message;
use serde_json::{Map, Value, json};

/// The media type client-go sends in `Accept` for the protobuf form.
pub const PROTOBUF_ACCEPT: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The content type of the protobuf answer (kube-apiserver writes `.v1.0` where the request
/// had `@v1.0`).
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Whether an `Accept` header asks for the protobuf form.
pub fn wants_protobuf(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("com.github.proto-openapi.spec.v2"))
}

/// The Swagger 2.0 document in JSON.
pub fn document(registry: &Registry) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for (group, version) in discovery::openapi_group_versions(registry) {
        let Some(v3) = discovery::openapi_gv(registry, &group, &version) else {
            continue;
        };
        for (path, item) in v3["paths"].as_object().into_iter().flatten() {
            let ops: Map<String, Value> = item
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, op)| (method.clone(), operation(op)))
                .collect();
            paths.insert(path.clone(), Value::Object(ops));
        }
        for (name, s) in v3["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            definitions.insert(name.clone(), schema(s));
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": discovery::KUBE_VERSION},
        "paths": paths,
        "definitions": definitions,
    })
}

/// The same document as gnostic's `openapi.v2.Document` protobuf.
pub fn protobuf(document: &Value) -> Vec<u8> {
    pb::document(document).encode_to_vec()
}

/// A v3 operation in v2's shape: parameters carry their `type` directly, the request body is a
/// `body` parameter, and a response names its schema without media types.
fn operation(op: &Value) -> Value {
    let mut out = Map::new();
    for (key, value) in op.as_object().into_iter().flatten() {
        match key.as_str() {
            "parameters" => {
                let params: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        json!({"name": p["name"], "in": p["in"], "type": p["schema"]["type"], "uniqueItems": true})
                    })
                    .collect();
                out.entry("parameters")
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .expect("an array")
                    .extend(params);
            }
            "requestBody" => {
                let consumes: Vec<&String> = value["content"]
                    .as_object()
                    .into_iter()
                    .flat_map(|c| c.keys())
                    .collect();
                out.insert("consumes".into(), json!(consumes));
                out.entry("parameters")
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .expect("an array")
                    .push(json!({"name": "body", "in": "body", "required": true, "schema": {"type": "object"}}));
            }
            "responses" => {
                let responses: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(code, r)| {
                        let mut response = json!({"description": r["description"]});
                        if let Some(s) = r["content"]["application/json"].get("schema") {
                            response["schema"] = schema(s);
                        }
                        (code.clone(), response)
                    })
                    .collect();
                out.insert("responses".into(), Value::Object(responses));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out.insert(
        "produces".into(),
        json!(["application/json", "application/yaml"]),
    );
    Value::Object(out)
}

/// A v3 schema in v2's terms: references point at `#/definitions/`, and the keywords v2 lacks
/// are dropped. Only keywords that hold schemas are walked; `enum`, `default`, `example` and
/// extensions are values and are copied as they are.
fn schema(v3: &Value) -> Value {
    let Some(object) = v3.as_object() else {
        return v3.clone();
    };
    let walk_map = |v: &Value| -> Value {
        Value::Object(
            v.as_object()
                .into_iter()
                .flatten()
                .map(|(k, s)| (k.clone(), schema(s)))
                .collect(),
        )
    };
    object
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "nullable" | "anyOf" | "oneOf" | "not"))
        .map(|(k, v)| {
            let v = match k.as_str() {
                "$ref" => Value::String(
                    v.as_str()
                        .unwrap_or_default()
                        .replace("#/components/schemas/", "#/definitions/"),
                ),
                "properties" | "patternProperties" => walk_map(v),
                "items" | "additionalProperties" if v.is_object() => schema(v),
                "items" | "allOf" if v.is_array() => {
                    Value::Array(v.as_array().into_iter().flatten().map(schema).collect())
                }
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect::<Map<_, _>>()
        .into()
}

/// The subset of gnostic's `openapi_v2` messages (`OpenAPIv2.proto`, package `openapi.v2`)
/// that a Kubernetes document uses, with the proto's field numbers, and the conversion from
/// the JSON document. A field the JSON lacks is left at its protobuf default, as gnostic does.
pub(crate) mod pb {
    use serde_json::Value;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Document {
        #[prost(string, tag = "1")]
        pub swagger: String,
        #[prost(message, optional, tag = "2")]
        pub info: Option<Info>,
        #[prost(string, repeated, tag = "6")]
        pub consumes: Vec<String>,
        #[prost(string, repeated, tag = "7")]
        pub produces: Vec<String>,
        #[prost(message, optional, tag = "8")]
        pub paths: Option<Paths>,
        #[prost(message, optional, tag = "9")]
        pub definitions: Option<Definitions>,
        #[prost(message, repeated, tag = "16")]
        pub vendor_extension: Vec<NamedAny>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Info {
        #[prost(string, tag = "1")]
        pub title: String,
        #[prost(string, tag = "2")]
        pub version: String,
        #[prost(string, tag = "3")]
        pub description: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Paths {
        #[prost(message, repeated, tag = "1")]
        pub vendor_extension: Vec<NamedAny>,
        #[prost(message, repeated, tag = "2")]
        pub path: Vec<NamedPathItem>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedPathItem {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<PathItem>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PathItem {
        #[prost(message, optional, tag = "2")]
        pub get: Option<Operation>,
        #[prost(message, optional, tag = "3")]
        pub put: Option<Operation>,
        #[prost(message, optional, tag = "4")]
        pub post: Option<Operation>,
        #[prost(message, optional, tag = "5")]
        pub delete: Option<Operation>,
        #[prost(message, optional, tag = "8")]
        pub patch: Option<Operation>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Operation {
        #[prost(string, tag = "3")]
        pub description: String,
        #[prost(string, tag = "5")]
        pub operation_id: String,
        #[prost(string, repeated, tag = "6")]
        pub produces: Vec<String>,
        #[prost(string, repeated, tag = "7")]
        pub consumes: Vec<String>,
        #[prost(message, repeated, tag = "8")]
        pub parameters: Vec<ParametersItem>,
        #[prost(message, optional, tag = "9")]
        pub responses: Option<Responses>,
        #[prost(message, repeated, tag = "13")]
        pub vendor_extension: Vec<NamedAny>,
    }

    /// `ParametersItem`, whose oneof also allows a JSON reference (never used here).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ParametersItem {
        #[prost(message, optional, tag = "1")]
        pub parameter: Option<Parameter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Parameter {
        #[prost(oneof = "ParameterKind", tags = "1, 2")]
        pub oneof: Option<ParameterKind>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum ParameterKind {
        #[prost(message, boxed, tag = "1")]
        BodyParameter(Box<BodyParameter>),
        #[prost(message, tag = "2")]
        NonBodyParameter(NonBodyParameter),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BodyParameter {
        #[prost(string, tag = "1")]
        pub description: String,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(string, tag = "3")]
        pub r#in: String,
        #[prost(bool, tag = "4")]
        pub required: bool,
        #[prost(message, optional, tag = "5")]
        pub schema: Option<Schema>,
    }

    /// `NonBodyParameter`, whose oneof also allows header, form and path parameters (the
    /// document has only query parameters: the v3 documents name no path parameters).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NonBodyParameter {
        #[prost(oneof = "NonBodyKind", tags = "3")]
        pub oneof: Option<NonBodyKind>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum NonBodyKind {
        #[prost(message, tag = "3")]
        QueryParameterSubSchema(QueryParameter),
    }

    /// `QueryParameterSubSchema`: its first fields (the rest constrain values).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct QueryParameter {
        #[prost(bool, tag = "1")]
        pub required: bool,
        #[prost(string, tag = "2")]
        pub r#in: String,
        #[prost(string, tag = "3")]
        pub description: String,
        #[prost(string, tag = "4")]
        pub name: String,
        #[prost(string, tag = "6")]
        pub r#type: String,
        #[prost(bool, tag = "20")]
        pub unique_items: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Responses {
        #[prost(message, repeated, tag = "1")]
        pub response_code: Vec<NamedResponseValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedResponseValue {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<ResponseValue>,
    }

    /// `ResponseValue`, whose oneof also allows a JSON reference (never used here).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResponseValue {
        #[prost(message, optional, tag = "1")]
        pub response: Option<Response>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Response {
        #[prost(string, tag = "1")]
        pub description: String,
        #[prost(message, optional, tag = "2")]
        pub schema: Option<SchemaItem>,
    }

    /// `SchemaItem`, whose oneof also allows a file schema (never used here).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SchemaItem {
        #[prost(message, optional, tag = "1")]
        pub schema: Option<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Definitions {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedSchema {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Schema {
        #[prost(string, tag = "1")]
        pub r#ref: String,
        #[prost(string, tag = "2")]
        pub format: String,
        #[prost(string, tag = "3")]
        pub title: String,
        #[prost(string, tag = "4")]
        pub description: String,
        #[prost(message, optional, tag = "5")]
        pub default: Option<Any>,
        #[prost(double, tag = "6")]
        pub multiple_of: f64,
        #[prost(double, tag = "7")]
        pub maximum: f64,
        #[prost(bool, tag = "8")]
        pub exclusive_maximum: bool,
        #[prost(double, tag = "9")]
        pub minimum: f64,
        #[prost(bool, tag = "10")]
        pub exclusive_minimum: bool,
        #[prost(int64, tag = "11")]
        pub max_length: i64,
        #[prost(int64, tag = "12")]
        pub min_length: i64,
        #[prost(string, tag = "13")]
        pub pattern: String,
        #[prost(int64, tag = "14")]
        pub max_items: i64,
        #[prost(int64, tag = "15")]
        pub min_items: i64,
        #[prost(bool, tag = "16")]
        pub unique_items: bool,
        #[prost(int64, tag = "17")]
        pub max_properties: i64,
        #[prost(int64, tag = "18")]
        pub min_properties: i64,
        #[prost(string, repeated, tag = "19")]
        pub required: Vec<String>,
        #[prost(message, repeated, tag = "20")]
        pub r#enum: Vec<Any>,
        #[prost(message, optional, tag = "21")]
        pub additional_properties: Option<AdditionalPropertiesItem>,
        #[prost(message, optional, tag = "22")]
        pub r#type: Option<TypeItem>,
        #[prost(message, optional, tag = "23")]
        pub items: Option<ItemsItem>,
        #[prost(message, repeated, tag = "24")]
        pub all_of: Vec<Schema>,
        #[prost(message, optional, tag = "25")]
        pub properties: Option<Properties>,
        #[prost(bool, tag = "27")]
        pub read_only: bool,
        #[prost(message, optional, tag = "30")]
        pub example: Option<Any>,
        #[prost(message, repeated, tag = "31")]
        pub vendor_extension: Vec<NamedAny>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AdditionalPropertiesItem {
        #[prost(oneof = "SchemaOrBool", tags = "1, 2")]
        pub oneof: Option<SchemaOrBool>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum SchemaOrBool {
        #[prost(message, boxed, tag = "1")]
        Schema(Box<Schema>),
        #[prost(bool, tag = "2")]
        Boolean(bool),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeItem {
        #[prost(string, repeated, tag = "1")]
        pub value: Vec<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ItemsItem {
        #[prost(message, repeated, tag = "1")]
        pub schema: Vec<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Properties {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedAny {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Any>,
    }

    /// gnostic's `Any`: a value as YAML text (field 1, a `google.protobuf.Any`, is unused).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "2")]
        pub yaml: String,
    }

    fn text(v: &Value, key: &str) -> String {
        v[key].as_str().unwrap_or_default().to_string()
    }

    fn texts(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// JSON is YAML, so a value's JSON text is its YAML for gnostic's readers.
    fn any(v: &Value) -> Any {
        Any {
            yaml: v.to_string(),
        }
    }

    fn extensions(v: &Value) -> Vec<NamedAny> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("x-"))
            .map(|(k, x)| NamedAny {
                name: k.clone(),
                value: Some(any(x)),
            })
            .collect()
    }

    fn named_schemas(v: &Value) -> Vec<NamedSchema> {
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(name, s)| NamedSchema {
                name: name.clone(),
                value: Some(schema(s)),
            })
            .collect()
    }

    pub fn document(doc: &Value) -> Document {
        let paths = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, item)| NamedPathItem {
                name: name.clone(),
                value: Some(path_item(item)),
            })
            .collect();
        Document {
            swagger: text(doc, "swagger"),
            info: Some(Info {
                title: text(&doc["info"], "title"),
                version: text(&doc["info"], "version"),
                description: text(&doc["info"], "description"),
            }),
            consumes: texts(&doc["consumes"]),
            produces: texts(&doc["produces"]),
            paths: Some(Paths {
                vendor_extension: Vec::new(),
                path: paths,
            }),
            definitions: Some(Definitions {
                additional_properties: named_schemas(&doc["definitions"]),
            }),
            vendor_extension: extensions(doc),
        }
    }

    fn path_item(item: &Value) -> PathItem {
        let op = |method: &str| item.get(method).map(operation);
        PathItem {
            get: op("get"),
            put: op("put"),
            post: op("post"),
            delete: op("delete"),
            patch: op("patch"),
        }
    }

    fn operation(op: &Value) -> Operation {
        let parameters = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| ParametersItem {
                parameter: Some(parameter(p)),
            })
            .collect();
        let response_code = op["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(code, r)| NamedResponseValue {
                name: code.clone(),
                value: Some(ResponseValue {
                    response: Some(Response {
                        description: text(r, "description"),
                        schema: r.get("schema").map(|s| SchemaItem {
                            schema: Some(schema(s)),
                        }),
                    }),
                }),
            })
            .collect();
        Operation {
            description: text(op, "description"),
            operation_id: text(op, "operationId"),
            produces: texts(&op["produces"]),
            consumes: texts(&op["consumes"]),
            parameters,
            responses: Some(Responses { response_code }),
            vendor_extension: extensions(op),
        }
    }

    fn parameter(p: &Value) -> Parameter {
        let kind = match p["in"].as_str().unwrap_or_default() {
            "body" => ParameterKind::BodyParameter(Box::new(BodyParameter {
                description: text(p, "description"),
                name: text(p, "name"),
                r#in: "body".into(),
                required: p["required"].as_bool().unwrap_or(false),
                schema: p.get("schema").map(schema),
            })),
            _ => ParameterKind::NonBodyParameter(NonBodyParameter {
                oneof: Some(NonBodyKind::QueryParameterSubSchema(QueryParameter {
                    required: p["required"].as_bool().unwrap_or(false),
                    r#in: "query".into(),
                    description: text(p, "description"),
                    name: text(p, "name"),
                    r#type: text(p, "type"),
                    unique_items: p["uniqueItems"].as_bool().unwrap_or(false),
                })),
            }),
        };
        Parameter { oneof: Some(kind) }
    }

    pub fn schema(s: &Value) -> Schema {
        let f = |k: &str| s[k].as_f64().unwrap_or_default();
        let i = |k: &str| s[k].as_i64().unwrap_or_default();
        let b = |k: &str| s[k].as_bool().unwrap_or_default();
        let additional_properties = match &s["additionalProperties"] {
            Value::Bool(allowed) => Some(SchemaOrBool::Boolean(*allowed)),
            v @ Value::Object(_) => Some(SchemaOrBool::Schema(Box::new(schema(v)))),
            _ => None,
        }
        .map(|oneof| AdditionalPropertiesItem { oneof: Some(oneof) });
        let items = match &s["items"] {
            Value::Array(list) => Some(list.iter().map(schema).collect()),
            v @ Value::Object(_) => Some(vec![schema(v)]),
            _ => None,
        }
        .map(|schema| ItemsItem { schema });
        Schema {
            r#ref: text(s, "$ref"),
            format: text(s, "format"),
            title: text(s, "title"),
            description: text(s, "description"),
            default: s.get("default").map(any),
            multiple_of: f("multipleOf"),
            maximum: f("maximum"),
            exclusive_maximum: b("exclusiveMaximum"),
            minimum: f("minimum"),
            exclusive_minimum: b("exclusiveMinimum"),
            max_length: i("maxLength"),
            min_length: i("minLength"),
            pattern: text(s, "pattern"),
            max_items: i("maxItems"),
            min_items: i("minItems"),
            unique_items: b("uniqueItems"),
            max_properties: i("maxProperties"),
            min_properties: i("minProperties"),
            required: texts(&s["required"]),
            r#enum: s["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .map(any)
                .collect(),
            additional_properties,
            r#type: s.get("type").map(|t| TypeItem { value: texts(t) }),
            items,
            all_of: s["allOf"]
                .as_array()
                .into_iter()
                .flatten()
                .map(schema)
                .collect(),
            properties: s.get("properties").map(|p| Properties {
                additional_properties: named_schemas(p),
            }),
            read_only: b("readOnly"),
            example: s.get("example").map(any),
            vendor_extension: extensions(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_v3_schema_becomes_v2() {
        let v3 = json!({
            "type": "object",
            "nullable": true,
            "properties": {
                "spec": {"$ref": "#/components/schemas/a.B"},
                "port": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true},
                "list": {"type": "array", "items": {"type": "string", "nullable": true}},
                "default": {"type": "object", "default": {"properties": 1, "nullable": true}},
            },
        });
        let v2 = schema(&v3);
        assert_eq!(v2.get("nullable"), None);
        assert_eq!(v2["properties"]["spec"]["$ref"], "#/definitions/a.B");
        assert_eq!(
            v2["properties"]["port"],
            json!({"x-kubernetes-int-or-string": true})
        );
        assert_eq!(v2["properties"]["list"]["items"], json!({"type": "string"}));
        assert_eq!(
            v2["properties"]["default"]["default"],
            json!({"properties": 1, "nullable": true}),
            "a default is a value, not a schema"
        );
    }

    #[test]
    fn the_protobuf_carries_what_client_go_reads() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": {"/api/v1/namespaces/{namespace}/configmaps/{name}": {"patch": {
                "operationId": "patchConfigMap",
                "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": true},
                    {"name": "body", "in": "body", "required": true, "schema": {"type": "object"}},
                ],
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.ConfigMap"}}},
            }}},
            "definitions": {"io.k8s.api.core.v1.ConfigMap": {
                "type": "object",
                "required": ["data"],
                "properties": {"data": {"type": "object", "additionalProperties": {"type": "string"}}},
                "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "ConfigMap"}],
            }},
        });
        let bytes = protobuf(&doc);
        let back = pb::Document::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(back.swagger, "2.0");
        let path = &back.paths.as_ref().unwrap().path[0];
        let patch = path.value.as_ref().unwrap().patch.as_ref().unwrap();
        assert_eq!(
            patch.vendor_extension[0].name,
            "x-kubernetes-group-version-kind"
        );
        let gvk: Value =
            serde_json::from_str(&patch.vendor_extension[0].value.as_ref().unwrap().yaml).unwrap();
        assert_eq!(gvk["kind"], "ConfigMap");
        let Some(pb::ParameterKind::NonBodyParameter(pb::NonBodyParameter {
            oneof: Some(pb::NonBodyKind::QueryParameterSubSchema(q)),
        })) = &patch.parameters[0].parameter.as_ref().unwrap().oneof
        else {
            panic!("the first parameter is a query parameter");
        };
        assert_eq!(q.name, "fieldValidation");
        let def = &back.definitions.as_ref().unwrap().additional_properties[0];
        let s = def.value.as_ref().unwrap();
        assert_eq!(s.r#type.as_ref().unwrap().value, ["object"]);
        assert_eq!(s.required, ["data"]);
        let data = &s.properties.as_ref().unwrap().additional_properties[0];
        let Some(pb::SchemaOrBool::Schema(values)) = &data
            .value
            .as_ref()
            .unwrap()
            .additional_properties
            .as_ref()
            .unwrap()
            .oneof
        else {
            panic!("data's values have a schema");
        };
        assert_eq!(values.r#type.as_ref().unwrap().value, ["string"]);
    }
}
