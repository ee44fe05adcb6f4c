//! The embedded hub as a scale test's target: started from a scenario's `embedded:` section,
//! connected like any hub, and observed through the simulation's own counters instead of by
//! reading Hive's objects.

use crate::SimError;
use crate::clock::TimeScale;
use crate::hive::SimulatedHive;
use crate::hub::{EmbeddedHub, EmbeddedHubConfig};
use crate::model::{CostModel, ModelConfig};
use futures::future::BoxFuture;
use hive_scale_core::Result;
use hive_scale_core::adopt::AdoptPlan;
use hive_scale_core::hub::{Hub, HubOptions};
use hive_scale_core::metrics::{HttpOptions, Scraper, Source};
use hive_scale_core::scenario::progress::Mark;
use hive_scale_core::scenario::runner::{ApiLatency, ListObserver, Observer, PairCount, Target};
use hive_scale_core::scenario::{Phase, Scenario, progress};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How a scenario's time scale was chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScaleChoice {
    /// Given on the command line or in the scenario.
    Given(TimeScale),
    /// Picked so the run takes a few minutes: the planner predicts this many modeled seconds
    /// of work.
    Predicted {
        /// The scale.
        scale: TimeScale,
        /// The planner's prediction.
        modeled_seconds: f64,
    },
}

impl ScaleChoice {
    /// The scale.
    pub fn scale(self) -> TimeScale {
        match self {
            ScaleChoice::Given(k) | ScaleChoice::Predicted { scale: k, .. } => k,
        }
    }
}

/// Wall seconds a default run should take: a few minutes.
const TARGET_WALL_SECONDS: f64 = 150.0;

/// The time scale that makes `scenario` take a few minutes under `model`: the planner's
/// predicted drain, or the trickle phases' own length when longer.
pub fn pick_time_scale(scenario: &Scenario, model: &CostModel) -> ScaleChoice {
    let drain = crate::plan::predicted_drain(
        model,
        scenario.clusters as usize,
        scenario.selectorsyncsets as usize,
        scenario.configmaps as usize,
    )
    .unwrap_or(3600.0);
    let trickle: f64 = scenario
        .phases
        .iter()
        .map(|p| match p {
            Phase::Trickle {
                count,
                every_seconds,
                ..
            } => f64::from(*count) * every_seconds,
            Phase::Ramp {
                start,
                end,
                step,
                every_seconds,
                ..
            } => f64::from((end - start + 1).div_ceil((*step).max(1))) * every_seconds,
            _ => 0.0,
        })
        .sum();
    let modeled_seconds = drain.max(trickle);
    let k = (modeled_seconds / TARGET_WALL_SECONDS)
        .clamp(1.0, 2000.0)
        .round();
    ScaleChoice::Predicted {
        scale: TimeScale::new(k).unwrap_or(TimeScale::REAL),
        modeled_seconds,
    }
}

/// The knee the planner predicts for `scenario`'s first ramp phase under `model` (today's
/// pipeline only), to stand beside the measured one.
pub fn predicted_knee(scenario: &Scenario, model: &CostModel) -> Option<u32> {
    if model.pipeline != hive_scale_core::api::Pipeline::ClusterSync {
        return None;
    }
    scenario.phases.iter().find_map(|p| match p {
        Phase::Ramp {
            start,
            end,
            step,
            every_seconds,
            target_fanout_seconds,
        } => {
            let ramp = crate::plan::analytic::Ramp {
                step: *step as usize,
                clusters: (end - start + 1) as usize,
                sets: scenario.selectorsyncsets as usize,
                resources: scenario.configmaps as usize,
                every: *every_seconds,
                target_fanout: *target_fanout_seconds,
            };
            let (knee, _) = crate::plan::analytic::knee(model, ramp);
            u32::try_from(knee).ok()
        }
        _ => None,
    })
}

impl EmbeddedHub {
    /// Starts an embedded hub for `scenario` in `dir`: the model from its `embedded:` section,
    /// the time scale from `time_scale`, else the section, else [`pick_time_scale`].
    ///
    /// # Errors
    ///
    /// A bad `embedded:` section ([`SimError::Scenario`]), or the hub cannot start.
    pub async fn for_scenario(
        scenario: &Scenario,
        dir: impl Into<PathBuf>,
        time_scale: Option<TimeScale>,
    ) -> Result<(Self, ScaleChoice), SimError> {
        let invalid = |source| SimError::Scenario {
            name: scenario.name.clone(),
            source,
        };
        let config = ModelConfig::from_section(&scenario.embedded).map_err(invalid)?;
        let model = config.resolve().map_err(invalid)?;
        let choice = match time_scale.or(config.time_scale) {
            Some(k) => ScaleChoice::Given(k),
            None => pick_time_scale(scenario, &model),
        };
        let mut cfg = EmbeddedHubConfig::new(dir);
        cfg.time_scale = choice.scale();
        cfg.sim.model = model;
        Ok((Self::start(cfg).await?, choice))
    }

    /// A client of the hub, like any hub's (through the kubeconfig it wrote).
    ///
    /// # Errors
    ///
    /// When the kubeconfig cannot be read back.
    pub async fn connect(&self, qps: f64) -> Result<Hub, SimError> {
        Hub::connect(&HubOptions::kubeconfig(self.kubeconfig_path().to_path_buf()).with_qps(qps))
            .await
            .map_err(SimError::from)
    }

    /// This hub as a scale test's target, reached through `hub` (see [`EmbeddedHub::connect`]):
    /// clones point at the embedded spoke (or are fake clusters), metrics are scraped from the
    /// hub's endpoint, and progress comes from the simulation's counters.
    ///
    /// # Errors
    ///
    /// When the spoke's kubeconfig cannot be read or the scraper cannot be built.
    pub fn target(&self, hub: Hub, fake_cluster: bool) -> Result<Target, SimError> {
        let mut clones = match self.spoke_kubeconfig_path() {
            Some(path) => AdoptPlan::new(std::fs::read(path).map_err(|source| SimError::Io {
                path: path.to_path_buf(),
                source,
            })?),
            None => AdoptPlan::fake(),
        };
        clones.fake_cluster |= fake_cluster;
        let metrics = Scraper::new(&[self.metrics_url()], &HttpOptions::default())?;
        let pipeline = self.model().pipeline;
        let lists = ListObserver::new(hub.clone(), pipeline, Duration::from_millis(250));
        let observer: Box<dyn Observer> = match self.hive() {
            Some(hive) => Box::new(EmbeddedObserver::new(hive, lists)),
            None => Box::new(lists),
        };
        let m = self.model();
        let requests = self.api_server().request_metrics().clone();
        Ok(Target {
            api_latency: ApiLatency::Direct(std::sync::Arc::new(move |at| requests.durations(at))),
            description: format!(
                "the embedded hub ({}; {} {} apply, {} workers)",
                self.api_server().url(),
                m.preset,
                m.apply_mode,
                m.workers
            ),
            hub,
            clones,
            pipeline: Some(pipeline),
            time_scale: self.clock().scale(),
            metrics: Some(Source::Scrape(metrics)),
            observer,
            runs_model: true,
        })
    }
}

/// Counts applied pairs from the simulation's counter and the sync queue's length, reading the
/// hub's objects only for what the counters cannot tell (expected pairs every few seconds,
/// fan-out per pair once a phase).
struct EmbeddedObserver {
    applied: Box<dyn Fn() -> u64 + Send + Sync>,
    pending: Box<dyn Fn() -> usize + Send + Sync>,
    lists: ListObserver,
    expected: Mutex<Option<(Instant, usize)>>,
}

impl std::fmt::Debug for EmbeddedObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedObserver").finish_non_exhaustive()
    }
}

impl EmbeddedObserver {
    fn new(hive: &SimulatedHive, lists: ListObserver) -> Self {
        let sim = hive.sim().clone();
        Self {
            applied: Box::new(move || sim.counters.set_first_successes.load(Ordering::Relaxed)),
            pending: Box::new(hive.pending_counter()),
            lists,
            expected: Mutex::new(None),
        }
    }
}

/// How long a count of expected pairs is reused: counting lists every cluster and set.
const EXPECTED_TTL: Duration = Duration::from_secs(5);

impl Observer for EmbeddedObserver {
    fn scope(&self, run: &str) {
        self.lists.scope(run);
    }

    fn pairs(&self) -> BoxFuture<'_, Result<PairCount>> {
        Box::pin(async move {
            let cached = (*self.expected.lock()).filter(|(at, _)| at.elapsed() < EXPECTED_TTL);
            let expected = match cached {
                Some((_, n)) => n,
                None => {
                    let n = self.lists.expected().await?;
                    *self.expected.lock() = Some((Instant::now(), n));
                    n
                }
            };
            Ok(PairCount::new(
                ((self.applied)() as usize).min(expected),
                expected,
            ))
        })
    }

    fn progress(&self) -> BoxFuture<'_, Result<progress::SyncProgress>> {
        self.lists.progress()
    }

    fn applied_marks<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<HashMap<String, String>>> {
        self.lists.applied_marks(set)
    }

    fn applied_marks_of<'a>(
        &'a self,
        sets: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, HashMap<String, Mark>>>> {
        self.lists.applied_marks_of(sets)
    }

    fn queue_depth(&self) -> Option<usize> {
        Some((self.pending)())
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<()>> {
        // The run has just written clusters or sets: count the pairs they bring afresh.
        *self.expected.lock() = None;
        self.lists.catch_up()
    }

    fn poll_interval(&self) -> Duration {
        self.lists.poll_interval()
    }
}
