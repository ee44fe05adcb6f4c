//! Two scale-test result directories side by side: the run's figures (drain, fan-out
//! percentiles, apply rate, errors, peak queue depth, queue drain, the metrics' rates) and each
//! phase's, with the change in percent, and gates that fail when a figure regresses past a
//! limit.
//!
//! [`load`] reads a result directory (`summary.json`, and when present `metrics-summary.json`
//! and `recording.jsonl`) into [`RunData`]; [`compare`] and [`check`] are pure functions over
//! two of them. The summary is read through a loose view of the fields compared, so results of
//! older and newer versions (with sections this one does not know) still compare.
//!
//! ```no_run
//! use hive_scale_core::scenario::compare::{self, Gate};
//! let a = compare::load("target/scaletest/base".as_ref())?;
//! let b = compare::load("target/scaletest/new".as_ref())?;
//! let mut cmp = compare::compare(&a, &b);
//! cmp.gates = compare::check(&cmp, &["p99-fanout:10%".parse::<Gate>()?])?;
//! let table = cmp.table();
//! let regressed = cmp.verdict() == compare::GateOutcome::Regressed;
//! # Ok::<(), compare::CompareError>(())
//! ```

use super::progress::Percentiles;
use super::runner::{PhaseRecord, SUMMARY_FILE, Status, drain_seconds};
use crate::metrics::report::{Recording, ReportSummary, SUMMARY_FILE as METRICS_FILE};
use crate::metrics::{Kind, read_recording};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why two runs cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The directory does not exist.
    #[error("{}: no such directory", path.display())]
    NoDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The directory holds no `summary.json`.
    #[error("{}: not a scaletest result directory (no summary.json)", path.display())]
    NotAResult {
        /// The directory.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `summary.json` is not a scale test's summary.
    #[error("{}: not a scaletest summary", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A gate names a metric neither run has.
    #[error("unknown metric {name:?} (known: {known})")]
    UnknownMetric {
        /// The name given.
        name: String,
        /// The metrics the runs have.
        known: String,
    },
    /// A gate that does not parse.
    #[error("invalid gate {0:?}: expected METRIC:PCT, e.g. p99-fanout:10%")]
    BadGate(String),
}

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Times, depths, errors: higher is worse.
    Lower,
    /// Rates: lower is worse.
    Higher,
}

/// A figure a run has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Value {
    /// The metric's name (`p99-fanout`, `resources_applied_rate`...).
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// Which way is better.
    pub better: Better,
    /// The figure.
    pub value: f64,
}

/// The run-level metrics every result may have, with units and direction; the metrics report's
/// rate queries come on top, by their query names.
pub const RUN_METRICS: [(&str, &str, Better, &str); 11] = [
    (
        "drain",
        "s",
        Better::Lower,
        "longest observe phase, modeled seconds",
    ),
    ("wall", "s", Better::Lower, "the run's wall time"),
    ("p50-fanout", "s", Better::Lower, "median fan-out latency"),
    ("p90-fanout", "s", Better::Lower, "90th percentile fan-out"),
    ("p99-fanout", "s", Better::Lower, "99th percentile fan-out"),
    ("max-fanout", "s", Better::Lower, "slowest fan-out"),
    (
        "pairs-applied",
        "pairs",
        Better::Higher,
        "(set, cluster) pairs applied",
    ),
    (
        "apply-rate",
        "pairs/s",
        Better::Higher,
        "pairs applied per modeled second",
    ),
    ("errors", "", Better::Lower, "failed writes"),
    (
        "peak-queue",
        "items",
        Better::Lower,
        "deepest work queue (metrics)",
    ),
    (
        "queue-drain",
        "s",
        Better::Lower,
        "the deepest queue's peak to empty (metrics)",
    ),
];

fn value(metric: &str, unit: &str, better: Better, v: f64) -> Value {
    Value {
        metric: metric.into(),
        unit: unit.into(),
        better,
        value: v,
    }
}

fn builtin(metric: &str, v: f64) -> Value {
    let (_, unit, better, _) = RUN_METRICS
        .iter()
        .find(|m| m.0 == metric)
        .copied()
        .unwrap_or((metric, "", Better::Lower, ""));
    value(metric, unit, better, v)
}

/// Rates per second get better as they grow; other "rates" (CPU cores busy) do not.
fn rate_direction(unit: &str) -> Better {
    if unit == "1/s" {
        Better::Higher
    } else {
        Better::Lower
    }
}

/// The queue-depth query of the built-in profiles, when a recording does not name its own.
const QUEUE_QUERY: &str = "workqueue_depth";

/// One result directory, reduced to the figures compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunData {
    /// The directory.
    pub dir: PathBuf,
    /// The run id.
    pub run_id: String,
    /// The scenario's name.
    pub scenario: String,
    /// How the run ended (`None` in a summary that does not say).
    pub status: Option<Status>,
    /// Modeled seconds per real second.
    pub time_scale: Option<f64>,
    /// The run's figures.
    #[serde(skip)]
    pub run: Vec<Value>,
    /// Each phase's figures, by phase key (the name; `name (2)` for its second occurrence).
    #[serde(skip)]
    pub phases: Vec<(String, Vec<Value>)>,
    /// What could not be read (a missing recording, say): the comparison goes on without it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The fields of `summary.json` compared; everything else is ignored.
#[derive(Debug, Deserialize)]
struct SummaryView {
    run_id: String,
    #[serde(default)]
    status: Option<Status>,
    scenario: ScenarioView,
    #[serde(default)]
    time_scale: Option<f64>,
    #[serde(default)]
    wall_seconds: Option<f64>,
    #[serde(default)]
    phases: Vec<PhaseRecord>,
    #[serde(default)]
    fanout: Option<Percentiles>,
    #[serde(default)]
    errors: Option<u64>,
    #[serde(default)]
    metrics: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct ScenarioView {
    name: String,
}

/// Reads a result directory: `summary.json` (required), `metrics-summary.json` (else the
/// summary's `metrics` section) and `recording.jsonl` (per-phase queue depths and rates), the
/// last two optional.
pub fn load(dir: &Path) -> Result<RunData, CompareError> {
    if !dir.is_dir() {
        return Err(CompareError::NoDirectory { path: dir.into() });
    }
    let path = dir.join(SUMMARY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CompareError::NotAResult { path: dir.into() });
        }
        Err(source) => return Err(CompareError::Read { path, source }),
    };
    let summary: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| CompareError::Parse {
            path: path.clone(),
            source,
        })?;
    let mut notes = Vec::new();
    let metrics_path = dir.join(METRICS_FILE);
    let metrics = match std::fs::read_to_string(&metrics_path) {
        Ok(t) => match serde_json::from_str::<ReportSummary>(&t) {
            Ok(m) => Some(m),
            Err(e) => {
                notes.push(format!("{}: ignored: {e}", metrics_path.display()));
                None
            }
        },
        Err(_) => None,
    };
    let recording_path = dir.join("recording.jsonl");
    let recording = if recording_path.exists() {
        match read_recording(&recording_path) {
            Ok(r) => Some(r),
            Err(e) => {
                notes.push(format!("no per-phase metrics: {}", crate::error::chain(&e)));
                None
            }
        }
    } else {
        None
    };
    let mut run = from_parts(dir, summary, metrics, recording.as_ref()).map_err(|source| {
        CompareError::Parse {
            path: path.clone(),
            source,
        }
    })?;
    notes.append(&mut run.notes);
    run.notes = notes;
    Ok(run)
}

/// Reduces a summary (as JSON), the metrics report and the recording to [`RunData`]: the pure
/// half of [`load`]. Without `metrics`, the summary's own `metrics` section is used.
pub fn from_parts(
    dir: &Path,
    summary: serde_json::Value,
    metrics: Option<ReportSummary>,
    recording: Option<&Recording>,
) -> Result<RunData, serde_json::Error> {
    let s: SummaryView = serde_json::from_value(summary)?;
    let mut notes = Vec::new();
    let metrics = metrics.or_else(|| {
        let m = s.metrics.clone()?;
        serde_json::from_value::<ReportSummary>(m)
            .map_err(|e| notes.push(format!("the summary's metrics section is ignored: {e}")))
            .ok()
    });
    let mut run = Vec::new();
    if !s.phases.is_empty() {
        run.push(builtin("drain", drain_seconds(&s.phases)));
    }
    if let Some(w) = s.wall_seconds {
        run.push(builtin("wall", w));
    }
    if let Some(f) = s.fanout.as_ref().filter(|f| f.count > 0) {
        run.extend(fanout(f));
    }
    if let Some(last) = s.phases.last() {
        run.push(builtin("pairs-applied", last.pairs_applied as f64));
        let modeled: f64 = s.phases.iter().map(|p| p.modeled_seconds).sum();
        if modeled > 0.0 {
            run.push(builtin("apply-rate", last.pairs_applied as f64 / modeled));
        }
    }
    if let Some(e) = s.errors {
        run.push(builtin("errors", e as f64));
    }
    if let Some(m) = &metrics {
        // Queues come largest peak first; none means none ever held anything, which is a
        // peak of zero as long as the depth query answered at all.
        if let Some(q) = m.findings.queues.first() {
            run.push(builtin("peak-queue", q.peak));
            if let Some(d) = q.drain_s {
                run.push(builtin("queue-drain", d));
            }
        } else if m
            .queries
            .iter()
            .any(|q| q.name == QUEUE_QUERY && q.total.is_some())
        {
            run.push(builtin("peak-queue", 0.0));
        }
        for r in &m.findings.rates {
            run.push(value(&r.name, &r.unit, rate_direction(&r.unit), r.mean));
        }
    }
    let windows = recording.map(|r| phase_windows(r, &s.phases));
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut before = 0usize;
    let mut phases = Vec::new();
    for (i, p) in s.phases.iter().enumerate() {
        let n = seen.entry(p.name.as_str()).or_default();
        *n += 1;
        let key = if *n == 1 {
            p.name.clone()
        } else {
            format!("{} ({n})", p.name)
        };
        let mut v = vec![
            value("time", "s", Better::Lower, p.modeled_seconds),
            value("wall", "s", Better::Lower, p.wall_seconds),
        ];
        if let Some(f) = p.fanout.as_ref().filter(|f| f.count > 0) {
            v.extend(fanout(f));
        }
        if p.modeled_seconds > 0.0 && p.pairs_applied >= before {
            v.push(builtin(
                "apply-rate",
                (p.pairs_applied - before) as f64 / p.modeled_seconds,
            ));
        }
        before = p.pairs_applied;
        v.push(builtin("errors", p.errors as f64));
        if let Some(Some(w)) = windows.as_ref().map(|w| w.get(i)) {
            v.extend(w.iter().cloned());
        }
        phases.push((key, v));
    }
    Ok(RunData {
        dir: dir.into(),
        run_id: s.run_id,
        scenario: s.scenario.name,
        status: s.status,
        time_scale: s.time_scale,
        run,
        phases,
        notes,
    })
}

fn fanout(f: &Percentiles) -> [Value; 4] {
    [
        builtin("p50-fanout", f.p50),
        builtin("p90-fanout", f.p90),
        builtin("p99-fanout", f.p99),
        builtin("max-fanout", f.max),
    ]
}

/// Per phase (by index), the deepest queue total and each rate query's mean over the snapshots
/// taken while it ran. The recorder marks each phase as it starts, in the summary's order.
fn phase_windows(rec: &Recording, phases: &[PhaseRecord]) -> Vec<Vec<Value>> {
    let profile = rec.start.as_ref().map(|s| &s.profile);
    let queue = profile
        .map(|p| p.findings.queue.clone())
        .unwrap_or_else(|| QUEUE_QUERY.into());
    let marks: Vec<f64> = rec.phases.iter().map(|m| m.t).collect();
    let in_step = rec.phases.len() >= phases.len()
        && rec.phases.iter().zip(phases).all(|(m, p)| m.name == p.name);
    if !in_step {
        return Vec::new();
    }
    (0..phases.len())
        .map(|i| {
            let (from, to) = (marks[i], marks.get(i + 1).copied().unwrap_or(f64::INFINITY));
            let snaps: Vec<_> = rec
                .snapshots
                .iter()
                .filter(|s| s.t >= from && s.t < to)
                .collect();
            let mut out = Vec::new();
            let peak = snaps
                .iter()
                .filter_map(|s| s.get(&queue)?.value()?.total())
                .reduce(f64::max);
            if let Some(p) = peak {
                out.push(builtin("peak-queue", p));
            }
            let mut rates: Vec<(String, String, Vec<f64>)> = Vec::new();
            for s in &snaps {
                for r in s.results.iter().filter(|r| r.kind == Kind::Rate) {
                    let Some(v) = r.value().and_then(|v| v.total()) else {
                        continue;
                    };
                    match rates.iter_mut().find(|(n, _, _)| *n == r.name) {
                        Some((_, _, vs)) => vs.push(v),
                        None => rates.push((r.name.clone(), r.unit.clone(), vec![v])),
                    }
                }
            }
            for (name, unit, vs) in rates {
                let mean = vs.iter().sum::<f64>() / vs.len() as f64;
                out.push(value(&name, &unit, rate_direction(&unit), mean));
            }
            out
        })
        .collect()
}

/// How a figure moved from A to B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Movement {
    /// Equal.
    Same,
    /// Better in the metric's direction.
    Better,
    /// Worse in the metric's direction.
    Worse,
    /// Only one run has it.
    Missing,
}

/// One metric in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The metric.
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// Which way is better.
    pub better: Better,
    /// Run A's figure.
    pub a: Option<f64>,
    /// Run B's figure.
    pub b: Option<f64>,
    /// `(b - a) / a` in percent; absent when a figure is missing or A's is zero.
    pub change_pct: Option<f64>,
    /// Better, worse or the same.
    pub movement: Movement,
}

impl Row {
    fn new(a: Option<&Value>, b: Option<&Value>) -> Option<Self> {
        let v = a.or(b)?;
        let (av, bv) = (a.map(|v| v.value), b.map(|v| v.value));
        let (change_pct, movement) = match (av, bv) {
            (Some(x), Some(y)) => {
                let pct = (x != 0.0).then(|| (y - x) / x.abs() * 100.0);
                let movement = if x == y {
                    Movement::Same
                } else if (y > x) == (v.better == Better::Higher) {
                    Movement::Better
                } else {
                    Movement::Worse
                };
                (pct, movement)
            }
            _ => (None, Movement::Missing),
        };
        Some(Row {
            metric: v.metric.clone(),
            unit: v.unit.clone(),
            better: v.better,
            a: av,
            b: bv,
            change_pct,
            movement,
        })
    }

    /// How much worse B is than A, in percent of A (negative: better; infinite: A was zero
    /// and B is worse); `None` when a figure is missing.
    pub fn regression_pct(&self) -> Option<f64> {
        let (a, b) = (self.a?, self.b?);
        let worse = match self.better {
            Better::Lower => b - a,
            Better::Higher => a - b,
        };
        Some(if a != 0.0 {
            worse / a.abs() * 100.0
        } else if worse > 0.0 {
            f64::INFINITY
        } else if worse < 0.0 {
            f64::NEG_INFINITY
        } else {
            0.0
        })
    }
}

/// One phase in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRows {
    /// The phase (its name; `name (2)` for the second phase of that name).
    pub phase: String,
    /// Whether run A has it.
    pub in_a: bool,
    /// Whether run B has it.
    pub in_b: bool,
    /// Its figures.
    pub rows: Vec<Row>,
}

/// A limit on how much one run-level metric may regress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    /// The metric.
    pub metric: String,
    /// The largest acceptable regression, percent of run A's figure.
    pub max_regression_pct: f64,
}

impl std::str::FromStr for Gate {
    type Err = CompareError;

    /// `METRIC:PCT` or `METRIC=PCT`, the percent sign optional: `p99-fanout:10%`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CompareError::BadGate(s.into());
        let (metric, pct) = s.rsplit_once([':', '=']).ok_or_else(bad)?;
        let pct: f64 = pct
            .trim()
            .trim_end_matches('%')
            .trim()
            .parse()
            .map_err(|_| bad())?;
        let metric = metric.trim();
        if metric.is_empty() || !pct.is_finite() || pct < 0.0 {
            return Err(bad());
        }
        Ok(Gate {
            metric: metric.into(),
            max_regression_pct: pct,
        })
    }
}

/// What became of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GateOutcome {
    /// Within the limit.
    Held,
    /// Regressed past the limit.
    Regressed,
    /// A run lacks the metric.
    Missing,
}

/// A gate and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// The gate.
    #[serde(flatten)]
    pub gate: Gate,
    /// Run A's figure.
    pub a: Option<f64>,
    /// Run B's figure.
    pub b: Option<f64>,
    /// How much worse B is, percent (absent when missing, or infinite: A was zero).
    pub regression_pct: Option<f64>,
    /// The outcome.
    pub outcome: GateOutcome,
}

/// Two runs side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The baseline.
    pub a: RunData,
    /// The run compared with it.
    pub b: RunData,
    /// The run-level figures.
    pub run: Vec<Row>,
    /// Each phase, in A's order, then phases only B has.
    pub phases: Vec<PhaseRows>,
    /// The gates checked ([`check`]).
    pub gates: Vec<GateResult>,
}

fn rows(a: &[Value], b: &[Value]) -> Vec<Row> {
    let mut names: Vec<&str> = a.iter().map(|v| v.metric.as_str()).collect();
    for v in b {
        if !names.contains(&v.metric.as_str()) {
            names.push(&v.metric);
        }
    }
    names
        .into_iter()
        .filter_map(|n| {
            Row::new(
                a.iter().find(|v| v.metric == n),
                b.iter().find(|v| v.metric == n),
            )
        })
        .collect()
}

/// Puts `a` (the baseline) and `b` side by side; phases are matched by name.
pub fn compare(a: &RunData, b: &RunData) -> Comparison {
    let mut phases: Vec<PhaseRows> = Vec::new();
    for (key, va) in &a.phases {
        let vb = b.phases.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        phases.push(PhaseRows {
            phase: key.clone(),
            in_a: true,
            in_b: vb.is_some(),
            rows: rows(va, vb.map(Vec::as_slice).unwrap_or(&[])),
        });
    }
    for (key, vb) in &b.phases {
        if !a.phases.iter().any(|(k, _)| k == key) {
            phases.push(PhaseRows {
                phase: key.clone(),
                in_a: false,
                in_b: true,
                rows: rows(&[], vb),
            });
        }
    }
    Comparison {
        a: a.clone(),
        b: b.clone(),
        run: rows(&a.run, &b.run),
        phases,
        gates: Vec::new(),
    }
}

/// Checks each gate against the run-level rows. A metric that is neither built in
/// ([`RUN_METRICS`]) nor in either run is an error; a built-in one a run lacks is
/// [`GateOutcome::Missing`].
pub fn check(cmp: &Comparison, gates: &[Gate]) -> Result<Vec<GateResult>, CompareError> {
    gates
        .iter()
        .map(|g| {
            let row = cmp.run.iter().find(|r| r.metric == g.metric);
            if row.is_none() && !RUN_METRICS.iter().any(|m| m.0 == g.metric) {
                let mut known: Vec<&str> = RUN_METRICS.iter().map(|m| m.0).collect();
                for r in &cmp.run {
                    if !known.contains(&r.metric.as_str()) {
                        known.push(&r.metric);
                    }
                }
                return Err(CompareError::UnknownMetric {
                    name: g.metric.clone(),
                    known: known.join(", "),
                });
            }
            let pct = row.and_then(Row::regression_pct);
            let outcome = match pct {
                None => GateOutcome::Missing,
                Some(p) if p > g.max_regression_pct => GateOutcome::Regressed,
                Some(_) => GateOutcome::Held,
            };
            Ok(GateResult {
                gate: g.clone(),
                a: row.and_then(|r| r.a),
                b: row.and_then(|r| r.b),
                regression_pct: pct.filter(|p| p.is_finite()),
                outcome,
            })
        })
        .collect()
}

impl Comparison {
    /// How the gates went as a whole: regressed when one regressed, else missing when one
    /// could not be checked, else held.
    pub fn verdict(&self) -> GateOutcome {
        let any = |o| self.gates.iter().any(|g| g.outcome == o);
        if any(GateOutcome::Regressed) {
            GateOutcome::Regressed
        } else if any(GateOutcome::Missing) {
            GateOutcome::Missing
        } else {
            GateOutcome::Held
        }
    }

    /// A table for a terminal: the runs, the run's figures, each phase's, then the gates.
    pub fn table(&self) -> String {
        let mut t = String::new();
        for (label, r) in [("A", &self.a), ("B", &self.b)] {
            t.push_str(&format!(
                "{label}: {} (run {}, scenario {}, {}{})\n",
                r.dir.display(),
                r.run_id,
                r.scenario,
                r.status.map_or_else(|| "?".to_string(), |s| s.to_string()),
                r.time_scale
                    .map(|k| format!(", time scale {}", number(k)))
                    .unwrap_or_default()
            ));
            for n in &r.notes {
                t.push_str(&format!("   note: {n}\n"));
            }
        }
        let header = |t: &mut String, title: &str| {
            t.push_str(&format!(
                "\n{title:<34} {:>14} {:>14} {:>10}\n",
                "A", "B", "change"
            ));
        };
        header(&mut t, "run");
        table_rows(&mut t, &self.run);
        for p in &self.phases {
            let title = match (p.in_a, p.in_b) {
                (true, true) => format!("phase {}", p.phase),
                (true, false) => format!("phase {} (only in A)", p.phase),
                _ => format!("phase {} (only in B)", p.phase),
            };
            header(&mut t, &title);
            table_rows(&mut t, &p.rows);
        }
        if !self.gates.is_empty() {
            t.push('\n');
        }
        for g in &self.gates {
            let how = match (g.outcome, g.regression_pct) {
                (GateOutcome::Missing, _) => "missing from a run, cannot check".to_string(),
                (_, Some(p)) if p >= 0.0 => format!("{:.1}% worse", p),
                (_, Some(p)) => format!("{:.1}% better", -p),
                (_, None) => "worse from zero".to_string(),
            };
            t.push_str(&format!(
                "gate {} at most {}% worse: {how}: {}\n",
                g.gate.metric,
                number(g.gate.max_regression_pct),
                match g.outcome {
                    GateOutcome::Held => "held",
                    GateOutcome::Regressed => "REGRESSED",
                    GateOutcome::Missing => "MISSING",
                }
            ));
        }
        t
    }
}

fn table_rows(t: &mut String, rows: &[Row]) {
    for r in rows {
        let name = if r.unit.is_empty() {
            r.metric.clone()
        } else {
            format!("{} ({})", r.metric, r.unit)
        };
        let cell = |v: Option<f64>| v.map(number).unwrap_or_else(|| "-".into());
        let change = match (r.change_pct, r.movement) {
            (_, Movement::Missing) => String::new(),
            (_, Movement::Same) => "0%".into(),
            (Some(p), _) => format!("{p:+.1}%"),
            (None, _) => "from 0".into(),
        };
        let mark = match r.movement {
            Movement::Worse => "  worse",
            Movement::Better => "  better",
            _ => "",
        };
        t.push_str(&format!(
            "  {name:<32} {:>14} {:>14} {change:>10}{mark}\n",
            cell(r.a),
            cell(r.b)
        ));
    }
}

/// A figure with as many decimals as its size needs.
fn number(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn phase(name: &str, modeled: f64, applied: usize, p99: Option<f64>) -> serde_json::Value {
        let mut p = json!({
            "name": name, "outcome": "ok", "wall_seconds": modeled / 10.0,
            "modeled_seconds": modeled, "pairs_expected": applied, "pairs_applied": applied,
            "errors": 0,
        });
        if let Some(p99) = p99 {
            p["fanout"] = json!({"count": applied, "p50": p99 / 2.0, "p90": p99 * 0.9, "p99": p99, "max": p99 * 1.1});
        }
        p
    }

    /// A summary as the runner writes it, plus a section this version does not know.
    fn summary(run: &str, observe: f64, p99: f64, phases: Vec<serde_json::Value>) -> RunData {
        let mut all = vec![phase("adopt 1..=10", 20.0, 0, None)];
        all.push(phase("observe", observe, 60, Some(p99)));
        all.extend(phases);
        let s = json!({
            "status": "passed", "exit_code": 0, "run_id": run,
            "scenario": {"name": "2020-adoption", "clusters": 10},
            "time_scale": 100.0, "wall_seconds": 12.0, "phases": all,
            "fanout": {"count": 60, "p50": p99 / 2.0, "p90": p99 * 0.9, "p99": p99, "max": p99 * 1.1},
            "thresholds": [], "errors": 0,
            "api_slo": {"something": "new"},
        });
        from_parts(Path::new(run), s, None, None).unwrap()
    }

    fn row<'a>(rows: &'a [Row], metric: &str) -> &'a Row {
        rows.iter().find(|r| r.metric == metric).unwrap()
    }

    #[test]
    fn a_slower_run_is_worse_by_the_right_percentage() {
        let a = summary("a", 100.0, 40.0, vec![]);
        let b = summary("b", 150.0, 50.0, vec![]);
        let cmp = compare(&a, &b);
        let drain = row(&cmp.run, "drain");
        assert_eq!((drain.a, drain.b), (Some(100.0), Some(150.0)));
        assert_eq!(drain.change_pct, Some(50.0));
        assert_eq!(drain.movement, Movement::Worse);
        let p99 = row(&cmp.run, "p99-fanout");
        assert_eq!(p99.change_pct, Some(25.0));
        // 60 pairs over 120 then 170 modeled seconds: the rate fell, which is worse.
        let rate = row(&cmp.run, "apply-rate");
        assert_eq!(rate.better, Better::Higher);
        assert_eq!(rate.movement, Movement::Worse);
        assert!((rate.regression_pct().unwrap() - (1.0 - 120.0 / 170.0) * 100.0).abs() < 1e-9);
        let observe = cmp.phases.iter().find(|p| p.phase == "observe").unwrap();
        assert_eq!(row(&observe.rows, "time").change_pct, Some(50.0));
        assert_eq!(row(&observe.rows, "p99-fanout").b, Some(50.0));
        // The reverse comparison is an improvement.
        let back = compare(&b, &a);
        assert_eq!(row(&back.run, "drain").movement, Movement::Better);
    }

    #[test]
    fn phases_match_by_name_and_occurrence_and_lone_ones_are_marked() {
        let a = summary("a", 100.0, 40.0, vec![phase("observe", 5.0, 61, Some(3.0))]);
        let b = summary(
            "b",
            100.0,
            40.0,
            vec![phase("add-resource to set 0", 1.0, 60, None)],
        );
        let cmp = compare(&a, &b);
        let keys: Vec<(&str, bool, bool)> = cmp
            .phases
            .iter()
            .map(|p| (p.phase.as_str(), p.in_a, p.in_b))
            .collect();
        assert_eq!(
            keys,
            [
                ("adopt 1..=10", true, true),
                ("observe", true, true),
                ("observe (2)", true, false),
                ("add-resource to set 0", false, true)
            ]
        );
        let lone = &cmp.phases[2];
        assert!(
            lone.rows
                .iter()
                .all(|r| r.b.is_none() && r.movement == Movement::Missing)
        );
        let text = cmp.table();
        assert!(text.contains("phase observe (2) (only in A)"), "{text}");
        assert!(
            text.contains("phase add-resource to set 0 (only in B)"),
            "{text}"
        );
    }

    #[test]
    fn gates_hold_regress_or_cannot_be_checked() {
        let a = summary("a", 100.0, 40.0, vec![]);
        let b = summary("b", 105.0, 50.0, vec![]);
        let mut cmp = compare(&a, &b);
        let gates: Vec<Gate> = ["drain:10%", "p99-fanout=20", "peak-queue:50%"]
            .iter()
            .map(|g| g.parse().unwrap())
            .collect();
        cmp.gates = check(&cmp, &gates).unwrap();
        let outcomes: Vec<GateOutcome> = cmp.gates.iter().map(|g| g.outcome).collect();
        assert_eq!(
            outcomes,
            [
                GateOutcome::Held,
                GateOutcome::Regressed,
                GateOutcome::Missing
            ]
        );
        assert_eq!(cmp.verdict(), GateOutcome::Regressed);
        cmp.gates.remove(1);
        assert_eq!(cmp.verdict(), GateOutcome::Missing);
        cmp.gates.pop();
        assert_eq!(cmp.verdict(), GateOutcome::Held);
        let text = compare(&a, &b).table();
        assert!(text.contains("drain (s)"), "{text}");
        assert!(text.contains("+5.0%  worse"), "{text}");
    }

    #[test]
    fn improvements_never_fail_a_gate_and_zero_baselines_do_not_divide() {
        let a = summary("a", 100.0, 40.0, vec![]);
        let b = summary("b", 50.0, 20.0, vec![]);
        let mut cmp = compare(&a, &b);
        cmp.gates = check(&cmp, &["drain:0%".parse().unwrap()]).unwrap();
        assert_eq!(cmp.gates[0].outcome, GateOutcome::Held);
        assert_eq!(cmp.gates[0].regression_pct, Some(-50.0));
        let r = Row::new(Some(&builtin("errors", 0.0)), Some(&builtin("errors", 3.0))).unwrap();
        assert_eq!(r.change_pct, None);
        assert_eq!(r.regression_pct(), Some(f64::INFINITY));
        assert_eq!(r.movement, Movement::Worse);
        let same = Row::new(Some(&builtin("errors", 0.0)), Some(&builtin("errors", 0.0))).unwrap();
        assert_eq!(same.regression_pct(), Some(0.0));
    }

    #[test]
    fn bad_gates_and_unknown_metrics_are_errors() {
        for bad in [
            "p99-fanout",
            "p99-fanout:",
            ":10%",
            "drain:-5%",
            "drain:ten",
            "drain:inf",
        ] {
            assert!(
                matches!(bad.parse::<Gate>(), Err(CompareError::BadGate(_))),
                "{bad}"
            );
        }
        assert_eq!(
            "p99-fanout: 12.5 %".parse::<Gate>().unwrap(),
            Gate {
                metric: "p99-fanout".into(),
                max_regression_pct: 12.5
            }
        );
        let a = summary("a", 100.0, 40.0, vec![]);
        let cmp = compare(&a, &a);
        let e = check(&cmp, &["p99-fanuot:10%".parse().unwrap()]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("unknown metric \"p99-fanuot\" (known: drain, wall,"),
            "{text}"
        );
    }

    #[test]
    fn load_says_what_is_wrong_with_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(e, CompareError::NoDirectory { .. }), "{e}");
        let e = load(dir.path()).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("not a scaletest result directory (no summary.json)")
        );
        std::fs::write(dir.path().join("summary.json"), "{\"run_id\": 3}").unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(matches!(e, CompareError::Parse { .. }), "{e}");
        std::fs::write(
            dir.path().join("summary.json"),
            json!({"run_id": "r", "scenario": {"name": "s"}, "phases": [phase("observe", 10.0, 4, Some(2.0))]}).to_string(),
        )
        .unwrap();
        std::fs::write(dir.path().join("recording.jsonl"), "{}\n").unwrap();
        let r = load(dir.path()).unwrap();
        assert_eq!(r.run_id, "r");
        assert_eq!(r.run[0], builtin("drain", 10.0));
        assert!(
            r.notes[0].starts_with("no per-phase metrics"),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn each_phase_gets_the_peak_queue_and_mean_rates_of_its_own_snapshots() {
        use crate::metrics::report::PhaseMark;
        use crate::metrics::snapshot::{QueryOutcome, QueryResult, Snapshot};
        use crate::metrics::value::QueryValue;
        let result = |name: &str, kind: Kind, unit: &str, v: f64| QueryResult {
            name: name.into(),
            kind,
            unit: unit.into(),
            converted: false,
            outcome: QueryOutcome::Ok {
                value: QueryValue::Scalar { value: v },
            },
        };
        let snap = |t: f64, depth: f64, rate: f64| Snapshot {
            t,
            source: "scrape".into(),
            profile: "default".into(),
            time_scale: None,
            modeled: false,
            elapsed_ms: 1.0,
            results: vec![
                result("workqueue_depth", Kind::Gauge, "items", depth),
                result("reconcile_rate", Kind::Rate, "1/s", rate),
                result("process_cpu", Kind::Rate, "cores", 0.5),
            ],
        };
        let mark = |name: &str, t: f64| PhaseMark {
            name: name.into(),
            t,
            at_s: 0.0,
        };
        let rec = Recording {
            path: "recording.jsonl".into(),
            start: None,
            snapshots: vec![
                snap(0.0, 0.0, 0.0),
                snap(1.0, 7.0, 2.0),
                snap(2.0, 5.0, 4.0),
                snap(3.0, 1.0, 1.0),
            ],
            phases: vec![mark("adopt 1..=10", 0.0), mark("observe", 1.5)],
            errors: Vec::new(),
            stopped: true,
            skipped_lines: 0,
            warnings: Vec::new(),
        };
        let s = json!({
            "run_id": "r", "scenario": {"name": "s"},
            "phases": [phase("adopt 1..=10", 20.0, 0, None), phase("observe", 10.0, 6, Some(2.0))],
        });
        let r = from_parts(Path::new("r"), s, None, Some(&rec)).unwrap();
        let get = |phase: usize, metric: &str| {
            r.phases[phase]
                .1
                .iter()
                .find(|v| v.metric == metric)
                .map(|v| (v.value, v.better))
        };
        assert_eq!(get(0, "peak-queue"), Some((7.0, Better::Lower)));
        assert_eq!(get(1, "peak-queue"), Some((5.0, Better::Lower)));
        assert_eq!(get(0, "reconcile_rate"), Some((1.0, Better::Higher)));
        assert_eq!(get(1, "reconcile_rate"), Some((2.5, Better::Higher)));
        assert_eq!(get(1, "process_cpu"), Some((0.5, Better::Lower)));
        assert_eq!(get(1, "apply-rate"), Some((0.6, Better::Higher)));
        // A recording whose marks do not match the phases gives no per-phase figures.
        let mut other = rec.clone();
        other.phases[1].name = "something else".into();
        let s = json!({
            "run_id": "r", "scenario": {"name": "s"},
            "phases": [phase("adopt 1..=10", 20.0, 0, None), phase("observe", 10.0, 6, Some(2.0))],
        });
        let r = from_parts(Path::new("r"), s, None, Some(&other)).unwrap();
        assert!(r.phases[1].1.iter().all(|v| v.metric != "peak-queue"));
    }

    #[test]
    fn numbers_carry_the_decimals_they_need() {
        assert_eq!(number(1234.567), "1235");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.01234), "0.0123");
    }
}
