//! The hub under bad input: random request paths, methods, headers and bodies, and objects
//! with multi-byte text in every validated field, never make it panic, and every failure is a
//! 4xx with a Kubernetes Status. Bounded in CI (PROPTEST_CASES,
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
        max_body: 64 * 1024,
        shutdown: tokio::sync::watch::channel(false).1,
        faults: None,
        in_flight: Arc::new(InFlight::default()),
    }
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
        authorized in prop_oneof![Just(true), Just(true), Just(true), Just(false)],
        accept in prop_oneof![Just("application/json"), Just("application/json;as=Table;v=v1;g=meta.k8s.io"), Just("*/*")],
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let st = state();
        let path = format!("/{}{}", segments.join("/"), query);
        let Ok(uri) = path.parse::<http::Uri>() else { return Ok(()) };
        let mut req = http::Request::builder().method(method).uri(uri);
        if authorized {
            req = req.header("authorization", format!("Bearer {TOKEN}"));
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
