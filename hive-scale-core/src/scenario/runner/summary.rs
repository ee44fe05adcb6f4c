//! A run's result, typed: what `summary.json` holds (the output layer writes it, rewritten whole
//! after every phase so a crash leaves the last complete state) and what every other artefact
//! and exit code is made from.

use crate::adopt::TeardownSummary;
use crate::hub::StatsSnapshot;
use crate::metrics::slo::SloReport;
use crate::scenario::Scenario;
use crate::scenario::progress::Percentiles;
use serde::{Deserialize, Serialize};

/// How a run ended (or that it is still going).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Still running (or killed: the file was last written mid-run).
    Running,
    /// Every phase ran, every threshold held, teardown left nothing behind.
    Passed,
    /// A phase failed.
    Failed,
    /// An observe phase did not settle in time.
    Timeout,
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// A threshold did not hold.
    ThresholdsFailed,
    /// Teardown refused objects (the deprovision interlock, or objects not ours).
    Refused,
    /// Teardown failed or timed out: objects were left behind.
    TeardownFailed,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = serde_json::to_value(self).unwrap_or_default();
        f.write_str(v.as_str().unwrap_or("?"))
    }
}

/// Where fan-out latencies come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FanoutFrom {
    /// Each pair's first success read from Hive's objects: exact.
    #[default]
    Objects,
    /// Hive's `hive_selectorsyncset_apply_duration_seconds` histogram: percentiles interpolated
    /// inside its buckets, and no load on the hub.
    HiveHistogram,
}

/// How one phase ended. Written as one line of text (`ok`, `timeout: ...`, `interrupted by
/// SIGTERM`, or the failure), which reads back as the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhaseOutcome {
    /// It completed.
    Ok,
    /// An observe phase did not settle in time: what it saw.
    Timeout(String),
    /// A signal stopped it.
    Interrupted(super::Signal),
    /// It failed, or completed with failures or refusals: why.
    Failed(String),
}

impl PhaseOutcome {
    /// Whether the phase completed.
    pub fn is_ok(&self) -> bool {
        *self == PhaseOutcome::Ok
    }

    /// `ok`, `timeout`, `interrupted` or `failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            PhaseOutcome::Ok => "ok",
            PhaseOutcome::Timeout(_) => "timeout",
            PhaseOutcome::Interrupted(_) => "interrupted",
            PhaseOutcome::Failed(_) => "failed",
        }
    }
}

impl std::fmt::Display for PhaseOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhaseOutcome::Ok => f.write_str("ok"),
            PhaseOutcome::Timeout(what) => write!(f, "timeout: {what}"),
            PhaseOutcome::Interrupted(s) => write!(f, "interrupted by {s}"),
            PhaseOutcome::Failed(why) => f.write_str(why),
        }
    }
}

impl std::str::FromStr for PhaseOutcome {
    type Err = std::convert::Infallible;
    /// An outcome from its line (anything that is not ok, a timeout or a signal is a failure).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "ok" => PhaseOutcome::Ok,
            "interrupted by SIGINT" => PhaseOutcome::Interrupted(super::Signal::Interrupt),
            "interrupted by SIGTERM" => PhaseOutcome::Interrupted(super::Signal::Terminate),
            _ => match text.strip_prefix("timeout: ") {
                Some(what) => PhaseOutcome::Timeout(what.into()),
                None => PhaseOutcome::Failed(text.into()),
            },
        })
    }
}

impl Serialize for PhaseOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PhaseOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(text.parse().unwrap_or_else(|never| match never {}))
    }
}

/// One phase's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PhaseRecord {
    /// The phase.
    pub name: String,
    /// How it ended.
    pub outcome: PhaseOutcome,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// Modeled seconds (wall times the time scale).
    pub modeled_seconds: f64,
    /// Pairs expected when the phase ended.
    pub pairs_expected: usize,
    /// Pairs applied when the phase ended.
    pub pairs_applied: usize,
    /// Fan-out of the pairs that first applied during this phase (observe phases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<Percentiles>,
    /// Writes that failed.
    #[serde(default)]
    pub errors: u64,
}

/// Which limit a threshold puts on a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdKind {
    /// The longest observe phase, modeled seconds.
    Drain,
    /// The P99 fan-out latency, modeled seconds.
    P99Fanout,
    /// Writes that failed.
    Errors,
    /// The API call latency SLO, as a factor of its limits.
    ApiSlo,
}

impl std::fmt::Display for ThresholdKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ThresholdKind::Drain => "drain",
            ThresholdKind::P99Fanout => "p99-fanout",
            ThresholdKind::Errors => "errors",
            ThresholdKind::ApiSlo => "api-slo",
        })
    }
}

/// A threshold and whether it held.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// Which limit.
    pub kind: ThresholdKind,
    /// The limit.
    pub limit: f64,
    /// The measured value.
    pub value: f64,
    /// Whether it held.
    pub held: bool,
    /// The exit code if it did not.
    pub exit_code: u8,
}

/// What teardown did, or why it could not run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TeardownRecord {
    /// Teardown ran.
    Ran(Box<TeardownSummary>),
    /// Teardown could not run at all.
    Error {
        /// Why.
        error: String,
    },
}

impl TeardownRecord {
    /// Whether the run's objects may still be on the hub: teardown failed, timed out, was
    /// stopped, or refused something.
    pub fn left_objects(&self) -> bool {
        match self {
            TeardownRecord::Ran(t) => {
                t.stopped
                    || t.timed_out
                    || !t.failures.is_empty()
                    || !t.refused.is_empty()
                    || !t.secrets_left.is_empty()
            }
            TeardownRecord::Error { .. } => true,
        }
    }
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// How the run ended.
    pub status: Status,
    /// The process exit code.
    pub exit_code: u8,
    /// The signal that interrupted the run, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<super::Signal>,
    /// The run id: the value of the run label on every object this run created.
    pub run_id: String,
    /// The scenario as run.
    pub scenario: Scenario,
    /// Flags as given (URLs without credentials).
    pub parameters: serde_json::Value,
    /// hive-scale's version.
    pub tool_version: String,
    /// `embedded (URL)` or the hub's URL.
    pub hub: String,
    /// The Prometheus the run read Hive's metrics from (without credentials), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<String>,
    /// The Hive pipeline observed.
    pub pipeline: Option<crate::api::Pipeline>,
    /// The fewest clustersync replicas the hub can be running, from what its ClusterSyncs said
    /// of the run's clusters (the highest `controlledByReplica` + 1; with hundreds of clusters,
    /// all of them). Absent when Hive's metrics told progress instead, or on the 2020 pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustersync_replicas: Option<u32>,
    /// Modeled seconds per real second.
    pub time_scale: f64,
    /// Unix seconds at start.
    pub started: f64,
    /// Wall seconds so far.
    pub wall_seconds: f64,
    /// The phases.
    pub phases: Vec<PhaseRecord>,
    /// Fan-out over all pairs applied during the run.
    pub fanout: Percentiles,
    /// Where the fan-out figures come from.
    pub fanout_from: FanoutFrom,
    /// Each pair's fan-out (modeled seconds) behind [`Summary::fanout`] when it comes from
    /// objects: a fleet merges hubs' samples, since percentiles cannot be merged.
    #[serde(skip)]
    pub fanout_samples: Vec<f64>,
    /// What Hive's fan-out histogram gained over the run, cumulative `(le, count)`, when
    /// fan-out comes from it: a fleet adds hubs' buckets.
    #[serde(skip)]
    pub fanout_buckets: Option<Vec<(f64, f64)>>,
    /// Thresholds.
    pub thresholds: Vec<ThresholdResult>,
    /// Failed writes in all.
    pub errors: u64,
    /// Requests the run sent to the hub.
    pub requests: StatsSnapshot,
    /// Teardown: what was deleted, refused, failed or left behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teardown: Option<TeardownRecord>,
    /// The metrics report's findings, when metrics were recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<crate::metrics::ReportSummary>,
    /// Why metrics are missing, if they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_error: Option<String>,
    /// The hub API server against the API call latency SLO (once the phases are over).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_slo: Option<SloReport>,
    /// Every change the run made to an existing set (add-resource, churn) and how it reached
    /// the clusters, as each landed (those still landing when the run stopped last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<super::ChangeFanout>,
    /// A ramp's steps and the knee it found, when the scenario has a ramp phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<super::RampResult>,
}

/// The run's summary, in the result directory.
pub const SUMMARY_FILE: &str = "summary.json";
/// The run as JUnit XML, in the result directory.
pub const JUNIT_FILE: &str = "junit.xml";

/// The drain time: the longest observe phase, modeled seconds (0 without one). What the drain
/// threshold checks and `compare` compares.
pub fn drain_seconds(phases: &[PhaseRecord]) -> f64 {
    phases
        .iter()
        .filter(|p| p.name == "observe")
        .map(|p| p.modeled_seconds)
        .fold(0.0, f64::max)
}
