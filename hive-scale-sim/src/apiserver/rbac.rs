//! Kubernetes RBAC over the stored ClusterRoles, ClusterRoleBindings, Roles and RoleBindings,
//! for service accounts' requests (the admin token is not evaluated): what a request asks
//! ([`Attributes`]), whether the caller's rules allow it ([`allowed`]), kube-apiserver's 403,
//! the escalation check on writes of roles and bindings ([`escalation_guard`]), and
//! SelfSubjectAccessReview (`kubectl auth can-i`).
//!
//! Rules are read from the store on every request, so a binding takes effect the moment it is
//! stored; a hub holds a handful of roles and bindings, so scanning them is cheap.

use super::auth::{AUTHENTICATED_GROUP, Caller, UserInfo, check_type};
use super::error::ApiError;
use super::registry::ResourceDef;
use super::store::{ListQuery, Store, WriteGuard};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// RBAC's API group.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// What a request asks to do, as RBAC rules are matched against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or
    /// another verb a rule may name (`bind`, `escalate`); the lower-case method for
    /// non-resource paths.
    pub verb: String,
    /// What it is done to.
    pub target: Target,
}

/// The object of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A resource (or its subresource), in a namespace or cluster-wide.
    Resource {
        /// API group (`""` for core).
        group: String,
        /// Plural name.
        resource: String,
        /// `status`, `token`, ... or empty.
        subresource: String,
        /// Empty at the cluster scope.
        namespace: String,
        /// Empty for a collection.
        name: String,
    },
    /// Any other path (`/version`, `/apis`, `/metrics`).
    NonResource {
        /// The URL path.
        path: String,
    },
}

impl Attributes {
    /// `verb` on `resource` of `group`, cluster-wide, no name.
    pub fn resource(verb: &str, group: &str, resource: &str) -> Self {
        Self {
            verb: verb.into(),
            target: Target::Resource {
                group: group.into(),
                resource: resource.into(),
                subresource: String::new(),
                namespace: String::new(),
                name: String::new(),
            },
        }
    }

    /// `verb` on a non-resource path.
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Self {
            verb: verb.into(),
            target: Target::NonResource { path: path.into() },
        }
    }

    /// The same, in namespace `ns`.
    pub fn in_namespace(mut self, ns: &str) -> Self {
        if let Target::Resource { namespace, .. } = &mut self.target {
            *namespace = ns.into();
        }
        self
    }

    /// The same, of the object `n`.
    pub fn named(mut self, n: &str) -> Self {
        if let Target::Resource { name, .. } = &mut self.target {
            *name = n.into();
        }
        self
    }

    /// The same, of subresource `sub`.
    pub fn subresource(mut self, sub: &str) -> Self {
        if let Target::Resource { subresource, .. } = &mut self.target {
            *subresource = sub.into();
        }
        self
    }

    /// What an HTTP request asks, read from its path as kube-apiserver reads it:
    /// `/api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE]]` and the same under
    /// `/apis/GROUP/VERSION` are resources (a namespace's own URL is the resource
    /// `namespaces` in that namespace; a list or watch with the field selector
    /// `metadata.name=NAME` is named); everything else is a non-resource path.
    pub fn of_request(method: &str, path: &str, query: &HashMap<String, String>) -> Self {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, rest) = match segs.as_slice() {
            ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
            ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
            _ => {
                let verb = match method {
                    "HEAD" => "get".to_string(),
                    m => m.to_ascii_lowercase(),
                };
                return Self::non_resource(&verb, path);
            }
        };
        let (namespace, parts) = match rest {
            ["namespaces", ns, tail @ ..]
                if !tail.is_empty() && !matches!(tail[0], "status" | "finalize") =>
            {
                (*ns, tail)
            }
            ["namespaces", ns, ..] => (*ns, rest),
            _ => ("", rest),
        };
        let part = |i: usize| parts.get(i).copied().unwrap_or_default();
        let name = match part(1) {
            // A list or watch of one object by its name is that object's, as kube-apiserver
            // reads it (informers of one object), so resourceNames can grant it.
            "" if matches!(method, "GET" | "HEAD") => query
                .get("fieldSelector")
                .and_then(|f| {
                    f.split(',').find_map(|term| {
                        let term = term.trim();
                        term.strip_prefix("metadata.name==")
                            .or_else(|| term.strip_prefix("metadata.name="))
                    })
                })
                .unwrap_or_default(),
            n => n,
        };
        let watch = query.get("watch").is_some_and(|v| v == "true" || v == "1");
        let verb = match (method, part(1).is_empty()) {
            ("GET" | "HEAD", true) if watch => "watch".to_string(),
            ("GET" | "HEAD", true) => "list".to_string(),
            ("GET" | "HEAD", false) => "get".to_string(),
            ("POST", _) => "create".to_string(),
            ("PUT", _) => "update".to_string(),
            ("PATCH", _) => "patch".to_string(),
            ("DELETE", true) => "deletecollection".to_string(),
            ("DELETE", false) => "delete".to_string(),
            (m, _) => m.to_ascii_lowercase(),
        };
        Self::resource(&verb, group, part(0))
            .in_namespace(namespace)
            .named(name)
            .subresource(part(2))
    }

    /// The namespace whose RoleBindings count (empty: ClusterRoleBindings only).
    fn namespace(&self) -> &str {
        match &self.target {
            Target::Resource { namespace, .. } => namespace,
            Target::NonResource { .. } => "",
        }
    }
}

/// One rule of a role (`rbac.authorization.k8s.io/v1` PolicyRule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `apiGroups`.
    pub api_groups: Vec<String>,
    /// `resources` (`resource/subresource` for a subresource).
    pub resources: Vec<String>,
    /// `resourceNames` (empty: any name).
    pub resource_names: Vec<String>,
    /// `nonResourceURLs`.
    pub non_resource_urls: Vec<String>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn has(list: &[String], item: &str) -> bool {
    list.iter().any(|s| s == item)
}

fn has_or_all(list: &[String], item: &str) -> bool {
    list.iter().any(|s| s == item || s == "*")
}

/// Whether a rule's `pattern` (`*`, a path, or a prefix ending in `*`) matches `path`.
fn url_matches(pattern: &str, path: &str) -> bool {
    pattern == "*"
        || pattern == path
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| path.starts_with(prefix))
}

/// Whether a rule's `resources` entry names `resource` (and `subresource`): exactly, by `*`,
/// or by `*/SUBRESOURCE`.
fn resource_matches(pattern: &str, resource: &str, subresource: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if subresource.is_empty() {
        return pattern == resource;
    }
    pattern
        .strip_prefix(resource)
        .and_then(|p| p.strip_prefix('/'))
        .is_some_and(|sub| sub == subresource)
        || pattern
            .strip_prefix("*/")
            .is_some_and(|sub| sub == subresource)
}

impl Rule {
    /// The rule as stored (a PolicyRule in JSON).
    pub fn from_json(v: &Value) -> Self {
        Self {
            verbs: strings(v.get("verbs")),
            api_groups: strings(v.get("apiGroups")),
            resources: strings(v.get("resources")),
            resource_names: strings(v.get("resourceNames")),
            non_resource_urls: strings(v.get("nonResourceURLs")),
        }
    }

    /// Whether this rule allows `attrs`. `resourceNames` only ever match a request naming an
    /// object: a list, watch, create or deletecollection of a whole collection names none.
    pub fn allows(&self, attrs: &Attributes) -> bool {
        if !has_or_all(&self.verbs, &attrs.verb) {
            return false;
        }
        match &attrs.target {
            Target::NonResource { path } => {
                self.non_resource_urls.iter().any(|p| url_matches(p, path))
            }
            Target::Resource {
                group,
                resource,
                subresource,
                name,
                ..
            } => {
                has_or_all(&self.api_groups, group)
                    && self
                        .resources
                        .iter()
                        .any(|r| resource_matches(r, resource, subresource))
                    && (self.resource_names.is_empty()
                        || (!name.is_empty() && has(&self.resource_names, name)))
            }
        }
    }

    /// The rule split into rules of one verb, group, resource and name (or URL) each, which
    /// is how a grant is checked against what its author holds.
    fn atoms(&self) -> Vec<Rule> {
        let mut out = Vec::new();
        for verb in &self.verbs {
            for url in &self.non_resource_urls {
                out.push(Rule {
                    verbs: vec![verb.clone()],
                    non_resource_urls: vec![url.clone()],
                    ..Rule::default()
                });
            }
            for group in &self.api_groups {
                for resource in &self.resources {
                    let names: Vec<Vec<String>> = if self.resource_names.is_empty() {
                        vec![Vec::new()]
                    } else {
                        self.resource_names
                            .iter()
                            .map(|n| vec![n.clone()])
                            .collect()
                    };
                    for resource_names in names {
                        out.push(Rule {
                            verbs: vec![verb.clone()],
                            api_groups: vec![group.clone()],
                            resources: vec![resource.clone()],
                            resource_names,
                            ..Rule::default()
                        });
                    }
                }
            }
        }
        out
    }

    /// Whether this rule grants everything `atom` (one of [`Rule::atoms`]) grants. A wildcard
    /// in `atom` is covered only by a wildcard.
    fn covers(&self, atom: &Rule) -> bool {
        let first = |l: &[String]| l.first().cloned().unwrap_or_default();
        if !has_or_all(&self.verbs, &first(&atom.verbs)) {
            return false;
        }
        if let Some(url) = atom.non_resource_urls.first() {
            // A prefix covers what a narrower prefix (or a path under it) grants.
            return self.non_resource_urls.iter().any(|p| url_matches(p, url));
        }
        let resource = first(&atom.resources);
        let (res, sub) = resource.split_once('/').unwrap_or((&resource, ""));
        has_or_all(&self.api_groups, &first(&atom.api_groups))
            && self.resources.iter().any(|r| {
                r == &resource || (!resource.contains('*') && resource_matches(r, res, sub))
            })
            && (self.resource_names.is_empty()
                || atom
                    .resource_names
                    .first()
                    .is_some_and(|n| has(&self.resource_names, n)))
    }

    /// `{APIGroups:["x"], Resources:["y"], Verbs:["get"]}`, as kube-apiserver lists rules.
    fn display(&self) -> String {
        let list = |l: &[String]| {
            l.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut parts = Vec::new();
        if !self.api_groups.is_empty() {
            parts.push(format!("APIGroups:[{}]", list(&self.api_groups)));
        }
        if !self.resources.is_empty() {
            parts.push(format!("Resources:[{}]", list(&self.resources)));
        }
        if !self.resource_names.is_empty() {
            parts.push(format!("ResourceNames:[{}]", list(&self.resource_names)));
        }
        if !self.non_resource_urls.is_empty() {
            parts.push(format!(
                "NonResourceURLs:[{}]",
                list(&self.non_resource_urls)
            ));
        }
        parts.push(format!("Verbs:[{}]", list(&self.verbs)));
        format!("{{{}}}", parts.join(", "))
    }
}

/// Objects of an RBAC resource (in `ns`, or everywhere), parsed.
fn stored(store: &Store, plural: &str, ns: Option<&str>) -> Vec<Value> {
    let Some(def) = store.registry().lookup(GROUP, "v1", plural) else {
        return Vec::new();
    };
    store
        .list(&def, ns, &ListQuery::default())
        .map(|r| r.items.iter().map(|e| e.value()).collect())
        .unwrap_or_default()
}

/// The rules of the role a binding in `binding_ns` refers to; `None` when it does not exist.
fn role_rules(store: &Store, kind: &str, binding_ns: &str, name: &str) -> Option<Vec<Rule>> {
    let (plural, ns) = match kind {
        "Role" if !binding_ns.is_empty() => ("roles", binding_ns),
        "ClusterRole" => ("clusterroles", ""),
        _ => return None,
    };
    let def = store.registry().lookup(GROUP, "v1", plural)?;
    let role = store.get_entry(&def, ns, name).ok()?.value();
    Some(rules_of(&role))
}

/// A role's `rules`.
fn rules_of(role: &Value) -> Vec<Rule> {
    role.get("rules")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(Rule::from_json).collect())
        .unwrap_or_default()
}

/// Whether one of `binding`'s subjects is `user`; a service account without a namespace is
/// in the binding's.
fn binds(binding: &Value, user: &UserInfo, binding_ns: &str) -> bool {
    let subjects = binding.get("subjects").and_then(Value::as_array);
    subjects.into_iter().flatten().any(|s| {
        let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default();
        match text("kind") {
            "User" => text("name") == user.username,
            "Group" => has(&user.groups, text("name")),
            "ServiceAccount" => {
                let ns = match text("namespace") {
                    "" => binding_ns,
                    ns => ns,
                };
                user.service_account_name() == Some((ns, text("name")))
            }
            _ => false,
        }
    })
}

/// Every rule `user` holds in namespace `ns` (cluster-wide ones only when `ns` is empty):
/// those of the roles bound to it by ClusterRoleBindings, and in `ns` by RoleBindings.
pub fn rules_for(store: &Store, user: &UserInfo, ns: &str) -> Vec<Rule> {
    let mut rules = Vec::new();
    let ref_of = |b: &Value| {
        let text = |k: &str| {
            b.pointer(&format!("/roleRef/{k}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        (text("kind"), text("name"))
    };
    for b in stored(store, "clusterrolebindings", None) {
        if binds(&b, user, "") {
            let (kind, name) = ref_of(&b);
            rules.extend(role_rules(store, &kind, "", &name).unwrap_or_default());
        }
    }
    if !ns.is_empty() {
        for b in stored(store, "rolebindings", Some(ns)) {
            if binds(&b, user, ns) {
                let (kind, name) = ref_of(&b);
                rules.extend(role_rules(store, &kind, ns, &name).unwrap_or_default());
            }
        }
    }
    rules
}

/// Non-resource paths every authenticated user may read: Kubernetes' default
/// `system:discovery` and `system:public-info-viewer` bindings.
const DISCOVERY_PATHS: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/openapi",
    "/openapi/*",
    "/version",
    "/version/",
    "/healthz",
    "/livez",
    "/readyz",
];

/// Requests Kubernetes' default bindings allow every authenticated user: discovery, and
/// asking who one is and what one may do (`system:basic-user`).
fn granted_by_default(user: &UserInfo, attrs: &Attributes) -> bool {
    if !has(&user.groups, AUTHENTICATED_GROUP) {
        return false;
    }
    match &attrs.target {
        Target::NonResource { path } => {
            attrs.verb == "get" && DISCOVERY_PATHS.iter().any(|p| url_matches(p, path))
        }
        Target::Resource {
            group, resource, ..
        } => {
            attrs.verb == "create"
                && matches!(
                    (group.as_str(), resource.as_str()),
                    ("authentication.k8s.io", "selfsubjectreviews")
                        | (
                            "authorization.k8s.io",
                            "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
                        )
                )
        }
    }
}

/// Whether `user` may do `attrs`, by the store's RBAC objects as they are now.
pub fn allowed(store: &Store, user: &UserInfo, attrs: &Attributes) -> bool {
    user.is_superuser()
        || granted_by_default(user, attrs)
        || rules_for(store, user, attrs.namespace())
            .iter()
            .any(|r| r.allows(attrs))
}

/// `Ok` when `user` may do `attrs`, else kube-apiserver's 403.
///
/// # Errors
///
/// 403 Forbidden, worded as kube-apiserver words it.
pub fn authorize(store: &Store, user: &UserInfo, attrs: &Attributes) -> Result<(), ApiError> {
    if allowed(store, user, attrs) {
        Ok(())
    } else {
        Err(forbidden(user, attrs))
    }
}

/// kube-apiserver's 403 for `attrs`.
pub fn forbidden(user: &UserInfo, attrs: &Attributes) -> ApiError {
    let verb = &attrs.verb;
    match &attrs.target {
        Target::NonResource { path } => ApiError::forbidden(format!(
            "forbidden: User {:?} cannot {verb} path {path:?}",
            user.username
        )),
        Target::Resource {
            group,
            resource,
            subresource,
            namespace,
            name,
        } => {
            let qualified = qualified(resource, group);
            let what = if name.is_empty() {
                format!("{qualified} is forbidden")
            } else {
                format!("{qualified} {name:?} is forbidden")
            };
            let full = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let scope = if namespace.is_empty() {
                "at the cluster scope".to_string()
            } else {
                format!("in the namespace {namespace:?}")
            };
            ApiError::forbidden_on(
                resource,
                group,
                name,
                format!(
                    "{what}: User {:?} cannot {verb} resource {full:?} in API group {group:?} {scope}",
                    user.username
                ),
            )
        }
    }
}

fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// The rules of `wanted` that `held` does not grant, one verb, group, resource and name each.
fn not_held(held: &[Rule], wanted: &[Rule]) -> Vec<Rule> {
    wanted
        .iter()
        .flat_map(Rule::atoms)
        .filter(|atom| !held.iter().any(|h| h.covers(atom)))
        .collect()
}

/// What RBAC checks when a role or binding is written by someone other than a superuser,
/// as kube-apiserver's escalation prevention: a Role or ClusterRole only with `escalate` on
/// it or every permission it grants already held where it applies; a RoleBinding or
/// ClusterRoleBinding only with `bind` on the role it refers to or every permission of that
/// role held where the binding applies. `None` for other resources and for superusers.
/// The caller's rules are read now, before the write; the guard runs when the written object
/// is known (after a patch or an apply is worked out).
pub fn escalation_guard(
    store: &Arc<Store>,
    user: &UserInfo,
    def: &ResourceDef,
    ns: &str,
) -> Option<WriteGuard> {
    if user.is_superuser() || def.group != GROUP {
        return None;
    }
    let plural = def.plural.clone();
    if !matches!(
        plural.as_str(),
        "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings"
    ) {
        return None;
    }
    let held = rules_for(store, user, ns);
    let (store, user, ns) = (store.clone(), user.clone(), ns.to_string());
    Some(WriteGuard::new(move |name, obj| {
        let missing = if plural.ends_with("bindings") {
            let text = |k: &str| {
                obj.pointer(&format!("/roleRef/{k}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let (kind, role) = (text("kind"), text("name"));
            let role_plural = if kind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            let bind = Attributes::resource("bind", GROUP, role_plural)
                .in_namespace(&ns)
                .named(&role);
            if held.iter().any(|r| r.allows(&bind)) {
                return Ok(());
            }
            // Reading the role is safe under the binding's lock: roles are another resource.
            let rules = role_rules(&store, &kind, &ns, &role)
                .ok_or_else(|| ApiError::not_found(&qualified(role_plural, GROUP), &role))?;
            not_held(&held, &rules)
        } else {
            let escalate = Attributes::resource("escalate", GROUP, &plural)
                .in_namespace(&ns)
                .named(name);
            if held.iter().any(|r| r.allows(&escalate)) {
                return Ok(());
            }
            not_held(&held, &rules_of(obj))
        };
        if missing.is_empty() {
            return Ok(());
        }
        let groups: Vec<String> = user.groups.iter().map(|g| format!("{g:?}")).collect();
        let rules: Vec<String> = missing.iter().map(Rule::display).collect();
        Err(ApiError::forbidden_on(
            &plural,
            GROUP,
            name,
            format!(
                "{} {name:?} is forbidden: user {:?} (groups=[{}]) is attempting to grant RBAC permissions not currently held:\n{}",
                qualified(&plural, GROUP),
                user.username,
                groups.join(" "),
                rules.join("\n")
            ),
        ))
    }))
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: whether the caller may do
/// what `spec.resourceAttributes` (or `spec.nonResourceAttributes`) describe.
///
/// # Errors
///
/// 400 for a body of another kind, 422 when neither kind of attributes is given.
pub fn self_subject_access_review(
    store: &Store,
    caller: &Caller,
    request: &Value,
) -> Result<Value, ApiError> {
    check_type(
        request,
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
    )?;
    let spec = request.get("spec").cloned().unwrap_or_else(|| json!({}));
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let attrs = match (
        spec.get("resourceAttributes").filter(|v| v.is_object()),
        spec.get("nonResourceAttributes").filter(|v| v.is_object()),
    ) {
        (Some(r), None) => {
            Attributes::resource(&text(r, "verb"), &text(r, "group"), &text(r, "resource"))
                .in_namespace(&text(r, "namespace"))
                .named(&text(r, "name"))
                .subresource(&text(r, "subresource"))
        }
        (None, Some(n)) => Attributes::non_resource(&text(n, "verb"), &text(n, "path")),
        _ => {
            return Err(ApiError::invalid(
                "SelfSubjectAccessReview",
                "",
                vec![(
                    "spec.resourceAttributes".into(),
                    "Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
                )],
            ));
        }
    };
    let allowed = match caller {
        Caller::Admin => true,
        Caller::User(u) => allowed(store, u, &attrs),
        Caller::Anonymous => false,
    };
    Ok(json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": {"allowed": allowed},
    }))
}
