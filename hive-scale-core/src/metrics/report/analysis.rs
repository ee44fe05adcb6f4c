//! The findings, worked out from a recording by pure functions: statistics per query and
//! series, each queue's peak, drain and rates with the time left at the current rate, the rate
//! queries' means and peaks, and whether a full re-apply fits in the re-apply interval.

use super::super::profile::{Findings, Kind, Profile};
use super::super::redact_url;
use super::super::snapshot::QueryOutcome;
use super::ReportOptions;
use super::read::Recording;
use super::summary::{
    PhaseMark, QueryStats, QueueFinding, RateFinding, ReapplyFinding, ReapplyUnit, ReplicaFinding,
    ReportFindings, ReportSummary, SeriesStats,
};
use crate::api::Pipeline;
use std::collections::BTreeMap;

/// The report's clock: seconds since the start, multiplied by the time scale when modeled.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    t0: f64,
    factor: f64,
}

impl Clock {
    pub(super) fn x(&self, t: f64) -> f64 {
        (t - self.t0) * self.factor
    }
}

/// A series' labels and its `(x, value)` points.
pub(super) type LabelledPoints = (BTreeMap<String, String>, Vec<(f64, f64)>);

/// One query over the recording: its statistics, and its points for the chart.
#[derive(Debug)]
pub(super) struct QueryData {
    pub(super) stats: QueryStats,
    /// By series key ([`series_key`]).
    pub(super) series: BTreeMap<String, LabelledPoints>,
    totals: Vec<(f64, f64)>,
}

/// The summary, and the points behind it.
#[derive(Debug)]
pub(super) struct Analysis {
    pub(super) summary: ReportSummary,
    // Only charts read the points themselves.
    #[cfg_attr(not(feature = "charts"), allow(dead_code))]
    pub(super) data: Vec<QueryData>,
}

/// One snapshot of one queue: its depth and the rate it was worked at (NaN: not known).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct QueuePoint {
    pub(super) x: f64,
    pub(super) depth: f64,
    pub(super) rate: f64,
}

/// `k=v,k=v` of a series' labels (without `__name__`): the key of a series and its legend.
pub(super) fn series_key(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Statistics of `(x, value)` points, ignoring values that are not numbers; `None` when none is.
pub(super) fn series_stats(
    labels: BTreeMap<String, String>,
    points: &[(f64, f64)],
) -> Option<SeriesStats> {
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

/// A recording's source (`prometheus URL`, `scrape URL,URL`) with every URL through
/// [`redact_url`]: recordings written before URLs were redacted may hold a token.
fn redact_source(source: &str) -> String {
    source
        .split(' ')
        .map(|word| {
            word.split(',')
                .map(redact_url)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Whether `a` and `b` name the same controller: Hive labels its own metrics with its own
/// controller names (`clustersync`), controller-runtime's and the workqueue's with the
/// controller's (`clusterSync-controller`); case aside, with or without `-controller`.
pub(super) fn same_controller(a: &str, b: &str) -> bool {
    let base = |s: &str| {
        s.strip_suffix("-controller")
            .unwrap_or(s)
            .to_ascii_lowercase()
    };
    base(a) == base(b)
}

/// A queue's mean rate: while it had items; a queue emptied faster than the snapshots came
/// has no such sample, then any sample where it was being worked.
fn mean_rate(pts: &[QueuePoint]) -> Option<f64> {
    let rates = |keep: &dyn Fn(&QueuePoint) -> bool| -> Vec<f64> {
        pts.iter()
            .filter(|p| p.rate.is_finite() && keep(p))
            .map(|p| p.rate)
            .collect()
    };
    mean(&rates(&|p| p.depth > 0.0))
        .filter(|r| *r > 0.0)
        .or_else(|| mean(&rates(&|p| p.rate > 0.0)))
}

/// What one queue did, from its points in time order; `None` when it never held anything.
pub(super) fn queue_finding(queue: String, pts: &[QueuePoint]) -> Option<QueueFinding> {
    // The first of the highest depths.
    let (peak_i, peak) = pts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.depth.is_finite())
        .max_by(|a, b| a.1.depth.total_cmp(&b.1.depth).then(b.0.cmp(&a.0)))?;
    if peak.depth <= 0.0 {
        return None;
    }
    let drained_at_s = pts[peak_i..].iter().find(|p| p.depth <= 0.0).map(|p| p.x);
    let rate_mean = mean_rate(pts);
    let rate_peak = pts
        .iter()
        .map(|p| p.rate)
        .filter(|r| r.is_finite())
        .reduce(f64::max);
    let recent: Vec<f64> = pts
        .iter()
        .rev()
        .map(|p| p.rate)
        .filter(|r| r.is_finite())
        .take(3)
        .collect();
    let rate_now = mean(&recent);
    let remaining = pts.last().map(|p| p.depth).unwrap_or(0.0);
    let time_left_s = match rate_now {
        _ if remaining <= 0.0 => Some(0.0),
        Some(r) if r > 0.0 => Some(remaining / r),
        _ => None,
    };
    let at_peak_rate = Some(peak.rate)
        .filter(|r| r.is_finite() && *r > 0.0)
        .or(rate_mean);
    Some(QueueFinding {
        queue,
        peak: peak.depth,
        peak_at_s: peak.x,
        drained_at_s,
        drain_s: drained_at_s.map(|d| d - peak.x),
        remaining,
        rate_mean,
        rate_peak,
        rate_now,
        time_left_s,
        at_peak_s: at_peak_rate.map(|r| peak.depth / r),
    })
}

/// Mean and peak of a rate query's total; `None` for other kinds or without data.
pub(super) fn rate_finding(stats: &QueryStats) -> Option<RateFinding> {
    if stats.kind != Kind::Rate {
        return None;
    }
    let t = stats.total.as_ref()?;
    Some(RateFinding {
        name: stats.name.clone(),
        unit: stats.unit.clone(),
        mean: t.mean,
        peak: t.max,
        peak_at_s: t.max_at_s,
    })
}

/// The pipeline whose sync controller names one of `queues` (case aside: what matters is the
/// controller, not how an exporter spells it); `None` when neither or both do.
pub(super) fn pipeline_of<'a>(queues: impl IntoIterator<Item = &'a str>) -> Option<Pipeline> {
    let mut seen = Pipeline::ALL.map(|_| false);
    for q in queues {
        for (i, p) in Pipeline::ALL.iter().enumerate() {
            seen[i] |= q.eq_ignore_ascii_case(p.sync_controller());
        }
    }
    match seen {
        [true, false] => Some(Pipeline::ALL[0]),
        [false, true] => Some(Pipeline::ALL[1]),
        _ => None,
    }
}

/// How many items a full re-apply puts on `queue`, in the unit of `pipeline`'s sync queue:
/// clusters for clustersync (`clusters`), (set, cluster) pairs for the 2020 pipeline and for a
/// recording whose pipeline is unknown (`pairs`); the queue's `peak` when not given (`None`
/// when that is unknown too). Also says where the number came from.
fn reapply_items(
    queue: &str,
    peak: Option<f64>,
    pipeline: Option<Pipeline>,
    clusters: Option<u64>,
    pairs: Option<u64>,
) -> Option<(f64, ReapplyUnit, String)> {
    let unit = pipeline.map_or(ReapplyUnit::Pairs, ReapplyUnit::of);
    let given = match unit {
        ReapplyUnit::Clusters => clusters,
        ReapplyUnit::Pairs => pairs,
    };
    match (given, peak) {
        (Some(n), _) => Some((n as f64, unit, "given".to_string())),
        (None, Some(peak)) => Some((peak, unit, format!("the peak of queue {queue}"))),
        (None, None) => None,
    }
}

/// Whether re-applying `items` (in `unit`s of `queue`) at `rate`, the queue's mean rate,
/// fits in `interval_s`; `backed_up` says whether that rate was seen while the queue held
/// items. `Err` says why it cannot be worked out.
pub(super) fn reapply_finding(
    queue: &str,
    rate: Option<f64>,
    backed_up: bool,
    (items, unit, items_from): (f64, ReapplyUnit, String),
    pipeline: Option<Pipeline>,
    interval_s: f64,
) -> Result<ReapplyFinding, String> {
    let rate = rate.filter(|r| *r > 0.0).ok_or_else(|| {
        format!("no re-apply estimate: queue {queue} was never seen being worked")
    })?;
    let seconds = items / rate;
    Ok(ReapplyFinding {
        items,
        unit,
        items_from,
        pipeline,
        queue: queue.to_string(),
        rate,
        backed_up,
        seconds,
        interval_s,
        fits: seconds <= interval_s,
    })
}

/// The re-apply check: the sync controller's queue of the recording's pipeline (given, or
/// named by the recorded queues), counted in that queue's own unit. Without a known pipeline,
/// the busiest queue counted in pairs, as the 2020 report did.
fn reapply(
    findings: &mut ReportFindings,
    seen_queues: &BTreeMap<String, Option<f64>>,
    work: Option<&BTreeMap<String, Vec<QueuePoint>>>,
    opts: &ReportOptions,
    interval_s: f64,
) {
    let pipeline = opts
        .pipeline
        .or_else(|| pipeline_of(seen_queues.keys().map(String::as_str)));
    let sync = pipeline.map(|p| p.sync_controller());
    let is_sync = |q: &str| sync.is_some_and(|s| q.eq_ignore_ascii_case(s));
    if pipeline.is_none() && opts.clusters.is_some() && opts.pairs.is_none() {
        findings.notes.push(
            "the recording names neither sync queue, so its pipeline is unknown and the \
             re-apply counts (set, cluster) pairs: give the pipeline to count clusters"
                .into(),
        );
    }
    // (queue, its mean rate, whether that rate was seen while it held items, its peak)
    let chosen = match findings.queues.iter().find(|q| is_sync(&q.queue)) {
        Some(q) => Some((q.queue.clone(), q.rate_mean, true, Some(q.peak))),
        None => match seen_queues.iter().find(|(q, _)| is_sync(q)) {
            // The workers kept up with everything that came: the rate they were seen working
            // at is what was asked of them, a floor under what they can do.
            Some((q, rate)) => Some((q.clone(), *rate, false, None)),
            // Without a pipeline, or with a profile that does not split queues by controller:
            // the busiest queue stands in.
            None => findings
                .queues
                .first()
                .map(|q| (q.queue.clone(), q.rate_mean, true, Some(q.peak))),
        },
    };
    let Some((queue, rate, backed_up, peak)) = chosen else {
        findings
            .notes
            .push("no re-apply estimate: no queue held anything".into());
        return;
    };
    // The queue drains at every reconcile's pace; clusters are synced at the pace of the
    // reconciles that did work (with replicas, the others' clusters are skipped).
    let rate = work
        .and_then(|w| w.get(&queue))
        .and_then(|pts| mean_rate(pts))
        .or(rate);
    let Some(items) = reapply_items(&queue, peak, pipeline, opts.clusters, opts.pairs) else {
        findings.notes.push(format!(
            "no re-apply estimate: queue {queue} never held anything and the number of {} was \
             not given",
            match pipeline.map_or(ReapplyUnit::Pairs, ReapplyUnit::of) {
                ReapplyUnit::Clusters => "clusters",
                ReapplyUnit::Pairs => "(set, cluster) pairs",
            }
        ));
        return;
    };
    match reapply_finding(&queue, rate, backed_up, items, pipeline, interval_s) {
        Ok(r) => findings.reapply = Some(r),
        Err(note) => findings.notes.push(note),
    }
}

/// The points of `queue` per replica (by `label`), with the rate query `rate`.
fn replica_points(
    rec: &Recording,
    spec: &Findings,
    rate: &str,
    label: &str,
    queue: &str,
    clock: &Clock,
) -> BTreeMap<String, Vec<QueuePoint>> {
    let mut per_replica: BTreeMap<String, Vec<QueuePoint>> = BTreeMap::new();
    for s in &rec.snapshots {
        let Some(depths) = s.get(&spec.queue).and_then(|r| r.value()) else {
            continue;
        };
        let rates: Vec<(BTreeMap<String, String>, f64)> = s
            .get(rate)
            .and_then(|r| r.value())
            .map(|v| v.values())
            .unwrap_or_default();
        let mut depth_by: BTreeMap<String, f64> = BTreeMap::new();
        for (labels, v) in depths.values() {
            if labels.get(&spec.queue_label).map(String::as_str) == Some(queue)
                && let Some(replica) = labels.get(label)
            {
                *depth_by.entry(replica.clone()).or_default() += v;
            }
        }
        for (replica, depth) in depth_by {
            let matching: Vec<f64> = rates
                .iter()
                .filter(|(l, v)| {
                    !v.is_nan()
                        && l.get(&spec.rate_label)
                            .is_some_and(|c| same_controller(c, queue))
                        && l.get(label) == Some(&replica)
                })
                .map(|(_, v)| *v)
                .collect();
            per_replica.entry(replica).or_default().push(QueuePoint {
                x: clock.x(s.t),
                depth,
                rate: if matching.is_empty() {
                    f64::NAN
                } else {
                    matching.iter().sum()
                },
            });
        }
    }
    per_replica
}

/// The sync queue of the re-apply finding, per replica: each replica's queue finding and its
/// own re-apply (its share of the items, at its own mean rate of work). Empty unless the
/// profile names a replica label and the recording shows two replicas or more.
fn replica_findings(
    rec: &Recording,
    spec: &Findings,
    clock: &Clock,
    findings: &ReportFindings,
    interval_s: f64,
) -> Vec<ReplicaFinding> {
    let (Some(label), Some(overall)) = (&spec.replica_label, &findings.reapply) else {
        return Vec::new();
    };
    let queue = &overall.queue;
    let per_replica = replica_points(rec, spec, &spec.rate, label, queue, clock);
    if per_replica.len() < 2 {
        return Vec::new();
    }
    // Every pod is given every cluster, so a queue's depth and drain rate count the clusters
    // other replicas own too; the work each did (where recorded) counts only its own.
    let work = spec
        .work_rate
        .as_ref()
        .map(|w| replica_points(rec, spec, w, label, queue, clock))
        .filter(|w| w.values().flatten().any(|p| p.rate.is_finite()));
    let queues: Vec<(String, QueueFinding)> = per_replica
        .into_iter()
        .filter_map(|(replica, pts)| {
            let q = queue_finding(format!("{queue} ({replica})"), &pts)?;
            Some((replica, q))
        })
        .collect();
    // Each replica's share of the fleet's items: in proportion to the work it did, else to
    // what its queue held (the queue's own peak undercounts a replica that worked while
    // clusters were still coming).
    let weight = |replica: &str, q: &QueueFinding| match &work {
        Some(w) => w.get(replica).map_or(0.0, |pts| {
            pts.iter().map(|p| p.rate).filter(|r| r.is_finite()).sum()
        }),
        None => q.peak,
    };
    let total: f64 = queues.iter().map(|(r, q)| weight(r, q)).sum();
    let by = if work.is_some() {
        "the work it did"
    } else {
        "its queue's peak"
    };
    queues
        .into_iter()
        .map(|(replica, q)| {
            let share = if total > 0.0 {
                (overall.items * weight(&replica, &q) / total).round()
            } else {
                0.0
            };
            let rate = work
                .as_ref()
                .and_then(|w| w.get(&replica))
                .and_then(|pts| mean_rate(pts))
                .or(q.rate_mean);
            let items = (
                share,
                overall.unit,
                format!("its share of {} by {by}", overall.items),
            );
            let reapply =
                reapply_finding(queue, rate, true, items, overall.pipeline, interval_s).ok();
            ReplicaFinding {
                replica,
                queue: q,
                reapply,
            }
        })
        .collect()
}

/// Each queue's points: its depth (summed over the queue's series) and the rate of the rate
/// series labelled with its name. Also says whether any rate was recorded at all.
fn queue_points(
    rec: &Recording,
    spec: &Findings,
    clock: &Clock,
) -> (BTreeMap<String, Vec<QueuePoint>>, bool) {
    let mut per_queue: BTreeMap<String, Vec<QueuePoint>> = BTreeMap::new();
    let mut has_rate = false;
    for s in &rec.snapshots {
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
                                    || l.get(&spec.rate_label)
                                        .is_some_and(|c| same_controller(c, &name)))
                        })
                        .map(|(_, v)| *v)
                        .collect();
                    if !matching.is_empty() {
                        matching.iter().sum()
                    } else if rs.iter().any(|(l, _)| l.contains_key(&spec.rate_label)) {
                        // Other queues have a rate series and this one none: it is not worked.
                        0.0
                    } else {
                        f64::NAN
                    }
                }
                None => f64::NAN,
            };
            per_queue.entry(name).or_default().push(QueuePoint {
                x: clock.x(s.t),
                depth,
                rate,
            });
        }
    }
    (per_queue, has_rate)
}

/// Each queue's finding, into `f`; returns every queue recorded, including those that never
/// held anything, with the mean rate it was seen worked at (if it was).
fn queue_findings(
    rec: &Recording,
    spec: &Findings,
    clock: &Clock,
    f: &mut ReportFindings,
) -> BTreeMap<String, Option<f64>> {
    if !rec.snapshots.iter().any(|s| s.get(&spec.queue).is_some()) {
        f.notes.push(format!(
            "no queue findings: the recording has no query {:?}",
            spec.queue
        ));
        return BTreeMap::new();
    }
    let (per_queue, has_rate) = queue_points(rec, spec, clock);
    if !has_rate {
        f.notes.push(format!(
            "no drain rates: the recording has no values for query {:?}",
            spec.rate
        ));
    }
    let seen = per_queue
        .iter()
        .map(|(name, pts)| {
            let worked: Vec<f64> = pts
                .iter()
                .map(|p| p.rate)
                .filter(|r| r.is_finite() && *r > 0.0)
                .collect();
            (name.clone(), mean(&worked))
        })
        .collect();
    f.queues = per_queue
        .into_iter()
        .filter_map(|(queue, pts)| queue_finding(queue, &pts))
        .collect();
    f.queues
        .sort_by(|a, b| b.peak.total_cmp(&a.peak).then(a.queue.cmp(&b.queue)));
    seen
}

/// Every query's statistics and points, in profile order (queries the profile does not name
/// after, in the order they first appear).
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
            d.stats.total = series_stats(BTreeMap::new(), &d.totals);
            d.stats.series = d
                .series
                .values()
                .filter_map(|(labels, pts)| series_stats(labels.clone(), pts))
                .collect();
            d
        })
        .collect()
}

/// Works out the summary of a recording (which has at least one snapshot).
pub(super) fn analyze(rec: &Recording, opts: &ReportOptions) -> Analysis {
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
    let seen_queues = queue_findings(rec, &profile.findings, &clock, &mut findings);
    let work = profile.findings.work_rate.as_ref().and_then(|w| {
        let spec = Findings {
            rate: w.clone(),
            ..profile.findings.clone()
        };
        let (pts, recorded) = queue_points(rec, &spec, &clock);
        recorded.then_some(pts)
    });
    findings.rates = data.iter().filter_map(|d| rate_finding(&d.stats)).collect();
    let interval_s = opts.reapply_interval.as_secs_f64();
    reapply(&mut findings, &seen_queues, work.as_ref(), opts, interval_s);
    findings.replicas = replica_findings(rec, &profile.findings, &clock, &findings, interval_s);
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
        source: rec.start.as_ref().map(|s| redact_source(&s.source)),
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
        clusters: opts.clusters,
        phases,
        findings,
        queries: data.iter().map(|d| d.stats.clone()).collect(),
        warnings,
    };
    Analysis { summary, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(depths: &[f64], rate: impl Fn(f64) -> f64) -> Vec<QueuePoint> {
        depths
            .iter()
            .enumerate()
            .map(|(i, &depth)| QueuePoint {
                x: i as f64 * 10.0,
                depth,
                rate: rate(depth),
            })
            .collect()
    }

    #[test]
    fn a_queue_that_peaks_and_drains() {
        let pts = points(&[0.0, 300.0, 600.0, 300.0, 0.0, 0.0], |d| {
            if d > 0.0 { 1.2 } else { 0.0 }
        });
        let q = queue_finding("q".into(), &pts).unwrap();
        assert_eq!((q.peak, q.peak_at_s), (600.0, 20.0));
        assert_eq!((q.drained_at_s, q.drain_s), (Some(40.0), Some(20.0)));
        assert_eq!(q.rate_mean, Some(1.2));
        assert_eq!(q.rate_peak, Some(1.2));
        assert_eq!((q.remaining, q.time_left_s), (0.0, Some(0.0)));
        assert!((q.at_peak_s.unwrap() - 500.0).abs() < 1e-9, "600 at 1.2/s");
    }

    #[test]
    fn a_queue_left_with_work_says_how_long_it_needs_or_that_it_never_drains() {
        let q = queue_finding("q".into(), &points(&[100.0, 60.0, 24.0], |_| 1.2)).unwrap();
        assert_eq!((q.peak_at_s, q.drained_at_s), (0.0, None));
        assert!((q.time_left_s.unwrap() - 20.0).abs() < 1e-9, "24 at 1.2/s");
        let stuck = queue_finding("q".into(), &points(&[5.0, 5.0], |_| 0.0)).unwrap();
        assert_eq!((stuck.rate_mean, stuck.time_left_s), (None, None));
        let unknown = queue_finding("q".into(), &points(&[5.0, 5.0], |_| f64::NAN)).unwrap();
        assert_eq!((unknown.rate_now, unknown.at_peak_s), (None, None));
        assert!(queue_finding("q".into(), &points(&[0.0, 0.0], |_| 1.0)).is_none());
        assert!(queue_finding("q".into(), &[]).is_none());
    }

    /// `reapply_finding` for a queue that held items.
    fn finding(
        q: &QueueFinding,
        pipeline: Option<Pipeline>,
        clusters: Option<u64>,
        pairs: Option<u64>,
    ) -> Result<ReapplyFinding, String> {
        let items = reapply_items(&q.queue, Some(q.peak), pipeline, clusters, pairs).unwrap();
        reapply_finding(&q.queue, q.rate_mean, true, items, pipeline, 7200.0)
    }

    #[test]
    fn the_2020_re_apply_does_not_fit() {
        let q = queue_finding(
            "syncsetinstance-controller".into(),
            &points(&[600.0, 0.0], |_| 1.2),
        )
        .unwrap();
        let ssi = Some(Pipeline::SyncSetInstance);
        let r = finding(&q, ssi, Some(1000), Some(60_000)).unwrap();
        assert!(!r.fits);
        assert!((r.seconds / 3600.0 - 13.89).abs() < 0.01, "{}", r.seconds);
        assert_eq!(
            (r.unit, r.items_from.as_str()),
            (ReapplyUnit::Pairs, "given")
        );
        let r = finding(&q, ssi, None, None).unwrap();
        assert!(r.fits && r.items == 600.0, "{r:?}");
        assert_eq!(r.items_from, "the peak of queue syncsetinstance-controller");
        let idle = queue_finding("idle".into(), &points(&[3.0], |_| 0.0)).unwrap();
        let e = finding(&idle, None, None, None).unwrap_err();
        assert!(e.contains("idle was never seen being worked"), "{e}");
    }

    #[test]
    fn a_clustersync_re_apply_counts_clusters_not_pairs() {
        // The starvation scenario's fleet: 300 clusters, 60 sets, the queue worked at 1/30 s.
        let q = queue_finding(
            "clusterSync-controller".into(),
            &points(&[40.0, 0.0], |_| 1.0 / 30.0),
        )
        .unwrap();
        let cs = Some(Pipeline::ClusterSync);
        let items = reapply_items(&q.queue, Some(q.peak), cs, Some(300), Some(300 * 60));
        assert_eq!(
            items,
            Some((300.0, ReapplyUnit::Clusters, "given".to_string()))
        );
        let r = finding(&q, cs, Some(300), Some(300 * 60)).unwrap();
        assert!((r.seconds / 3600.0 - 2.5).abs() < 1e-9, "{}", r.seconds);
        assert!(!r.fits && r.backed_up);
        let (peak, unit, from) = reapply_items(&q.queue, Some(40.0), cs, None, Some(1)).unwrap();
        assert_eq!((peak, unit), (40.0, ReapplyUnit::Clusters));
        assert_eq!(from, "the peak of queue clusterSync-controller");
        assert_eq!(reapply_items(&q.queue, None, cs, None, Some(1)), None);
    }

    #[test]
    fn a_sync_queue_that_never_backed_up_gives_an_upper_bound() {
        let mut f = ReportFindings::default();
        let seen = BTreeMap::from([
            ("clusterSync-controller".to_string(), Some(0.1)),
            ("clusterdeployment-controller".to_string(), None),
        ]);
        let opts = ReportOptions {
            clusters: Some(8),
            ..Default::default()
        };
        reapply(&mut f, &seen, None, &opts, 7200.0);
        let r = f.reapply.unwrap();
        assert_eq!(
            (r.items, r.unit, r.backed_up),
            (8.0, ReapplyUnit::Clusters, false)
        );
        assert_eq!(
            r.pipeline,
            Some(Pipeline::ClusterSync),
            "named by its queue"
        );
        assert!((r.seconds - 80.0).abs() < 1e-9 && r.fits, "{r:?}");

        // Without the number of clusters there is nothing to count.
        let mut f = ReportFindings::default();
        reapply(&mut f, &seen, None, &ReportOptions::default(), 7200.0);
        assert!(f.reapply.is_none());
        assert!(f.notes[0].contains("number of clusters"), "{:?}", f.notes);
    }

    #[test]
    fn the_pipeline_is_the_one_whose_sync_queue_is_recorded() {
        let cs = ["clusterdeployment-controller", "clusterSync-controller"];
        assert_eq!(pipeline_of(cs), Some(Pipeline::ClusterSync));
        let ssi = ["syncset-controller", "SyncSetInstance-Controller"];
        assert_eq!(pipeline_of(ssi), Some(Pipeline::SyncSetInstance));
        assert_eq!(pipeline_of(["(all)"]), None);
        let both = ["clusterSync-controller", "syncsetinstance-controller"];
        assert_eq!(pipeline_of(both), None, "ambiguous");
    }

    #[test]
    fn statistics_skip_gaps_and_rate_findings_read_the_total() {
        let s = series_stats(
            BTreeMap::new(),
            &[(0.0, 2.0), (1.0, f64::NAN), (2.0, 6.0), (3.0, 4.0)],
        )
        .unwrap();
        assert_eq!((s.samples, s.min, s.mean, s.max), (3, 2.0, 4.0, 6.0));
        assert_eq!((s.max_at_s, s.last), (2.0, 4.0));
        assert!(series_stats(BTreeMap::new(), &[(0.0, f64::NAN)]).is_none());
        let stats = |kind| QueryStats {
            name: "r".into(),
            title: "r".into(),
            unit: "1/s".into(),
            kind,
            ok: 3,
            errors: 0,
            unavailable: 0,
            last_error: None,
            total: Some(s.clone()),
            series: vec![],
            chart: None,
        };
        let r = rate_finding(&stats(Kind::Rate)).unwrap();
        assert_eq!((r.mean, r.peak, r.peak_at_s), (4.0, 6.0, 2.0));
        assert!(rate_finding(&stats(Kind::Gauge)).is_none());
        let labels = BTreeMap::from([
            ("__name__".to_string(), "x".to_string()),
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]);
        assert_eq!(series_key(&labels), "a=1,b=2");
    }

    #[test]
    fn an_old_recording_s_source_loses_its_secrets() {
        assert_eq!(
            redact_source("scrape http://u:pw@h:1/metrics?token=t1,http://h:2/metrics?key=k2"),
            "scrape http://h:1/metrics?token=REDACTED,http://h:2/metrics?key=REDACTED"
        );
        assert_eq!(
            redact_source("prometheus http://127.0.0.1:9091/"),
            "prometheus http://127.0.0.1:9091/"
        );
    }
}
