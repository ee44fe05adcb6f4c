//! The objects of one adopted clone, computed from the spoke's kubeconfig and an index.
//! Pure: no I/O, so it is cheap to test and to preview.

use crate::api::{
    ClusterDeployment, ClusterDeploymentSpec, ClusterMetadata, LocalObjectReference, Platform,
};
use crate::labels;
use crate::{Error, Result};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kube::api::ObjectMeta;
use std::collections::BTreeMap;

/// Which platform block the adopted ClusterDeployments carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PlatformChoice {
    /// `none: {}` (the default: no cloud credentials needed).
    #[default]
    None,
    /// `aws` in `region`, with a placeholder credentials Secret `<cd>-aws-creds` per clone.
    Aws {
        /// AWS region.
        region: String,
    },
}

/// A ClusterRole the adopting identity grants itself in each namespace it creates, through a
/// RoleBinding there: how a least-privilege Job, which may create Secrets but read them only in
/// namespaces it created, reads its own Secrets back (config/job binds `hive-scale-namespace`
/// this way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRole {
    /// The ClusterRole bound in each created namespace.
    pub cluster_role: String,
    /// The user it is bound to (`system:serviceaccount:NS:NAME` for a pod); the engine asks
    /// the hub who the credentials are when `None`.
    pub user: Option<String>,
}

/// The name of the RoleBinding [`NamespaceRole`] creates in a clone's namespace.
pub const NAMESPACE_ROLE_BINDING: &str = "hive-scale";

/// What every clone shares.
#[derive(Clone, PartialEq)]
pub struct AdoptPlan {
    /// The spoke's admin kubeconfig, stored verbatim in every clone's Secret.
    pub spoke_kubeconfig: Vec<u8>,
    /// Mark clones `hive.openshift.io/fake-cluster: "true"` (no spoke is contacted).
    pub fake_cluster: bool,
    /// Namespace name prefix (`ns` gives `ns17`).
    pub namespace_prefix: String,
    /// ClusterDeployment name prefix (`c` gives `c17`).
    pub name_prefix: String,
    /// `spec.baseDomain`.
    pub base_domain: String,
    /// The platform block.
    pub platform: PlatformChoice,
    /// Value of the run label.
    pub run: String,
    /// Extra labels on every ClusterDeployment.
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on every ClusterDeployment.
    pub annotations: BTreeMap<String, String>,
    /// A ClusterRole to bind in each namespace created (see [`NamespaceRole`]).
    pub namespace_role: Option<NamespaceRole>,
}

impl std::fmt::Debug for AdoptPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdoptPlan")
            .field(
                "spoke_kubeconfig",
                &format_args!("<{} bytes redacted>", self.spoke_kubeconfig.len()),
            )
            .field("fake_cluster", &self.fake_cluster)
            .field("namespace_prefix", &self.namespace_prefix)
            .field("name_prefix", &self.name_prefix)
            .field("base_domain", &self.base_domain)
            .field("platform", &self.platform)
            .field("run", &self.run)
            .field("labels", &self.labels)
            .field("annotations", &self.annotations)
            .field("namespace_role", &self.namespace_role)
            .finish()
    }
}

/// The objects of clone `i`, in the order they are written.
#[derive(Clone)]
pub struct CloneObjects {
    /// The clone's index.
    pub index: u32,
    /// Namespace `ns<i>`.
    pub namespace: Namespace,
    /// Secret `c<i>-adopted-admin-kubeconfig` (keys `kubeconfig`, `raw-kubeconfig`).
    pub admin_kubeconfig: Secret,
    /// Placeholder AWS credentials, for the `aws` platform.
    pub aws_credentials: Option<Secret>,
    /// The RoleBinding granting the plan's [`NamespaceRole`] in the namespace, when it has one
    /// with a user.
    pub role_binding: Option<RoleBinding>,
    /// The ClusterDeployment `c<i>`.
    pub cluster_deployment: ClusterDeployment,
}

impl std::fmt::Debug for CloneObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The Secrets hold the spoke's admin credentials: name them, never print their data.
        f.debug_struct("CloneObjects")
            .field("index", &self.index)
            .field("namespace", &self.namespace.metadata.name)
            .field("admin_kubeconfig", &self.admin_kubeconfig.metadata.name)
            .field(
                "aws_credentials",
                &self.aws_credentials.as_ref().map(|s| &s.metadata.name),
            )
            .field("cluster_deployment", &self.cluster_deployment)
            .finish()
    }
}

impl AdoptPlan {
    /// A plan adopting copies of the spoke behind `spoke_kubeconfig`.
    pub fn new(spoke_kubeconfig: Vec<u8>) -> Self {
        Self {
            spoke_kubeconfig,
            fake_cluster: false,
            namespace_prefix: "ns".into(),
            name_prefix: "c".into(),
            base_domain: "new-installer.openshift.com".into(),
            platform: PlatformChoice::None,
            run: "scaletest".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            namespace_role: None,
        }
    }

    /// A plan for fake clusters: no spoke, a placeholder kubeconfig in each Secret.
    pub fn fake() -> Self {
        let mut p = Self::new(placeholder_kubeconfig().into_bytes());
        p.fake_cluster = true;
        p
    }

    /// Checks names and labels before anything is sent.
    pub fn validate(&self) -> Result<()> {
        for (what, prefix) in [
            ("namespace prefix", &self.namespace_prefix),
            ("name prefix", &self.name_prefix),
        ] {
            let sample = format!("{prefix}1");
            if !crate::labels::is_dns_subdomain(&sample) || sample.contains('.') {
                return Err(Error::Invalid(format!(
                    "{what} {prefix:?} does not make valid names (lowercase letters, digits and '-')"
                )));
            }
        }
        if !labels::is_run_id(&self.run) {
            return Err(Error::Invalid(format!(
                "run id {:?} is not a DNS label (lowercase letters, digits and '-', at most 63)",
                self.run
            )));
        }
        if self.base_domain.is_empty() {
            return Err(Error::Invalid("base domain must not be empty".into()));
        }
        for (k, v) in &self.labels {
            if k.is_empty() || v.len() > 63 {
                return Err(Error::Invalid(format!(
                    "label {k}={v} is not a valid Kubernetes label"
                )));
            }
        }
        if let Some(r) = &self.namespace_role
            && !labels::is_dns_subdomain(&r.cluster_role)
        {
            return Err(Error::Invalid(format!(
                "namespace role {:?} is not a valid ClusterRole name",
                r.cluster_role
            )));
        }
        if let PlatformChoice::Aws { region } = &self.platform
            && region.is_empty()
        {
            return Err(Error::Invalid("the aws platform needs a region".into()));
        }
        Ok(())
    }

    /// `ns<i>`.
    pub fn namespace_name(&self, i: u32) -> String {
        format!("{}{i}", self.namespace_prefix)
    }

    /// `c<i>`.
    pub fn cd_name(&self, i: u32) -> String {
        format!("{}{i}", self.name_prefix)
    }

    /// `c<i>-adopted-admin-kubeconfig`.
    pub fn secret_name(&self, i: u32) -> String {
        format!("{}-adopted-admin-kubeconfig", self.cd_name(i))
    }

    fn toolkit_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                labels::SCALETEST.to_string(),
                labels::SCALETEST_VALUE.to_string(),
            ),
            (
                labels::MANAGED_BY.to_string(),
                labels::MANAGED_BY_VALUE.to_string(),
            ),
            (labels::RUN.to_string(), self.run.clone()),
        ])
    }

    /// The objects of clone `i`.
    pub fn clone_objects(&self, i: u32) -> CloneObjects {
        let ns = self.namespace_name(i);
        let name = self.cd_name(i);
        let secret_name = self.secret_name(i);
        let meta = |n: &str| ObjectMeta {
            name: Some(n.to_string()),
            namespace: Some(ns.clone()),
            labels: Some(self.toolkit_labels()),
            ..Default::default()
        };
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(ns.clone()),
                labels: Some(self.toolkit_labels()),
                ..Default::default()
            },
            ..Default::default()
        };
        let kubeconfig = ByteString(self.spoke_kubeconfig.clone());
        let admin_kubeconfig = Secret {
            metadata: meta(&secret_name),
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([
                ("kubeconfig".to_string(), kubeconfig.clone()),
                ("raw-kubeconfig".to_string(), kubeconfig),
            ])),
            ..Default::default()
        };
        let (platform, aws_credentials) = match &self.platform {
            PlatformChoice::None => (Platform::none(), None),
            PlatformChoice::Aws { region } => {
                let creds = format!("{name}-aws-creds");
                let secret = Secret {
                    metadata: meta(&creds),
                    type_: Some("Opaque".into()),
                    data: Some(BTreeMap::from([
                        (
                            "aws_access_key_id".to_string(),
                            ByteString(b"placeholder".to_vec()),
                        ),
                        (
                            "aws_secret_access_key".to_string(),
                            ByteString(b"placeholder".to_vec()),
                        ),
                    ])),
                    ..Default::default()
                };
                (Platform::aws(region.clone(), creds), Some(secret))
            }
        };
        let mut cd_labels = self.labels.clone();
        cd_labels.extend(self.toolkit_labels());
        let mut annotations = self.annotations.clone();
        if self.fake_cluster {
            annotations.insert(labels::FAKE_CLUSTER.into(), "true".into());
        }
        let cluster_deployment = ClusterDeployment {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                labels: Some(cd_labels),
                annotations: (!annotations.is_empty()).then_some(annotations),
                ..Default::default()
            },
            spec: ClusterDeploymentSpec {
                cluster_name: name.clone(),
                base_domain: self.base_domain.clone(),
                platform,
                installed: true,
                preserve_on_delete: true,
                manage_dns: Some(false),
                cluster_metadata: Some(ClusterMetadata {
                    cluster_id: format!("fake-{name}"),
                    infra_id: format!("fake-{name}"),
                    admin_kubeconfig_secret_ref: LocalObjectReference::new(secret_name),
                    ..Default::default()
                }),
                ..Default::default()
            },
            status: None,
        };
        let role_binding = self.namespace_role.as_ref().and_then(|r| {
            Some(RoleBinding {
                metadata: meta(NAMESPACE_ROLE_BINDING),
                role_ref: RoleRef {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "ClusterRole".into(),
                    name: r.cluster_role.clone(),
                },
                subjects: Some(vec![Subject {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "User".into(),
                    name: r.user.clone()?,
                    namespace: None,
                }]),
            })
        });
        CloneObjects {
            index: i,
            namespace,
            admin_kubeconfig,
            aws_credentials,
            role_binding,
            cluster_deployment,
        }
    }
}

/// A syntactically valid kubeconfig for fake clusters; Hive never dials it.
pub fn placeholder_kubeconfig() -> String {
    "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: https://api.fake-cluster.invalid:6443\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\nusers:\n- name: fake\n  user:\n    token: fake-cluster-has-no-credentials\n".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_objects_follow_hiveutil_adopt() {
        let mut plan = AdoptPlan::new(b"spoke-kubeconfig".to_vec());
        plan.labels.insert("team".into(), "hive".into());
        plan.annotations.insert("note".into(), "x".into());
        let c = plan.clone_objects(17);
        assert_eq!(c.namespace.metadata.name.as_deref(), Some("ns17"));
        let s = &c.admin_kubeconfig;
        assert_eq!(
            s.metadata.name.as_deref(),
            Some("c17-adopted-admin-kubeconfig")
        );
        assert_eq!(s.metadata.namespace.as_deref(), Some("ns17"));
        let data = s.data.as_ref().unwrap();
        assert_eq!(data["kubeconfig"].0, b"spoke-kubeconfig");
        assert_eq!(data["raw-kubeconfig"].0, b"spoke-kubeconfig");
        let cd = &c.cluster_deployment;
        assert_eq!(cd.metadata.name.as_deref(), Some("c17"));
        assert!(cd.spec.installed && cd.spec.preserve_on_delete);
        assert_eq!(cd.spec.cluster_name, "c17");
        let md = cd.spec.cluster_metadata.as_ref().unwrap();
        assert_eq!(
            (md.cluster_id.as_str(), md.infra_id.as_str()),
            ("fake-c17", "fake-c17")
        );
        assert_eq!(
            md.admin_kubeconfig_secret_ref.name,
            "c17-adopted-admin-kubeconfig"
        );
        assert_eq!(cd.spec.platform, Platform::none());
        let labels = cd.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["scaletest"], "true");
        assert_eq!(labels[crate::labels::MANAGED_BY], "hive-scale");
        assert_eq!(labels[crate::labels::RUN], "scaletest");
        assert_eq!(labels["team"], "hive");
        assert_eq!(cd.metadata.annotations.as_ref().unwrap()["note"], "x");
        assert!(
            !cd.metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(crate::labels::FAKE_CLUSTER)
        );
        assert!(c.aws_credentials.is_none());
    }

    #[test]
    fn fake_clusters_and_aws_and_prefixes() {
        let mut plan = AdoptPlan::fake();
        plan.platform = PlatformChoice::Aws {
            region: "us-east-1".into(),
        };
        plan.namespace_prefix = "scale-ns".into();
        plan.name_prefix = "cl".into();
        let c = plan.clone_objects(3);
        assert_eq!(c.namespace.metadata.name.as_deref(), Some("scale-ns3"));
        assert_eq!(
            c.cluster_deployment.metadata.annotations.as_ref().unwrap()
                [crate::labels::FAKE_CLUSTER],
            "true"
        );
        let aws = c.cluster_deployment.spec.platform.aws.as_ref().unwrap();
        assert_eq!(aws.region, "us-east-1");
        assert_eq!(
            aws.credentials_secret_ref.as_ref().unwrap().name,
            "cl3-aws-creds"
        );
        assert_eq!(
            c.aws_credentials.unwrap().metadata.name.as_deref(),
            Some("cl3-aws-creds")
        );
        let kc = crate::hub::kubeconfig::parse(
            &String::from_utf8(plan.spoke_kubeconfig.clone()).unwrap(),
            None,
        )
        .unwrap();
        assert!(
            crate::hub::kubeconfig::validate(kc, None, None).is_ok(),
            "the placeholder is a valid kubeconfig"
        );
    }

    #[test]
    fn validation_and_redacted_debug() {
        let mut plan = AdoptPlan::new(b"token: SECRET".to_vec());
        assert!(plan.validate().is_ok());
        assert!(!format!("{plan:?}").contains("SECRET"));
        assert!(!format!("{:?}", plan.clone_objects(1)).contains("SECRET"));
        plan.name_prefix = "Bad_".into();
        assert!(plan.validate().is_err());
    }
}
