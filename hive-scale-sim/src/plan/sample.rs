//! Fleets too large to simulate whole: two smaller samples of the same fleet, extrapolated.
//!
//! Nothing in the cost model depends on how many objects the hub holds: a replica's rate is set
//! by its workers, cores and client, and the shared servers' capacities. So a sample of `n`
//! clusters drains at the fleet's rate in `n / N` of the time, provided everything measured in
//! fleet time (the re-apply interval, the adoption span, the limit, the sampling interval) is
//! shrunk by the same `n / N`, which keeps the re-applies' share of the replicas the same.
//! What does not shrink is what one cluster's job takes (its reconcile and applies, the last
//! jobs' tail, the client's burst): a fixed offset. Two samples, `n` and `2n`, give a line
//! through both, and the line is read at the fleet's size. That holds for a new cluster too:
//! alone it takes a fixed time, behind a backlog a time that grows with the backlog, which
//! grows with the fleet.
//!
//! With several replicas the line is drawn against the busiest replica's clusters (what sets
//! the drain), and read at the busiest shard the fleet is expected to have.
//!
//! `tests/fidelity.rs` measures the shortcut against whole simulations; docs/performance.md
//! records how far apart they are.

use super::analytic::busiest_shard;
use super::{PlanConfig, PlanError, PlanResult, plan_whole};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Fleets above this many clusters are sampled by default.
pub const ABOVE: usize = 2000;

/// Clusters per replica in the larger sample, at least: enough that every worker has a queue
/// of clusters behind it for most of the drain.
const PER_REPLICA: usize = 400;

/// Clusters per worker in the larger sample, at least.
const PER_WORKER: usize = 4;

/// The two samples a fleet was simulated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Samples {
    /// Clusters of the smaller sample.
    pub small: usize,
    /// Clusters of the larger sample (twice the smaller).
    pub large: usize,
}

/// The samples `cfg` is simulated as, or `None` when it is simulated whole.
pub fn sizes(cfg: &PlanConfig) -> Option<Samples> {
    let above = cfg.sample_above?;
    let per_replica = PER_REPLICA.max(PER_WORKER * cfg.model.workers);
    let large = per_replica * cfg.model.replicas.max(1);
    (cfg.clusters > above && cfg.clusters > large).then_some(Samples {
        small: large / 2,
        large,
    })
}

/// `cfg` shrunk to `clusters`: everything in fleet time scaled by `clusters / cfg.clusters`.
fn shrunk(cfg: &PlanConfig, clusters: usize) -> PlanConfig {
    let f = clusters as f64 / cfg.clusters as f64;
    let scale = |d: Duration| d.mul_f64(f);
    PlanConfig {
        clusters,
        sample_every: scale(cfg.sample_every).max(Duration::from_millis(100)),
        max_duration: scale(cfg.max_duration),
        adopt_over: cfg.adopt_over.map(scale),
        reapply_interval: scale(cfg.reapply_interval),
        sample_above: None,
        ..cfg.clone()
    }
}

/// How far past its adoption span a fleet adopted over one may take to sync and still be said
/// to keep up: a cluster's first sync is a few percent of the interval at most.
const ADOPTION_TAIL: f64 = 1.1;

/// Plans `cfg` from two samples (see the module's documentation).
///
/// # Errors
///
/// As [`super::plan`].
pub(super) fn plan_sampled(cfg: &PlanConfig, sizes: Samples) -> Result<PlanResult, PlanError> {
    let wall = Instant::now();
    let small = plan_whole(&shrunk(cfg, sizes.small))?;
    let mut large = plan_whole(&shrunk(cfg, sizes.large))?;
    let busiest = |r: &PlanResult| {
        r.per_replica
            .iter()
            .map(|p| p.clusters)
            .max()
            .unwrap_or(r.clusters) as f64
    };
    let (x1, x2) = (busiest(&small), busiest(&large));
    let x = busiest_shard(cfg.clusters, cfg.model.replicas) as f64;
    let line = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if x2 > x1 => Some(b + (b - a) / (x2 - x1) * (x - x2)),
        _ => None,
    };
    // A sample that did not drain within its share of the limit says the fleet does not
    // within the limit.
    let limit = cfg.max_duration.as_secs_f64();
    let drain = line(small.drain_seconds, large.drain_seconds).filter(|d| *d <= limit);
    let scale = cfg.clusters as f64 / sizes.large as f64;
    large.drain_seconds = drain;
    large.reapply_fits_2h = drain.is_some_and(|d| d <= 7200.0);
    large.new_set_seconds = line(small.new_set_seconds, large.new_set_seconds);
    // A fleet whose re-applies do not keep up meets a new set amid a backlog whose growth
    // the samples do not reproduce (at 10,000 clusters they said 148 s where the whole fleet
    // took 8,209 s): not measured, rather than wrong.
    let keeps_up = match cfg.adopt_over {
        None => drain.is_some_and(|d| d <= cfg.reapply_interval.as_secs_f64()),
        // Adopted over a span, a fleet that keeps up has synced a job's time after its last
        // adoption; one that does not has a backlog then, growing with the fleet.
        Some(span) => drain.is_some_and(|d| d <= span.as_secs_f64() * ADOPTION_TAIL),
    };
    large.new_cluster_seconds = line(small.new_cluster_seconds, large.new_cluster_seconds);
    if !keeps_up {
        large.new_set_measured = false;
        large.new_set_seconds = None;
        // Under load, a new cluster waits behind that backlog too.
        if cfg.adopt_over.is_some() {
            large.new_cluster_seconds = None;
        }
    }
    large.applies = (large.applies as f64 * scale).round() as u64;
    large.thrash = (large.thrash as f64 * scale).round() as u64;
    for r in &mut large.per_replica {
        r.clusters = (r.clusters as f64 * scale).round() as usize;
        r.peak_queue_depth = (r.peak_queue_depth as f64 * scale).round() as usize;
    }
    for s in &mut large.series {
        s.t *= scale;
        s.queue_depth = (s.queue_depth as f64 * scale).round() as usize;
        for r in &mut s.replicas {
            r.queue_depth = (r.queue_depth as f64 * scale).round() as usize;
        }
    }
    large.clusters = cfg.clusters;
    large.hub = crate::pressure::HubPressure::estimate(
        cfg.clusters,
        cfg.selectorsyncsets,
        cfg.model.pipeline,
    );
    large.sampled = Some(sizes);
    large.wall_seconds = wall.elapsed().as_secs_f64();
    Ok(large)
}
