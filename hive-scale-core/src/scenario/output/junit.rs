//! `junit.xml`: the run as JUnit XML, the one test-report format every CI system shows without a
//! plugin. One `<testsuite>` for the run; one `<testcase>` per phase of the scenario (failed,
//! timed-out and interrupted phases carry a `<failure>`, phases that never ran are `<skipped/>`),
//! one per threshold in the summary and one for teardown.
//!
//! Written from the [`Summary`] alone, so every threshold or section the summary gains shows up
//! here as soon as it lands in `summary.thresholds`.

use crate::scenario::fleet::FleetSummary;
use crate::scenario::runner::{Status, Summary, TeardownRecord};

/// One `<testsuite>`.
#[derive(Debug, Clone, PartialEq)]
struct Suite {
    name: String,
    seconds: f64,
    timestamp: Option<String>,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
}

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq)]
struct Case {
    class: String,
    name: String,
    seconds: f64,
    verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Passed,
    Failed { kind: String, message: String },
    Skipped(String),
}

impl Suite {
    fn failures(&self) -> usize {
        (self.cases.iter())
            .filter(|c| matches!(c.verdict, Verdict::Failed { .. }))
            .count()
    }

    fn skipped(&self) -> usize {
        (self.cases.iter())
            .filter(|c| matches!(c.verdict, Verdict::Skipped(_)))
            .count()
    }
}

/// The run's suite: its phases, thresholds and teardown, with the run's properties.
fn run_suite(summary: &Summary) -> Suite {
    let name = format!("scaletest {}", summary.scenario.name);
    let timestamp = jiff::Timestamp::from_nanosecond((summary.started * 1e9) as i128)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
        .ok();
    let properties = vec![
        ("run_id", summary.run_id.clone()),
        ("status", summary.status.to_string()),
        ("exit_code", summary.exit_code.to_string()),
        ("hub", summary.hub.clone()),
        (
            "pipeline",
            summary
                .pipeline
                .map_or_else(|| "unknown".to_string(), |p| p.to_string()),
        ),
        ("time_scale", summary.time_scale.to_string()),
        ("tool_version", summary.tool_version.clone()),
    ];
    Suite {
        cases: cases(summary, &name.replace(' ', ".")),
        name,
        seconds: summary.wall_seconds,
        timestamp,
        properties,
    }
}

/// Renders `summary` as a JUnit XML document: one suite, the run.
pub fn render(summary: &Summary) -> String {
    document("hive-scale", summary.wall_seconds, &[run_suite(summary)])
}

/// Renders a fleet as a JUnit XML document: each hub's run as its own suite, named after the
/// hub; for a hub whose run never ran (or still runs), a suite of one case saying so.
pub fn render_fleet(fleet: &FleetSummary) -> String {
    let suites: Vec<Suite> = (fleet.hubs.iter())
        .map(|h| match &h.summary {
            Some(s) => {
                let mut suite = run_suite(s);
                suite.name = format!("{}: {}", h.name, suite.name);
                suite
            }
            None => {
                let (name, verdict) = match &h.failure {
                    Some(f) => (
                        f.phase.clone(),
                        Verdict::Failed {
                            kind: f.phase.clone(),
                            message: f.error.clone(),
                        },
                    ),
                    None => ("run".into(), Verdict::Skipped("still running".into())),
                };
                Suite {
                    name: format!("{}: scaletest {}", h.name, fleet.scenario.name),
                    seconds: 0.0,
                    timestamp: None,
                    properties: Vec::new(),
                    cases: vec![Case {
                        class: format!("fleet.{}", h.name),
                        name,
                        seconds: 0.0,
                        verdict,
                    }],
                }
            }
        })
        .collect();
    document("hive-scale fleet", fleet.wall_seconds, &suites)
}

fn document(name: &str, seconds: f64, suites: &[Suite]) -> String {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(Suite::failures).sum();
    let skipped: usize = suites.iter().map(Suite::skipped).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{seconds:.3}\">\n",
        escape(name)
    ));
    for suite in suites {
        let timestamp =
            (suite.timestamp.as_ref()).map_or_else(String::new, |t| format!(" timestamp=\"{t}\""));
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\"{timestamp}>\n",
            escape(&suite.name),
            suite.cases.len(),
            suite.failures(),
            suite.skipped(),
            suite.seconds
        ));
        if !suite.properties.is_empty() {
            x.push_str("    <properties>\n");
            for (name, value) in &suite.properties {
                x.push_str(&format!(
                    "      <property name=\"{name}\" value=\"{}\"/>\n",
                    escape(value)
                ));
            }
            x.push_str("    </properties>\n");
        }
        for c in &suite.cases {
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(&c.class),
                escape(&c.name),
                c.seconds.max(0.0)
            );
            match &c.verdict {
                Verdict::Passed => x.push_str(&format!("{open}/>\n")),
                Verdict::Failed { kind, message } => x.push_str(&format!(
                    "{open}>\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(kind),
                    escape(message),
                    escape(message)
                )),
                Verdict::Skipped(why) => x.push_str(&format!(
                    "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    escape(why)
                )),
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// The cases of a run, classed under `class` (`scaletest.NAME`).
fn cases(s: &Summary, class: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for p in &s.phases {
        let verdict = if p.outcome.is_ok() {
            Verdict::Passed
        } else {
            Verdict::Failed {
                kind: p.outcome.kind().into(),
                message: p.outcome.to_string(),
            }
        };
        cases.push(Case {
            class: format!("{class}.phase"),
            name: p.name.clone(),
            seconds: p.wall_seconds,
            verdict,
        });
    }
    // Phases after a failed one never ran; while the run goes on they have not run yet.
    let why = if s.status == Status::Running {
        "not run yet".to_string()
    } else {
        format!("not run: the run ended {}", s.status)
    };
    for p in s.scenario.phases.iter().skip(s.phases.len()) {
        cases.push(Case {
            class: format!("{class}.phase"),
            name: p.name(),
            seconds: 0.0,
            verdict: Verdict::Skipped(why.clone()),
        });
    }
    for t in &s.thresholds {
        let verdict = if t.held {
            Verdict::Passed
        } else {
            Verdict::Failed {
                kind: "threshold".into(),
                message: format!(
                    "{} {} exceeds the limit {} (exit code {})",
                    t.kind,
                    number(t.value),
                    number(t.limit),
                    t.exit_code
                ),
            }
        };
        cases.push(Case {
            class: format!("{class}.threshold"),
            name: t.kind.to_string(),
            seconds: 0.0,
            verdict,
        });
    }
    let teardown = match &s.teardown {
        Some(TeardownRecord::Ran(t)) => {
            let problems = t.problems();
            let verdict = if problems.is_empty() && !t.timed_out {
                Verdict::Passed
            } else {
                let mut lines = vec![t.counts()];
                if t.timed_out {
                    lines.push("waiting for deletions timed out".into());
                }
                lines.extend(problems);
                Verdict::Failed {
                    kind: "teardown".into(),
                    message: lines.join("; "),
                }
            };
            Some((t.elapsed_seconds, verdict))
        }
        Some(TeardownRecord::Error { error }) => Some((
            0.0,
            Verdict::Failed {
                kind: "teardown".into(),
                message: format!("teardown could not run: {error}"),
            },
        )),
        // Still running: teardown comes later, leave it out rather than call it skipped.
        None if s.status == Status::Running => None,
        None => Some((
            0.0,
            Verdict::Skipped(if s.status == Status::Interrupted {
                "not run: interrupted".into()
            } else {
                "not run: --keep".into()
            }),
        )),
    };
    if let Some((seconds, verdict)) = teardown {
        cases.push(Case {
            class: format!("{class}.teardown"),
            name: "teardown".into(),
            seconds,
            verdict,
        });
    }
    cases
}

/// A number without noise: `0.001`, `12.5`, `300`.
fn number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.into()
    }
}

/// Escapes text for an XML attribute or element. Characters XML 1.0 cannot carry at all
/// (control characters other than tab and line breaks) become U+FFFD: a phase's error can quote
/// anything a server sent.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Attribute values normalize raw line breaks to spaces; character references keep them.
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use crate::scenario::runner::{PhaseRecord, ThresholdKind, ThresholdResult};

    fn summary() -> Summary {
        let scenario = Scenario::load("2020-adoption").unwrap().scaled(5, 2);
        Summary {
            status: Status::Running,
            exit_code: 0,
            run_id: "r1".into(),
            scenario,
            parameters: serde_json::Value::Null,
            tool_version: "0".into(),
            hub: "embedded <&>".into(),
            pipeline: Some(crate::api::Pipeline::ClusterSync),
            clustersync_replicas: None,
            prometheus: None,
            api_slo: None,
            changes: Vec::new(),
            ramp: None,
            signal: None,
            time_scale: 10.0,
            started: 1_700_000_000.0,
            wall_seconds: 3.0,
            phases: Vec::new(),
            fanout: Default::default(),
            fanout_from: Default::default(),
            fanout_samples: Vec::new(),
            fanout_buckets: None,
            thresholds: Vec::new(),
            errors: 0,
            requests: Default::default(),
            teardown: None,
            metrics: None,
            metrics_error: None,
        }
    }

    fn phase(name: &str, outcome: &str) -> PhaseRecord {
        PhaseRecord {
            name: name.into(),
            outcome: outcome.parse().unwrap(),
            wall_seconds: 1.5,
            modeled_seconds: 15.0,
            pairs_expected: 0,
            pairs_applied: 0,
            fanout: None,
            errors: 0,
        }
    }

    #[test]
    fn escaping_leaves_no_markup_and_no_control_characters() {
        assert_eq!(
            escape("a<b>&\"c\"'\n\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;&#10;\u{FFFD}"
        );
        assert_eq!(escape("Präsentation 🐝"), "Präsentation 🐝");
    }

    #[test]
    fn phases_that_never_ran_are_skipped_and_a_failed_one_carries_its_message() {
        let mut s = summary();
        let names: Vec<String> = s.scenario.phases.iter().map(|p| p.name()).collect();
        s.phases.push(phase(&names[0], "ok"));
        s.phases
            .push(phase(&names[1], "timeout: 3 of 10 pairs <left>"));
        s.status = Status::Timeout;
        let cases = cases(&s, "x");
        assert_eq!(cases.len(), names.len() + 1, "every phase and teardown");
        assert_eq!(cases[0].verdict, Verdict::Passed);
        assert_eq!(
            cases[1].verdict,
            Verdict::Failed {
                kind: "timeout".into(),
                message: "timeout: 3 of 10 pairs <left>".into()
            }
        );
        assert!(
            cases[2..names.len()]
                .iter()
                .all(|c| c.verdict == Verdict::Skipped("not run: the run ended timeout".into()))
        );
        let x = render(&s);
        assert!(
            x.contains("message=\"timeout: 3 of 10 pairs &lt;left&gt;\""),
            "{x}"
        );
        assert!(x.contains("value=\"embedded &lt;&amp;&gt;\""), "{x}");
        assert!(x.contains("timestamp=\"2023-11-14T22:13:20\""), "{x}");
    }

    #[test]
    fn thresholds_pass_or_fail_by_held() {
        let mut s = summary();
        s.status = Status::ThresholdsFailed;
        for (kind, held) in [
            (ThresholdKind::Drain, false),
            (ThresholdKind::Errors, true),
            (ThresholdKind::ApiSlo, false),
        ] {
            s.thresholds.push(ThresholdResult {
                kind,
                limit: 10.0,
                value: if held { 0.0 } else { 12.5 },
                held,
                exit_code: 5,
            });
        }
        let t: Vec<Case> = cases(&s, "x")
            .into_iter()
            .filter(|c| c.class == "x.threshold")
            .collect();
        assert_eq!(t.len(), 3);
        assert!(
            matches!(&t[0].verdict, Verdict::Failed { message, .. } if message == "drain 12.5 exceeds the limit 10 (exit code 5)"),
            "{t:?}"
        );
        assert_eq!(t[1].verdict, Verdict::Passed);
        assert_eq!(t[2].name, "api-slo");
    }
}
