//! Finalizers, namespaces, owner references and CRDs.

use super::*;

#[test]
fn finalizers_hold_deletion_and_preconditions_guard_it() {
    let s = store();
    let cds = def(&s, "hive.openshift.io", "v1", "clusterdeployments");
    let mut body = cd("c1");
    body["metadata"]["finalizers"] = json!(["hive.openshift.io/deprovision"]);
    let (o, _) = s.create(&cds, "default", body, &opts("t")).unwrap();
    let stale = DeleteOptions {
        preconditions: Preconditions {
            resource_version: Some("1".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = s.delete(&cds, "default", "c1", &stale, false).unwrap_err();
    assert_eq!(err.code, 409);
    assert!(
        err.message.contains("Precondition failed"),
        "{}",
        err.message
    );
    let (held, effect) = s
        .delete(&cds, "default", "c1", &DeleteOptions::default(), false)
        .unwrap();
    assert_eq!(effect, WriteEffect::Finalizing);
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    let mut cleared = (*s.get(&cds, "default", "c1").unwrap()).clone();
    cleared["metadata"]["finalizers"] = json!([]);
    let (_, effect) = s
        .update(&cds, "default", "c1", cleared, &opts("ctrl"))
        .unwrap();
    assert_eq!(
        effect,
        WriteEffect::Deleted,
        "removing the last finalizer completes the deletion"
    );
    assert_eq!(s.get(&cds, "default", "c1").unwrap_err().code, 404);
    let _ = o;
}

#[test]
fn namespace_deletion_cascades_and_blocks_new_content() {
    let s = store();
    let nss = def(&s, "", "v1", "namespaces");
    let cms = def(&s, "", "v1", "configmaps");
    let cds = def(&s, "hive.openshift.io", "v1", "clusterdeployments");
    s.create(&nss, "", json!({"metadata": {"name": "ns1"}}), &opts("t"))
        .unwrap();
    let mut c = cd("c1");
    c["metadata"]["namespace"] = "ns1".into();
    c["metadata"]["finalizers"] = json!(["hold"]);
    s.create(&cds, "ns1", c, &opts("t")).unwrap();
    let mut m = cm("a", json!({}));
    m["metadata"]["namespace"] = "ns1".into();
    s.create(&cms, "ns1", m.clone(), &opts("t")).unwrap();
    let (_, effect) = s
        .delete(&nss, "", "ns1", &DeleteOptions::default(), false)
        .unwrap();
    assert_eq!(
        effect,
        WriteEffect::Finalizing,
        "a finalizer inside holds the namespace"
    );
    assert_eq!(s.get(&cms, "ns1", "a").unwrap_err().code, 404);
    m["metadata"]["name"] = "b".into();
    let err = s.create(&cms, "ns1", m, &opts("t")).unwrap_err();
    assert_eq!(err.code, 403);
    let mut held = (*s.get(&cds, "ns1", "c1").unwrap()).clone();
    held["metadata"]["finalizers"] = json!([]);
    s.update(&cds, "ns1", "c1", held, &opts("t")).unwrap();
    assert_eq!(
        s.get(&nss, "", "ns1").unwrap_err().code,
        404,
        "the namespace goes once it is empty"
    );
}

#[test]
fn a_finalizer_on_the_namespace_itself_holds_it_until_removed() {
    let s = store();
    let nss = def(&s, "", "v1", "namespaces");
    let body = json!({"metadata": {"name": "ns1", "finalizers": ["example.com/hold"]}});
    s.create(&nss, "", body, &opts("t")).unwrap();
    let (_, effect) = s
        .delete(&nss, "", "ns1", &DeleteOptions::default(), false)
        .unwrap();
    assert_eq!(effect, WriteEffect::Finalizing);
    let held = s
        .get(&nss, "", "ns1")
        .expect("empty, but held by its finalizer");
    assert_eq!(held["status"]["phase"], "Terminating");
    let mut cleared = (*held).clone();
    cleared["metadata"]["finalizers"] = json!([]);
    s.update(&nss, "", "ns1", cleared, &opts("ctrl")).unwrap();
    assert_eq!(
        s.get(&nss, "", "ns1").unwrap_err().code,
        404,
        "the namespace goes with its last finalizer"
    );
}

#[test]
fn owner_references_are_garbage_collected() {
    let s = store();
    let cds = def(&s, "hive.openshift.io", "v1", "clusterdeployments");
    let syncs = def(&s, "hiveinternal.openshift.io", "v1alpha1", "clustersyncs");
    let (owner, _) = s.create(&cds, "default", cd("c1"), &opts("t")).unwrap();
    let sync = json!({"apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync",
        "metadata": {"name": "c1", "ownerReferences": [{"apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment", "name": "c1", "uid": owner["metadata"]["uid"]}]},
        "spec": {}});
    s.create(&syncs, "default", sync, &opts("t")).unwrap();
    s.delete(&cds, "default", "c1", &DeleteOptions::default(), false)
        .unwrap();
    assert_eq!(s.get(&syncs, "default", "c1").unwrap_err().code, 404);
}

#[test]
fn crds_created_at_runtime_are_served() {
    let s = store();
    let crds = def(
        &s,
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
    );
    assert!(
        s.registry()
            .lookup("example.com", "v1", "widgets")
            .is_none()
    );
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    s.create(&crds, "", crd, &opts("t")).unwrap();
    assert!(
        s.registry()
            .lookup("example.com", "v1", "widgets")
            .is_some()
    );
}
