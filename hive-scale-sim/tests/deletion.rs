//! Deletes as kube-apiserver does them, over HTTP: propagation policies, preconditions on
//! every kind, and the objects of a deleted CRD.

mod common;

use common::*;
use serde_json::{Value, json};

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
        .map(|e| format!("{} {}", e.type_.as_str(), e.object.head().name()))
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
        .map(|e| format!("{} {}", e.type_.as_str(), e.object.head().name()))
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
