//! The SRE's question: for this fleet, how many clustersync replicas, workers and cores meet
//! the targets, at the least cost? The closed form ([`super::analytic`]) searches every
//! configuration within the limits; the cheapest ones that meet the targets are then run on the
//! virtual clock, and the first the simulation confirms is the answer. When none fits, the
//! fleet is split across hubs until one does.

use super::analytic::{self, Estimate, Fleet};
use super::{PlanConfig, PlanError, plan};
use crate::model::{CostModel, SpokeMode};
use crate::pressure::HubPressure;
use serde::Serialize;
use std::time::Duration;

/// What the fleet must achieve; `None` is no target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Targets {
    /// One new SelectorSyncSet reaches every cluster within this.
    pub fanout: Option<Duration>,
    /// A full re-apply of every (set, cluster) pair fits in this (Hive re-applies every 2h).
    pub reapply: Option<Duration>,
    /// A new cluster gets every set within this.
    pub new_cluster: Option<Duration>,
}

/// The configurations that may be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// clustersync replicas at most.
    pub max_replicas: usize,
    /// Cores per replica at most (the largest pod a worker node fits).
    pub max_cores: usize,
    /// Workers per replica at most.
    pub max_workers: usize,
    /// Hubs the fleet may be split across at most, when one hub cannot meet the targets (the
    /// search looks further, to say how many hubs it would take).
    pub max_hubs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_replicas: 10,
            max_cores: 96,
            max_workers: 200,
            max_hubs: 100,
        }
    }
}

/// One configuration and what is predicted for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// clustersync replicas.
    pub replicas: usize,
    /// Workers per replica.
    pub workers: usize,
    /// Cores per replica.
    pub cores: usize,
    /// Cores in all: what the search minimizes first.
    pub total_cores: usize,
    /// The closed form's figures.
    pub predicted: Estimate,
    /// The simulation's figures, for the candidates it ran.
    pub confirmed: Option<Confirmation>,
}

/// What the simulation on the virtual clock found for a candidate: its busiest replica's
/// shard run with its share of the shared servers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Confirmation {
    /// Seconds until every pair applied once from nothing (every pair new to its cluster): at
    /// least what a periodic re-apply of unchanged content takes.
    pub reapply_seconds: Option<f64>,
    /// Seconds for one new set to reach every cluster.
    pub new_set_seconds: Option<f64>,
    /// Seconds for a new cluster to get every set.
    pub new_cluster_seconds: Option<f64>,
    /// Whether these meet the targets.
    pub meets: bool,
    /// Runs with other seeds whose new set and new cluster are averaged (one on a shard of
    /// 200 clusters or more).
    pub draws: usize,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// Clusters per hub the answer is for (the whole fleet when `hubs` is 1).
    pub clusters_per_hub: usize,
    /// Hubs the fleet needs: 1 when one hub meets the targets and Hive's per-hub guidance.
    pub hubs: usize,
    /// Whether `hubs` is within the limit on hubs. When it is not, the candidates say what
    /// `hubs` hubs would need, and the fleet does not fit within the limits.
    pub within_limits: bool,
    /// Why more than one hub, when so.
    pub split_because: Option<String>,
    /// The cheapest configurations that meet the targets, cheapest first (empty when none
    /// does within the limits, even split across `max_hubs` hubs).
    pub candidates: Vec<Candidate>,
    /// The one the simulation confirmed, when one was.
    pub chosen: Option<Candidate>,
    /// What one hub holds.
    pub hub: HubPressure,
    /// Configurations the closed form evaluated.
    pub searched: usize,
    /// Whether the simulation was asked to confirm the candidates.
    pub simulated: bool,
}

/// Worker counts tried (every count up to 20, then in steps); cores are tried one by one.
const WORKERS: [usize; 31] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 25, 30, 35, 40, 50, 60,
    75, 100, 125, 150, 200,
];
/// Rounds of search, confirmation and correction before giving up.
const CORRECTIONS: usize = 3;

/// How far the simulation's figures came out above the closed form's, per target.
#[derive(Debug, Clone, Copy)]
struct Margin {
    reapply: f64,
    new_set: f64,
    new_cluster: f64,
}

impl Default for Margin {
    fn default() -> Self {
        Self {
            reapply: 1.0,
            new_set: 1.0,
            new_cluster: 1.0,
        }
    }
}

impl Margin {
    fn widen(&mut self, predicted: &Estimate, seen: &Confirmation) {
        let ratio = |seen: Option<f64>, predicted: f64| {
            seen.map_or(1.0, |s| (s / predicted.max(1e-9)).max(1.0))
        };
        self.reapply = self
            .reapply
            .max(ratio(seen.reapply_seconds, predicted.first_sync_seconds));
        self.new_set = self
            .new_set
            .max(ratio(seen.new_set_seconds, predicted.new_set_seconds));
        self.new_cluster = self.new_cluster.max(ratio(
            seen.new_cluster_seconds,
            predicted.new_cluster_seconds,
        ));
    }

    /// The targets the closed form must meet for the simulation to meet `targets`.
    fn tighten(&self, targets: &Targets) -> Targets {
        let scale = |t: Option<Duration>, by: f64| t.map(|t| t.div_f64(by));
        Targets {
            fanout: scale(targets.fanout, self.new_set),
            reapply: scale(targets.reapply, self.reapply),
            new_cluster: scale(targets.new_cluster, self.new_cluster),
        }
    }
}

/// Hubs the search splits a fleet across at most.
const SPLIT_AT_MOST: usize = 10_000;
/// Candidates shown.
const SHOWN: usize = 5;
/// A shard of `n` clusters, fewer than this, has its new set and new cluster simulated
/// `DRAW_CLUSTERS / n` times, at most [`MAX_DRAWS`].
const DRAW_CLUSTERS: usize = 200;
/// Runs a confirmation averages at most.
const MAX_DRAWS: usize = 10;
/// Candidates the simulation runs before giving up on confirming one.
const CONFIRM_AT_MOST: usize = 3;

fn steps(list: &[usize], max: usize) -> Vec<usize> {
    let mut v: Vec<usize> = list.iter().copied().filter(|v| *v <= max).collect();
    if !v.contains(&max) && max >= 1 {
        v.push(max);
    }
    v
}

/// What the search minimizes, in order.
fn cost(c: &Candidate) -> (usize, usize, usize) {
    (c.total_cores, c.replicas, c.workers)
}

fn same_shape(a: &Candidate, b: &Candidate) -> bool {
    cost(a) == cost(b) && a.cores == b.cores
}

/// The same replicas and workers, and the closed form's figures within 2%: a simulation of
/// one says what one of the other would.
fn similar(a: &Candidate, b: &Candidate) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 0.02 * x.abs().max(y.abs());
    let (p, q) = (&a.predicted, &b.predicted);
    (a.replicas, a.workers) == (b.replicas, b.workers)
        && close(p.first_sync_seconds, q.first_sync_seconds)
        && close(p.new_set_seconds, q.new_set_seconds)
        && close(p.new_cluster_seconds, q.new_cluster_seconds)
}

fn meets(targets: &Targets, reapply: f64, new_set: f64, new_cluster: f64) -> bool {
    let within = |t: Option<Duration>, v: f64| t.is_none_or(|t| v <= t.as_secs_f64());
    within(targets.reapply, reapply)
        && within(targets.fanout, new_set)
        && within(targets.new_cluster, new_cluster)
}

/// Every configuration within `limits` that the closed form says meets `targets`, cheapest
/// first: fewest cores in all, then fewest replicas, then fewest workers.
fn search(
    base: &CostModel,
    fleet: Fleet,
    targets: &Targets,
    limits: &Limits,
) -> (Vec<Candidate>, usize) {
    let mut found = Vec::new();
    let mut searched = 0;
    for replicas in 1..=limits.max_replicas.max(1) {
        for cores in 1..=limits.max_cores.max(1) {
            // The fewest workers that meet the targets on this shape; more only cost memory.
            for &workers in &steps(&WORKERS, limits.max_workers) {
                searched += 1;
                let m = CostModel {
                    replicas,
                    workers,
                    cores,
                    ..base.clone()
                };
                // The shard the confirmation simulates, the one the answer must hold for.
                let shard = analytic::busiest_shard_bound(fleet.clusters, replicas);
                let e = analytic::estimate_shard(&m, fleet, shard);
                // The re-apply target is held against a full round from nothing, what the
                // confirming simulation runs: every pair new to its cluster, so at least what a
                // periodic re-apply of unchanged content takes.
                if meets(
                    targets,
                    e.first_sync_seconds,
                    e.new_set_seconds,
                    e.new_cluster_seconds,
                ) {
                    found.push(Candidate {
                        replicas,
                        workers,
                        cores,
                        total_cores: replicas * cores,
                        predicted: e,
                        confirmed: None,
                    });
                    break;
                }
            }
        }
    }
    found.sort_by(|a, b| {
        (a.total_cores, a.replicas, a.workers)
            .cmp(&(b.total_cores, b.replicas, b.workers))
            .then(
                a.predicted
                    .reapply_seconds
                    .total_cmp(&b.predicted.reapply_seconds),
            )
    });
    (found, searched)
}

/// Runs `c` on the virtual clock: its busiest replica's shard alone, with that replica's share
/// of the shared spoke and the hub (replicas are otherwise independent); once for a full round
/// of re-applies, once for a new set and a new cluster amid the steady re-applies of a fleet
/// that grew over the interval.
fn confirm(
    base: &CostModel,
    fleet: Fleet,
    targets: &Targets,
    c: &Candidate,
) -> Result<Confirmation, PlanError> {
    let share = |cap: Option<f64>| cap.map(|v| v / c.replicas as f64);
    let mut m = CostModel {
        replicas: 1,
        workers: c.workers,
        cores: c.cores,
        hub_capacity: share(base.hub_capacity),
        ..base.clone()
    };
    if m.spokes == SpokeMode::Shared {
        m.spoke_capacity = share(base.spoke_capacity);
    }
    let mut cfg = PlanConfig::new(m);
    // The busiest shard a fleet is likely to get, not just the expected one: the answer has
    // to hold for the fleet the SRE has.
    (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (
        analytic::busiest_shard_bound(fleet.clusters, c.replicas),
        fleet.sets,
        fleet.resources,
    );
    cfg.max_duration = limit_for(targets);
    // A shard larger than a representative sample is simulated as two samples
    // ([`super::sample`]): `tests/fidelity.rs` holds them to whole simulations.
    cfg.sample_above = Some(0);
    // A full round: every cluster's sets at once, as after an outage or a restart.
    let round = plan(&PlanConfig {
        probe_new_set: false,
        ..cfg.clone()
    })?;
    let steady = steady(&cfg)?;
    let (new_set, new_cluster) = (steady.new_set_seconds, steady.new_cluster_seconds);
    let reapply = round.drain_seconds;
    let ok = match (reapply, new_set, new_cluster) {
        (Some(r), Some(n), Some(c)) => meets(targets, r, n, c),
        _ => false,
    };
    Ok(Confirmation {
        draws: steady.draws,
        reapply_seconds: reapply,
        new_set_seconds: new_set,
        new_cluster_seconds: new_cluster,
        meets: ok,
    })
}

/// A new set and a new cluster amid steady re-applies, simulated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Steady {
    /// Modeled seconds for a new set to reach every cluster: the mean over the draws.
    pub new_set_seconds: Option<f64>,
    /// Modeled seconds for a new cluster to get every set: the mean over the draws.
    pub new_cluster_seconds: Option<f64>,
    /// Runs averaged.
    pub draws: usize,
}

/// Simulates `cfg`'s fleet grown over the re-apply interval, so its re-applies run evenly,
/// then a new cluster and a new set amid them. On a small shard one run is one draw of which
/// re-applies happen to be running or due when they come, each a large share of the whole:
/// the mean of a few runs with other seeds is what the closed form's expectation is held
/// against (a shard of `n` clusters runs `200 / n` times, at most 10). `None`:
/// not within `cfg.max_duration` in some run.
///
/// # Errors
///
/// A simulation that could not run.
pub fn steady(cfg: &PlanConfig) -> Result<Steady, PlanError> {
    let grow = Duration::from_secs(7200);
    let draws = (DRAW_CLUSTERS / cfg.clusters.max(1)).clamp(1, MAX_DRAWS);
    // Each draw is its own simulation on its own virtual clock: as many run side by side as
    // there are cores (each holds its own hub).
    let side_by_side = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut runs = Vec::with_capacity(draws);
    for batch in (0..draws).collect::<Vec<_>>().chunks(side_by_side) {
        let done = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .map(|&draw| {
                    let cfg = PlanConfig {
                        adopt_over: Some(grow),
                        probe_under_load: true,
                        max_duration: grow + cfg.max_duration,
                        seed: cfg.seed + draw as u64,
                        ..cfg.clone()
                    };
                    scope.spawn(move || plan(&cfg))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect::<Result<Vec<_>, _>>()
        })?;
        runs.extend(done);
    }
    let mean = |one: fn(&super::PlanResult) -> Option<f64>| {
        runs.iter()
            .map(one)
            .sum::<Option<f64>>()
            .map(|sum| sum / draws as f64)
    };
    let (new_set, new_cluster) = (mean(|r| r.new_set_seconds), mean(|r| r.new_cluster_seconds));
    Ok(Steady {
        new_set_seconds: new_set,
        new_cluster_seconds: new_cluster,
        draws,
    })
}

/// How long a confirming simulation may run: past the longest target it has failed anyway.
fn limit_for(targets: &Targets) -> Duration {
    [targets.fanout, targets.reapply, targets.new_cluster]
        .into_iter()
        .flatten()
        .max()
        .map_or(Duration::from_secs(7 * 24 * 3600), |t| {
            t * 2 + Duration::from_secs(60)
        })
}

/// The cheapest configurations for `fleet` under `base` (its costs, spokes and apply mode)
/// that meet `targets` within `limits`; with `simulate`, the first few are run on the
/// virtual clock and the first that meets the targets there is chosen.
///
/// # Errors
///
/// A model the planner refuses: out of range, or the 2020 pipeline, which has no replicas
/// ([`PlanError::LegacyPipeline`]); or a confirming simulation that could not run.
pub fn recommend(
    base: &CostModel,
    fleet: Fleet,
    targets: &Targets,
    limits: &Limits,
    simulate: bool,
) -> Result<Recommendation, PlanError> {
    if base.pipeline != hive_scale_core::api::Pipeline::ClusterSync {
        return Err(PlanError::LegacyPipeline);
    }
    base.validate()?;
    let guidance_hubs = HubPressure::hubs_needed(fleet.clusters, fleet.sets, base.pipeline);
    let refuse = |searched, why: String| Recommendation {
        clusters_per_hub: fleet.clusters,
        hubs: 1,
        within_limits: false,
        split_because: Some(why),
        candidates: Vec::new(),
        chosen: None,
        hub: HubPressure::estimate(fleet.clusters, fleet.sets, base.pipeline),
        searched,
        simulated: simulate,
    };
    // A new cluster's sets are applied one after another by one worker: no configuration and no
    // split makes that faster than on an idle hub.
    if let Some(target) = targets.new_cluster {
        let alone = analytic::estimate(
            base,
            Fleet {
                clusters: 1,
                ..fleet
            },
        )
        .new_cluster_seconds;
        if alone > target.as_secs_f64() {
            return Ok(refuse(
                0,
                format!(
                    "a new cluster takes {alone:.0} s even on an idle hub (one worker applies its {} resources one after another): no configuration meets --target-new-cluster {} s",
                    fleet.sets * fleet.resources,
                    target.as_secs()
                ),
            ));
        }
    }
    let mut searched = 0;
    let mut tried = std::collections::HashSet::new();
    // The simulation is the reference: when it misses what the closed form predicted, the
    // closed form's figures are scaled by how far it missed, and the search runs again with
    // that margin, on this hub size and, if none meets it there, on smaller ones.
    let mut margin = Margin::default();
    let mut confirmations = 0;
    let mut unconfirmed = None;
    // Past the limit the search goes on, to say how many hubs it would take.
    for hubs in guidance_hubs..=fleet.clusters.clamp(1, SPLIT_AT_MOST) {
        let per_hub = Fleet {
            clusters: fleet.clusters.div_ceil(hubs),
            ..fleet
        };
        // Several hub counts give the same hub size; one search answers them all.
        if !tried.insert(per_hub.clusters) {
            continue;
        }
        let (mut candidates, n) = search(base, per_hub, &margin.tighten(targets), limits);
        searched += n;
        if candidates.is_empty() {
            continue;
        }
        let mut chosen = None;
        // Every candidate the simulation ran, shown with what it found.
        let mut ran: Vec<Candidate> = Vec::new();
        // Whether the corrected search found nothing more on this hub size.
        let mut exhausted = false;
        for round in 1..=CORRECTIONS {
            if !simulate {
                break;
            }
            let mut this_round = 0;
            for c in candidates.iter_mut() {
                if this_round == CONFIRM_AT_MOST {
                    break;
                }
                if let Some(done) = ran.iter().find(|r| same_shape(r, c)) {
                    *c = done.clone();
                    continue;
                }
                // A core more where the workers are the limit: the simulation would say the
                // same again.
                if ran.iter().any(|r| similar(r, c)) {
                    continue;
                }
                let confirmation = confirm(base, per_hub, targets, c)?;
                (confirmations, this_round) = (confirmations + 1, this_round + 1);
                c.confirmed = Some(confirmation);
                margin.widen(&c.predicted, &confirmation);
                ran.push(c.clone());
                if confirmation.meets {
                    chosen = Some(c.clone());
                    break;
                }
            }
            if chosen.is_some() || round == CORRECTIONS {
                break;
            }
            let (again, n) = search(base, per_hub, &margin.tighten(targets), limits);
            searched += n;
            if again.is_empty() {
                exhausted = true;
                break;
            }
            candidates = again;
        }
        // Cheapest first: the ones the simulation turned down, the chosen one, then the
        // cheapest others the closed form found.
        candidates.retain(|c| !ran.iter().any(|r| same_shape(r, c)));
        candidates.truncate(SHOWN);
        candidates.extend(ran);
        candidates.sort_by_key(cost);
        let split_because = (hubs > 1).then(|| {
            if hubs > limits.max_hubs && hubs == guidance_hubs {
                format!(
                    "Hive's guidance needs {hubs} hubs for {} clusters, more than --max-hubs {}",
                    fleet.clusters, limits.max_hubs
                )
            } else if hubs == guidance_hubs {
                format!(
                    "Hive's guidance: {} clusters on one hub would be {}",
                    fleet.clusters,
                    HubPressure::estimate(fleet.clusters, fleet.sets, base.pipeline).verdict
                )
            } else {
                format!(
                    "no configuration within the limits meets the targets with more than {} clusters per hub",
                    per_hub.clusters
                )
            }
        });
        let answer = Recommendation {
            clusters_per_hub: per_hub.clusters,
            hubs,
            within_limits: hubs <= limits.max_hubs,
            split_because,
            simulated: simulate,
            candidates,
            chosen,
            hub: HubPressure::estimate(per_hub.clusters, fleet.sets, base.pipeline),
            searched,
        };
        // Nothing this hub size offers meets the corrected targets: smaller hubs, with the
        // margin learnt here, while the confirmations last. If none confirms, this size's
        // unconfirmed answer is what is shown.
        if answer.chosen.is_none() && exhausted && confirmations < CONFIRM_AT_MOST * CORRECTIONS {
            unconfirmed.get_or_insert(answer);
            continue;
        }
        return Ok(answer);
    }
    Ok(unconfirmed.unwrap_or_else(|| {
        refuse(
            searched,
            "no configuration within the limits meets the targets, however the fleet is split"
                .into(),
        )
    }))
}

impl Recommendation {
    /// Whether a configuration meets the targets within the limits (and, when the simulation
    /// ran, it confirmed one).
    pub fn fits(&self) -> bool {
        self.within_limits
            && !self.candidates.is_empty()
            && (!self.simulated || self.chosen.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(clusters: usize) -> Fleet {
        Fleet {
            clusters,
            sets: 60,
            resources: 10,
        }
    }

    #[test]
    fn the_cheapest_configuration_comes_first_and_meets_the_targets() {
        let base = CostModel::preset("c5.9xlarge").unwrap();
        let targets = Targets {
            fanout: Some(Duration::from_secs(300)),
            reapply: Some(Duration::from_secs(7200)),
            new_cluster: None,
        };
        let r = recommend(&base, fleet(1000), &targets, &Limits::default(), false).unwrap();
        assert_eq!(r.hubs, 1);
        assert!(r.fits());
        let first = &r.candidates[0];
        assert!(
            first.predicted.new_set_seconds <= 300.0
                && first.predicted.first_sync_seconds <= 7200.0
        );
        for pair in r.candidates.windows(2) {
            assert!(pair[0].total_cores <= pair[1].total_cores, "{pair:?}");
        }
    }

    #[test]
    fn impossible_limits_split_the_fleet_or_refuse() {
        let base = CostModel::preset("m5.xlarge").unwrap();
        let targets = Targets {
            fanout: Some(Duration::from_secs(120)),
            ..Default::default()
        };
        let tight = Limits {
            max_replicas: 1,
            max_cores: 3,
            max_workers: 5,
            max_hubs: 1,
        };
        let r = recommend(&base, fleet(1000), &targets, &tight, false).unwrap();
        assert!(!r.fits());
        assert!(
            r.hubs > 1 && !r.within_limits,
            "says how many hubs it would take: {r:?}"
        );
        let impossible = Targets {
            fanout: Some(Duration::from_millis(1)),
            ..Default::default()
        };
        let r = recommend(&base, fleet(50), &impossible, &tight, false).unwrap();
        assert!(!r.fits() && r.candidates.is_empty());
        assert!(
            r.split_because
                .unwrap()
                .contains("however the fleet is split")
        );
        let split = Limits {
            max_hubs: 100,
            ..tight
        };
        let r = recommend(&base, fleet(1000), &targets, &split, false).unwrap();
        assert!(r.fits() && r.hubs > 1, "{r:?}");
        let per_hub = Fleet {
            clusters: r.clusters_per_hub,
            ..fleet(1000)
        };
        let c = &r.candidates[0];
        let m = CostModel {
            replicas: c.replicas,
            workers: c.workers,
            cores: c.cores,
            ..base.clone()
        };
        assert!(analytic::estimate(&m, per_hub).new_set_seconds <= 120.0);
    }

    #[test]
    fn guidance_splits_big_fleets() {
        let base = CostModel::preset("c5.9xlarge").unwrap();
        let r = recommend(
            &base,
            fleet(3000),
            &Targets::default(),
            &Limits::default(),
            false,
        )
        .unwrap();
        assert_eq!((r.hubs, r.clusters_per_hub), (3, 1000));
        assert!(r.split_because.unwrap().contains("guidance"));
    }
}
