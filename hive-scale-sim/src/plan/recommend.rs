//! The SRE's question: for this fleet, how many clustersync replicas, workers and cores meet
//! the targets, at the least cost? The closed form ([`super::analytic`]) searches every
//! configuration within the limits; the cheapest ones that meet the targets are then run on the
//! virtual clock, and the first the simulation confirms is the answer. When none fits, the
//! fleet is split across hubs until one does.

use super::analytic::{self, Estimate, Fleet};
use super::{PlanConfig, plan};
use crate::model::{CostModel, SpokeMode};
use crate::pressure::{HubPressure, Verdict};
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
    /// Seconds until every pair applied once (the first sync; a re-apply costs the same).
    pub reapply_seconds: Option<f64>,
    /// Seconds for one new set to reach every cluster.
    pub new_set_seconds: Option<f64>,
    /// Seconds for a new cluster to get every set.
    pub new_cluster_seconds: Option<f64>,
    /// Whether these meet the targets.
    pub meets: bool,
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
}

const WORKERS: [usize; 20] = [
    1, 2, 3, 4, 5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 100, 125, 150, 200,
];
const CORES: [usize; 16] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 36, 48, 64, 72, 96, 128];
/// Hubs the search splits a fleet across at most.
const SPLIT_AT_MOST: usize = 10_000;
/// Candidates shown.
const SHOWN: usize = 5;
/// Candidates the simulation runs before giving up on confirming one.
const CONFIRM_AT_MOST: usize = 3;

fn steps(list: &[usize], max: usize) -> Vec<usize> {
    let mut v: Vec<usize> = list.iter().copied().filter(|v| *v <= max).collect();
    if !v.contains(&max) && max >= 1 {
        v.push(max);
    }
    v
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
        for &cores in &steps(&CORES, limits.max_cores) {
            // The fewest workers that meet the targets on this shape; more only cost memory.
            for &workers in &steps(&WORKERS, limits.max_workers) {
                searched += 1;
                let m = CostModel {
                    replicas,
                    workers,
                    cores,
                    ..base.clone()
                };
                let e = analytic::estimate(&m, fleet);
                if meets(
                    targets,
                    e.reapply_seconds,
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
/// of the shared spoke and the hub (replicas are otherwise independent), and one new cluster
/// alone.
fn confirm(
    base: &CostModel,
    fleet: Fleet,
    targets: &Targets,
    c: &Candidate,
) -> Result<Confirmation, String> {
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
    let mut cfg = PlanConfig::new(m.clone());
    (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (
        c.predicted.busiest_replica_clusters,
        fleet.sets,
        fleet.resources,
    );
    cfg.max_duration = limit_for(targets);
    let shard = plan(&cfg)?;
    let mut one = PlanConfig::new(m);
    (one.clusters, one.selectorsyncsets, one.configmaps) = (1, fleet.sets, fleet.resources);
    one.probe_new_set = false;
    one.max_duration = limit_for(targets);
    let alone = plan(&one)?;
    let (reapply, new_set, new_cluster) = (
        shard.drain_seconds,
        shard.new_set_seconds,
        alone.drain_seconds,
    );
    let ok = match (reapply, new_set, new_cluster) {
        (Some(r), Some(n), Some(c)) => meets(targets, r, n, c),
        _ => false,
    };
    Ok(Confirmation {
        reapply_seconds: reapply,
        new_set_seconds: new_set,
        new_cluster_seconds: new_cluster,
        meets: ok,
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
/// A model the planner refuses (the 2020 pipeline has no replicas), as one line.
pub fn recommend(
    base: &CostModel,
    fleet: Fleet,
    targets: &Targets,
    limits: &Limits,
    simulate: bool,
) -> Result<Recommendation, String> {
    if base.pipeline != hive_scale_core::api::Pipeline::ClusterSync {
        return Err("--recommend plans today's clustersync pipeline; the 2020 pipeline has no replicas to size".into());
    }
    base.validate()?;
    let guidance_hubs = HubPressure::hubs_needed(fleet.clusters, fleet.sets, base.pipeline);
    let mut searched = 0;
    // Past the limit the search goes on, to say how many hubs it would take.
    for hubs in guidance_hubs..=fleet.clusters.clamp(1, SPLIT_AT_MOST) {
        let per_hub = Fleet {
            clusters: fleet.clusters.div_ceil(hubs),
            ..fleet
        };
        let (mut candidates, n) = search(base, per_hub, targets, limits);
        searched += n;
        if candidates.is_empty() {
            continue;
        }
        let mut chosen = None;
        if simulate {
            for c in candidates.iter_mut().take(CONFIRM_AT_MOST) {
                let confirmation = confirm(base, per_hub, targets, c)?;
                c.confirmed = Some(confirmation);
                if confirmation.meets {
                    chosen = Some(c.clone());
                    break;
                }
            }
        }
        candidates.truncate(SHOWN);
        let split_because = (hubs > 1).then(|| {
            if hubs == guidance_hubs {
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
        return Ok(Recommendation {
            clusters_per_hub: per_hub.clusters,
            hubs,
            within_limits: hubs <= limits.max_hubs,
            split_because,
            candidates,
            chosen,
            hub: HubPressure::estimate(per_hub.clusters, fleet.sets, base.pipeline),
            searched,
        });
    }
    Ok(Recommendation {
        clusters_per_hub: fleet.clusters,
        hubs: 1,
        within_limits: false,
        split_because: Some(
            "no configuration within the limits meets the targets, however the fleet is split"
                .into(),
        ),
        candidates: Vec::new(),
        chosen: None,
        hub: HubPressure::estimate(fleet.clusters, fleet.sets, base.pipeline),
        searched,
    })
}

impl Recommendation {
    /// Whether a configuration meets the targets within the limits.
    pub fn fits(&self) -> bool {
        self.within_limits && !self.candidates.is_empty()
    }

    /// Whether one hub is enough.
    pub fn one_hub(&self) -> bool {
        self.hubs == 1 && self.hub.verdict != Verdict::Danger
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
            first.predicted.new_set_seconds <= 300.0 && first.predicted.reapply_seconds <= 7200.0
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
