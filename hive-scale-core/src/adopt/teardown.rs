//! Deleting adopted clones, guarded by the deprovision interlock and by ownership.
//!
//! Deleting a ClusterDeployment makes Hive deprovision the cluster it describes unless
//! `spec.preserveOnDelete` is true, and every clone points at the same real cluster. So no
//! path of this toolkit deletes a ClusterDeployment without [`interlock`], and only objects the
//! toolkit created (of the run asked about) are ever deleted.
//!
//! The order keeps the namespace controller from sweeping anything away: ClusterDeployments
//! first, each with the uid and resourceVersion that were checked; then, once they are gone
//! (watched, not polled), each namespace of ours that holds no ClusterDeployment at all, with its
//! uid as precondition; our Secrets in namespaces that are not ours (which are never deleted);
//! last, the run's SelectorSyncSets.

use crate::api::{ClusterDeployment, SelectorSyncSet};
use crate::apply::{self, Event, Outcome, ProgressSink};
use crate::guarded::{self, Deleted};
use crate::hub::Hub;
use crate::labels;
use crate::ownership::{Ownership, Refusal, RefusalReason, is_toolkits, ownership};
use crate::{Error, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Resource;
use kube::api::{Api, PropagationPolicy};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

pub use crate::ownership::interlock;

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
    /// Everything the toolkit created (of the run, when one is given).
    All,
    /// ClusterDeployments matching a label selector (anything it matches that is not ours is
    /// refused).
    Selector(String),
}

/// How to tear down.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TeardownOptions {
    /// What to remove.
    pub selection: Selection,
    /// Only objects of this run (the run label); `None`: the toolkit's objects of every run.
    pub run: Option<String>,
    /// Deletions in flight at once.
    pub concurrency: usize,
    /// How long each step may wait for its deletions to finish (ClusterDeployments, then
    /// namespaces, Secrets and SelectorSyncSets), counted from when the step has sent them.
    pub timeout: Duration,
    /// List what would be deleted; delete nothing.
    pub dry_run: bool,
    /// Also remove the SelectorSyncSets the toolkit created.
    pub selectorsyncsets: bool,
}

impl TeardownOptions {
    /// Defaults: every run, 16 at a time, 5 minutes, no dry run, SelectorSyncSets kept.
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

/// What a teardown did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct TeardownSummary {
    /// ClusterDeployments deleted (or to delete), `namespace/name`.
    pub cluster_deployments: Vec<String>,
    /// Namespaces deleted (or to delete).
    pub namespaces: Vec<String>,
    /// Secrets of ours deleted from namespaces that are not ours, `namespace/name`.
    pub secrets: Vec<String>,
    /// SelectorSyncSets deleted (or to delete).
    pub selectorsyncsets: Vec<String>,
    /// Namespaces that are not the toolkit's but held its objects: kept.
    pub kept_namespaces: Vec<String>,
    /// What was left alone, and why.
    pub refused: Vec<Refusal>,
    /// Deletions that failed.
    pub failures: Vec<(String, String)>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether waiting for deletions timed out.
    pub timed_out: bool,
    /// What was still there when waiting gave up (`Kind namespace/name`).
    pub left_behind: Vec<String>,
    /// Wall time, seconds.
    pub elapsed_seconds: f64,
}

impl TeardownSummary {
    /// `deleted 3 clusterdeployments, 3 namespaces, 1 selectorsyncsets; refused 0, failed 0,
    /// left behind 0`.
    pub fn counts(&self) -> String {
        format!(
            "deleted {} clusterdeployments, {} namespaces, {} selectorsyncsets; refused {}, failed {}, left behind {}",
            self.cluster_deployments.len(),
            self.namespaces.len(),
            self.selectorsyncsets.len(),
            self.refused.len(),
            self.failures.len(),
            self.left_behind.len()
        )
    }

    /// One line per object that was refused, failed, or left behind.
    pub fn problems(&self) -> Vec<String> {
        let refused = self.refused.iter().map(|r| format!("refused {r}"));
        let failed = (self.failures.iter()).map(|(what, why)| format!("failed {what}: {why}"));
        let left = (self.left_behind.iter()).map(|what| format!("left behind {what}"));
        refused.chain(failed).chain(left).collect()
    }
}

fn keys<K: Resource>(objects: &[K]) -> Vec<String> {
    objects.iter().map(|o| key(o.meta())).collect()
}

fn key(meta: &kube::api::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

/// The label selector of the toolkit's objects (of `run`, when given).
fn toolkit_selector(run: Option<&str>) -> String {
    let mut s = format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE);
    if let Some(r) = run {
        s.push_str(&format!(",{}={r}", labels::RUN));
    }
    s
}

/// Whether an object may be deleted by a teardown of `run` (every run's when `None`).
fn owned(
    meta: &kube::api::ObjectMeta,
    run: Option<&str>,
) -> std::result::Result<(), RefusalReason> {
    match run {
        None if is_toolkits(meta) => Ok(()),
        None => Err(RefusalReason::NotOurs),
        Some(run) => match ownership(meta, run) {
            Ownership::Ours => Ok(()),
            Ownership::OtherRun(r) => Err(RefusalReason::OtherRun(r)),
            Ownership::Foreign => Err(RefusalReason::NotOurs),
        },
    }
}

/// Deletes one ClusterDeployment if, and only if, the interlock allows it (re-checked after
/// every conflict). The delete carries the uid and resourceVersion that were checked, so a
/// concurrent edit (someone clearing preserveOnDelete) is read and checked again instead of
/// deleting an object that was never checked.
///
/// # Errors
///
/// [`Error::Refused`] when the interlock refuses; the hub's error when the delete fails.
pub async fn delete_cluster_deployment(
    hub: &Hub,
    cd: &ClusterDeployment,
    run: Option<&str>,
) -> Result<Deleted> {
    let ns = cd.metadata.namespace.clone().unwrap_or_default();
    let api: Api<ClusterDeployment> = Api::namespaced(hub.client(), &ns);
    guarded::delete(hub, &api, cd, PropagationPolicy::Background, |c| {
        interlock(c, run)
    })
    .await
}

/// What one teardown is about to delete.
#[derive(Debug, Default)]
struct Plan {
    cds: Vec<ClusterDeployment>,
    namespaces: Vec<Namespace>,
    secrets: Vec<Secret>,
    sets: Vec<SelectorSyncSet>,
    kept_namespaces: BTreeSet<String>,
    refused: Vec<Refusal>,
}

/// Lists what the selection covers: the toolkit's objects (by label, never every object of a
/// kind), and for a label selector whatever it matches, so what is not ours can be refused.
async fn plan(hub: &Hub, opts: &TeardownOptions) -> Result<Plan> {
    let client = hub.client();
    let run = opts.run.as_deref();
    let ours = toolkit_selector(run);
    let cd_api: Api<ClusterDeployment> = Api::all(client.clone());
    let ns_api: Api<Namespace> = Api::all(client.clone());
    let secret_api: Api<Secret> = Api::all(client.clone());
    let cd_selector = match &opts.selection {
        Selection::Selector(sel) => sel,
        _ => &ours,
    };
    let mut p = Plan::default();
    let (cds, namespaces, secrets) = futures::try_join!(
        hub.list_all(&cd_api, cd_selector),
        hub.list_all(&ns_api, &ours),
        hub.list_all(&secret_api, &ours),
    )?;
    let in_range = |ns: &str, name: &str| match &opts.selection {
        Selection::Range {
            start,
            end,
            namespace_prefix,
            name_prefix,
        } => (*start..=*end).any(|i| {
            ns == format!("{namespace_prefix}{i}")
                && (name.is_empty()
                    || name == format!("{name_prefix}{i}")
                    || name.starts_with(&format!("{name_prefix}{i}-")))
        }),
        _ => true,
    };
    for cd in cds {
        let (ns, name) = (
            cd.metadata.namespace.clone().unwrap_or_default(),
            cd.metadata.name.clone().unwrap_or_default(),
        );
        if !in_range(&ns, &name) {
            continue;
        }
        match interlock(&cd, run) {
            Ok(()) => p.cds.push(cd),
            Err(reason) => p
                .refused
                .push(Refusal::new("ClusterDeployment", &cd.metadata, reason)),
        }
    }
    let cd_namespaces: BTreeSet<String> = p
        .cds
        .iter()
        .filter_map(|c| c.metadata.namespace.clone())
        .collect();
    let our_namespaces: BTreeSet<String> = namespaces
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    p.namespaces = namespaces
        .into_iter()
        .filter(|n| {
            let name = n.metadata.name.as_deref().unwrap_or_default();
            match &opts.selection {
                Selection::Selector(_) => cd_namespaces.contains(name),
                _ => in_range(name, ""),
            }
        })
        .collect();
    // Our Secrets in namespaces that are not ours: deleted one by one, the namespace kept.
    for s in secrets {
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        let name = s.metadata.name.clone().unwrap_or_default();
        let selected = match &opts.selection {
            Selection::Selector(_) => cd_namespaces.contains(&ns),
            _ => in_range(&ns, &name),
        };
        if selected && !our_namespaces.contains(&ns) {
            p.kept_namespaces.insert(ns);
            p.secrets.push(s);
        }
    }
    for cd in &p.cds {
        if let Some(ns) = &cd.metadata.namespace
            && !our_namespaces.contains(ns)
        {
            p.kept_namespaces.insert(ns.clone());
        }
    }
    if opts.selectorsyncsets {
        p.sets = hub
            .list_all(&Api::<SelectorSyncSet>::all(client), &ours)
            .await?;
    }
    Ok(p)
}

/// Deletes `objects` (at most `concurrency` at a time) through [`guarded::delete`], each
/// checked with `check`; records what happened in `summary` and returns the uids accepted.
async fn delete_all<K>(
    hub: &Hub,
    api: impl Fn(&K) -> Api<K> + Sync,
    objects: &[K],
    concurrency: usize,
    progress: &ProgressSink,
    summary: &mut TeardownSummary,
    check: impl Fn(&K) -> std::result::Result<(), RefusalReason> + Sync,
) -> BTreeSet<String>
where
    K: guarded::Object,
{
    let kind = K::kind(&()).into_owned();
    let (check, api) = (&check, &api);
    let results: Vec<(&K, Result<Deleted>)> = futures::stream::iter(objects)
        .map(|o| async move {
            let api = api(o);
            (
                o,
                guarded::delete(hub, &api, o, PropagationPolicy::Background, check).await,
            )
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut accepted = BTreeSet::new();
    for (o, r) in results {
        let item = format!("{}/{}", kind.to_lowercase(), key(o.meta()));
        let (outcome, reason) = match r {
            Ok(_) => {
                accepted.insert(o.meta().uid.clone().unwrap_or_default());
                (Outcome::Deleted, None)
            }
            Err(Error::Refused(r)) => {
                let why = r.reason.to_string();
                summary.refused.push(r);
                (Outcome::Skipped, Some(why))
            }
            Err(e) => {
                let why = crate::error::chain(&e);
                summary.failures.push((item.clone(), why.clone()));
                (Outcome::Failed, Some(why))
            }
        };
        apply::emit(
            progress,
            Event {
                item,
                outcome,
                reason,
            },
        );
    }
    accepted
}

/// Waits until the objects of `uids` (selected by `selector`) are gone; lists what is left.
async fn wait_gone<K>(
    hub: &Hub,
    objects: &[K],
    uids: BTreeSet<String>,
    selector: &str,
    timeout: Duration,
    left_behind: &mut Vec<String>,
) -> Result<BTreeSet<String>>
where
    K: guarded::Object,
{
    let left =
        guarded::wait_all_gone(&Api::<K>::all(hub.watch_client()), selector, uids, timeout).await?;
    let kind = K::kind(&());
    left_behind.extend(
        objects
            .iter()
            .filter(|o| o.meta().uid.as_ref().is_some_and(|u| left.contains(u)))
            .map(|o| crate::ownership::describe(&kind, o.meta())),
    );
    Ok(left)
}

/// Removes the selected clones and waits until they are gone; reports what was refused, what
/// failed and what was left behind.
///
/// # Errors
///
/// A bad selection, or when the hub cannot be listed at all; failures of single deletions are
/// in the summary.
///
/// # Examples
///
/// ```no_run
/// # async fn example() -> hive_scale_core::Result<()> {
/// use hive_scale_core::adopt::{self, Selection, TeardownOptions};
/// use hive_scale_core::hub::{Hub, HubOptions};
///
/// let hub = Hub::connect(&HubOptions::default()).await?;
/// // Everything one run created, SelectorSyncSets included; never a ClusterDeployment
/// // without preserveOnDelete, never anything not the toolkit's.
/// let mut opts = TeardownOptions::new(Selection::All);
/// opts.run = Some("hs-20261130t040617-6177".into());
/// opts.selectorsyncsets = true;
/// let summary = adopt::teardown(&hub, &opts, &None).await?;
/// for line in summary.problems() {
///     eprintln!("{line}");
/// }
/// # Ok(())
/// # }
/// ```
pub async fn teardown(
    hub: &Hub,
    opts: &TeardownOptions,
    progress: &ProgressSink,
) -> Result<TeardownSummary> {
    let started = Instant::now();
    if let Selection::Range { start, end, .. } = &opts.selection
        && (start > end || *start == 0)
    {
        return Err(Error::Invalid(format!(
            "clone indices start at 1 and START <= END; got {start}..={end}"
        )));
    }
    let run = opts.run.as_deref();
    let plan = plan(hub, opts).await?;
    let mut summary = TeardownSummary {
        dry_run: opts.dry_run,
        cluster_deployments: keys(&plan.cds),
        namespaces: plan
            .namespaces
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect(),
        secrets: keys(&plan.secrets),
        selectorsyncsets: plan
            .sets
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect(),
        kept_namespaces: plan.kept_namespaces.iter().cloned().collect(),
        refused: plan.refused.clone(),
        ..Default::default()
    };
    if opts.dry_run {
        summary.refused.sort();
        summary.elapsed_seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let conc = opts.concurrency;
    let ours = toolkit_selector(run);

    // 1. ClusterDeployments, and wait until they are gone.
    tracing::info!(count = plan.cds.len(), "deleting ClusterDeployments");
    let namespaced = |o: &kube::api::ObjectMeta| o.namespace.clone().unwrap_or_default();
    let cds = delete_all(
        hub,
        |c: &ClusterDeployment| Api::namespaced(hub.client(), &namespaced(&c.metadata)),
        &plan.cds,
        conc,
        progress,
        &mut summary,
        |c| interlock(c, run),
    )
    .await;
    wait_gone(
        hub,
        &plan.cds,
        cds,
        &ours,
        opts.timeout,
        &mut summary.left_behind,
    )
    .await?;

    tracing::info!("ClusterDeployments gone; checking namespaces");
    // 2. Namespaces of ours that hold no ClusterDeployment at all (ours still there included),
    //    each checked right before it is deleted.
    let checked: Vec<(&Namespace, Result<Vec<ClusterDeployment>>)> =
        futures::stream::iter(&plan.namespaces)
            .map(|n| async move {
                let name = n.metadata.name.clone().unwrap_or_default();
                let inside = Api::<ClusterDeployment>::namespaced(hub.client(), &name);
                (n, hub.list_all(&inside, "").await)
            })
            .buffer_unordered(conc.max(1))
            .collect()
            .await;
    let mut namespaces = Vec::new();
    for (n, inside) in checked {
        match inside {
            Ok(inside) if inside.is_empty() => namespaces.push(n.clone()),
            Ok(inside) => {
                let held: Vec<String> = inside.iter().map(|c| key(&c.metadata)).collect();
                summary.refused.push(Refusal::new(
                    "Namespace",
                    &n.metadata,
                    RefusalReason::HoldsClusterDeployments(held.join(", ")),
                ));
            }
            Err(e) => summary.failures.push((
                format!(
                    "namespace/{}",
                    n.metadata.name.as_deref().unwrap_or_default()
                ),
                format!("cannot check what it holds: {}", crate::error::chain(&e)),
            )),
        }
    }
    summary.namespaces.retain(|n| {
        namespaces
            .iter()
            .any(|x| x.metadata.name.as_deref() == Some(n))
    });
    let ns_uids = delete_all(
        hub,
        |_: &Namespace| Api::all(hub.client()),
        &namespaces,
        conc,
        progress,
        &mut summary,
        |n| owned(&n.metadata, run),
    )
    .await;
    tracing::info!("namespaces deleted");
    // 3. Our Secrets in namespaces that are not ours, and the run's SelectorSyncSets.
    let secret_uids = delete_all(
        hub,
        |s: &Secret| Api::namespaced(hub.client(), &namespaced(&s.metadata)),
        &plan.secrets,
        conc,
        progress,
        &mut summary,
        |s| owned(&s.metadata, run),
    )
    .await;
    let set_uids = delete_all(
        hub,
        |_: &SelectorSyncSet| Api::all(hub.client()),
        &plan.sets,
        conc,
        progress,
        &mut summary,
        |s| owned(&s.metadata, run),
    )
    .await;
    tracing::info!("waiting for namespaces, Secrets and SelectorSyncSets to go");
    wait_gone(
        hub,
        &namespaces,
        ns_uids,
        &ours,
        opts.timeout,
        &mut summary.left_behind,
    )
    .await?;
    wait_gone(
        hub,
        &plan.secrets,
        secret_uids,
        &ours,
        opts.timeout,
        &mut summary.left_behind,
    )
    .await?;
    wait_gone(
        hub,
        &plan.sets,
        set_uids,
        &ours,
        opts.timeout,
        &mut summary.left_behind,
    )
    .await?;
    summary.refused.sort();
    summary.failures.sort();
    summary.left_behind.sort();
    summary.timed_out = !summary.left_behind.is_empty();
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
