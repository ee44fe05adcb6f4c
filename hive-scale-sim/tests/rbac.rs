//! Service accounts on the embedded hub: tokens from TokenRequests, RBAC over the stored
//! roles and bindings (cluster and namespace scope, resourceNames, subresources, wildcards,
//! default grants), escalation prevention (bind, escalate), and the real kubectl working as a
//! service account (`create token`, `auth can-i`, `auth whoami`, Forbidden until a
//! RoleBinding the account made itself).

mod common;

use common::{get, post, send};
use hive_scale_sim::apiserver::auth::UserInfo;
use hive_scale_sim::apiserver::rbac::{self, Attributes};
use hive_scale_sim::apiserver::store::{PatchKind, WriteOptions};
use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig, Store, StoreConfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const G: &str = "rbac.authorization.k8s.io";

fn store() -> Arc<Store> {
    let s = Store::new(&[], StoreConfig::default());
    for ns in ["ns1", "ns2"] {
        create(&s, "", "namespaces", "", json!({"metadata": {"name": ns}}));
    }
    s
}

/// Creates an object as the admin (no escalation check).
fn create(store: &Store, group: &str, plural: &str, ns: &str, body: Value) {
    let def = store.registry().lookup(group, "v1", plural).unwrap();
    store
        .create(&def, ns, body, &WriteOptions::default())
        .unwrap_or_else(|e| panic!("creating {plural}: {e}"));
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn cluster_role(store: &Store, name: &str, rules: Vec<Value>) {
    create(
        store,
        G,
        "clusterroles",
        "",
        json!({"metadata": {"name": name}, "rules": rules}),
    );
}

fn role(store: &Store, ns: &str, name: &str, rules: Vec<Value>) {
    create(
        store,
        G,
        "roles",
        ns,
        json!({"metadata": {"name": name}, "rules": rules}),
    );
}

fn sa_subject(ns: &str, name: &str) -> Value {
    json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
}

fn cluster_binding(store: &Store, name: &str, role: &str, subject: Value) {
    create(
        store,
        G,
        "clusterrolebindings",
        "",
        json!({"metadata": {"name": name}, "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": role}, "subjects": [subject]}),
    );
}

fn binding(store: &Store, ns: &str, name: &str, kind: &str, role: &str, subject: Value) {
    create(
        store,
        G,
        "rolebindings",
        ns,
        json!({"metadata": {"name": name}, "roleRef": {"apiGroup": G, "kind": kind, "name": role}, "subjects": [subject]}),
    );
}

fn robot() -> UserInfo {
    UserInfo::service_account("hive", "robot", "uid-1")
}

fn secrets(verb: &str) -> Attributes {
    Attributes::resource(verb, "", "secrets")
}

#[test]
fn cluster_role_bindings_grant_everywhere_role_bindings_only_in_their_namespace() {
    let s = store();
    let u = robot();
    assert!(!rbac::allowed(
        &s,
        &u,
        &secrets("get").in_namespace("ns1").named("a")
    ));
    cluster_role(
        &s,
        "read-cm",
        vec![rule(&[""], &["configmaps"], &["get", "list"])],
    );
    cluster_binding(&s, "read-cm", "read-cm", sa_subject("hive", "robot"));
    let cms = |verb: &str| Attributes::resource(verb, "", "configmaps");
    assert!(rbac::allowed(&s, &u, &cms("list")), "cluster scope");
    assert!(rbac::allowed(
        &s,
        &u,
        &cms("get").in_namespace("ns2").named("x")
    ));
    assert!(!rbac::allowed(
        &s,
        &u,
        &cms("delete").in_namespace("ns2").named("x")
    ));
    // A RoleBinding grants a ClusterRole's rules, or its own namespace's Role's, there only.
    cluster_role(
        &s,
        "read-secrets",
        vec![rule(&[""], &["secrets"], &["get", "list"])],
    );
    binding(
        &s,
        "ns1",
        "rs",
        "ClusterRole",
        "read-secrets",
        sa_subject("hive", "robot"),
    );
    role(
        &s,
        "ns2",
        "del-secrets",
        vec![rule(&[""], &["secrets"], &["delete"])],
    );
    binding(
        &s,
        "ns2",
        "ds",
        "Role",
        "del-secrets",
        sa_subject("hive", "robot"),
    );
    assert!(rbac::allowed(&s, &u, &secrets("list").in_namespace("ns1")));
    assert!(!rbac::allowed(&s, &u, &secrets("list").in_namespace("ns2")));
    assert!(!rbac::allowed(&s, &u, &secrets("list")), "not cluster-wide");
    assert!(rbac::allowed(
        &s,
        &u,
        &secrets("delete").in_namespace("ns2").named("a")
    ));
    assert!(!rbac::allowed(
        &s,
        &u,
        &secrets("delete").in_namespace("ns1").named("a")
    ));
    // A binding to a role that does not exist grants nothing; once it exists, it does.
    binding(
        &s,
        "ns1",
        "later",
        "Role",
        "not-yet",
        sa_subject("hive", "robot"),
    );
    let pods = Attributes::resource("list", "", "pods").in_namespace("ns1");
    assert!(!rbac::allowed(&s, &u, &pods));
    role(
        &s,
        "ns1",
        "not-yet",
        vec![rule(&[""], &["pods"], &["list"])],
    );
    assert!(
        rbac::allowed(&s, &u, &pods),
        "evaluated against the store as it is now"
    );
}

#[test]
fn subjects_are_service_accounts_users_and_groups() {
    let s = store();
    cluster_role(&s, "list-cm", vec![rule(&[""], &["configmaps"], &["list"])]);
    let list = Attributes::resource("list", "", "configmaps").in_namespace("ns1");
    let other = UserInfo::service_account("ns1", "other", "uid-2");
    assert!(!rbac::allowed(&s, &other, &list));
    // A service account subject without a namespace is in the RoleBinding's.
    binding(
        &s,
        "ns1",
        "b",
        "ClusterRole",
        "list-cm",
        json!({"kind": "ServiceAccount", "name": "other"}),
    );
    assert!(rbac::allowed(&s, &other, &list));
    assert!(
        !rbac::allowed(&s, &robot(), &list),
        "robot is in hive, not ns1"
    );
    binding(
        &s,
        "ns1",
        "g",
        "ClusterRole",
        "list-cm",
        json!({"kind": "Group", "apiGroup": G, "name": "system:serviceaccounts:hive"}),
    );
    assert!(
        rbac::allowed(&s, &robot(), &list),
        "by its namespace's group"
    );
    let user = UserInfo {
        username: "alice".into(),
        uid: String::new(),
        groups: vec!["system:authenticated".into()],
    };
    assert!(!rbac::allowed(&s, &user, &list));
    binding(
        &s,
        "ns1",
        "u",
        "ClusterRole",
        "list-cm",
        json!({"kind": "User", "apiGroup": G, "name": "alice"}),
    );
    assert!(rbac::allowed(&s, &user, &list));
}

#[test]
fn resource_names_restrict_named_requests_and_never_match_collections() {
    let s = store();
    cluster_role(
        &s,
        "one-secret",
        vec![
            json!({"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["kubeconfig"], "verbs": ["get", "update", "delete", "list", "watch", "create"]}),
        ],
    );
    cluster_binding(&s, "one-secret", "one-secret", sa_subject("hive", "robot"));
    let u = robot();
    let named = |verb: &str, name: &str| secrets(verb).in_namespace("ns1").named(name);
    for verb in ["get", "update", "delete"] {
        assert!(rbac::allowed(&s, &u, &named(verb, "kubeconfig")), "{verb}");
        assert!(!rbac::allowed(&s, &u, &named(verb, "other")), "{verb}");
    }
    for verb in ["list", "watch", "create", "deletecollection"] {
        assert!(
            !rbac::allowed(&s, &u, &secrets(verb).in_namespace("ns1")),
            "{verb} of the collection"
        );
    }
    // A watch of the one object (fieldSelector metadata.name) is named, and granted.
    assert!(rbac::allowed(
        &s,
        &u,
        &secrets("watch").in_namespace("ns1").named("kubeconfig")
    ));
}

#[test]
fn subresources_are_resource_slash_subresource() {
    let s = store();
    cluster_role(
        &s,
        "status",
        vec![
            rule(
                &["hive.openshift.io"],
                &["clusterdeployments/status"],
                &["update"],
            ),
            rule(&[""], &["*/token"], &["create"]),
            rule(&[""], &["configmaps"], &["get"]),
        ],
    );
    cluster_binding(&s, "status", "status", sa_subject("hive", "robot"));
    let u = robot();
    let cd = |sub: &str| {
        Attributes::resource("update", "hive.openshift.io", "clusterdeployments")
            .in_namespace("ns1")
            .named("c1")
            .subresource(sub)
    };
    assert!(rbac::allowed(&s, &u, &cd("status")));
    assert!(
        !rbac::allowed(&s, &u, &cd("")),
        "the status subresource is not the object"
    );
    let token = Attributes::resource("create", "", "serviceaccounts")
        .in_namespace("hive")
        .named("x")
        .subresource("token");
    assert!(rbac::allowed(&s, &u, &token), "*/token");
    let cm_status = Attributes::resource("get", "", "configmaps")
        .in_namespace("ns1")
        .named("c")
        .subresource("status");
    assert!(
        !rbac::allowed(&s, &u, &cm_status),
        "configmaps does not grant configmaps/status"
    );
}

#[test]
fn wildcards_match_every_verb_group_and_resource() {
    let s = store();
    cluster_role(
        &s,
        "hive-all",
        vec![rule(&["hive.openshift.io"], &["*"], &["*"])],
    );
    cluster_binding(&s, "hive-all", "hive-all", sa_subject("hive", "robot"));
    let u = robot();
    let hive = |verb: &str, res: &str| {
        Attributes::resource(verb, "hive.openshift.io", res).in_namespace("ns1")
    };
    assert!(rbac::allowed(
        &s,
        &u,
        &hive("deletecollection", "clusterdeployments")
    ));
    assert!(rbac::allowed(
        &s,
        &u,
        &hive("patch", "selectorsyncsets")
            .named("x")
            .subresource("status")
    ));
    assert!(!rbac::allowed(
        &s,
        &u,
        &secrets("get").in_namespace("ns1").named("x")
    ));
    cluster_role(
        &s,
        "everything",
        vec![
            rule(&["*"], &["*"], &["*"]),
            json!({"nonResourceURLs": ["*"], "verbs": ["*"]}),
        ],
    );
    let admin_sa = UserInfo::service_account("ns2", "admin", "uid-3");
    cluster_binding(&s, "everything", "everything", sa_subject("ns2", "admin"));
    assert!(rbac::allowed(
        &s,
        &admin_sa,
        &secrets("escalate").in_namespace("ns1")
    ));
    assert!(rbac::allowed(
        &s,
        &admin_sa,
        &Attributes::non_resource("get", "/metrics")
    ));
}

#[test]
fn discovery_and_reviews_are_every_authenticated_users() {
    let s = store();
    let u = robot();
    for path in [
        "/api",
        "/api/v1",
        "/apis",
        "/apis/hive.openshift.io/v1",
        "/version",
        "/openapi/v3",
        "/openapi/v3/apis/hive.openshift.io/v1",
    ] {
        assert!(
            rbac::allowed(&s, &u, &Attributes::non_resource("get", path)),
            "{path}"
        );
    }
    assert!(!rbac::allowed(
        &s,
        &u,
        &Attributes::non_resource("get", "/metrics")
    ));
    assert!(!rbac::allowed(
        &s,
        &u,
        &Attributes::non_resource("post", "/apis")
    ));
    assert!(rbac::allowed(
        &s,
        &u,
        &Attributes::resource("create", "authentication.k8s.io", "selfsubjectreviews")
    ));
    assert!(rbac::allowed(
        &s,
        &u,
        &Attributes::resource("create", "authorization.k8s.io", "selfsubjectaccessreviews")
    ));
    cluster_role(
        &s,
        "metrics",
        vec![json!({"nonResourceURLs": ["/metrics"], "verbs": ["get"]})],
    );
    cluster_binding(&s, "metrics", "metrics", sa_subject("hive", "robot"));
    assert!(rbac::allowed(
        &s,
        &u,
        &Attributes::non_resource("get", "/metrics")
    ));
    // The admin is a member of system:masters: nothing is refused.
    assert!(rbac::allowed(&s, &UserInfo::admin(), &secrets("escalate")));
}

#[test]
fn requests_are_read_as_kube_apiserver_reads_them() {
    let q = |watch: bool| {
        let mut m = HashMap::new();
        if watch {
            m.insert("watch".to_string(), "true".to_string());
        }
        m
    };
    // One object watched by its name is that object's request: resourceNames can grant it.
    let mut one = q(true);
    one.insert("fieldSelector".into(), "metadata.name=kubeconfig".into());
    assert_eq!(
        Attributes::of_request("GET", "/api/v1/namespaces/ns1/secrets", &one),
        secrets("watch").in_namespace("ns1").named("kubeconfig")
    );
    let of =
        |method: &str, path: &str, watch: bool| Attributes::of_request(method, path, &q(watch));
    assert_eq!(of("GET", "/api/v1/secrets", false), secrets("list"));
    assert_eq!(
        of("GET", "/api/v1/namespaces/ns1/secrets", true),
        secrets("watch").in_namespace("ns1")
    );
    assert_eq!(
        of("GET", "/api/v1/namespaces/ns1/secrets/a", false),
        secrets("get").in_namespace("ns1").named("a")
    );
    assert_eq!(
        of("DELETE", "/api/v1/namespaces/ns1/secrets", false),
        secrets("deletecollection").in_namespace("ns1")
    );
    assert_eq!(
        of("POST", "/api/v1/namespaces/ns1/secrets", false),
        secrets("create").in_namespace("ns1")
    );
    assert_eq!(
        of(
            "PUT",
            "/apis/hive.openshift.io/v1/namespaces/ns1/clusterdeployments/c1/status",
            false
        ),
        Attributes::resource("update", "hive.openshift.io", "clusterdeployments")
            .in_namespace("ns1")
            .named("c1")
            .subresource("status")
    );
    assert_eq!(
        of(
            "POST",
            "/api/v1/namespaces/hive/serviceaccounts/hive-scale/token",
            false
        ),
        Attributes::resource("create", "", "serviceaccounts")
            .in_namespace("hive")
            .named("hive-scale")
            .subresource("token")
    );
    // A namespace's own URL is the namespaces resource in that namespace.
    assert_eq!(
        of("DELETE", "/api/v1/namespaces/ns1", false),
        Attributes::resource("delete", "", "namespaces")
            .in_namespace("ns1")
            .named("ns1")
    );
    assert_eq!(
        of("GET", "/api/v1/namespaces", false),
        Attributes::resource("list", "", "namespaces")
    );
    assert_eq!(
        of(
            "PATCH",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/x",
            false
        ),
        Attributes::resource("patch", G, "clusterroles").named("x")
    );
    assert_eq!(
        of("GET", "/apis/hive.openshift.io/v1", false),
        Attributes::non_resource("get", "/apis/hive.openshift.io/v1")
    );
    assert_eq!(
        of("GET", "/metrics", false),
        Attributes::non_resource("get", "/metrics")
    );
}

#[test]
fn denials_read_as_kube_apiserver_words_them() {
    let u = UserInfo::service_account("hive", "hive-scale", "uid");
    let e = rbac::forbidden(&u, &secrets("list"));
    assert_eq!((e.code, e.reason), (403, "Forbidden"));
    assert_eq!(
        e.message,
        r#"secrets is forbidden: User "system:serviceaccount:hive:hive-scale" cannot list resource "secrets" in API group "" at the cluster scope"#
    );
    assert_eq!(e.details, Some(json!({"kind": "secrets"})));
    let e = rbac::forbidden(
        &u,
        &Attributes::resource("get", "hive.openshift.io", "clusterdeployments")
            .in_namespace("ns1")
            .named("c1"),
    );
    assert_eq!(
        e.message,
        r#"clusterdeployments.hive.openshift.io "c1" is forbidden: User "system:serviceaccount:hive:hive-scale" cannot get resource "clusterdeployments" in API group "hive.openshift.io" in the namespace "ns1""#
    );
    assert_eq!(
        e.details,
        Some(json!({"kind": "clusterdeployments", "name": "c1", "group": "hive.openshift.io"}))
    );
    let e = rbac::forbidden(&u, &Attributes::non_resource("get", "/metrics"));
    assert_eq!(
        e.message,
        r#"forbidden: User "system:serviceaccount:hive:hive-scale" cannot get path "/metrics""#
    );
}

/// Writes `body` to `plural` in `ns` as `user`, with the escalation check the HTTP path adds.
fn write_as(
    store: &Arc<Store>,
    user: &UserInfo,
    plural: &str,
    ns: &str,
    body: Value,
) -> Result<(), hive_scale_sim::apiserver::ApiError> {
    let def = store.registry().lookup(G, "v1", plural).unwrap();
    let opts = WriteOptions {
        guard: rbac::escalation_guard(store, user, &def, ns),
        ..Default::default()
    };
    store.create(&def, ns, body, &opts).map(|_| ())
}

fn rb(name: &str, kind: &str, role: &str) -> Value {
    json!({"metadata": {"name": name}, "roleRef": {"apiGroup": G, "kind": kind, "name": role}, "subjects": [sa_subject("hive", "robot")]})
}

#[test]
fn bindings_need_bind_on_their_role_or_every_permission_it_grants() {
    let s = store();
    let u = robot();
    cluster_role(
        &s,
        "ns-secrets",
        vec![rule(&[""], &["secrets"], &["get", "delete"])],
    );
    cluster_role(&s, "cluster-admin", vec![rule(&["*"], &["*"], &["*"])]);
    cluster_role(
        &s,
        "binder",
        vec![
            json!({"apiGroups": [G], "resources": ["clusterroles"], "resourceNames": ["ns-secrets"], "verbs": ["bind"]}),
        ],
    );
    cluster_binding(&s, "binder", "binder", sa_subject("hive", "robot"));
    write_as(
        &s,
        &u,
        "rolebindings",
        "ns1",
        rb("ok", "ClusterRole", "ns-secrets"),
    )
    .unwrap();
    let e = write_as(
        &s,
        &u,
        "rolebindings",
        "ns1",
        rb("no", "ClusterRole", "cluster-admin"),
    )
    .unwrap_err();
    assert_eq!((e.code, e.reason), (403, "Forbidden"), "{e}");
    assert!(
        e.message
            .contains("is attempting to grant RBAC permissions not currently held"),
        "{e}"
    );
    assert!(e.message.starts_with(r#"rolebindings.rbac.authorization.k8s.io "no" is forbidden: user "system:serviceaccount:hive:robot""#), "{e}");
    assert!(
        e.message
            .contains(r#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#),
        "{e}"
    );
    // A ClusterRoleBinding needs bind at the cluster scope: the same grant suffices here.
    let crb = json!({"metadata": {"name": "c"}, "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "ns-secrets"}, "subjects": [sa_subject("hive", "robot")]});
    write_as(&s, &u, "clusterrolebindings", "", crb).unwrap();
    // Without bind, holding every permission of the role is enough (in that namespace).
    let holder = UserInfo::service_account("ns2", "holder", "uid-h");
    cluster_role(
        &s,
        "secret-reader",
        vec![rule(&[""], &["secrets"], &["get"])],
    );
    role(
        &s,
        "ns2",
        "get-delete",
        vec![rule(&[""], &["secrets"], &["get", "delete"])],
    );
    binding(
        &s,
        "ns2",
        "holder",
        "Role",
        "get-delete",
        sa_subject("ns2", "holder"),
    );
    write_as(
        &s,
        &holder,
        "rolebindings",
        "ns2",
        rb("r", "ClusterRole", "secret-reader"),
    )
    .unwrap();
    assert_eq!(
        write_as(
            &s,
            &holder,
            "rolebindings",
            "ns1",
            rb("r", "ClusterRole", "secret-reader")
        )
        .unwrap_err()
        .code,
        403,
        "held in ns2 only"
    );
    let e = write_as(
        &s,
        &holder,
        "rolebindings",
        "ns2",
        rb("missing", "ClusterRole", "nothing-here"),
    )
    .unwrap_err();
    assert_eq!(e.code, 404, "{e}");
    // The admin binds anything.
    write_as(
        &s,
        &UserInfo::admin(),
        "rolebindings",
        "ns1",
        rb("admin", "ClusterRole", "cluster-admin"),
    )
    .unwrap();
}

#[test]
fn roles_need_escalate_or_every_permission_they_grant() {
    let s = store();
    let u = robot();
    role(
        &s,
        "ns1",
        "writer",
        vec![
            rule(&[G], &["roles"], &["create", "patch"]),
            rule(&[""], &["configmaps"], &["get", "list"]),
        ],
    );
    binding(
        &s,
        "ns1",
        "writer",
        "Role",
        "writer",
        sa_subject("hive", "robot"),
    );
    let new_role =
        |name: &str, rules: Vec<Value>| json!({"metadata": {"name": name}, "rules": rules});
    write_as(
        &s,
        &u,
        "roles",
        "ns1",
        new_role("subset", vec![rule(&[""], &["configmaps"], &["get"])]),
    )
    .unwrap();
    let e = write_as(
        &s,
        &u,
        "roles",
        "ns1",
        new_role("more", vec![rule(&[""], &["configmaps"], &["delete"])]),
    )
    .unwrap_err();
    assert_eq!(e.code, 403, "{e}");
    assert!(
        e.message
            .contains(r#"{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}"#),
        "{e}"
    );
    // A patch is checked on the role it makes, and refused before anything is stored.
    let def = s.registry().lookup(G, "v1", "roles").unwrap();
    let opts = WriteOptions {
        guard: rbac::escalation_guard(&s, &u, &def, "ns1"),
        ..Default::default()
    };
    let patch =
        json!([{"op": "add", "path": "/rules/-", "value": rule(&[""], &["secrets"], &["get"])}]);
    assert_eq!(
        s.patch(&def, "ns1", "subset", PatchKind::Json, patch, &opts)
            .unwrap_err()
            .code,
        403
    );
    assert_eq!(
        s.get(&def, "ns1", "subset").unwrap()["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // escalate on roles lets it grant what it does not hold.
    role(
        &s,
        "ns1",
        "escalator",
        vec![rule(&[G], &["roles"], &["escalate"])],
    );
    binding(
        &s,
        "ns1",
        "escalator",
        "Role",
        "escalator",
        sa_subject("hive", "robot"),
    );
    write_as(
        &s,
        &u,
        "roles",
        "ns1",
        new_role("more", vec![rule(&[""], &["configmaps"], &["delete"])]),
    )
    .unwrap();
}

#[test]
fn a_bindings_role_ref_cannot_change() {
    let s = store();
    cluster_role(&s, "a", vec![]);
    binding(
        &s,
        "ns1",
        "b",
        "ClusterRole",
        "a",
        sa_subject("hive", "robot"),
    );
    let def = s.registry().lookup(G, "v1", "rolebindings").unwrap();
    let patch = json!({"roleRef": {"name": "cluster-admin"}});
    let e = s
        .patch(
            &def,
            "ns1",
            "b",
            PatchKind::Merge,
            patch,
            &WriteOptions::default(),
        )
        .unwrap_err();
    assert_eq!(e.code, 422, "{e}");
    assert_eq!(e.details.unwrap()["causes"][0]["field"], "roleRef");
}

async fn hub() -> (tempfile::TempDir, ApiServer, kube::Client) {
    common::hub().await
}

/// Sets up what the kubectl test uses too: an account `hive/hive-scale` that may create
/// secrets and bind `hive-scale-namespace` (get and delete secrets), and create RoleBindings;
/// and `secret-lister`, which it may neither bind nor grant (it cannot list secrets).
async fn setup_account(admin: &kube::Client) {
    let objects = [
        (
            "/api/v1/namespaces/hive/serviceaccounts",
            json!({"metadata": {"name": "hive-scale"}}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            json!({"metadata": {"name": "hive-scale"}, "rules": [
                rule(&[""], &["secrets"], &["create"]),
                rule(&[G], &["rolebindings"], &["create"]),
                {"apiGroups": [G], "resources": ["clusterroles"], "resourceNames": ["hive-scale-namespace"], "verbs": ["bind"]},
            ]}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            json!({"metadata": {"name": "hive-scale"}, "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "hive-scale"}, "subjects": [sa_subject("hive", "hive-scale")]}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            json!({"metadata": {"name": "hive-scale-namespace"}, "rules": [rule(&[""], &["secrets"], &["get", "delete"])]}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            json!({"metadata": {"name": "secret-lister"}, "rules": [rule(&[""], &["secrets"], &["list"])]}),
        ),
        ("/api/v1/namespaces", json!({"metadata": {"name": "ns1"}})),
    ];
    for (path, body) in objects {
        let (code, v) = post(admin, path, body).await;
        assert_eq!(code, 201, "{path}: {v}");
    }
}

#[tokio::test]
async fn a_token_request_gives_a_token_that_is_the_service_account() {
    let (_d, hub, admin) = hub().await;
    setup_account(&admin).await;
    let path = "/api/v1/namespaces/hive/serviceaccounts/hive-scale/token";
    let (code, tr) = post(&admin, path, json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}})).await;
    assert_eq!(code, 201, "{tr}");
    assert_eq!(tr["kind"], "TokenRequest");
    assert_eq!(tr["spec"]["expirationSeconds"], 600);
    let expires: jiff::Timestamp = tr["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = expires.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((590..=600).contains(&left), "{left}");
    let token = hive_scale_core::secret::Secret::new(tr["status"]["token"].as_str().unwrap());
    let sa = hub.client_with_token(&token).await.unwrap();
    let (code, who) = post(
        &sa,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await;
    assert_eq!(code, 201, "{who}");
    assert_eq!(
        who["status"]["userInfo"]["username"],
        "system:serviceaccount:hive:hive-scale"
    );
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:hive",
            "system:authenticated"
        ])
    );
    let (_, admin_who) = post(
        &admin,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json!({}),
    )
    .await;
    assert_eq!(
        admin_who["status"]["userInfo"],
        json!({"username": "hive-scale:admin", "groups": ["system:masters", "system:authenticated"]})
    );
    // What the account may do, as the API answers and as it asks.
    let (code, v) = get(&sa, "/api/v1/namespaces/ns1/secrets").await;
    assert_eq!(code, 403, "{v}");
    assert_eq!(
        v["message"],
        r#"secrets is forbidden: User "system:serviceaccount:hive:hive-scale" cannot list resource "secrets" in API group "" in the namespace "ns1""#
    );
    assert_eq!(v["details"]["kind"], "secrets");
    let review = |verb: &str, ns: &str| json!({"spec": {"resourceAttributes": {"verb": verb, "resource": "secrets", "namespace": ns}}});
    let (code, r) = post(
        &sa,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        review("create", "ns1"),
    )
    .await;
    assert_eq!((code, &r["status"]["allowed"]), (201, &json!(true)), "{r}");
    let (_, r) = post(
        &sa,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        review("list", ""),
    )
    .await;
    assert_eq!(r["status"]["allowed"], false, "{r}");
    let (code, _) = post(
        &sa,
        "/api/v1/namespaces/ns1/secrets",
        json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}),
    )
    .await;
    assert_eq!(code, 201);
    let (code, _) = get(&sa, "/apis").await;
    assert_eq!(code, 200, "discovery is everyone's");
    // Only the admin (or whoever RBAC lets create serviceaccounts/token) mints tokens.
    let (code, v) = post(&sa, path, json!({})).await;
    assert_eq!(code, 403, "{v}");
    // The in-process helper gives the same kind of token.
    let again = hub
        .service_account_token("hive", "hive-scale", Duration::from_secs(3600))
        .unwrap();
    let sa2 = hub.client_with_token(&again).await.unwrap();
    assert_eq!(get(&sa2, "/api/v1/namespaces/ns1/secrets/s").await.0, 403);
    let kubeconfig = hub
        .write_kubeconfig_with_token("hive-scale", &again)
        .unwrap();
    assert!(
        std::fs::read_to_string(&kubeconfig)
            .unwrap()
            .contains("server: https://127.0.0.1:")
    );
    // Unknown tokens stay 401; deleting the account ends its tokens.
    let stranger = hub
        .client_with_token(&hive_scale_core::secret::Secret::new("not-a-token"))
        .await
        .unwrap();
    assert_eq!(get(&stranger, "/api/v1/namespaces").await.0, 401);
    let (code, _) = send(
        &admin,
        "DELETE",
        "/api/v1/namespaces/hive/serviceaccounts/hive-scale",
        "application/json",
        &Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(get(&sa, "/apis").await.0, 401);
    assert_eq!(get(&sa2, "/apis").await.0, 401);
    // And a token for an account that does not exist is 404; too short a lifetime 422.
    let (code, _) = post(&admin, path, json!({})).await;
    assert_eq!(code, 404);
    let (code, _) = post(
        &admin,
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        json!({"spec": {"expirationSeconds": 60}}),
    )
    .await;
    assert_eq!(code, 422, "the lifetime is checked first");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_role_binding_made_by_the_account_itself_takes_effect_at_once() {
    let (_d, hub, admin) = hub().await;
    setup_account(&admin).await;
    let token = hub
        .service_account_token("hive", "hive-scale", Duration::from_secs(600))
        .unwrap();
    let sa = hub.client_with_token(&token).await.unwrap();
    let (code, _) = post(
        &sa,
        "/api/v1/namespaces/ns1/secrets",
        json!({"metadata": {"name": "s"}}),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(get(&sa, "/api/v1/namespaces/ns1/secrets/s").await.0, 403);
    let rolebinding = |role: &str| json!({"metadata": {"name": role}, "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": role}, "subjects": [sa_subject("hive", "hive-scale")]});
    let (code, v) = post(
        &sa,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/ns1/rolebindings",
        rolebinding("hive-scale-namespace"),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(get(&sa, "/api/v1/namespaces/ns1/secrets/s").await.0, 200);
    assert_eq!(
        get(&sa, "/api/v1/namespaces/ns1/secrets").await.0,
        403,
        "get and delete, not list"
    );
    // Its own cluster role it may bind anywhere: it holds every permission of it.
    let (code, v) = post(
        &sa,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/ns1/rolebindings",
        rolebinding("hive-scale"),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let (code, v) = post(
        &sa,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/ns1/rolebindings",
        rolebinding("secret-lister"),
    )
    .await;
    assert_eq!(code, 403, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("not currently held"),
        "{v}"
    );
    hub.shutdown().await;
}

/// The real kubectl as the service account: `create token` (as the admin), then with that
/// token `auth whoami`, `auth can-i`, `create secret`, Forbidden `get secret`, a RoleBinding
/// it may make through `bind`, and one it may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_works_as_a_service_account() {
    if hive_scale_sim::testing::tool("kubectl", "kubectl_works_as_a_service_account").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hub = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let admin_kubeconfig = hub.kubeconfig_path().to_path_buf();
    let cache = dir.path().join("cache");
    let kubectl = move |kubeconfig: &std::path::Path, args: &[&str]| {
        std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(&cache)
            .args(args)
            .output()
            .expect("kubectl runs")
    };
    let ok = |out: std::process::Output, what: &str| {
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let setup = format!(
        r#"
apiVersion: v1
kind: ServiceAccount
metadata: {{name: hive-scale, namespace: hive}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: ns1}}
---
apiVersion: {G}/v1
kind: ClusterRole
metadata: {{name: hive-scale}}
rules:
- {{apiGroups: [""], resources: [secrets], verbs: [create]}}
- {{apiGroups: [{G}], resources: [rolebindings], verbs: [create]}}
- {{apiGroups: [{G}], resources: [clusterroles], resourceNames: [hive-scale-namespace], verbs: [bind]}}
---
apiVersion: {G}/v1
kind: ClusterRoleBinding
metadata: {{name: hive-scale}}
roleRef: {{apiGroup: {G}, kind: ClusterRole, name: hive-scale}}
subjects: [{{kind: ServiceAccount, name: hive-scale, namespace: hive}}]
---
apiVersion: {G}/v1
kind: ClusterRole
metadata: {{name: hive-scale-namespace}}
rules:
- {{apiGroups: [""], resources: [secrets], verbs: [get, delete]}}
---
apiVersion: {G}/v1
kind: ClusterRole
metadata: {{name: secret-lister}}
rules:
- {{apiGroups: [""], resources: [secrets], verbs: [list]}}
"#
    );
    let setup_file = dir.path().join("setup.yaml");
    std::fs::write(&setup_file, setup).unwrap();
    let sa_kubeconfig = dir.path().join("sa.kubeconfig");
    let hub_url = hub.url();
    let ca_data = {
        let text = std::fs::read_to_string(&admin_kubeconfig).unwrap();
        text.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("certificate-authority-data: ")
                    .map(String::from)
            })
            .unwrap()
    };
    tokio::task::spawn_blocking(move || {
        let admin = admin_kubeconfig.as_path();
        ok(kubectl(admin, &["apply", "-f", setup_file.to_str().unwrap()]), "apply");
        let token = ok(kubectl(admin, &["create", "token", "hive-scale", "-n", "hive"]), "create token");
        let token = token.trim();
        assert!(!token.is_empty());
        // A kubeconfig of the token, written as a user would (0600: it holds the token).
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: hub\n  cluster:\n    server: {hub_url}\n    certificate-authority-data: {ca_data}\nusers:\n- name: sa\n  user:\n    token: {token}\ncontexts:\n- name: hub\n  context: {{cluster: hub, user: sa, namespace: ns1}}\ncurrent-context: hub\n"
        );
        hive_scale_sim::apiserver::server::write_private(&sa_kubeconfig, &text).unwrap();
        let sa = sa_kubeconfig.as_path();
        let whoami = ok(kubectl(sa, &["auth", "whoami"]), "auth whoami");
        assert!(whoami.contains("system:serviceaccount:hive:hive-scale"), "{whoami}");
        let can = kubectl(sa, &["auth", "can-i", "list", "secrets", "-A"]);
        assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "no", "{}", String::from_utf8_lossy(&can.stderr));
        assert!(!can.status.success());
        let can = ok(kubectl(sa, &["auth", "can-i", "create", "secrets", "-n", "ns1"]), "can-i create");
        assert_eq!(can.trim(), "yes");
        let created = ok(kubectl(sa, &["create", "secret", "generic", "creds", "-n", "ns1", "--from-literal=k=v"]), "create secret");
        assert!(created.contains("secret/creds created"), "{created}");
        let denied = kubectl(sa, &["get", "secret", "creds", "-n", "ns1"]);
        let stderr = String::from_utf8_lossy(&denied.stderr);
        assert!(!denied.status.success());
        assert!(
            stderr.contains(r#"secrets "creds" is forbidden: User "system:serviceaccount:hive:hive-scale" cannot get resource "secrets" in API group "" in the namespace "ns1""#),
            "{stderr}"
        );
        let bound = ok(
            kubectl(sa, &["create", "rolebinding", "hive-scale-namespace", "-n", "ns1", "--clusterrole=hive-scale-namespace", "--serviceaccount=hive:hive-scale"]),
            "create rolebinding",
        );
        assert!(bound.contains("created"), "{bound}");
        let got = ok(kubectl(sa, &["get", "secret", "creds", "-n", "ns1", "-o", "jsonpath={.data.k}"]), "get secret");
        assert_eq!(got, "dg==");
        let refused = kubectl(sa, &["create", "rolebinding", "lister", "-n", "ns1", "--clusterrole=secret-lister", "--serviceaccount=hive:hive-scale"]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success());
        assert!(stderr.contains("is attempting to grant RBAC permissions not currently held"), "{stderr}");
    })
    .await
    .unwrap();
    hub.shutdown().await;
}
