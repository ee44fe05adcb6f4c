//! Starting a hub and sending it raw requests, for the HTTP-level tests.
#![allow(dead_code)]

use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use serde_json::{Value, json};

pub async fn hub() -> (tempfile::TempDir, ApiServer, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let hub = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let client = hub.client().await.unwrap();
    (dir, hub, client)
}

/// Sends a request and returns (status, body as JSON); a transport error fails the test.
pub async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    ct: &str,
    body: &Value,
) -> (u16, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ct)
        .body(kube::client::Body::from(bytes))
        .unwrap();
    let resp = client
        .send(req)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: transport error: {e}"));
    let code = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect_bytes()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: body cut: {e}"));
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (code, v)
}

pub async fn post(client: &kube::Client, path: &str, body: Value) -> (u16, Value) {
    send(client, "POST", path, "application/json", &body).await
}

pub async fn get(client: &kube::Client, path: &str) -> (u16, Value) {
    send(client, "GET", path, "application/json", &Value::Null).await
}

pub async fn apply(client: &kube::Client, path: &str, body: Value) -> (u16, Value) {
    let path = format!("{path}?fieldManager=test&force=true");
    send(
        client,
        "PATCH",
        &path,
        "application/apply-patch+yaml",
        &body,
    )
    .await
}

pub async fn merge(client: &kube::Client, path: &str, body: Value) -> (u16, Value) {
    send(client, "PATCH", path, "application/merge-patch+json", &body).await
}

pub async fn delete(client: &kube::Client, path: &str, options: Value) -> (u16, Value) {
    send(client, "DELETE", path, "application/json", &options).await
}

pub const CMS: &str = "/api/v1/namespaces/default/configmaps";

pub fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
}
