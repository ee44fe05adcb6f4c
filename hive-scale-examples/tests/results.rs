//! What CI and people read from a run: junit.xml beside summary.json, the NDJSON documents, and
//! `hive-scale compare` over two result directories.

mod common;

use common::{Run, run_with_env};
use std::path::Path;

/// A tiny scaletest (5 clusters, 2 sets of 2 ConfigMaps) at `time_scale` into `out`, with
/// extra flags.
async fn tiny(out: &Path, time_scale: &str, extra: &[&str]) -> Run {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "--clusters",
        "5",
        "--selectorsyncsets",
        "2",
        "--configmaps",
        "2",
        "--time-scale",
        time_scale,
        "--interval",
        "0.2",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    run_with_env("scaletest", &args, &[]).await
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `(tests, failures, skipped)` of the one testsuite, checked against its testcases, and the
/// failing testcases as `(name, message)`.
fn junit(path: &Path) -> ((usize, usize, usize), Vec<(String, String)>) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "{text}");
    let suite = suites[0];
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let attr = |name: &str| suite.attribute(name).unwrap().parse::<usize>().unwrap();
    let counts = (attr("tests"), attr("failures"), attr("skipped"));
    let failed: Vec<(String, String)> = cases
        .iter()
        .filter_map(|c| {
            let f = c.children().find(|n| n.has_tag_name("failure"))?;
            Some((
                c.attribute("name").unwrap().to_string(),
                f.attribute("message").unwrap().to_string(),
            ))
        })
        .collect();
    let skipped = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("skipped")))
        .count();
    assert_eq!(counts, (cases.len(), failed.len(), skipped), "{text}");
    for c in &cases {
        let t: f64 = c.attribute("time").unwrap().parse().unwrap();
        assert!(t >= 0.0, "{text}");
    }
    (counts, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_ndjson_and_compare_from_real_runs() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok");
    let nd = dir.path().join("docs/run.ndjson");
    // Slow enough (observe takes a few wall seconds) for the recording to hold snapshots
    // within each phase.
    let r = tiny(
        &ok,
        "2",
        &[
            "--max-errors",
            "0",
            "--run",
            "results-ok",
            "--ndjson",
            nd.to_str().unwrap(),
            "--ndjson-label",
            "ci=nightly",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // junit.xml: three phases, the errors and API latency SLO thresholds and teardown, all
    // passing.
    let ((tests, failures, skipped), _) = junit(&ok.join("junit.xml"));
    assert_eq!((tests, failures, skipped), (6, 0, 0));

    // NDJSON: every line a JSON object of this run; the summary first, then phases, the
    // threshold, and the recording's samples.
    let text = std::fs::read_to_string(&nd).unwrap();
    let docs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for d in &docs {
        assert_eq!(d["run_id"], "results-ok", "{d}");
        assert_eq!(d["labels"]["ci"], "nightly", "{d}");
        assert!(d["timestamp"].as_str().unwrap().ends_with('Z'), "{d}");
    }
    let count = |t: &str| docs.iter().filter(|d| d["type"] == t).count();
    assert_eq!(docs[0]["type"], "summary");
    assert_eq!(docs[0]["status"], "passed");
    assert_eq!(docs[0]["pairs_applied"], 10);
    assert_eq!(
        (count("summary"), count("phase"), count("threshold")),
        (1, 3, 2)
    );
    assert!(count("sample") > 0, "{text}");
    assert!(
        r.stdout
            .contains(&format!("wrote {} NDJSON documents", docs.len())),
        "{}",
        r.stdout
    );

    // A drain threshold nobody meets: exit 5, and junit.xml names the failure.
    let slow = dir.path().join("slow");
    let r = tiny(&slow, "100", &["--max-drain", "0.001"]).await;
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let ((tests, failures, _), failed) = junit(&slow.join("junit.xml"));
    assert_eq!((tests, failures), (6, 1));
    assert_eq!(failed[0].0, "drain");
    assert!(
        failed[0].1.starts_with("drain ") && failed[0].1.contains("exceeds the limit 0.001"),
        "{failed:?}"
    );

    // compare: a copy of the passing run with twice the drain and fan-out.
    let worse = dir.path().join("worse");
    std::fs::create_dir(&worse).unwrap();
    let mut s = json(&ok.join("summary.json"));
    for p in s["phases"].as_array_mut().unwrap() {
        let m = p["modeled_seconds"].as_f64().unwrap();
        p["modeled_seconds"] = (m * 2.0).into();
    }
    let p99 = s["fanout"]["p99"].as_f64().unwrap();
    s["fanout"]["p99"] = (p99 * 2.0 + 1.0).into();
    std::fs::write(worse.join("summary.json"), s.to_string()).unwrap();
    let bin = env!("CARGO_BIN_EXE_hive-scale");
    let compare = |args: &[&str]| {
        let o = std::process::Command::new(bin)
            .arg("compare")
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8(o.stdout).unwrap(),
            stderr: String::from_utf8(o.stderr).unwrap(),
        }
    };
    let (a, b) = (ok.to_str().unwrap(), worse.to_str().unwrap());
    let r = compare(&[a, b, "--fail-on", "drain:10%", "--fail-on", "errors:0%"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("drain (s)"), "{}", r.stdout);
    assert!(r.stdout.contains("+100.0%  worse"), "{}", r.stdout);
    assert!(r.stdout.contains("phase observe"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("gate drain at most 10% worse: 100.0% worse: REGRESSED"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("gate errors at most 0% worse: 0.0% worse: held"),
        "{}",
        r.stdout
    );
    // A generous limit, and the same run twice, pass.
    assert_eq!(compare(&[a, b, "--max-regression", "drain=150"]).code, 0);
    let r = compare(&[a, a, "--fail-on", "p99-fanout:0%", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["a"]["run_id"], "results-ok");
    assert_eq!(j["gates"][0]["outcome"], "held");
    let drain = j["run"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "drain")
        .unwrap();
    assert_eq!(drain["movement"], "same");
    assert!(
        j["run"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["metric"] == "peak-queue"),
        "{}",
        j["run"]
    );
    // Per-phase queue depths come from the recording of the real run.
    let observe = j["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "observe")
        .unwrap();
    assert!(
        observe["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["metric"] == "peak-queue"),
        "{observe}"
    );
    // Without the metrics section in B's summary (and no metrics-summary.json beside it), a
    // queue gate cannot be checked.
    let mut bare = json(&worse.join("summary.json"));
    bare.as_object_mut().unwrap().remove("metrics");
    std::fs::write(worse.join("summary.json"), bare.to_string()).unwrap();
    let r = compare(&[a, b, "--fail-on", "peak-queue:10%"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);

    // Bad input: one error line, exit 2.
    let missing = dir.path().join("missing");
    for (args, says) in [
        (
            vec![a, missing.to_str().unwrap()],
            "missing: no such directory",
        ),
        (
            vec![a, dir.path().join("docs").to_str().unwrap()],
            "not a scaletest result directory",
        ),
        (vec![a, b, "--fail-on", "p99-fanuot:10%"], "unknown metric"),
        (vec![a, b, "--fail-on", "drain"], "invalid gate"),
    ] {
        let r = compare(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.one_error_line().contains(says), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
    std::fs::write(worse.join("summary.json"), "{not json").unwrap();
    let r = compare(&[a, b]);
    assert_eq!(r.code, 2);
    assert!(
        r.one_error_line().contains("not a scaletest summary"),
        "{}",
        r.stderr
    );
}

/// `report --ndjson` turns a recording alone into sample documents, with the run id of the
/// summary beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_writes_samples_for_an_existing_recording() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = tiny(&run, "100", &["--run", "results-report"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let nd = dir.path().join("samples.ndjson");
    let r = run_with_env(
        "report",
        &[
            run.join("recording.jsonl").to_str().unwrap(),
            "--out",
            dir.path().join("report").to_str().unwrap(),
            "--ndjson",
            nd.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let text = std::fs::read_to_string(&nd).unwrap();
    assert!(text.lines().count() > 0);
    for l in text.lines() {
        let d: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(d["type"], "sample");
        assert_eq!(d["run_id"], "results-report");
        assert_eq!(d["scenario"], "2020-adoption");
        assert!(d["value"].is_number(), "{d}");
    }
    // Labels without --ndjson are a usage error.
    let r = run_with_env(
        "report",
        &["x.jsonl", "--out", "y", "--ndjson-label", "a=b"],
        &[],
    )
    .await;
    assert_eq!(r.code, 2);
    r.one_error_line();
}
