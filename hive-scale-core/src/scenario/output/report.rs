//! `report.md` of a run and of a fleet: what the template is fed. Figures are formatted here,
//! once, so a replaced template places and words them as it likes without re-deriving them; the
//! built-in template (`metrics/report/report.md.tera`) lays out every section.

use crate::metrics::slo::{SloReport, SloStatus};
use crate::scenario::fleet::{FleetFanoutFrom, FleetSummary};
use crate::scenario::runner::{FanoutFrom, PhaseRecord, Summary, TeardownRecord};
use serde::Serialize;

/// A scale test's section: `scaletest` in the template's context.
#[derive(Debug, Serialize)]
pub(crate) struct RunView {
    name: String,
    description: String,
    status: String,
    exit_code: u8,
    run_id: String,
    hub: String,
    pipeline: String,
    time_scale: String,
    wall: String,
    phases: Vec<PhaseRow>,
    fanout: FanoutView,
    api_slo: Option<SloView>,
    thresholds: Vec<ThresholdRow>,
    teardown: Option<TeardownView>,
    changes: Vec<ChangeRow>,
    ramp: Option<RampView>,
    /// The run's window on the graph page of the Prometheus it read, with the default
    /// profile's queries (what `config/grafana/` shows).
    prometheus_link: Option<String>,
}

/// A ramp: the knee in one line, the planner's beside it, and each step.
#[derive(Debug, Serialize)]
struct RampView {
    verdict: String,
    predicted: String,
    steps: Vec<RampRow>,
}

#[derive(Debug, Serialize)]
struct RampRow {
    clusters: u32,
    synced: String,
    probe_p99: String,
    api_slo: String,
    healthy: bool,
    why: String,
}

fn ramp_view(r: &crate::scenario::runner::RampResult) -> RampView {
    RampView {
        verdict: r.verdict(),
        predicted: match r.predicted_knee {
            Some(k) => {
                let measured = f64::from(r.knee.max(1));
                format!(
                    "The planner predicts {k} clusters for the same targets and model{} ({:+.0}% from the measured knee)",
                    r.predicted_for
                        .as_deref()
                        .map_or(String::new(), |m| format!(" (preset {m})")),
                    (f64::from(k) / measured - 1.0) * 100.0
                )
            }
            None => String::new(),
        },
        steps: r
            .steps
            .iter()
            .map(|s| RampRow {
                clusters: s.clusters,
                synced: s.synced_seconds.map_or("-".into(), whole),
                probe_p99: s.probe_p99_seconds.map_or("-".into(), whole),
                api_slo: s.api_slo.map_or("-".into(), |v| v.to_string()),
                healthy: s.healthy,
                why: s.why.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

/// A change to a set and its completion curve: `curve` holds the modeled seconds by which
/// 10%, 20%, ... 90%, 99% and 100% of the clusters had it ("-" for a share never reached).
#[derive(Debug, Serialize)]
struct ChangeRow {
    phase: String,
    set: String,
    generation: String,
    reached: String,
    p50: String,
    p90: String,
    p99: String,
    curve: Vec<String>,
}

/// The points of a change row's curve: the built-in template's columns 10% .. 100%.
const CURVE_POINTS: usize = 11;

fn change_rows(changes: &[crate::scenario::runner::ChangeFanout]) -> Vec<ChangeRow> {
    changes
        .iter()
        .map(|c| ChangeRow {
            phase: c.phase.clone(),
            set: c.set.clone(),
            generation: c.generation.map_or("-".into(), |g| g.to_string()),
            reached: format!("{} of {}", c.reached, c.clusters),
            p50: whole(c.fanout.p50),
            p90: whole(c.fanout.p90),
            p99: whole(c.fanout.p99),
            curve: (0..CURVE_POINTS)
                .map(|i| c.curve.get(i).map_or("-".into(), |p| whole(p.seconds)))
                .collect(),
        })
        .collect()
}

/// A row of a phase table.
#[derive(Debug, Serialize)]
struct PhaseRow {
    name: String,
    outcome: String,
    wall: String,
    modeled: String,
    applied: usize,
    expected: usize,
    fanout: String,
}

#[derive(Debug, Serialize)]
struct FanoutView {
    count: usize,
    how: &'static str,
    p50: String,
    p90: String,
    p99: String,
    max: String,
}

#[derive(Debug, Serialize)]
struct SloView {
    measured: bool,
    reason: String,
    status: String,
    window: String,
    windows: usize,
    span: String,
    source: String,
    factor: String,
    groups: Vec<SloRow>,
}

#[derive(Debug, Serialize)]
struct SloRow {
    calls: String,
    requests: u64,
    p99: String,
    start: String,
    limit: String,
    result: &'static str,
}

#[derive(Debug, Serialize)]
struct ThresholdRow {
    kind: String,
    value: String,
    limit: String,
    held: bool,
}

#[derive(Debug, Serialize)]
struct TeardownView {
    ran: bool,
    counts: String,
    problems: Vec<String>,
    error: String,
}

/// `{:.0}`.
fn whole(v: f64) -> String {
    format!("{v:.0}")
}

fn phase_rows(phases: &[PhaseRecord]) -> Vec<PhaseRow> {
    phases
        .iter()
        .map(|p| PhaseRow {
            name: p.name.clone(),
            outcome: p.outcome.to_string(),
            wall: format!("{:.1}", p.wall_seconds),
            modeled: whole(p.modeled_seconds),
            applied: p.pairs_applied,
            expected: p.pairs_expected,
            fanout: p.fanout.as_ref().map_or(String::new(), |f| {
                format!(
                    "{:.0} / {:.0} / {:.0} / {:.0} ({} pairs)",
                    f.p50, f.p90, f.p99, f.max, f.count
                )
            }),
        })
        .collect()
}

fn slo_view(r: &SloReport) -> SloView {
    SloView {
        measured: r.status != SloStatus::NotMeasured,
        reason: r.reason.clone().unwrap_or_else(|| "no data".into()),
        status: r.status.to_string(),
        window: whole(r.window_seconds),
        windows: r.windows,
        span: whole(r.span_seconds),
        source: r.source.clone().unwrap_or_else(|| "?".into()),
        factor: if r.factor == 1.0 {
            String::new()
        } else {
            format!(" times {}", r.factor)
        },
        groups: r
            .groups
            .iter()
            .map(|g| SloRow {
                calls: format!(
                    "{}{}",
                    g.label(),
                    if g.custom_resource {
                        " (reference)"
                    } else {
                        ""
                    }
                ),
                requests: g.requests,
                p99: format!("{:.3}", g.p99_seconds),
                start: whole(g.window_start_seconds),
                limit: g.limit_seconds.to_string(),
                result: if g.passed { "ok" } else { "**FAILED**" },
            })
            .collect(),
    }
}

/// The scale test's section of `report.md`.
pub(crate) fn run_view(s: &Summary) -> RunView {
    let f = &s.fanout;
    RunView {
        name: s.scenario.name.clone(),
        description: s.scenario.description.clone(),
        status: s.status.to_string(),
        exit_code: s.exit_code,
        run_id: s.run_id.clone(),
        hub: s.hub.clone(),
        pipeline: match (s.pipeline, s.clustersync_replicas) {
            (None, _) => "pipeline unknown".to_string(),
            (Some(p), None) => format!("{p} pipeline"),
            (Some(p), Some(1)) => format!("{p} pipeline, 1 clustersync replica"),
            (Some(p), Some(n)) => format!("{p} pipeline, {n} clustersync replicas"),
        },
        time_scale: s.time_scale.to_string(),
        wall: whole(s.wall_seconds),
        phases: phase_rows(&s.phases),
        fanout: FanoutView {
            count: f.count,
            how: match s.fanout_from {
                FanoutFrom::Objects => {
                    "first success against the later of the set's and the cluster's creation"
                }
                FanoutFrom::HiveHistogram => {
                    "from Hive's hive_selectorsyncset_apply_duration_seconds, interpolated inside its buckets"
                }
            },
            p50: whole(f.p50),
            p90: whole(f.p90),
            p99: whole(f.p99),
            max: whole(f.max),
        },
        api_slo: s.api_slo.as_ref().map(slo_view),
        thresholds: s
            .thresholds
            .iter()
            .map(|t| ThresholdRow {
                kind: t.kind.to_string(),
                value: format!("{:.1}", t.value),
                limit: format!("{:.1}", t.limit),
                held: t.held,
            })
            .collect(),
        changes: change_rows(&s.changes),
        ramp: s.ramp.as_ref().map(ramp_view),
        prometheus_link: s.prometheus.as_deref().map(|url| {
            crate::metrics::dashboard::prometheus_graph_url(
                url,
                &crate::metrics::profile::Profile::builtin(),
                s.started,
                s.started + s.wall_seconds,
            )
        }),
        teardown: s.teardown.as_ref().map(|t| match t {
            TeardownRecord::Ran(t) => TeardownView {
                ran: true,
                counts: t.counts(),
                problems: t.problems(),
                error: String::new(),
            },
            TeardownRecord::Error { error } => TeardownView {
                ran: false,
                counts: String::new(),
                problems: Vec::new(),
                error: error.clone(),
            },
        }),
    }
}

/// A fleet's `report.md`: `fleet` in the template's context.
#[derive(Debug, Serialize)]
pub(crate) struct FleetView {
    name: String,
    description: String,
    status: String,
    exit_code: u8,
    run_id: String,
    hubs: usize,
    clusters: u64,
    selectorsyncsets: u32,
    configmaps: u32,
    wall: String,
    rows: Vec<HubRow>,
    failed: Vec<FailedHub>,
    sections: Vec<HubSection>,
    totals: FleetTotalsView,
}

#[derive(Debug, Serialize)]
struct HubRow {
    name: String,
    clusters: u32,
    status: String,
    run_id: String,
    applied: usize,
    expected: usize,
    drain: String,
    fanout: String,
    teardown: String,
    dir: String,
}

#[derive(Debug, Serialize)]
struct FailedHub {
    name: String,
    phase: String,
    at: String,
    into_run: String,
    error: String,
}

#[derive(Debug, Serialize)]
struct HubSection {
    name: String,
    clusters: u32,
    time_scale: String,
    identity: Option<String>,
    server: String,
    run_id: String,
    phases: Vec<PhaseRow>,
    queues: Vec<QueueLine>,
    reapply: Option<ReapplyLine>,
    dir: String,
}

#[derive(Debug, Serialize)]
struct QueueLine {
    queue: String,
    peak: String,
    peak_at: String,
    drained: String,
    rate: String,
}

#[derive(Debug, Serialize)]
struct ReapplyLine {
    items: String,
    unit: String,
    seconds: String,
    fits: bool,
    interval: String,
}

#[derive(Debug, Serialize)]
struct FleetTotalsView {
    passed: usize,
    hubs: usize,
    applied: usize,
    expected: usize,
    slowest: String,
    drain: String,
    count: usize,
    how: &'static str,
    p50: String,
    p90: String,
    p99: String,
    max: String,
    errors: u64,
}

/// The fleet's `report.md`: a row per hub, the failures with their time, each hub's phases
/// and findings, the totals.
pub(crate) fn fleet_view(fleet: &FleetSummary) -> FleetView {
    let s = &fleet.scenario;
    let f = &fleet.fleet;
    FleetView {
        name: s.name.clone(),
        description: s.description.clone(),
        status: fleet.status.to_string(),
        exit_code: fleet.exit_code,
        run_id: fleet.run_id.clone(),
        hubs: fleet.hubs.len(),
        clusters: f.clusters,
        selectorsyncsets: s.selectorsyncsets,
        configmaps: s.configmaps,
        wall: whole(fleet.wall_seconds),
        rows: (fleet.hubs.iter())
            .map(|h| HubRow {
                name: h.name.clone(),
                clusters: h.clusters,
                status: h.status.to_string(),
                run_id: h.run_id.clone(),
                applied: h.pairs_applied,
                expected: h.pairs_expected,
                drain: whole(h.drain_seconds),
                fanout: format!(
                    "{:.0} / {:.0} / {:.0} / {:.0} ({} pairs)",
                    h.fanout.p50, h.fanout.p90, h.fanout.p99, h.fanout.max, h.fanout.count
                ),
                teardown: h.teardown.clone().unwrap_or_else(|| "not run".into()),
                dir: h.dir.clone(),
            })
            .collect(),
        failed: (fleet.hubs.iter())
            .filter_map(|h| {
                let f = h.failure.as_ref()?;
                Some(FailedHub {
                    name: h.name.clone(),
                    phase: f.phase.clone(),
                    at: f.at_rfc3339.clone(),
                    into_run: whole(f.at - fleet.started),
                    error: f.error.clone(),
                })
            })
            .collect(),
        sections: (fleet.hubs.iter())
            .filter(|h| !h.phases.is_empty())
            .map(|h| HubSection {
                name: h.name.clone(),
                clusters: h.clusters,
                time_scale: h.time_scale.to_string(),
                identity: h.identity.as_ref().map(ToString::to_string),
                server: h.hub.clone().unwrap_or_else(|| "The hub".into()),
                run_id: h.run_id.clone(),
                phases: phase_rows(&h.phases),
                queues: (h.findings.iter().flat_map(|f| &f.queues))
                    .map(|q| QueueLine {
                        queue: q.queue.clone(),
                        peak: whole(q.peak),
                        peak_at: whole(q.peak_at_s),
                        drained: q.drain_s.map_or_else(
                            || format!("not drained ({} left)", q.remaining),
                            |d| format!("drained in {d:.0}s"),
                        ),
                        rate: format!("{:.2}", q.rate_mean.unwrap_or(0.0)),
                    })
                    .collect(),
                reapply: (h.findings.as_ref())
                    .and_then(|f| f.reapply.as_ref())
                    .map(|r| ReapplyLine {
                        items: whole(r.items),
                        unit: r.unit.to_string(),
                        seconds: whole(r.seconds),
                        fits: r.fits,
                        interval: whole(r.interval_s),
                    }),
                dir: h.dir.clone(),
            })
            .collect(),
        totals: FleetTotalsView {
            passed: f.hubs_passed,
            hubs: f.hubs,
            applied: f.pairs_applied,
            expected: f.pairs_expected,
            slowest: f.slowest_hub.clone().unwrap_or_else(|| "none".into()),
            drain: whole(f.drain_seconds),
            count: f.fanout.count,
            how: match f.fanout_from {
                FleetFanoutFrom::Objects => "every pair of every hub, from Hive's objects",
                FleetFanoutFrom::HiveHistogram => {
                    "the hubs' Hive histograms added, interpolated inside their buckets"
                }
                FleetFanoutFrom::WorstHub => {
                    "the worst hub's figure each (hubs measured differently)"
                }
            },
            p50: whole(f.fanout.p50),
            p90: whole(f.fanout.p90),
            p99: whole(f.fanout.p99),
            max: whole(f.fanout.max),
            errors: f.errors,
        },
    }
}
