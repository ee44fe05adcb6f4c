//! Prints the admin kubeconfig of a ClusterDeployment (replaces `hack/get-kubeconfig.sh`).
//!
//! ```text
//! cargo run --example get_kubeconfig -- [NAMESPACE/]NAME [--run ID] [--kubeconfig FILE]
//! ```
//! The kubeconfig goes to stdout and nowhere else. Only a clone hive-scale adopted (of the run,
//! the scripts' `scaletest` by default) is read: other teams' credentials are not ours to read.

use crate::Failure;
use crate::flags::{HubFlags, LogFlags};
use anyhow::Context as _;
use clap::Parser;
use hive_scale_core::api::ClusterDeployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::process::ExitCode;

/// Examples in `--help`, each checked to parse.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "The admin kubeconfig of clone 1 of the scripts' run",
        "hive-scale get-kubeconfig ns1/c1",
    ),
    (
        "Of clone 7 of a scale test's run, from a hub named by its kubeconfig",
        "hive-scale get-kubeconfig ns7/c7 --run hs-20250601t120000-4f2a --kubeconfig hub.kubeconfig",
    ),
];

/// Print a ClusterDeployment's admin kubeconfig.
#[derive(Parser, Debug)]
#[command(
    version,
    after_help = super::after_help(EXAMPLES, "Exit codes: 0 printed, 1 not found, not hive-scale's or the hub failed, 2 bad command line.")
)]
pub struct Args {
    /// The ClusterDeployment, NAME (in the context's namespace) or NAMESPACE/NAME.
    cluster: String,
    /// The run that adopted the clone (default: the scripts' stable id, `scaletest`).
    #[arg(long, value_parser = crate::flags::run_id, default_value = hive_scale_core::labels::SCRIPTS_RUN)]
    run: String,
    #[command(flatten)]
    hub: HubFlags,
    #[command(flatten)]
    log: LogFlags,
}

/// Runs the tool with its parsed command line.
pub fn main(args: Args) -> ExitCode {
    args.log.init();
    crate::run(run(args))
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let named = args
        .cluster
        .split_once('/')
        .map(|(ns, name)| (ns.to_string(), name.to_string()));
    if args.cluster.is_empty()
        || named
            .as_ref()
            .is_some_and(|(ns, n)| ns.is_empty() || n.is_empty())
    {
        return Err(Failure::usage(format!(
            "expected [NAMESPACE/]NAME, got {:?}",
            args.cluster
        )));
    }
    let hub = args.hub.connect(50.0).await?;
    let client = hub.client();
    let (ns, name) =
        named.unwrap_or_else(|| (client.default_namespace().to_string(), args.cluster.clone()));
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
