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

async fn get_json(client: &kube::Client, path: &str) -> Value {
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    serde_json::from_str(&client.request_text(req).await.unwrap()).unwrap()
}

/// `/openapi/v2` (for kubectl before 1.28) describes every path and schema `/openapi/v3` does.
#[tokio::test]
async fn openapi_v2_describes_what_v3_does() {
    let (_dir, hub, client) = hub().await;
    let v2 = get_json(&client, "/openapi/v2").await;
    assert_eq!(v2["swagger"], "2.0");
    let index = get_json(&client, "/openapi/v3").await;
    let mut schemas = 0;
    for entry in index["paths"].as_object().unwrap().values() {
        let v3 = get_json(&client, entry["serverRelativeURL"].as_str().unwrap()).await;
        for (path, item) in v3["paths"].as_object().unwrap() {
            let methods: Vec<&String> = item.as_object().unwrap().keys().collect();
            let v2_methods: Vec<&String> = v2["paths"][path]
                .as_object()
                .unwrap_or_else(|| panic!("{path} is in v3 but not in v2"))
                .keys()
                .collect();
            assert_eq!(methods, v2_methods, "{path}");
        }
        for (name, schema) in v3["components"]["schemas"].as_object().unwrap() {
            let def = &v2["definitions"][name];
            assert_eq!(
                def["x-kubernetes-group-version-kind"], schema["x-kubernetes-group-version-kind"],
                "{name}"
            );
            assert_eq!(
                def["properties"].as_object().map(|p| p.len()),
                schema["properties"].as_object().map(|p| p.len()),
                "{name}"
            );
            schemas += 1;
        }
    }
    assert_eq!(v2["definitions"].as_object().unwrap().len(), schemas);
    assert!(
        v2["definitions"]["io.openshift.hive.v1.ClusterDeployment"]["properties"]["spec"]
            ["properties"]
            .get("baseDomain")
            .is_some(),
        "the CRD's schema is in v2"
    );

    // client-go asks for protobuf and gets it.
    let req = http::Request::get("/openapi/v2")
        .header(
            "accept",
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        )
        .body(Vec::new())
        .unwrap();
    let bytes = client.request_stream(req).await.unwrap();
    let mut body = Vec::new();
    futures::io::AsyncReadExt::read_to_end(&mut Box::pin(bytes), &mut body)
        .await
        .unwrap();
    assert!(serde_json::from_slice::<Value>(&body).is_err(), "not JSON");
    assert!(
        body.windows(b"x-kubernetes-group-version-kind".len())
            .any(|w| w == b"x-kubernetes-group-version-kind"),
        "the protobuf names the kinds"
    );
    hub.shutdown().await;
}

/// ObjectMeta's maps and lists are omitted when empty, as kube-apiserver's typed metadata does.
#[tokio::test]
async fn empty_metadata_maps_are_not_stored() {
    let (_dir, hub, client) = hub().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "e", "annotations": {}, "labels": {}, "finalizers": []}});
    let (status, created) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    for field in ["annotations", "labels", "finalizers"] {
        assert_eq!(created["metadata"].get(field), None, "{field}");
    }
    let read = cms.get("e").await.unwrap();
    assert_eq!(read.metadata.annotations, None);
    hub.shutdown().await;
}
