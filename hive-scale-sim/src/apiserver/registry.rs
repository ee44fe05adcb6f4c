//! Which resources the hub serves: built-in core kinds plus every installed CRD.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// One served resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDef {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural, as in the URL.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`cd`, `sss`, ...).
    pub short_names: Vec<String>,
    /// Whether `/status` is a subresource (status then changes only through it).
    pub status_subresource: bool,
    /// Served from a CRD (generation tracking, schema validation, merge-patch only).
    pub custom: bool,
    /// The CRD's `openAPIV3Schema`, for validation.
    pub schema: Option<Value>,
    /// `additionalPrinterColumns` of the CRD.
    pub printer_columns: Vec<PrinterColumn>,
}

/// A server-side column for `kubectl get`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    /// Header.
    pub name: String,
    /// `string`, `integer`, `boolean`, `date`, ...
    pub type_: String,
    /// Simple JSONPath into the object.
    pub json_path: String,
}

impl ResourceDef {
    fn core(plural: &str, kind: &str, namespaced: bool, short: &[&str], status: bool) -> Self {
        Self {
            group: String::new(),
            version: "v1".into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            status_subresource: status,
            custom: false,
            schema: None,
            printer_columns: Vec::new(),
        }
    }

    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `configmaps` or `clusterdeployments.hive.openshift.io`, as error messages name it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Key of the resource's storage (versions share it).
    pub fn storage_key(&self) -> (String, String) {
        (self.group.clone(), self.plural.clone())
    }

    /// The `APIResource` entries of discovery (the resource and its status subresource).
    pub fn discovery(&self) -> Vec<Value> {
        let mut out = vec![json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "shortNames": self.short_names,
            "storageVersionHash": "",
        })];
        if self.group.is_empty() && self.plural == "serviceaccounts" {
            out.push(json!({
                "name": "serviceaccounts/token",
                "singularName": "",
                "namespaced": true,
                "group": "authentication.k8s.io",
                "version": "v1",
                "kind": "TokenRequest",
                "verbs": ["create"],
            }));
        }
        if self.status_subresource {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        out
    }

    /// The definition a CRD's first served version describes.
    pub fn from_crd(crd: &CustomResourceDefinition) -> Vec<Self> {
        let spec = &crd.spec;
        spec.versions
            .iter()
            .filter(|v| v.served)
            .map(|v| Self {
                group: spec.group.clone(),
                version: v.name.clone(),
                plural: spec.names.plural.clone(),
                singular: spec
                    .names
                    .singular
                    .clone()
                    .unwrap_or_else(|| spec.names.kind.to_lowercase()),
                kind: spec.names.kind.clone(),
                namespaced: spec.scope == "Namespaced",
                short_names: spec.names.short_names.clone().unwrap_or_default(),
                status_subresource: v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
                custom: true,
                schema: v
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                    .and_then(|s| serde_json::to_value(s).ok()),
                printer_columns: v
                    .additional_printer_columns
                    .iter()
                    .flatten()
                    .map(|c| PrinterColumn {
                        name: c.name.clone(),
                        type_: c.type_.clone(),
                        json_path: c.json_path.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The set of served resources, looked up by URL segments or by kind.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    defs: Vec<Arc<ResourceDef>>,
    by_path: HashMap<(String, String, String), Arc<ResourceDef>>,
}

impl Registry {
    /// The built-in kinds (namespaces, configmaps, secrets, CRDs, and what hive-scale's Job
    /// in config/job/ is made of: service accounts, persistent volume claims, jobs, stored and
    /// validated but acted on by nothing; roles, cluster roles and their bindings, which
    /// authorize service accounts' tokens) plus `crds`.
    pub fn new(crds: &[CustomResourceDefinition]) -> Self {
        let grouped =
            |group: &str, plural: &str, kind: &str, namespaced: bool, status: bool| ResourceDef {
                group: group.into(),
                ..ResourceDef::core(plural, kind, namespaced, &[], status)
            };
        let mut defs = vec![
            ResourceDef::core("namespaces", "Namespace", false, &["ns"], true),
            ResourceDef::core("configmaps", "ConfigMap", true, &["cm"], false),
            ResourceDef::core("secrets", "Secret", true, &[], false),
            ResourceDef::core("serviceaccounts", "ServiceAccount", true, &["sa"], false),
            ResourceDef::core(
                "persistentvolumeclaims",
                "PersistentVolumeClaim",
                true,
                &["pvc"],
                true,
            ),
            grouped("batch", "jobs", "Job", true, true),
            grouped(
                "rbac.authorization.k8s.io",
                "clusterroles",
                "ClusterRole",
                false,
                false,
            ),
            grouped(
                "rbac.authorization.k8s.io",
                "clusterrolebindings",
                "ClusterRoleBinding",
                false,
                false,
            ),
            grouped("rbac.authorization.k8s.io", "roles", "Role", true, false),
            grouped(
                "rbac.authorization.k8s.io",
                "rolebindings",
                "RoleBinding",
                true,
                false,
            ),
            ResourceDef {
                group: "apiextensions.k8s.io".into(),
                singular: "customresourcedefinition".into(),
                ..ResourceDef::core(
                    "customresourcedefinitions",
                    "CustomResourceDefinition",
                    false,
                    &["crd", "crds"],
                    true,
                )
            },
        ];
        for crd in crds {
            defs.extend(ResourceDef::from_crd(crd));
        }
        let defs: Vec<Arc<ResourceDef>> = defs.into_iter().map(Arc::new).collect();
        let by_path = defs
            .iter()
            .map(|d| {
                (
                    (d.group.clone(), d.version.clone(), d.plural.clone()),
                    d.clone(),
                )
            })
            .collect();
        Self { defs, by_path }
    }

    /// The resource at `/apis/{group}/{version}/{plural}`.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.by_path
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// The resource serving `kind` in `api_version`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .find(|d| d.kind == kind && d.api_version() == api_version)
            .cloned()
    }

    /// Every served resource.
    pub fn all(&self) -> &[Arc<ResourceDef>] {
        &self.defs
    }

    /// `(group, [versions])` of every API group except core, in a stable order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for d in &self.defs {
            if d.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == d.group) {
                Some((_, versions)) if !versions.contains(&d.version) => {
                    versions.push(d.version.clone())
                }
                Some(_) => {}
                None => out.push((d.group.clone(), vec![d.version.clone()])),
            }
        }
        out
    }

    /// Resources of one group/version.
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<Arc<ResourceDef>> {
        self.defs
            .iter()
            .filter(|d| d.group == group && d.version == version)
            .cloned()
            .collect()
    }
}
