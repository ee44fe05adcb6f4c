//! A fleet of hubs: one scenario spread over several Hive hubs, each run by the scale test's
//! [`runner`] in its own result subdirectory, all at once, with one fleet-wide
//! summary. A hub that cannot be reached or fails a phase never stops the others, and each
//! hub's teardown goes through its own deprovision interlock, so one hub's refusal never skips
//! another's cleanup.
//!
//! ```text
//! OUT/summary.json, OUT/report.md     the fleet: per-hub rows, fleet-wide totals
//! OUT/hubs/NAME/                      each hub's own result directory (summary.json, report.md...)
//! ```
//!
//! Every hub is connected to and [identified](identity) before anything is written anywhere,
//! so a fleet that names one hub twice (two URLs, two contexts) is refused; and each hub's
//! objects carry a run id of their own ([`member_run_id`]).
//!
//! Here: the fleet's report ([`FleetSummary`], each hub's row holding its run's summary), how
//! clusters are spread ([`spread`]) and the run over the hubs ([`run()`]). What the fleet's
//! files say is the output layer's ([`output`](super::output)).

pub mod identity;
mod run;
mod spread;
#[cfg(test)]
mod tests;

pub use identity::HubIdentity;
pub use run::{member_run_id, run};
pub use spread::{Share, spread};

use super::Scenario;
use super::progress::{Percentiles, bucket_count};
use super::runner::{
    self, FanoutFrom, PhaseRecord, RealHub, Status, Summary, TeardownRecord, drain_seconds,
};
use crate::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// One hub of a fleet.
#[derive(Debug)]
#[non_exhaustive]
pub struct Member {
    /// The hub's name: its result subdirectory and its row in the fleet's summary.
    pub name: String,
    /// Clusters this hub adopts (see [`spread`]).
    pub clusters: u32,
    /// How to reach it.
    pub hub: RealHub,
    /// Modeled seconds per real second of the hub (an embedded hub runs faster than real
    /// time; a real hub is 1).
    pub time_scale: Option<f64>,
}

impl Member {
    /// Hub `name` adopting `clusters` clusters, reached as `hub` says.
    pub fn new(name: impl Into<String>, clusters: u32, hub: RealHub) -> Self {
        Self {
            name: name.into(),
            clusters,
            hub,
            time_scale: None,
        }
    }
}

/// Why a hub did not pass, and when.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct HubFailure {
    /// The phase that failed (`connect` when the hub could not be reached at all, `start` when
    /// its result directory could not be created, `thresholds` or `teardown` when every phase
    /// ran).
    pub phase: String,
    /// What went wrong.
    pub error: String,
    /// When, Unix seconds (the end of the failed phase).
    pub at: f64,
    /// The same instant, RFC 3339.
    pub at_rfc3339: String,
}

/// One hub's row of the fleet's summary (its full summary is in its own subdirectory).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct HubResult {
    /// The hub's name.
    pub name: String,
    /// Its result directory, relative to the fleet's.
    pub dir: String,
    /// The run id its objects carry ([`member_run_id`]): what tears them down.
    pub run_id: String,
    /// The hub's server, when it was reached.
    pub hub: Option<String>,
    /// What told this hub from the others, when it was reached.
    pub identity: Option<HubIdentity>,
    /// Clusters it was given.
    pub clusters: u32,
    /// How its run ended.
    pub status: Status,
    /// Its run's exit code.
    pub exit_code: u8,
    /// Why it did not pass, and when.
    pub failure: Option<HubFailure>,
    /// Pairs expected when its last phase ended.
    pub pairs_expected: usize,
    /// Pairs applied when its last phase ended.
    pub pairs_applied: usize,
    /// Its longest observe phase, modeled seconds.
    pub drain_seconds: f64,
    /// Modeled seconds per real second.
    pub time_scale: f64,
    /// Wall seconds its run took.
    pub wall_seconds: f64,
    /// Fan-out over its run.
    pub fanout: Percentiles,
    /// Where its fan-out figures come from.
    pub fanout_from: FanoutFrom,
    /// Failed writes.
    pub errors: u64,
    /// What its teardown did (or why it could not run); none when objects were kept.
    pub teardown: Option<String>,
    /// Its phases, as its own summary has them.
    pub phases: Vec<PhaseRecord>,
    /// The findings of its metrics report (queues, rates, the re-apply), when metrics were
    /// recorded.
    pub findings: Option<crate::metrics::report::ReportFindings>,
    /// Its run's whole summary, when it ran (its own result directory has it as
    /// `summary.json`): what its JUnit suite, its exit code and the fleet's fan-out come from.
    #[serde(skip, default)]
    pub summary: Option<Box<Summary>>,
}

/// How the fleet's fan-out was put together from the hubs'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FleetFanoutFrom {
    /// Every pair of every hub, read from Hive's objects: exact.
    #[default]
    Objects,
    /// The hubs' Hive histograms added bucket by bucket, then interpolated.
    HiveHistogram,
    /// Hubs measured differently (some objects, some histograms): each figure is the worst
    /// hub's, an upper bound.
    WorstHub,
}

/// The fleet as a whole.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct FleetTotals {
    /// Hubs in the fleet.
    pub hubs: usize,
    /// Hubs whose run passed.
    pub hubs_passed: usize,
    /// Clusters over all hubs.
    pub clusters: u64,
    /// Pairs expected over all hubs.
    pub pairs_expected: usize,
    /// Pairs applied over all hubs.
    pub pairs_applied: usize,
    /// The hub with the longest drain (modeled), among those that observed anything.
    pub slowest_hub: Option<String>,
    /// Its drain, modeled seconds: the fleet's drain.
    pub drain_seconds: f64,
    /// Fan-out over every pair of the fleet.
    pub fanout: Percentiles,
    /// How [`FleetTotals::fanout`] was put together.
    pub fanout_from: FleetFanoutFrom,
    /// Failed writes over all hubs.
    pub errors: u64,
}

fn fleet_kind() -> &'static str {
    "fleet"
}

/// The fleet's `summary.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct FleetSummary {
    /// Always `fleet`: tells this file from one hub's summary.
    #[serde(skip_deserializing, default = "fleet_kind")]
    pub kind: &'static str,
    /// How the fleet's run ended: passed only when every hub passed.
    pub status: Status,
    /// The process exit code (see [`FleetSummary::exit_code`]).
    pub exit_code: u8,
    /// The fleet's run id; each hub's objects carry one made from it and the hub's name
    /// ([`HubResult::run_id`]).
    pub run_id: String,
    /// The scenario over the whole fleet (each hub runs it scaled to its clusters).
    pub scenario: Scenario,
    /// Flags as given (URLs without credentials).
    pub parameters: serde_json::Value,
    /// hive-scale's version.
    pub tool_version: String,
    /// Unix seconds at start.
    pub started: f64,
    /// Wall seconds so far.
    pub wall_seconds: f64,
    /// Hubs that did not pass, in the fleet's order.
    pub failed_hubs: Vec<String>,
    /// One row per hub.
    pub hubs: Vec<HubResult>,
    /// Fleet-wide figures.
    pub fleet: FleetTotals,
}

use crate::time::rfc3339;

impl HubResult {
    pub(crate) fn not_run(
        m: &Member,
        dir: String,
        run_id: String,
        phase: &str,
        at: f64,
        error: String,
    ) -> Self {
        Self {
            name: m.name.clone(),
            dir,
            run_id,
            hub: None,
            identity: None,
            clusters: m.clusters,
            status: Status::Failed,
            exit_code: 0,
            failure: Some(HubFailure {
                phase: phase.into(),
                error,
                at,
                at_rfc3339: rfc3339(at),
            }),
            pairs_expected: 0,
            pairs_applied: 0,
            drain_seconds: 0.0,
            time_scale: m.time_scale.unwrap_or(1.0),
            wall_seconds: 0.0,
            fanout: Percentiles::default(),
            fanout_from: FanoutFrom::Objects,
            errors: 0,
            teardown: None,
            phases: Vec::new(),
            findings: None,
            summary: None,
        }
    }

    pub(crate) fn from_summary(m: &Member, dir: String, s: Summary) -> Self {
        let last = s.phases.last();
        let failure = (s.status != Status::Passed).then(|| {
            // The phase that failed is the last one recorded; past the phases, it is what
            // came after them.
            let mut at = s.started;
            let mut failed = None;
            for p in &s.phases {
                at += p.wall_seconds;
                if !p.outcome.is_ok() {
                    failed = Some((p.name.clone(), p.outcome.to_string()));
                    break;
                }
            }
            let (phase, error) = failed.unwrap_or_else(|| match s.status {
                Status::ThresholdsFailed => {
                    at = s.started + s.wall_seconds;
                    let which: Vec<_> = (s.thresholds.iter().filter(|t| !t.held))
                        .map(|t| format!("{} {:.1} over {:.1}", t.kind, t.value, t.limit))
                        .collect();
                    ("thresholds".into(), which.join(", "))
                }
                _ => {
                    at = s.started + s.wall_seconds;
                    ("teardown".into(), teardown_line(&s).unwrap_or_default())
                }
            });
            HubFailure {
                phase,
                error,
                at,
                at_rfc3339: rfc3339(at),
            }
        });
        Self {
            name: m.name.clone(),
            dir,
            run_id: s.run_id.clone(),
            hub: Some(s.hub.clone()),
            identity: None,
            clusters: m.clusters,
            status: s.status,
            exit_code: s.exit_code,
            failure,
            pairs_expected: last.map_or(0, |p| p.pairs_expected),
            pairs_applied: last.map_or(0, |p| p.pairs_applied),
            drain_seconds: drain_seconds(&s.phases),
            time_scale: s.time_scale,
            wall_seconds: s.wall_seconds,
            fanout: s.fanout.clone(),
            fanout_from: s.fanout_from,
            errors: s.errors,
            teardown: teardown_line(&s),
            phases: s.phases.clone(),
            findings: s.metrics.as_ref().map(|m| m.findings.clone()),
            summary: Some(Box::new(s)),
        }
    }
}

pub(crate) fn teardown_line(s: &Summary) -> Option<String> {
    match &s.teardown {
        Some(TeardownRecord::Ran(t)) => {
            let mut line = t.counts();
            for p in t.problems() {
                line.push_str("; ");
                line.push_str(&p);
            }
            Some(line)
        }
        Some(TeardownRecord::Error { error }) => Some(format!("could not run: {error}")),
        None => None,
    }
}

/// The fleet's fan-out from the hubs': exact when every hub's pairs are at hand, added
/// histograms when every hub's come from Hive's histogram, else the worst hub's figures.
fn fleet_fanout(hubs: &[&HubResult]) -> (Percentiles, FleetFanoutFrom) {
    let measured: Vec<&&HubResult> = hubs.iter().filter(|h| h.fanout.count > 0).collect();
    if measured
        .iter()
        .all(|h| h.fanout_from == FanoutFrom::Objects)
    {
        let all: Vec<f64> = measured
            .iter()
            .flat_map(|h| {
                h.summary
                    .iter()
                    .flat_map(|s| s.fanout_samples.iter().copied())
            })
            .collect();
        return (Percentiles::of(&all), FleetFanoutFrom::Objects);
    }
    if measured
        .iter()
        .all(|h| h.fanout_from == FanoutFrom::HiveHistogram && buckets(h).is_some())
    {
        let mut les: Vec<f64> = measured
            .iter()
            .flat_map(|h| buckets(h).into_iter().flatten().map(|(le, _)| *le))
            .collect();
        les.sort_by(f64::total_cmp);
        les.dedup();
        let sum: Vec<(f64, f64)> = les
            .iter()
            .map(|le| {
                let n = measured
                    .iter()
                    .map(|h| bucket_count(buckets(h).unwrap_or_default(), *le))
                    .sum();
                (*le, n)
            })
            .collect();
        return (
            Percentiles::from_histogram(&[], &sum),
            FleetFanoutFrom::HiveHistogram,
        );
    }
    let worst =
        |f: fn(&Percentiles) -> f64| measured.iter().map(|h| f(&h.fanout)).fold(0.0, f64::max);
    (
        Percentiles {
            count: measured.iter().map(|h| h.fanout.count).sum(),
            p50: worst(|p| p.p50),
            p90: worst(|p| p.p90),
            p99: worst(|p| p.p99),
            max: worst(|p| p.max),
        },
        FleetFanoutFrom::WorstHub,
    )
}

/// What Hive's fan-out histogram gained over a hub's run, when its fan-out came from it.
fn buckets(h: &HubResult) -> Option<&[(f64, f64)]> {
    h.summary.as_ref()?.fanout_buckets.as_deref()
}

impl FleetSummary {
    pub(crate) fn totals(&mut self) {
        let rows: Vec<&HubResult> = self.hubs.iter().collect();
        let (fanout, fanout_from) = fleet_fanout(&rows);
        let slowest = rows
            .iter()
            .filter(|h| h.pairs_applied > 0)
            .max_by(|a, b| a.drain_seconds.total_cmp(&b.drain_seconds));
        self.fleet = FleetTotals {
            hubs: rows.len(),
            hubs_passed: rows.iter().filter(|h| h.status == Status::Passed).count(),
            clusters: rows.iter().map(|h| u64::from(h.clusters)).sum(),
            pairs_expected: rows.iter().map(|h| h.pairs_expected).sum(),
            pairs_applied: rows.iter().map(|h| h.pairs_applied).sum(),
            slowest_hub: slowest.map(|h| h.name.clone()),
            drain_seconds: slowest.map_or(0.0, |h| h.drain_seconds),
            fanout,
            fanout_from,
            errors: rows.iter().map(|h| h.errors).sum(),
        };
        let failed = |h: &&&HubResult| !matches!(h.status, Status::Passed | Status::Running);
        self.failed_hubs = rows.iter().filter(failed).map(|h| h.name.clone()).collect();
        self.status = self.deciding_hub().map_or(Status::Passed, |h| h.status);
    }

    /// The hub whose status is the fleet's: one still running; else one interrupted (a signal
    /// reaches every hub's run); else the first, in the fleet's order, that did not pass.
    /// `None` when every hub passed. Its exit code is the fleet's.
    pub fn deciding_hub(&self) -> Option<&HubResult> {
        let failed = |h: &&HubResult| !matches!(h.status, Status::Passed | Status::Running);
        let running = self.hubs.iter().find(|h| h.status == Status::Running);
        let interrupted = self.hubs.iter().find(|h| h.status == Status::Interrupted);
        running
            .or(interrupted)
            .or_else(|| self.hubs.iter().find(failed))
    }

    /// A fleet's result directory read back: its `summary.json`, with each hub's own summary
    /// (in the hub's directory) where that hub's run wrote one.
    ///
    /// # Errors
    ///
    /// When the fleet's summary cannot be read or is not a fleet's.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(runner::SUMMARY_FILE);
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        let mut fleet: Self = serde_json::from_slice(&read(&path)?).map_err(|e| {
            Error::Invalid(format!("{}: not a fleet's summary: {e}", path.display()))
        })?;
        for h in &mut fleet.hubs {
            let hub = dir.join(&h.dir).join(runner::SUMMARY_FILE);
            if let Ok(bytes) = read(&hub)
                && let Ok(s) = serde_json::from_slice::<Summary>(&bytes)
            {
                h.summary = Some(Box::new(s));
            }
        }
        Ok(fleet)
    }
}
