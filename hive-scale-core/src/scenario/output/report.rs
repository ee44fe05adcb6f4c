//! `report.md`'s sections from a run's and a fleet's reports.

use crate::metrics::slo::{SloReport, SloStatus};
use crate::scenario::fleet::{FleetFanoutFrom, FleetSummary, HubResult};
use crate::scenario::runner::{FanoutFrom, PhaseRecord, Summary, TeardownRecord};

/// The scale test's own section of `report.md` (phases, fan-out, thresholds, teardown).
pub(crate) fn run_section(s: &Summary) -> String {
    let mut text = format!(
        "\n## Scale test: {}\n\n{}\n\nStatus **{}** (exit code {}), run {}, hub {} ({}), time scale {} (modeled seconds per real second), {:.0}s wall.\n\n",
        s.scenario.name,
        s.scenario.description,
        s.status,
        s.exit_code,
        s.run_id,
        s.hub,
        s.pipeline
            .map_or("pipeline unknown".to_string(), |p| format!("{p} pipeline")),
        s.time_scale,
        s.wall_seconds
    );
    text.push_str(&phase_table(&s.phases));
    let f = &s.fanout;
    let how = match s.fanout_from {
        FanoutFrom::Objects => {
            "first success against the later of the set's and the cluster's creation"
        }
        FanoutFrom::HiveHistogram => {
            "from Hive's hive_selectorsyncset_apply_duration_seconds, interpolated inside its buckets"
        }
    };
    text.push_str(&format!(
            "\nFan-out over the run ({} pairs, {how}): P50 {:.0}s, P90 {:.0}s, P99 {:.0}s, max {:.0}s.\n",
            f.count, f.p50, f.p90, f.p99, f.max
        ));
    if let Some(r) = &s.api_slo {
        text.push_str(&api_slo_section(r));
    }
    for t in &s.thresholds {
        text.push_str(&format!(
            "\nThreshold {}: {:.1} against a limit of {:.1}: {}.\n",
            t.kind,
            t.value,
            t.limit,
            if t.held { "held" } else { "FAILED" }
        ));
    }
    match &s.teardown {
        Some(TeardownRecord::Ran(t)) => {
            text.push_str(&format!("\nTeardown: {}.\n", t.counts()));
            for line in t.problems() {
                text.push_str(&format!("- {line}\n"));
            }
        }
        Some(TeardownRecord::Error { error }) => {
            text.push_str(&format!("\nTeardown could not run: {error}.\n"));
        }
        None => {}
    }
    text
}

/// The report's table of the API call latency SLO.
fn api_slo_section(r: &SloReport) -> String {
    let mut text = String::from("\n### API call latency SLO (the hub's API server)\n\n");
    if r.status == SloStatus::NotMeasured {
        text.push_str(&format!(
            "Not measured: {}.\n",
            r.reason.as_deref().unwrap_or("no data")
        ));
        return text;
    }
    text.push_str(&format!(
        "**{}**: P99 of `apiserver_request_duration_seconds` per {:.0}-second window ({} windows over {:.0}s, from {}), worst window per group; limits are the SLO's{}. Custom resources (Hive's objects) are outside the official SLO and checked against the same limits as a reference.\n\n",
        r.status,
        r.window_seconds,
        r.windows,
        r.span_seconds,
        r.source.as_deref().unwrap_or("?"),
        if r.factor == 1.0 {
            String::new()
        } else {
            format!(" times {}", r.factor)
        }
    ));
    if r.groups.is_empty() {
        text.push_str("No requests the SLO covers were served.\n");
        return text;
    }
    text.push_str("| calls | requests | worst P99 (s) | window start (s) | limit (s) | result |\n|---|---|---|---|---|---|\n");
    for g in &r.groups {
        text.push_str(&format!(
            "| {}{} | {} | {:.3} | {:.0} | {} | {} |\n",
            g.label(),
            if g.custom_resource {
                " (reference)"
            } else {
                ""
            },
            g.requests,
            g.p99_seconds,
            g.window_start_seconds,
            g.limit_seconds,
            if g.passed { "ok" } else { "**FAILED**" }
        ));
    }
    text
}

/// The phases as a Markdown table (a run's summary, and each hub's in a fleet's).
fn phase_table(phases: &[PhaseRecord]) -> String {
    let mut t = String::from(
        "| phase | outcome | wall s | modeled s | pairs applied | fan-out P50 / P90 / P99 / max (s) |\n|---|---|---|---|---|---|\n",
    );
    for p in phases {
        let f = p.fanout.as_ref().map_or(String::new(), |f| {
            format!(
                "{:.0} / {:.0} / {:.0} / {:.0} ({} pairs)",
                f.p50, f.p90, f.p99, f.max, f.count
            )
        });
        t.push_str(&format!(
            "| {} | {} | {:.1} | {:.0} | {} of {} | {} |\n",
            p.name,
            p.outcome,
            p.wall_seconds,
            p.modeled_seconds,
            p.pairs_applied,
            p.pairs_expected,
            f
        ));
    }
    t
}

/// The fleet's `report.md`: a row per hub, the failures with their time, the totals.
pub fn fleet_report(fleet: &FleetSummary) -> String {
    let s = &fleet.scenario;
    let mut t = format!(
        "# Fleet scale test: {}\n\n{}\n\nStatus **{}** (exit code {}), run {} (each hub's objects carry the run id of its row), {} hubs, {} clusters in all, {} SelectorSyncSets of {} ConfigMaps on every hub, {:.0}s wall.\n\n",
        s.name,
        s.description,
        fleet.status,
        fleet.exit_code,
        fleet.run_id,
        fleet.hubs.len(),
        fleet.fleet.clusters,
        s.selectorsyncsets,
        s.configmaps,
        fleet.wall_seconds
    );
    t.push_str("| hub | clusters | status | run id | pairs applied | drain (modeled s) | fan-out P50 / P90 / P99 / max (s) | teardown | details |\n|---|---|---|---|---|---|---|---|---|\n");
    for h in &fleet.hubs {
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
    let failed: Vec<&HubResult> = fleet.hubs.iter().filter(|h| h.failure.is_some()).collect();
    if !failed.is_empty() {
        t.push_str("\n## Failed hubs\n\n");
        for h in failed {
            if let Some(f) = &h.failure {
                t.push_str(&format!(
                    "- **{}** failed in {} at {} ({:.0}s into the run): {}\n",
                    h.name,
                    f.phase,
                    f.at_rfc3339,
                    f.at - fleet.started,
                    f.error
                ));
            }
        }
    }
    for h in fleet.hubs.iter().filter(|h| !h.phases.is_empty()) {
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
        t.push_str(&phase_table(&h.phases));
        t.push_str(&findings_lines(h.findings.as_ref()));
        t.push_str(&format!(
                "\nHive's metrics, charts and the API call latency SLO of this hub: [{}/report.md]({}/report.md).\n",
                h.dir, h.dir
            ));
    }
    let f = &fleet.fleet;
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

/// A hub's metrics findings in a few lines: each sync queue's peak and drain, and whether a
/// full re-apply fits Hive's interval.
pub(crate) fn findings_lines(findings: Option<&crate::metrics::report::ReportFindings>) -> String {
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
