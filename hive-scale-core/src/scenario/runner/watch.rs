//! Observing a real hub by watching it: one list per kind at the start, then only the changes.
//!
//! Listing every ClusterSync at each poll cost a hub about 68 kB per cluster per poll (60 sets);
//! a watch sends each object once and then each change once, as Hive's own informers receive
//! them. kube's reflector keeps the objects; every question the runner asks is answered from
//! that copy without another request.

use super::target::{Observer, PairCount};
use crate::api::{ClusterDeployment, ClusterSync, Pipeline, SelectorSyncSet, SyncSetInstance};
use crate::hub::Hub;
use crate::scenario::progress::{HiveObjects, SyncProgress};
use crate::{Error, Result};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use std::collections::HashMap;
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
                .map_err(|source| transport("list", "clustersyncs", source))?
                .items
                .is_empty();
            let any_instances = !Api::<SyncSetInstance>::all(client)
                .list_metadata(&one)
                .await
                .map_err(|source| transport("list", "syncsetinstances", source))?
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
    cluster_deployments: Store<ClusterDeployment>,
    selector_sync_sets: Store<SelectorSyncSet>,
    cluster_syncs: Option<Store<ClusterSync>>,
    instances: Option<Store<SyncSetInstance>>,
    tasks: Vec<tokio::task::AbortHandle>,
    poll: Duration,
    hub: Hub,
}

impl Drop for WatchObserver {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts a reflector for `K` on every namespace; the task retries with backoff after errors.
fn watch<K>(api: Api<K>, tasks: &mut Vec<tokio::task::AbortHandle>) -> Store<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync,
    K: 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let kind = K::kind(&K::DynamicType::default()).to_string();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .for_each(move |event| {
            if let Err(e) = event {
                tracing::warn!(kind = %kind, error = %e, "watch failed; retrying");
            }
            futures::future::ready(())
        });
    tasks.push(tokio::spawn(stream).abort_handle());
    reader
}

impl WatchObserver {
    /// Starts watching ClusterDeployments, SelectorSyncSets and the sync objects of the
    /// detected pipeline (both kinds when undecided), and waits until each has been listed
    /// once. `poll` is how often the runner asks for the count (no request is made then).
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
    ) -> Result<Self> {
        let client = hub.client();
        let mut tasks = Vec::new();
        let wants =
            |p: Pipeline| detected == Detected::Undecided || detected == Detected::Pipeline(p);
        let observer = Self {
            cluster_deployments: watch(Api::all(client.clone()), &mut tasks),
            selector_sync_sets: watch(Api::all(client.clone()), &mut tasks),
            cluster_syncs: wants(Pipeline::ClusterSync)
                .then(|| watch(Api::all(client.clone()), &mut tasks)),
            instances: wants(Pipeline::SyncSetInstance)
                .then(|| watch(Api::all(client.clone()), &mut tasks)),
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

    /// The objects as last watched.
    pub fn objects(&self) -> HiveObjects {
        HiveObjects {
            cluster_deployments: self.cluster_deployments.state(),
            selector_sync_sets: self.selector_sync_sets.state(),
            cluster_syncs: self
                .cluster_syncs
                .as_ref()
                .map(Store::state)
                .unwrap_or_default(),
            instances: self
                .instances
                .as_ref()
                .map(Store::state)
                .unwrap_or_default(),
        }
    }
}

/// How long [`Observer::catch_up`] waits for the watches to deliver what a list showed.
const CATCH_UP: Duration = Duration::from_secs(60);

/// The uids of every object of `api`, from one metadata-only list (no specs or statuses).
async fn uids<K>(hub: &Hub, api: &Api<K>, what: &str) -> Result<Vec<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let all = ListParams::default();
    let list = hub.call("list", what, || api.list_metadata(&all)).await?;
    Ok(list.items.into_iter().filter_map(|m| m.metadata.uid).collect())
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

impl Observer for WatchObserver {
    fn catch_up(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let cds = Api::<ClusterDeployment>::all(self.hub.client());
            let sets = Api::<SelectorSyncSet>::all(self.hub.client());
            let want_cds = uids(&self.hub, &cds, "clusterdeployments").await?;
            let want_sets = uids(&self.hub, &sets, "selectorsyncsets").await?;
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
        let p = self.objects().progress();
        Box::pin(async move {
            Ok(PairCount {
                applied: p.done,
                expected: p.expected,
            })
        })
    }

    fn progress(&self) -> BoxFuture<'_, Result<SyncProgress>> {
        let p = self.objects().progress();
        Box::pin(async move { Ok(p) })
    }

    fn applied_marks<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<HashMap<String, String>>> {
        let marks = self.objects().applied_marks(set);
        Box::pin(async move { Ok(marks) })
    }

    fn pipeline(&self) -> Option<Pipeline> {
        self.objects().pipeline()
    }

    fn poll_interval(&self) -> Duration {
        self.poll
    }
}
