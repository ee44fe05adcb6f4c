//! Every change's fan-out: when each cluster applied a new generation of a set.
//!
//! Hive's own histogram observes a pair only before its ClusterSync's first success, and its
//! unapplied gauges are refreshed every two minutes, so a change to a set on a fleet that has
//! synced is invisible to Hive's metrics. The runner reads it from the ClusterSyncs instead:
//! a cluster has applied generation G of a set once its status entry for the set says
//! `observedGeneration >= G` with a `Success` result (the 2020 pipeline: once the instance's
//! applied hash differs from the one before the change). The moment is the watch event that
//! first showed it (see [`super::marks`]), else when the runner looked. The entries'
//! `lastTransitionTime` is not used: it moves only when a result changes, and it is on the
//! hub's clock (the embedded hub's runs at the time scale), not the runner's.

use crate::scenario::progress::{Mark, Percentiles};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Instant;

/// Shares of the clusters at which a change's completion curve is read.
const CURVE_SHARES: [f64; 11] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.0];

/// One change to a set and how it reached the clusters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChangeFanout {
    /// The phase that made it (`add-resource to set 3`, `churn ...`).
    pub phase: String,
    /// The SelectorSyncSet changed.
    pub set: String,
    /// The set's generation after the change (absent when the hub did not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// When the change was written, Unix seconds.
    pub at: f64,
    /// Clusters that held the set when it changed.
    pub clusters: usize,
    /// Of those, the clusters seen to apply the change.
    pub reached: usize,
    /// Fan-out over the clusters reached, modeled seconds after the change.
    pub fanout: Percentiles,
    /// The completion curve: by when each share of the clusters had applied the change.
    pub curve: Vec<CurvePoint>,
}

/// A point of a completion curve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Share of the clusters (0.1 is 10%).
    pub share: f64,
    /// Modeled seconds after the change by which that share had it.
    pub seconds: f64,
}

impl ChangeFanout {
    /// Whether every cluster that held the set applied the change.
    pub fn complete(&self) -> bool {
        self.reached >= self.clusters
    }
}

/// A change the runner made and is still watching land.
#[derive(Debug)]
pub(super) struct Pending {
    phase: String,
    pub(super) set: String,
    generation: Option<i64>,
    /// Each cluster's mark for the set before the change (see `HiveObjects::applied_marks`).
    before: HashMap<String, String>,
    at: Instant,
    /// `at` as Unix seconds.
    unix: f64,
    /// Modeled seconds after the change at which each cluster was seen to have it.
    reached: HashMap<String, f64>,
}

impl Pending {
    /// A change to `set` made now, which left it at `generation`; `before` is what each
    /// cluster had applied of it.
    pub(super) fn new(
        phase: String,
        set: String,
        generation: Option<i64>,
        before: HashMap<String, String>,
        at: Instant,
    ) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Self {
            phase,
            set,
            generation,
            before,
            at,
            unix: now - at.elapsed().as_secs_f64(),
            reached: HashMap::new(),
        }
    }

    /// Notes the clusters whose mark in `marks` shows the change, seen now.
    pub(super) fn see(&mut self, marks: &HashMap<String, Mark>, time_scale: f64) {
        let seen = self.at.elapsed().as_secs_f64() * time_scale;
        for (cluster, before) in &self.before {
            if self.reached.contains_key(cluster) {
                continue;
            }
            let Some(mark) = marks.get(cluster).filter(|m| !m.applied.is_empty()) else {
                continue;
            };
            let has_it = match (self.generation, mark.applied.parse::<i64>()) {
                (Some(g), Ok(m)) => m >= g,
                _ => &mark.applied != before,
            };
            if !has_it {
                continue;
            }
            // The watch event that first showed it; else now.
            let event = mark
                .seen_at
                .map(|t| t.saturating_duration_since(self.at).as_secs_f64() * time_scale);
            let when = event.unwrap_or(seen).min(seen);
            self.reached.insert(cluster.clone(), when);
        }
    }

    /// Whether every cluster that held the set has the change.
    pub(super) fn landed(&self) -> bool {
        self.reached.len() >= self.before.len()
    }

    /// Modeled seconds each reached cluster took.
    pub(super) fn samples(&self) -> Vec<f64> {
        self.reached.values().copied().collect()
    }

    /// What the change did, as far as it got.
    pub(super) fn finish(&self) -> ChangeFanout {
        let mut times = self.samples();
        times.sort_by(f64::total_cmp);
        let clusters = self.before.len();
        let curve = CURVE_SHARES
            .iter()
            .filter_map(|&share| {
                let needed = ((share * clusters as f64).ceil() as usize).max(1);
                times
                    .get(needed - 1)
                    .map(|&seconds| CurvePoint { share, seconds })
            })
            .collect();
        ChangeFanout {
            phase: self.phase.clone(),
            set: self.set.clone(),
            generation: self.generation,
            at: self.unix,
            clusters,
            reached: times.len(),
            fanout: Percentiles::of(&times),
            curve,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn before(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn marks(pairs: &[(&str, &str)]) -> HashMap<String, Mark> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Mark {
                        applied: v.to_string(),
                        ..Mark::default()
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_generation_reaches_a_cluster_at_or_past_it_and_never_by_a_failure() {
        let before = before(&[("ns1/c1", "3"), ("ns2/c2", "3"), ("ns3/c3", "")]);
        let mut p = Pending::new("churn".into(), "s".into(), Some(4), before, Instant::now());
        // c1 still at 3, c2 failed (no mark), c3 jumped straight to 5.
        p.see(
            &marks(&[("ns1/c1", "3"), ("ns2/c2", ""), ("ns3/c3", "5")]),
            1.0,
        );
        assert_eq!(p.reached.len(), 1);
        assert!(p.reached.contains_key("ns3/c3"));
        assert!(!p.landed());
        p.see(
            &marks(&[("ns1/c1", "4"), ("ns2/c2", "4"), ("ns3/c3", "5")]),
            1.0,
        );
        assert!(p.landed());
        let f = p.finish();
        assert_eq!((f.clusters, f.reached, f.fanout.count), (3, 3, 3));
        assert!(f.complete());
        assert_eq!(f.curve.last().map(|c| c.share), Some(1.0));
    }

    #[test]
    fn without_a_generation_a_different_mark_is_the_change() {
        let mut p = Pending::new(
            "add-resource".into(),
            "s".into(),
            None,
            before(&[("a/a", "h1"), ("b/b", "h1")]),
            Instant::now(),
        );
        p.see(&marks(&[("a/a", "h2"), ("b/b", "h1")]), 1.0);
        assert_eq!(p.reached.len(), 1);
        let f = p.finish();
        assert!(!f.complete());
        // Half the clusters: the curve stops at the shares reached.
        assert_eq!(
            f.curve.iter().map(|c| c.share).collect::<Vec<_>>(),
            vec![0.1, 0.2, 0.3, 0.4, 0.5]
        );
    }

    #[test]
    fn a_watch_event_says_when_better_than_a_later_look() {
        let at = Instant::now();
        let mut p = Pending::new(
            "churn".into(),
            "s".into(),
            Some(2),
            before(&[("a/a", "1")]),
            at,
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut now = marks(&[("a/a", "2")]);
        now.get_mut("a/a").unwrap().seen_at = Some(at + std::time::Duration::from_millis(5));
        p.see(&now, 100.0);
        assert!((p.reached["a/a"] - 0.5).abs() < 1e-6, "{:?}", p.reached);
    }
}
