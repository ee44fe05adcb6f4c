//! Where a scenario runs, and what that hub can tell the runner about Hive's progress.

use super::marks::Follower;
use super::watch::{Detected, WatchObserver, detect_pipeline};
use crate::Result;
use crate::adopt::AdoptPlan;
use crate::api::Pipeline;
use crate::hub::Hub;
use crate::metrics::slo::DurationSample;
use crate::metrics::{PrometheusClient, Source};
use crate::scenario::progress::{HiveObjects, Mark, SyncProgress};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::time::Duration;

/// Applied and expected (set, cluster) pairs at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PairCount {
    /// Pairs that have applied at least once.
    pub applied: usize,
    /// Pairs that should apply (eligible clusters times the sets matching each).
    pub expected: usize,
}

impl PairCount {
    /// `applied` of `expected`.
    pub fn new(applied: usize, expected: usize) -> Self {
        Self { applied, expected }
    }
}

/// What the runner asks of a hub while Hive works. A hub that can count cheaply (the embedded
/// one reads its own counters) answers [`Observer::pairs`] without reading Hive's objects; a
/// real hub answers from what it has watched.
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// Applied and expected pairs now; called every [`Observer::poll_interval`].
    fn pairs(&self) -> BoxFuture<'_, Result<PairCount>>;

    /// Every applied pair with its fan-out latency; called once when a phase ends.
    fn progress(&self) -> BoxFuture<'_, Result<SyncProgress>>;

    /// What each cluster last applied of SelectorSyncSet `set`, by `namespace/cluster` (see
    /// [`HiveObjects::applied_marks`]).
    fn applied_marks<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<HashMap<String, String>>>;

    /// [`Observer::applied_marks`] of several sets at once, by set, each mark with when it was
    /// first seen when the observer follows the sync objects' changes (a watch of the
    /// ClusterSyncs; the default has no such time, and a change is then timed when looked at).
    fn applied_marks_of<'a>(
        &'a self,
        sets: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, HashMap<String, Mark>>>> {
        Box::pin(async move {
            let mut all = HashMap::new();
            for set in sets {
                let marks = Mark::unstamped(self.applied_marks(set).await?);
                all.insert(set.clone(), marks);
            }
            Ok(all)
        })
    }

    /// Keys queued or in progress in the sync controller, when the hub can tell.
    fn queue_depth(&self) -> Option<usize> {
        None
    }

    /// Counts, from now on, only the pairs of run `run`'s clusters and SelectorSyncSets (their
    /// run label): the hub may hold other clusters and sets. The runner calls it once, first.
    fn scope(&self, run: &str) {
        let _ = run;
    }

    /// Brings what the observer knows up to the hub's present, so the phase that follows does
    /// not count from before the run's last writes (a watch's copy lags them a little).
    fn catch_up(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// The pipeline whose objects the hub holds, once it can tell (a real hub that serves
    /// both kinds is only known by what Hive writes).
    fn pipeline(&self) -> Option<Pipeline> {
        None
    }

    /// How often the runner polls [`Observer::pairs`] (wall time).
    fn poll_interval(&self) -> Duration;
}

/// Reads progress by listing Hive's objects (ClusterDeployments, SelectorSyncSets and every
/// ClusterSync or SyncSetInstance) at each call: for the embedded hub, where a list costs
/// nothing that is measured; a real hub is watched instead (see [`WatchObserver`]).
#[derive(Debug, Clone)]
pub struct ListObserver {
    hub: Hub,
    pipeline: Pipeline,
    poll: Duration,
    run: std::sync::OnceLock<String>,
    /// A watch of the ClusterSyncs timing changes to sets, from the first question about one.
    follower: std::sync::Arc<tokio::sync::OnceCell<Follower>>,
}

impl ListObserver {
    /// Lists through `hub`, reading the objects of `pipeline`, every `poll`.
    pub fn new(hub: Hub, pipeline: Pipeline, poll: Duration) -> Self {
        Self {
            hub,
            pipeline,
            poll,
            run: std::sync::OnceLock::new(),
            follower: Default::default(),
        }
    }

    /// The follower of the ClusterSyncs' changes, started on first use (today's pipeline only:
    /// a SyncSetInstance's applied hash is compared, not timed).
    async fn follower(&self) -> Option<&Follower> {
        if self.pipeline != Pipeline::ClusterSync {
            return None;
        }
        Some(
            self.follower
                .get_or_init(|| Follower::start(&self.hub, Duration::from_secs(60)))
                .await,
        )
    }

    /// The hub it lists from.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

impl ListObserver {
    async fn objects(&self) -> Result<HiveObjects> {
        Ok(HiveObjects::list(&self.hub, Some(self.pipeline))
            .await?
            .scoped(self.run.get().map(String::as_str)))
    }

    /// Pairs that should apply, listing only ClusterDeployments and SelectorSyncSets.
    pub async fn expected(&self) -> Result<usize> {
        Ok(HiveObjects::list(&self.hub, None)
            .await?
            .scoped(self.run.get().map(String::as_str))
            .expected())
    }
}

impl Observer for ListObserver {
    fn scope(&self, run: &str) {
        let _ = self.run.set(run.to_string());
    }

    fn pairs(&self) -> BoxFuture<'_, Result<PairCount>> {
        Box::pin(async move {
            let p = self.objects().await?.progress();
            Ok(PairCount {
                applied: p.done,
                expected: p.expected,
            })
        })
    }

    fn progress(&self) -> BoxFuture<'_, Result<SyncProgress>> {
        Box::pin(async move { Ok(self.objects().await?.progress()) })
    }

    fn applied_marks<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<HashMap<String, String>>> {
        Box::pin(async move {
            // Asked before a change is made: its arrivals are timed from here on.
            if let Some(f) = self.follower().await {
                f.log().want(set);
            }
            Ok(self.objects().await?.applied_marks(set))
        })
    }

    fn applied_marks_of<'a>(
        &'a self,
        sets: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, HashMap<String, Mark>>>> {
        Box::pin(async move {
            let mut marks = self.objects().await?.applied_marks_of(sets);
            if let Some(f) = self.follower().await {
                f.log().stamp(&mut marks);
            }
            Ok(marks)
        })
    }

    fn poll_interval(&self) -> Duration {
        self.poll
    }
}

/// Where the runner reads the hub API server's `apiserver_request_duration_seconds` for the
/// API call latency SLO.
pub enum ApiLatency {
    /// Read in-process, sampled every recording interval: the embedded hub's API server. The
    /// function returns the histogram now, stamped with the Unix seconds it is given.
    Direct(std::sync::Arc<dyn Fn(f64) -> DurationSample + Send + Sync>),
    /// One range query of the Prometheus that scrapes the hub, when the run ends.
    Prometheus(PrometheusClient),
    /// Not measured, and why (the summary says so).
    NotMeasured(String),
}

impl std::fmt::Debug for ApiLatency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiLatency::Direct(_) => f.write_str("Direct"),
            ApiLatency::Prometheus(p) => f.debug_tuple("Prometheus").field(&p.url()).finish(),
            ApiLatency::NotMeasured(why) => f.debug_tuple("NotMeasured").field(why).finish(),
        }
    }
}

impl ApiLatency {
    /// From a real hub's metrics source: only a Prometheus has the history; a real
    /// kube-apiserver's `/metrics` is large and is not scraped over and over for this.
    pub fn from_source(source: Option<&Source>) -> Self {
        match source {
            Some(Source::Prometheus(p)) => ApiLatency::Prometheus(p.clone()),
            Some(Source::Scrape(_)) => ApiLatency::NotMeasured(
                "the API server's latency is read from a Prometheus (--prometheus), not from scraped /metrics pages".into(),
            ),
            None => ApiLatency::NotMeasured("no Prometheus URL given".into()),
        }
    }
}

/// A hub to run a scenario on: where the objects go and how the run observes.
#[derive(Debug)]
pub struct Target {
    /// The hub.
    pub hub: Hub,
    /// For the summary: `embedded (URL)` or the server URL.
    pub description: String,
    /// The clones' objects (spoke kubeconfig or fake clusters, prefixes, labels); the runner
    /// sets its run id.
    pub clones: AdoptPlan,
    /// Which Hive pipeline the hub runs; `None` until Hive's objects say (a hub that serves
    /// both kinds; see [`Observer::pipeline`]).
    pub pipeline: Option<Pipeline>,
    /// Modeled seconds per real second (1 on a real hub).
    pub time_scale: f64,
    /// Where Hive's metrics come from, if anywhere.
    pub metrics: Option<Source>,
    /// What tells the runner how far Hive has come.
    pub observer: Box<dyn Observer>,
    /// Where the API server's request latency comes from, for the SLO check.
    pub api_latency: ApiLatency,
    /// Whether the hub runs the scenario's `embedded:` model (the embedded hub). A run on a
    /// hub it did not start records that hub's facts, never a model that did not run.
    pub runs_model: bool,
}

/// How to reach a real hub for a scenario.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RealHub {
    /// The hub: kubeconfig, context, client QPS.
    pub hub: crate::hub::HubOptions,
    /// The spoke's admin kubeconfig, adopted many times; `None` adopts fake clusters.
    pub spoke_kubeconfig: Option<std::path::PathBuf>,
    /// Mark clones as fake clusters even with a spoke kubeconfig.
    pub fake_cluster: bool,
    /// Which Hive pipeline the hub runs; `None` finds out (see [`detect_pipeline`]).
    pub pipeline: Option<Pipeline>,
    /// Where Hive's metrics come from (a Prometheus, or `/metrics` endpoints), if anywhere.
    pub metrics: Option<Source>,
    /// A ClusterRole to bind to these credentials in each clone namespace created (a
    /// least-privilege Job's way to read its own Secrets back; see
    /// [`NamespaceRole`](crate::adopt::NamespaceRole)).
    pub namespace_role: Option<String>,
}

impl Target {
    /// Connects to a real hub: checks the spoke kubeconfig (if any) and that the hub answers,
    /// finds out its pipeline, and starts watching Hive's objects.
    ///
    /// # Errors
    ///
    /// A spoke kubeconfig that cannot be read or is not valid, a hub that cannot be reached
    /// or does not serve Hive's sync objects; nothing has been written when this fails.
    pub async fn real(opts: RealHub) -> Result<Self> {
        let clones = match &opts.spoke_kubeconfig {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| crate::Error::Kubeconfig {
                    path: Some(path.clone()),
                    reason: "cannot be read".into(),
                    source: Some(e.into()),
                })?;
                crate::adopt::check_spoke(&bytes, Some(path), false).await?;
                let mut plan = AdoptPlan::new(bytes);
                plan.fake_cluster = opts.fake_cluster;
                plan
            }
            None => AdoptPlan::fake(),
        };
        let mut clones = clones;
        clones.namespace_role = opts
            .namespace_role
            .as_ref()
            .map(|r| crate::adopt::NamespaceRole {
                cluster_role: r.clone(),
                user: None,
            });
        let hub = Hub::connect(&opts.hub).await?;
        hub.check().await?;
        // ClusterDeployments and SelectorSyncSets first: a refusal there is the likeliest.
        super::watch::may_watch(&hub, None).await?;
        let detected = match opts.pipeline {
            Some(p) => Detected::Pipeline(p),
            None => detect_pipeline(&hub).await?,
        };
        super::watch::may_watch(&hub, Some(detected)).await?;
        let observer = WatchObserver::start(
            &hub,
            detected,
            Duration::from_secs(5),
            opts.hub.timeout,
            opts.metrics.clone(),
        )
        .await?;
        let pipeline = match detected {
            Detected::Pipeline(p) => Some(p),
            Detected::Undecided => None,
        };
        Ok(Self {
            api_latency: ApiLatency::from_source(opts.metrics.as_ref()),
            description: hub.server().to_string(),
            hub,
            clones,
            pipeline,
            time_scale: 1.0,
            metrics: opts.metrics,
            observer: Box::new(observer),
            runs_model: false,
        })
    }
}
