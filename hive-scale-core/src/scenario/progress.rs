//! How far a hub has come: (set, cluster) pairs that should apply, those that have, and the
//! fan-out latency of each (first success against the later of the set's and the cluster's
//! creation). Read from ClusterSyncs, or SyncSetInstances for the 2020 pipeline.

use crate::Result;
use crate::api::{
    ClusterDeployment, ClusterSync, Pipeline, SelectorSyncSet, SyncResult, SyncSetInstance,
};
use crate::hub::{Hub, percentile};
use crate::labels::{SYNCSET_PAUSE, parse_bool};
use kube::api::Api;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// A hub's sync progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SyncProgress {
    /// Pairs that should apply (eligible clusters x matching SelectorSyncSets).
    pub expected: usize,
    /// Pairs that have applied at least once.
    pub done: usize,
    /// Fan-out latency of each applied pair, modeled seconds, by `namespace/cluster/set`.
    #[serde(skip)]
    pub fanout: HashMap<String, f64>,
    /// When fan-out comes from Hive's `hive_selectorsyncset_apply_duration_seconds` instead of
    /// each pair's objects: its cumulative buckets `(le, count)` now (empty before it has any).
    #[serde(skip)]
    pub fanout_histogram: Option<Vec<(f64, f64)>>,
    /// The fewest clustersync replicas the hub can be running, read off the ClusterSyncs of
    /// the counted clusters (the highest `controlledByReplica` + 1); `None` when none says.
    #[serde(skip)]
    pub replicas: Option<u32>,
}

/// What one cluster last applied of one set (see [`HiveObjects::applied_marks`]), and when
/// that was first seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mark {
    /// The observed generation (or the 2020 pipeline's applied hash); empty unless applied.
    pub applied: String,
    /// When the observer first saw this cluster hold `applied` of the set (a watch event),
    /// when it follows the sync objects' changes.
    pub seen_at: Option<std::time::Instant>,
}

impl Mark {
    /// Each cluster's applied mark (as [`HiveObjects::applied_marks`] gives them), not yet
    /// timed.
    pub fn unstamped(applied: HashMap<String, String>) -> HashMap<String, Mark> {
        applied
            .into_iter()
            .map(|(k, applied)| {
                (
                    k,
                    Mark {
                        applied,
                        seen_at: None,
                    },
                )
            })
            .collect()
    }
}

/// P50/P90/P99/max of fan-out latencies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Percentiles {
    /// Pairs measured.
    pub count: usize,
    /// Median, seconds.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Percentiles {
    /// Of `samples` (seconds).
    pub fn of(samples: &[f64]) -> Self {
        let mut s: Vec<f32> = samples.iter().map(|v| *v as f32).collect();
        s.sort_by(f32::total_cmp);
        Self {
            count: s.len(),
            p50: percentile(&s, 0.5),
            p90: percentile(&s, 0.9),
            p99: percentile(&s, 0.99),
            max: s.last().copied().map(f64::from).unwrap_or(0.0),
        }
    }
}

/// The count of bucket `le` in cumulative `(le, count)` buckets; 0 when absent.
pub(crate) fn bucket_count(buckets: &[(f64, f64)], le: f64) -> f64 {
    buckets
        .iter()
        .find(|(l, _)| l.total_cmp(&le).is_eq())
        .map_or(0.0, |(_, n)| *n)
}

impl Percentiles {
    /// From the observations a cumulative histogram gained between `before` and `after`
    /// (`(le, count)` buckets; a missing bucket counts zero): quantiles interpolated inside
    /// their bucket as Prometheus does, `max` the upper bound of the highest bucket that gained
    /// any (the largest finite bound when that is `+Inf`).
    pub fn from_histogram(before: &[(f64, f64)], after: &[(f64, f64)]) -> Self {
        let mut delta: Vec<(f64, f64)> = after
            .iter()
            .map(|(le, n)| (*le, (n - bucket_count(before, *le)).max(0.0)))
            .collect();
        delta.sort_by(|x, y| x.0.total_cmp(&y.0));
        let count = delta.last().map_or(0.0, |(_, n)| *n);
        if count <= 0.0 {
            return Self::default();
        }
        let q = |q: f64| crate::metrics::slo::histogram_quantile(q, &delta).unwrap_or(0.0);
        let largest_finite = delta
            .iter()
            .rev()
            .find(|(le, _)| le.is_finite())
            .map_or(0.0, |(le, _)| *le);
        let max = delta
            .iter()
            .find(|(_, n)| *n >= count)
            .map_or(largest_finite, |(le, _)| {
                if le.is_finite() { *le } else { largest_finite }
            });
        Self {
            count: count.round() as usize,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max,
        }
    }
}

impl SyncProgress {
    /// Whether every expected pair has applied.
    pub fn complete(&self) -> bool {
        self.done >= self.expected
    }
}

fn ts(s: Option<&str>) -> Option<jiff::Timestamp> {
    s?.parse().ok()
}

fn eligible(cd: &ClusterDeployment) -> bool {
    let paused = cd
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SYNCSET_PAUSE))
        .and_then(|v| parse_bool(v))
        .unwrap_or(false);
    cd.spec.installed && !paused && cd.metadata.deletion_timestamp.is_none()
}

/// Hive's objects that say how far a hub has come, as listed or watched at one moment.
/// ClusterSyncs and SyncSetInstances may both be present: each cluster is read from whichever
/// its pipeline wrote.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HiveObjects {
    /// Every ClusterDeployment.
    pub cluster_deployments: Vec<Arc<ClusterDeployment>>,
    /// Every SelectorSyncSet.
    pub selector_sync_sets: Vec<Arc<SelectorSyncSet>>,
    /// Every ClusterSync (the clustersync pipeline).
    pub cluster_syncs: Vec<Arc<ClusterSync>>,
    /// Every SyncSetInstance (the 2020 pipeline).
    pub instances: Vec<Arc<SyncSetInstance>>,
}

async fn list<K>(hub: &Hub) -> Result<Vec<Arc<K>>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    hub.list_all_with(&Api::<K>::all(hub.client()), "", |mut k| {
        // Kept for the life of a count, and never read.
        k.meta_mut().managed_fields = None;
        Arc::new(k)
    })
    .await
}

/// SyncSetInstances without their per-resource results and conditions, which progress never
/// reads: on the 2020 pipeline they are most of the bytes of 60,000 instances.
async fn list_instances(hub: &Hub) -> Result<Vec<Arc<SyncSetInstance>>> {
    hub.list_all_with(&Api::all(hub.client()), "", |mut ssi: SyncSetInstance| {
        ssi.metadata.managed_fields = None;
        if let Some(status) = ssi.status.as_mut() {
            status.resources = Vec::new();
            status.conditions = Vec::new();
        }
        Arc::new(ssi)
    })
    .await
}

impl HiveObjects {
    /// Lists ClusterDeployments, SelectorSyncSets and the sync objects of `pipeline` (none
    /// when `None`: enough for [`HiveObjects::expected`]).
    pub async fn list(hub: &Hub, pipeline: Option<Pipeline>) -> Result<Self> {
        let sets = hub
            .list_all(&Api::<SelectorSyncSet>::all(hub.client()), "")
            .await?;
        let syncs = match pipeline {
            Some(p) => Self::list_sync_objects(hub, p).await?,
            None => Self::default(),
        };
        Ok(Self {
            cluster_deployments: list(hub).await?,
            selector_sync_sets: sets.into_iter().map(Arc::new).collect(),
            ..syncs
        })
    }

    /// Lists only the sync objects of `pipeline`.
    pub async fn list_sync_objects(hub: &Hub, pipeline: Pipeline) -> Result<Self> {
        let mut objects = Self::default();
        match pipeline {
            Pipeline::ClusterSync => objects.cluster_syncs = list(hub).await?,
            Pipeline::SyncSetInstance => objects.instances = list_instances(hub).await?,
        }
        Ok(objects)
    }

    /// Only the ClusterDeployments and SelectorSyncSets of run `run` (its label): a hub also
    /// holds other people's clusters and sets, whose pairs are not the test's. Sync objects are
    /// kept: only those of the remaining clusters and sets are ever counted.
    pub fn scoped(mut self, run: Option<&str>) -> Self {
        if let Some(run) = run {
            let ours = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
                m.labels
                    .as_ref()
                    .and_then(|l| l.get(crate::labels::RUN))
                    .is_some_and(|r| r == run)
            };
            self.cluster_deployments.retain(|c| ours(&c.metadata));
            self.selector_sync_sets.retain(|s| ours(&s.metadata));
        }
        self
    }

    /// The names of the SelectorSyncSets held.
    pub fn set_names(&self) -> Vec<String> {
        self.selector_sync_sets
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect()
    }

    /// The pipeline whose objects are present (ClusterSync when both are).
    pub fn pipeline(&self) -> Option<Pipeline> {
        if !self.cluster_syncs.is_empty() {
            Some(Pipeline::ClusterSync)
        } else if !self.instances.is_empty() {
            Some(Pipeline::SyncSetInstance)
        } else {
            None
        }
    }

    /// The names of the SelectorSyncSets matching each eligible cluster, with its creation time,
    /// by (namespace, name).
    fn matching(&self) -> HashMap<(String, String), (Vec<String>, Option<jiff::Timestamp>)> {
        self.cluster_deployments
            .iter()
            .filter(|c| eligible(c))
            .map(|cd| {
                let labels = cd.metadata.labels.clone().unwrap_or_default();
                let names: Vec<String> = self
                    .selector_sync_sets
                    .iter()
                    .filter(|s| s.spec.cluster_deployment_selector.matches(&labels))
                    .filter_map(|s| s.metadata.name.clone())
                    .collect();
                let key = (
                    cd.metadata.namespace.clone().unwrap_or_default(),
                    cd.metadata.name.clone().unwrap_or_default(),
                );
                (key, (names, created(&cd.metadata.creation_timestamp)))
            })
            .collect()
    }

    /// Pairs that should apply: eligible clusters times the SelectorSyncSets matching each.
    pub fn expected(&self) -> usize {
        self.matching().values().map(|(names, _)| names.len()).sum()
    }

    /// Every pair's first success, as ((namespace, cluster), set, time).
    fn first_successes(&self) -> impl Iterator<Item = ((String, String), &str, Option<&str>)> {
        let syncs = self.cluster_syncs.iter().flat_map(|cs| {
            let key = (
                cs.metadata.namespace.clone().unwrap_or_default(),
                cs.metadata.name.clone().unwrap_or_default(),
            );
            cs.status
                .iter()
                .flat_map(|s| s.selector_sync_sets.iter())
                .map(move |e| {
                    (
                        key.clone(),
                        e.name.as_str(),
                        e.first_success_time.as_deref(),
                    )
                })
        });
        let instances = self.instances.iter().filter_map(|ssi| {
            let key = (
                ssi.metadata.namespace.clone().unwrap_or_default(),
                ssi.spec.cluster_deployment_ref.name.clone(),
            );
            let set = ssi.spec.selector_sync_set_ref.as_ref()?.name.as_str();
            let first = ssi
                .status
                .as_ref()
                .and_then(|s| s.first_success_timestamp.as_deref());
            Some((key, set, first))
        });
        syncs.chain(instances)
    }

    /// Pairs applied, and the fan-out latency of each.
    pub fn progress(&self) -> SyncProgress {
        let set_created: HashMap<&str, Option<jiff::Timestamp>> = self
            .selector_sync_sets
            .iter()
            .filter_map(|s| {
                Some((
                    s.metadata.name.as_deref()?,
                    created(&s.metadata.creation_timestamp),
                ))
            })
            .collect();
        let matching = self.matching();
        let mut p = SyncProgress {
            expected: matching.values().map(|(names, _)| names.len()).sum(),
            ..SyncProgress::default()
        };
        let mut done = std::collections::HashSet::new();
        for (key, set, first) in self.first_successes() {
            let Some((names, cd_created)) = matching.get(&key) else {
                continue;
            };
            let Some(first) = ts(first) else { continue };
            if !names.iter().any(|n| n == set) {
                continue;
            }
            let (ns, cd) = &key;
            let pair = format!("{ns}/{cd}/{set}");
            let since = [set_created.get(set).copied().flatten(), *cd_created]
                .into_iter()
                .flatten()
                .max();
            if let Some(since) = since {
                p.fanout.insert(
                    pair.clone(),
                    ((first.as_millisecond() - since.as_millisecond()) as f64 / 1000.0).max(0.0),
                );
            }
            done.insert(pair);
        }
        p.done = done.len();
        p.replicas = self
            .cluster_syncs
            .iter()
            .filter(|cs| {
                let key = (
                    cs.metadata.namespace.clone().unwrap_or_default(),
                    cs.metadata.name.clone().unwrap_or_default(),
                );
                matching.contains_key(&key)
            })
            .filter_map(|cs| cs.status.as_ref()?.controlled_by_replica)
            .filter_map(|ordinal| u32::try_from(ordinal).ok()?.checked_add(1))
            .max();
        p
    }

    /// [`HiveObjects::applied_marks`] of each of `sets`, by set (not yet timed: see
    /// [`Mark::seen_at`]).
    pub fn applied_marks_of(&self, sets: &[String]) -> HashMap<String, HashMap<String, Mark>> {
        sets.iter()
            .map(|set| (set.clone(), Mark::unstamped(self.applied_marks(set))))
            .collect()
    }

    /// What each cluster last applied of SelectorSyncSet `set`, by `namespace/cluster`: the
    /// ClusterSync entry's observedGeneration, or for the 2020 pipeline the SyncSetInstance's
    /// applied spec hash (empty until it applies). A change to the set has reached a cluster
    /// once its mark differs from the one read before the change; no timestamp on either
    /// object says when, so callers poll.
    pub fn applied_marks(&self, set: &str) -> HashMap<String, String> {
        let mut marks = HashMap::new();
        for cs in &self.cluster_syncs {
            let entry = cs
                .status
                .iter()
                .flat_map(|s| s.selector_sync_sets.iter())
                .find(|e| e.name == set);
            if let Some(e) = entry {
                marks.insert(
                    format!(
                        "{}/{}",
                        cs.metadata.namespace.as_deref().unwrap_or_default(),
                        cs.metadata.name.as_deref().unwrap_or_default()
                    ),
                    if e.result == SyncResult::Success {
                        e.observed_generation.to_string()
                    } else {
                        String::new()
                    },
                );
            }
        }
        for ssi in &self.instances {
            if ssi
                .spec
                .selector_sync_set_ref
                .as_ref()
                .map(|r| r.name.as_str())
                != Some(set)
            {
                continue;
            }
            let applied = ssi.status.as_ref().and_then(|s| {
                s.applied
                    .then(|| s.extra.get("syncSetHash").and_then(|h| h.as_str()))
                    .flatten()
            });
            marks.insert(
                format!(
                    "{}/{}",
                    ssi.metadata.namespace.as_deref().unwrap_or_default(),
                    ssi.spec.cluster_deployment_ref.name
                ),
                applied.unwrap_or_default().to_string(),
            );
        }
        marks
    }
}

fn created(
    t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
) -> Option<jiff::Timestamp> {
    t.as_ref().map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_from_a_histogram_count_only_what_it_gained() {
        let before = [(60.0, 10.0), (300.0, 10.0), (f64::INFINITY, 10.0)];
        // 100 more: 50 under 60 s, 40 between 60 and 300 s, 10 beyond.
        let after = [(60.0, 60.0), (300.0, 100.0), (f64::INFINITY, 110.0)];
        let p = Percentiles::from_histogram(&before, &after);
        assert_eq!(p.count, 100);
        assert_eq!(p.p50, 60.0);
        assert!((p.p90 - 300.0).abs() < 1e-9, "{p:?}");
        // Beyond the last finite bound: the histogram cannot tell more than that bound.
        assert_eq!((p.p99, p.max), (300.0, 300.0));
        assert_eq!(Percentiles::from_histogram(&after, &after).count, 0);
        let first = Percentiles::from_histogram(&[], &[(5.0, 4.0), (f64::INFINITY, 4.0)]);
        assert_eq!((first.count, first.max), (4, 5.0));
        assert!((first.p50 - 2.5).abs() < 1e-9, "{first:?}");
    }

    /// Cluster `i` of namespace `nsI`, installed, and its ClusterSync handled by `replica`.
    fn cluster(i: u32, replica: Option<i64>) -> (Arc<ClusterDeployment>, Arc<ClusterSync>) {
        let cd = serde_json::json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
            "metadata": {"name": format!("c{i}"), "namespace": format!("ns{i}"),
                         "labels": {"scaletest": "true"}},
            "spec": {"clusterName": format!("c{i}"), "baseDomain": "example.com",
                     "installed": true, "platform": {"aws": {"region": "us-east-1"}}},
        });
        let cs = serde_json::json!({
            "apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync",
            "metadata": {"name": format!("c{i}"), "namespace": format!("ns{i}")},
            "spec": {}, "status": {"controlledByReplica": replica},
        });
        (
            Arc::new(serde_json::from_value(cd).unwrap()),
            Arc::new(serde_json::from_value(cs).unwrap()),
        )
    }

    #[test]
    fn replicas_are_read_off_the_counted_clusters_syncs_only() {
        let mut objects = HiveObjects::default();
        for (i, replica) in [(1, Some(0)), (2, Some(2)), (3, None), (4, Some(-1))] {
            let (cd, cs) = cluster(i, replica);
            objects.cluster_deployments.push(cd);
            objects.cluster_syncs.push(cs);
        }
        // Another team's cluster, handled by a higher ordinal, is not one the run counts.
        let (_, foreign) = cluster(9, Some(6));
        objects.cluster_syncs.push(foreign);
        assert_eq!(objects.progress().replicas, Some(3));
        objects.cluster_syncs.retain(|cs| {
            cs.status
                .as_ref()
                .and_then(|s| s.controlled_by_replica)
                .is_none_or(|r| r < 0 || r == 6)
        });
        assert_eq!(objects.progress().replicas, None);
    }

    #[test]
    fn percentiles_of_fanout() {
        let samples: Vec<f64> = (1..=1000).map(f64::from).collect();
        let p = Percentiles::of(&samples);
        assert_eq!(
            (p.count, p.p50, p.p90, p.p99, p.max),
            (1000, 500.0, 900.0, 990.0, 1000.0)
        );
        assert_eq!(Percentiles::of(&[]).count, 0);
    }
}
