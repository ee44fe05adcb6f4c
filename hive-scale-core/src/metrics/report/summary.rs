//! The report's summary: everything `metrics-summary.json` holds and the `report.md` template is
//! fed. Times (`*_s`, `*_at_s`) are seconds since the recording started, on the report's clock
//! (modeled seconds when the target is the simulator).

use super::super::profile::Kind;
use crate::api::Pipeline;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A phase marker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseMark {
    /// The phase's name.
    pub name: String,
    /// Unix seconds.
    pub t: f64,
    /// Seconds since the recording started, on the report's clock (modeled when modeled).
    #[serde(default)]
    pub at_s: f64,
}

/// Statistics of one series (or of a query's total over its series).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesStats {
    /// The series' labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Snapshots with a number for it.
    pub samples: usize,
    /// Smallest value.
    pub min: f64,
    /// Mean over its samples.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
    /// When the largest value was first seen, seconds since the start.
    pub max_at_s: f64,
    /// The last value.
    pub last: f64,
}

/// One query over the recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryStats {
    /// The query's name.
    pub name: String,
    /// Its title.
    pub title: String,
    /// Its unit.
    pub unit: String,
    /// Its kind.
    pub kind: Kind,
    /// Snapshots where it answered.
    pub ok: usize,
    /// Snapshots where it failed.
    pub errors: usize,
    /// Snapshots where the source could not compute it.
    pub unavailable: usize,
    /// The last error (or unavailability reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The sum over series, per snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<SeriesStats>,
    /// Every series.
    pub series: Vec<SeriesStats>,
    /// The chart's file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
}

/// What one queue did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueFinding {
    /// The queue (controller) name.
    pub queue: String,
    /// Its peak depth.
    pub peak: f64,
    /// When, seconds since the start.
    pub peak_at_s: f64,
    /// When it first reached zero after the peak.
    pub drained_at_s: Option<f64>,
    /// From the peak to zero, seconds.
    pub drain_s: Option<f64>,
    /// Depth at the end of the recording.
    pub remaining: f64,
    /// Mean rate it was worked at while it had items, per second.
    pub rate_mean: Option<f64>,
    /// Peak rate, per second.
    pub rate_peak: Option<f64>,
    /// The rate at the end (mean of the last three samples), per second.
    pub rate_now: Option<f64>,
    /// `remaining / rate_now`, seconds.
    pub time_left_s: Option<f64>,
    /// `peak / rate at the peak` (the 2020 "60,000 at 1.2/s is 14 h"), seconds.
    pub at_peak_s: Option<f64>,
}

/// Mean and peak of one rate query (summed over its series).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateFinding {
    /// The query.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// Mean over the recording.
    pub mean: f64,
    /// Peak.
    pub peak: f64,
    /// When, seconds since the start.
    pub peak_at_s: f64,
}

/// What one item of the sync controller's queue stands for, and so what a full re-apply counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReapplyUnit {
    /// Clusters: the clustersync queue holds one item per cluster (its ClusterSync), and one
    /// reconcile applies every set of that cluster.
    Clusters,
    /// (set, cluster) pairs: the 2020 syncsetinstance queue holds one item per SyncSetInstance.
    /// Also what a summary written before the unit was recorded counted.
    #[default]
    Pairs,
}

impl std::fmt::Display for ReapplyUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReapplyUnit::Clusters => "clusters",
            ReapplyUnit::Pairs => "pairs",
        })
    }
}

impl ReapplyUnit {
    /// The unit a pipeline's sync queue counts in.
    pub const fn of(pipeline: Pipeline) -> Self {
        match pipeline {
            Pipeline::ClusterSync => ReapplyUnit::Clusters,
            Pipeline::SyncSetInstance => ReapplyUnit::Pairs,
        }
    }
}

/// Whether a full re-apply fits in the re-apply interval: the items of the sync controller's
/// queue a full re-apply puts on it, over the rate that queue was worked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReapplyFinding {
    /// Queue items to re-apply, in [`unit`](Self::unit)s.
    #[serde(alias = "pairs")]
    pub items: f64,
    /// What one item is.
    #[serde(default)]
    pub unit: ReapplyUnit,
    /// Where that number came from.
    #[serde(alias = "pairs_from")]
    pub items_from: String,
    /// The pipeline the recording came from, when known (given, or named by its queues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<Pipeline>,
    /// The queue whose rate is used.
    pub queue: String,
    /// Its mean rate while it had work, items per second; when it never held anything, while
    /// it was worked.
    pub rate: f64,
    /// Whether the rate was seen while the queue held items. When not, the workers kept up with
    /// everything that came: the rate is what was asked of them, less than they can do, and
    /// `seconds` is at most the time a full re-apply takes.
    #[serde(default = "yes")]
    pub backed_up: bool,
    /// `items / rate`, seconds.
    pub seconds: f64,
    /// The re-apply interval, seconds.
    pub interval_s: f64,
    /// `seconds <= interval_s`.
    pub fits: bool,
}

fn yes() -> bool {
    true
}

/// The findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportFindings {
    /// Queues that held anything, largest peak first.
    pub queues: Vec<QueueFinding>,
    /// Every rate query.
    pub rates: Vec<RateFinding>,
    /// The re-apply check, when a queue and its rate are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reapply: Option<ReapplyFinding>,
    /// The sync queue per replica, when the profile names a replica label and the recording
    /// has more than one replica: each one's queue and its own re-apply (the clusters its
    /// queue held, at its own rate).
    // Always written, empty too: the report's template iterates over it.
    #[serde(default)]
    pub replicas: Vec<ReplicaFinding>,
    /// What could not be worked out, and why.
    pub notes: Vec<String>,
}

/// One replica's share of the sync queue's findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaFinding {
    /// The replica label's value (`hive-clustersync-0`).
    pub replica: String,
    /// Its queue.
    pub queue: QueueFinding,
    /// Its re-apply, when its rate is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reapply: Option<ReapplyFinding>,
}

/// What a report found, as written to `metrics-summary.json` and given to the `report.md`
/// template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReportSummary {
    /// The recording.
    pub recording: PathBuf,
    /// Where the snapshots came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The profile's name.
    pub profile: String,
    /// Snapshots read.
    pub snapshots: usize,
    /// Snapshots that failed as a whole.
    pub errors: usize,
    /// Lines skipped (a truncated last line).
    pub skipped_lines: usize,
    /// Whether the recording was stopped cleanly.
    pub stopped: bool,
    /// First snapshot, Unix seconds.
    pub start_t: f64,
    /// Last snapshot, Unix seconds.
    pub end_t: f64,
    /// Real seconds covered.
    pub duration_s: f64,
    /// The simulator's time scale, when the target had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// Whether times (`*_s`, `*_at_s`) and rates are modeled: real seconds × time scale.
    pub modeled: bool,
    /// Seconds covered on the report's clock (modeled when modeled).
    pub clock_duration_s: f64,
    /// (set, cluster) pairs given to the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<u64>,
    /// Clusters given to the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<u64>,
    /// Phase markers.
    pub phases: Vec<PhaseMark>,
    /// The findings.
    pub findings: ReportFindings,
    /// Per query.
    pub queries: Vec<QueryStats>,
    /// Problems reading the recording.
    pub warnings: Vec<String>,
}
