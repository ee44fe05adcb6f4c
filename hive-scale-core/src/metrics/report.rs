//! A report from a recording: `report.md`, `summary.json` and one SVG chart per query, with the
//! findings the 2020 author worked out by hand: peak queue depth and when, time to drain, mean
//! and peak rates, time left for the remaining queue at the current rate ("60,000 at 1.2/s is
//! 14 h"), and whether a full re-apply of every (set, cluster) pair fits in the re-apply interval.

use super::chart::{self, ChartSeries, ChartSpec, PhaseLine};
use super::profile::{Kind, Profile};
use super::recorder::RecordLine;
use super::snapshot::{QueryOutcome, Snapshot};
use super::value::format_value;
use super::{MetricsError, human_duration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the report needs besides the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// The number of (set, cluster) pairs a full re-apply covers; default: the main queue's peak
    /// (in the 2020 pipeline every queued item was one pair).
    pub pairs: Option<u64>,
    /// How often Hive re-applies everything (2 h).
    pub reapply_interval: Duration,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            pairs: None,
            reapply_interval: Duration::from_secs(2 * 3600),
        }
    }
}

/// The start line of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct StartInfo {
    /// Unix seconds.
    pub t: f64,
    /// Where snapshots came from.
    pub source: String,
    /// Seconds between snapshots.
    pub interval_s: f64,
    /// The profile recorded.
    pub profile: Profile,
}

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

/// A recording, read back.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The file.
    pub path: PathBuf,
    /// Its start line (absent if the file was cut at the start).
    pub start: Option<StartInfo>,
    /// The snapshots, in file order.
    pub snapshots: Vec<Snapshot>,
    /// The phase markers, by time.
    pub phases: Vec<PhaseMark>,
    /// Snapshots that failed as a whole: `(t, error)`.
    pub errors: Vec<(f64, String)>,
    /// Whether the stop line is there (false after a crash or kill).
    pub stopped: bool,
    /// Lines that could not be read (a truncated last line after a crash).
    pub skipped_lines: usize,
    /// What was wrong with the file, for people.
    pub warnings: Vec<String>,
}

/// Reads a recording. A broken line (the last one, when the recorder died mid-write) is skipped
/// with a warning; a file with no snapshot at all is an error.
pub fn read_recording(path: &Path) -> Result<Recording, MetricsError> {
    let text = std::fs::read_to_string(path).map_err(|e| MetricsError::io(path, e))?;
    let lines: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut rec = Recording {
        path: path.to_path_buf(),
        start: None,
        snapshots: Vec::with_capacity(lines.len()),
        phases: Vec::new(),
        errors: Vec::new(),
        stopped: false,
        skipped_lines: 0,
        warnings: Vec::new(),
    };
    let last = lines.last().map(|(i, _)| *i);
    for &(i, line) in &lines {
        match serde_json::from_str::<RecordLine>(line) {
            Ok(RecordLine::Start {
                t,
                source,
                interval_s,
                profile,
            }) => {
                rec.start = Some(StartInfo {
                    t,
                    source,
                    interval_s,
                    profile,
                })
            }
            Ok(RecordLine::Snapshot(s)) => rec.snapshots.push(s),
            Ok(RecordLine::Phase { name, t }) => rec.phases.push(PhaseMark { name, t, at_s: 0.0 }),
            Ok(RecordLine::Error { t, error }) => rec.errors.push((t, error)),
            Ok(RecordLine::Stop { .. }) => rec.stopped = true,
            Err(e) => {
                rec.skipped_lines += 1;
                let w = if Some(i) == last {
                    format!(
                        "line {}: cut short (the recorder stopped mid-write?), skipped: {e}",
                        i + 1
                    )
                } else {
                    format!("line {}: not a recording line, skipped: {e}", i + 1)
                };
                tracing::warn!(file = %path.display(), "{w}");
                rec.warnings.push(w);
            }
        }
    }
    if rec.snapshots.is_empty() {
        return Err(MetricsError::Recording {
            path: path.to_path_buf(),
            reason: "no snapshot in it".into(),
        });
    }
    rec.phases.sort_by(|a, b| a.t.total_cmp(&b.t));
    Ok(rec)
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

/// Whether a full re-apply fits in the re-apply interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReapplyFinding {
    /// (set, cluster) pairs to re-apply.
    pub pairs: f64,
    /// Where that number came from.
    pub pairs_from: String,
    /// The queue whose rate is used.
    pub queue: String,
    /// Its mean rate while it had work, per second.
    pub rate: f64,
    /// `pairs / rate`, seconds.
    pub seconds: f64,
    /// The re-apply interval, seconds.
    pub interval_s: f64,
    /// `seconds <= interval_s`.
    pub fits: bool,
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
    /// What could not be worked out, and why.
    pub notes: Vec<String>,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Phase markers.
    pub phases: Vec<PhaseMark>,
    /// The findings.
    pub findings: ReportFindings,
    /// Per query.
    pub queries: Vec<QueryStats>,
    /// Problems reading the recording.
    pub warnings: Vec<String>,
}

/// A series' labels and its `(x, value)` points.
type LabelledPoints = (BTreeMap<String, String>, Vec<(f64, f64)>);

struct QueryData {
    stats: QueryStats,
    series: BTreeMap<String, LabelledPoints>,
    totals: Vec<(f64, f64)>,
}

fn series_key(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn stats(labels: BTreeMap<String, String>, points: &[(f64, f64)]) -> Option<SeriesStats> {
    let finite: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
    let first = finite.first()?;
    let mut s = SeriesStats {
        labels,
        samples: finite.len(),
        min: first.1,
        mean: 0.0,
        max: first.1,
        max_at_s: first.0,
        last: finite.last()?.1,
    };
    let mut sum = 0.0;
    for &(x, y) in &finite {
        sum += y;
        s.min = s.min.min(y);
        if y > s.max {
            s.max = y;
            s.max_at_s = x;
        }
    }
    s.mean = sum / finite.len() as f64;
    Some(s)
}

/// The report's clock: x = (t - t0) * factor.
struct Clock {
    t0: f64,
    factor: f64,
}

impl Clock {
    fn x(&self, t: f64) -> f64 {
        (t - self.t0) * self.factor
    }
}

fn collect(rec: &Recording, profile: Option<&Profile>, clock: &Clock) -> Vec<QueryData> {
    let mut order: Vec<String> = profile
        .map(|p| p.queries.iter().map(|q| q.name.clone()).collect())
        .unwrap_or_default();
    let mut data: BTreeMap<String, QueryData> = BTreeMap::new();
    for s in &rec.snapshots {
        let x = clock.x(s.t);
        for r in &s.results {
            let d = data.entry(r.name.clone()).or_insert_with(|| {
                if !order.contains(&r.name) {
                    order.push(r.name.clone());
                }
                QueryData {
                    stats: QueryStats {
                        name: r.name.clone(),
                        title: profile
                            .and_then(|p| p.get(&r.name))
                            .map(|q| q.display_title().to_string())
                            .unwrap_or_else(|| r.name.clone()),
                        unit: r.unit.clone(),
                        kind: r.kind,
                        ok: 0,
                        errors: 0,
                        unavailable: 0,
                        last_error: None,
                        total: None,
                        series: Vec::new(),
                        chart: None,
                    },
                    series: BTreeMap::new(),
                    totals: Vec::new(),
                }
            });
            match &r.outcome {
                QueryOutcome::Ok { value } => {
                    d.stats.ok += 1;
                    let mut total = f64::NAN;
                    for (labels, v) in value.values() {
                        let key = series_key(&labels);
                        d.series
                            .entry(key)
                            .or_insert_with(|| (labels, Vec::new()))
                            .1
                            .push((x, v));
                        if !v.is_nan() {
                            total = if total.is_nan() { v } else { total + v };
                        }
                    }
                    d.totals.push((x, total));
                }
                QueryOutcome::Error { error } => {
                    d.stats.errors += 1;
                    d.stats.last_error = Some(error.clone());
                    d.totals.push((x, f64::NAN));
                }
                QueryOutcome::Unavailable { reason } => {
                    d.stats.unavailable += 1;
                    d.stats.last_error = Some(reason.clone());
                    d.totals.push((x, f64::NAN));
                }
            }
        }
    }
    order
        .into_iter()
        .filter_map(|n| data.remove(&n))
        .map(|mut d| {
            d.stats.total = stats(BTreeMap::new(), &d.totals);
            d.stats.series = d
                .series
                .values()
                .filter_map(|(labels, pts)| stats(labels.clone(), pts))
                .collect();
            d
        })
        .collect()
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn queue_findings(
    rec: &Recording,
    profile: &Profile,
    clock: &Clock,
    findings: &mut ReportFindings,
) {
    let spec = &profile.findings;
    let has_queue = rec.snapshots.iter().any(|s| s.get(&spec.queue).is_some());
    if !has_queue {
        findings.notes.push(format!(
            "no queue findings: the recording has no query {:?}",
            spec.queue
        ));
        return;
    }
    // Per queue: (x, depth, rate) per snapshot.
    let mut per_queue: BTreeMap<String, Vec<(f64, f64, f64)>> = BTreeMap::new();
    let mut has_rate = false;
    for s in &rec.snapshots {
        let x = clock.x(s.t);
        let Some(depths) = s.get(&spec.queue).and_then(|r| r.value()) else {
            continue;
        };
        let rates = s
            .get(&spec.rate)
            .and_then(|r| r.value())
            .map(|v| v.values());
        has_rate |= rates.is_some();
        let mut by_queue: BTreeMap<String, f64> = BTreeMap::new();
        for (labels, v) in depths.values() {
            let name = labels
                .get(&spec.queue_label)
                .cloned()
                .unwrap_or_else(|| "(all)".into());
            *by_queue.entry(name).or_default() += v;
        }
        for (name, depth) in by_queue {
            let rate = match &rates {
                Some(rs) => {
                    let matching: Vec<f64> = rs
                        .iter()
                        .filter(|(l, v)| {
                            !v.is_nan()
                                && (name == "(all)"
                                    || l.get(&spec.rate_label).is_some_and(|c| *c == name))
                        })
                        .map(|(_, v)| *v)
                        .collect();
                    if matching.is_empty() {
                        if rs.iter().any(|(l, _)| l.contains_key(&spec.rate_label)) {
                            0.0
                        } else {
                            f64::NAN
                        }
                    } else {
                        matching.iter().sum()
                    }
                }
                None => f64::NAN,
            };
            per_queue.entry(name).or_default().push((x, depth, rate));
        }
    }
    if !has_rate {
        findings.notes.push(format!(
            "no drain rates: the recording has no values for query {:?}",
            spec.rate
        ));
    }
    for (queue, pts) in per_queue {
        let Some((peak_i, &(peak_at_s, peak, peak_rate))) = pts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.1.is_finite())
            .max_by(|a, b| a.1.1.total_cmp(&b.1.1).then(b.0.cmp(&a.0)))
        else {
            continue;
        };
        if peak <= 0.0 {
            continue;
        }
        let drained_at_s = pts[peak_i..].iter().find(|p| p.1 <= 0.0).map(|p| p.0);
        let busy: Vec<f64> = pts
            .iter()
            .filter(|p| p.1 > 0.0 && p.2.is_finite())
            .map(|p| p.2)
            .collect();
        let rate_mean = mean(&busy).filter(|r| *r > 0.0).or_else(|| {
            let working: Vec<f64> = pts
                .iter()
                .filter(|p| p.2.is_finite() && p.2 > 0.0)
                .map(|p| p.2)
                .collect();
            mean(&working)
        });
        let rate_peak = pts
            .iter()
            .map(|p| p.2)
            .filter(|r| r.is_finite())
            .reduce(f64::max);
        let recent: Vec<f64> = pts
            .iter()
            .rev()
            .map(|p| p.2)
            .filter(|r| r.is_finite())
            .take(3)
            .collect();
        let rate_now = mean(&recent);
        let remaining = pts.last().map(|p| p.1).unwrap_or(0.0);
        let time_left_s = match rate_now {
            _ if remaining <= 0.0 => Some(0.0),
            Some(r) if r > 0.0 => Some(remaining / r),
            _ => None,
        };
        let at_peak_rate = Some(peak_rate)
            .filter(|r| r.is_finite() && *r > 0.0)
            .or(rate_mean);
        findings.queues.push(QueueFinding {
            queue,
            peak,
            peak_at_s,
            drained_at_s,
            drain_s: drained_at_s.map(|d| d - peak_at_s),
            remaining,
            rate_mean,
            rate_peak,
            rate_now,
            time_left_s,
            at_peak_s: at_peak_rate.map(|r| peak / r),
        });
    }
    findings
        .queues
        .sort_by(|a, b| b.peak.total_cmp(&a.peak).then(a.queue.cmp(&b.queue)));
}

fn analyze(
    rec: &Recording,
    opts: &ReportOptions,
) -> (ReportSummary, Vec<QueryData>, Clock, Profile) {
    let first = &rec.snapshots[0];
    let last = &rec.snapshots[rec.snapshots.len() - 1];
    let time_scale = first.time_scale.filter(|_| first.modeled);
    let t0 = rec
        .start
        .as_ref()
        .map(|s| s.t.min(first.t))
        .unwrap_or(first.t);
    let clock = Clock {
        t0,
        factor: time_scale.unwrap_or(1.0),
    };
    let profile = rec
        .start
        .as_ref()
        .map(|s| s.profile.clone())
        .unwrap_or_else(Profile::builtin);
    let data = collect(rec, rec.start.as_ref().map(|s| &s.profile), &clock);
    let mut findings = ReportFindings::default();
    queue_findings(rec, &profile, &clock, &mut findings);
    for d in &data {
        if d.stats.kind != Kind::Rate {
            continue;
        }
        if let Some(t) = &d.stats.total {
            findings.rates.push(RateFinding {
                name: d.stats.name.clone(),
                unit: d.stats.unit.clone(),
                mean: t.mean,
                peak: t.max,
                peak_at_s: t.max_at_s,
            });
        }
    }
    let interval_s = opts.reapply_interval.as_secs_f64();
    match findings.queues.first() {
        Some(q) => match q.rate_mean {
            Some(rate) if rate > 0.0 => {
                let (pairs, pairs_from) = match opts.pairs {
                    Some(p) => (p as f64, "given".to_string()),
                    None => (q.peak, format!("the peak of queue {}", q.queue)),
                };
                let seconds = pairs / rate;
                findings.reapply = Some(ReapplyFinding {
                    pairs,
                    pairs_from,
                    queue: q.queue.clone(),
                    rate,
                    seconds,
                    interval_s,
                    fits: seconds <= interval_s,
                });
            }
            _ => findings.notes.push(format!(
                "no re-apply estimate: queue {} was never seen being worked",
                q.queue
            )),
        },
        None => findings
            .notes
            .push("no re-apply estimate: no queue held anything".into()),
    }
    let phases = rec
        .phases
        .iter()
        .map(|p| PhaseMark {
            name: p.name.clone(),
            t: p.t,
            at_s: clock.x(p.t),
        })
        .collect();
    let mut warnings = rec.warnings.clone();
    if !rec.stopped {
        warnings.push("the recording has no stop line: it was killed or is still running".into());
    }
    let summary = ReportSummary {
        recording: rec.path.clone(),
        source: rec.start.as_ref().map(|s| s.source.clone()),
        profile: first.profile.clone(),
        snapshots: rec.snapshots.len(),
        errors: rec.errors.len(),
        skipped_lines: rec.skipped_lines,
        stopped: rec.stopped,
        start_t: first.t,
        end_t: last.t,
        duration_s: last.t - first.t,
        time_scale,
        modeled: time_scale.is_some(),
        clock_duration_s: clock.x(last.t) - clock.x(first.t),
        pairs: opts.pairs,
        phases,
        findings,
        queries: data.iter().map(|d| d.stats.clone()).collect(),
        warnings,
    };
    (summary, data, clock, profile)
}

/// Reads `recording`, writes `report.md`, `summary.json` and `<query>.svg` into `out_dir`.
pub fn write_report(
    recording: &Path,
    out_dir: &Path,
    opts: &ReportOptions,
) -> Result<ReportSummary, MetricsError> {
    let rec = read_recording(recording)?;
    let (mut summary, data, _clock, _profile) = analyze(&rec, opts);
    std::fs::create_dir_all(out_dir).map_err(|e| MetricsError::io(out_dir, e))?;
    let clock_name = if summary.modeled { "modeled" } else { "real" };
    let phase_lines: Vec<PhaseLine> = summary
        .phases
        .iter()
        .map(|p| PhaseLine {
            name: p.name.clone(),
            x: p.at_s,
        })
        .collect();
    // Charts are independent: draw them on all cores.
    let charts: Vec<Result<(String, String), MetricsError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = data
            .iter()
            .map(|d| {
                let phases = &phase_lines;
                scope.spawn(move || {
                    let series: Vec<ChartSeries> = d
                        .series
                        .iter()
                        .map(|(key, (_, pts))| ChartSeries {
                            label: key.clone(),
                            points: pts.clone(),
                        })
                        .collect();
                    let unit =
                        if d.stats.kind == Kind::Rate && summary.modeled && d.stats.unit == "1/s" {
                            "per modeled second".to_string()
                        } else {
                            d.stats.unit.clone()
                        };
                    let svg = chart::svg(&ChartSpec {
                        title: &d.stats.title,
                        clock: clock_name,
                        unit: &unit,
                        series: &series,
                        phases,
                    })
                    .map_err(|reason| MetricsError::Chart {
                        name: d.stats.name.clone(),
                        reason,
                    })?;
                    Ok((d.stats.name.clone(), svg))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(MetricsError::Invalid("a chart thread panicked".into()))
                })
            })
            .collect()
    });
    for c in charts {
        let (name, svg) = c?;
        let file = format!("{name}.svg");
        let path = out_dir.join(&file);
        std::fs::write(&path, svg).map_err(|e| MetricsError::io(&path, e))?;
        if let Some(q) = summary.queries.iter_mut().find(|q| q.name == name) {
            q.chart = Some(file);
        }
    }
    let json = serde_json::to_string_pretty(&summary)
        .map_err(|e| MetricsError::Invalid(format!("cannot encode the summary: {e}")))?;
    let path = out_dir.join("summary.json");
    std::fs::write(&path, json + "\n").map_err(|e| MetricsError::io(&path, e))?;
    let path = out_dir.join("report.md");
    std::fs::write(&path, markdown(&summary)).map_err(|e| MetricsError::io(&path, e))?;
    Ok(summary)
}

/// `1.2/s`, `0.5 cores`.
fn with_unit(v: &str, unit: &str) -> String {
    match unit {
        "" => v.to_string(),
        "1/s" => format!("{v}/s"),
        u => format!("{v} {u}"),
    }
}

/// Large numbers rounded with thousands separators (`60,000`), others readable.
fn count(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else {
        short(v)
    }
}

/// 3 significant digits, no trailing noise.
fn short(v: f64) -> String {
    if !v.is_finite() || v == v.trunc() {
        return format_value(v);
    }
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.1 {
        format!("{v:.2}")
    } else {
        let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
        format!("{v:.digits$}")
    }
}

fn markdown(s: &ReportSummary) -> String {
    let mut md = String::new();
    let clock = if s.modeled { " modeled" } else { "" };
    let at = |x: f64| human_duration(x);
    let _ = writeln!(md, "# Metrics report: {}\n", s.recording.display());
    let _ = writeln!(
        md,
        "{} snapshots of profile `{}`{} over {} (real), {} to {}.",
        s.snapshots,
        s.profile,
        s.source
            .as_ref()
            .map(|x| format!(" from {x}"))
            .unwrap_or_default(),
        human_duration(s.duration_s),
        timestamp(s.start_t),
        timestamp(s.end_t),
    );
    if let Some(k) = s.time_scale {
        let _ = writeln!(
            md,
            "\nThe target is the simulator at time scale {k}: times below are modeled ({} modeled), \
             rates are per modeled second, durations are modeled seconds.",
            human_duration(s.clock_duration_s)
        );
    }
    if !s.phases.is_empty() {
        let list: Vec<String> = s
            .phases
            .iter()
            .map(|p| format!("`{}` at {}", p.name, at(p.at_s)))
            .collect();
        let _ = writeln!(md, "\nPhases: {}.", list.join(", "));
    }
    if s.errors > 0 {
        let _ = writeln!(
            md,
            "\n{} snapshots failed as a whole (source unreachable).",
            s.errors
        );
    }
    for w in &s.warnings {
        let _ = writeln!(md, "\nWarning: {w}");
    }

    let _ = writeln!(md, "\n## Findings\n");
    const SHOWN: usize = 5;
    for q in s.findings.queues.iter().take(SHOWN) {
        let mut line = format!(
            "- Queue `{}`: peak {} items at {}{clock}",
            q.queue,
            count(q.peak),
            at(q.peak_at_s)
        );
        match (q.drained_at_s, q.drain_s) {
            (Some(d), Some(took)) => {
                let _ = write!(
                    line,
                    "; drained to 0 at {}, {} after the peak",
                    at(d),
                    at(took)
                );
            }
            _ => {
                let _ = write!(
                    line,
                    "; not drained by the end ({} left)",
                    count(q.remaining)
                );
            }
        }
        line.push('.');
        if let (Some(m), Some(p)) = (q.rate_mean, q.rate_peak) {
            let _ = write!(
                line,
                " Worked at {}/s on average while it had items, peak {}/s.",
                short(m),
                short(p)
            );
        }
        if let Some(t) = q.at_peak_s {
            let rate = q.peak / t;
            let _ = write!(
                line,
                " At the peak, {} at {}/s is {}.",
                count(q.peak),
                short(rate),
                human_duration(t)
            );
        }
        if q.remaining > 0.0 {
            match (q.rate_now, q.time_left_s) {
                (Some(r), Some(t)) => {
                    let _ = write!(
                        line,
                        " At the end {} remain: at the current {}/s that is {} more.",
                        count(q.remaining),
                        short(r),
                        human_duration(t)
                    );
                }
                _ => {
                    let _ = write!(
                        line,
                        " At the end {} remain and nothing is being worked: it will not drain.",
                        count(q.remaining)
                    );
                }
            }
        }
        let _ = writeln!(md, "{line}");
    }
    if let Some(rest) = s.findings.queues.get(SHOWN..).filter(|r| !r.is_empty()) {
        let names: Vec<&str> = rest.iter().map(|q| q.queue.as_str()).collect();
        let _ = writeln!(
            md,
            "- {} more queues peaked at {} items or fewer: {} (see summary.json).",
            rest.len(),
            count(rest[0].peak),
            names.join(", ")
        );
    }
    if let Some(r) = &s.findings.reapply {
        let _ = writeln!(
            md,
            "- Full re-apply: {} (set, cluster) pairs ({}) at {}/s (queue `{}`) take {}; the re-apply \
             interval is {}: {}.",
            count(r.pairs),
            r.pairs_from,
            short(r.rate),
            r.queue,
            human_duration(r.seconds),
            human_duration(r.interval_s),
            if r.fits {
                format!(
                    "it fits ({:.0}% of the interval)",
                    r.seconds / r.interval_s * 100.0
                )
            } else {
                format!(
                    "it does NOT fit ({:.1}x too slow)",
                    r.seconds / r.interval_s
                )
            }
        );
    }
    for r in &s.findings.rates {
        let _ = writeln!(
            md,
            "- `{}`: mean {}, peak {} at {}{clock}.",
            r.name,
            with_unit(&short(r.mean), &r.unit),
            with_unit(&short(r.peak), &r.unit),
            at(r.peak_at_s)
        );
    }
    for n in &s.findings.notes {
        let _ = writeln!(md, "- Note: {n}");
    }

    let _ = writeln!(md, "\n## Queries\n");
    let _ = writeln!(
        md,
        "| query | series | samples | min | mean | max | last | unit |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for q in &s.queries {
        if q.series.is_empty() {
            let why = q.last_error.as_deref().unwrap_or("no data");
            let _ = writeln!(
                md,
                "| {} | - | 0 | | | | | {} ({}) |",
                q.name,
                q.unit,
                why.replace('|', "\\|")
            );
        }
        for ser in &q.series {
            let key = series_key(&ser.labels);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                q.name,
                if key.is_empty() {
                    "-".into()
                } else {
                    key.replace('|', "\\|")
                },
                ser.samples,
                count(ser.min),
                count(ser.mean),
                count(ser.max),
                count(ser.last),
                q.unit
            );
        }
        if q.errors > 0 && !q.series.is_empty() {
            let _ = writeln!(
                md,
                "| {} | (failed {} times: {}) | | | | | | |",
                q.name,
                q.errors,
                q.last_error.as_deref().unwrap_or("").replace('|', "\\|")
            );
        }
    }
    let _ = writeln!(md, "\n## Charts\n");
    for q in &s.queries {
        if let Some(c) = &q.chart {
            let _ = writeln!(md, "![{}]({c})\n", q.title);
        }
    }
    md
}

fn timestamp(t: f64) -> String {
    jiff::Timestamp::from_millisecond((t * 1000.0) as i64)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| format!("{t}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::QueryResult;
    use crate::metrics::value::{QueryValue, Series};

    /// The 2020 shape: a queue that climbs to 600 while being worked at 1.2/s, then drains.
    fn write_recording(path: &Path, truncate_last: bool) {
        let profile = Profile::builtin();
        let mut lines = vec![
            serde_json::to_string(&RecordLine::Start {
                t: 1000.0,
                source: "prometheus http://127.0.0.1:9091/".into(),
                interval_s: 10.0,
                profile: profile.clone(),
            })
            .unwrap(),
            serde_json::to_string(&RecordLine::Phase {
                name: "adopt".into(),
                t: 1000.0,
            })
            .unwrap(),
        ];
        for i in 0..=100 {
            let t = 1000.0 + i as f64 * 10.0;
            let depth = if i <= 50 {
                i as f64 * 12.0
            } else {
                600.0 - (i - 50) as f64 * 12.0
            };
            let snap = Snapshot {
                t,
                source: "prometheus http://127.0.0.1:9091/".into(),
                profile: "default".into(),
                time_scale: None,
                modeled: false,
                elapsed_ms: 1.0,
                results: profile
                    .queries
                    .iter()
                    .map(|q| {
                        let value = match q.name.as_str() {
                            "workqueue_depth" => QueryValue::Vector {
                                series: vec![Series {
                                    labels: BTreeMap::from([(
                                        "name".to_string(),
                                        "clusterSync-controller".to_string(),
                                    )]),
                                    value: depth,
                                }],
                            },
                            "reconcile_rate" => QueryValue::Vector {
                                series: vec![Series {
                                    labels: BTreeMap::from([(
                                        "controller".to_string(),
                                        "clusterSync-controller".to_string(),
                                    )]),
                                    value: if depth > 0.0 { 1.2 } else { 0.0 },
                                }],
                            },
                            _ => QueryValue::Scalar { value: i as f64 },
                        };
                        QueryResult::new(q, Ok(value), None)
                    })
                    .collect(),
            };
            lines.push(serde_json::to_string(&RecordLine::Snapshot(snap)).unwrap());
            if i == 50 {
                lines.push(
                    serde_json::to_string(&RecordLine::Phase {
                        name: "drain".into(),
                        t,
                    })
                    .unwrap(),
                );
            }
        }
        let mut text = lines.join("\n") + "\n";
        if truncate_last {
            let cut = lines.last().unwrap().len() / 2;
            text.truncate(text.len() - 1 - cut);
        } else {
            text.push_str(r#"{"type":"stop","t":2000.0,"snapshots":101,"errors":0}"#);
            text.push('\n');
        }
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_report_works_out_what_the_2020_author_did_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("run.jsonl");
        write_recording(&rec, false);
        let out = dir.path().join("report");
        let s = write_report(&rec, &out, &ReportOptions::default()).unwrap();
        assert_eq!(s.snapshots, 101);
        assert!(s.stopped && s.warnings.is_empty(), "{:?}", s.warnings);
        let q = &s.findings.queues[0];
        assert_eq!(q.queue, "clusterSync-controller");
        assert_eq!(q.peak, 600.0);
        assert_eq!(q.peak_at_s, 500.0);
        assert_eq!(q.drained_at_s, Some(1000.0));
        assert_eq!(q.drain_s, Some(500.0));
        assert!((q.rate_mean.unwrap() - 1.2).abs() < 1e-9);
        assert!((q.at_peak_s.unwrap() - 500.0).abs() < 1e-9, "600 at 1.2/s");
        assert_eq!(q.remaining, 0.0);
        let r = s.findings.reapply.as_ref().unwrap();
        assert_eq!(r.pairs, 600.0);
        assert!(r.fits, "500 s fits in 2 h");
        assert_eq!(s.phases.len(), 2);
        assert_eq!(s.phases[1].at_s, 500.0);
        for q in &s.queries {
            let chart = out.join(q.chart.as_ref().unwrap());
            assert!(
                std::fs::read_to_string(chart)
                    .unwrap()
                    .contains("<polyline")
            );
        }
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(md.contains("peak 600 items at 8.3 min"), "{md}");
        assert!(md.contains("At the peak, 600 at 1.20/s is 8.3 min"), "{md}");
        assert!(md.contains("it fits"), "{md}");
        assert!(
            md.contains("![Workqueue depth](workqueue_depth.svg)"),
            "{md}"
        );
        let back: ReportSummary =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(back.findings.queues[0].peak, 600.0);
        assert_eq!(back.queries.len(), s.queries.len());

        // 60,000 pairs at 1.2/s: the 2020 conclusion.
        let s = write_report(
            &rec,
            &out,
            &ReportOptions {
                pairs: Some(60_000),
                ..Default::default()
            },
        )
        .unwrap();
        let r = s.findings.reapply.unwrap();
        assert!(!r.fits);
        assert!((r.seconds / 3600.0 - 13.89).abs() < 0.01);
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(
            md.contains("60,000 (set, cluster) pairs (given) at 1.20/s (queue `clusterSync-controller`) take 13.9 h"),
            "{md}"
        );
        assert!(md.contains("does NOT fit (6.9x too slow)"), "{md}");
    }

    #[test]
    fn a_truncated_last_line_is_skipped_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("run.jsonl");
        write_recording(&rec, true);
        let r = read_recording(&rec).unwrap();
        assert_eq!(r.snapshots.len(), 100, "the cut snapshot is dropped");
        assert_eq!(r.skipped_lines, 1);
        assert!(r.warnings[0].contains("cut short"), "{:?}", r.warnings);
        assert!(!r.stopped);
        let s = write_report(&rec, &dir.path().join("out"), &ReportOptions::default()).unwrap();
        assert!(s.warnings.iter().any(|w| w.contains("no stop line")));
        let q = &s.findings.queues[0];
        assert_eq!(q.remaining, 12.0);
        assert!((q.time_left_s.unwrap() - 10.0).abs() < 1e-9, "12 at 1.2/s");
        let md = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
        assert!(
            md.contains("At the end 12 remain: at the current 1.20/s that is 10 s more"),
            "{md}"
        );
    }

    #[test]
    fn a_file_without_snapshots_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("empty.jsonl");
        std::fs::write(&rec, "{\"type\":\"phase\",\"name\":\"x\",\"t\":1}\n").unwrap();
        let e = read_recording(&rec).unwrap_err().to_string();
        assert!(e.contains("no snapshot in it"), "{e}");
        let e = read_recording(&dir.path().join("missing.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.jsonl"), "{e}");
    }

    #[test]
    fn numbers_read_like_the_2020_notes() {
        assert_eq!(count(60000.0), "60,000");
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(820.0), "820");
        assert_eq!(count(41534350.4), "41,534,350");
        assert_eq!(with_unit("1.2", "1/s"), "1.2/s");
        assert_eq!(with_unit("3", "cores"), "3 cores");
        assert_eq!(short(1.2), "1.20");
        assert_eq!(short(0.016), "0.0160");
        assert_eq!(short(14.5), "14.5");
    }
}
