//! Deleting adopted clones, guarded by the deprovision interlock and by ownership.
//!
//! Deleting a ClusterDeployment makes Hive deprovision the cluster it describes unless
//! `spec.preserveOnDelete` is true, and every clone points at the same real cluster. So no
//! path of this toolkit deletes a ClusterDeployment without [`interlock`], and only objects the
//! toolkit created (of the run asked about) are ever deleted.
//!
//! The order keeps the namespace controller from sweeping anything away: ClusterDeployments
//! first, each with the uid and resourceVersion that were checked; then, once they are gone
//! (watched, not polled), each namespace of ours, checked for ClusterDeployments (anybody's)
//! immediately before its delete, which carries its uid as precondition; our Secrets in
//! namespaces that are not ours (which are never deleted); last, the run's SelectorSyncSets.
//! What is refused is listed with the Secrets of ours it leaves on the hub. A teardown can be
//! told to stop ([`TeardownOptions::stop`]): it then sends nothing more and lists what it did
//! not see go.

use crate::api::{ClusterDeployment, SelectorSyncSet};
use crate::apply::{self, Event, Outcome, ProgressSink};
use crate::guarded::{self, Deleted};
use crate::hub::Hub;
use crate::labels;
use crate::ownership::{Ownership, Refusal, RefusalReason, is_toolkits, ownership};
use crate::{Error, Result};
use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Resource;
use kube::api::{Api, ListParams, ObjectMeta, PropagationPolicy};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::range::CloneRange;
pub use crate::ownership::interlock;

/// Which clones to remove.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Clones `range` named with these prefixes.
    Range {
        /// Which clones.
        range: CloneRange,
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

impl Selection {
    /// Whether the object `name` in namespace `ns` (or the namespace `ns` itself, when `name`
    /// is empty) is one of the selected clones': clone `i` is namespace `<ns prefix><i>` holding
    /// `<name prefix><i>` and objects named `<name prefix><i>-...`. Read off the names, so the
    /// cost does not grow with the range. Everything is covered by the other selections.
    pub fn covers(&self, ns: &str, name: &str) -> bool {
        let Selection::Range {
            range,
            namespace_prefix,
            name_prefix,
        } = self
        else {
            return true;
        };
        let Some(i) = index(ns, namespace_prefix) else {
            return false;
        };
        let same_clone = name.is_empty()
            || name.strip_prefix(name_prefix.as_str()).is_some_and(|rest| {
                let digits = rest.split_once('-').map_or(rest, |(d, _)| d);
                index(digits, "") == Some(i)
            });
        range.contains(i) && same_clone
    }
}

/// The index `i` of a name written `<prefix><i>` (digits as `{i}` prints them: no sign, no
/// leading zero).
fn index(name: &str, prefix: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?;
    let i: u32 = digits.parse().ok()?;
    (i.to_string() == digits).then_some(i)
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
    /// Cancelled when the teardown must stop (a run's grace after a signal has run out): it
    /// sends nothing more and lists everything it did not see go as left behind.
    pub stop: Option<tokio_util::sync::CancellationToken>,
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
            stop: None,
        }
    }
}

/// What a teardown did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
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
    /// Secrets of ours left on the hub, `namespace/name`: in namespaces kept because they still
    /// hold ClusterDeployments, or in namespaces not ours where the credentials may not read
    /// Secrets (with why, when it is not the namespace's).
    pub secrets_left: Vec<String>,
    /// Deletions that failed.
    pub failures: Vec<(String, String)>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether waiting for deletions timed out.
    pub timed_out: bool,
    /// Whether the teardown was told to stop before it finished.
    pub stopped: bool,
    /// What was still there when waiting gave up or the teardown stopped (`Kind
    /// namespace/name`; after a stop, everything not seen to go).
    pub left_behind: Vec<String>,
    /// Wall time, seconds.
    pub elapsed_seconds: f64,
}

impl TeardownSummary {
    /// `deleted 3 clusterdeployments, 3 namespaces, 1 selectorsyncsets; refused 0, failed 0,
    /// left behind 0`.
    pub fn counts(&self) -> String {
        format!(
            "deleted {} clusterdeployments, {} namespaces, {} selectorsyncsets; refused {}, failed {}, left behind {}{}",
            self.cluster_deployments.len(),
            self.namespaces.len(),
            self.selectorsyncsets.len(),
            self.refused.len(),
            self.failures.len(),
            self.left_behind.len() + self.secrets_left.len(),
            if self.stopped { " (stopped)" } else { "" }
        )
    }

    /// One line per object that was refused, failed, or left behind.
    pub fn problems(&self) -> Vec<String> {
        let refused = self.refused.iter().map(|r| format!("refused {r}"));
        let failed = (self.failures.iter()).map(|(what, why)| format!("failed {what}: {why}"));
        let left = (self.left_behind.iter()).map(|what| format!("left behind {what}"));
        let secrets = (self.secrets_left.iter()).map(|what| format!("left Secret {what}"));
        refused.chain(failed).chain(left).chain(secrets).collect()
    }
}

fn keys<K: Resource>(objects: &[K]) -> Vec<String> {
    objects.iter().map(|o| key(o.meta())).collect()
}

fn key(meta: &ObjectMeta) -> String {
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
fn owned(meta: &ObjectMeta, run: Option<&str>) -> std::result::Result<(), RefusalReason> {
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
    /// Secrets of ours the credentials may not read (nor so delete), with why.
    unreadable_secrets: Vec<String>,
}

/// Whether an error is the hub's refusal of the credentials (HTTP 403).
fn forbidden(e: &Error) -> bool {
    e.code() == Some(403)
}

/// The toolkit's Secrets (of the selector) across namespaces, metadata only: their values are
/// never needed to delete them. `None` when the credentials may not list Secrets cluster-wide (a
/// least-privilege Job may only create them, and read them in namespaces it created).
async fn our_secrets(hub: &Hub, selector: &str) -> Result<Option<Vec<Secret>>> {
    let api: Api<Secret> = Api::all(hub.client());
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().labels(selector).limit(500);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = match hub
            .call("list", "secrets (metadata)", || api.list_metadata(&lp))
            .await
        {
            Ok(page) => page,
            Err(e) if forbidden(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        out.extend(page.items.into_iter().map(|m| Secret {
            metadata: m.metadata,
            ..Default::default()
        }));
        token = page.metadata.continue_.filter(|c| !c.is_empty());
        if token.is_none() {
            return Ok(Some(out));
        }
    }
}

/// The Secrets a clone's ClusterDeployment names (its admin kubeconfig, its cloud credentials).
fn secrets_named_by(cd: &ClusterDeployment) -> Vec<String> {
    let md = cd.spec.cluster_metadata.as_ref();
    let aws = cd.spec.platform.aws.as_ref();
    md.map(|m| m.admin_kubeconfig_secret_ref.name.clone())
        .into_iter()
        .chain(aws.and_then(|a| a.credentials_secret_ref.as_ref().map(|r| r.name.clone())))
        .filter(|n| !n.is_empty())
        .collect()
}

/// Lists what the selection covers: the toolkit's objects (by label, never every object of a
/// kind), and for a label selector whatever it matches, so what is not ours can be refused.
async fn plan(hub: &Hub, opts: &TeardownOptions) -> Result<Plan> {
    let client = hub.client();
    let run = opts.run.as_deref();
    let ours = toolkit_selector(run);
    let cd_api: Api<ClusterDeployment> = Api::all(client.clone());
    let ns_api: Api<Namespace> = Api::all(client.clone());
    let cd_selector = match &opts.selection {
        Selection::Selector(sel) => sel,
        _ => &ours,
    };
    let mut p = Plan::default();
    let (cds, namespaces, secrets) = futures::try_join!(
        hub.list_all(&cd_api, cd_selector),
        hub.list_all(&ns_api, &ours),
        our_secrets(hub, &ours),
    )?;
    let in_range = |ns: &str, name: &str| opts.selection.covers(ns, name);
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
    for cd in &p.cds {
        if let Some(ns) = &cd.metadata.namespace
            && !our_namespaces.contains(ns)
        {
            p.kept_namespaces.insert(ns.clone());
        }
    }
    // Our Secrets in namespaces that are not ours: deleted one by one, the namespace kept.
    match secrets {
        Some(secrets) => {
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
        }
        // Without a cluster-wide list, what the borrowed namespaces' ClusterDeployments name.
        None => {
            let beside: Vec<(String, String)> = p
                .cds
                .iter()
                .filter(|c| !our_namespaces.contains(c.metadata.namespace.as_deref().unwrap_or("")))
                .flat_map(|c| {
                    let ns = c.metadata.namespace.clone().unwrap_or_default();
                    secrets_named_by(c)
                        .into_iter()
                        .map(move |n| (ns.clone(), n))
                })
                .collect();
            for (ns, name) in beside {
                let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
                match hub.get_opt(&api, &name).await {
                    Ok(Some(s)) => p.secrets.push(Secret {
                        metadata: s.metadata,
                        ..Default::default()
                    }),
                    Ok(None) => {}
                    Err(e) if forbidden(&e) => p.unreadable_secrets.push(format!(
                        "{ns}/{name} (the credentials may not read Secrets in namespace {ns}, which hive-scale did not create)"
                    )),
                    Err(e) => return Err(e),
                }
            }
        }
    }
    if opts.selectorsyncsets {
        p.sets = hub
            .list_all(&Api::<SelectorSyncSet>::all(client), &ours)
            .await?;
    }
    Ok(p)
}

/// Deletes `objects` (at most `concurrency` at a time), each through `delete_one`; records
/// what happened in `summary` and returns the uids whose deletion was accepted.
async fn delete_all<'a, K>(
    objects: &'a [K],
    concurrency: usize,
    progress: &ProgressSink,
    summary: &mut TeardownSummary,
    delete_one: impl Fn(&'a K) -> BoxFuture<'a, Result<Deleted>>,
) -> BTreeSet<String>
where
    K: guarded::Object,
{
    let kind = K::kind(&()).into_owned();
    let delete_one = &delete_one;
    let results: Vec<(&K, Result<Deleted>)> = futures::stream::iter(objects)
        .map(|o| async move { (o, delete_one(o).await) })
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

/// Deletes `obj` through [`guarded::delete`] with `check`, in the background.
fn guarded_delete<'a, K: guarded::Object>(
    hub: &'a Hub,
    api: Api<K>,
    obj: &'a K,
    check: impl Fn(&K) -> std::result::Result<(), RefusalReason> + Send + 'a,
) -> BoxFuture<'a, Result<Deleted>> {
    Box::pin(
        async move { guarded::delete(hub, &api, obj, PropagationPolicy::Background, check).await },
    )
}

/// Deletes namespace `n` if, checked immediately before, it holds no ClusterDeployment at all
/// (ours still there included): the namespace controller would delete them with it, and
/// Hive would deprovision a cluster whose ClusterDeployment lacks preserveOnDelete. The window
/// between the check and the delete is one request.
async fn delete_namespace_if_empty(hub: &Hub, n: &Namespace, run: Option<&str>) -> Result<Deleted> {
    let name = n.metadata.name.clone().unwrap_or_default();
    let inside = Api::<ClusterDeployment>::namespaced(hub.client(), &name);
    let every = ListParams::default();
    let held = hub
        .call("list", &format!("clusterdeployments in {name}"), || {
            inside.list_metadata(&every)
        })
        .await
        .map_err(|e| {
            Error::Invalid(format!(
                "namespace {name}: cannot check what it holds: {}",
                crate::error::chain(&e)
            ))
        })?;
    if !held.items.is_empty() {
        let held: Vec<String> = held.items.iter().map(|c| key(&c.metadata)).collect();
        return Err(Error::Refused(Refusal::new(
            "Namespace",
            &n.metadata,
            RefusalReason::HoldsClusterDeployments(held.join(", ")),
        )));
    }
    let api: Api<Namespace> = Api::all(hub.client());
    guarded::delete(hub, &api, n, PropagationPolicy::Background, |n| {
        owned(&n.metadata, run)
    })
    .await
}

/// Our Secrets (of the teardown's run) in namespace `ns`, which teardown keeps: `ns/name`, or one
/// line saying they could not be listed.
async fn secrets_in(hub: &Hub, ns: &str, selector: &str) -> Vec<String> {
    let api: Api<Secret> = Api::namespaced(hub.client(), ns);
    let lp = ListParams::default().labels(selector);
    match hub
        .call("list", &format!("secrets in {ns}"), || {
            api.list_metadata(&lp)
        })
        .await
    {
        Ok(list) => list.items.iter().map(|s| key(&s.metadata)).collect(),
        Err(e) => vec![format!(
            "{ns}/* (cannot list them: {})",
            crate::error::chain(&e)
        )],
    }
}

/// Waits until the objects of `uids` (selected by `selector`) are gone; lists what is left and
/// adds what went to `gone`.
async fn wait_gone<K>(
    hub: &Hub,
    objects: &[K],
    uids: BTreeSet<String>,
    selector: &str,
    timeout: Duration,
    summary: &mut TeardownSummary,
    gone: &mut BTreeSet<String>,
) -> Result<()>
where
    K: guarded::Object,
{
    let left = guarded::wait_all_gone(
        &Api::<K>::all(hub.watch_client()),
        selector,
        uids.clone(),
        timeout,
    )
    .await?;
    gone.extend(uids.difference(&left).cloned());
    let kind = K::kind(&());
    summary.left_behind.extend(
        objects
            .iter()
            .filter(|o| o.meta().uid.as_ref().is_some_and(|u| left.contains(u)))
            .map(|o| crate::ownership::describe(&kind, o.meta())),
    );
    Ok(())
}

/// The deletions, step by step, recording into `summary` and `gone` as they go (so a teardown
/// told to stop half-way still says what it did).
async fn steps(
    hub: &Hub,
    opts: &TeardownOptions,
    plan: &Plan,
    progress: &ProgressSink,
    summary: &mut TeardownSummary,
    gone: &mut BTreeSet<String>,
) -> Result<()> {
    let run = opts.run.as_deref();
    let conc = opts.concurrency;
    let ours = toolkit_selector(run);
    let namespaced = |o: &ObjectMeta| o.namespace.clone().unwrap_or_default();

    // 1. ClusterDeployments, and wait until they are gone.
    tracing::info!(count = plan.cds.len(), "deleting ClusterDeployments");
    let cds = delete_all(&plan.cds, conc, progress, summary, |c| {
        let api = Api::namespaced(hub.client(), &namespaced(&c.metadata));
        guarded_delete(hub, api, c, move |c| interlock(c, run))
    })
    .await;
    wait_gone(hub, &plan.cds, cds, &ours, opts.timeout, summary, gone).await?;

    // 2. Namespaces of ours, each checked for ClusterDeployments right before its delete.
    tracing::info!("ClusterDeployments gone; deleting the namespaces that hold none");
    let refused_before = summary.refused.len();
    let ns_uids = delete_all(&plan.namespaces, conc, progress, summary, |n| {
        Box::pin(delete_namespace_if_empty(hub, n, run))
    })
    .await;
    summary.namespaces = (plan.namespaces.iter())
        .filter(|n| n.metadata.uid.as_ref().is_some_and(|u| ns_uids.contains(u)))
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    // The Secrets of ours in the namespaces kept, listed with the refusals.
    let kept: Vec<String> = summary.refused[refused_before..]
        .iter()
        .filter(|r| matches!(r.reason, RefusalReason::HoldsClusterDeployments(_)))
        .filter_map(|r| r.object.strip_prefix("Namespace ").map(str::to_string))
        .collect();
    for ns in kept {
        let left = secrets_in(hub, &ns, &ours).await;
        summary.secrets_left.extend(left);
    }

    // 3. Our Secrets in namespaces that are not ours, and the run's SelectorSyncSets.
    let secret_uids = delete_all(&plan.secrets, conc, progress, summary, |s| {
        let api = Api::namespaced(hub.client(), &namespaced(&s.metadata));
        guarded_delete(hub, api, s, move |s| owned(&s.metadata, run))
    })
    .await;
    let set_uids = delete_all(&plan.sets, conc, progress, summary, |s| {
        guarded_delete(hub, Api::all(hub.client()), s, move |s| {
            owned(&s.metadata, run)
        })
    })
    .await;
    tracing::info!("waiting for namespaces, Secrets and SelectorSyncSets to go");
    let t = opts.timeout;
    wait_gone(hub, &plan.namespaces, ns_uids, &ours, t, summary, gone).await?;
    wait_gone(hub, &plan.secrets, secret_uids, &ours, t, summary, gone).await?;
    wait_gone(hub, &plan.sets, set_uids, &ours, t, summary, gone).await?;
    Ok(())
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
    let stop = opts.stop.clone().unwrap_or_default();
    let plan = tokio::select! {
        p = plan(hub, opts) => p?,
        () = stop.cancelled() => {
            return Ok(TeardownSummary {
                dry_run: opts.dry_run,
                stopped: true,
                left_behind: vec!["everything selected (the teardown stopped before it had listed it)".into()],
                elapsed_seconds: started.elapsed().as_secs_f64(),
                ..Default::default()
            });
        }
    };
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
        secrets_left: plan.unreadable_secrets.clone(),
        ..Default::default()
    };
    if opts.dry_run {
        summary.refused.sort();
        summary.elapsed_seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let mut gone = BTreeSet::new();
    let stopped = {
        let body = steps(hub, opts, &plan, progress, &mut summary, &mut gone);
        tokio::select! {
            r = body => { r?; false }
            () = stop.cancelled() => true,
        }
    };
    if stopped {
        summary.stopped = true;
        summary.left_behind = left_after_stop(&plan, &gone);
    }
    summary.refused.sort();
    summary.failures.sort();
    summary.left_behind.sort();
    summary.left_behind.dedup();
    summary.secrets_left.sort();
    summary.timed_out = !stopped && !summary.left_behind.is_empty();
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Everything the plan covered that was not seen to go.
fn left_after_stop(plan: &Plan, gone: &BTreeSet<String>) -> Vec<String> {
    fn left<K: Resource<DynamicType = ()>>(objects: &[K], gone: &BTreeSet<String>) -> Vec<String> {
        objects
            .iter()
            .filter(|o| !o.meta().uid.as_ref().is_some_and(|u| gone.contains(u)))
            .map(|o| crate::ownership::describe(&K::kind(&()), o.meta()))
            .collect()
    }
    let mut out = left(&plan.cds, gone);
    out.extend(left(&plan.namespaces, gone));
    out.extend(left(&plan.secrets, gone));
    out.extend(left(&plan.sets, gone));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u32, end: u32) -> Selection {
        Selection::Range {
            range: CloneRange::new(start, end).unwrap(),
            namespace_prefix: "ns".into(),
            name_prefix: "c".into(),
        }
    }

    #[test]
    fn a_range_is_read_off_the_names() {
        let r = range(5, 12);
        for (ns, name) in [
            ("ns5", ""),
            ("ns12", "c12"),
            ("ns7", "c7-adopted-admin-kubeconfig"),
            ("ns7", "c7-aws-creds"),
        ] {
            assert!(r.covers(ns, name), "{ns}/{name}");
        }
        for (ns, name) in [
            ("ns4", ""),
            ("ns13", ""),
            ("ns7", "c8"),
            ("ns7", "c70"),
            ("ns07", ""),
            ("ns+7", ""),
            ("nsx", ""),
            ("other7", ""),
            ("ns7", "cluster7"),
        ] {
            assert!(!r.covers(ns, name), "{ns}/{name}");
        }
        // Read off the name: the largest range is no harder than the smallest (a scan of it
        // would not end in a test's lifetime).
        let huge = range(1, u32::MAX);
        for i in 0..100_000u32 {
            assert_eq!(huge.covers(&format!("ns{i}"), ""), i > 0);
        }
        assert!(Selection::All.covers("anything", "at-all"));
    }
}
