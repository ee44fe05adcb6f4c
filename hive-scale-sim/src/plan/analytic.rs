//! The cost model in closed form, for searching many configurations quickly.
//!
//! Each replica is a closed queueing network: its workers circulate between its cores (a
//! multi-server station, approximated after Seidmann as one queue of a core's share plus a
//! fixed delay, once there are more workers than cores) and the waits that hold no core
//! (spoke and hub latencies, the fake helper's sleeps). Mean value analysis over the worker
//! count gives the replica's throughput; the shared spoke and the hub then cap the fleet's.
//! A new set amid the steady re-applies is a first-in, first-out queue worked through by the
//! workers, slowed by what was there before it and by the keys that reach a cluster whose
//! re-apply is due; a new cluster waits for a worker (Erlang C).
//!
//! The simulation on the virtual clock ([`super::plan`]) stays the reference: `recommend`
//! confirms what this finds there, and `tests/closed_form.rs` prints the two over a grid of
//! configurations, every figure within 25% (docs/performance.md gives the spread).

use crate::model::{ApplyMode, CostModel, FAKE_APPLY_MS, SpokeMode};
use hive_scale_core::api::Pipeline;
use serde::Serialize;

/// Hive's jitter window: up to 10% of the interval is added at random.
pub const JITTER: f64 = 0.1;

/// A cluster's mean cycle between two full re-applies, as a factor of the interval. Hive draws
/// the jitter afresh each time it asks whether a re-apply is due and each time it sets the
/// timer, so a cluster in its window is asked again and again until a draw falls below how
/// far in it is: the re-apply comes 68% of the way into the window on average, not half way
/// (`jitter_follows_from_hives_draws` works it out).
pub const MEAN_JITTER: f64 = 1.0 + JITTER * 0.679_486;

/// Hive's mean interval between two full re-applies of a cluster: 2 h plus a random 0-10%.
pub const REAPPLY_EVERY: f64 = 7200.0 * MEAN_JITTER;

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
    /// Seconds for one new SelectorSyncSet to reach every cluster while the steady re-applies
    /// run beside it (they take `reapply_load` of the replica).
    pub new_set_seconds: f64,
    /// The same on an idle hub.
    pub new_set_idle_seconds: f64,
    /// Seconds for a new cluster to get every set while the steady re-applies run.
    pub new_cluster_seconds: f64,
    /// The share of the busiest replica's capacity the steady re-applies take (a full
    /// re-apply every 2 h plus Hive's mean 5% jitter); 1 or more: it never keeps up.
    pub reapply_load: f64,
    /// Mean cores busy per replica while re-applying.
    pub cores_busy_per_replica: f64,
    /// What sets the re-apply rate.
    pub limited_by: Limit,
}

/// The busiest of `replicas` shards of `clusters` clusters under UID hashing: its expected
/// size.
pub fn busiest_shard(clusters: usize, replicas: usize) -> usize {
    // The expected largest of `replicas` near-normal counts: mean plus sigma * sqrt(2 ln r).
    shard_bound(
        clusters,
        replicas,
        (2.0 * (replicas.max(1) as f64).ln()).sqrt(),
    )
}

/// A size the busiest shard stays under but rarely (mean plus three standard deviations of a
/// shard, about one fleet in a hundred at ten replicas): what a confirmation should plan for.
pub fn busiest_shard_bound(clusters: usize, replicas: usize) -> usize {
    shard_bound(clusters, replicas, 3.0)
}

fn shard_bound(clusters: usize, replicas: usize, sigmas: f64) -> usize {
    if replicas <= 1 {
        return clusters;
    }
    let (n, p) = (clusters as f64, 1.0 / replicas as f64);
    let mean = n * p;
    (mean + sigmas * (n * p * (1.0 - p)).sqrt())
        .ceil()
        .min(n)
        .max(1.0) as usize
}

/// Mean wait of one apply that holds no core: spoke round trips, or the fake helper's sleep.
/// `first`: the content is new to the cluster.
fn apply_wait(m: &CostModel, first: bool) -> f64 {
    match m.apply_mode {
        // Client-side apply reads first and writes only what changed: content new to a
        // cluster's own API server (per-cluster spokes); on a shared spoke the first cluster
        // wrote it for all the others.
        ApplyMode::ClientSide if first && m.spokes == SpokeMode::PerCluster => {
            m.remote_get_latency + m.remote_write_latency
        }
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

/// What one kind of job writes to the hub: in all, and after its last apply.
#[derive(Debug, Clone, Copy)]
struct Writes {
    all: f64,
    after: f64,
}

impl Job {
    /// `reconciles` reconciles of one cluster applying `applies` resources (`first`: new to
    /// the cluster), writing `writes` to the hub.
    fn new(m: &CostModel, applies: usize, writes: Writes, reconciles: f64, first: bool) -> Self {
        let applies = applies as f64;
        // Every worker in an apply at once is the saturated case the drain spends its time in.
        let per_apply = m.apply_cpu_in(m.apply_mode, m.workers).as_secs_f64();
        // A real spoke's reconcile first builds a resource helper (the OpenAPI schema fetch).
        let helper = if m.apply_mode == ApplyMode::ClientSide {
            m.reconcile_remote_latency
        } else {
            0.0
        };
        Self {
            cpu: applies * per_apply + reconciles * m.reconcile_cpu().as_secs_f64(),
            wait: applies * apply_wait(m, first)
                + writes.all * m.hub_write_latency
                + reconciles * helper,
            applies,
            hub_writes: writes.all,
            writes_after: writes.after,
        }
    }
}

/// Jobs per second one replica finishes with `workers` workers on `cores` cores; the cores
/// busy; and the factor the process's coherency puts on every CPU burst at that load (the
/// fixed point of busy cores and what they cost, as the simulation's core pool charges it).
fn replica_throughput(job: &Job, workers: usize, cores: usize, coherency: f64) -> (f64, f64, f64) {
    let mut factor = 1.0;
    let (mut x, mut busy) = (0.0, 0.0);
    for _ in 0..60 {
        let costed = Job {
            cpu: job.cpu * factor,
            ..*job
        };
        (x, busy) = mva(&costed, workers, cores);
        let b = busy.max(1.0);
        let next = 1.0 + coherency * b * (b - 1.0);
        if (next - factor).abs() < 1e-6 * factor {
            break;
        }
        // Damped: a higher cost lowers the load that raised it.
        factor = 0.5 * (factor + next);
    }
    (x, busy, factor)
}

/// Jobs per second one replica finishes with `workers` workers on `cores` cores, by mean value
/// analysis with Seidmann's multi-server approximation; and the cores busy.
fn mva(job: &Job, workers: usize, cores: usize) -> (f64, f64) {
    let c = cores as f64;
    let (queued, fixed) = (job.cpu / c, job.cpu * (c - 1.0) / c);
    let (mut x, mut q) = (0.0, 0.0);
    for n in 1..=workers {
        if n <= cores {
            // No more workers than cores: each burst has a core to itself (Seidmann's
            // station would queue them behind one another).
            x = n as f64 / (job.cpu + job.wait).max(1e-12);
            q = x * queued;
            continue;
        }
        let r = queued * (1.0 + q);
        x = n as f64 / (r + fixed + job.wait).max(1e-12);
        q = x * r;
    }
    (x, (x * job.cpu).min(c))
}

/// Jobs per second of the whole fleet of `replicas` replicas, with the shared spoke's, the
/// hub's and the client limiter's caps; and each replica's cores busy.
fn fleet_throughput(m: &CostModel, job: &Job) -> (f64, f64, Limit) {
    let (per_replica, busy, factor) = replica_throughput(job, m.workers, m.cores, m.coherency);
    let mut x = per_replica * m.replicas as f64;
    // Most of the cores busy: they are what a replica waits for; else its workers are.
    let mut limit = if busy >= 0.85 * m.cores as f64 {
        Limit::Cores
    } else {
        Limit::Workers
    };
    if m.spokes == SpokeMode::Shared
        && let Some(cap) = m.spoke_capacity
    {
        let requests = job.applies * spoke_requests_per_apply(m);
        if requests > 0.0 && cap / requests < x {
            (x, limit) = (cap / requests, Limit::SharedSpoke);
        }
    }
    if job.hub_writes > 0.0
        && let Some(cap) = m.hub_capacity
        && cap / job.hub_writes < x
    {
        (x, limit) = (cap / job.hub_writes, Limit::HubApi);
    }
    let busy = (x / m.replicas as f64 * job.cpu * factor).min(m.cores as f64);
    (x, busy, limit)
}

/// What sets a configuration's re-apply rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// The replica's cores are (nearly) all busy.
    Cores,
    /// Cores are left idle: more workers would use them.
    Workers,
    /// The controllers' client rate towards the hub (`hub_qps`, per replica).
    HubClient,
    /// The one shared spoke's API server.
    SharedSpoke,
    /// The hub's API server.
    HubApi,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cores => "cores",
            Self::Workers => "workers",
            Self::HubClient => "hub client QPS",
            Self::SharedSpoke => "shared spoke",
            Self::HubApi => "hub API",
        })
    }
}

/// What the closed form predicts for `fleet` under `m` (today's pipeline).
pub fn estimate(m: &CostModel, fleet: Fleet) -> Estimate {
    estimate_shard(m, fleet, busiest_shard(fleet.clusters, m.replicas))
}

/// [`estimate`] for a busiest replica of `busiest` clusters (the others have no more), such
/// as [`busiest_shard_bound`]'s.
pub fn estimate_shard(m: &CostModel, fleet: Fleet, busiest: usize) -> Estimate {
    debug_assert_eq!(m.pipeline, Pipeline::ClusterSync);
    let busiest = busiest.clamp(1, fleet.clusters.max(1));
    let pairs = fleet.sets * fleet.resources;
    // The time for the busiest replica's `busiest` jobs of one kind: the fleet's rate is
    // shared evenly, the busiest replica has more than its part; and no faster than its
    // client lets the jobs write to the hub.
    let time = |job: &Job| {
        let (x, busy, limit) = fleet_throughput(m, job);
        let share = busiest as f64 * m.replicas as f64 / x.max(1e-12);
        let paced = paced(m, busiest, job);
        if paced > share {
            (paced, busy, Limit::HubClient)
        } else {
            (share, busy, limit)
        }
    };
    // A full re-apply: every set again, unchanged; the status stays as it was and only the
    // lease is renewed.
    let full = Job::new(
        m,
        pairs,
        Writes {
            all: 1.0,
            after: 1.0,
        },
        1.0,
        false,
    );
    let (reapply, busy, limited_by) = time(&full);
    // The first sync: a reconcile that creates the ClusterSync (one write), then the above.
    let first = Job::new(
        m,
        pairs,
        Writes {
            all: 3.0,
            after: 2.0,
        },
        2.0,
        true,
    );
    let (first_sync, _, _) = time(&first);
    // A new set: each cluster reconciles once, applies the set's resources, writes status.
    let new_set = Job::new(
        m,
        fleet.resources,
        Writes {
            all: 1.0,
            after: 1.0,
        },
        1.0,
        true,
    );
    let (fan_out, _, _) = time(&new_set);
    // A new cluster alone: the ClusterSync created, then everything, new to it.
    let creation = Job::new(
        m,
        0,
        Writes {
            all: 1.0,
            after: 0.0,
        },
        1.0,
        false,
    );
    let everything = Job::new(
        m,
        pairs,
        Writes {
            all: 2.0,
            after: 2.0,
        },
        1.0,
        true,
    );
    let applies = (fleet.clusters * pairs) as f64;
    // The share of the replica's workers the re-applies that keep coming take.
    let load = reapply / REAPPLY_EVERY;
    let new_set_idle = fan_out + one(m, &new_set);
    // The CPU bursts that share a core with one worker's, its own included: each busy worker
    // is on a core `busy / workers` of its time, and a `load` share of the others are busy.
    let on_cpu = (busy / m.workers.max(1) as f64).min(1.0);
    let others = load.min(1.0) * (m.workers.saturating_sub(1)) as f64 * on_cpu;
    let share = ((1.0 + others) / m.cores as f64).max(1.0);
    // One cluster's full re-apply on one worker amid the others.
    let per_job = one_beside(m, &full, share);
    let new_set_seconds = if load < 1.0 {
        let per_worker = m.workers as f64 / busiest.max(1) as f64;
        Amid {
            keys: busiest as f64,
            workers: m.workers as f64,
            small: fan_out * per_worker,
            full: reapply * per_worker,
            full_after: per_job,
            load,
            last: one(m, &new_set),
        }
        .new_set()
    } else {
        f64::INFINITY
    };
    // A new cluster waits for a free worker among the re-applies (Erlang C over the
    // replica's workers) twice: Hive creates its ClusterSync and requeues it, to the back of
    // the queue; then it runs beside the re-applies.
    let new_cluster = if load < 1.0 {
        let wait = waiting(m.workers, load, per_job) * per_job / (m.workers as f64 * (1.0 - load));
        // While it holds a worker, the others carry all the re-applies.
        let others = (load * m.workers as f64).min(m.workers.saturating_sub(1) as f64) * on_cpu;
        let beside = ((1.0 + others) / m.cores as f64).max(1.0);
        2.0 * wait + one_beside(m, &creation, beside) + one_beside(m, &everything, beside)
    } else {
        f64::INFINITY
    };
    Estimate {
        busiest_replica_clusters: busiest,
        applies_per_second: applies / reapply.max(1e-12),
        reapply_seconds: reapply + one(m, &full),
        first_sync_seconds: first_sync + one(m, &first),
        new_set_seconds,
        new_set_idle_seconds: new_set_idle,
        new_cluster_seconds: new_cluster,
        reapply_load: load,
        cores_busy_per_replica: busy,
        limited_by,
    }
}

/// The share of a new set's keys that reach a cluster whose full re-apply Hive finds due
/// although no timer said so: a cluster `x` of the way into its jitter window is due with
/// chance `x` at each ask. Over a mean cycle, the integral of that up to where the re-apply
/// comes (`jitter_follows_from_hives_draws`): 2.4% of the keys.
const DUE_IN_JITTER: f64 = 0.023_878;

/// A new set on one replica amid its steady re-applies. Every time is on a worker while all
/// the workers are busy (`full_after` excepted).
struct Amid {
    /// The clusters, each queued once.
    keys: f64,
    workers: f64,
    /// One cluster's new set.
    small: f64,
    /// One cluster's full re-apply.
    full: f64,
    /// The same once the set has gone by (the cores less busy).
    full_after: f64,
    /// The re-applies' share of the workers.
    load: f64,
    /// The last cluster's new set on an otherwise idle replica.
    last: f64,
}

impl Amid {
    /// Seconds until every cluster has the set. The queue is first in, first out, so the
    /// re-applies that come due while the set's keys wait queue behind them; what delays
    /// the set is what was already there (the re-applies in progress and queued) and the keys
    /// of clusters whose re-apply is due when they are reached: those re-apply everything and
    /// bring the set last. The keys are worked through as a fluid on the workers; the set has
    /// reached every cluster when that ends, or when the last full re-apply it waits on ends,
    /// whichever is later.
    fn new_set(&self) -> f64 {
        let in_progress = self.load * self.workers;
        let queued =
            waiting(self.workers as usize, self.load, self.full) * self.load / (1.0 - self.load);
        // Due when reached: in the jitter window, or its timer fired while the key waited.
        let due = |t: f64| (DUE_IN_JITTER + t / (2.0 * REAPPLY_EVERY)).min(1.0);
        // A worker's time spent by `t`: what was in progress (a residual uniform over one
        // re-apply), what was queued, the set's keys, and the re-applies among them (reached
        // evenly over `t`), none past `t`.
        let spent = |t: f64| {
            let residual = if t >= self.full {
                self.full / 2.0
            } else {
                t - t * t / (2.0 * self.full)
            };
            let converted = if t <= self.full {
                t / 2.0
            } else {
                self.full - self.full * self.full / (2.0 * t)
            };
            in_progress * residual
                + queued * t.min(self.full)
                + self.keys * (1.0 - due(t)) * self.small
                + self.keys * due(t) * converted
        };
        // The keys are all reached when the workers have spent that much: the least `t` with
        // `workers * t >= spent(t)`.
        let (mut lo, mut hi) = (0.0, self.keys * self.full.max(self.small) + self.full);
        if self.workers * hi < spent(hi) {
            return f64::INFINITY;
        }
        for _ in 0..50 {
            let mid = (lo + hi) / 2.0;
            if self.workers * mid >= spent(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let reached = hi;
        // What runs on past `reached`, at the pace of a replica the set has left: a re-apply
        // started at `t` has `1 - (reached - t) / full` of its work left.
        let left = |since: f64| (1.0 - since / self.full).max(0.0) * self.full_after;
        let converted = self.keys * due(reached);
        // The chance nothing still running would end after `x` past `reached`: the re-applies
        // the keys turned into (a Poisson process over `0..reached`), the ones in progress
        // (their own cluster's key follows them), the queued ones (started at once).
        let none_after = |x: f64| {
            let window = if x >= self.full_after {
                0.0
            } else {
                (self.full * (1.0 - x / self.full_after)).min(reached)
            };
            let from_keys = converted / reached.max(1e-9) * window;
            let tail = 1.0 - reached / self.full - (x - self.last).max(0.0) / self.full_after;
            let from_progress = in_progress * tail.max(0.0);
            let from_queue = if x < left(reached) { queued } else { 0.0 };
            (-(from_keys + from_progress + from_queue)).exp()
        };
        // E[max(last, X)] = last + the integral of P(X > x) above it.
        const STEPS: usize = 64;
        let span = self.full_after + self.last;
        let dx = span / STEPS as f64;
        let after: f64 = (0..STEPS)
            .map(|i| self.last + (i as f64 + 0.5) * dx)
            .map(|x| 1.0 - none_after(x))
            .sum::<f64>()
            * dx;
        reached + self.last + after
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
    one_beside(m, job, 1.0)
}

/// One job on a replica whose cores each run `share` CPU bursts at once (1: a core to
/// itself), the job's own included.
fn one_beside(m: &CostModel, job: &Job, share: f64) -> f64 {
    let alone = m.apply_cpu_in(m.apply_mode, 1).as_secs_f64();
    let busy = m.apply_cpu_in(m.apply_mode, m.workers).as_secs_f64();
    let cpu = if busy > 0.0 {
        job.cpu * alone / busy
    } else {
        job.cpu
    };
    cpu * share.max(1.0) + job.wait
}

/// The chance a job finds every worker busy, scaled for how regular the re-applies are
/// (Allen and Cunneen: Erlang C times `(Ca^2 + Cs^2) / 2`). A cluster's re-apply takes about
/// the same time every time (`Cs^2` 0). Each comes once per cycle somewhere in its jitter
/// window: over one job's length `job`, the clusters whose windows cover it each come with
/// chance `job / window`, so the count varies as a binomial's, `1 - job / window` of a
/// Poisson's.
fn waiting(workers: usize, load: f64, job: f64) -> f64 {
    let window = JITTER * REAPPLY_EVERY / MEAN_JITTER;
    let arrivals = (1.0 - job / window).clamp(0.0, 1.0);
    erlang_c(workers, load) * arrivals / 2.0
}

/// Erlang's C formula: the chance that a job arriving at `servers` servers, each busy a
/// `utilization` share of the time, finds them all busy and waits.
fn erlang_c(servers: usize, utilization: f64) -> f64 {
    let (c, a) = (servers.max(1) as f64, utilization * servers.max(1) as f64);
    // The Erlang B recursion, stable for hundreds of servers, then C from B.
    let mut b = 1.0;
    for k in 1..=servers.max(1) {
        b = a * b / (k as f64 + a * b);
    }
    let rho = a / c;
    (b / (1.0 - rho + rho * b)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where in its window a cluster re-applies, worked out from Hive's draws: at a check `x`
    /// of the way into the window (the window's length is 1), it is due with chance `x`;
    /// else the timer is set again with a fresh draw, later in the window (uniform on
    /// `x..1`) or at once (the same check again). `v` is the density of checks at `x`: one
    /// from the first timer, plus those moved up from earlier checks.
    #[test]
    fn jitter_follows_from_hives_draws() {
        let n = 100_000;
        let (mut v, mut total, mut mean, mut square) = (1.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            let x = (i as f64 + 0.5) / n as f64;
            let due = x / (x + (1.0 - x) * (1.0 - x));
            let leaves = v * due / n as f64;
            (total, mean, square) = (total + leaves, mean + x * leaves, square + x * x * leaves);
            v += v * (1.0 - due) / (1.0 - x) / n as f64;
        }
        assert!((total - 1.0).abs() < 1e-4, "{total}");
        assert!((MEAN_JITTER - (1.0 + JITTER * mean)).abs() < 1e-5, "{mean}");
        // Due when reached: the window's share of a mean cycle, weighted by the chance.
        let due = (square / 2.0) / (1.0 / JITTER + mean);
        assert!((DUE_IN_JITTER - due).abs() < 1e-5, "{due}");
    }

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
        // 600 applies one after another over a WAN, each a GET and a create of 0.2 s and
        // 0.019 / 1.3 s of CPU, after two reconciles (the ClusterSync's creation, then the
        // sets) that each fetch the spoke's schema for 3 s.
        let expected = 600.0 * (0.019 / 1.3 + 0.2 + 0.2) + 2.0 * 3.0;
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

/// A ramp as `scaletest --ramp` runs it: clusters added `step` at a time up to `clusters`, one
/// step every `every` modeled seconds, each step healthy while its new clusters sync within
/// the step and a change to one set reaches every cluster within `target_fanout`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    /// Clusters added per step.
    pub step: usize,
    /// Most clusters offered.
    pub clusters: usize,
    /// Sets on every cluster and resources per set.
    pub sets: usize,
    /// Resources per set.
    pub resources: usize,
    /// Modeled seconds per step.
    pub every: f64,
    /// Longest acceptable fan-out of a change, modeled seconds.
    pub target_fanout: f64,
}

/// The knee the closed form predicts for `ramp` under `m`: the clusters of the last healthy
/// step, and whether a step failed (else the knee is at least `ramp.clusters`).
pub fn knee(m: &CostModel, ramp: Ramp) -> (usize, bool) {
    let step = ramp.step.max(1);
    let mut held = 0;
    let mut n = 0;
    while n < ramp.clusters {
        let before = n;
        n = (n + step).min(ramp.clusters);
        let added = n - before;
        // The step's clusters' first sync, the hub otherwise idle.
        let sync = estimate(
            m,
            Fleet {
                clusters: added,
                sets: ramp.sets,
                resources: ramp.resources,
            },
        )
        .first_sync_seconds;
        // A change to one set on every cluster: the same work as a new set (its resources on
        // each cluster and a status write), on a hub that has synced.
        let change = estimate(
            m,
            Fleet {
                clusters: n,
                sets: ramp.sets,
                resources: ramp.resources,
            },
        )
        .new_set_idle_seconds;
        if sync > ramp.every || change > ramp.target_fanout {
            return (held, true);
        }
        held = n;
    }
    (held, false)
}
