//! Deleting adopted clones, guarded by the deprovision interlock.
//!
//! Deleting a ClusterDeployment makes Hive deprovision the cluster it describes unless
//! `spec.preserveOnDelete` is true, and every clone points at the same real cluster. So no
//! path of this toolkit deletes a ClusterDeployment without going through [`interlock`], and a
//! namespace is deleted only when every ClusterDeployment in it passes the interlock too
//! (deleting a namespace deletes what is in it).

use crate::api::{ClusterDeployment, SelectorSyncSet};
use crate::apply::{self, Event, Outcome, ProgressSink};
use crate::hub::Hub;
use crate::labels;
use crate::{Error, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Preconditions};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Which clones to remove.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Clones `start..=end` named with these prefixes.
    Range {
        /// First index.
        start: u32,
        /// Last index (inclusive).
        end: u32,
        /// Namespace prefix (`ns`).
        namespace_prefix: String,
        /// ClusterDeployment prefix (`c`).
        name_prefix: String,
    },
    /// Everything carrying the toolkit's label.
    All,
    /// ClusterDeployments matching a label selector (anything else it matches is refused).
    Selector(String),
}

/// How to tear down.
#[derive(Debug, Clone)]
pub struct TeardownOptions {
    /// What to remove.
    pub selection: Selection,
    /// Only objects of this run (the run label), when set.
    pub run: Option<String>,
    /// Deletions in flight at once.
    pub concurrency: usize,
    /// How long to wait for everything to be gone.
    pub timeout: Duration,
    /// List what would be deleted; delete nothing.
    pub dry_run: bool,
    /// Also remove the SelectorSyncSets the toolkit created.
    pub selectorsyncsets: bool,
}

impl TeardownOptions {
    /// Defaults: 16 at a time, 5 minutes, no dry run, fixtures kept.
    pub fn new(selection: Selection) -> Self {
        Self {
            selection,
            run: None,
            concurrency: 16,
            timeout: Duration::from_secs(300),
            dry_run: false,
            selectorsyncsets: false,
        }
    }
}

/// A ClusterDeployment (or namespace) the interlock would not delete.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Refusal {
    /// `namespace/name` of the ClusterDeployment, or `namespace/` for a namespace.
    pub object: String,
    /// Why.
    pub reason: String,
}

/// What a teardown did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TeardownSummary {
    /// ClusterDeployments deleted (or to delete).
    pub cluster_deployments: Vec<String>,
    /// Namespaces deleted (or to delete).
    pub namespaces: Vec<String>,
    /// SelectorSyncSets deleted (or to delete).
    pub selectorsyncsets: Vec<String>,
    /// What the interlock refused.
    pub refused: Vec<Refusal>,
    /// Deletions that failed.
    pub failures: Vec<(String, String)>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether waiting for deletions timed out.
    pub timed_out: bool,
    /// What was still there when waiting gave up (`clusterdeployment/ns/name`, `namespace/ns`).
    pub left_behind: Vec<String>,
    /// Wall time, seconds.
    pub elapsed_seconds: f64,
}

/// The deprovision interlock: `Ok` only for a ClusterDeployment with `preserveOnDelete: true`
/// that carries the toolkit's label.
pub fn interlock(cd: &ClusterDeployment) -> std::result::Result<(), String> {
    if !cd.spec.preserve_on_delete {
        return Err("spec.preserveOnDelete is not true: deleting it would make Hive deprovision the cluster it points at".into());
    }
    let ours = cd
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::MANAGED_BY))
        .map(String::as_str)
        == Some(labels::MANAGED_BY_VALUE);
    if !ours {
        return Err(format!(
            "it lacks the label {}={}: hive-scale did not create it",
            labels::MANAGED_BY,
            labels::MANAGED_BY_VALUE
        ));
    }
    Ok(())
}

fn key(cd: &ClusterDeployment) -> String {
    format!(
        "{}/{}",
        cd.metadata.namespace.as_deref().unwrap_or(""),
        cd.metadata.name.as_deref().unwrap_or("")
    )
}

/// Deletes one ClusterDeployment if, and only if, the interlock allows it. The delete carries
/// the uid and resourceVersion that were checked, so a concurrent edit (say, someone clearing
/// preserveOnDelete) makes it fail instead of deleting an object that was never checked.
pub async fn delete_cluster_deployment(hub: &Hub, cd: &ClusterDeployment) -> Result<()> {
    interlock(cd).map_err(|why| Error::Refused(format!("ClusterDeployment {}: {why}", key(cd))))?;
    let ns = cd.metadata.namespace.clone().unwrap_or_default();
    let name = cd.metadata.name.clone().unwrap_or_default();
    let api: Api<ClusterDeployment> = Api::namespaced(hub.client(), &ns);
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: cd.metadata.uid.clone(),
            resource_version: cd.metadata.resource_version.clone(),
        }),
        ..Default::default()
    };
    match hub
        .call("delete", &format!("ClusterDeployment {ns}/{name}"), || {
            api.delete(&name, &dp)
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

fn ours(labels_: Option<&BTreeMap<String, String>>, run: Option<&str>) -> bool {
    let l = labels_.cloned().unwrap_or_default();
    l.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_VALUE)
        && run.is_none_or(|r| l.get(labels::RUN).map(String::as_str) == Some(r))
}

fn toolkit_selector(run: Option<&str>) -> String {
    let mut s = format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE);
    if let Some(r) = run {
        s.push_str(&format!(",{}={r}", labels::RUN));
    }
    s
}

/// Removes the selected clones (ClusterDeployments first, then their namespaces), waits until
/// they are gone, and reports what the interlock refused.
pub async fn teardown(
    hub: &Hub,
    opts: &TeardownOptions,
    progress: &ProgressSink,
) -> Result<TeardownSummary> {
    let started = Instant::now();
    let client = hub.client();
    let cd_api: Api<ClusterDeployment> = Api::all(client.clone());
    let ns_api: Api<Namespace> = Api::all(client.clone());
    let run = opts.run.as_deref();

    // Every ClusterDeployment in the hub, once: we need all of those in a namespace before
    // deleting the namespace, ours or not.
    let all_cds = hub.list_all(&cd_api, "").await?;
    let mut by_ns: BTreeMap<String, Vec<ClusterDeployment>> = BTreeMap::new();
    for cd in &all_cds {
        by_ns
            .entry(cd.metadata.namespace.clone().unwrap_or_default())
            .or_default()
            .push(cd.clone());
    }
    let namespaces: BTreeMap<String, Namespace> = hub
        .list_all(&ns_api, "")
        .await?
        .into_iter()
        .filter_map(|n| Some((n.metadata.name.clone()?, n)))
        .collect();

    let (selected_cds, candidate_ns): (Vec<ClusterDeployment>, BTreeSet<String>) =
        match &opts.selection {
            Selection::Range {
                start,
                end,
                namespace_prefix,
                name_prefix,
            } => {
                if start > end || *start == 0 {
                    return Err(Error::Invalid(format!(
                        "clone indices start at 1 and START <= END; got {start}..={end}"
                    )));
                }
                let wanted: BTreeSet<String> = (*start..=*end)
                    .map(|i| format!("{namespace_prefix}{i}"))
                    .collect();
                let names: BTreeSet<(String, String)> = (*start..=*end)
                    .map(|i| {
                        (
                            format!("{namespace_prefix}{i}"),
                            format!("{name_prefix}{i}"),
                        )
                    })
                    .collect();
                let cds = all_cds
                    .iter()
                    .filter(|c| {
                        names.contains(&(
                            c.metadata.namespace.clone().unwrap_or_default(),
                            c.metadata.name.clone().unwrap_or_default(),
                        ))
                    })
                    .cloned()
                    .collect();
                (
                    cds,
                    wanted
                        .into_iter()
                        .filter(|n| namespaces.contains_key(n))
                        .collect(),
                )
            }
            Selection::All => {
                let cds: Vec<ClusterDeployment> = all_cds
                    .iter()
                    .filter(|c| ours(c.metadata.labels.as_ref(), run))
                    .cloned()
                    .collect();
                let ns = namespaces
                    .iter()
                    .filter(|(_, n)| ours(n.metadata.labels.as_ref(), run))
                    .map(|(k, _)| k.clone())
                    .collect();
                (cds, ns)
            }
            Selection::Selector(sel) => {
                let cds = hub.list_all(&cd_api, sel).await?;
                let ns = cds
                    .iter()
                    .filter_map(|c| c.metadata.namespace.clone())
                    .collect();
                (cds, ns)
            }
        };

    let mut summary = TeardownSummary {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let mut deletable = Vec::new();
    for cd in selected_cds {
        let run_ok = run.is_none_or(|r| {
            cd.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::RUN))
                .map(String::as_str)
                == Some(r)
        });
        if !run_ok {
            continue;
        }
        match interlock(&cd) {
            Ok(()) => deletable.push(cd),
            Err(reason) => {
                apply::emit(
                    progress,
                    Event {
                        item: format!("clusterdeployment/{}", key(&cd)),
                        outcome: Outcome::Skipped,
                        reason: Some(reason.clone()),
                    },
                );
                summary.refused.push(Refusal {
                    object: key(&cd),
                    reason,
                });
            }
        }
    }
    let mut ns_to_delete = Vec::new();
    for ns in candidate_ns {
        let Some(n) = namespaces.get(&ns) else {
            continue;
        };
        if !ours(n.metadata.labels.as_ref(), run) {
            if matches!(opts.selection, Selection::Range { .. }) {
                summary.refused.push(Refusal {
                    object: format!("{ns}/"),
                    reason: format!(
                        "namespace lacks the label {}={}",
                        labels::MANAGED_BY,
                        labels::MANAGED_BY_VALUE
                    ),
                });
            }
            continue;
        }
        let blockers: Vec<String> = by_ns
            .get(&ns)
            .into_iter()
            .flatten()
            .filter(|c| interlock(c).is_err())
            .map(key)
            .collect();
        if blockers.is_empty() {
            ns_to_delete.push(ns);
        } else {
            let reason = format!(
                "namespace holds ClusterDeployments the interlock refuses ({}); deleting it would delete them",
                blockers.join(", ")
            );
            summary.refused.push(Refusal {
                object: format!("{ns}/"),
                reason,
            });
        }
    }
    let sss_api: Api<SelectorSyncSet> = Api::all(client.clone());
    let sets = if opts.selectorsyncsets {
        hub.list_all(&sss_api, &toolkit_selector(run)).await?
    } else {
        Vec::new()
    };
    summary.cluster_deployments = deletable.iter().map(key).collect();
    summary.namespaces = ns_to_delete.clone();
    summary.selectorsyncsets = sets
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    summary.refused.sort();
    if opts.dry_run {
        summary.elapsed_seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }

    // ClusterDeployments first, each with its own checked preconditions.
    let conc = opts.concurrency.max(1);
    let cd_results: Vec<(String, Result<()>)> = futures::stream::iter(deletable.iter())
        .map(|cd| async move { (key(cd), delete_cluster_deployment(hub, cd).await) })
        .buffer_unordered(conc)
        .inspect(|(k, r)| emit_result(progress, &format!("clusterdeployment/{k}"), r))
        .collect()
        .await;
    // Then namespaces, re-checking what is inside right before each delete.
    let ns_results: Vec<(String, Result<()>)> = futures::stream::iter(ns_to_delete.iter())
        .map(|ns| {
            let client = client.clone();
            async move { (ns.clone(), delete_namespace_guarded(hub, client, ns).await) }
        })
        .buffer_unordered(conc)
        .inspect(|(k, r)| emit_result(progress, &format!("namespace/{k}"), r))
        .collect()
        .await;
    let sss_results: Vec<(String, Result<()>)> = futures::stream::iter(sets.iter())
        .map(|s| {
            let api = sss_api.clone();
            async move {
                let name = s.metadata.name.clone().unwrap_or_default();
                let dp = DeleteParams::default();
                let r = match hub
                    .call("delete", &format!("SelectorSyncSet {name}"), || {
                        api.delete(&name, &dp)
                    })
                    .await
                {
                    Err(e) if !e.is_not_found() => Err(e),
                    _ => Ok(()),
                };
                (name, r)
            }
        })
        .buffer_unordered(conc)
        .inspect(|(k, r)| emit_result(progress, &format!("selectorsyncset/{k}"), r))
        .collect()
        .await;
    for (k, r) in cd_results.into_iter().chain(ns_results).chain(sss_results) {
        match r {
            Ok(()) => {}
            Err(Error::Refused(why)) => summary.refused.push(Refusal {
                object: k,
                reason: why,
            }),
            Err(e) => summary.failures.push((k, e.to_string())),
        }
    }
    summary.refused.sort();
    summary.failures.sort();
    summary.left_behind = wait_gone(hub, &summary, opts.timeout).await?;
    summary.timed_out = !summary.left_behind.is_empty();
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn emit_result(progress: &ProgressSink, item: &str, r: &Result<()>) {
    let (outcome, reason) = match r {
        Ok(()) => (Outcome::Deleted, None),
        Err(Error::Refused(why)) => (Outcome::Skipped, Some(why.clone())),
        Err(e) => (Outcome::Failed, Some(e.to_string())),
    };
    apply::emit(
        progress,
        Event {
            item: item.to_string(),
            outcome,
            reason,
        },
    );
}

/// Deletes a namespace only if every ClusterDeployment still in it passes the interlock.
async fn delete_namespace_guarded(hub: &Hub, client: kube::Client, ns: &str) -> Result<()> {
    let inside: Api<ClusterDeployment> = Api::namespaced(client.clone(), ns);
    let cds = hub.list_all(&inside, "").await?;
    if let Some(bad) = cds.iter().find(|c| interlock(c).is_err()) {
        let why = interlock(bad).err().unwrap_or_default();
        return Err(Error::Refused(format!(
            "namespace {ns} holds ClusterDeployment {}: {why}",
            key(bad)
        )));
    }
    let api: Api<Namespace> = Api::all(client);
    let dp = DeleteParams::default();
    match hub
        .call("delete", &format!("Namespace {ns}"), || api.delete(ns, &dp))
        .await
    {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// Polls until the deleted objects are gone; returns what is still there at the timeout.
async fn wait_gone(hub: &Hub, summary: &TeardownSummary, timeout: Duration) -> Result<Vec<String>> {
    let deadline = Instant::now() + timeout;
    let client = hub.client();
    let cd_api: Api<ClusterDeployment> = Api::all(client.clone());
    let ns_api: Api<Namespace> = Api::all(client);
    let want_cds: BTreeSet<&String> = summary.cluster_deployments.iter().collect();
    let want_ns: BTreeSet<&String> = summary.namespaces.iter().collect();
    loop {
        let mut left = Vec::new();
        if !want_cds.is_empty() {
            left.extend(
                hub.list_all(&cd_api, "")
                    .await?
                    .iter()
                    .map(key)
                    .filter(|k| want_cds.contains(k))
                    .map(|k| format!("clusterdeployment/{k}")),
            );
        }
        if !want_ns.is_empty() {
            left.extend(
                hub.list_all(&ns_api, "")
                    .await?
                    .iter()
                    .filter_map(|n| n.metadata.name.clone())
                    .filter(|n| want_ns.contains(n))
                    .map(|n| format!("namespace/{n}")),
            );
        }
        if left.is_empty() || Instant::now() >= deadline {
            if !left.is_empty() {
                tracing::warn!(
                    left = left.len(),
                    "teardown timed out waiting for deletions"
                );
            }
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
