//! kube-apiserver behaviour clients depend on, over HTTP: typed built-in kinds, server-owned
//! deletion fields, delete propagation and preconditions, apply preconditions, CRD removal,
//! selectors that do not parse.

use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use serde_json::{Value, json};

async fn hub() -> (tempfile::TempDir, ApiServer, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let hub = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let client = hub.client().await.unwrap();
    (dir, hub, client)
}

/// Sends a request and returns (status, body as JSON); a transport error fails the test.
async fn send(
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

async fn post(client: &kube::Client, path: &str, body: Value) -> (u16, Value) {
    send(client, "POST", path, "application/json", &body).await
}

async fn get(client: &kube::Client, path: &str) -> (u16, Value) {
    send(client, "GET", path, "application/json", &Value::Null).await
}

async fn apply(client: &kube::Client, path: &str, body: Value) -> (u16, Value) {
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

async fn merge(client: &kube::Client, path: &str, body: Value) -> (u16, Value) {
    send(client, "PATCH", path, "application/merge-patch+json", &body).await
}

async fn delete(client: &kube::Client, path: &str, options: Value) -> (u16, Value) {
    send(client, "DELETE", path, "application/json", &options).await
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
}

#[tokio::test]
async fn clients_cannot_set_deletion_fields() {
    let (_d, hub, client) = hub().await;
    let deleting =
        json!({"deletionTimestamp": "2020-01-01T00:00:00Z", "deletionGracePeriodSeconds": 30});
    let mut body = cm("created");
    body["metadata"]
        .as_object_mut()
        .unwrap()
        .extend(deleting.as_object().unwrap().clone());
    let (code, created) = post(&client, CMS, body.clone()).await;
    assert_eq!(code, 201, "{created}");
    assert!(
        created["metadata"].get("deletionTimestamp").is_none(),
        "{created}"
    );

    // An update, a merge patch and an apply that set them change nothing, and do not delete
    // the object (it has no finalizers, so a kept deletionTimestamp would remove it).
    let mut put = created.clone();
    put["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z".into();
    let (code, updated) = send(
        &client,
        "PUT",
        &format!("{CMS}/created"),
        "application/json",
        &put,
    )
    .await;
    assert_eq!(code, 200, "{updated}");
    assert!(
        updated["metadata"].get("deletionTimestamp").is_none(),
        "{updated}"
    );
    let (code, patched) = merge(
        &client,
        &format!("{CMS}/created"),
        json!({"metadata": deleting}),
    )
    .await;
    assert_eq!(code, 200, "{patched}");
    assert!(
        patched["metadata"].get("deletionTimestamp").is_none(),
        "{patched}"
    );
    assert!(
        patched["metadata"]
            .get("deletionGracePeriodSeconds")
            .is_none(),
        "{patched}"
    );
    body["metadata"]["name"] = "applied".into();
    let (code, applied) = apply(&client, &format!("{CMS}/applied"), body).await;
    assert_eq!(code, 201, "{applied}");
    assert!(
        applied["metadata"].get("deletionTimestamp").is_none(),
        "{applied}"
    );
    let (code, again) = apply(&client, &format!("{CMS}/applied"), json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "deletionTimestamp": "2020-01-01T00:00:00Z"}, "data": {"a": "1"}})).await;
    assert_eq!(code, 200, "{again}");
    assert!(
        again["metadata"].get("deletionTimestamp").is_none(),
        "{again}"
    );
    for name in ["created", "applied"] {
        let (code, _) = get(&client, &format!("{CMS}/{name}")).await;
        assert_eq!(code, 200, "{name} still exists");
    }

    // An object the server is deleting keeps the server's timestamp whatever a client sends.
    let mut held = cm("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    post(&client, CMS, held).await;
    let (code, marked) = delete(&client, &format!("{CMS}/held"), Value::Null).await;
    assert_eq!(code, 200);
    let stamp = marked["metadata"]["deletionTimestamp"].clone();
    assert!(stamp.is_string(), "{marked}");
    let (_, patched) = merge(&client, &format!("{CMS}/held"), json!({"metadata": {"deletionTimestamp": "2001-01-01T00:00:00Z", "deletionGracePeriodSeconds": 99}})).await;
    assert_eq!(patched["metadata"]["deletionTimestamp"], stamp);
    assert_eq!(patched["metadata"]["deletionGracePeriodSeconds"], 0);
    hub.shutdown().await;
}

/// The first cause's field of a 422 Invalid.
fn invalid_field(code: u16, status: &Value) -> String {
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid", "{status}");
    status["details"]["causes"][0]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("no cause: {status}"))
        .to_string()
}

#[tokio::test]
async fn built_in_kinds_are_type_checked_and_nothing_is_stored() {
    let (_d, hub, client) = hub().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    let secret = |extra: Value| {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
        s.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        s
    };
    let cases = [
        (secrets, secret(json!({"immutable": "yes"})), "immutable"),
        (secrets, secret(json!({"data": "x"})), "data"),
        (
            secrets,
            secret(json!({"data": {"k": "not base64!"}})),
            "data[k]",
        ),
        (secrets, secret(json!({"type": 7})), "type"),
        (
            CMS,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"a": 1}}),
            "data.a",
        ),
        (
            CMS,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "immutable": "no"}),
            "immutable",
        ),
        (
            CMS,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s", "finalizers": "x"}}),
            "metadata.finalizers",
        ),
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "s"}, "spec": {"finalizers": "kubernetes"}}),
            "spec.finalizers",
        ),
        (
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "s"}, "spec": {"group": "example.com", "names": {"plural": "s", "kind": "S"}, "scope": "Namespaced", "versions": "v1"}}),
            "spec.versions",
        ),
        (
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "s"}}),
            "spec.group",
        ),
        (
            "/apis/hive.openshift.io/v1/selectorsyncsets",
            json!({"apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet", "metadata": {"name": "s", "finalizers": {"a": "b"}}, "spec": {}}),
            "metadata.finalizers",
        ),
        (
            "/apis/hive.openshift.io/v1/selectorsyncsets",
            json!({"apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet", "metadata": {"name": "s", "ownerReferences": [{"name": "o"}]}, "spec": {}}),
            "metadata.ownerReferences[0].apiVersion",
        ),
    ];
    for (collection, body, field) in cases {
        let (code, status) = post(&client, collection, body.clone()).await;
        assert_eq!(invalid_field(code, &status), field, "POST {body}");
        assert!(
            status["message"].as_str().unwrap().contains(field),
            "{status}"
        );
        let (code, _) = get(&client, &format!("{collection}/s")).await;
        assert_eq!(code, 404, "nothing stored for {body}");
        let (code, status) = apply(&client, &format!("{collection}/s"), body.clone()).await;
        assert_eq!(invalid_field(code, &status), field, "apply {body}");
        let (code, _) = get(&client, &format!("{collection}/s")).await;
        assert_eq!(code, 404, "nothing stored by apply of {body}");
    }

    // Update, merge patch, JSON patch and apply of an existing Secret: refused, unchanged.
    let (code, stored) = post(&client, secrets, secret(json!({"data": {"k": "aGk="}}))).await;
    assert_eq!(code, 201, "{stored}");
    let rv = stored["metadata"]["resourceVersion"].clone();
    let path = format!("{secrets}/s");
    let mut put = stored.clone();
    put["immutable"] = "yes".into();
    let (code, status) = send(&client, "PUT", &path, "application/json", &put).await;
    assert_eq!(invalid_field(code, &status), "immutable");
    let (code, status) = merge(&client, &path, json!({"data": "x"})).await;
    assert_eq!(invalid_field(code, &status), "data");
    let (code, status) = send(
        &client,
        "PATCH",
        &path,
        "application/json-patch+json",
        &json!([{"op": "add", "path": "/data/k2", "value": 5}]),
    )
    .await;
    assert_eq!(invalid_field(code, &status), "data[k2]");
    let (code, status) = apply(&client, &path, secret(json!({"immutable": 1}))).await;
    assert_eq!(invalid_field(code, &status), "immutable");
    let (_, now) = get(&client, &path).await;
    assert_eq!(now["metadata"]["resourceVersion"], rv, "{now}");
    assert_eq!(now["data"], json!({"k": "aGk="}));
    assert!(now.get("immutable").is_none());
    hub.shutdown().await;
}

/// How a test ConfigMap refers to its owner.
struct Owner<'a> {
    name: &'a str,
    uid: &'a str,
    /// `blockOwnerDeletion`.
    blocking: bool,
}

/// Creates ConfigMap `name` in default (owned by `owner`, held by a finalizer when `held`);
/// returns its uid.
async fn owned(client: &kube::Client, name: &str, owner: Option<Owner<'_>>, held: bool) -> String {
    let mut body = cm(name);
    if let Some(o) = owner {
        body["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap",
            "name": o.name, "uid": o.uid, "blockOwnerDeletion": o.blocking}]);
    }
    if held {
        body["metadata"]["finalizers"] = json!(["example.com/hold"]);
    }
    let (code, o) = post(client, CMS, body).await;
    assert_eq!(code, 201, "{o}");
    o["metadata"]["uid"].as_str().unwrap().to_string()
}

fn by<'a>(name: &'a str, uid: &'a str) -> Option<Owner<'a>> {
    Some(Owner {
        name,
        uid,
        blocking: false,
    })
}

async fn exists(client: &kube::Client, name: &str) -> Option<Value> {
    let (code, o) = get(client, &format!("{CMS}/{name}")).await;
    (code == 200).then_some(o)
}

#[tokio::test]
async fn delete_honours_the_propagation_policy() {
    let (_d, hub, client) = hub().await;

    // Orphan: the owner goes, its dependents stay without the reference.
    let uid = owned(&client, "o1", None, false).await;
    owned(&client, "d1", by("o1", &uid), false).await;
    let (code, r) = delete(
        &client,
        &format!("{CMS}/o1"),
        json!({"propagationPolicy": "Orphan"}),
    )
    .await;
    assert_eq!(code, 200, "{r}");
    assert!(exists(&client, "o1").await.is_none());
    let d1 = exists(&client, "d1").await.expect("an orphan stays");
    assert!(d1["metadata"].get("ownerReferences").is_none(), "{d1}");
    // The deprecated orphanDependents does the same.
    let uid = owned(&client, "o1b", None, false).await;
    owned(&client, "d1b", by("o1b", &uid), false).await;
    delete(
        &client,
        &format!("{CMS}/o1b"),
        json!({"orphanDependents": true}),
    )
    .await;
    assert!(exists(&client, "d1b").await.is_some());

    // Background (the default): the owner goes first, then its dependents.
    let uid = owned(&client, "o2", None, false).await;
    owned(&client, "d2", by("o2", &uid), false).await;
    let cms = hub
        .store()
        .registry()
        .lookup("", "v1", "configmaps")
        .unwrap();
    let before = hub.store().current_rv();
    let (code, r) = delete(
        &client,
        &format!("{CMS}/o2"),
        json!({"propagationPolicy": "Background"}),
    )
    .await;
    assert_eq!((code, &r["status"]), (200, &json!("Success")), "{r}");
    assert!(exists(&client, "d2").await.is_none());
    let order: Vec<String> = hub
        .store()
        .watch(&cms, Some(before))
        .unwrap()
        .initial
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.type_.as_str(),
                e.object.head()["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(order, ["DELETED o2", "DELETED d2"]);

    // Foreground: the owner waits, marked, until the dependents that block it are gone.
    let uid = owned(&client, "o3", None, false).await;
    owned(
        &client,
        "d3",
        Some(Owner {
            name: "o3",
            uid: &uid,
            blocking: true,
        }),
        true,
    )
    .await;
    owned(&client, "d4", by("o3", &uid), false).await;
    let (code, marked) = delete(
        &client,
        &format!("{CMS}/o3"),
        json!({"propagationPolicy": "Foreground"}),
    )
    .await;
    assert_eq!(code, 200, "{marked}");
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    assert_eq!(
        marked["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert!(
        exists(&client, "d4").await.is_none(),
        "dependents are deleted"
    );
    let d3 = exists(&client, "d3").await.expect("held by its finalizer");
    assert!(d3["metadata"]["deletionTimestamp"].is_string());
    let o3 = exists(&client, "o3").await.expect("the owner waits for d3");
    assert_eq!(o3["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    merge(
        &client,
        &format!("{CMS}/d3"),
        json!({"metadata": {"finalizers": null}}),
    )
    .await;
    assert!(exists(&client, "d3").await.is_none());
    assert!(
        exists(&client, "o3").await.is_none(),
        "released once d3 is gone"
    );
    // Without dependents the owner goes at once.
    owned(&client, "o5", None, false).await;
    delete(
        &client,
        &format!("{CMS}/o5"),
        json!({"propagationPolicy": "Foreground"}),
    )
    .await;
    assert!(exists(&client, "o5").await.is_none());

    // A policy Kubernetes does not know, or two ways of saying it, is refused; nothing goes.
    owned(&client, "o6", None, false).await;
    for options in [
        json!({"propagationPolicy": "Sideways"}),
        json!({"propagationPolicy": "Orphan", "orphanDependents": true}),
    ] {
        let (code, status) = delete(&client, &format!("{CMS}/o6"), options).await;
        assert_eq!(code, 422, "{status}");
    }
    let (code, status) = send(
        &client,
        "DELETE",
        &format!("{CMS}/o6?propagationPolicy=Nope"),
        "application/json",
        &Value::Null,
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert!(exists(&client, "o6").await.is_some());
    hub.shutdown().await;
}

#[tokio::test]
async fn delete_preconditions_guard_every_kind() {
    let (_d, hub, client) = hub().await;
    let objects = [
        (CMS.to_string(), cm("p")),
        (
            "/api/v1/namespaces".to_string(),
            json!({"metadata": {"name": "p"}}),
        ),
        (
            "/apis/hive.openshift.io/v1/namespaces/default/clusterdeployments".to_string(),
            json!({"apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment", "metadata": {"name": "p"},
                "spec": {"clusterName": "p", "baseDomain": "example.com", "platform": {"none": {}}}}),
        ),
        (
            "/apis/hive.openshift.io/v1/selectorsyncsets".to_string(),
            json!({"apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet", "metadata": {"name": "p"}, "spec": {}}),
        ),
    ];
    for (collection, body) in objects {
        let (code, o) = post(&client, &collection, body).await;
        assert_eq!(code, 201, "{o}");
        let path = format!("{collection}/p");
        let uid = o["metadata"]["uid"].clone();
        let rv = o["metadata"]["resourceVersion"].clone();
        for pre in [
            json!({"uid": "00000000-0000-0000-0000-000000000000"}),
            json!({"resourceVersion": "1"}),
            json!({"uid": uid, "resourceVersion": "1"}),
        ] {
            let (code, status) = delete(&client, &path, json!({"preconditions": pre})).await;
            assert_eq!(
                (code, &status["reason"]),
                (409, &json!("Conflict")),
                "{path} {pre}: {status}"
            );
            let (code, still) = get(&client, &path).await;
            assert_eq!(code, 200, "{path} survives a failed precondition");
            assert!(
                still["metadata"].get("deletionTimestamp").is_none(),
                "{still}"
            );
        }
        let (code, r) = delete(
            &client,
            &path,
            json!({"preconditions": {"uid": uid, "resourceVersion": rv}}),
        )
        .await;
        assert_eq!(code, 200, "{path}: {r}");
        let (code, _) = get(&client, &path).await;
        assert_eq!(code, 404, "{path} deleted once the preconditions hold");
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn a_resource_version_in_an_apply_is_a_precondition() {
    let (_d, hub, client) = hub().await;
    let path = format!("{CMS}/a");
    let body = |rv: Option<&Value>, v: &str| {
        let mut b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"a": v}});
        if let Some(rv) = rv {
            b["metadata"]["resourceVersion"] = rv.clone();
        }
        b
    };
    // Nothing stored yet: the apply creates, whatever the version says.
    let (code, first) = apply(&client, &path, body(Some(&json!("1")), "1")).await;
    assert_eq!(code, 201, "{first}");
    let rv = first["metadata"]["resourceVersion"].clone();
    let (code, second) = apply(&client, &path, body(Some(&rv), "2")).await;
    assert_eq!(code, 200, "{second}");
    assert_eq!(second["data"]["a"], "2", "the current version proceeds");
    let (code, status) = apply(&client, &path, body(Some(&rv), "3")).await;
    assert_eq!(
        (code, &status["reason"]),
        (409, &json!("Conflict")),
        "{status}"
    );
    let (_, now) = get(&client, &path).await;
    assert_eq!(now["data"]["a"], "2", "a stale apply changes nothing");
    assert_eq!(
        now["metadata"]["resourceVersion"],
        second["metadata"]["resourceVersion"]
    );
    let (code, _) = apply(&client, &path, body(None, "4")).await;
    assert_eq!(code, 200, "without a version apply is unconditional");
    hub.shutdown().await;
}

#[tokio::test]
async fn deleting_a_crd_deletes_its_objects() {
    let (_d, hub, client) = hub().await;
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    let (code, r) = post(&client, crds, crd.clone()).await;
    assert_eq!(code, 201, "{r}");
    for name in ["w1", "w2"] {
        let mut w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": 1}});
        if name == "w2" {
            // A finalizer does not keep an object whose resource is gone.
            w["metadata"]["finalizers"] = json!(["example.com/hold"]);
        }
        let (code, r) = post(&client, widgets, w).await;
        assert_eq!(code, 201, "{r}");
    }
    let def = hub
        .store()
        .registry()
        .lookup("example.com", "v1", "widgets")
        .unwrap();
    let before = hub.store().current_rv();

    let (code, r) = delete(&client, &format!("{crds}/widgets.example.com"), Value::Null).await;
    assert_eq!(code, 200, "{r}");
    let (code, _) = get(&client, widgets).await;
    assert_eq!(code, 404, "the resource is no longer served");
    assert_eq!(hub.store().counts().get("widgets.example.com"), Some(&0));
    let events: Vec<String> = hub
        .store()
        .watch(&def, Some(before))
        .unwrap()
        .initial
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.type_.as_str(),
                e.object.head()["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(events, ["DELETED w1", "DELETED w2"], "watchers see them go");

    let (code, r) = post(&client, crds, crd).await;
    assert_eq!(code, 201, "{r}");
    let (code, list) = get(&client, widgets).await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["items"], json!([]), "nothing comes back with the CRD");
    let (code, _) = get(&client, &format!("{widgets}/w1")).await;
    assert_eq!(code, 404);
    hub.shutdown().await;
}

#[tokio::test]
async fn selectors_that_do_not_parse_are_refused_everywhere() {
    let (_d, hub, client) = hub().await;
    for name in ["a", "b"] {
        post(&client, CMS, cm(name)).await;
    }
    let bad = [
        "labelSelector=%2C",
        "labelSelector=a%3Db%2C",
        "labelSelector=a%20in%20()",
        "labelSelector=a%20in%20(b%20c)",
        "labelSelector=Bad.Prefix%2Fa%3Db",
        "labelSelector=%E6%97%A5%3Dx",
        "fieldSelector=%2C",
        "fieldSelector=metadata.name",
        "fieldSelector=spec.x%3D1",
    ];
    for q in bad {
        for (method, query) in [
            ("GET", q.to_string()),
            ("GET", format!("watch=1&timeoutSeconds=1&{q}")),
            ("DELETE", q.to_string()),
        ] {
            let path = format!("{CMS}?{query}");
            let (code, status) =
                send(&client, method, &path, "application/json", &Value::Null).await;
            assert_eq!(
                (code, &status["reason"]),
                (400, &json!("BadRequest")),
                "{method} {path}: {status}"
            );
        }
    }
    let (_, list) = get(&client, CMS).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        2,
        "deletecollection deleted nothing"
    );
    // An empty selector selects everything, as it should.
    let (code, list) = get(&client, &format!("{CMS}?labelSelector=&fieldSelector=")).await;
    assert_eq!((code, list["items"].as_array().unwrap().len()), (200, 2));
    hub.shutdown().await;
}
