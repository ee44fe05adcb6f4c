//! End-to-end: a recording in, the report's files out.

use super::*;
use crate::metrics::profile::Profile;
use crate::metrics::recorder::RecordLine;
use crate::metrics::snapshot::{QueryResult, Snapshot};
use crate::metrics::value::{QueryValue, Series};
use std::collections::BTreeMap;

/// The 2020 shape: a queue that climbs to 600 while being worked at 1.2/s, then drains; the
/// current pipeline's queue name.
fn write_recording(path: &Path, truncate_last: bool) {
    write_queue_recording(path, truncate_last, "clusterSync-controller");
}

/// A snapshot at `t` of every query of `profile`, each valued by `value_of(its name)`.
fn snapshot(profile: &Profile, t: f64, value_of: impl Fn(&str) -> QueryValue) -> Snapshot {
    Snapshot {
        t,
        source: "prometheus http://127.0.0.1:9091/".into(),
        profile: profile.name.clone(),
        time_scale: None,
        modeled: false,
        elapsed_ms: 1.0,
        results: profile
            .queries
            .iter()
            .map(|q| QueryResult::new(q, Ok(value_of(&q.name)), None))
            .collect(),
    }
}

/// The 2020 shape, with the queue (and its rate series) named `queue`.
fn write_queue_recording(path: &Path, truncate_last: bool, queue: &str) {
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
        let snap = snapshot(&profile, t, |name| match name {
            "workqueue_depth" => QueryValue::Vector {
                series: vec![Series {
                    labels: BTreeMap::from([("name".to_string(), queue.to_string())]),
                    value: depth,
                }],
            },
            "reconcile_rate" => QueryValue::Vector {
                series: vec![Series {
                    labels: BTreeMap::from([("controller".to_string(), queue.to_string())]),
                    value: if depth > 0.0 { 1.2 } else { 0.0 },
                }],
            },
            _ => QueryValue::Scalar { value: i as f64 },
        });
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
    assert_eq!((r.items, r.unit), (600.0, ReapplyUnit::Clusters));
    assert_eq!(r.pipeline, Some(crate::api::Pipeline::ClusterSync));
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
        serde_json::from_str(&std::fs::read_to_string(out.join(SUMMARY_FILE)).unwrap()).unwrap();
    assert_eq!(back.findings.queues[0].peak, 600.0);
    assert_eq!(back.queries.len(), s.queries.len());

    // 60,000 pairs at 1.2/s: the 2020 conclusion, on the 2020 pipeline's queue.
    write_queue_recording(&rec, false, "syncsetinstance-controller");
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
        md.contains("60,000 (set, cluster) pairs (given) at 1.20/s (queue `syncsetinstance-controller`) take 13.9 h"),
        "{md}"
    );
    assert!(md.contains("does NOT fit (6.9x too slow)"), "{md}");
    // The whole section, word for word as before the template: tools read these lines.
    let findings: String = md
        .lines()
        .skip_while(|l| *l != "## Findings")
        .take_while(|l| *l != "## Queries")
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        findings,
        "## Findings\n\n\
         - Queue `syncsetinstance-controller`: peak 600 items at 8.3 min; drained to 0 at 16.7 min, 8.3 min after the peak. Worked at 1.20/s on average while it had items, peak 1.20/s. At the peak, 600 at 1.20/s is 8.3 min.\n\
         - Full re-apply: 60,000 (set, cluster) pairs (given) at 1.20/s (queue `syncsetinstance-controller`) take 13.9 h; the re-apply interval is 2.0 h: it does NOT fit (6.9x too slow).\n\
         - `resources_applied_rate`: mean 50/s, peak 100/s at 16.7 min.\n\
         - `reconcile_rate`: mean 1.18/s, peak 1.20/s at 10 s.\n\
         - `sync_rate`: mean 50/s, peak 100/s at 16.7 min.\n\
         - `client_request_rate`: mean 50/s, peak 100/s at 16.7 min.\n\
         - `process_cpu`: mean 50 cores, peak 100 cores at 16.7 min.\n\
         - `sync_cores_busy`: mean 50 cores, peak 100 cores at 16.7 min.\n\
         \n"
    );
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
fn a_custom_template_writes_report_md_and_a_broken_one_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("run.jsonl");
    write_recording(&rec, false);
    let template = dir.path().join("short.md.tera");
    std::fs::write(
        &template,
        "{% for q in findings.queues %}{{ q.queue }} peaked at {{ q.peak | count }}\n{% endfor %}",
    )
    .unwrap();
    let out = dir.path().join("custom");
    let opts = ReportOptions {
        template: Some(template.clone()),
        ..Default::default()
    };
    write_report(&rec, &out, &opts).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join(REPORT_FILE)).unwrap(),
        "clusterSync-controller peaked at 600\n"
    );
    assert!(out.join(SUMMARY_FILE).exists() && !out.join("summary.json").exists());

    std::fs::write(&template, "{% for q in %}").unwrap();
    let broken = dir.path().join("broken");
    let e = write_report(&rec, &broken, &opts).unwrap_err();
    assert!(
        crate::error::chain(&e).starts_with(&format!("report template {}: ", template.display())),
        "{e}"
    );
    assert!(!broken.exists(), "nothing written");
}

/// Under clustersync one queue item is a cluster with all its sets: the same queue and rate
/// re-apply 300 clusters, not 300 x 60 pairs, and given pairs do not count there.
#[test]
fn a_clustersync_re_apply_counts_clusters_at_the_clustersync_queue_s_rate() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("run.jsonl");
    write_recording(&rec, false);
    let out = dir.path().join("report");
    let mut opts = ReportOptions::default();
    (opts.clusters, opts.pairs) = (Some(300), Some(300 * 60));
    let s = write_report(&rec, &out, &opts).unwrap();
    let r = s.findings.reapply.as_ref().unwrap();
    assert_eq!((r.items, r.unit), (300.0, ReapplyUnit::Clusters));
    assert_eq!(r.queue, "clusterSync-controller");
    assert!((r.seconds - 250.0).abs() < 1e-9, "300 at 1.2/s: {r:?}");
    assert_eq!((s.clusters, s.pairs), (Some(300), Some(18_000)));
    let md = std::fs::read_to_string(out.join(REPORT_FILE)).unwrap();
    assert!(
        md.contains("- Full re-apply: 300 clusters (one ClusterSync each, all its sets) (given) at 1.20/s (queue `clusterSync-controller`) take 4.2 min"),
        "{md}"
    );

    // Told it is the 2020 pipeline, the queue is that pipeline's: there is none here, so the
    // only queue recorded stands in (a profile without queue names), counted in pairs.
    opts.pipeline = Some(crate::api::Pipeline::SyncSetInstance);
    let s = write_report(&rec, &out, &opts).unwrap();
    let r = s.findings.reapply.unwrap();
    assert_eq!((r.items, r.unit), (18_000.0, ReapplyUnit::Pairs));
    assert!(!r.fits, "18,000 at 1.2/s is 4.2 h");

    // A summary written before the unit was recorded still reads, as pairs.
    let old = r#"{"pairs": 60000.0, "pairs_from": "given", "queue": "q", "rate": 1.2,
        "seconds": 50000.0, "interval_s": 7200.0, "fits": false}"#;
    let r: ReapplyFinding = serde_json::from_str(old).unwrap();
    assert_eq!(
        (r.items, r.unit, r.pipeline),
        (60_000.0, ReapplyUnit::Pairs, None)
    );
}

/// Two clustersync replicas, each given every cluster: their queues drain at every
/// reconcile's pace (3/s each, skips included), but they sync clusters at the pace of the
/// reconciles that did work (1/s and 0.5/s), which Hive labels with its own controller name.
#[test]
fn with_replicas_the_re_apply_runs_at_the_rate_of_work_not_of_skips() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("run.jsonl");
    let profile = Profile::builtin();
    assert_eq!(profile.findings.work_rate.as_deref(), Some("sync_rate"));
    let series = |pod: &str, label: (&str, &str), value: f64| Series {
        labels: BTreeMap::from([
            (label.0.to_string(), label.1.to_string()),
            ("pod".to_string(), pod.to_string()),
        ]),
        value,
    };
    let mut lines = vec![
        serde_json::to_string(&RecordLine::Start {
            t: 0.0,
            source: "prometheus http://p/".into(),
            interval_s: 10.0,
            profile: profile.clone(),
        })
        .unwrap(),
    ];
    for i in 0..=40 {
        let depth = if i <= 20 { i as f64 * 10.0 } else { 0.0 };
        let worked = if depth > 0.0 { 1.0 } else { 0.0 };
        let pods = ["hive-clustersync-0", "hive-clustersync-1"];
        let snap = snapshot(&profile, i as f64 * 10.0, |name| match name {
            "workqueue_depth" => QueryValue::Vector {
                series: pods
                    .iter()
                    .map(|p| series(p, ("name", "clusterSync-controller"), depth))
                    .collect(),
            },
            "reconcile_rate" => QueryValue::Vector {
                series: pods
                    .iter()
                    .map(|p| series(p, ("controller", "clusterSync-controller"), 3.0 * worked))
                    .collect(),
            },
            "sync_rate" => QueryValue::Vector {
                series: vec![
                    series(pods[0], ("controller", "clustersync"), worked),
                    series(pods[1], ("controller", "clustersync"), 0.5 * worked),
                ],
            },
            _ => QueryValue::Scalar { value: 0.0 },
        });
        lines.push(serde_json::to_string(&RecordLine::Snapshot(snap)).unwrap());
    }
    let text =
        lines.join("\n") + "\n" + r#"{"type":"stop","t":400.0,"snapshots":41,"errors":0}"# + "\n";
    std::fs::write(&rec, text).unwrap();
    let opts = ReportOptions {
        clusters: Some(300),
        ..Default::default()
    };
    let s = write_report(&rec, &dir.path().join("report"), &opts).unwrap();
    let f = &s.findings;
    let q = f
        .queues
        .iter()
        .find(|q| q.queue == "clusterSync-controller")
        .unwrap();
    assert_eq!(
        q.rate_mean,
        Some(6.0),
        "the queue moves at every reconcile's pace"
    );
    let r = f.reapply.as_ref().unwrap();
    assert_eq!(
        r.rate, 1.5,
        "clusters are synced at the pace of work: {r:?}"
    );
    assert!((r.seconds - 200.0).abs() < 1e-9, "{r:?}");
    assert_eq!(f.replicas.len(), 2);
    for (replica, (items, rate)) in f.replicas.iter().zip([(200.0, 1.0), (100.0, 0.5)]) {
        let re = replica.reapply.as_ref().unwrap();
        assert_eq!((re.items, re.rate), (items, rate), "{}", replica.replica);
        assert!(re.items_from.contains("the work it did"), "{re:?}");
    }
}
