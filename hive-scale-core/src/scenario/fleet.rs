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

pub mod identity;

pub use identity::HubIdentity;

use super::progress::{Percentiles, bucket_count};
use super::runner::{
    self, FanoutFrom, PhaseRecord, RealHub, RunSettings, Status, Summary, Target, TeardownRecord,
    drain_seconds,
};
use super::{Scenario, exit};
use crate::metrics::now_unix;
use crate::{Error, Result};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// How many of the scenario's clusters a hub takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Share {
    /// Exactly this many.
    Clusters(u32),
    /// A share of what the hubs with fixed counts leave, in proportion to the weights.
    Weight(f64),
}

/// Splits `total` clusters over hubs by `shares`: fixed counts first, the rest in proportion
/// to the weights (largest remainder, so the counts add up exactly). When every hub has a
/// fixed count the fleet's total is their sum, whatever `total` says.
///
/// # Errors
///
/// Fixed counts above `total`, a weight that is not a positive number, or a hub that would get
/// no cluster (it would have nothing to observe), as one line naming the hub's position.
pub fn spread(total: u32, shares: &[Share]) -> std::result::Result<Vec<u32>, String> {
    if shares.is_empty() {
        return Err("a fleet needs at least one hub".into());
    }
    let fixed: u64 = shares
        .iter()
        .map(|s| match s {
            Share::Clusters(n) => u64::from(*n),
            Share::Weight(_) => 0,
        })
        .sum();
    let weights: f64 = shares
        .iter()
        .map(|s| match s {
            Share::Weight(w) => *w,
            Share::Clusters(_) => 0.0,
        })
        .sum();
    for (i, s) in shares.iter().enumerate() {
        match s {
            Share::Weight(w) if !(w.is_finite() && *w > 0.0) => {
                return Err(format!("hub {}: weight must be a positive number", i + 1));
            }
            Share::Clusters(0) => {
                return Err(format!("hub {}: clusters must be at least 1", i + 1));
            }
            _ => {}
        }
    }
    if weights == 0.0 {
        return u32::try_from(fixed)
            .map(|_| {
                shares
                    .iter()
                    .map(|s| match s {
                        Share::Clusters(n) => *n,
                        Share::Weight(_) => 0,
                    })
                    .collect()
            })
            .map_err(|_| "too many clusters".into());
    }
    let Some(rest) = u64::from(total).checked_sub(fixed) else {
        return Err(format!(
            "the hubs' fixed cluster counts ({fixed}) exceed the scenario's {total} clusters"
        ));
    };
    let ideal: Vec<f64> = shares
        .iter()
        .map(|s| match s {
            Share::Weight(w) => rest as f64 * w / weights,
            Share::Clusters(_) => 0.0,
        })
        .collect();
    let mut counts: Vec<u64> = ideal.iter().map(|v| v.floor() as u64).collect();
    let mut left = rest - counts.iter().sum::<u64>();
    let mut by_remainder: Vec<usize> = (0..shares.len())
        .filter(|i| matches!(shares[*i], Share::Weight(_)))
        .collect();
    by_remainder.sort_by(|a, b| {
        let (ra, rb) = (ideal[*a] - ideal[*a].floor(), ideal[*b] - ideal[*b].floor());
        rb.total_cmp(&ra).then(a.cmp(b))
    });
    for i in by_remainder.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[*i] += 1;
        left -= 1;
    }
    let mut out = Vec::with_capacity(shares.len());
    for (i, (s, n)) in shares.iter().zip(counts).enumerate() {
        out.push(match s {
            Share::Clusters(c) => *c,
            Share::Weight(_) if n == 0 => {
                return Err(format!(
                    "hub {} would get no cluster of the scenario's {total} (more clusters, or fewer hubs)",
                    i + 1
                ));
            }
            Share::Weight(_) => n as u32,
        });
    }
    Ok(out)
}

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
    /// Its own junit.xml, when its run ran.
    #[serde(skip, default)]
    junit: Option<String>,
    #[serde(skip)]
    samples: Vec<f64>,
    #[serde(skip)]
    buckets: Option<Vec<(f64, f64)>>,
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

fn rfc3339(unix: f64) -> String {
    jiff::Timestamp::from_millisecond((unix * 1000.0) as i64)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl HubResult {
    fn not_run(
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
            exit_code: exit::PHASE_FAILED,
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
            junit: None,
            samples: Vec::new(),
            buckets: None,
        }
    }

    fn from_summary(m: &Member, dir: String, s: Summary) -> Self {
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
            junit: Some(runner::junit::render(&s)),
            samples: s.fanout_samples,
            buckets: s.fanout_buckets,
        }
    }
}

fn teardown_line(s: &Summary) -> Option<String> {
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

/// A hub's metrics findings in a few lines: each sync queue's peak and drain, and whether a
/// full re-apply fits Hive's interval.
fn findings_lines(findings: Option<&crate::metrics::report::ReportFindings>) -> String {
    let Some(f) = findings else {
        return String::new();
    };
    let mut t = String::new();
    for q in &f.queues {
        let drained = q.drain_s.map_or_else(
            || format!("not drained ({} left)", q.remaining),
            |d| format!("drained in {d:.0}s"),
        );
        t.push_str(&format!(
            "\nQueue {}: peak {:.0} at {:.0}s, {drained}, {:.2} reconciles/s.\n",
            q.queue,
            q.peak,
            q.peak_at_s,
            q.rate_mean.unwrap_or(0.0),
        ));
    }
    if let Some(r) = &f.reapply {
        t.push_str(&format!(
            "\nA full re-apply ({:.0} {}) takes {:.0}s: {} Hive's {:.0}s interval.\n",
            r.items,
            r.unit,
            r.seconds,
            if r.fits { "fits" } else { "does not fit" },
            r.interval_s,
        ));
    }
    t
}

/// The fleet's fan-out from the hubs': exact when every hub's pairs are at hand, added
/// histograms when every hub's come from Hive's histogram, else the worst hub's figures.
fn fleet_fanout(hubs: &[&HubResult]) -> (Percentiles, FleetFanoutFrom) {
    let measured: Vec<&&HubResult> = hubs.iter().filter(|h| h.fanout.count > 0).collect();
    if measured
        .iter()
        .all(|h| h.fanout_from == FanoutFrom::Objects)
    {
        let all: Vec<f64> = measured.iter().flat_map(|h| h.samples.clone()).collect();
        return (Percentiles::of(&all), FleetFanoutFrom::Objects);
    }
    if measured
        .iter()
        .all(|h| h.fanout_from == FanoutFrom::HiveHistogram && h.buckets.is_some())
    {
        let mut les: Vec<f64> = measured
            .iter()
            .flat_map(|h| h.buckets.iter().flatten().map(|(le, _)| *le))
            .collect();
        les.sort_by(f64::total_cmp);
        les.dedup();
        let sum: Vec<(f64, f64)> = les
            .iter()
            .map(|le| {
                let n = measured
                    .iter()
                    .map(|h| bucket_count(h.buckets.as_deref().unwrap_or_default(), *le))
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

impl FleetSummary {
    fn totals(&mut self) {
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
        // Running while any hub runs; then Interrupted wins (the signal's code, as one hub's
        // run says it); otherwise the first hub that did not pass, in the fleet's order, gives
        // its status and code.
        let running = rows.iter().find(|h| h.status == Status::Running);
        let interrupted = rows.iter().find(|h| h.status == Status::Interrupted);
        let first_failed = rows.iter().find(failed);
        (self.status, self.exit_code) = match running.or(interrupted).or(first_failed) {
            Some(h) => (h.status, h.exit_code),
            None => (Status::Passed, exit::OK),
        };
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
                h.junit = Some(runner::junit::render(&s));
            }
        }
        Ok(fleet)
    }

    /// Writes `dir/summary.json` and `dir/junit.xml`, each whole.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::files::write_atomic(&dir.join(runner::SUMMARY_FILE), &text)?;
        crate::files::write_atomic(&dir.join(runner::JUNIT_FILE), self.junit().as_bytes())
    }

    /// The fleet as JUnit XML: each hub's suite as its own run wrote it, named after the hub,
    /// and for a hub whose run never ran (or still runs) a suite of one case saying so.
    pub fn junit(&self) -> String {
        use runner::junit::escape;
        let (mut tests, mut failures, mut skipped) = (0, 0, 0);
        let mut suites = String::new();
        for h in &self.hubs {
            let prefix = format!("<testsuite name=\"{}: ", escape(&h.name));
            match &h.junit {
                Some(doc) => {
                    let count = |attr: &str| -> u64 {
                        let key = format!(" {attr}=\"");
                        doc.find(&key)
                            .and_then(|i| doc[i + key.len()..].split('"').next())
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0)
                    };
                    tests += count("tests");
                    failures += count("failures");
                    skipped += count("skipped");
                    let inner = doc
                        .find("  <testsuite ")
                        .zip(doc.rfind("</testsuites>"))
                        .map_or("", |(a, b)| &doc[a..b]);
                    suites.push_str(&inner.replacen("<testsuite name=\"", &prefix, 1));
                }
                None => {
                    tests += 1;
                    let case = match &h.failure {
                        Some(f) => {
                            failures += 1;
                            format!(
                                "<failure type=\"{}\" message=\"{}\"/>",
                                escape(&f.phase),
                                escape(&f.error)
                            )
                        }
                        None => {
                            skipped += 1;
                            "<skipped message=\"still running\"/>".to_string()
                        }
                    };
                    let phase = h.failure.as_ref().map_or("run", |f| f.phase.as_str());
                    suites.push_str(&format!(
                        "  {prefix}scaletest {}\" tests=\"1\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"0\">\n    <testcase classname=\"fleet.{}\" name=\"{}\">{case}</testcase>\n  </testsuite>\n",
                        escape(&self.scenario.name),
                        u8::from(h.failure.is_some()),
                        u8::from(h.failure.is_none()),
                        escape(&h.name),
                        escape(phase)
                    ));
                }
            }
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hive-scale fleet\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">\n{suites}</testsuites>\n",
            self.wall_seconds
        )
    }

    /// The fleet's `report.md`: a row per hub, the failures with their time, the totals.
    pub fn report(&self) -> String {
        let s = &self.scenario;
        let mut t = format!(
            "# Fleet scale test: {}\n\n{}\n\nStatus **{}** (exit code {}), run {} (each hub's objects carry the run id of its row), {} hubs, {} clusters in all, {} SelectorSyncSets of {} ConfigMaps on every hub, {:.0}s wall.\n\n",
            s.name,
            s.description,
            self.status,
            self.exit_code,
            self.run_id,
            self.hubs.len(),
            self.fleet.clusters,
            s.selectorsyncsets,
            s.configmaps,
            self.wall_seconds
        );
        t.push_str("| hub | clusters | status | run id | pairs applied | drain (modeled s) | fan-out P50 / P90 / P99 / max (s) | teardown | details |\n|---|---|---|---|---|---|---|---|---|\n");
        for h in &self.hubs {
            let f = &h.fanout;
            t.push_str(&format!(
                "| {} | {} | {} | {} | {} of {} | {:.0} | {:.0} / {:.0} / {:.0} / {:.0} ({} pairs) | {} | [{}/report.md]({}/report.md) |\n",
                h.name,
                h.clusters,
                h.status,
                h.run_id,
                h.pairs_applied,
                h.pairs_expected,
                h.drain_seconds,
                f.p50,
                f.p90,
                f.p99,
                f.max,
                f.count,
                h.teardown.as_deref().unwrap_or("not run"),
                h.dir,
                h.dir
            ));
        }
        let failed: Vec<&HubResult> = self.hubs.iter().filter(|h| h.failure.is_some()).collect();
        if !failed.is_empty() {
            t.push_str("\n## Failed hubs\n\n");
            for h in failed {
                if let Some(f) = &h.failure {
                    t.push_str(&format!(
                        "- **{}** failed in {} at {} ({:.0}s into the run): {}\n",
                        h.name,
                        f.phase,
                        f.at_rfc3339,
                        f.at - self.started,
                        f.error
                    ));
                }
            }
        }
        for h in self.hubs.iter().filter(|h| !h.phases.is_empty()) {
            t.push_str(&format!(
                "\n## Hub {} ({} clusters, time scale {})\n\n",
                h.name, h.clusters, h.time_scale
            ));
            if let Some(id) = &h.identity {
                t.push_str(&format!(
                    "{}, told from the other hubs by its {id}; its objects carry run id {}.\n\n",
                    h.hub.as_deref().unwrap_or("The hub"),
                    h.run_id
                ));
            }
            t.push_str(&runner::phase_table(&h.phases));
            t.push_str(&findings_lines(h.findings.as_ref()));
            t.push_str(&format!(
                "\nHive's metrics, charts and the API call latency SLO of this hub: [{}/report.md]({}/report.md).\n",
                h.dir, h.dir
            ));
        }
        let f = &self.fleet;
        let how = match f.fanout_from {
            FleetFanoutFrom::Objects => "every pair of every hub, from Hive's objects",
            FleetFanoutFrom::HiveHistogram => {
                "the hubs' Hive histograms added, interpolated inside their buckets"
            }
            FleetFanoutFrom::WorstHub => "the worst hub's figure each (hubs measured differently)",
        };
        t.push_str(&format!(
            "\n## The fleet\n\n{} of {} hubs passed. Pairs applied: {} of {}. Slowest hub: {} (drain {:.0} modeled s). Fan-out over the fleet ({} pairs, {how}): P50 {:.0}s, P90 {:.0}s, P99 {:.0}s, max {:.0}s. Failed writes: {}.\n",
            f.hubs_passed,
            f.hubs,
            f.pairs_applied,
            f.pairs_expected,
            f.slowest_hub.as_deref().unwrap_or("none"),
            f.drain_seconds,
            f.fanout.count,
            f.fanout.p50,
            f.fanout.p90,
            f.fanout.p99,
            f.fanout.max,
            f.errors
        ));
        t
    }
}

/// The run id of fleet member `name` in the fleet's run `fleet`: `<fleet>-<name>`. Each hub's
/// objects can then be told from another member's even when two members turn out to be one
/// hub, and the fleet's id stays their common prefix. A run id is a DNS label
/// ([`is_run_id`](crate::labels::is_run_id)), at most 63 characters: a longer id is cut to fit
/// and ends in a hash of the whole, so members whose names differ only past the cut still
/// differ. With `fleet` and `name` DNS labels, so is the result.
pub fn member_run_id(fleet: &str, name: &str) -> String {
    const MAX: usize = 63;
    let full = format!("{fleet}-{name}");
    if full.len() <= MAX {
        return full;
    }
    // FNV-1a: stable across builds and versions (a resumed fleet derives the same ids), which
    // std's hashers do not promise.
    let hash = full.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let suffix = format!("-{hash:08x}");
    // Run ids and member names are DNS labels: ASCII, so any byte is a char boundary.
    let head = full.get(..MAX - suffix.len()).unwrap_or(&full);
    format!("{head}{suffix}")
}

/// Connects to a member's hub and finds out which hub it is; on failure, when and why.
async fn reach(m: &mut Member) -> std::result::Result<(Target, HubIdentity), (f64, String)> {
    let failed = |e: Error| {
        let error = crate::error::chain(&e);
        println!("[{}] cannot connect: {error}", m.name);
        (now_unix(), error)
    };
    let mut target = match Target::real(std::mem::take(&mut m.hub)).await {
        Ok(t) => t,
        Err(e) => return Err(failed(e)),
    };
    if let Some(k) = m.time_scale {
        target.time_scale = k;
    }
    match identity::identify(&target.hub).await {
        Ok(id) => Ok((target, id)),
        Err(e) => Err(failed(e)),
    }
}

/// The first member that is a hub already named, with the one it repeats.
fn same_hub(reached: &[(&str, &HubIdentity)]) -> Option<Error> {
    reached.iter().enumerate().find_map(|(j, (second, id))| {
        reached[..j]
            .iter()
            .find(|(_, other)| other == id)
            .map(|(first, _)| Error::SameHub {
                first: first.to_string(),
                second: second.to_string(),
                identity: id.to_string(),
            })
    })
}

/// Runs `scenario` over `members`, each hub at once with its share of the clusters and every
/// SelectorSyncSet, each through [`runner::run`] in `settings.out/hubs/NAME`; writes the
/// fleet's `summary.json` and `report.md` in `settings.out` and returns the summary.
///
/// Every hub is connected to and identified ([`identity::identify`]) first, before anything
/// is written to any hub or to `settings.out`. Each hub's objects carry its own run id,
/// [`member_run_id`] of `settings.run_id` and its name. A hub that cannot be connected to is
/// recorded as failed in phase `connect`; the others run on.
///
/// # Errors
///
/// [`Error::SameHub`] when two members are one hub; a member name not usable as a directory
/// name or a run id that is not a DNS label ([`Error::Invalid`]); a result directory that
/// cannot be created. Everything that goes wrong on a hub is in the summary.
pub async fn run(
    scenario: &Scenario,
    members: Vec<Member>,
    settings: &RunSettings,
) -> Result<FleetSummary> {
    for m in &members {
        if !crate::labels::is_label_value(&m.name) || m.name.starts_with('.') {
            return Err(Error::Invalid(format!(
                "hub name {:?} is not usable as a directory name",
                m.name
            )));
        }
    }
    if !crate::labels::is_run_id(&settings.run_id) {
        return Err(Error::Invalid(format!(
            "run id {:?} is not a DNS label",
            settings.run_id
        )));
    }
    let started = now_unix();
    let clock = Instant::now();
    let total_clusters: u32 = members.iter().map(|m| m.clusters).sum();
    let hubs = members.len();
    let mut members = members;
    let reached = futures::future::join_all(members.iter_mut().map(reach)).await;
    let identities: Vec<(&str, &HubIdentity)> = members
        .iter()
        .zip(&reached)
        .filter_map(|(m, r)| r.as_ref().ok().map(|(_, id)| (m.name.as_str(), id)))
        .collect();
    if let Some(e) = same_hub(&identities) {
        return Err(e);
    }
    let out = &settings.out;
    std::fs::create_dir_all(out.join("hubs")).map_err(|source| Error::Io {
        path: out.clone(),
        source,
    })?;
    let mut summary = FleetSummary {
        kind: "fleet",
        status: Status::Running,
        exit_code: exit::OK,
        run_id: settings.run_id.clone(),
        scenario: scenario.scaled(total_clusters, scenario.selectorsyncsets),
        parameters: settings.parameters.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started,
        wall_seconds: 0.0,
        failed_hubs: Vec::new(),
        hubs: Vec::new(),
        fleet: FleetTotals {
            hubs,
            clusters: members.iter().map(|m| u64::from(m.clusters)).sum(),
            ..FleetTotals::default()
        },
    };
    // A row per hub from the start, each replaced as its hub finishes, so a fleet stopped
    // half-way leaves the hubs that had finished in summary.json.
    summary.hubs = members
        .iter()
        .map(|m| {
            let mut row = HubResult::not_run(
                m,
                format!("hubs/{}", m.name),
                member_run_id(&settings.run_id, &m.name),
                "",
                0.0,
                String::new(),
            );
            (row.status, row.exit_code, row.failure) = (Status::Running, exit::OK, None);
            row
        })
        .collect();
    if let Err(e) = summary.write(out) {
        tracing::warn!(error = %e, "cannot write the fleet's summary.json");
    }
    // One listener for every hub's run, from before any of them starts: a signal reaches
    // them all. Unless the caller listens already, a signal before here ends the process,
    // which has written nothing to a hub yet.
    let signals = settings
        .signals
        .clone()
        .unwrap_or_else(runner::Signals::install);
    let signals = &signals;
    let runs = members
        .into_iter()
        .zip(reached)
        .enumerate()
        .map(|(i, (m, reached))| async move {
            let dir = format!("hubs/{}", m.name);
            let run_id = member_run_id(&settings.run_id, &m.name);
            let (target, identity) = match reached {
                Ok(r) => r,
                Err((at, error)) => {
                    return (i, HubResult::not_run(&m, dir, run_id, "connect", at, error));
                }
            };
            let mut s = settings.clone();
            s.out = out.join(&dir);
            s.progress = None;
            s.label = Some(m.name.clone());
            s.run_id = run_id.clone();
            s.signals = Some(signals.clone());
            s.parameters = serde_json::json!({
                "fleet": settings.parameters,
                "fleet_run_id": settings.run_id,
                "hub": m.name,
                "clusters": m.clusters,
            });
            let scenario = scenario.scaled(m.clusters, scenario.selectorsyncsets);
            println!(
                "[{}] {} clusters on {} ({identity}), run {run_id}",
                m.name, m.clusters, target.description
            );
            let mut row = match runner::run(&scenario, target, &s).await {
                Ok(summary) => {
                    println!(
                        "[{}] {} (exit code {})",
                        m.name, summary.status, summary.exit_code
                    );
                    HubResult::from_summary(&m, dir, summary)
                }
                // Its result directory could not be created.
                Err(e) => HubResult::not_run(
                    &m,
                    dir,
                    run_id,
                    "start",
                    now_unix(),
                    crate::error::chain(&e),
                ),
            };
            row.identity = Some(identity);
            (i, row)
        });
    let mut runs: futures::stream::FuturesUnordered<_> = runs.collect();
    while let Some((i, row)) = futures::StreamExt::next(&mut runs).await {
        summary.hubs[i] = row;
        summary.wall_seconds = clock.elapsed().as_secs_f64();
        summary.totals();
        if let Err(e) = summary.write(out) {
            tracing::warn!(error = %e, "cannot write the fleet's summary.json");
        }
    }
    summary
        .write(out)
        .and_then(|()| {
            crate::files::write_atomic(&out.join("report.md"), summary.report().as_bytes())
        })
        .map_err(|source| Error::Io {
            path: out.clone(),
            source,
        })?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_adds_up_and_honours_fixed_counts() {
        let w = Share::Weight(1.0);
        assert_eq!(spread(10, &[w, w, w]).unwrap(), vec![4, 3, 3]);
        assert_eq!(spread(300, &[w, w, w]).unwrap(), vec![100, 100, 100]);
        assert_eq!(
            spread(
                100,
                &[Share::Clusters(40), Share::Weight(1.0), Share::Weight(2.0)]
            )
            .unwrap(),
            vec![40, 20, 40]
        );
        // Every hub fixed: their sum, whatever the scenario says.
        assert_eq!(
            spread(5, &[Share::Clusters(7), Share::Clusters(8)]).unwrap(),
            vec![7, 8]
        );
        for total in [7, 11, 1000] {
            let n = spread(total, &[Share::Weight(0.3), Share::Weight(2.0), w]).unwrap();
            assert_eq!(n.iter().sum::<u32>(), total, "{n:?}");
        }
    }

    #[test]
    fn spread_refuses_what_cannot_be_split() {
        let w = Share::Weight(1.0);
        assert!(
            spread(2, &[w, w, w])
                .unwrap_err()
                .contains("hub 3 would get no cluster")
        );
        assert!(
            spread(10, &[Share::Clusters(11), w])
                .unwrap_err()
                .contains("exceed")
        );
        assert!(
            spread(10, &[Share::Weight(-1.0)])
                .unwrap_err()
                .contains("weight")
        );
        assert!(spread(10, &[Share::Weight(f64::NAN)]).is_err());
        assert!(spread(10, &[Share::Clusters(0)]).is_err());
        assert!(spread(10, &[]).is_err());
    }

    fn row(name: &str, status: Status, drain: f64, samples: Vec<f64>) -> HubResult {
        let mut h = HubResult::not_run(
            &Member::new(name, 1, RealHub::default()),
            format!("hubs/{name}"),
            member_run_id("r", name),
            "connect",
            0.0,
            String::new(),
        );
        h.status = status;
        h.exit_code = status.exit_code();
        h.failure = None;
        h.drain_seconds = drain;
        h.pairs_applied = samples.len();
        h.pairs_expected = samples.len();
        h.fanout = Percentiles::of(&samples);
        h.samples = samples;
        h
    }

    fn fleet(hubs: Vec<HubResult>) -> FleetSummary {
        let mut s = FleetSummary {
            kind: "fleet",
            status: Status::Running,
            exit_code: 0,
            run_id: "r".into(),
            scenario: Scenario::load("2020-adoption").unwrap(),
            parameters: serde_json::Value::Null,
            tool_version: String::new(),
            started: 0.0,
            wall_seconds: 0.0,
            failed_hubs: Vec::new(),
            hubs,
            fleet: FleetTotals::default(),
        };
        s.totals();
        s
    }

    #[test]
    fn totals_merge_pairs_and_name_the_slowest_and_failed_hubs() {
        let s = fleet(vec![
            row("a", Status::Passed, 10.0, vec![1.0, 2.0]),
            row("b", Status::Passed, 30.0, vec![3.0, 40.0]),
            row("c", Status::Timeout, 5.0, vec![5.0]),
        ]);
        let f = &s.fleet;
        assert_eq!((f.pairs_applied, f.hubs_passed), (5, 2));
        assert_eq!(f.slowest_hub.as_deref(), Some("b"));
        assert_eq!(f.fanout.count, 5);
        assert_eq!(f.fanout.max, 40.0);
        assert_eq!(f.fanout_from, FleetFanoutFrom::Objects);
        assert_eq!(s.failed_hubs, vec!["c"]);
        assert_eq!((s.status, s.exit_code), (Status::Timeout, exit::TIMEOUT));
        let all_ok = fleet(vec![row("a", Status::Passed, 1.0, vec![1.0])]);
        assert_eq!((all_ok.status, all_ok.exit_code), (Status::Passed, 0));
        let interrupted = fleet(vec![
            row("a", Status::Failed, 1.0, vec![]),
            row("b", Status::Interrupted, 1.0, vec![]),
        ]);
        assert_eq!(interrupted.status, Status::Interrupted);
        // While a hub runs the fleet runs, and hubs that already failed are named.
        let half_way = fleet(vec![
            row("a", Status::Running, 0.0, vec![]),
            row("b", Status::Timeout, 1.0, vec![]),
        ]);
        assert_eq!((half_way.status, half_way.exit_code), (Status::Running, 0));
        assert_eq!(half_way.failed_hubs, vec!["b"]);
    }

    #[test]
    fn each_member_has_a_run_id_of_its_own_within_a_dns_label() {
        assert_eq!(
            member_run_id("hs-20261130t002949-4f2a", "east"),
            "hs-20261130t002949-4f2a-east"
        );
        let long = "x".repeat(63);
        let (a, b) = (
            member_run_id(&long, &format!("{}-a", "n".repeat(40))),
            member_run_id(&long, &format!("{}-b", "n".repeat(40))),
        );
        for id in [&a, &b] {
            assert_eq!(id.len(), 63, "{id}");
            assert!(crate::labels::is_run_id(id), "{id}");
            assert!(id.starts_with(&long[..50]), "{id}");
        }
        assert_ne!(a, b, "names that differ past the cut");
        // The same inputs give the same id: a resumed fleet finds its objects again.
        assert_eq!(a, member_run_id(&long, &format!("{}-a", "n".repeat(40))));
        // A cut that ends in a '-' still gives a DNS label.
        let id = member_run_id(&format!("{}-x", "r".repeat(53)), "hub-with-a-long-name");
        assert_eq!(&id[53..55], "--", "{id}");
        assert!(crate::labels::is_run_id(&id), "{id}");
    }

    #[test]
    fn a_hub_named_twice_is_found_by_its_identity() {
        let uid = |u: &str| HubIdentity::KubeSystemUid(u.into());
        let (one, two, cert) = (
            uid("1"),
            uid("2"),
            HubIdentity::CertificateSha256("1".into()),
        );
        assert!(same_hub(&[("a", &one), ("b", &two), ("c", &cert)]).is_none());
        let e = same_hub(&[("a", &one), ("b", &two), ("c", &one)]).unwrap();
        assert_eq!(
            e.to_string(),
            r#"hubs "a" and "c" are the same hub (kube-system namespace uid 1): name each hub once"#
        );
        assert!(matches!(e, Error::SameHub { .. }));
    }

    #[test]
    fn the_report_names_each_hub_s_run_id_and_identity() {
        let mut a = row("a", Status::Passed, 1.0, vec![1.0]);
        a.hub = Some("https://127.0.0.1:6443".into());
        a.identity = Some(HubIdentity::KubeSystemUid("u-1".into()));
        a.phases = vec![
            serde_json::from_value(serde_json::json!({
                "name": "observe", "outcome": "ok", "wall_seconds": 1.0, "modeled_seconds": 1.0,
                "pairs_expected": 1, "pairs_applied": 1, "errors": 0
            }))
            .unwrap(),
        ];
        let r = fleet(vec![a]).report();
        assert!(r.contains("| a | 1 | passed | r-a | 1 of 1 |"), "{r}");
        assert!(
            r.contains("https://127.0.0.1:6443, told from the other hubs by its kube-system namespace uid u-1; its objects carry run id r-a."),
            "{r}"
        );
    }

    #[test]
    fn histograms_add_bucket_by_bucket() {
        let mut a = row("a", Status::Passed, 1.0, vec![]);
        let mut b = row("b", Status::Passed, 1.0, vec![]);
        for (h, buckets) in [
            (&mut a, vec![(10.0, 2.0), (60.0, 2.0), (f64::INFINITY, 2.0)]),
            (&mut b, vec![(10.0, 0.0), (60.0, 2.0), (f64::INFINITY, 2.0)]),
        ] {
            h.fanout = Percentiles::from_histogram(&[], &buckets);
            h.fanout_from = FanoutFrom::HiveHistogram;
            h.buckets = Some(buckets);
        }
        let s = fleet(vec![a, b]);
        assert_eq!(s.fleet.fanout_from, FleetFanoutFrom::HiveHistogram);
        assert_eq!(s.fleet.fanout.count, 4);
        assert_eq!(s.fleet.fanout.max, 60.0);
        let report = s.report();
        assert!(report.contains("| a | 1 | passed |"), "{report}");
    }

    #[test]
    fn findings_are_summed_up_per_hub() {
        let f: crate::metrics::report::ReportFindings = serde_json::from_value(serde_json::json!({
            "queues": [
                {"queue": "clusterSync-controller", "peak": 80.0, "peak_at_s": 12.0, "drain_s": 40.0, "remaining": 0.0, "rate_mean": 2.5},
                {"queue": "syncset-controller", "peak": 5.0, "peak_at_s": 1.0, "drain_s": null, "remaining": 3.0, "rate_mean": 0.5}
            ],
            "rates": [], "notes": [],
            "reapply": {"items": 80.0, "unit": "clusters", "items_from": "clusters", "queue": "clusterSync-controller", "rate": 2.5, "seconds": 32.0, "fits": true, "interval_s": 7200.0}
        }))
        .unwrap();
        let t = findings_lines(Some(&f));
        assert!(
            t.contains(
                "Queue clusterSync-controller: peak 80 at 12s, drained in 40s, 2.50 reconciles/s."
            ),
            "{t}"
        );
        assert!(t.contains("not drained (3 left)"), "{t}");
        assert!(
            t.contains("A full re-apply (80 clusters) takes 32s: fits Hive's 7200s interval."),
            "{t}"
        );
        assert_eq!(findings_lines(None), "");
    }

    #[test]
    fn a_failure_is_named_with_its_phase_and_time() {
        let mut h = row("east", Status::Failed, 0.0, vec![]);
        h.failure = Some(HubFailure {
            phase: "observe".into(),
            error: "connection refused".into(),
            at: 90.0,
            at_rfc3339: rfc3339(90.0),
        });
        let s = fleet(vec![h, row("west", Status::Passed, 1.0, vec![1.0])]);
        let r = s.report();
        assert!(
            r.contains("**east** failed in observe at 1970-01-01T00:01:30Z (90s into the run): connection refused"),
            "{r}"
        );
        assert_eq!(s.exit_code, exit::PHASE_FAILED);
        let junit = s.junit();
        assert!(
            junit.contains(r#"<testsuites name="hive-scale fleet" tests="2" failures="1" errors="0" skipped="1""#),
            "{junit}"
        );
        assert!(
            junit.contains(
                r#"<testsuite name="east: scaletest 2020-adoption" tests="1" failures="1""#
            ) && junit.contains(r#"<failure type="observe" message="connection refused"/>"#),
            "{junit}"
        );
    }
}
