//! The hub under bad input: random request paths, methods, headers and bodies (as the admin,
//! as a service account, or with no token), objects with multi-byte text in every validated
//! field, and values nested too deep or grown too big by any write, never make it panic, and
//! every failure is a 4xx with a Kubernetes Status. Bounded in CI (PROPTEST_CASES,
//! default 400); `PROPTEST_CASES=100000 cargo test --release -p hive-scale-sim --test robustness`
//! is the longer run.

use axum::body::Body;
use hive_scale_sim::apiserver::request_metrics::RequestMetrics;
use hive_scale_sim::apiserver::routes::handle;
use hive_scale_sim::apiserver::state::{ApiState, InFlight};
use hive_scale_sim::apiserver::{Store, StoreConfig};
use proptest::prelude::*;
use std::sync::Arc;

const TOKEN: &str = "fuzz-token";

fn state() -> ApiState {
    let store = Store::new(
        &hive_scale_core::api::crds(),
        StoreConfig {
            history_limit: 100,
            watch_buffer: 64,
            ..Default::default()
        },
    );
    ApiState {
        metrics: Arc::new(RequestMetrics::new(store.clone())),
        store,
        token: std::sync::Arc::new(hive_scale_core::secret::Secret::new(TOKEN)),
        tokens: Arc::new(hive_scale_sim::apiserver::auth::Tokens::default()),
        max_body: 64 * 1024,
        shutdown: tokio::sync::watch::channel(false).1,
        faults: None,
        in_flight: Arc::new(InFlight::default()),
    }
}

/// A state with service account `default/fuzz`, allowed to read and write configmaps in
/// `default` and bind roles (so requests as it reach the RBAC checks and the handlers), and
/// a token of it.
fn state_with_service_account() -> (ApiState, String) {
    use hive_scale_sim::apiserver::store::WriteOptions;
    let st = state();
    let reg = st.store.registry();
    let create = |group: &str, plural: &str, ns: &str, body: serde_json::Value| {
        let def = reg.lookup(group, "v1", plural).unwrap();
        st.store
            .create(&def, ns, body, &WriteOptions::default())
            .unwrap();
    };
    let g = "rbac.authorization.k8s.io";
    create(
        "",
        "serviceaccounts",
        "default",
        serde_json::json!({"metadata": {"name": "fuzz"}}),
    );
    create(
        g,
        "roles",
        "default",
        serde_json::json!({"metadata": {"name": "fuzz"}, "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]},
            {"apiGroups": [g], "resources": ["roles", "rolebindings"], "verbs": ["create", "bind"]},
        ]}),
    );
    create(
        g,
        "rolebindings",
        "default",
        serde_json::json!({"metadata": {"name": "fuzz"},
        "roleRef": {"apiGroup": g, "kind": "Role", "name": "fuzz"},
        "subjects": [{"kind": "ServiceAccount", "name": "fuzz"}]}),
    );
    let token = st
        .tokens
        .issue(
            &st.store,
            "default",
            "fuzz",
            std::time::Duration::from_secs(600),
        )
        .unwrap()
        .token
        .expose()
        .to_string();
    (st, token)
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("api".to_string()),
        Just("apis".to_string()),
        Just("v1".to_string()),
        Just("hive.openshift.io".to_string()),
        Just("namespaces".to_string()),
        Just("default".to_string()),
        Just("configmaps".to_string()),
        Just("clusterdeployments".to_string()),
        Just("selectorsyncsets".to_string()),
        Just("status".to_string()),
        Just("..".to_string()),
        Just("%2e%2e".to_string()),
        Just("openapi".to_string()),
        Just("rbac.authorization.k8s.io".to_string()),
        Just("rolebindings".to_string()),
        Just("serviceaccounts".to_string()),
        Just("fuzz".to_string()),
        Just("token".to_string()),
        Just("authorization.k8s.io".to_string()),
        Just("selfsubjectaccessreviews".to_string()),
        "[a-zA-Z0-9._~-]{0,12}",
        "[\\x21-\\x7e]{1,8}".prop_map(|s| s.replace(['?', '#', '/', ' '], "")),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("?watch=true&timeoutSeconds=0".to_string()),
        Just("?limit=abc".to_string()),
        Just("?labelSelector=a%20in%20(".to_string()),
        Just("?fieldSelector=spec.x%3D1".to_string()),
        Just("?continue=%%%".to_string()),
        Just("?dryRun=Maybe".to_string()),
        Just(format!("?labelSelector={}", "x".repeat(20_000))),
        "\\?[a-zA-Z=&%0-9]{0,40}",
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        Just(b"{}".to_vec()),
        Just(br#"{"metadata":{"name":"x"}}"#.to_vec()),
        Just(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fuzz","namespace":"default"},"data":{"a":"b"}}"#.to_vec()),
        Just(br#"[{"op":"remove","path":"/metadata"}]"#.to_vec()),
        Just(br#"{"metadata":{"name":"rb"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"ServiceAccount","name":"fuzz"}]}"#.to_vec()),
        Just(br#"{"spec":{"expirationSeconds":600}}"#.to_vec()),
        Just(br#"{"spec":{"resourceAttributes":{"verb":"get","resource":"secrets"}}}"#.to_vec()),
        Just(b"k8s\x00\x0a\x0b".to_vec()),
        Just(vec![b'{'; 100_000]),
        proptest::collection::vec(any::<u8>(), 0..512),
        "[ -~]{0,200}".prop_map(String::into_bytes),
    ]
}

fn content_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("application/json".to_string()),
        Just("application/yaml".to_string()),
        Just("application/apply-patch+yaml".to_string()),
        Just("application/merge-patch+json".to_string()),
        Just("application/json-patch+json".to_string()),
        Just("application/strategic-merge-patch+json".to_string()),
        Just("application/vnd.kubernetes.protobuf".to_string()),
        "[ -~]{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400), ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_an_answer_and_failures_are_4xx_statuses(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("PATCH"), Just("DELETE"), Just("HEAD"), Just("OPTIONS")],
        segments in proptest::collection::vec(segment(), 0..8),
        query in query(),
        ct in content_type(),
        body in body(),
        credential in prop_oneof![Just("admin"), Just("admin"), Just("service-account"), Just("none")],
        accept in prop_oneof![Just("application/json"), Just("application/json;as=Table;v=v1;g=meta.k8s.io"), Just("*/*")],
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (st, sa_token) = state_with_service_account();
        let authorized = credential != "none";
        let path = format!("/{}{}", segments.join("/"), query);
        let Ok(uri) = path.parse::<http::Uri>() else { return Ok(()) };
        let mut req = http::Request::builder().method(method).uri(uri);
        match credential {
            "admin" => req = req.header("authorization", format!("Bearer {TOKEN}")),
            "service-account" => req = req.header("authorization", format!("Bearer {sa_token}")),
            _ => {}
        }
        if let Ok(v) = http::HeaderValue::from_str(&ct) {
            req = req.header("content-type", v);
        }
        req = req.header("accept", accept);
        let req = req.body(Body::from(body)).unwrap();
        let resp = rt.block_on(handle(st, req));
        let status = resp.status().as_u16();
        prop_assert!(status < 500, "{method} {path} ({ct}) answered {status}");
        if !authorized && !matches!(segments.as_slice(), [s] if ["healthz", "livez", "readyz", "version"].contains(&s.as_str())) {
            prop_assert_eq!(status, 401);
        }
        if status >= 400 {
            let bytes = rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 20)).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&bytes).expect("failures are JSON");
            prop_assert_eq!(&v["kind"], "Status");
            prop_assert_eq!(v["code"].as_u64(), Some(u64::from(status)));
        }
    }
}

/// Text with multi-byte characters: accents, CJK, emoji, combining marks, long runs.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,80}",
        "[a-z0-9]{0,10}[éü日本語🚀\u{301}]{1,60}",
        (1usize..120).prop_map(|n| "é".repeat(n)),
        (1usize..60).prop_map(|n| "🚀".repeat(n)),
        Just("ok-name".to_string()),
    ]
}

/// A JSON value of a random type, so schema checks see the wrong type with multi-byte text.
fn any_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        text().prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        proptest::collection::btree_map(text(), text(), 0..3).prop_map(|m| serde_json::json!(m)),
        proptest::collection::vec(text(), 0..3).prop_map(|v| serde_json::json!(v)),
    ]
}

/// (collection path, apiVersion, kind, body) of an object whose names, labels, annotations,
/// data keys and custom-resource fields carry `text()`.
fn object() -> impl Strategy<Value = (String, serde_json::Value)> {
    let meta = (text(), text(), text(), text(), text()).prop_map(|(name, lk, lv, ak, av)| {
        serde_json::json!({"name": name, "namespace": "default", "labels": {lk: lv}, "annotations": {ak: av}})
    });
    (0usize..5, meta, text(), text(), any_value(), any_value(), any_value()).prop_map(
        |(kind, meta, key, value, a, b, c)| {
            let mut meta = meta;
            let (path, body) = match kind {
                0 => ("/api/v1/namespaces/default/configmaps", serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {key: value}, "binaryData": {"b": a}})),
                1 => ("/api/v1/namespaces/default/secrets", serde_json::json!({"apiVersion": "v1", "kind": "Secret", "data": {key.clone(): value}, "stringData": {key: b}, "immutable": a})),
                2 => {
                    meta.as_object_mut().unwrap().remove("namespace");
                    ("/api/v1/namespaces", serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "spec": {"finalizers": a}}))
                }
                3 => ("/apis/hive.openshift.io/v1/namespaces/default/clusterdeployments", serde_json::json!({"apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
                    "spec": {"clusterName": value, "baseDomain": a, "installed": b, "platform": c, key: "x"}})),
                _ => {
                    meta.as_object_mut().unwrap().remove("namespace");
                    ("/apis/hive.openshift.io/v1/selectorsyncsets", serde_json::json!({"apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
                        "spec": {"clusterDeploymentSelector": {"matchLabels": {key: value}}, "resourceApplyMode": a, "resources": [b, c]}}))
                }
            };
            let mut body = body;
            body["metadata"] = meta;
            (path.to_string(), body)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400), ..ProptestConfig::default() })]

    /// Multi-byte text in any validated field: every verb that writes gets an answer, never a
    /// 5xx and never a dropped connection (a panicking handler would be both).
    #[test]
    fn multi_byte_text_in_objects_gets_an_answer(
        (collection, body) in object(),
        verb in 0usize..3,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let st = state();
        let name = body["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let encoded: String = serde_urlencoded::to_string([("", &name)]).unwrap()[1..].to_string();
        let (method, uri, ct) = match verb {
            0 => ("POST", collection.clone(), "application/json"),
            1 => ("PATCH", format!("{collection}/{encoded}?fieldManager=fuzz"), "application/apply-patch+yaml"),
            _ => ("PUT", format!("{collection}/{encoded}"), "application/json"),
        };
        let Ok(uri) = uri.parse::<http::Uri>() else { return Ok(()) };
        let req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", ct)
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        let resp = rt.block_on(handle(st, req));
        let status = resp.status().as_u16();
        prop_assert!(status < 500, "{method} {collection} answered {status}");
        let bytes = rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 20));
        prop_assert!(bytes.is_ok(), "{method} {collection}: the body was cut");
        if status >= 400 {
            let v: serde_json::Value = serde_json::from_slice(&bytes.unwrap()).expect("failures are JSON");
            prop_assert_eq!(&v["kind"], "Status");
        }
    }
}

/// A hub state that takes bodies as large as kube-apiserver's (3 MiB).
fn full_size_state() -> ApiState {
    ApiState {
        max_body: 3 * 1024 * 1024,
        ..state()
    }
}

/// Sends one request to `st` and returns (status, body as JSON).
async fn call(
    st: &ApiState,
    method: &str,
    path: &str,
    ct: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    call_raw(st, method, path, ct, bytes).await
}

async fn call_raw(
    st: &ApiState,
    method: &str,
    path: &str,
    ct: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", ct)
        .body(Body::from(body))
        .unwrap();
    let resp = handle(st.clone(), req).await;
    let code = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    });
    (code, v)
}

/// `{"a": {"a": ... "leaf"}}`: `levels` maps, one inside the other.
fn nested(levels: usize) -> serde_json::Value {
    (0..levels).fold(
        serde_json::Value::from("leaf"),
        |inner, _| serde_json::json!({"a": inner}),
    )
}

const IMAGE_SETS: &str = "/apis/hive.openshift.io/v1/clusterimagesets";

/// A ClusterImageSet (cluster-scoped, with a status subresource, unknown fields preserved)
/// holding `extra` in its spec.
fn image_set(name: &str, extra: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "hive.openshift.io/v1", "kind": "ClusterImageSet",
        "metadata": {"name": name},
        "spec": {"releaseImage": "quay.io/openshift-release-dev/ocp-release:4.16.0", "extra": extra},
    })
}

/// Reads, lists and deletes `name`: what an object out of bounds would break for good.
async fn readable_and_deletable(st: &ApiState, name: &str) -> serde_json::Value {
    let path = format!("{IMAGE_SETS}/{name}");
    let (code, got) = call(
        st,
        "GET",
        &path,
        "application/json",
        &serde_json::Value::Null,
    )
    .await;
    assert_eq!(code, 200, "GET {path}: {got}");
    let (code, list) = call(
        st,
        "GET",
        IMAGE_SETS,
        "application/json",
        &serde_json::Value::Null,
    )
    .await;
    assert_eq!(code, 200, "LIST: {list}");
    let (code, gone) = call(
        st,
        "DELETE",
        &path,
        "application/json",
        &serde_json::Value::Null,
    )
    .await;
    assert_eq!(code, 200, "DELETE {path}: {gone}");
    got
}

fn assert_invalid(code: u16, status: &serde_json::Value, what: &str) {
    assert_eq!(code, 422, "{what}: {status}");
    assert_eq!(status["kind"], "Status", "{what}: {status}");
    assert_eq!(status["reason"], "Invalid", "{what}: {status}");
}

/// The story: a JSON patch copying a deeply nested value into itself used to leave an
/// object nested deeper than serde_json parses, which panicked the hub on every later GET and
/// DELETE, so it could never be read or removed.
#[tokio::test]
async fn a_value_copied_into_itself_is_refused_and_the_object_stays_readable() {
    let st = state();
    let (code, created) = call(
        &st,
        "POST",
        IMAGE_SETS,
        "application/json",
        &image_set("deep", nested(80)),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    // Into the innermost map of the 80: twice as deep as before, past what a parser reads.
    let innermost = format!("/spec/extra{}", "/a".repeat(79));
    let patch = serde_json::json!([
        {"op": "copy", "from": "/spec/extra", "path": format!("{innermost}/copy")},
        {"op": "copy", "from": "/spec/extra", "path": format!("{innermost}/copy2")},
    ]);
    let path = format!("{IMAGE_SETS}/deep");
    let (code, status) = call(&st, "PATCH", &path, "application/json-patch+json", &patch).await;
    assert_invalid(code, &status, "the copy into itself");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("levels deep") && message.contains("operation 0"),
        "{message}"
    );
    let got = readable_and_deletable(&st, "deep").await;
    assert_eq!(
        got["spec"]["extra"],
        nested(80),
        "nothing of the patch was stored"
    );
}

/// Copies that double an object again and again: a few hundred bytes of patch asking for
/// gigabytes are refused before they are made.
#[tokio::test]
async fn json_patch_copies_that_keep_doubling_are_refused() {
    let st = state();
    let (code, _) = call(
        &st,
        "POST",
        IMAGE_SETS,
        "application/json",
        &image_set("twice", serde_json::json!({"s": "y".repeat(1000)})),
    )
    .await;
    assert_eq!(code, 201);
    let doubling: Vec<serde_json::Value> = (0..40)
        .map(|i| serde_json::json!({"op": "copy", "from": "/spec/extra", "path": format!("/spec/extra/c{i}")}))
        .collect();
    let path = format!("{IMAGE_SETS}/twice");
    let (code, status) = call(
        &st,
        "PATCH",
        &path,
        "application/json-patch+json",
        &serde_json::Value::Array(doubling),
    )
    .await;
    assert_invalid(code, &status, "doubling copies");
    // More operations than kube-apiserver takes is 413, as there.
    let many: Vec<serde_json::Value> = (0..10_001)
        .map(|_| serde_json::json!({"op": "test", "path": "/spec/releaseImage", "value": "x"}))
        .collect();
    let st_big = full_size_state();
    let (code, _) = call(
        &st_big,
        "POST",
        IMAGE_SETS,
        "application/json",
        &image_set("many", serde_json::json!({})),
    )
    .await;
    assert_eq!(code, 201);
    let (code, status) = call(
        &st_big,
        "PATCH",
        &format!("{IMAGE_SETS}/many"),
        "application/json-patch+json",
        &serde_json::Value::Array(many),
    )
    .await;
    assert_eq!(code, 413, "{status}");
    readable_and_deletable(&st, "twice").await;
}

/// An object over etcd's 1.5 MiB is refused whichever write makes it (a body over 3 MiB is
/// refused before that, with 413, as kube-apiserver does), and nothing is stored.
#[tokio::test]
async fn objects_larger_than_etcd_takes_are_refused_by_every_write() {
    use hive_scale_sim::apiserver::store::bounds::MAX_OBJECT_BYTES;
    let st = full_size_state();
    let cms = "/api/v1/namespaces/default/configmaps";
    let cm = |name: &str, n: usize| serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "x".repeat(n)}});
    let (code, status) = call(
        &st,
        "POST",
        cms,
        "application/json",
        &cm("big", MAX_OBJECT_BYTES),
    )
    .await;
    assert_invalid(code, &status, "a create over the bound");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1572864"),
        "{status}"
    );
    let (code, _) = call(
        &st,
        "GET",
        &format!("{cms}/big"),
        "application/json",
        &serde_json::Value::Null,
    )
    .await;
    assert_eq!(code, 404, "nothing was stored");
    let (code, status) = call_raw(
        &st,
        "POST",
        cms,
        "application/json",
        vec![b' '; 4 * 1024 * 1024],
    )
    .await;
    assert_eq!(code, 413, "{status}");
    // Two halves that fit alone but not together, by each kind of write.
    let half = MAX_OBJECT_BYTES / 2 + 1024;
    let (code, created) = call(&st, "POST", cms, "application/json", &cm("half", half)).await;
    assert_eq!(code, 201, "{created}");
    let path = format!("{cms}/half");
    let more = serde_json::json!({"data": {"k2": "x".repeat(half)}});
    let mut put = cm("half", half);
    put["data"]["k2"] = "x".repeat(half).into();
    let writes: Vec<(&str, &str, serde_json::Value)> = vec![
        ("PUT", "application/json", put),
        ("PATCH", "application/merge-patch+json", more.clone()),
        ("PATCH", "application/strategic-merge-patch+json", more),
        (
            "PATCH",
            "application/json-patch+json",
            serde_json::json!([{"op": "copy", "from": "/data/k", "path": "/data/k2"}]),
        ),
    ];
    for (method, ct, body) in writes {
        let (code, status) = call(&st, method, &path, ct, &body).await;
        assert_invalid(code, &status, ct);
        let (code, got) = call(
            &st,
            "GET",
            &path,
            "application/json",
            &serde_json::Value::Null,
        )
        .await;
        assert_eq!(code, 200);
        assert_eq!(
            got["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"],
            "{ct} stored nothing"
        );
    }
    let (code, _) = call(
        &st,
        "DELETE",
        &path,
        "application/json",
        &serde_json::Value::Null,
    )
    .await;
    assert_eq!(code, 200);
}

/// Every way to write, each with a value nested deeper than the store keeps: refused with a
/// 422 naming the field, nothing stored, and the object still read, listed and deleted.
#[tokio::test]
async fn every_write_refuses_values_nested_too_deep() {
    use hive_scale_sim::apiserver::store::bounds::MAX_OBJECT_DEPTH;
    use hive_scale_sim::apiserver::store::{PatchKind, WriteOptions};
    let st = state();
    // Deeper than the store keeps, shallow enough for a request body's parser.
    let deep = nested(MAX_OBJECT_DEPTH + 5);
    let (code, created) = call(
        &st,
        "POST",
        IMAGE_SETS,
        "application/json",
        &image_set("target", serde_json::json!({})),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    let path = format!("{IMAGE_SETS}/target");
    let mut put = created.clone();
    put["spec"]["extra"] = deep.clone();
    let mut status_put = created.clone();
    status_put["status"] = serde_json::json!({"deep": deep.clone()});
    let yaml_create = serde_json::to_string(&image_set("yaml", deep.clone())).unwrap();
    let writes: Vec<(&str, String, &str, Vec<u8>)> = vec![
        (
            "POST",
            IMAGE_SETS.into(),
            "application/json",
            serde_json::to_vec(&image_set("new", deep.clone())).unwrap(),
        ),
        (
            "POST",
            IMAGE_SETS.into(),
            "application/yaml",
            yaml_create.into_bytes(),
        ),
        (
            "PUT",
            path.clone(),
            "application/json",
            serde_json::to_vec(&put).unwrap(),
        ),
        (
            "PATCH",
            path.clone(),
            "application/merge-patch+json",
            serde_json::to_vec(&serde_json::json!({"spec": {"extra": deep.clone()}})).unwrap(),
        ),
        (
            "PATCH",
            path.clone(),
            "application/strategic-merge-patch+json",
            serde_json::to_vec(&serde_json::json!({"spec": {"extra": deep.clone()}})).unwrap(),
        ),
        (
            "PATCH",
            path.clone(),
            "application/json-patch+json",
            serde_json::to_vec(
                &serde_json::json!([{"op": "add", "path": "/spec/extra/d", "value": deep.clone()}]),
            )
            .unwrap(),
        ),
        (
            "PATCH",
            format!("{path}?fieldManager=deep&force=true"),
            "application/apply-patch+yaml",
            serde_json::to_vec(&image_set("target", deep.clone())).unwrap(),
        ),
        (
            "PUT",
            format!("{path}/status"),
            "application/json",
            serde_json::to_vec(&status_put).unwrap(),
        ),
        (
            "PATCH",
            format!("{path}/status"),
            "application/merge-patch+json",
            serde_json::to_vec(&serde_json::json!({"status": {"deep": deep.clone()}})).unwrap(),
        ),
    ];
    for (method, uri, ct, body) in writes {
        let (code, status) = call_raw(&st, method, &uri, ct, body).await;
        let what = format!("{method} {uri} ({ct})");
        assert_invalid(code, &status, &what);
        let field = status["details"]["causes"][0]["field"]
            .as_str()
            .unwrap_or_default();
        // Where it goes too deep, or where a JSON patch would put it.
        assert!(
            field.starts_with("spec.extra.a.a")
                || field.starts_with("status.deep.a.a")
                || field == "spec.extra.d",
            "{what}: {status}"
        );
        let (code, got) = call(
            &st,
            "GET",
            &path,
            "application/json",
            &serde_json::Value::Null,
        )
        .await;
        assert_eq!(code, 200, "{what}: {got}");
        assert_eq!(
            got["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"],
            "{what} stored nothing"
        );
    }
    // The simulated controllers write through the same path, without admission's checks.
    let registry = st.store.registry();
    let def = registry
        .lookup("hive.openshift.io", "v1", "clusterimagesets")
        .unwrap();
    let internal = WriteOptions {
        field_manager: "controller".into(),
        internal: true,
        ..Default::default()
    };
    let err = st
        .store
        .patch(
            &def,
            "",
            "target",
            PatchKind::Merge,
            serde_json::json!({"spec": {"extra": deep.clone()}}),
            &internal,
        )
        .unwrap_err();
    assert_eq!(err.code, 422, "{err}");
    let err = st
        .store
        .create(&def, "", image_set("internal", deep.clone()), &internal)
        .unwrap_err();
    assert_eq!(err.code, 422, "{err}");
    let err = st
        .store
        .patch(
            &def,
            "",
            "internal-apply",
            PatchKind::Apply,
            image_set("internal-apply", deep),
            &internal,
        )
        .unwrap_err();
    assert_eq!(err.code, 422, "{err}");
    readable_and_deletable(&st, "target").await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64), ..ProptestConfig::default() })]

    /// Any depth by any verb: shallow values are stored, values past the bound refused, and
    /// whatever happened the object is read, listed and deleted afterwards.
    #[test]
    fn any_depth_by_any_verb_leaves_a_readable_object(depth in 1usize..120, verb in 0usize..6) {
        use hive_scale_sim::apiserver::store::bounds::MAX_OBJECT_DEPTH;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let st = state();
            let (code, created) = call(&st, "POST", IMAGE_SETS, "application/json", &image_set("x", serde_json::json!({}))).await;
            assert_eq!(code, 201, "{created}");
            let path = format!("{IMAGE_SETS}/x");
            let value = nested(depth);
            let mut put = created.clone();
            put["spec"]["extra"] = value.clone();
            let (method, uri, ct, body) = match verb {
                0 => ("PUT", path.clone(), "application/json", put),
                1 => ("PATCH", path.clone(), "application/merge-patch+json", serde_json::json!({"spec": {"extra": value}})),
                2 => ("PATCH", path.clone(), "application/json-patch+json", serde_json::json!([{"op": "add", "path": "/spec/extra/v", "value": value}])),
                3 => ("PATCH", format!("{path}?fieldManager=p&force=true"), "application/apply-patch+yaml", image_set("x", value)),
                4 => ("PATCH", format!("{path}/status"), "application/merge-patch+json", serde_json::json!({"status": {"v": value}})),
                _ => ("PATCH", path.clone(), "application/json-patch+json", serde_json::json!([
                    {"op": "add", "path": "/spec/extra/v", "value": nested(depth / 2)},
                    {"op": "copy", "from": "/spec/extra/v", "path": format!("/spec/extra/v{}/c", "/a".repeat(depth / 2 - usize::from(depth / 2 > 0)))},
                ])),
            };
            let (code, answer) = call(&st, method, &uri, ct, &body).await;
            assert!(code < 500, "{method} {uri} at depth {depth}: {code} {answer}");
            // Well inside the bound (managed fields mirror the content a few levels deeper).
            if depth + 12 < MAX_OBJECT_DEPTH && verb != 5 {
                assert!(code < 300, "{method} {uri} at depth {depth}: {code} {answer}");
            }
            if depth > MAX_OBJECT_DEPTH {
                assert!(code == 422 || code == 400, "{method} {uri} at depth {depth}: {code} {answer}");
            }
            readable_and_deletable(&st, "x").await;
        });
    }
}

/// An object just inside the size bound can still be deleted: the deletion's own metadata
/// (its timestamp and the server's finalizers, while finalizers hold the object) must not push
/// it out of bounds and make the delete, or the server's removal of its finalizer, fail.
#[tokio::test]
async fn an_object_at_the_size_bound_can_still_be_deleted() {
    use hive_scale_sim::apiserver::store::bounds::MAX_OBJECT_BYTES;
    let st = full_size_state();
    let path = "/api/v1/namespaces/default/configmaps/full";
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "full", "finalizers": ["example.com/hold"]}, "data": {"k": ""}});
    let (code, small) = call(
        &st,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &cm,
    )
    .await;
    assert_eq!(code, 201, "{small}");
    // Fill it to a few bytes under the bound (the stored JSON is what GET answers).
    let room = MAX_OBJECT_BYTES - serde_json::to_vec(&small).unwrap().len() - 8;
    let fill = serde_json::json!({"data": {"k": "x".repeat(room)}});
    let (code, full) = call(&st, "PATCH", path, "application/merge-patch+json", &fill).await;
    assert_eq!(code, 200, "{}", full["message"]);
    assert!(serde_json::to_vec(&full).unwrap().len() > MAX_OBJECT_BYTES - 64);
    // In the foreground: the server adds its own finalizer, then drops it (no dependents).
    let (code, deleting) = call(
        &st,
        "DELETE",
        path,
        "application/json",
        &serde_json::json!({"propagationPolicy": "Foreground"}),
    )
    .await;
    assert_eq!(code, 200, "{}", deleting["message"]);
    let (code, got) = call(
        &st,
        "GET",
        path,
        "application/json",
        &serde_json::Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        got["metadata"]["deletionTimestamp"].is_string(),
        "held by its finalizer"
    );
    assert_eq!(
        got["metadata"]["finalizers"],
        serde_json::json!(["example.com/hold"]),
        "the server's own finalizer came off"
    );
    let release = serde_json::json!({"metadata": {"finalizers": null}});
    let (code, _) = call(&st, "PATCH", path, "application/merge-patch+json", &release).await;
    assert_eq!(code, 200);
    let (code, _) = call(
        &st,
        "GET",
        path,
        "application/json",
        &serde_json::Value::Null,
    )
    .await;
    assert_eq!(code, 404, "gone once released");
}
