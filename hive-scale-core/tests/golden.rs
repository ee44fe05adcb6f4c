//! Every artefact of a run, rendered again from what the run recorded, is what the run wrote:
//! `summary.json`, `junit.xml`, `report.md`, `metrics-summary.json` and the NDJSON documents of
//! a scale test (tests/golden/run: a real run of 6 clusters and 2 sets on the embedded hub), and
//! the fleet's `summary.json`, `junit.xml` and `report.md` (tests/golden/fleet: two hubs). The
//! output layer may be rewritten; what it writes for the same run may not change.

use hive_scale_core::scenario::fleet::FleetSummary;
use hive_scale_core::scenario::output::{Finish, ResultDir};
use hive_scale_core::scenario::runner::Summary;
use std::path::{Path, PathBuf};

fn golden(part: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(part)
}

/// `file` as written now, in `dir`, equals the golden one; `path` is replaced in both by the
/// word RECORDING (the report names the recording it read, wherever it was).
fn same(dir: &Path, file: &str, gold: &Path, recording: Option<&Path>) {
    let normal = |text: String, at: &Path| match recording {
        Some(_) => text.replace(
            &at.join("recording.jsonl").display().to_string(),
            "RECORDING",
        ),
        None => text,
    };
    let now = normal(std::fs::read_to_string(dir.join(file)).unwrap(), dir)
        .replace("/tmp/gold/run/recording.jsonl", "RECORDING");
    if std::env::var_os("HIVE_SCALE_GOLDEN_UPDATE").is_some() {
        // Only when an artefact is meant to change: review the diff of tests/golden.
        std::fs::write(
            gold.join(file),
            now.replace("RECORDING", "/tmp/gold/run/recording.jsonl"),
        )
        .unwrap();
    }
    let then = std::fs::read_to_string(gold.join(file)).unwrap();
    // The run's own directory, where the golden files were first written.
    let then = then.replace("/tmp/gold/run/recording.jsonl", "RECORDING");
    if now != then {
        let line = now
            .lines()
            .zip(then.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(now.lines().count().min(then.lines().count()));
        panic!(
            "{file} changed at line {}:\nnow:  {:?}\nthen: {:?}",
            line + 1,
            now.lines().nth(line),
            then.lines().nth(line)
        );
    }
}

#[test]
fn a_runs_artefacts_are_what_it_wrote() {
    let gold = golden("run");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    std::fs::copy(gold.join("recording.jsonl"), out.join("recording.jsonl")).unwrap();
    let summary: Summary =
        serde_json::from_slice(&std::fs::read(gold.join("summary.json")).unwrap()).unwrap();
    let mut how = Finish::default();
    let labels = [("ci".to_string(), "golden".to_string())].into();
    how.ndjson = Some((out.join("run.ndjson"), labels));
    ResultDir::new(out).finish(&summary, &how).unwrap();
    for file in [
        "summary.json",
        "junit.xml",
        "report.md",
        "metrics-summary.json",
        "run.ndjson",
    ] {
        same(out, file, &gold, Some(out));
    }
}

#[test]
fn a_fleets_artefacts_are_what_it_wrote() {
    let gold = golden("fleet");
    let fleet = FleetSummary::load(&gold).unwrap();
    let dir = tempfile::tempdir().unwrap();
    ResultDir::new(dir.path())
        .finish_fleet(&fleet, None)
        .unwrap();
    for file in ["summary.json", "junit.xml", "report.md"] {
        same(dir.path(), file, &gold, None);
    }
}

/// `--template` replaces every section of report.md: the metrics', the scale test's, the
/// fleet's all come from the one template given.
#[test]
fn a_replaced_template_renders_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("mine.tera");
    std::fs::write(
        &template,
        "{% if metrics %}metrics of {{ snapshots }} snapshots{% else %}no metrics: {{ no_metrics }}{% endif %}\n\
         {% if scaletest %}run {{ scaletest.run_id }} {{ scaletest.status }}{% endif %}\n\
         {% if fleet %}fleet of {{ fleet.hubs }} hubs{% endif %}\n",
    )
    .unwrap();
    let gold = golden("run");
    let out = dir.path().join("run");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::copy(gold.join("recording.jsonl"), out.join("recording.jsonl")).unwrap();
    let summary: Summary =
        serde_json::from_slice(&std::fs::read(gold.join("summary.json")).unwrap()).unwrap();
    let mut how = Finish::default();
    how.template = Some(template.clone());
    ResultDir::new(&out).finish(&summary, &how).unwrap();
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.starts_with("metrics of "), "{report}");
    assert!(
        report.contains(&format!("run {} passed", summary.run_id)),
        "{report}"
    );
    // Without a recording, the same template says why there are no metrics.
    std::fs::remove_file(out.join("recording.jsonl")).unwrap();
    ResultDir::new(&out).finish(&summary, &how).unwrap();
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.starts_with("no metrics: "), "{report}");
    let fleet = FleetSummary::load(&golden("fleet")).unwrap();
    let fleet_out = dir.path().join("fleet");
    ResultDir::new(&fleet_out)
        .finish_fleet(&fleet, Some(&template))
        .unwrap();
    let report = std::fs::read_to_string(fleet_out.join("report.md")).unwrap();
    assert!(report.contains("fleet of 2 hubs"), "{report}");
    // A template that fails is one error naming it.
    std::fs::write(&template, "{{ nothing.here }}").unwrap();
    let e = ResultDir::new(&out).finish(&summary, &how).unwrap_err();
    assert!(
        hive_scale_core::error::chain(&e).contains("mine.tera"),
        "{}",
        hive_scale_core::error::chain(&e)
    );
}
