//! The hub through kube-rs: what client libraries rely on, and what malformed requests get.

use futures::{StreamExt, TryStreamExt};
use hive_scale_core::api::{ClusterDeployment, SelectorSyncSet};
use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

async fn hub() -> (tempfile::TempDir, ApiServer, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let hub = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let client = hub.client().await.unwrap();
    (dir, hub, client)
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"scaletest": "true"}}, "data": {"a": "1"}}),
    )
    .unwrap()
}

/// Sends a raw request and returns (status, body as JSON).
async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body)
        .unwrap();
    match client.request_text(req).await {
        Ok(text) => (
            200,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ),
        Err(kube::Error::Api(s)) => (s.code, serde_json::to_value(&*s).unwrap()),
        Err(e) => panic!("transport error: {e}"),
    }
}

#[tokio::test]
async fn discovery_lists_hive_resources_with_scope() {
    let (_d, hub, client) = hub().await;
    let discovery = kube::discovery::Discovery::new(client).run().await.unwrap();
    let (sss, caps) = discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "hive.openshift.io",
            "v1",
            "SelectorSyncSet",
        ))
        .unwrap();
    assert_eq!(sss.plural, "selectorsyncsets");
    assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
    let (_, caps) = discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "hiveinternal.openshift.io",
            "v1alpha1",
            "ClusterSync",
        ))
        .unwrap();
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    hub.shutdown().await;
}

#[tokio::test]
async fn pagination_walks_every_object_once() {
    let (_d, hub, client) = hub().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..120 {
        api.create(&PostParams::default(), &cm(&format!("cm-{i:03}")))
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut lp = ListParams::default().labels("scaletest=true").limit(50);
    loop {
        let page = api.list(&lp).await.unwrap();
        names.extend(page.items.into_iter().map(|c| c.metadata.name.unwrap()));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(names.len(), 120);
    names.dedup();
    assert_eq!(names.len(), 120);
    hub.shutdown().await;
}

#[tokio::test]
async fn watch_resumes_from_a_version_and_expired_versions_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ApiServerConfig::new(dir.path(), "hub");
    cfg.store.history_limit = 20;
    let hub = ApiServer::start(cfg).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(hub.client().await.unwrap(), "default");
    let first = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let rv = first.metadata.resource_version.clone().unwrap();
    api.create(&PostParams::default(), &cm("b")).await.unwrap();
    api.delete("a", &Default::default()).await.unwrap();
    let events: Vec<_> = api
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap()
        .take(2)
        .try_collect()
        .await
        .unwrap();
    assert!(
        matches!(&events[0], WatchEvent::Added(c) if c.metadata.name.as_deref() == Some("b")),
        "{events:?}"
    );
    assert!(
        matches!(&events[1], WatchEvent::Deleted(c) if c.metadata.name.as_deref() == Some("a")),
        "{events:?}"
    );
    for i in 0..30 {
        api.create(&PostParams::default(), &cm(&format!("x{i}")))
            .await
            .unwrap();
    }
    let events: Vec<_> = api
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap()
        .take(1)
        .try_collect()
        .await
        .unwrap();
    assert!(
        matches!(&events[0], WatchEvent::Error(e) if e.code == 410),
        "{events:?}"
    );

    // kube-runtime's watcher (list, then watch with bookmarks) sees later changes.
    let mut stream = watcher(
        api.clone(),
        watcher::Config::default().labels("scaletest=true"),
    )
    .applied_objects()
    .boxed();
    let mut seen = 0;
    while let Some(obj) = stream.try_next().await.unwrap() {
        seen += 1;
        if seen == 31 {
            api.create(&PostParams::default(), &cm("late"))
                .await
                .unwrap();
        }
        if obj.metadata.name.as_deref() == Some("late") {
            break;
        }
    }
    assert_eq!(seen, 32, "31 listed, then the one created while watching");
    hub.shutdown().await;
}

#[tokio::test]
async fn typed_hive_resources_round_trip_through_the_hub() {
    let (_d, hub, client) = hub().await;
    let ns: Api<Namespace> = Api::all(client.clone());
    ns.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "ns1"}})).unwrap(),
    )
    .await
    .unwrap();
    let cds: Api<ClusterDeployment> = Api::namespaced(client.clone(), "ns1");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../hive-scale-core/tests/fixtures/clusterdeployment-adopted.yaml"
    ))
    .unwrap();
    let mut cd: ClusterDeployment = serde_saphyr::from_str(&text).unwrap();
    cd.metadata.namespace = Some("ns1".into());
    cd.metadata.finalizers = None;
    let created = cds.create(&PostParams::default(), &cd).await.unwrap();
    assert_eq!(created.spec, cd.spec, "unknown spec fields survive the hub");
    assert!(created.status.is_none(), "status is a subresource");
    let sss: Api<SelectorSyncSet> = Api::all(client);
    let set = hive_scale_core::fixtures::SelectorSyncSetFixture::new()
        .render_range(0, 1)
        .unwrap()
        .remove(0);
    let stored = sss.create(&PostParams::default(), &set).await.unwrap();
    assert_eq!(stored.spec, set.spec);
    assert_eq!(stored.metadata.generation, Some(1));
    hub.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_a_status_not_a_crash() {
    let (_d, hub, client) = hub().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let cases: Vec<(&str, String, &str, Vec<u8>, u16)> = vec![
        (
            "POST",
            cms.into(),
            "application/json",
            b"{not json".to_vec(),
            400,
        ),
        (
            "POST",
            cms.into(),
            "application/yaml",
            b"a: [".to_vec(),
            400,
        ),
        (
            "POST",
            cms.into(),
            "application/json",
            b"[1,2]".to_vec(),
            400,
        ),
        (
            "POST",
            cms.into(),
            "application/json",
            br#"{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"x"}}"#.to_vec(),
            400,
        ),
        (
            "POST",
            cms.into(),
            "application/json",
            br#"{"metadata":{}}"#.to_vec(),
            422,
        ),
        (
            "POST",
            cms.into(),
            "application/vnd.kubernetes.protobuf",
            b"k8s\0xx".to_vec(),
            400,
        ),
        (
            "POST",
            "/apis/hive.openshift.io/v1/selectorsyncsets".into(),
            "application/vnd.kubernetes.protobuf",
            b"k8s\0xx".to_vec(),
            415,
        ),
        (
            "POST",
            cms.into(),
            "application/json",
            vec![b' '; 4 * 1024 * 1024],
            413,
        ),
        (
            "GET",
            "/apis/hive.openshift.io/v1/widgets".into(),
            "application/json",
            vec![],
            404,
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/../../secrets".into(),
            "application/json",
            vec![],
            404,
        ),
        (
            "GET",
            format!("{cms}?limit=lots"),
            "application/json",
            vec![],
            400,
        ),
        (
            "GET",
            format!("{cms}?labelSelector=a%20in%20("),
            "application/json",
            vec![],
            400,
        ),
        (
            "GET",
            format!("{cms}?fieldSelector=spec.x%3D1"),
            "application/json",
            vec![],
            400,
        ),
        (
            "GET",
            format!("{cms}?watch=1&resourceVersion=abc"),
            "application/json",
            vec![],
            400,
        ),
        (
            "PATCH",
            format!("{cms}/nope"),
            "application/json-patch+json",
            b"[]".to_vec(),
            404,
        ),
        (
            "PATCH",
            format!("{cms}/nope"),
            "text/plain",
            b"x".to_vec(),
            415,
        ),
        (
            "DELETE",
            format!("{cms}/nope"),
            "application/json",
            vec![],
            404,
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/configmaps".into(),
            "application/json",
            b"{}".to_vec(),
            405,
        ),
    ];
    for (method, path, ct, body, want) in cases {
        let (code, status) = raw(&client, method, &path, ct, body).await;
        assert_eq!(code, want, "{method} {path} {ct}: {status}");
        assert_eq!(status["status"], "Failure", "{method} {path}: {status}");
    }
    // Still serving after all that.
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/namespaces",
        "application/json",
        vec![],
    )
    .await;
    assert_eq!(code, 200);
    hub.shutdown().await;
}
