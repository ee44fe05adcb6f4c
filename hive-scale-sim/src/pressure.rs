//! Hub pressure: how many objects Hive keeps in the hub's etcd for a fleet, against Hive's
//! guidance (keep a hub's Hive custom resources in the thousands, ~10,000 is the danger zone,
//! about 1000 clusters per hub in practice).

use hive_scale_core::api::Pipeline;
use serde::Serialize;

/// Hive's guidance: clusters one hub should hold in practice.
pub const CLUSTERS_PER_HUB: usize = 1000;
/// Hive's guidance: the number of Hive custom resources where a hub is in danger.
pub const DANGER_OBJECTS: usize = 10_000;
/// Where the report starts to warn: the last fifth before the danger zone.
pub const NEAR_OBJECTS: usize = 8_000;

/// How the count compares with the guidance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// In the thousands, as Hive advises.
    Fine,
    /// Close to the danger zone (8,000 or more Hive objects), or more clusters than Hive
    /// advises per hub.
    Near,
    /// 10,000 Hive objects or more.
    Danger,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Fine => "fine",
            Self::Near => "near the danger zone",
            Self::Danger => "danger zone",
        })
    }
}

/// The objects Hive keeps in one hub for a fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubPressure {
    /// Clusters on the hub.
    pub clusters: usize,
    /// ClusterDeployments: one per cluster.
    pub cluster_deployments: usize,
    /// ClusterSyncs: one per cluster (today's pipeline).
    pub cluster_syncs: usize,
    /// ClusterSyncLeases: one per cluster (today's pipeline).
    pub cluster_sync_leases: usize,
    /// ClusterStates: one per cluster, kept by the clusterstate controller (not modeled by the
    /// embedded hub, counted here because a real hub holds them).
    pub cluster_states: usize,
    /// SyncSetInstances: one per (set, cluster) pair (the 2020 pipeline).
    pub syncset_instances: usize,
    /// SelectorSyncSets.
    pub selectorsyncsets: usize,
    /// Secrets in the clusters' namespaces: the admin kubeconfig and the metadata JSON Hive
    /// retrofits (not Hive objects, but etcd holds them too).
    pub secrets: usize,
    /// Every Hive custom resource above.
    pub hive_objects: usize,
    /// How that compares with Hive's guidance.
    pub verdict: Verdict,
}

impl HubPressure {
    /// What a hub holds with `clusters` adopted clusters and `sets` SelectorSyncSets matching
    /// every one of them.
    pub fn estimate(clusters: usize, sets: usize, pipeline: Pipeline) -> Self {
        let (syncs, leases, instances) = match pipeline {
            Pipeline::ClusterSync => (clusters, clusters, 0),
            Pipeline::SyncSetInstance => (0, 0, clusters * sets),
        };
        let hive_objects = clusters * 2 + syncs + leases + instances + sets;
        let verdict = if hive_objects >= DANGER_OBJECTS {
            Verdict::Danger
        } else if hive_objects >= NEAR_OBJECTS || clusters > CLUSTERS_PER_HUB {
            Verdict::Near
        } else {
            Verdict::Fine
        };
        Self {
            clusters,
            cluster_deployments: clusters,
            cluster_syncs: syncs,
            cluster_sync_leases: leases,
            cluster_states: clusters,
            syncset_instances: instances,
            selectorsyncsets: sets,
            secrets: clusters * 2,
            hive_objects,
            verdict,
        }
    }

    /// The fewest hubs that keep each one in the guidance for `clusters` clusters.
    pub fn hubs_needed(clusters: usize, sets: usize, pipeline: Pipeline) -> usize {
        (1..=clusters.max(1))
            .find(|&hubs| {
                Self::estimate(clusters.div_ceil(hubs), sets, pipeline).verdict == Verdict::Fine
            })
            // Even one cluster per hub is over the guidance only when the sets alone are.
            .unwrap_or(clusters.max(1))
    }

    /// One line for a plan's output.
    pub fn line(&self) -> String {
        format!(
            "hub objects: {} Hive objects ({} ClusterDeployments, {} ClusterSyncs, {} leases, {} ClusterStates, {} SyncSetInstances, {} SelectorSyncSets) and {} Secrets: {} (guidance: thousands, ~{} is the danger zone, ~{} clusters per hub)",
            self.hive_objects,
            self.cluster_deployments,
            self.cluster_syncs,
            self.cluster_sync_leases,
            self.cluster_states,
            self.syncset_instances,
            self.selectorsyncsets,
            self.secrets,
            self.verdict,
            DANGER_OBJECTS,
            CLUSTERS_PER_HUB,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_2020_pipeline_is_in_the_danger_zone_and_today_s_is_not() {
        let today = HubPressure::estimate(1000, 60, Pipeline::ClusterSync);
        assert_eq!(today.hive_objects, 4060);
        assert_eq!(today.verdict, Verdict::Fine);
        let y2020 = HubPressure::estimate(1000, 60, Pipeline::SyncSetInstance);
        assert_eq!(y2020.syncset_instances, 60_000);
        assert_eq!(y2020.verdict, Verdict::Danger);
        assert_eq!(
            HubPressure::estimate(2500, 60, Pipeline::ClusterSync).verdict,
            Verdict::Danger
        );
        assert_eq!(
            HubPressure::estimate(1500, 60, Pipeline::ClusterSync).verdict,
            Verdict::Near,
            "over 1000 clusters per hub"
        );
    }

    #[test]
    fn hubs_needed_follows_the_guidance() {
        assert_eq!(HubPressure::hubs_needed(1000, 60, Pipeline::ClusterSync), 1);
        assert_eq!(
            HubPressure::hubs_needed(3000, 150, Pipeline::ClusterSync),
            3
        );
        assert_eq!(HubPressure::hubs_needed(1001, 60, Pipeline::ClusterSync), 2);
        // 60 instances per cluster: 10,000 objects come at ~125 clusters.
        let legacy = HubPressure::hubs_needed(1000, 60, Pipeline::SyncSetInstance);
        assert!(
            HubPressure::estimate(1000usize.div_ceil(legacy), 60, Pipeline::SyncSetInstance)
                .verdict
                == Verdict::Fine
        );
        assert!(
            HubPressure::estimate(
                1000usize.div_ceil(legacy - 1),
                60,
                Pipeline::SyncSetInstance
            )
            .verdict
                != Verdict::Fine
        );
    }
}
