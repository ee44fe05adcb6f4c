//! HTTP front of the store: parses Kubernetes API paths and query parameters, decodes
//! bodies, and renders results and errors the way kube-apiserver does.

use super::auth::{self, Caller};
use super::discovery;
use super::error::ApiError;
use super::faults::Fault;
use super::openapi_v2;
use super::protobuf;
use super::rbac;
use super::registry::ResourceDef;
use super::request_metrics::{RequestKey, RequestMetrics};
use super::selector::{FieldQuery, LabelQuery};
use super::state::{ApiState, error_response, flag, json_bytes, json_response};
use super::store::{
    DeleteOptions, ListQuery, PatchKind, Preconditions, Propagation, WriteEffect, WriteOptions,
};
use super::table;
use super::watch::{self, WatchParams};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

/// Entry point of every request.
pub async fn handle(state: ApiState, req: Request<Body>) -> Response {
    // kube-apiserver's latency starts at receipt.
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let public = matches!(
        path.as_str(),
        "/healthz" | "/livez" | "/readyz" | "/version"
    );
    // Like kube-apiserver, requests that fail authentication are not in the request metrics.
    let caller = if public {
        Caller::Anonymous
    } else {
        match auth::authenticate(&state, &parts.headers) {
            Some(c) => c,
            None => return error_response(&ApiError::unauthorized()),
        }
    };
    let _in_flight = state.in_flight.enter();
    let (query, bad_query) = match parse_query(parts.uri.query().unwrap_or("")) {
        Ok(q) => (q, None),
        Err(e) => (HashMap::new(), Some(e)),
    };
    let key = RequestKey::classify(&parts.method, &path, &query);
    let method = parts.method.clone();
    let response = match bad_query {
        Some(e) => error_response(&e),
        None => {
            let serving = serve_request(&state, &caller, parts, body, &path, query);
            unless_panicked(serving, &method, &path).await
        }
    };
    state.metrics.meter(key, started, response)
}

/// Serves a request; a panic while serving becomes a 500 Status, as kube-apiserver answers
/// a panicking handler, instead of a dropped connection the client would retry as a network
/// error. Defence in depth: no request is known to panic the server. Catching is sound here
/// because the store's locks (parking_lot) are not poisoned by a panic and every write is
/// decided before it changes anything, so a panic leaves the store as it was or with the write
/// done.
async fn unless_panicked(
    serving: impl std::future::Future<Output = Response>,
    method: &Method,
    path: &str,
) -> Response {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(serving).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(%method, path, "the API server panicked serving a request");
            error_response(&ApiError::internal(format!(
                "the server panicked serving {method} {path}"
            )))
        }
    }
}

/// Authorization, faults, the body, the route: everything after authentication.
async fn serve_request(
    state: &ApiState,
    caller: &Caller,
    parts: axum::http::request::Parts,
    body: Body,
    path: &str,
    query: HashMap<String, String>,
) -> Response {
    // Only service accounts are evaluated: the admin token is a superuser, and its requests
    // (every test and tool driving the hub) skip this entirely.
    if let Caller::User(user) = caller {
        let attrs = rbac::Attributes::of_request(parts.method.as_str(), path, &query);
        if let Err(e) = rbac::authorize(&state.store, user, &attrs) {
            return error_response(&e);
        }
    }
    let is_resource = path.starts_with("/api/") || path.starts_with("/apis/");
    let mut drop_after_serving = false;
    if let (Some(faults), true) = (&state.faults, is_resource) {
        let delay = faults.latency() + faults.delay().unwrap_or_default();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match faults.decide(
            parts.method.as_str(),
            &format!("{} {}", parts.method, parts.uri),
        ) {
            Some(Fault::Error(e)) => return error_response(&e),
            Some(Fault::Drop) => return dropped_connection(),
            Some(Fault::CommitThenDrop) => drop_after_serving = true,
            None => {}
        }
    }
    let body = match axum::body::to_bytes(body, state.max_body).await {
        Ok(b) => b,
        Err(_) => return error_response(&ApiError::too_large(state.max_body)),
    };
    let response = match route(
        state,
        caller,
        &parts.method,
        path,
        &query,
        &parts.headers,
        body,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    if drop_after_serving {
        // The write is done; the answer is lost on the way back.
        return dropped_connection();
    }
    response
}

/// A response whose body fails after the headers: the client sees the connection cut.
fn dropped_connection() -> Response {
    let body = futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault: connection dropped",
        ))
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_LENGTH, "64"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

fn parse_query(q: &str) -> Result<HashMap<String, String>, ApiError> {
    if q.len() > 16 * 1024 {
        return Err(ApiError::bad_request("query string too long"));
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .map(|v| v.into_iter().collect())
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
}

/// A resolved resource URL.
struct Target {
    def: Arc<ResourceDef>,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

async fn route(
    state: &ApiState,
    caller: &Caller,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let registry = state.store.registry();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segs.iter().any(|s| s.is_empty() || *s == "." || *s == "..") && path != "/" {
        return Err(ApiError::no_route(path));
    }
    let read_only = |doc: Option<Value>| -> Result<Response, ApiError> {
        if method != Method::GET {
            return Err(ApiError::method_not_allowed(method.as_str(), path));
        }
        doc.map(|d| ok(&d)).ok_or_else(|| ApiError::no_route(path))
    };
    match segs.as_slice() {
        ["healthz" | "livez" | "readyz"] => return Ok((StatusCode::OK, "ok").into_response()),
        ["version"] => return read_only(Some(discovery::version())),
        ["metrics"] => {
            if method != Method::GET {
                return Err(ApiError::method_not_allowed(method.as_str(), path));
            }
            return Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, RequestMetrics::content_type())],
                state.metrics.encode(),
            )
                .into_response());
        }
        ["api"] => return read_only(Some(discovery::core_versions())),
        ["apis"] => return read_only(Some(discovery::groups(&registry))),
        ["api", v] => return read_only(discovery::resources(&registry, "", v)),
        ["apis", g] => return read_only(discovery::group(&registry, g)),
        ["apis", g, v] => return read_only(discovery::resources(&registry, g, v)),
        ["openapi", "v2"] => {
            if method != Method::GET {
                return Err(ApiError::method_not_allowed(method.as_str(), path));
            }
            let doc = openapi_v2::document(&registry);
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
            if openapi_v2::wants_protobuf(accept) {
                return Ok((
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, openapi_v2::PROTOBUF_CONTENT_TYPE)],
                    openapi_v2::protobuf(&doc),
                )
                    .into_response());
            }
            return Ok(ok(&doc));
        }
        ["openapi", "v3"] => return read_only(Some(discovery::openapi_index(&registry))),
        ["openapi", "v3", "api", v] => return read_only(discovery::openapi_gv(&registry, "", v)),
        ["openapi", "v3", "apis", g, v] => {
            return read_only(discovery::openapi_gv(&registry, g, v));
        }
        [
            "api",
            "v1",
            "namespaces",
            ns,
            "serviceaccounts",
            name,
            "token",
        ] => {
            let request = create_only(method, path, headers, &body, "TokenRequest")?;
            let answer = auth::token_request(state, ns, name, &request)?;
            return Ok(json_response(StatusCode::CREATED, &answer));
        }
        ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"] => {
            let request = create_only(method, path, headers, &body, "SelfSubjectReview")?;
            let answer = auth::self_subject_review(caller, &request)?;
            return Ok(json_response(StatusCode::CREATED, &answer));
        }
        [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ] => {
            let request = create_only(method, path, headers, &body, "SelfSubjectAccessReview")?;
            let answer = rbac::self_subject_access_review(&state.store, caller, &request)?;
            return Ok(json_response(StatusCode::CREATED, &answer));
        }
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route(path)),
    };
    let lookup = |plural: &str| registry.lookup(group, version, plural);
    let namespaced_res = |r: &str| lookup(r).filter(|d| d.namespaced);
    let target = match rest {
        ["namespaces", ns, res, tail @ ..] if namespaced_res(res).is_some() => {
            let def = namespaced_res(res).expect("checked");
            match tail {
                [] => Target {
                    def,
                    namespace: Some(ns.to_string()),
                    name: None,
                    status: false,
                },
                [name] => Target {
                    def,
                    namespace: Some(ns.to_string()),
                    name: Some(name.to_string()),
                    status: false,
                },
                [name, "status"] if def.status_subresource => Target {
                    def,
                    namespace: Some(ns.to_string()),
                    name: Some(name.to_string()),
                    status: true,
                },
                _ => return Err(ApiError::no_route(path)),
            }
        }
        [res, tail @ ..] => {
            let def = lookup(res).ok_or_else(|| ApiError::no_route(path))?;
            match tail {
                [] => Target {
                    def,
                    namespace: None,
                    name: None,
                    status: false,
                },
                [name] if !def.namespaced => Target {
                    def,
                    namespace: None,
                    name: Some(name.to_string()),
                    status: false,
                },
                [name, "status"] if !def.namespaced && def.status_subresource => Target {
                    def,
                    namespace: None,
                    name: Some(name.to_string()),
                    status: true,
                },
                _ => return Err(ApiError::no_route(path)),
            }
        }
        [] => return Err(ApiError::no_route(path)),
    };
    serve(state, caller, method, path, query, headers, body, target).await
}

/// The body of a POST to a resource that is only ever created (a review, a token request),
/// decoded as `kind`; any other method is 405.
fn create_only(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
    kind: &str,
) -> Result<Value, ApiError> {
    if method != Method::POST {
        return Err(ApiError::method_not_allowed(method.as_str(), path));
    }
    decode(headers, body, kind).map(|(v, _)| v)
}

fn list_query(query: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    let limit = match query.get("limit") {
        Some(l) => l.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!("limit must be a non-negative integer, not {l:?}"))
        })?,
        None => 0,
    };
    Ok(ListQuery {
        labels: LabelQuery::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?,
        fields: FieldQuery::parse(query.get("fieldSelector").map(String::as_str).unwrap_or(""))?,
        limit,
        continue_token: query.get("continue").filter(|c| !c.is_empty()).cloned(),
    })
}

fn write_options(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    status: bool,
) -> Result<WriteOptions, ApiError> {
    let dry_run = match query.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported dryRun value {other:?}: only All is supported"
            )));
        }
    };
    if let Some(v) = query.get("fieldValidation")
        && !matches!(v.as_str(), "" | "Ignore" | "Warn" | "Strict")
    {
        return Err(ApiError::bad_request(format!(
            "fieldValidation must be one of Ignore, Warn, Strict, not {v:?}"
        )));
    }
    let field_manager = match query.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(m) if m.len() > 128 => {
            return Err(ApiError::bad_request(
                "fieldManager must be at most 128 characters",
            ));
        }
        Some(m) => m.clone(),
        // Kubernetes names the manager after the client's User-Agent when none is given.
        None => headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .chars()
            .take(128)
            .collect(),
    };
    Ok(WriteOptions {
        field_manager,
        dry_run,
        force: flag(query, "force"),
        status,
        internal: false,
        guard: None,
    })
}

/// The write's options with RBAC's escalation check, when a service account writes a role
/// or a binding.
fn guarded(
    mut opts: WriteOptions,
    state: &ApiState,
    caller: &Caller,
    def: &ResourceDef,
    ns: &str,
) -> WriteOptions {
    if let Caller::User(user) = caller {
        opts.guard = rbac::escalation_guard(&state.store, user, def, ns);
    }
    opts
}

/// `DeleteOptions` from the body (or the query, where Kubernetes also accepts them), and
/// whether the delete is a dry run.
fn delete_options(
    query: &HashMap<String, String>,
    body: &Bytes,
) -> Result<(DeleteOptions, bool), ApiError> {
    let options: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    if !options.is_object() {
        return Err(ApiError::bad_request(
            "invalid DeleteOptions: the body must be a JSON object",
        ));
    }
    let text = |k: &str| {
        options
            .get(k)
            .and_then(Value::as_str)
            .or_else(|| query.get(k).map(String::as_str))
            .filter(|v| !v.is_empty())
    };
    let invalid = |field: &str, why: String| {
        ApiError::invalid("DeleteOptions", "", vec![(field.to_string(), why)])
    };
    let policy = match text("propagationPolicy") {
        None => None,
        Some(p) => Some(Propagation::parse(p).ok_or_else(|| {
            invalid(
                "propagationPolicy",
                format!("Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""),
            )
        })?),
    };
    let orphan = options
        .get("orphanDependents")
        .and_then(Value::as_bool)
        .or_else(|| query.get("orphanDependents").map(|v| v == "true"));
    let propagation = match (policy, orphan) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "orphanDependents",
                "Invalid value: orphanDependents and propagationPolicy cannot be both set".into(),
            ));
        }
        (Some(p), None) => p,
        (None, Some(true)) => Propagation::Orphan,
        (None, _) => Propagation::Background,
    };
    let precondition = |k: &str| {
        options
            .pointer(&format!("/preconditions/{k}"))
            .and_then(Value::as_str)
            .map(String::from)
    };
    let dry_run = query.get("dryRun").is_some_and(|v| v == "All")
        || options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    let opts = DeleteOptions {
        preconditions: Preconditions {
            uid: precondition("uid"),
            resource_version: precondition("resourceVersion"),
        },
        propagation,
    };
    Ok((opts, dry_run))
}

/// How YAML bodies are parsed: as deep as JSON ones (serde_json takes 127 levels; the YAML
/// parser's own default of 64 would refuse server-side applies of objects JSON can create,
/// such as CRDs with deep schemas). What is stored is bounded by the store either way.
fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    if let Some(budget) = options.budget.as_mut() {
        budget.max_depth = 127;
    }
    options
}

/// Decodes a request body for a `kind` from JSON, YAML or protobuf.
fn decode(headers: &HeaderMap, body: &Bytes, kind: &str) -> Result<(Value, String), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let value = match ct.as_str() {
        "application/json"
        | "application/merge-patch+json"
        | "application/json-patch+json"
        | "application/strategic-merge-patch+json"
        | "" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("the body of the request is not valid JSON: {e}"))
        })?,
        "application/yaml"
        | "application/apply-patch+yaml"
        | "application/x-yaml"
        | "text/yaml" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the body of the request is not UTF-8"))?;
            serde_saphyr::from_str_with_options::<Value>(text, yaml_options()).map_err(|e| {
                ApiError::bad_request(format!(
                    "the body of the request is not valid YAML: {}",
                    e.to_string().replace('\n', " ")
                ))
            })?
        }
        protobuf::CONTENT_TYPE => protobuf::decode(kind, body)?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    Ok((value, ct))
}

#[allow(clippy::too_many_arguments)] // one request's parts, passed on once
async fn serve(
    state: &ApiState,
    caller: &Caller,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
    t: Target,
) -> Result<Response, ApiError> {
    let store = &state.store;
    let def = &t.def;
    let as_table = table::wanted(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let ns = t.namespace.as_deref().unwrap_or("");
    if def.namespaced && t.name.is_some() && t.namespace.is_none() {
        return Err(ApiError::no_route(path));
    }
    match (method.clone(), &t.name) {
        (Method::GET, None) if flag(query, "watch") => {
            let q = list_query(query)?;
            let params = WatchParams::from_query(query)?;
            watch::serve(state, def.clone(), t.namespace.clone(), q, params, as_table)
        }
        (Method::GET, None) => {
            let q = list_query(query)?;
            let res = store.list(def, t.namespace.as_deref(), &q)?;
            if as_table {
                let meta = list_meta(&res);
                let items: Vec<Value> = res.items.iter().map(|o| o.value()).collect();
                return Ok(ok(&table::table(def, items.iter(), meta, true)));
            }
            Ok(list_response(def, res))
        }
        (Method::POST, None) => {
            if !def.namespaced && t.namespace.is_some() {
                return Err(ApiError::no_route(path));
            }
            let (obj, _) = decode(headers, &body, &def.kind)?;
            let opts = guarded(
                write_options(query, headers, false)?,
                state,
                caller,
                def,
                ns,
            );
            let (obj, _) = store.create(def, ns, obj, &opts)?;
            Ok(json_response(StatusCode::CREATED, &obj))
        }
        (Method::DELETE, None) => {
            let q = list_query(query)?;
            let opts = write_options(query, headers, false)?;
            let (delete, _) = delete_options(query, &body)?;
            let items =
                store.delete_collection(def, t.namespace.as_deref(), &q, &delete, opts.dry_run)?;
            let list = json!({
                "kind": format!("{}List", def.kind),
                "apiVersion": def.api_version(),
                "metadata": {"resourceVersion": store.current_rv().to_string()},
                "items": items.iter().map(|o| (**o).clone()).collect::<Vec<_>>(),
            });
            Ok(ok(&list))
        }
        (Method::GET, Some(name)) => {
            if as_table {
                let obj = store.get(def, ns, name)?;
                let meta = json!({"resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or_default()});
                return Ok(ok(&table::table(def, std::iter::once(&*obj), meta, true)));
            }
            // As a list does: the stored JSON goes out as it is, neither parsed nor rewritten.
            let entry = store.get_entry(def, ns, name)?;
            Ok(json_bytes(
                StatusCode::OK,
                Bytes::copy_from_slice(entry.json()),
            ))
        }
        (Method::PUT, Some(name)) => {
            let (obj, _) = decode(headers, &body, &def.kind)?;
            let opts = guarded(
                write_options(query, headers, t.status)?,
                state,
                caller,
                def,
                ns,
            );
            let (obj, _) = store.update(def, ns, name, obj, &opts)?;
            Ok(ok(&obj))
        }
        (Method::PATCH, Some(name)) => {
            let (patch, ct) = decode(headers, &body, &def.kind)?;
            let kind = match ct.as_str() {
                "application/merge-patch+json" => PatchKind::Merge,
                "application/json-patch+json" => PatchKind::Json,
                "application/strategic-merge-patch+json" => PatchKind::Strategic,
                "application/apply-patch+yaml" => PatchKind::Apply,
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            let opts = guarded(
                write_options(query, headers, t.status)?,
                state,
                caller,
                def,
                ns,
            );
            let (obj, effect) = store.patch(def, ns, name, kind, patch, &opts)?;
            let code = if effect == WriteEffect::Created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_response(code, &obj))
        }
        (Method::DELETE, Some(name)) => {
            let (options, dry_run) = delete_options(query, &body)?;
            let (obj, effect) = store.delete(def, ns, name, &options, dry_run)?;
            if effect == WriteEffect::Deleted {
                let uid = obj.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
                Ok(ok(&json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": def.group, "kind": def.plural, "uid": uid},
                })))
            } else {
                Ok(ok(&obj))
            }
        }
        _ => Err(ApiError::method_not_allowed(method.as_str(), path)),
    }
}

fn list_meta(res: &super::store::ListResult) -> Value {
    let mut meta = json!({"resourceVersion": res.resource_version.to_string()});
    if let Some(c) = &res.continue_token {
        meta["continue"] = c.clone().into();
    }
    if let Some(r) = res.remaining {
        meta["remainingItemCount"] = r.into();
    }
    meta
}

fn list_response(def: &ResourceDef, res: super::store::ListResult) -> Response {
    // Objects are serialized straight into the list body: a 60,000-item list must not clone them.
    let mut out = Vec::with_capacity(res.items.len() * 512 + 256);
    out.extend_from_slice(br#"{"kind":""#);
    out.extend_from_slice(def.kind.as_bytes());
    out.extend_from_slice(br#"List","apiVersion":""#);
    out.extend_from_slice(def.api_version().as_bytes());
    out.extend_from_slice(br#"","metadata":"#);
    serde_json::to_writer(&mut out, &list_meta(&res)).expect("writing to a Vec cannot fail");
    out.extend_from_slice(br#","items":["#);
    for (i, item) in res.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Stored JSON goes out as it is: no parse, no re-serialization.
        out.extend_from_slice(item.json());
    }
    out.extend_from_slice(b"]}");
    json_bytes(StatusCode::OK, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_a_status() {
        let serving = async {
            if std::hint::black_box(true) {
                panic!("a handler bug");
            }
            ok(&json!({}))
        };
        let resp = unless_panicked(serving, &Method::GET, "/api/v1/configmaps").await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let status: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["reason"], "InternalError");
        assert_eq!(status["code"], 500);
    }
}
