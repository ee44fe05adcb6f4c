//! Capacity planning: the simulated Hive on the virtual clock. It adopts the clusters and
//! creates the sets at time zero, runs until every (set, cluster) pair has applied once, then
//! times one more SelectorSyncSet reaching every cluster.

use crate::apiserver::ApiError;
use crate::apiserver::store::{Store, StoreConfig, WriteOptions};
use crate::clock::{self, Clock};
use crate::controllers::spoke::Spoke;
use crate::controllers::{Sim, SimConfig, defs};
use crate::hive::SimulatedHive;
use crate::metrics::HiveMetrics;
use crate::model::{ApplyMode, CostModel, ModelError, SpokeMode};
use crate::pressure::HubPressure;

pub mod analytic;
pub mod arrival;
pub mod calibrate;
pub mod recommend;
pub mod sample;
use hive_scale_core::adopt::AdoptPlan;
use hive_scale_core::fixtures::SelectorSyncSetFixture;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// Adopted clusters.
    pub clusters: usize,
    /// SelectorSyncSets matching every cluster.
    pub selectorsyncsets: usize,
    /// ConfigMaps per set.
    pub configmaps: usize,
    /// The model: pipeline, workers, cores, apply mode, costs.
    pub model: CostModel,
    /// Sampling interval of the time series, modeled.
    pub sample_every: Duration,
    /// Give up after this much modeled time.
    pub max_duration: Duration,
    /// After the initial drain, add one set and time its fan-out.
    pub probe_new_set: bool,
    /// Adopt the clusters one by one, evenly over this span, instead of all at time zero: a
    /// fleet that grew, whose full re-applies are spread over the interval rather than
    /// bunched.
    pub adopt_over: Option<Duration>,
    /// Probe while the second round of full re-applies runs (instead of on a quiet fleet):
    /// the last few of the clusters are held back and adopted then, one at a time, each first
    /// sync timed; then the set is added.
    pub probe_under_load: bool,
    /// Seed of jitter and fake-apply draws.
    pub seed: u64,
    /// Hive's interval between two full re-applies of a cluster (before its 0-10% jitter).
    pub reapply_interval: Duration,
    /// Simulate fleets above this many clusters as two smaller samples, extrapolated
    /// ([`sample`]); `None` simulates every cluster.
    pub sample_above: Option<usize>,
}

impl PlanConfig {
    /// The 2020 shape with `model`.
    pub fn new(model: CostModel) -> Self {
        Self {
            clusters: 1000,
            selectorsyncsets: 60,
            configmaps: 10,
            model,
            sample_every: Duration::from_secs(60),
            max_duration: Duration::from_secs(7 * 24 * 3600),
            probe_new_set: true,
            adopt_over: None,
            probe_under_load: false,
            seed: 1,
            reapply_interval: Duration::from_secs(7200),
            sample_above: Some(sample::ABOVE),
        }
    }
}

/// One replica's share of a [`Sample`].
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaSample {
    /// Keys queued or in progress in this replica's queue.
    pub queue_depth: usize,
    /// Its resource applies per second over the last interval.
    pub applies_per_second: f64,
    /// Its mean modeled cores busy over the last interval.
    pub cores_busy: f64,
}

/// One replica's figures over the drain.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaResult {
    /// The pod's ordinal (`hive-clustersync-N`).
    pub ordinal: usize,
    /// Clusters whose UID falls to it.
    pub clusters: usize,
    /// Its resource applies per second while draining.
    pub applies_per_second: f64,
    /// Its mean modeled cores busy while draining.
    pub cores_busy: f64,
    /// The deepest its queue was at a sample.
    pub peak_queue_depth: usize,
}

/// One point of the time series the metrics would have shown.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Modeled seconds since the start.
    pub t: f64,
    /// Keys queued or in progress in the sync controller (and the legacy syncset controller).
    pub queue_depth: usize,
    /// Resource applies per second over the last interval.
    pub applies_per_second: f64,
    /// Sync controller reconciles per second over the last interval.
    pub reconciles_per_second: f64,
    /// Mean modeled cores busy over the last interval.
    pub cores_busy: f64,
    /// Mean apply duration over the last interval, seconds.
    pub apply_seconds: f64,
    /// Each replica's share, by ordinal.
    pub replicas: Vec<ReplicaSample>,
}

/// The planner's answer.
#[derive(Debug, Clone, Serialize)]
pub struct PlanResult {
    /// Preset name.
    pub preset: String,
    /// Apply mode.
    pub apply_mode: String,
    /// Where the clusters' API servers are.
    pub spokes: SpokeMode,
    /// clustersync replicas.
    pub replicas: usize,
    /// Sync workers per replica.
    pub workers: usize,
    /// Modeled cores per replica.
    pub cores: usize,
    /// The pipeline modeled.
    pub pipeline: hive_scale_core::api::Pipeline,
    /// Clusters.
    pub clusters: usize,
    /// Sets.
    pub selectorsyncsets: usize,
    /// Resources per set.
    pub configmaps: usize,
    /// Resource applies per second while draining.
    pub applies_per_second: f64,
    /// Sync reconciles per second while draining (SyncSetInstances/s in legacy mode).
    pub reconciles_per_second: f64,
    /// Mean modeled duration of one resource apply, seconds.
    pub apply_seconds: f64,
    /// Modeled seconds until every (set, cluster) pair applied once; None if it never did.
    pub drain_seconds: Option<f64>,
    /// Whether one new SelectorSyncSet's fan-out was timed: not when the probe was switched
    /// off, nor when the fleet never drained.
    pub new_set_measured: bool,
    /// Modeled seconds for one new SelectorSyncSet to reach every cluster; `None` when it never
    /// did, or when it was not measured ([`new_set_measured`](Self::new_set_measured)).
    pub new_set_seconds: Option<f64>,
    /// With [`PlanConfig::probe_under_load`]: modeled seconds for a cluster adopted amid the
    /// re-applies (before the new set) to get every set, the mean of a few.
    pub new_cluster_seconds: Option<f64>,
    /// Whether one full re-apply of everything fits in the 2h interval.
    pub reapply_fits_2h: bool,
    /// Mean modeled cores busy while draining.
    pub cores_busy: f64,
    /// Applies simulated.
    pub applies: u64,
    /// Spoke writes that overwrote another writer's content.
    pub thrash: u64,
    /// Each replica's figures, by ordinal.
    pub per_replica: Vec<ReplicaResult>,
    /// The objects the hub holds for this fleet, against Hive's guidance.
    pub hub: HubPressure,
    /// When the fleet was simulated as two samples and extrapolated, their sizes.
    pub sampled: Option<sample::Samples>,
    /// Wall-clock seconds the simulation took.
    pub wall_seconds: f64,
    /// The time series.
    pub series: Vec<Sample>,
}

/// Why the planner could not answer.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The model is out of range.
    #[error("invalid model")]
    Model(#[from] ModelError),
    /// No clusters, or no sets, to plan for.
    #[error("clusters and selectorsyncsets must be at least 1")]
    EmptyFleet,
    /// Clusters arriving zero apart ([`arrival::arrivals`]).
    #[error("the arrival interval must be above 0")]
    ZeroInterval,
    /// A recommendation asked of the 2020 pipeline ([`recommend::recommend`]), which has no
    /// replicas to size.
    #[error(
        "recommendations size today's clustersync pipeline; the 2020 pipeline has no replicas to size"
    )]
    LegacyPipeline,
    /// The virtual clock's runtime could not start.
    #[error("cannot start the virtual clock")]
    Runtime(#[source] std::io::Error),
    /// The planner's SelectorSyncSets could not be rendered.
    #[error("cannot render the planner's SelectorSyncSets")]
    Fixture(#[source] Box<hive_scale_core::Error>),
    /// The simulated hub refused one of the planner's own writes.
    #[error("the simulated hub refused {what}")]
    Hub {
        /// The object (`SelectorSyncSet scaletest-0-configmap`, ...).
        what: String,
        /// The hub's answer.
        #[source]
        source: Box<ApiError>,
    },
}

impl PlanError {
    /// The hub refused to create or update `what`.
    fn hub(what: impl Into<String>) -> impl FnOnce(ApiError) -> Self {
        move |source| PlanError::Hub {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// Runs the plan on the virtual clock.
///
/// # Errors
///
/// A model out of range, no clusters or sets, or a simulation that could not start.
pub fn plan(cfg: &PlanConfig) -> Result<PlanResult, PlanError> {
    cfg.model.validate()?;
    if cfg.clusters == 0 || cfg.selectorsyncsets == 0 {
        return Err(PlanError::EmptyFleet);
    }
    if let Some(sizes) = sample::sizes(cfg) {
        return sample::plan_sampled(cfg, sizes);
    }
    plan_whole(cfg)
}

/// Runs the plan on the virtual clock, every cluster simulated.
fn plan_whole(cfg: &PlanConfig) -> Result<PlanResult, PlanError> {
    let wall = Instant::now();
    let cfg = cfg.clone();
    clock::run_virtual(async move { run(cfg, wall).await }).map_err(PlanError::Runtime)?
}

async fn run(cfg: PlanConfig, wall: Instant) -> Result<PlanResult, PlanError> {
    let sim = new_sim(&cfg);
    let fixture = SelectorSyncSetFixture::new().configmaps(cfg.configmaps);
    create_sets(&sim, &fixture, 0, cfg.selectorsyncsets)?;
    let hive = match cfg.adopt_over {
        None => {
            adopt_fleet(&sim, &cfg)?;
            SimulatedHive::start(sim.clone())
        }
        Some(span) => {
            let hive = SimulatedHive::start(sim.clone());
            adopt_spread(&sim, &cfg, fleet(&cfg), span);
            hive
        }
    };
    let pairs = (fleet(&cfg) * cfg.selectorsyncsets) as u64;
    let (drained_at, series) = drain(&sim, &hive, &cfg, pairs).await;
    let at_drain = Snapshot::take(&sim);
    let new_set = match drained_at {
        Some(_) if cfg.probe_new_set => {
            Some(probe_new_set(&sim, &hive, &fixture, &cfg, pairs).await?)
        }
        _ => None,
    };
    hive.shutdown();
    Ok(result(
        &cfg, &sim, drained_at, &at_drain, new_set, series, wall,
    ))
}

/// A simulation over fresh hub and spoke stores on the (virtual) runtime's clock.
fn new_sim(cfg: &PlanConfig) -> Arc<Sim> {
    let store_cfg = StoreConfig {
        history_limit: 64,
        watch_buffer: 1 << 15,
        clock: None,
        // The same uids, so the same shards, every time the plan is run.
        uid_seed: Some(0x6869_7665),
    };
    let hub = Store::new(&hive_scale_core::api::crds(), store_cfg.clone());
    let metrics = Arc::new(HiveMetrics::new());
    let spoke = Arc::new(Spoke::new(
        SPOKE_URL.to_string(),
        Store::new(&[], store_cfg),
        metrics.clone(),
    ));
    let sim_cfg = SimConfig {
        model: cfg.model.clone(),
        reapply_interval: cfg.reapply_interval,
        seed: cfg.seed,
        client_metrics: false,
    };
    Sim::new(sim_cfg, Clock::real(), metrics, hub, Some(spoke))
}

/// The name prefix of the new-set probe's SelectorSyncSet: after the fleet's sets by name.
const PROBE_SET_PREFIX: &str = "zz-probe";

/// Where the planner's clones point (never dialled).
const SPOKE_URL: &str = "https://spoke.plan.invalid:6443";

fn planner_writes() -> WriteOptions {
    WriteOptions {
        field_manager: "plan".into(),
        internal: true,
        ..Default::default()
    }
}

/// Creates SelectorSyncSets `start..start + count`.
fn create_sets(
    sim: &Sim,
    fixture: &SelectorSyncSetFixture,
    start: usize,
    count: usize,
) -> Result<(), PlanError> {
    let sss = sim.def(defs::SSS);
    for set in fixture
        .render_range(start, count)
        .map_err(|e| PlanError::Fixture(Box::new(e)))?
    {
        let what = format!(
            "SelectorSyncSet {}",
            set.metadata.name.as_deref().unwrap_or_default()
        );
        sim.store
            .create(&sss, "", erased::Ser::value(&set), &planner_writes())
            .map_err(PlanError::hub(what))?;
    }
    Ok(())
}

/// Adopts the fleet at time zero, as the clusterdeployment controller leaves it (installed
/// and reachable); for the 2020 pipeline also every SyncSetInstance (its "day two" state).
fn adopt_fleet(sim: &Sim, cfg: &PlanConfig) -> Result<(), PlanError> {
    adopt_clusters(sim, cfg, 1..=fleet(cfg) as u32)
}

/// Adopts the fleet one clone at a time, evenly over `span`, beside the running controllers.
fn adopt_spread(sim: &Arc<Sim>, cfg: &PlanConfig, clusters: usize, span: Duration) {
    let (sim, cfg) = (sim.clone(), cfg.clone());
    let every = span / clusters.max(1) as u32;
    tokio::spawn(async move {
        // Each seed starts the schedule at its own phase: on a small fleet, which clusters
        // are in their jitter window when the new set comes is otherwise the same every run.
        sim.clock.sleep(every.mul_f64(sim.fraction())).await;
        for i in 1..=clusters as u32 {
            if let Err(e) = adopt_clusters(&sim, &cfg, i..=i) {
                tracing::warn!(
                    error = %hive_scale_core::error::chain(&e),
                    "the planner could not adopt clone {i}"
                );
            }
            sim.clock.sleep(every).await;
        }
    });
}

/// Adopts clones `range`, installed and reachable (see [`adopt_fleet`]).
fn adopt_clusters(
    sim: &Sim,
    cfg: &PlanConfig,
    range: std::ops::RangeInclusive<u32>,
) -> Result<(), PlanError> {
    let hub = &sim.store;
    let opts = planner_writes();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: spoke\n  cluster: {{server: '{SPOKE_URL}'}}\nusers:\n- name: u\n  user: {{token: plan}}\ncontexts:\n- name: spoke\n  context: {{cluster: spoke, user: u}}\ncurrent-context: spoke\n"
    );
    let mut adopt = AdoptPlan::new(kubeconfig.into_bytes());
    adopt.fake_cluster = cfg.model.apply_mode == ApplyMode::Fake;
    let (ns_def, secret_def, cd_def) = (
        hub.registry()
            .lookup("", "v1", "namespaces")
            .expect("built in"),
        sim.def(defs::SECRET),
        sim.def(defs::CD),
    );
    let now = sim.clock.now_rfc3339();
    let status = WriteOptions {
        status: true,
        ..opts.clone()
    };
    for i in range {
        let c = adopt.clone_objects(i);
        let ns = adopt.namespace_name(i);
        let to = |v: &dyn erased::Ser| v.value();
        hub.create(&ns_def, "", to(&c.namespace), &opts)
            .map_err(PlanError::hub(format!("Namespace {ns}")))?;
        hub.create(&secret_def, &ns, to(&c.admin_kubeconfig), &opts)
            .map_err(PlanError::hub(format!(
                "the admin kubeconfig Secret of clone {i}"
            )))?;
        let name = adopt.cd_name(i);
        let (cd, _) = hub
            .create(&cd_def, &ns, to(&c.cluster_deployment), &opts)
            .map_err(PlanError::hub(format!("ClusterDeployment {ns}/{name}")))?;
        let mut with_status = (*cd).clone();
        with_status["status"] = serde_json::json!({
            "installedTimestamp": cd["metadata"]["creationTimestamp"],
            "conditions": [
                {"type": "Unreachable", "status": "False", "reason": "ClusterReachable", "message": "cluster is reachable", "lastProbeTime": now, "lastTransitionTime": now},
                {"type": "Provisioned", "status": "True", "reason": "Provisioned", "message": "cluster is provisioned", "lastProbeTime": now, "lastTransitionTime": now},
            ],
        });
        hub.update(&cd_def, &ns, &name, with_status, &status)
            .map_err(PlanError::hub(format!(
                "the status of ClusterDeployment {ns}/{name}"
            )))?;
        if cfg.model.pipeline == hive_scale_core::api::Pipeline::SyncSetInstance
            && let Some(cd) = sim.cluster_deployment(&ns, &name)
        {
            let ssi = sim.def(defs::SSI);
            for set in crate::controllers::clustersync::matching_sets(sim, &cd) {
                let instance = crate::controllers::legacy::instance_object(sim, &cd, &set);
                hub.create(&ssi, &ns, instance, &opts)
                    .map_err(PlanError::hub(format!("a SyncSetInstance of clone {i}")))?;
            }
        }
    }
    Ok(())
}

/// Runs until every (set, cluster) pair has applied once (or the modeled limit), sampling the
/// time series; returns when it drained, if it did.
async fn drain(
    sim: &Arc<Sim>,
    hive: &SimulatedHive,
    cfg: &PlanConfig,
    pairs: u64,
) -> (Option<Duration>, Vec<Sample>) {
    let clock = &sim.clock;
    let mut series = Vec::new();
    let mut last = Snapshot::take(sim);
    // Poll each modeled second for the drain; sample the series at its own interval.
    let poll = Duration::from_secs(1).min(cfg.sample_every);
    let mut next_sample = cfg.sample_every;
    loop {
        clock.sleep(poll).await;
        let drained = sim.counters.set_first_successes.load(Ordering::Relaxed) >= pairs;
        if drained || clock.elapsed() >= next_sample {
            let now = Snapshot::take(sim);
            let mut depth = hive.pending_by_replica();
            // The legacy syncset controller's queue counts with the one replica's.
            let others = hive.pending() - depth.iter().sum::<usize>();
            if let Some(first) = depth.first_mut() {
                *first += others;
            }
            series.push(now.sample_since(&last, &depth));
            last = now;
            next_sample += cfg.sample_every;
        }
        if drained {
            return (Some(clock.elapsed()), series);
        }
        if clock.elapsed() >= cfg.max_duration {
            return (None, series);
        }
    }
}

/// Clusters timed one after another as they are adopted amid the re-applies (under load): one
/// is one draw of whether a worker is free, so the probe averages up to this many, one per
/// [`NEWCOMER_SHARE`] clusters of the fleet (held back from a small fleet, more would make it
/// lighter than it is).
const NEWCOMERS: usize = 8;
/// See [`NEWCOMERS`].
const NEWCOMER_SHARE: usize = 20;

/// The newcomers a probe under load adopts: the last of `cfg.clusters`, so the new set comes to
/// a fleet of `cfg.clusters` all the same.
fn newcomers(cfg: &PlanConfig) -> usize {
    if cfg.probe_under_load && cfg.probe_new_set {
        (cfg.clusters / NEWCOMER_SHARE).clamp(1, NEWCOMERS)
    } else {
        0
    }
}

/// The clusters adopted before the probe: none when the one cluster asked for is the newcomer.
fn fleet(cfg: &PlanConfig) -> usize {
    match newcomers(cfg) {
        0 => cfg.clusters.max(1),
        n => cfg.clusters.saturating_sub(n),
    }
}

/// Longest the new-set probe waits, modeled, for the sync queue to empty first: a twelfth of
/// the re-apply interval (10 minutes of Hive's 2 hours).
fn settle(cfg: &PlanConfig) -> Duration {
    cfg.reapply_interval / 12
}

/// Adds one more SelectorSyncSet and times it reaching every cluster.
async fn probe_new_set(
    sim: &Arc<Sim>,
    hive: &SimulatedHive,
    fixture: &SelectorSyncSetFixture,
    cfg: &PlanConfig,
    pairs: u64,
) -> Result<Probe, PlanError> {
    let clock = &sim.clock;
    if cfg.probe_under_load {
        // The middle of the second round of re-applies: each cluster comes due 2 h (plus
        // jitter) after it first synced, so the round runs as long as the first sync did.
        let drained = clock.elapsed().as_secs_f64();
        let at = cfg.reapply_interval.as_secs_f64() * analytic::MEAN_JITTER + drained / 2.0;
        clock
            .sleep(Duration::from_secs_f64((at - drained).max(0.0)))
            .await;
    } else {
        // A new set comes at some moment of a quiet fleet, not the instant the first sync
        // ends: let the controllers finish what they were writing and their client refill
        // its burst. A fleet whose re-applies take longer than their interval never goes
        // quiet: its new set comes amid the backlog, as on a real hub, after a short wait
        // rather than after simulating days of a queue that never empties.
        let settle = clock.elapsed() + settle(cfg).min(cfg.max_duration);
        while hive.pending() > 0 && clock.elapsed() < settle {
            clock.sleep(Duration::from_secs(1)).await;
        }
        if let Some(qps) = cfg.model.hub_qps {
            clock
                .sleep(Duration::from_secs_f64(
                    f64::from(crate::model::HUB_CLIENT_BURST) / qps,
                ))
                .await;
        }
    }
    let since = |from: Duration| clock.elapsed().saturating_sub(from).as_secs_f64();
    // Polls a fiftieth of the time waited so far (from 50 ms to 1 s): a few seconds' probe is
    // timed to a few percent, a day's without a million wakeups.
    let poll = |from: Duration| Duration::from_secs_f64((since(from) / 50.0).clamp(0.05, 1.0));
    // First new clusters amid the re-applies alone, one at a time, then (once they synced) the
    // new set: each timed on its own, a cluster adopted with the set would wait behind every
    // key the set queued, and one adopted right after the set's fan-out behind the re-applies
    // that came due during it.
    let mut cluster_at = None;
    let mut target = pairs;
    let (fleet, newcomers) = (fleet(cfg), newcomers(cfg));
    for newcomer in fleet + 1..=fleet + newcomers {
        let newcomer = newcomer as u32;
        adopt_clusters(sim, cfg, newcomer..=newcomer)?;
        target += cfg.selectorsyncsets as u64;
        let adopted = clock.elapsed();
        let synced =
            || sim.counters.cluster_first_successes.load(Ordering::Relaxed) >= u64::from(newcomer);
        let mut took = None;
        while clock.elapsed() < adopted + cfg.max_duration {
            if synced() {
                took = Some(since(adopted));
                break;
            }
            clock.sleep(poll(adopted)).await;
        }
        let Some(took) = took else {
            return Ok(Probe {
                new_set: None,
                new_cluster: None,
            });
        };
        cluster_at = Some(cluster_at.unwrap_or(0.0) + took / newcomers as f64);
        // The next comes at a moment of its own, not in step with the re-applies this one met.
        clock
            .sleep(Duration::from_secs_f64(took * sim.fraction()))
            .await;
    }
    // Named to sort after every set of the fleet: Hive applies a cluster's sets by name, so a
    // full re-apply that reaches a cluster while the new set is on its way brings it last, the
    // worst case for a set of any name.
    let probe = fixture.clone().name_prefix(PROBE_SET_PREFIX);
    create_sets(sim, &probe, cfg.selectorsyncsets, 1)?;
    let start = clock.elapsed();
    target += (fleet + newcomers) as u64;
    let mut set_at = None;
    while clock.elapsed() < start + cfg.max_duration {
        if sim.counters.set_first_successes.load(Ordering::Relaxed) >= target {
            set_at = Some(since(start));
            break;
        }
        clock.sleep(poll(start)).await;
    }
    Ok(Probe {
        new_set: set_at,
        new_cluster: cluster_at,
    })
}

/// What the probe timed: `None` when it did not happen within the limit (or was not asked).
#[derive(Debug, Clone, Copy)]
struct Probe {
    new_set: Option<f64>,
    new_cluster: Option<f64>,
}

/// The planner's answer from the counters at the drain.
fn result(
    cfg: &PlanConfig,
    sim: &Sim,
    drained_at: Option<Duration>,
    at_drain: &Snapshot,
    // `None`: not measured; a `Probe` holds `None` where it never finished.
    new_set: Option<Probe>,
    series: Vec<Sample>,
    wall: Instant,
) -> PlanResult {
    let span = drained_at
        .unwrap_or_else(|| sim.clock.elapsed())
        .as_secs_f64()
        .max(1e-9);
    let applies = at_drain.applies;
    let m = &cfg.model;
    let mut owned = vec![0usize; sim.replicas.len()];
    for cd in sim
        .store
        .list(&sim.def(defs::CD), None, &Default::default())
        .map(|l| l.items)
        .unwrap_or_default()
    {
        owned[sim.replica_for(cd.head().uid())] += 1;
    }
    let per_replica = at_drain
        .replicas
        .iter()
        .enumerate()
        .map(|(i, (applies, cpu))| ReplicaResult {
            ordinal: i,
            clusters: owned[i],
            applies_per_second: *applies as f64 / span,
            cores_busy: cpu / span,
            peak_queue_depth: series
                .iter()
                .filter_map(|s| s.replicas.get(i).map(|r| r.queue_depth))
                .max()
                .unwrap_or(0),
        })
        .collect();
    PlanResult {
        preset: m.preset.clone(),
        apply_mode: m.apply_mode.to_string(),
        spokes: m.spokes,
        replicas: sim.replicas.len(),
        workers: m.workers,
        cores: m.cores,
        pipeline: m.pipeline,
        clusters: cfg.clusters,
        selectorsyncsets: cfg.selectorsyncsets,
        configmaps: cfg.configmaps,
        applies_per_second: applies as f64 / span,
        reconciles_per_second: at_drain.reconciles as f64 / span,
        apply_seconds: if applies > 0 {
            at_drain.apply_nanos as f64 / 1e9 / applies as f64
        } else {
            0.0
        },
        drain_seconds: drained_at.map(|d| d.as_secs_f64()),
        new_set_measured: new_set.is_some(),
        new_set_seconds: new_set.and_then(|p| p.new_set),
        new_cluster_seconds: new_set.and_then(|p| p.new_cluster),
        reapply_fits_2h: drained_at.is_some_and(|d| d <= Duration::from_secs(7200)),
        cores_busy: at_drain.cpu / span,
        applies: sim.counters.applies.load(Ordering::Relaxed),
        thrash: sim.metrics.sim_thrash.get(),
        per_replica,
        hub: HubPressure::estimate(cfg.clusters, cfg.selectorsyncsets, m.pipeline),
        sampled: None,
        wall_seconds: wall.elapsed().as_secs_f64(),
        series,
    }
}

/// Serializing planned objects to JSON values without naming each type.
mod erased {
    /// Anything serializable.
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("planned objects serialize")
        }
    }
}

#[derive(Debug, Clone)]
struct Snapshot {
    t: f64,
    applies: u64,
    apply_nanos: u64,
    reconciles: u64,
    cpu: f64,
    /// Applies and CPU seconds of each replica.
    replicas: Vec<(u64, f64)>,
}

impl Snapshot {
    fn take(sim: &Sim) -> Self {
        let c = &sim.counters;
        Self {
            t: sim.clock.elapsed().as_secs_f64(),
            applies: c.applies.load(Ordering::Relaxed),
            apply_nanos: c.apply_nanos.load(Ordering::Relaxed),
            reconciles: c.sync_reconciles.load(Ordering::Relaxed),
            cpu: sim.metrics.sim_cpu_seconds.get(),
            replicas: sim
                .replicas
                .iter()
                .map(|r| (r.applies.load(Ordering::Relaxed), r.cores.spent()))
                .collect(),
        }
    }

    fn sample_since(&self, prev: &Snapshot, depth: &[usize]) -> Sample {
        let dt = (self.t - prev.t).max(1e-9);
        let applies = self.applies - prev.applies;
        let replicas = self
            .replicas
            .iter()
            .zip(&prev.replicas)
            .zip(depth)
            .map(|((now, then), depth)| ReplicaSample {
                queue_depth: *depth,
                applies_per_second: (now.0 - then.0) as f64 / dt,
                cores_busy: (now.1 - then.1) / dt,
            })
            .collect();
        Sample {
            replicas,
            t: self.t,
            queue_depth: depth.iter().sum(),
            applies_per_second: applies as f64 / dt,
            reconciles_per_second: (self.reconciles - prev.reconciles) as f64 / dt,
            cores_busy: (self.cpu - prev.cpu) / dt,
            apply_seconds: if applies > 0 {
                (self.apply_nanos - prev.apply_nanos) as f64 / 1e9 / applies as f64
            } else {
                0.0
            },
        }
    }
}

/// Modeled seconds `clusters` clusters with `sets` SelectorSyncSets of `configmaps` resources
/// take to sync from scratch under `model`: the planner run on at most 100 clusters (the rates
/// do not depend on the fleet's size), scaled up. `None` when the plan never drains.
pub fn predicted_drain(
    model: &CostModel,
    clusters: usize,
    sets: usize,
    configmaps: usize,
) -> Option<f64> {
    let sample = clusters.clamp(1, 100);
    let mut cfg = PlanConfig::new(model.clone());
    cfg.clusters = sample;
    cfg.selectorsyncsets = sets.max(1);
    cfg.configmaps = configmaps;
    cfg.probe_new_set = false;
    // The planner runs its own virtual-clock runtime, which cannot nest in the caller's.
    let planned = std::thread::spawn(move || plan(&cfg)).join().ok()?.ok()?;
    planned
        .drain_seconds
        .map(|d| d * clusters as f64 / sample as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(replicas: usize) -> PlanResult {
        let mut model = CostModel::preset("m5.xlarge").unwrap();
        (model.replicas, model.spokes) = (replicas, SpokeMode::PerCluster);
        let mut cfg = PlanConfig::new(model);
        (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (60, 4, 5);
        cfg.probe_new_set = false;
        plan(&cfg).unwrap()
    }

    /// Under load the newcomers are the last of `--clusters`, not more: a one-cluster shard is
    /// one cluster, adopted to an empty hub.
    #[test]
    fn a_probe_under_load_adopts_the_clusters_asked_for() {
        for clusters in [1, 2, 40] {
            let mut cfg = PlanConfig::new(CostModel::preset("c5.9xlarge").unwrap());
            (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (clusters, 3, 2);
            (cfg.adopt_over, cfg.probe_under_load) = (Some(Duration::from_secs(7200)), true);
            let r = plan(&cfg).unwrap();
            let adopted: usize = r.per_replica.iter().map(|p| p.clusters).sum();
            assert_eq!(adopted, clusters, "{clusters} asked for");
            assert!(r.new_cluster_seconds.is_some(), "{clusters}: {r:?}");
            assert!(r.new_set_seconds.is_some(), "{clusters}: {r:?}");
        }
    }

    #[test]
    fn the_closed_form_agrees_with_the_simulation() {
        let cases: [(&str, ApplyMode, SpokeMode, usize, usize); 7] = [
            ("m5.xlarge", ApplyMode::ClientSide, SpokeMode::Shared, 5, 1),
            (
                "m5.xlarge",
                ApplyMode::ClientSide,
                SpokeMode::PerCluster,
                5,
                2,
            ),
            (
                "m4.xlarge-2020",
                ApplyMode::ClientSide,
                SpokeMode::Shared,
                100,
                1,
            ),
            (
                "c5.9xlarge",
                ApplyMode::ClientSide,
                SpokeMode::PerCluster,
                40,
                1,
            ),
            (
                "c5.9xlarge",
                ApplyMode::ServerSide,
                SpokeMode::PerCluster,
                100,
                1,
            ),
            (
                "c5.24xlarge-2020",
                ApplyMode::ServerSide,
                SpokeMode::Shared,
                100,
                1,
            ),
            ("m5.xlarge", ApplyMode::Fake, SpokeMode::Fake, 20, 1),
        ];
        let mut off = Vec::new();
        for (preset, mode, spokes, workers, replicas) in cases {
            let mut model = CostModel::preset(preset).unwrap();
            (
                model.apply_mode,
                model.spokes,
                model.workers,
                model.replicas,
            ) = (mode, spokes, workers, replicas);
            let mut cfg = PlanConfig::new(model.clone());
            (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (240, 10, 10);
            let sim = plan(&cfg).unwrap();
            let est = analytic::estimate(
                &model,
                analytic::Fleet {
                    clusters: 240,
                    sets: 10,
                    resources: 10,
                },
            );
            // The simulation's drain is the first sync.
            let first_sync_rate = (240 * 100) as f64 / est.first_sync_seconds;
            let rate = first_sync_rate / sim.applies_per_second;
            let new_set = est.new_set_idle_seconds / sim.new_set_seconds.unwrap();
            if !(0.85..=1.15).contains(&rate) || !(0.75..=1.25).contains(&new_set) {
                off.push(format!(
                    "{preset} {mode} {spokes} w{workers} r{replicas}: applies/s sim {:.1} closed {:.1} ({rate:.2}); new set sim {:.0}s closed {:.0}s ({new_set:.2})",
                    sim.applies_per_second,
                    first_sync_rate,
                    sim.new_set_seconds.unwrap(),
                    est.new_set_idle_seconds
                ));
            }
        }
        assert!(off.is_empty(), "the closed form is off for {off:#?}");
    }

    #[test]
    fn replicas_split_the_fleet_and_bring_their_own_cores() {
        let one = planned(1);
        let three = planned(3);
        assert_eq!(three.per_replica.len(), 3);
        assert_eq!(
            three.per_replica.iter().map(|r| r.clusters).sum::<usize>(),
            60,
            "every cluster belongs to exactly one replica"
        );
        assert!(three.per_replica.iter().all(|r| r.clusters > 0));
        // CPU-bound (5 workers on 3 cores): three replicas have three times the cores.
        let speedup = three.applies_per_second / one.applies_per_second;
        assert!((1.8..=3.3).contains(&speedup), "speed-up {speedup}");
        let busy: f64 = three.per_replica.iter().map(|r| r.cores_busy).sum();
        assert!((busy - three.cores_busy).abs() < 0.05 * three.cores_busy.max(1.0));
        assert!(three.series.iter().all(|s| s.replicas.len() == 3));
        assert_eq!(one.hub.cluster_syncs, 60);
    }
}
