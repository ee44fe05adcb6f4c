//! Reading a recording back. The recorder writes each line whole and flushed, so the only damage
//! a crash or kill can do is cut the last line short, possibly inside a multi-byte character:
//! that line is skipped with a warning. Damage anywhere else means the file is not what the
//! recorder wrote, and is an error (bad UTF-8) or a skipped line with a warning (not JSON).

use super::super::MetricsError;
use super::super::profile::Profile;
use super::super::recorder::RecordLine;
use super::super::snapshot::Snapshot;
use super::summary::PhaseMark;
use std::path::{Path, PathBuf};

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

/// Reads a recording. A broken last line (the recorder died mid-write, even inside a
/// multi-byte character) is skipped with a warning, as is a line that is not a recording line;
/// invalid UTF-8 before the last line, or a file with no snapshot at all, is an error.
pub fn read_recording(path: &Path) -> Result<Recording, MetricsError> {
    let bytes = std::fs::read(path).map_err(|e| MetricsError::io(path, e))?;
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.trim_ascii().is_empty())
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
    let skip = |rec: &mut Recording, i: usize, why: &dyn std::fmt::Display| {
        rec.skipped_lines += 1;
        let w = if Some(i) == last {
            format!(
                "line {}: cut short (the recorder stopped mid-write?), skipped: {why}",
                i + 1
            )
        } else {
            format!("line {}: not a recording line, skipped: {why}", i + 1)
        };
        tracing::warn!(file = %path.display(), "{w}");
        rec.warnings.push(w);
    };
    for &(i, raw) in &lines {
        let line = match std::str::from_utf8(raw) {
            Ok(l) => l,
            Err(e) if Some(i) == last => {
                skip(&mut rec, i, &e);
                continue;
            }
            Err(e) => {
                return Err(MetricsError::Recording {
                    path: path.to_path_buf(),
                    reason: format!("line {} is not UTF-8", i + 1),
                    source: Some(e),
                });
            }
        };
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
            Err(e) => skip(&mut rec, i, &e),
        }
    }
    if rec.snapshots.is_empty() {
        return Err(MetricsError::Recording {
            path: path.to_path_buf(),
            reason: "no snapshot in it".into(),
            source: None,
        });
    }
    rec.phases.sort_by(|a, b| a.t.total_cmp(&b.t));
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::QueryResult;
    use crate::metrics::value::{QueryValue, Series};
    use std::collections::BTreeMap;

    /// A start line, a phase named with an umlaut, and three snapshots whose series carry an
    /// emoji label value: every line holds multi-byte characters.
    fn recording() -> String {
        let profile = Profile::builtin();
        let snapshot = |t: f64| {
            let q = profile.get("workqueue_depth").unwrap();
            let value = QueryValue::Vector {
                series: vec![Series {
                    labels: BTreeMap::from([("name".to_string(), "queue-🐝".to_string())]),
                    value: t,
                }],
            };
            RecordLine::Snapshot(Snapshot {
                t,
                source: "scrape http://127.0.0.1:1/metrics".into(),
                profile: "default".into(),
                time_scale: None,
                modeled: false,
                elapsed_ms: 1.0,
                results: vec![QueryResult::new(q, Ok(value), None)],
            })
        };
        let lines = [
            RecordLine::Start {
                t: 1.0,
                source: "scrape http://127.0.0.1:1/metrics".into(),
                interval_s: 1.0,
                profile: profile.clone(),
            },
            RecordLine::Phase {
                name: "Präsentation".into(),
                t: 1.0,
            },
            snapshot(1.0),
            snapshot(2.0),
            snapshot(3.0),
        ];
        lines
            .iter()
            .map(|l| serde_json::to_string(l).unwrap() + "\n")
            .collect()
    }

    /// Byte offsets inside a multi-byte character of `needle`'s last occurrence.
    fn inside(text: &str, needle: &str) -> usize {
        let at = text.rfind(needle).unwrap();
        let c = needle
            .char_indices()
            .find(|(_, c)| c.len_utf8() > 1)
            .unwrap();
        at + c.0 + 1
    }

    #[test]
    fn a_last_line_cut_inside_a_multi_byte_character_is_skipped_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let text = recording();
        let cut = inside(&text, "queue-🐝");
        assert!(!text.is_char_boundary(cut));
        std::fs::write(&path, &text.as_bytes()[..cut]).unwrap();
        let r = read_recording(&path).unwrap();
        assert_eq!(r.snapshots.len(), 2, "the cut snapshot is dropped");
        assert_eq!(r.skipped_lines, 1);
        assert!(
            r.warnings[0].starts_with("line 5: cut short"),
            "{:?}",
            r.warnings
        );
        assert_eq!(r.phases[0].name, "Präsentation");
        assert!(!r.stopped);
    }

    #[test]
    fn bad_utf8_before_the_last_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let text = recording();
        let cut = inside(&text, "Präsentation");
        let mut bytes = text.as_bytes().to_vec();
        // The phase line loses the second byte of its 'ä': still two lines after it.
        bytes.remove(cut);
        std::fs::write(&path, &bytes).unwrap();
        let e = read_recording(&path).unwrap_err();
        assert_eq!(
            crate::error::chain(&e),
            format!(
                "recording {}: line 2 is not UTF-8: {}",
                path.display(),
                std::error::Error::source(&e).unwrap()
            )
        );
        assert!(matches!(
            e,
            MetricsError::Recording {
                source: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn a_broken_line_in_the_middle_is_skipped_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let text = recording().replacen("{\"type\":\"phase\"", "{\"type\":\"phaze\"", 1);
        std::fs::write(&path, text).unwrap();
        let r = read_recording(&path).unwrap();
        assert_eq!((r.snapshots.len(), r.skipped_lines), (3, 1));
        assert!(
            r.warnings[0].starts_with("line 2: not a recording line"),
            "{:?}",
            r.warnings
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
}
