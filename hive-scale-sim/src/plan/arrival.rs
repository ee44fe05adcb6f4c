//! Clusters arriving over time (`plan --arrival-every 60s`): the sets exist from the start, a
//! new cluster is adopted at each interval, and each cluster's time from arrival until every
//! set has applied (its ClusterSync's `firstSuccessTime`) is the fan-out latency it saw. As the
//! fleet grows, the periodic full re-applies of the clusters already there compete with each
//! newcomer; this shows when a configuration starts to starve.

use super::{PlanConfig, PlanError, adopt_clusters, create_sets, new_sim};
use crate::clock;
use crate::controllers::defs;
use crate::hive::SimulatedHive;
use hive_scale_core::fixtures::SelectorSyncSetFixture;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One arrival and what it waited.
#[derive(Debug, Clone, Serialize)]
pub struct Arrival {
    /// 1 for the first cluster.
    pub cluster: usize,
    /// Modeled seconds from the start until it was adopted.
    pub arrived_at: f64,
    /// Modeled seconds from its arrival until every set had applied; `None` when that did not
    /// happen before the run ended.
    pub latency: Option<f64>,
}

/// What the arrivals saw.
#[derive(Debug, Clone, Serialize)]
pub struct ArrivalResult {
    /// Preset name.
    pub preset: String,
    /// Workers per replica.
    pub workers: usize,
    /// Cores per replica.
    pub cores: usize,
    /// clustersync replicas.
    pub replicas: usize,
    /// Modeled seconds between arrivals.
    pub every_seconds: f64,
    /// Every arrival, in order.
    pub arrivals: Vec<Arrival>,
    /// The median latency of the first tenth of the arrivals (at least one): the fleet's
    /// latency before it grew.
    pub baseline_seconds: Option<f64>,
    /// The first arrival from which latencies stay above twice the baseline: where applies
    /// degraded. `None` when they never did.
    pub degraded_after: Option<usize>,
    /// The first arrival that waited 30 minutes or more.
    pub over_30m_at: Option<usize>,
    /// Wall-clock seconds the simulation took.
    pub wall_seconds: f64,
}

/// Runs `cfg.clusters` arrivals `every` apart, then waits (up to `cfg.max_duration` after the
/// last) for every cluster to sync.
///
/// # Errors
///
/// A model out of range, no clusters or sets, an interval of zero, or a simulation that could
/// not start.
pub fn arrivals(cfg: &PlanConfig, every: Duration) -> Result<ArrivalResult, PlanError> {
    cfg.model.validate()?;
    if cfg.clusters == 0 || cfg.selectorsyncsets == 0 {
        return Err(PlanError::EmptyFleet);
    }
    if every.is_zero() {
        return Err(PlanError::ZeroInterval);
    }
    let wall = Instant::now();
    let cfg = cfg.clone();
    clock::run_virtual(async move { run(cfg, every, wall).await }).map_err(PlanError::Runtime)?
}

async fn run(cfg: PlanConfig, every: Duration, wall: Instant) -> Result<ArrivalResult, PlanError> {
    let sim = new_sim(&cfg);
    let fixture = SelectorSyncSetFixture::new().configmaps(cfg.configmaps);
    create_sets(&sim, &fixture, 0, cfg.selectorsyncsets)?;
    let hive = SimulatedHive::start(sim.clone());
    let mut arrived_at = Vec::with_capacity(cfg.clusters);
    for i in 1..=cfg.clusters {
        arrived_at.push(sim.clock.elapsed().as_secs_f64());
        adopt_clusters(&sim, &cfg, i as u32..=i as u32)?;
        if i < cfg.clusters {
            sim.clock.sleep(every).await;
        }
    }
    let deadline = sim.clock.elapsed() + cfg.max_duration;
    let all = cfg.clusters as u64;
    while sim
        .counters
        .cluster_first_successes
        .load(std::sync::atomic::Ordering::Relaxed)
        < all
        && sim.clock.elapsed() < deadline
    {
        sim.clock.sleep(Duration::from_secs(10)).await;
    }
    let arrivals = latencies(&sim, &arrived_at);
    hive.shutdown();
    let m = &cfg.model;
    let (baseline, degraded_after, over_30m_at) = readings(&arrivals);
    Ok(ArrivalResult {
        preset: m.preset.clone(),
        workers: m.workers,
        cores: m.cores,
        replicas: m.replicas,
        every_seconds: every.as_secs_f64(),
        arrivals,
        baseline_seconds: baseline,
        degraded_after,
        over_30m_at,
        wall_seconds: wall.elapsed().as_secs_f64(),
    })
}

/// Each clone's latency from its ClusterSync's `firstSuccessTime`.
fn latencies(sim: &crate::controllers::Sim, arrived_at: &[f64]) -> Vec<Arrival> {
    let now = sim.clock.elapsed().as_secs_f64();
    // Just the field read: a ClusterSync's status holds an entry per set, which this skips.
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Status {
        first_success_time: Option<String>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct FirstSuccess {
        status: Status,
    }
    let mut first: std::collections::HashMap<String, f64> = Default::default();
    for cs in sim
        .store
        .list(&sim.def(defs::CSYNC), None, &Default::default())
        .map(|l| l.items)
        .unwrap_or_default()
    {
        let read: FirstSuccess = serde_json::from_slice(cs.json()).unwrap_or_default();
        if let Some(ago) = read
            .status
            .first_success_time
            .and_then(|t| sim.clock.seconds_since(&t))
        {
            first.insert(cs.head().namespace().to_string(), now - ago);
        }
    }
    let plan = hive_scale_core::adopt::AdoptPlan::new(Vec::new());
    arrived_at
        .iter()
        .enumerate()
        .map(|(i, at)| {
            let ns = plan.namespace_name(i as u32 + 1);
            Arrival {
                cluster: i + 1,
                arrived_at: *at,
                // Timestamps are whole seconds, so a latency can read a second short.
                latency: first.get(&ns).map(|t| (t - at).max(0.0)),
            }
        })
        .collect()
}

/// The baseline, where latencies start to stay above twice it, and the first 30-minute wait.
fn readings(arrivals: &[Arrival]) -> (Option<f64>, Option<usize>, Option<usize>) {
    let head = (arrivals.len() / 10).max(1);
    let mut early: Vec<f64> = arrivals[..head.min(arrivals.len())]
        .iter()
        .filter_map(|a| a.latency)
        .collect();
    early.sort_by(f64::total_cmp);
    let baseline = early.get(early.len() / 2).copied();
    let slow = |a: &Arrival, limit: f64| a.latency.is_none_or(|l| l > limit);
    let degraded_after = baseline.and_then(|b| {
        // The first arrival after which every later one is slow too.
        let last_fast = arrivals.iter().rposition(|a| !slow(a, 2.0 * b));
        match last_fast {
            Some(i) if i + 1 < arrivals.len() => Some(arrivals[i + 1].cluster),
            Some(_) => None,
            None => arrivals.first().map(|a| a.cluster),
        }
    });
    let over_30m_at = arrivals.iter().find(|a| slow(a, 1800.0)).map(|a| a.cluster);
    (baseline, degraded_after, over_30m_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(cluster: usize, latency: f64) -> Arrival {
        Arrival {
            cluster,
            arrived_at: cluster as f64 * 60.0,
            latency: Some(latency),
        }
    }

    #[test]
    fn readings_find_the_onset_and_the_half_hour() {
        let mut v: Vec<Arrival> = (1..=20).map(|i| a(i, 100.0)).collect();
        v[4].latency = Some(500.0); // a blip, not the onset
        v.extend((21..=30).map(|i| a(i, 300.0 + 200.0 * (i - 20) as f64)));
        let (base, onset, half_hour) = readings(&v);
        assert_eq!(base, Some(100.0));
        assert_eq!(onset, Some(21));
        assert_eq!(half_hour, Some(28), "1900 s at 28");
        let calm: Vec<Arrival> = (1..=10).map(|i| a(i, 100.0)).collect();
        assert_eq!(readings(&calm).1, None);
    }
}
