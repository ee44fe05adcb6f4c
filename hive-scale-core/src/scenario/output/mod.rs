//! The output layer: a run's report made into every artefact of its result directory
//! (`summary.json`, `junit.xml`, `report.md` with its charts and `metrics-summary.json`, NDJSON).
//! The engine returns what happened and sends events while it runs; this writes them. What a
//! run's exit code is, is the front's to say: it is in the summary handed here.

pub mod junit;
pub mod ndjson;
mod report;

use super::fleet::FleetSummary;
use super::runner::{Event, EventSink, JUNIT_FILE, RunEvent, SUMMARY_FILE, Summary};
use crate::metrics::{self, MetricsError, ReportOptions};
use std::path::{Path, PathBuf};

/// How a run's result directory is finished.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Finish {
    /// A tera template for `report.md` instead of the built-in one.
    pub template: Option<PathBuf>,
    /// Also write the run as NDJSON documents to this file, each with these labels.
    pub ndjson: Option<(PathBuf, ndjson::Labels)>,
}

/// What [`ResultDir::finish`] wrote besides the summary and the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finished {
    /// NDJSON documents written (0 when none were asked for).
    pub ndjson_documents: usize,
}

/// A run's result directory.
#[derive(Debug, Clone)]
pub struct ResultDir {
    dir: PathBuf,
}

impl ResultDir {
    /// The directory `dir` (created when written to).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A sink that keeps the run's summary as it goes: `summary.json` and `junit.xml` after
    /// every phase, so a run killed at any point leaves its last state (events of `hub` only,
    /// or of any hub when `None`).
    pub fn sink(&self, hub: Option<String>) -> EventSink {
        let dir = self.clone();
        EventSink::new(move |e: &Event| {
            if let RunEvent::Saved(s) = &e.what
                && (hub.is_none() || e.hub == hub)
                && let Err(error) = dir.save(s)
            {
                tracing::warn!(%error, dir = %dir.dir.display(), "cannot write summary.json");
            }
        })
    }

    /// Writes `summary.json` and `junit.xml`, each whole (through a temporary file, synced
    /// before the rename), so CI finds both in step whenever the run stops.
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub fn save(&self, summary: &Summary) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let text = serde_json::to_vec_pretty(summary).map_err(std::io::Error::other)?;
        crate::files::write_atomic(&self.dir.join(SUMMARY_FILE), &text)?;
        crate::files::write_atomic(
            &self.dir.join(JUNIT_FILE),
            junit::render(summary).as_bytes(),
        )
    }

    /// Writes a fleet's `summary.json` and `junit.xml`, each whole.
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub fn save_fleet(&self, fleet: &FleetSummary) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let text = serde_json::to_vec_pretty(fleet).map_err(std::io::Error::other)?;
        crate::files::write_atomic(&self.dir.join(SUMMARY_FILE), &text)?;
        crate::files::write_atomic(
            &self.dir.join(JUNIT_FILE),
            junit::render_fleet(fleet).as_bytes(),
        )
    }

    /// Writes every artefact of a finished fleet (whose exit codes the front has decided): its
    /// summary, JUnit and `report.md` (from `template`, or the built-in one).
    ///
    /// # Errors
    ///
    /// When a file cannot be written or the template fails.
    pub fn finish_fleet(
        &self,
        fleet: &FleetSummary,
        template: Option<&Path>,
    ) -> Result<(), MetricsError> {
        let path = self.dir.join("report.md");
        self.save_fleet(fleet)
            .map_err(|e| MetricsError::io(self.dir.join(SUMMARY_FILE), e))?;
        let text = fleet_report(fleet, template)?;
        crate::files::write_atomic(&path, text.as_bytes()).map_err(|e| MetricsError::io(&path, e))
    }

    /// Writes every artefact of the finished run (whose exit code the front has decided): the
    /// summary and its JUnit, the report of the metrics it recorded (charts,
    /// `metrics-summary.json`, `report.md` with the scale test's section, written whole) and,
    /// if asked, its NDJSON documents.
    ///
    /// # Errors
    ///
    /// When the summary, the report or the NDJSON cannot be written; a recording that cannot be
    /// read is said in the report instead.
    pub fn finish(&self, summary: &Summary, how: &Finish) -> Result<Finished, MetricsError> {
        self.save(summary)
            .map_err(|e| MetricsError::io(self.dir.join(SUMMARY_FILE), e))?;
        let recording = self.dir.join("recording.jsonl");
        let report = self.dir.join("report.md");
        let mut sections = metrics::Sections::new();
        sections.insert(
            "scaletest".into(),
            serde_json::to_value(report::run_view(summary)).map_err(|source| {
                MetricsError::Encode {
                    what: "the scale test's section",
                    source,
                }
            })?,
        );
        // report.md is written whole, every section from one template: a directory holds one
        // run's report, never an old one's.
        let mut written = false;
        if recording.exists() {
            let clusters = u64::from(summary.scenario.clusters);
            let opts = ReportOptions {
                pairs: Some(clusters * u64::from(summary.scenario.selectorsyncsets)),
                clusters: Some(clusters),
                pipeline: summary.pipeline,
                template: how.template.clone(),
                sections: sections.clone(),
                ..Default::default()
            };
            match metrics::write_report(&recording, &self.dir, &opts) {
                Ok(_) => written = true,
                Err(e @ MetricsError::Template { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %crate::error::chain(&e), "cannot write the metrics report")
                }
            }
        }
        if !written {
            let why = summary.metrics_error.clone().unwrap_or_default();
            let text = metrics::render_report(&sections, &why, how.template.as_deref())?;
            crate::files::write_atomic(&report, text.as_bytes())
                .map_err(|e| MetricsError::io(&report, e))?;
        }
        if let Some((path, labels)) = &how.ndjson {
            let read = metrics::read_recording(&recording).ok();
            let mut docs = ndjson::run_documents(summary, read.as_ref(), labels);
            if let Some(r) = &read {
                docs.extend(ndjson::sample_documents(
                    r,
                    &summary.run_id,
                    &summary.scenario.name,
                    labels,
                ));
            }
            if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| MetricsError::io(parent, e))?;
            }
            ndjson::write(path, &docs).map_err(|e| MetricsError::io(path, e))?;
            return Ok(Finished {
                ndjson_documents: docs.len(),
            });
        }
        Ok(Finished::default())
    }
}

/// A fleet's `report.md`: `template` (or the built-in one) fed the fleet's report.
///
/// # Errors
///
/// When the template fails.
pub fn fleet_report(fleet: &FleetSummary, template: Option<&Path>) -> Result<String, MetricsError> {
    let mut sections = metrics::Sections::new();
    sections.insert(
        "fleet".into(),
        serde_json::to_value(report::fleet_view(fleet)).map_err(|source| MetricsError::Encode {
            what: "the fleet's report",
            source,
        })?,
    );
    metrics::render_report(&sections, "", template)
}
