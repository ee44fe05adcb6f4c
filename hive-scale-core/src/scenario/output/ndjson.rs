//! A run as newline-delimited JSON: one flat document per line, each carrying the run id, the
//! scenario and the run's labels, the shape performance dashboards (Elasticsearch, OpenSearch,
//! Loki, BigQuery) index without a mapping of their own.
//!
//! ```text
//! {"type":"summary","run_id":"r1","scenario":"2020-adoption","timestamp":"2024-05-01T10:00:00Z","labels":{"ci":"nightly"},"status":"passed",...}
//! {"type":"phase","run_id":"r1","scenario":"2020-adoption","timestamp":"...","labels":{...},"phase":"observe","phase_index":2,...}
//! {"type":"threshold","run_id":"r1",...,"threshold":"drain","limit":3600.0,"value":1200.0,"held":true}
//! {"type":"change","run_id":"r1",...,"set":"scaletest-3-configmap","generation":4,"clusters":1000,"reached":1000,"complete":true,"fanout_p99_seconds":41.0,...}
//! {"type":"sample","run_id":"r1",...,"metric":"workqueue_depth","labels":{"ci":"nightly","name":"clustersync"},"value":42.0,"unit":"items"}
//! ```
//!
//! Field names are lower_snake_case, times are RFC 3339 in UTC, durations are seconds in fields
//! ending `_seconds`. A sample's `labels` are the run's labels plus the series' own.

use crate::metrics::report::Recording;
use crate::scenario::runner::{Summary, drain_seconds};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Labels attached to every document of a run.
pub type Labels = BTreeMap<String, String>;

/// One line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Document {
    /// The run.
    Summary(SummaryDoc),
    /// One phase.
    Phase(PhaseDoc),
    /// One threshold.
    Threshold(ThresholdDoc),
    /// One change to a set and its fan-out.
    Change(ChangeDoc),
    /// One point of one series of the recording.
    Sample(SampleDoc),
}

/// What every document starts with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Common {
    /// The run id.
    pub run_id: String,
    /// The scenario's name.
    pub scenario: String,
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// The run's labels (a sample's also carry its series' labels).
    pub labels: Labels,
}

/// The run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryDoc {
    /// Run id, scenario, start time, labels.
    #[serde(flatten)]
    pub common: Common,
    /// How the run ended.
    pub status: String,
    /// Whether it passed.
    pub passed: bool,
    /// The process exit code.
    pub exit_code: u8,
    /// hive-scale's version.
    pub tool_version: String,
    /// The Hive pipeline.
    pub pipeline: String,
    /// The fewest clustersync replicas the hub can be running, when its ClusterSyncs said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clustersync_replicas: Option<u32>,
    /// Modeled seconds per real second.
    pub time_scale: f64,
    /// Clusters in the scenario.
    pub clusters: u32,
    /// SelectorSyncSets in the scenario.
    pub selectorsyncsets: u32,
    /// ConfigMaps per set.
    pub configmaps: u32,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// The longest observe phase, modeled seconds.
    pub drain_seconds: f64,
    /// Pairs applied by the end.
    pub pairs_applied: usize,
    /// Pairs whose fan-out was measured.
    pub fanout_count: usize,
    /// Fan-out P50, modeled seconds.
    pub fanout_p50_seconds: f64,
    /// Fan-out P90.
    pub fanout_p90_seconds: f64,
    /// Fan-out P99.
    pub fanout_p99_seconds: f64,
    /// Slowest fan-out.
    pub fanout_max_seconds: f64,
    /// Failed writes.
    pub errors: u64,
    /// Requests sent to the hub.
    pub requests: u64,
    /// Thresholds that did not hold, by kind.
    pub failed_thresholds: Vec<String>,
}

/// One phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseDoc {
    /// Run id, scenario, the phase's start, labels.
    #[serde(flatten)]
    pub common: Common,
    /// The phase's name.
    pub phase: String,
    /// Its position in the scenario, from 0.
    pub phase_index: usize,
    /// `ok` or what went wrong.
    pub outcome: String,
    /// Whether it completed.
    pub passed: bool,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// Modeled seconds.
    pub modeled_seconds: f64,
    /// Pairs expected at its end.
    pub pairs_expected: usize,
    /// Pairs applied at its end.
    pub pairs_applied: usize,
    /// Failed writes during it.
    pub errors: u64,
    /// Pairs whose fan-out it measured (observe phases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout_count: Option<usize>,
    /// Their fan-out P50, modeled seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout_p50_seconds: Option<f64>,
    /// P90.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout_p90_seconds: Option<f64>,
    /// P99.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout_p99_seconds: Option<f64>,
    /// Slowest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout_max_seconds: Option<f64>,
}

/// One threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdDoc {
    /// Run id, scenario, the run's end, labels.
    #[serde(flatten)]
    pub common: Common,
    /// Its kind (`drain`, `p99-fanout`, `errors`...).
    pub threshold: String,
    /// The limit.
    pub limit: f64,
    /// The measured value.
    pub value: f64,
    /// Whether it held.
    pub held: bool,
}

/// One change to a set (add-resource, churn) and how it reached the clusters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeDoc {
    /// Run id, scenario, when the change was written, labels.
    #[serde(flatten)]
    pub common: Common,
    /// The phase that made it.
    pub phase: String,
    /// The SelectorSyncSet changed.
    pub set: String,
    /// Its generation after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Clusters that held the set.
    pub clusters: usize,
    /// Clusters seen to apply the change.
    pub reached: usize,
    /// Whether every one did.
    pub complete: bool,
    /// Fan-out P50, modeled seconds after the change.
    pub fanout_p50_seconds: f64,
    /// P90.
    pub fanout_p90_seconds: f64,
    /// P99.
    pub fanout_p99_seconds: f64,
    /// Slowest.
    pub fanout_max_seconds: f64,
}

/// One point of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleDoc {
    /// Run id, scenario, the snapshot's time, the run's and the series' labels.
    #[serde(flatten)]
    pub common: Common,
    /// The profile query's name.
    pub metric: String,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// Whether it is in modeled units (per modeled second).
    pub modeled: bool,
    /// The phase running when it was taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

pub use crate::time::rfc3339;

/// The summary, phase, threshold and change documents of a run. Phases start when the recording marked
/// them, or (without a recording) when the phases before them ended.
pub fn run_documents(
    summary: &Summary,
    recording: Option<&Recording>,
    labels: &Labels,
) -> Vec<Document> {
    let common = |t: f64| Common {
        run_id: summary.run_id.clone(),
        scenario: summary.scenario.name.clone(),
        timestamp: rfc3339(t),
        labels: labels.clone(),
    };
    let f = &summary.fanout;
    let mut docs = vec![Document::Summary(SummaryDoc {
        common: common(summary.started),
        status: summary.status.to_string(),
        passed: summary.status == crate::scenario::runner::Status::Passed,
        exit_code: summary.exit_code,
        tool_version: summary.tool_version.clone(),
        pipeline: summary
            .pipeline
            .map_or_else(|| "unknown".to_string(), |p| p.to_string()),
        clustersync_replicas: summary.clustersync_replicas,
        time_scale: summary.time_scale,
        clusters: summary.scenario.clusters,
        selectorsyncsets: summary.scenario.selectorsyncsets,
        configmaps: summary.scenario.configmaps,
        wall_seconds: summary.wall_seconds,
        drain_seconds: drain_seconds(&summary.phases),
        pairs_applied: summary.phases.last().map(|p| p.pairs_applied).unwrap_or(0),
        fanout_count: f.count,
        fanout_p50_seconds: f.p50,
        fanout_p90_seconds: f.p90,
        fanout_p99_seconds: f.p99,
        fanout_max_seconds: f.max,
        errors: summary.errors,
        requests: summary.requests.requests,
        failed_thresholds: (summary.thresholds.iter())
            .filter(|t| !t.held)
            .map(|t| t.kind.to_string())
            .collect(),
    })];
    let marks: Option<Vec<f64>> = recording
        .filter(|r| {
            r.phases.len() >= summary.phases.len()
                && r.phases
                    .iter()
                    .zip(&summary.phases)
                    .all(|(m, p)| m.name == p.name)
        })
        .map(|r| r.phases.iter().map(|m| m.t).collect());
    let mut start = summary.started;
    for (i, p) in summary.phases.iter().enumerate() {
        let at = marks.as_ref().map(|m| m[i]).unwrap_or(start);
        start += p.wall_seconds;
        let pf = p.fanout.as_ref();
        docs.push(Document::Phase(PhaseDoc {
            common: common(at),
            phase: p.name.clone(),
            phase_index: i,
            outcome: p.outcome.to_string(),
            passed: p.outcome.is_ok(),
            wall_seconds: p.wall_seconds,
            modeled_seconds: p.modeled_seconds,
            pairs_expected: p.pairs_expected,
            pairs_applied: p.pairs_applied,
            errors: p.errors,
            fanout_count: pf.map(|f| f.count),
            fanout_p50_seconds: pf.map(|f| f.p50),
            fanout_p90_seconds: pf.map(|f| f.p90),
            fanout_p99_seconds: pf.map(|f| f.p99),
            fanout_max_seconds: pf.map(|f| f.max),
        }));
    }
    for t in &summary.thresholds {
        docs.push(Document::Threshold(ThresholdDoc {
            common: common(summary.started + summary.wall_seconds),
            threshold: t.kind.to_string(),
            limit: t.limit,
            value: t.value,
            held: t.held,
        }));
    }
    for c in &summary.changes {
        docs.push(Document::Change(ChangeDoc {
            common: common(c.at),
            phase: c.phase.clone(),
            set: c.set.clone(),
            generation: c.generation,
            clusters: c.clusters,
            reached: c.reached,
            complete: c.complete(),
            fanout_p50_seconds: c.fanout.p50,
            fanout_p90_seconds: c.fanout.p90,
            fanout_p99_seconds: c.fanout.p99,
            fanout_max_seconds: c.fanout.max,
        }));
    }
    docs
}

/// One sample document per series per snapshot of `recording`, values that are not numbers
/// (NaN, infinities: JSON has no word for them) left out.
pub fn sample_documents(
    recording: &Recording,
    run_id: &str,
    scenario: &str,
    labels: &Labels,
) -> Vec<Document> {
    let mut docs = Vec::new();
    for s in &recording.snapshots {
        let phase = recording
            .phases
            .iter()
            .take_while(|m| m.t <= s.t)
            .last()
            .map(|m| m.name.clone());
        for r in &s.results {
            let Some(value) = r.value() else { continue };
            for (series, v) in value.values() {
                if !v.is_finite() {
                    continue;
                }
                let mut all = labels.clone();
                all.extend(series.into_iter().filter(|(k, _)| k != "__name__"));
                docs.push(Document::Sample(SampleDoc {
                    common: Common {
                        run_id: run_id.into(),
                        scenario: scenario.into(),
                        timestamp: rfc3339(s.t),
                        labels: all,
                    },
                    metric: r.name.clone(),
                    value: v,
                    unit: r.unit.clone(),
                    modeled: r.converted || s.modeled,
                    phase: phase.clone(),
                }));
            }
        }
    }
    docs
}

/// The documents as NDJSON: one compact JSON object per line, each line ending in `\n`.
pub fn to_ndjson(docs: &[Document]) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for d in docs {
        out.push_str(&serde_json::to_string(d)?);
        out.push('\n');
    }
    Ok(out)
}

/// Writes the documents to `path` atomically (a reader never sees half a file).
pub fn write(path: &Path, docs: &[Document]) -> std::io::Result<()> {
    let text = to_ndjson(docs).map_err(std::io::Error::other)?;
    crate::files::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Kind;
    use crate::metrics::report::PhaseMark;
    use crate::metrics::snapshot::{QueryOutcome, QueryResult, Snapshot};
    use crate::metrics::value::{QueryValue, Series};
    use crate::scenario::Scenario;
    use crate::scenario::runner::{PhaseOutcome, ThresholdKind};
    use crate::scenario::runner::{PhaseRecord, Status, ThresholdResult};

    fn summary() -> Summary {
        Summary {
            status: Status::ThresholdsFailed,
            exit_code: 5,
            run_id: "r1".into(),
            scenario: Scenario::load("2020-adoption").unwrap().scaled(5, 2),
            parameters: serde_json::Value::Null,
            tool_version: "0".into(),
            hub: "embedded".into(),
            pipeline: Some(crate::api::Pipeline::SyncSetInstance),
            clustersync_replicas: None,
            prometheus: None,
            api_slo: None,
            changes: Vec::new(),
            ramp: None,
            signal: None,
            time_scale: 10.0,
            started: 1_700_000_000.0,
            wall_seconds: 4.0,
            phases: vec![
                PhaseRecord {
                    name: "adopt 1..=5".into(),
                    outcome: PhaseOutcome::Ok,
                    wall_seconds: 1.0,
                    modeled_seconds: 10.0,
                    pairs_expected: 10,
                    pairs_applied: 0,
                    fanout: None,
                    errors: 0,
                },
                PhaseRecord {
                    name: "observe".into(),
                    outcome: PhaseOutcome::Ok,
                    wall_seconds: 2.5,
                    modeled_seconds: 25.0,
                    pairs_expected: 10,
                    pairs_applied: 10,
                    fanout: Some(crate::scenario::progress::Percentiles::of(&[1.0, 2.0])),
                    errors: 0,
                },
            ],
            fanout: crate::scenario::progress::Percentiles::of(&[1.0, 2.0]),
            fanout_from: Default::default(),
            fanout_samples: Vec::new(),
            fanout_buckets: None,
            thresholds: vec![ThresholdResult {
                kind: ThresholdKind::Drain,
                limit: 1.0,
                value: 25.0,
                held: false,
                exit_code: 5,
            }],
            errors: 0,
            requests: Default::default(),
            teardown: None,
            metrics: None,
            metrics_error: None,
        }
    }

    fn recording() -> Recording {
        let snap = |t: f64, v: f64| Snapshot {
            t,
            source: "scrape".into(),
            profile: "default".into(),
            time_scale: Some(10.0),
            modeled: true,
            elapsed_ms: 1.0,
            results: vec![
                QueryResult {
                    name: "workqueue_depth".into(),
                    kind: Kind::Gauge,
                    unit: "items".into(),
                    converted: false,
                    outcome: QueryOutcome::Ok {
                        value: QueryValue::Vector {
                            series: vec![
                                Series {
                                    labels: BTreeMap::from([("name".into(), "q".into())]),
                                    value: v,
                                },
                                Series {
                                    labels: BTreeMap::new(),
                                    value: f64::NAN,
                                },
                            ],
                        },
                    },
                },
                QueryResult {
                    name: "reconcile_rate".into(),
                    kind: Kind::Rate,
                    unit: "1/s".into(),
                    converted: true,
                    outcome: QueryOutcome::Error {
                        error: "down".into(),
                    },
                },
            ],
        };
        Recording {
            path: "recording.jsonl".into(),
            start: None,
            snapshots: vec![snap(1_700_000_000.5, 3.0), snap(1_700_000_002.0, 0.0)],
            phases: vec![
                PhaseMark {
                    name: "adopt 1..=5".into(),
                    t: 1_700_000_000.25,
                    at_s: 0.0,
                },
                PhaseMark {
                    name: "observe".into(),
                    t: 1_700_000_001.5,
                    at_s: 0.0,
                },
            ],
            errors: Vec::new(),
            stopped: true,
            skipped_lines: 0,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn every_line_is_a_flat_document_with_the_run_id() {
        let labels = Labels::from([("ci".to_string(), "nightly".to_string())]);
        let rec = recording();
        let mut docs = run_documents(&summary(), Some(&rec), &labels);
        docs.extend(sample_documents(&rec, "r1", "2020-adoption", &labels));
        let text = to_ndjson(&docs).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        // One summary, two phases, one threshold, one number per snapshot (NaN and the failed
        // query left out).
        assert_eq!(
            types,
            ["summary", "phase", "phase", "threshold", "sample", "sample"]
        );
        for l in &lines {
            assert_eq!(l["run_id"], "r1");
            assert_eq!(l["scenario"], "2020-adoption");
            assert_eq!(l["labels"]["ci"], "nightly");
            assert!(
                jiff::Timestamp::from_str(l["timestamp"].as_str().unwrap()).is_ok(),
                "{l}"
            );
        }
        assert_eq!(lines[0]["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(lines[0]["failed_thresholds"][0], "drain");
        assert_eq!(lines[0]["passed"], false);
        assert_eq!(lines[0]["drain_seconds"], 25.0);
        // Phases start at the recording's marks.
        assert_eq!(lines[2]["timestamp"], "2023-11-14T22:13:21.5Z");
        assert_eq!(lines[2]["fanout_count"], 2);
        assert!(lines[1].get("fanout_count").is_none());
        assert_eq!(lines[4]["metric"], "workqueue_depth");
        assert_eq!(lines[4]["labels"]["name"], "q");
        assert_eq!(lines[4]["value"], 3.0);
        assert_eq!(lines[4]["phase"], "adopt 1..=5");
        assert_eq!(lines[5]["phase"], "observe");
        assert!(text.ends_with('\n') && !text.contains("\n\n"));
    }

    #[test]
    fn without_a_recording_phases_start_when_the_ones_before_ended() {
        let docs = run_documents(&summary(), None, &Labels::new());
        let Document::Phase(p) = &docs[2] else {
            panic!("{docs:?}")
        };
        assert_eq!(p.common.timestamp, "2023-11-14T22:13:21Z");
    }

    use std::str::FromStr;
}
