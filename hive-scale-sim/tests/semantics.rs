//! kube-apiserver behaviour clients depend on, over HTTP: typed built-in kinds, server-owned
//! deletion fields, apply preconditions, selectors that do not parse. Deletes are in
//! `deletion.rs`.

mod common;

use common::*;
use serde_json::{Value, json};

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

    // An apply configuration may be partial: the object the apply makes is what is checked.
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let (code, r) = post(&client, crds, crd).await;
    assert_eq!(code, 201, "{r}");
    let partial = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com", "labels": {"a": "b"}}});
    let (code, r) = apply(&client, &format!("{crds}/widgets.example.com"), partial).await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["spec"]["names"]["plural"], "widgets");
    let broken = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"}, "spec": {"scope": "Everywhere"}});
    let (code, status) = apply(&client, &format!("{crds}/widgets.example.com"), broken).await;
    assert_eq!(invalid_field(code, &status), "spec.scope");

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
