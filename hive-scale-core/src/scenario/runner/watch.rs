//! Observing a real hub without loading it: watches, and Hive's own metrics.
//!
//! Listing every ClusterSync at each poll cost a hub about 68 kB per cluster per poll (60 sets).
//! ClusterDeployments and SelectorSyncSets (small, rarely written) are watched: kube's reflector
//! keeps a copy from one list and then only the changes. The sync objects are large and written
//! at every reconcile, so a watch of them would receive as much as Hive's own informer does.
//! When Hive's metrics are at hand, the pairs applied come from them
//! (`hive_selectorsyncset_clusters_total` less `..._unapplied_total`) and fan-out from Hive's
//! `hive_selectorsyncset_apply_duration_seconds` histogram, which costs the hub nothing; the
//! sync objects are listed only to see a change land on every cluster (`add-resource`), or for
//! each pair's fan-out when Hive does not export that histogram. Without metrics they are
//! watched too, and fan-out is exact per pair.

use super::marks::MarkLog;
use super::target::{Observer, PairCount};
use crate::api::{
    ClusterDeployment, ClusterSync, Lenient, Pipeline, SelectorSyncSet, SyncSetInstance,
};
use crate::hub::Hub;
use crate::metrics::{Source, names};
use crate::scenario::progress::{HiveObjects, Mark, SyncProgress, bucket_count};
use crate::{Error, Result};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Which sync objects a hub serves and holds, found before the run writes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// Only this pipeline's kind is served, or only its objects exist.
    Pipeline(Pipeline),
    /// Both kinds are served and neither has objects yet: the first objects written for the
    /// run's clusters will say.
    Undecided,
}

/// Finds out which Hive pipeline a hub runs: the kinds its API serves, then (when it serves
/// both) which kind has objects. Costs two discovery requests and at most two one-item lists.
///
/// # Errors
///
/// When the hub serves neither kind (Hive is not installed) or a request fails.
pub async fn detect_pipeline(hub: &Hub) -> Result<Detected> {
    let client = hub.client();
    let serves = |group: &'static str, plural: &'static str| {
        let client = client.clone();
        async move {
            match client.list_api_group_resources(group).await {
                Ok(list) => Ok(list.resources.iter().any(|r| r.name == plural)),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
                Err(source) => Err(Error::Transport {
                    verb: "discover".into(),
                    what: group.into(),
                    source,
                }),
            }
        }
    };
    let cluster_syncs = serves("hiveinternal.openshift.io/v1alpha1", "clustersyncs").await?;
    let instances = serves("hive.openshift.io/v1", "syncsetinstances").await?;
    match (cluster_syncs, instances) {
        (true, false) => Ok(Detected::Pipeline(Pipeline::ClusterSync)),
        (false, true) => Ok(Detected::Pipeline(Pipeline::SyncSetInstance)),
        (false, false) => Err(Error::Invalid(format!(
            "the hub at {} serves neither ClusterSyncs nor SyncSetInstances: is Hive installed?",
            hub.server()
        ))),
        (true, true) => {
            let one = ListParams::default().limit(1);
            let any_syncs = !Api::<ClusterSync>::all(client.clone())
                .list_metadata(&one)
                .await
                .map_err(|source| {
                    forbidden(
                        "clustersyncs.hiveinternal.openshift.io",
                        transport("list", "clustersyncs", source),
                    )
                })?
                .items
                .is_empty();
            let any_instances = !Api::<SyncSetInstance>::all(client)
                .list_metadata(&one)
                .await
                .map_err(|source| {
                    forbidden(
                        "syncsetinstances.hive.openshift.io",
                        transport("list", "syncsetinstances", source),
                    )
                })?
                .items
                .is_empty();
            Ok(match (any_syncs, any_instances) {
                (true, false) => Detected::Pipeline(Pipeline::ClusterSync),
                (false, true) => Detected::Pipeline(Pipeline::SyncSetInstance),
                _ => Detected::Undecided,
            })
        }
    }
}

/// Checks, with one-item metadata lists, that the credentials may list what the observer
/// watches, so a missing permission is one clear line before anything is written (a watch
/// that is refused would otherwise only time out): ClusterDeployments and SelectorSyncSets
/// when `detected` is `None`, else the sync objects of the detected pipeline.
///
/// # Errors
///
/// [`Error::Invalid`] naming the kind and the permissions a run needs, on a 403; the request's
/// own error otherwise.
pub async fn may_watch(hub: &Hub, detected: Option<Detected>) -> Result<()> {
    let one = ListParams::default().limit(1);
    let client = hub.client();
    let Some(detected) = detected else {
        let cds = Api::<ClusterDeployment>::all(client.clone());
        hub.call("list", "clusterdeployments", || cds.list_metadata(&one))
            .await
            .map_err(|e| forbidden("clusterdeployments.hive.openshift.io", e))?;
        let sets = Api::<SelectorSyncSet>::all(client);
        hub.call("list", "selectorsyncsets", || sets.list_metadata(&one))
            .await
            .map_err(|e| forbidden("selectorsyncsets.hive.openshift.io", e))?;
        return Ok(());
    };
    // Checked with or without Hive's metrics: with them the sync objects are read only later
    // (a phase's end, a changed set), and a refusal then would come after hours of running.
    let wants = |p: Pipeline| detected == Detected::Undecided || detected == Detected::Pipeline(p);
    if wants(Pipeline::ClusterSync) {
        let api = Api::<ClusterSync>::all(client.clone());
        hub.call("list", "clustersyncs", || api.list_metadata(&one))
            .await
            .map_err(|e| forbidden("clustersyncs.hiveinternal.openshift.io", e))?;
    }
    if wants(Pipeline::SyncSetInstance) {
        let api = Api::<SyncSetInstance>::all(client);
        hub.call("list", "syncsetinstances", || api.list_metadata(&one))
            .await
            .map_err(|e| forbidden("syncsetinstances.hive.openshift.io", e))?;
    }
    Ok(())
}

/// A refusal (HTTP 403) to list `what` as one line saying what a run needs; other errors as
/// they are.
fn forbidden(what: &str, e: Error) -> Error {
    let refused = match &e {
        Error::Api { code, .. } => *code == 403,
        Error::Transport {
            source: kube::Error::Api(s),
            ..
        } => s.code == 403,
        _ => false,
    };
    if refused {
        Error::Invalid(format!(
            "the hub's credentials may not list {what} (HTTP 403): a scale test needs get, list and watch on ClusterDeployments, SelectorSyncSets, and ClusterSyncs (or SyncSetInstances), and writes on the objects it creates"
        ))
    } else {
        e
    }
}

fn transport(verb: &str, what: &str, source: kube::Error) -> Error {
    Error::Transport {
        verb: verb.into(),
        what: what.into(),
        source,
    }
}

/// Keeps a watched copy of Hive's objects and answers the runner from it.
#[derive(Debug)]
pub struct WatchObserver {
    cluster_deployments: Watched<ClusterDeployment>,
    selector_sync_sets: Watched<SelectorSyncSet>,
    cluster_syncs: Option<Watched<ClusterSync>>,
    instances: Option<Watched<SyncSetInstance>>,
    /// Hive's metrics, when progress comes from them instead of watching the sync objects.
    metrics: Option<Source>,
    detected: Detected,
    /// The pipeline seen in the last list of sync objects (metrics mode).
    listed: parking_lot::Mutex<Option<Pipeline>>,
    /// The run whose pairs count (see [`Observer::scope`]).
    run: std::sync::OnceLock<String>,
    /// Hive's fan-out histogram for the run's sets when first read (metrics mode).
    baseline: parking_lot::Mutex<Option<Vec<(f64, f64)>>>,
    /// The histogram stopped accounting for the pairs applied: fan-out from the objects.
    exact: std::sync::atomic::AtomicBool,
    /// The sync objects' watches started for a change to a set (metrics mode).
    late_syncs: tokio::sync::OnceCell<SyncStores>,
    /// When each cluster was first seen to hold each set's generation, from the ClusterSyncs'
    /// watch events.
    marks: Arc<MarkLog>,
    late_tasks: parking_lot::Mutex<Vec<tokio::task::AbortHandle>>,
    /// Since when the metrics have not mentioned the run's sets, and whether that was said.
    silent_since: parking_lot::Mutex<Option<std::time::Instant>>,
    warned: std::sync::atomic::AtomicBool,
    tasks: Vec<tokio::task::AbortHandle>,
    poll: Duration,
    hub: Hub,
}

impl Drop for WatchObserver {
    fn drop(&mut self) {
        for t in self.tasks.iter().chain(self.late_tasks.lock().iter()) {
            t.abort();
        }
    }
}

/// A watched copy of every object of a kind, each decoded or not: another team's object that
/// our types cannot represent is skipped with a warning, never failing the watch's list.
type Watched<K> = Store<Lenient<K>>;

/// Watched ClusterSyncs and SyncSetInstances (each when its kind is watched).
type SyncStores = (
    Option<Watched<ClusterSync>>,
    Option<Watched<SyncSetInstance>>,
);

/// What a watch tells besides its copy: each event, as it arrives.
type Hook<K> = Box<dyn Fn(&watcher::Event<Lenient<K>>) + Send + Sync>;

/// Starts a reflector for `K` on every namespace; the task retries with backoff after errors.
fn watch<K>(client: kube::Client, tasks: &mut Vec<tokio::task::AbortHandle>) -> Watched<K>
where
    K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned + std::fmt::Debug,
    K: Send + Sync + 'static,
{
    watch_with(client, tasks, None)
}

/// [`watch`], handing every event to `hook` as it arrives.
fn watch_with<K>(
    client: kube::Client,
    tasks: &mut Vec<tokio::task::AbortHandle>,
    hook: Option<Hook<K>>,
) -> Watched<K>
where
    K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned + std::fmt::Debug,
    K: Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let kind = K::kind(&()).to_string();
    let api = Api::<Lenient<K>>::all(client);
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .for_each(move |event| {
            if let (Some(hook), Ok(e)) = (&hook, &event) {
                hook(e);
            }
            match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    o.ok_or_warn();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(kind = %kind, error = %e, "watch failed; retrying"),
            }
            futures::future::ready(())
        });
    tasks.push(tokio::spawn(stream).abort_handle());
    reader
}

/// The objects of `store` that decoded (the others were warned about when they arrived).
fn decoded<K>(store: &Watched<K>) -> Vec<std::sync::Arc<K>>
where
    K: kube::Resource<DynamicType = ()> + 'static,
{
    store
        .state()
        .iter()
        .filter_map(|o| o.decoded().ok().cloned())
        .collect()
}

impl WatchObserver {
    /// Starts watching ClusterDeployments, SelectorSyncSets and, unless `metrics` can tell the
    /// pairs applied, the sync objects of the detected pipeline (both kinds when undecided),
    /// and waits until each has been listed once. `poll` is how often the runner asks for the
    /// count.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when a kind has not been listed within `ready_timeout` (the hub is
    /// unreachable, or the credentials may not list it).
    pub async fn start(
        hub: &Hub,
        detected: Detected,
        poll: Duration,
        ready_timeout: Duration,
        metrics: Option<Source>,
    ) -> Result<Self> {
        let client = hub.watch_client();
        let mut tasks = Vec::new();
        let wants = |p: Pipeline| {
            metrics.is_none()
                && (detected == Detected::Undecided || detected == Detected::Pipeline(p))
        };
        let marks = Arc::new(MarkLog::default());
        let feed = marks.clone();
        let observer = Self {
            cluster_deployments: watch(client.clone(), &mut tasks),
            selector_sync_sets: watch(client.clone(), &mut tasks),
            cluster_syncs: wants(Pipeline::ClusterSync).then(|| {
                watch_with(
                    client.clone(),
                    &mut tasks,
                    Some(Box::new(move |e| feed.on_event(e))),
                )
            }),
            instances: wants(Pipeline::SyncSetInstance).then(|| watch(client.clone(), &mut tasks)),
            metrics,
            detected,
            listed: parking_lot::Mutex::new(None),
            run: std::sync::OnceLock::new(),
            baseline: parking_lot::Mutex::new(None),
            exact: std::sync::atomic::AtomicBool::new(false),
            late_syncs: tokio::sync::OnceCell::new(),
            marks,
            late_tasks: parking_lot::Mutex::new(Vec::new()),
            silent_since: parking_lot::Mutex::new(None),
            warned: std::sync::atomic::AtomicBool::new(false),
            tasks,
            poll,
            hub: hub.clone(),
        };
        let ready = async {
            let _ = observer.cluster_deployments.wait_until_ready().await;
            let _ = observer.selector_sync_sets.wait_until_ready().await;
            if let Some(s) = &observer.cluster_syncs {
                let _ = s.wait_until_ready().await;
            }
            if let Some(s) = &observer.instances {
                let _ = s.wait_until_ready().await;
            }
        };
        tokio::time::timeout(ready_timeout, ready)
            .await
            .map_err(|_| Error::Timeout {
                what: "the first list of Hive's objects".into(),
                seconds: ready_timeout.as_secs_f64(),
            })?;
        Ok(observer)
    }

    /// The watched objects, with the sync objects listed now when they are not watched.
    async fn objects_with_syncs(&self) -> Result<HiveObjects> {
        let mut objects = self.objects();
        if self.metrics.is_some() {
            let kinds: &[Pipeline] = match self.detected {
                Detected::Pipeline(p) => &[p][..],
                Detected::Undecided => &[Pipeline::ClusterSync, Pipeline::SyncSetInstance][..],
            };
            for kind in kinds {
                let listed = HiveObjects::list_sync_objects(&self.hub, *kind).await?;
                objects.cluster_syncs.extend(listed.cluster_syncs);
                objects.instances.extend(listed.instances);
            }
            if let Some(p) = objects.pipeline() {
                *self.listed.lock() = Some(p);
            }
        }
        Ok(objects)
    }

    /// The sync objects, watched from the first call on (metrics mode, where they are not
    /// watched from the start).
    async fn late_syncs(&self) -> Result<&SyncStores> {
        self.late_syncs
            .get_or_try_init(|| async {
                let stores: SyncStores = {
                    let client = self.hub.watch_client();
                    let mut tasks = self.late_tasks.lock();
                    let wants = |p: Pipeline| {
                        self.detected == Detected::Undecided
                            || self.detected == Detected::Pipeline(p)
                    };
                    let feed = self.marks.clone();
                    (
                        wants(Pipeline::ClusterSync).then(|| {
                            watch_with(
                                client.clone(),
                                &mut tasks,
                                Some(Box::new(move |e| feed.on_event(e))),
                            )
                        }),
                        wants(Pipeline::SyncSetInstance).then(|| watch(client, &mut tasks)),
                    )
                };
                let ready = async {
                    if let Some(s) = &stores.0 {
                        let _ = s.wait_until_ready().await;
                    }
                    if let Some(s) = &stores.1 {
                        let _ = s.wait_until_ready().await;
                    }
                };
                tokio::time::timeout(CATCH_UP, ready)
                    .await
                    .map_err(|_| Error::Timeout {
                        what: "the first list of the sync objects".into(),
                        seconds: CATCH_UP.as_secs_f64(),
                    })?;
                Ok(stores)
            })
            .await
    }

    /// The histogram's observations since the run's sets were first seen, when they account
    /// for every pair applied since: Hive observes a pair only while its ClusterSync has no
    /// first success yet (a set added to clusters that synced before is never observed), older
    /// runs' sets of the same names left observations before, and a restarted controller starts
    /// from zero. `None` when the histogram cannot be trusted for fan-out.
    fn histogram_accounts_for(
        &self,
        now: Vec<(f64, f64)>,
        applied: usize,
    ) -> Option<Vec<(f64, f64)>> {
        let mut baseline = self.baseline.lock();
        let base = baseline.get_or_insert_with(|| now.clone());
        if base.iter().any(|(le, n)| bucket_count(&now, *le) < *n) {
            return None; // a counter went back: the controller restarted
        }
        let gained: Vec<(f64, f64)> = now
            .iter()
            .map(|(le, n)| (*le, n - bucket_count(base, *le)))
            .collect();
        let count = gained
            .iter()
            .find(|(le, _)| le.is_infinite())
            .map_or(0.0, |(_, n)| *n);
        ((count.round() as usize) >= applied).then_some(gained)
    }

    /// Pairs applied, from Hive's metrics: for each of the run's SelectorSyncSets, the
    /// clusters whose ClusterSync lists it less those whose last result is not a success.
    async fn applied_from_metrics(&self, source: &Source, sets: &[String]) -> Result<usize> {
        use crate::metrics::QueryOutcome;
        let snapshot = source.snapshot(applied_profile()).await?;
        // A gauge with no series yet (no ClusterSync lists a set) is zero, not an error; the
        // hub's other SelectorSyncSets are not the test's.
        let value = |name: &str| match snapshot.results.iter().find(|r| r.name == name) {
            Some(r) => match &r.outcome {
                QueryOutcome::Ok { value } => Ok(value
                    .values()
                    .into_iter()
                    .filter(|(labels, _)| {
                        labels
                            .get("name")
                            .is_some_and(|n| sets.iter().any(|s| s == n))
                    })
                    .map(|(_, v)| v)
                    .sum::<f64>()),
                QueryOutcome::Error { error: why } | QueryOutcome::Unavailable { reason: why } => {
                    Err(Error::Invalid(format!(
                        "{} cannot count the pairs applied ({name}): {why}",
                        source.describe()
                    )))
                }
            },
            None => Ok(0.0),
        };
        let (listed, unapplied) = (value("listed")?, value("unapplied")?);
        self.warn_if_silent(sets, listed > 0.0);
        Ok((listed - unapplied).max(0.0).round() as usize)
    }

    /// Says once, after a few minutes, when the metrics never mention the run's sets although
    /// there are sets to count: the usual cause is a source without Hive's gauges (they come
    /// from hive-controllers, not from a clustersync pod), and the run would wait out its
    /// timeout at zero.
    fn warn_if_silent(&self, sets: &[String], seen: bool) {
        let mut silent = self.silent_since.lock();
        if seen || sets.is_empty() {
            *silent = None;
            return;
        }
        let since = *silent.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() >= SILENT_WARNING && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                source = %self
                    .metrics
                    .as_ref()
                    .map_or_else(String::new, Source::describe),
                metric = names::SELECTORSYNCSET_CLUSTERS,
                minutes = SILENT_WARNING.as_secs() / 60,
                "the metrics have shown nothing of the run's SelectorSyncSets; if they are not hive-controllers' (or a Prometheus scraping them), pairs applied stay at 0"
            );
        }
    }

    /// The objects as last watched with the sync objects. In metrics mode only a change to a
    /// set needs each cluster's sync object (its observed generation), read until every
    /// cluster has it: they are watched from the first such question on, rather than listed
    /// at every poll.
    async fn with_sync_objects(&self) -> Result<HiveObjects> {
        let mut objects = self.objects();
        if self.metrics.is_some() {
            let (syncs, instances) = self.late_syncs().await?;
            objects.cluster_syncs = syncs.as_ref().map(decoded).unwrap_or_default();
            objects.instances = instances.as_ref().map(decoded).unwrap_or_default();
        }
        Ok(objects)
    }

    /// The objects as last watched, only the run's clusters and sets once scoped.
    pub fn objects(&self) -> HiveObjects {
        let run = self.run.get().map(String::as_str);
        HiveObjects {
            cluster_deployments: decoded(&self.cluster_deployments),
            selector_sync_sets: decoded(&self.selector_sync_sets),
            cluster_syncs: self.cluster_syncs.as_ref().map(decoded).unwrap_or_default(),
            instances: self.instances.as_ref().map(decoded).unwrap_or_default(),
        }
        .scoped(run)
    }
}

/// How long the metrics may say nothing of the run's sets before a warning (Hive refreshes
/// the gauges every 2 minutes).
const SILENT_WARNING: Duration = Duration::from_secs(5 * 60);

/// How long [`Observer::catch_up`] waits for the watches to deliver what a list showed.
const CATCH_UP: Duration = Duration::from_secs(60);

/// The uids of the objects of `api` (of run `run`, when given), from one metadata-only list (no
/// specs or statuses).
async fn uids<K>(hub: &Hub, api: &Api<K>, what: &str, run: Option<&str>) -> Result<Vec<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    // Only the run's objects: somebody else's may be deleted between this list and the check,
    // and would then never arrive.
    let params = match run {
        Some(run) => ListParams::default().labels(&format!("{}={run}", crate::labels::RUN)),
        None => ListParams::default(),
    };
    let list = hub
        .call("list", what, || api.list_metadata(&params))
        .await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|m| m.metadata.uid)
        .collect())
}

fn holds<K>(store: &Store<K>, uids: &[String]) -> bool
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let seen: std::collections::HashSet<String> = store
        .state()
        .iter()
        .filter_map(|o| o.meta().uid.clone())
        .collect();
    uids.iter().all(|u| seen.contains(u))
}

/// The two queries that count pairs applied (parsed once: they are asked at every poll).
fn applied_profile() -> &'static crate::metrics::Profile {
    static PROFILE: std::sync::LazyLock<crate::metrics::Profile> =
        std::sync::LazyLock::new(parse_applied_profile);
    &PROFILE
}

fn parse_applied_profile() -> crate::metrics::Profile {
    let text = format!(
        "name: pairs-applied\nqueries:\n- name: listed\n  query: sum by (name) ({a})\n  kind: count\n  scrape: {{metric: {a}, op: sum, by: [name]}}\n- name: unapplied\n  query: sum by (name) ({u})\n  kind: count\n  scrape: {{metric: {u}, op: sum, by: [name]}}\n",
        a = names::SELECTORSYNCSET_CLUSTERS,
        u = names::SELECTORSYNCSET_UNAPPLIED
    );
    crate::metrics::Profile::from_yaml(&text, "built in")
        .expect("the built-in query profile parses")
}

impl Observer for WatchObserver {
    fn scope(&self, run: &str) {
        let _ = self.run.set(run.to_string());
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let cds = Api::<ClusterDeployment>::all(self.hub.client());
            let sets = Api::<SelectorSyncSet>::all(self.hub.client());
            let run = self.run.get().map(String::as_str);
            let want_cds = uids(&self.hub, &cds, "clusterdeployments", run).await?;
            let want_sets = uids(&self.hub, &sets, "selectorsyncsets", run).await?;
            let deadline = tokio::time::Instant::now() + CATCH_UP;
            while !(holds(&self.cluster_deployments, &want_cds)
                && holds(&self.selector_sync_sets, &want_sets))
            {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Error::Timeout {
                        what: "the watches to deliver the run's objects".into(),
                        seconds: CATCH_UP.as_secs_f64(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(())
        })
    }

    fn pairs(&self) -> BoxFuture<'_, Result<PairCount>> {
        Box::pin(async move {
            let objects = self.objects();
            match &self.metrics {
                Some(source) => {
                    let expected = objects.expected();
                    let applied = self
                        .applied_from_metrics(source, &objects.set_names())
                        .await?;
                    Ok(PairCount {
                        applied: applied.min(expected),
                        expected,
                    })
                }
                None => {
                    let p = objects.progress();
                    Ok(PairCount {
                        applied: p.done,
                        expected: p.expected,
                    })
                }
            }
        })
    }

    fn progress(&self) -> BoxFuture<'_, Result<SyncProgress>> {
        Box::pin(async move {
            if let Some(source) = &self.metrics {
                if self.detected == Detected::Undecided && self.listed.lock().is_none() {
                    // Two one-item lists say which sync objects Hive has written by now.
                    if let Detected::Pipeline(p) = detect_pipeline(&self.hub).await? {
                        *self.listed.lock() = Some(p);
                    }
                }
                let objects = self.objects();
                let sets = objects.set_names();
                let expected = objects.expected();
                let applied = self
                    .applied_from_metrics(source, &sets)
                    .await?
                    .min(expected);
                // Only the run's sets (today's Hive labels the histogram by set name; 2020's
                // did not, and then the objects are read instead).
                let histogram = source
                    .histogram(
                        names::SELECTORSYNCSET_APPLY_DURATION_SECONDS,
                        Some(("name", &sets)),
                    )
                    .await?
                    .unwrap_or_default();
                if !self.exact.load(Ordering::Relaxed)
                    && let Some(gained) = self.histogram_accounts_for(histogram, applied)
                {
                    return Ok(SyncProgress {
                        expected,
                        done: applied,
                        fanout_histogram: Some(gained),
                        ..SyncProgress::default()
                    });
                }
                // From here on each pair's objects, which always tell.
                self.exact.store(true, Ordering::Relaxed);
            }
            Ok(self.objects_with_syncs().await?.progress())
        })
    }

    fn applied_marks<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<HashMap<String, String>>> {
        Box::pin(async move {
            // Asked before a change is made: its arrivals are timed from here on.
            self.marks.want(set);
            Ok(self.with_sync_objects().await?.applied_marks(set))
        })
    }

    fn applied_marks_of<'a>(
        &'a self,
        sets: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, HashMap<String, Mark>>>> {
        Box::pin(async move {
            let mut marks = self.with_sync_objects().await?.applied_marks_of(sets);
            self.marks.stamp(&mut marks);
            Ok(marks)
        })
    }

    fn pipeline(&self) -> Option<Pipeline> {
        match self.metrics {
            Some(_) => *self.listed.lock(),
            None => self.objects().pipeline(),
        }
    }

    fn poll_interval(&self) -> Duration {
        self.poll
    }
}
