//! Prints the admin kubeconfig of a ClusterDeployment (replaces `hack/get-kubeconfig.sh`).
//!
//! ```text
//! cargo run --example get_kubeconfig -- [NAMESPACE/]NAME [--run ID] [--kubeconfig FILE]
//! ```
//! The kubeconfig goes to stdout and nowhere else. Only a clone hive-scale adopted (of the run,
//! the scripts' `scaletest` by default) is read: other teams' credentials are not ours to read.

use crate::flags::HubFlags;
use anyhow::Context as _;
use clap::Parser;
use hive_scale_core::api::ClusterDeployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::process::ExitCode;

/// Print a ClusterDeployment's admin kubeconfig.
#[derive(Parser, Debug)]
#[command(version)]
pub struct Args {
    /// The ClusterDeployment, NAME (in the context's namespace) or NAMESPACE/NAME.
    cluster: String,
    /// The run that adopted the clone (default: the scripts' stable id, `scaletest`).
    #[arg(long, value_parser = crate::flags::run_id, default_value = hive_scale_core::labels::SCRIPTS_RUN)]
    run: String,
    #[command(flatten)]
    hub: HubFlags,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    crate::init_logging(false);
    crate::run(run(args))
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let hub = args.hub.connect(50.0).await?;
    let client = hub.client();
    let (ns, name) = match args.cluster.split_once('/') {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => (client.default_namespace().to_string(), args.cluster.clone()),
    };
    if ns.is_empty() || name.is_empty() {
        anyhow::bail!("expected [NAMESPACE/]NAME, got {:?}", args.cluster);
    }
    let cds: Api<ClusterDeployment> = Api::namespaced(client.clone(), &ns);
    let cd = hub
        .get_opt(&cds, &name)
        .await?
        .with_context(|| format!("ClusterDeployment {ns}/{name} not found"))?;
    refuse_unless_ours("ClusterDeployment", &cd.metadata, &args.run)?;
    let secret_name = cd
        .spec
        .cluster_metadata
        .as_ref()
        .map(|m| m.admin_kubeconfig_secret_ref.name.clone())
        .filter(|n| !n.is_empty())
        .with_context(|| {
            format!("ClusterDeployment {ns}/{name} has no clusterMetadata.adminKubeconfigSecretRef")
        })?;
    let secrets: Api<Secret> = Api::namespaced(client, &ns);
    let secret = hub
        .get_opt(&secrets, &secret_name)
        .await?
        .with_context(|| format!("Secret {ns}/{secret_name} not found"))?;
    refuse_unless_ours("Secret", &secret.metadata, &args.run)?;
    // Hive's controllers read `kubeconfig`; `raw-kubeconfig` is the untouched copy.
    let data = secret.data.unwrap_or_default();
    let bytes = data
        .get("kubeconfig")
        .or_else(|| data.get("raw-kubeconfig"))
        .with_context(|| format!("Secret {ns}/{secret_name} has no kubeconfig key"))?;
    let text = String::from_utf8(bytes.0.clone())
        .with_context(|| format!("Secret {ns}/{secret_name}: the kubeconfig is not UTF-8 text"))?;
    crate::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// An error unless the object is hive-scale's, of `run`.
fn refuse_unless_ours(kind: &str, meta: &kube::api::ObjectMeta, run: &str) -> anyhow::Result<()> {
    use hive_scale_core::ownership::{Ownership, Refusal, RefusalReason, ownership};
    let reason = match ownership(meta, run) {
        Ownership::Ours => return Ok(()),
        Ownership::OtherRun(r) => RefusalReason::OtherRun(r),
        Ownership::Foreign => RefusalReason::NotOurs,
    };
    anyhow::bail!(
        "{}: get-kubeconfig prints only the kubeconfigs of clones hive-scale adopted",
        Refusal::new(kind, meta, reason)
    )
}
