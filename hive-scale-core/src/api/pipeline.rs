//! Which of Hive's two syncing pipelines a hub runs.

use serde::{Deserialize, Serialize};

/// How a hub turns (Selector)SyncSets into applied resources.
///
/// Hive replaced the 2020 pipeline on 2020-08-07: before, a `syncset` controller created one
/// SyncSetInstance per (set, cluster) pair and a `syncsetinstance` controller applied each;
/// since, one `clustersync` controller applies every set of a cluster and records the result in
/// that cluster's ClusterSync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pipeline {
    /// Current Hive: one ClusterSync per cluster (`hiveinternal.openshift.io`).
    #[default]
    ClusterSync,
    /// The 2020 pipeline: one SyncSetInstance per (set, cluster) pair.
    SyncSetInstance,
}

impl Pipeline {
    /// Both, in the order they are tried when a hub's pipeline is unknown.
    pub const ALL: [Pipeline; 2] = [Pipeline::ClusterSync, Pipeline::SyncSetInstance];

    /// The name used in flags, files and summaries.
    pub const fn as_str(self) -> &'static str {
        match self {
            Pipeline::ClusterSync => "clustersync",
            Pipeline::SyncSetInstance => "syncsetinstance",
        }
    }

    /// The name of the controller (and its workqueue) that applies resources.
    pub const fn sync_controller(self) -> &'static str {
        match self {
            Pipeline::ClusterSync => "clusterSync-controller",
            Pipeline::SyncSetInstance => "syncsetinstance-controller",
        }
    }

    /// The name HiveConfig's `controllersConfig` knows the sync controller by.
    pub const fn config_name(self) -> &'static str {
        match self {
            Pipeline::ClusterSync => "clustersync",
            Pipeline::SyncSetInstance => "syncsetinstance",
        }
    }
}

impl std::fmt::Display for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Pipeline {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "clustersync" => Ok(Pipeline::ClusterSync),
            "syncsetinstance" | "syncsetinstances" | "legacy" | "2020" => {
                Ok(Pipeline::SyncSetInstance)
            }
            other => Err(format!(
                "pipeline must be clustersync or syncsetinstance, not {other:?}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Pipeline::ALL {
            assert_eq!(p.as_str().parse::<Pipeline>(), Ok(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{p}\""));
            assert_eq!(serde_json::from_str::<Pipeline>(&json).unwrap(), p);
        }
        assert!(
            "nope"
                .parse::<Pipeline>()
                .unwrap_err()
                .contains("clustersync")
        );
    }
}
