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

/// A hub's sync progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncProgress {
    /// Pairs that should apply (eligible clusters x matching SelectorSyncSets).
    pub expected: usize,
    /// Pairs that have applied at least once.
    pub done: usize,
    /// Fan-out latency of each applied pair, modeled seconds, by `namespace/cluster/set`.
    #[serde(skip)]
    pub fanout: HashMap<String, f64>,
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

/// Pairs that should apply: eligible clusters times the SelectorSyncSets matching each (cheap:
/// no ClusterSyncs are read).
pub async fn expected(hub: &Hub) -> Result<usize> {
    let client = hub.client();
    let cds = hub
        .list_all(&Api::<ClusterDeployment>::all(client.clone()), "")
        .await?;
    let sets = hub
        .list_all(&Api::<SelectorSyncSet>::all(client), "")
        .await?;
    Ok(cds
        .iter()
        .filter(|c| eligible(c))
        .map(|cd| {
            let labels = cd.metadata.labels.clone().unwrap_or_default();
            sets.iter()
                .filter(|s| s.spec.cluster_deployment_selector.matches(&labels))
                .count()
        })
        .sum())
}

/// Reads the hub's progress.
pub async fn progress(hub: &Hub, pipeline: Pipeline) -> Result<SyncProgress> {
    let client = hub.client();
    let cds = hub
        .list_all(&Api::<ClusterDeployment>::all(client.clone()), "")
        .await?;
    let sets = hub
        .list_all(&Api::<SelectorSyncSet>::all(client.clone()), "")
        .await?;
    let created =
        |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| t.as_ref().map(|t| t.0);
    let set_created: HashMap<String, Option<jiff::Timestamp>> = sets
        .iter()
        .map(|s| {
            (
                s.metadata.name.clone().unwrap_or_default(),
                created(&s.metadata.creation_timestamp),
            )
        })
        .collect();
    let mut p = SyncProgress::default();
    let mut matching: HashMap<(String, String), (Vec<String>, Option<jiff::Timestamp>)> =
        HashMap::new();
    for cd in cds.iter().filter(|c| eligible(c)) {
        let labels = cd.metadata.labels.clone().unwrap_or_default();
        let names: Vec<String> = sets
            .iter()
            .filter(|s| s.spec.cluster_deployment_selector.matches(&labels))
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        p.expected += names.len();
        let key = (
            cd.metadata.namespace.clone().unwrap_or_default(),
            cd.metadata.name.clone().unwrap_or_default(),
        );
        matching.insert(key, (names, created(&cd.metadata.creation_timestamp)));
    }
    let mut record = |(ns, cd): &(String, String),
                      set: &str,
                      first: Option<jiff::Timestamp>,
                      cd_created: Option<jiff::Timestamp>| {
        let Some(first) = first else { return };
        p.done += 1;
        let since = [set_created.get(set).copied().flatten(), cd_created]
            .into_iter()
            .flatten()
            .max();
        if let Some(since) = since {
            p.fanout.insert(
                format!("{ns}/{cd}/{set}"),
                ((first.as_millisecond() - since.as_millisecond()) as f64 / 1000.0).max(0.0),
            );
        }
    };
    if pipeline == Pipeline::SyncSetInstance {
        for ssi in hub
            .list_all(&Api::<SyncSetInstance>::all(client), "")
            .await?
        {
            let key = (
                ssi.metadata.namespace.clone().unwrap_or_default(),
                ssi.spec.cluster_deployment_ref.name.clone(),
            );
            let Some((names, cd_created)) = matching.get(&key) else {
                continue;
            };
            let Some(set) = ssi
                .spec
                .selector_sync_set_ref
                .as_ref()
                .map(|r| r.name.clone())
            else {
                continue;
            };
            if names.contains(&set) {
                record(
                    &key,
                    &set,
                    ts(ssi
                        .status
                        .as_ref()
                        .and_then(|s| s.first_success_timestamp.as_deref())),
                    *cd_created,
                );
            }
        }
    } else {
        for cs in hub.list_all(&Api::<ClusterSync>::all(client), "").await? {
            let key = (
                cs.metadata.namespace.clone().unwrap_or_default(),
                cs.metadata.name.clone().unwrap_or_default(),
            );
            let Some((names, cd_created)) = matching.get(&key) else {
                continue;
            };
            for entry in cs.status.iter().flat_map(|s| s.selector_sync_sets.iter()) {
                if names.contains(&entry.name) {
                    record(
                        &key,
                        &entry.name,
                        ts(entry.first_success_time.as_deref()),
                        *cd_created,
                    );
                }
            }
        }
    }
    Ok(p)
}

/// What each cluster last applied of SelectorSyncSet `set`, by `namespace/cluster`: the
/// ClusterSync entry's observedGeneration, or for the 2020 pipeline the SyncSetInstance's
/// applied spec hash. A change to the set has reached a cluster once its mark differs from the
/// one read before the change; no timestamp on either object says when, so callers poll.
pub async fn applied_marks(
    hub: &Hub,
    pipeline: Pipeline,
    set: &str,
) -> Result<HashMap<String, String>> {
    let client = hub.client();
    let mut marks = HashMap::new();
    if pipeline == Pipeline::SyncSetInstance {
        for ssi in hub
            .list_all(&Api::<SyncSetInstance>::all(client), "")
            .await?
        {
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
    } else {
        for cs in hub.list_all(&Api::<ClusterSync>::all(client), "").await? {
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
    }
    Ok(marks)
}

#[cfg(test)]
mod tests {
    use super::*;

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
