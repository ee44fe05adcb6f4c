//! The cost model in closed form, for searching many configurations quickly.
//!
//! Each replica is a closed queueing network: its workers circulate between its cores (a
//! multi-server station, approximated after Seidmann as one queue of a core's share plus a
//! fixed delay) and the waits that hold no core (spoke and hub latencies, the fake helper's
//! sleeps). Mean value analysis over the worker count gives the replica's throughput; the
//! shared spoke and the hub then cap the fleet's. The simulation on the virtual clock
//! ([`super::plan`]) stays the reference: `recommend` confirms what this finds there, and a
//! test holds the two within a few percent of each other.

use crate::model::{ApplyMode, CostModel, FAKE_APPLY_MS, SpokeMode};
use hive_scale_core::api::Pipeline;
use serde::Serialize;

/// A fleet: what every replica's clusters carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fleet {
    /// Clusters on the hub.
    pub clusters: usize,
    /// SelectorSyncSets matching every cluster.
    pub sets: usize,
    /// Resources per set.
    pub resources: usize,
}

/// What the closed form predicts for one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Clusters of the busiest replica (UID hashing spreads them binomially; the expected
    /// largest share).
    pub busiest_replica_clusters: usize,
    /// Resource applies per second of the whole fleet while re-applying everything.
    pub applies_per_second: f64,
    /// Seconds for a full re-apply of every (set, cluster) pair.
    pub reapply_seconds: f64,
    /// Seconds for the first sync of every pair (each cluster's ClusterSync created first).
    pub first_sync_seconds: f64,
    /// Seconds for one new SelectorSyncSet to reach every cluster.
    pub new_set_seconds: f64,
    /// Seconds for a new cluster to get every set, on an otherwise idle replica.
    pub new_cluster_seconds: f64,
    /// Mean cores busy per replica while re-applying.
    pub cores_busy_per_replica: f64,
}

/// The busiest of `replicas` shards of `clusters` clusters under UID hashing.
pub fn busiest_shard(clusters: usize, replicas: usize) -> usize {
    if replicas <= 1 {
        return clusters;
    }
    // The expected largest of `replicas` near-normal counts: mean plus sigma * sqrt(2 ln r).
    let (n, p) = (clusters as f64, 1.0 / replicas as f64);
    let mean = n * p;
    let spread = (2.0 * (replicas as f64).ln()).sqrt();
    (mean + spread * (n * p * (1.0 - p)).sqrt())
        .ceil()
        .min(n)
        .max(1.0) as usize
}

/// Mean wait of one apply that holds no core: spoke round trips, or the fake helper's sleep.
fn apply_wait(m: &CostModel) -> f64 {
    match m.apply_mode {
        // Client-side apply reads first and writes only what changed; the planner's clusters
        // are clones of one spoke whose content the first cluster already wrote.
        ApplyMode::ClientSide => m.remote_get_latency,
        ApplyMode::ServerSide => m.remote_write_latency,
        ApplyMode::Fake => {
            FAKE_APPLY_MS.iter().sum::<u64>() as f64 / FAKE_APPLY_MS.len() as f64 / 1000.0
        }
    }
}

/// Spoke requests one apply sends.
fn spoke_requests_per_apply(m: &CostModel) -> f64 {
    match m.apply_mode {
        ApplyMode::ClientSide | ApplyMode::ServerSide => 1.0,
        ApplyMode::Fake => 0.0,
    }
}

/// One kind of job a worker does: a reconcile of one cluster with `applies` applies and
/// `hub_writes` writes to the hub.
#[derive(Debug, Clone, Copy)]
struct Job {
    cpu: f64,
    wait: f64,
    applies: f64,
    hub_writes: f64,
    /// Of those, the writes after the job's last apply (status, lease): the last jobs' are
    /// not waited for before every pair has applied.
    writes_after: f64,
}

impl Job {
    fn new(m: &CostModel, applies: usize, hub_writes: f64, reconciles: f64) -> Self {
        // A full sync writes status and lease after its applies, a new set only the status.
        let writes_after = hub_writes.min(if applies > 0 { 2.0 } else { 0.0 });
        let applies = applies as f64;
        // Every worker in an apply at once is the saturated case the drain spends its time in.
        let per_apply = m.apply_cpu_in(m.apply_mode, m.workers).as_secs_f64();
        Self {
            cpu: applies * per_apply + reconciles * m.reconcile_cpu().as_secs_f64(),
            wait: applies * apply_wait(m) + hub_writes * m.hub_write_latency,
            applies,
            hub_writes,
            writes_after,
        }
    }
}

/// Jobs per second one replica finishes with `workers` workers on `cores` cores, by mean value
/// analysis with Seidmann's multi-server approximation; and the cores busy.
fn replica_throughput(job: &Job, workers: usize, cores: usize) -> (f64, f64) {
    let c = cores as f64;
    let (queued, fixed) = (job.cpu / c, job.cpu * (c - 1.0) / c);
    let (mut x, mut q) = (0.0, 0.0);
    for n in 1..=workers {
        let r = queued * (1.0 + q);
        x = n as f64 / (r + fixed + job.wait).max(1e-12);
        q = x * r;
    }
    (x, (x * job.cpu).min(c))
}

/// Jobs per second of the whole fleet of `replicas` replicas, with the shared spoke's, the
/// hub's and the client limiter's caps; and each replica's cores busy.
fn fleet_throughput(m: &CostModel, job: &Job) -> (f64, f64) {
    let (per_replica, _) = replica_throughput(job, m.workers, m.cores);
    let mut x = per_replica * m.replicas as f64;
    if m.spokes == SpokeMode::Shared
        && let Some(cap) = m.spoke_capacity
    {
        let requests = job.applies * spoke_requests_per_apply(m);
        if requests > 0.0 {
            x = x.min(cap / requests);
        }
    }
    if job.hub_writes > 0.0
        && let Some(cap) = m.hub_capacity
    {
        x = x.min(cap / job.hub_writes);
    }
    let busy = (x / m.replicas as f64 * job.cpu).min(m.cores as f64);
    (x, busy)
}

/// What the closed form predicts for `fleet` under `m` (today's pipeline).
pub fn estimate(m: &CostModel, fleet: Fleet) -> Estimate {
    debug_assert_eq!(m.pipeline, Pipeline::ClusterSync);
    let busiest = busiest_shard(fleet.clusters, m.replicas);
    let pairs = fleet.sets * fleet.resources;
    // The time for the busiest replica's `busiest` jobs of one kind: the fleet's rate is
    // shared evenly, the busiest replica has more than its part; and no faster than its
    // client lets the jobs write to the hub.
    let time = |job: &Job| {
        let (x, busy) = fleet_throughput(m, job);
        let share = busiest as f64 * m.replicas as f64 / x.max(1e-12);
        (share.max(paced(m, busiest, job)), busy)
    };
    // A full re-apply: every set, the status and the lease written.
    let full = Job::new(m, pairs, 2.0, 1.0);
    let (reapply, busy) = time(&full);
    // The first sync: a reconcile that creates the ClusterSync (one write), then the above.
    let first = Job::new(m, pairs, 3.0, 2.0);
    let (first_sync, _) = time(&first);
    // A new set: each cluster reconciles once, applies the set's resources, writes status.
    let new_set = Job::new(m, fleet.resources, 1.0, 1.0);
    let (fan_out, _) = time(&new_set);
    // A new cluster alone: the ClusterSync created, then everything.
    let creation = Job::new(m, 0, 1.0, 1.0);
    let applies = (fleet.clusters * pairs) as f64;
    Estimate {
        busiest_replica_clusters: busiest,
        applies_per_second: applies / reapply.max(1e-12),
        reapply_seconds: reapply + one(m, &full),
        first_sync_seconds: first_sync + one(m, &first),
        new_set_seconds: fan_out + one(m, &new_set),
        new_cluster_seconds: one(m, &creation) + one(m, &full),
        cores_busy_per_replica: busy,
    }
}

/// The least time a replica's client lets `jobs` jobs write to the hub: past its burst, one
/// write per `1 / hub_qps` (each replica has its own client).
fn paced(m: &CostModel, jobs: usize, job: &Job) -> f64 {
    // The burst is full: writes between re-applies are few, so it has refilled.
    match m.hub_qps {
        Some(qps) => {
            let last_round = jobs.min(m.workers) as f64 * job.writes_after;
            let writes = jobs as f64 * job.hub_writes - last_round;
            (writes - f64::from(crate::model::HUB_CLIENT_BURST)).max(0.0) / qps
        }
        None => 0.0,
    }
}

/// One job alone on an idle replica: its CPU at one apply in flight, and its waits.
fn one(m: &CostModel, job: &Job) -> f64 {
    let alone = m.apply_cpu_in(m.apply_mode, 1).as_secs_f64();
    let busy = m.apply_cpu_in(m.apply_mode, m.workers).as_secs_f64();
    let cpu = if busy > 0.0 {
        job.cpu * alone / busy
    } else {
        job.cpu
    };
    cpu + job.wait
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_and_single_jobs() {
        assert_eq!(busiest_shard(1000, 1), 1000);
        let b = busiest_shard(1000, 4);
        assert!((255..=290).contains(&b), "{b}");
        let m = CostModel::preset("m5.xlarge").unwrap();
        let e = estimate(
            &m,
            Fleet {
                clusters: 1,
                sets: 60,
                resources: 10,
            },
        );
        // 600 applies one after another: about 600 x (0.267 / 1.3 + 0.016) s.
        let expected = 600.0 * (0.267 / 1.3 + 0.016);
        assert!(
            (e.new_cluster_seconds / expected - 1.0).abs() < 0.05,
            "{e:?}"
        );
    }

    #[test]
    fn more_cores_help_until_the_workers_are_the_limit() {
        let mut m = CostModel::preset("c5.9xlarge").unwrap();
        let fleet = Fleet {
            clusters: 1000,
            sets: 60,
            resources: 10,
        };
        m.workers = 20;
        let rate = |m: &CostModel| estimate(m, fleet).applies_per_second;
        let (c8, c36) = (
            rate(&CostModel {
                cores: 8,
                ..m.clone()
            }),
            rate(&CostModel {
                cores: 36,
                ..m.clone()
            }),
        );
        assert!(c36 > 2.0 * c8, "{c8} {c36}");
        let c96 = rate(&CostModel {
            cores: 96,
            ..m.clone()
        });
        assert!(
            (c96 / c36 - 1.0).abs() < 0.05,
            "20 workers cannot use 96 cores"
        );
    }
}
