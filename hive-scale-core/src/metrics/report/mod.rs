//! A report from a recording: `report.md`, `metrics-summary.json` and one SVG chart per query,
//! with the findings the 2020 author worked out by hand: peak queue depth and when, time to
//! drain, mean and peak rates, time left for the remaining queue at the current rate ("60,000
//! at 1.2/s is 14 h"), and whether a full re-apply fits in the re-apply interval.
//!
//! The re-apply is counted in the sync queue's own unit. In the 2020 pipeline one item of the
//! `syncsetinstance-controller` queue is one (set, cluster) pair (a SyncSetInstance); under
//! clustersync one item of the `clusterSync-controller` queue is a cluster with all its sets
//! (its ClusterSync). Dividing pairs by the clustersync queue's rate would overstate the time by
//! the number of sets. The pipeline is [`ReportOptions::pipeline`] when given, else the one whose
//! sync queue the recording names. Hive can run several clustersync replicas, each owning a
//! share of the clusters; the built-in profiles sum each queue over its pods, so the estimate is
//! for the replicas together (per-replica estimates need a profile that keeps a pod label).
//!
//! Reading ([`read_recording`]), working out the findings (`analysis`, pure functions) and
//! rendering (`render`: a tera template fed the [`ReportSummary`], and the charts) are separate;
//! [`write_report`] does all three and writes each file atomically.

mod analysis;
mod read;
mod render;
mod summary;
#[cfg(test)]
mod tests;

pub use read::{Recording, StartInfo, read_recording};
pub use render::{DEFAULT_TEMPLATE, TemplateError};
pub use summary::{
    PhaseMark, QueryStats, QueueFinding, RateFinding, ReapplyFinding, ReapplyUnit, ReplicaFinding,
    ReportFindings, ReportSummary, SeriesStats,
};

use super::MetricsError;
use crate::api::Pipeline;
use crate::files::write_atomic;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The report's words, in the output directory.
pub const REPORT_FILE: &str = "report.md";
/// The report's summary as JSON ([`ReportSummary`]), in the output directory. Its own name: a
/// scale test writes its `summary.json` into the same directory.
pub const SUMMARY_FILE: &str = "metrics-summary.json";

/// What the report needs besides the recording.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReportOptions {
    /// The number of (set, cluster) pairs a full re-apply covers under the 2020 pipeline (or an
    /// unknown one); default: the sync queue's peak (there every queued item is one pair).
    pub pairs: Option<u64>,
    /// The number of clusters a full re-apply covers under clustersync, where every queued item
    /// is one cluster; default: the sync queue's peak.
    pub clusters: Option<u64>,
    /// The pipeline the recording came from; default: the one whose sync controller's queue the
    /// recording names (`clusterSync-controller` or `syncsetinstance-controller`).
    pub pipeline: Option<Pipeline>,
    /// How often Hive re-applies everything (2 h).
    pub reapply_interval: Duration,
    /// A tera template for `report.md` instead of the built-in [`DEFAULT_TEMPLATE`]; it is fed
    /// the [`ReportSummary`] and the [`Sections`].
    pub template: Option<PathBuf>,
    /// What `report.md` holds besides the metrics (a scale test's section, say).
    pub sections: Sections,
}

/// What `report.md` holds besides the metrics: each entry a section the template sees by its
/// name (`scaletest`, `fleet`).
pub type Sections = serde_json::Map<String, serde_json::Value>;

/// `report.md` without a recording (a run that recorded no metrics, a fleet): the template fed
/// `sections`, `metrics: false` and `no_metrics` (why there are none).
///
/// # Errors
///
/// When the template cannot be read, parsed or rendered.
pub fn render_report(
    sections: &Sections,
    no_metrics: &str,
    template: Option<&Path>,
) -> Result<String, MetricsError> {
    render::markdown(None, sections, no_metrics, template)
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            pairs: None,
            clusters: None,
            pipeline: None,
            reapply_interval: Duration::from_secs(2 * 3600),
            template: None,
            sections: Sections::new(),
        }
    }
}

/// Reads `recording`, writes `report.md`, `metrics-summary.json` and `<query>.svg` into
/// `out_dir` (created if missing). Each file is replaced atomically: a crash leaves the old
/// version or the new one, never half of one. A template that does not render fails the report
/// before any file is written.
///
/// # Errors
///
/// A recording that cannot be read or holds no snapshot, a template that does not render, a
/// chart that cannot be drawn, or a file that cannot be written.
///
/// # Examples
///
/// ```no_run
/// # fn example() -> Result<(), hive_scale_core::metrics::MetricsError> {
/// use hive_scale_core::metrics::{ReportOptions, write_report};
/// use std::path::Path;
///
/// let mut opts = ReportOptions::default();
/// opts.clusters = Some(1000);
/// let summary = write_report(Path::new("run.jsonl"), Path::new("report"), &opts)?;
/// println!("{} queries charted", summary.queries.len());
/// # Ok(())
/// # }
/// ```
/// The findings of a recording (what [`write_report`] writes as `metrics-summary.json`),
/// without writing anything: measurement, for a run's summary.
///
/// # Errors
///
/// When the recording cannot be read.
pub fn analyze_recording(
    recording: &Path,
    opts: &ReportOptions,
) -> Result<ReportSummary, MetricsError> {
    let rec = read_recording(recording)?;
    Ok(analysis::analyze(&rec, opts).summary)
}

pub fn write_report(
    recording: &Path,
    out_dir: &Path,
    opts: &ReportOptions,
) -> Result<ReportSummary, MetricsError> {
    let rec = read_recording(recording)?;
    let mut analysis = analysis::analyze(&rec, opts);
    let charts = render::charts(&analysis)?;
    for (name, _) in &charts {
        if let Some(q) = analysis
            .summary
            .queries
            .iter_mut()
            .find(|q| q.name == *name)
        {
            q.chart = Some(format!("{name}.svg"));
        }
    }
    let summary = analysis.summary;
    let markdown = render::markdown(Some(&summary), &opts.sections, "", opts.template.as_deref())?;
    let json = serde_json::to_string_pretty(&summary).map_err(|source| MetricsError::Encode {
        what: "the report summary",
        source,
    })?;
    std::fs::create_dir_all(out_dir).map_err(|e| MetricsError::io(out_dir, e))?;
    let write = |file: &str, bytes: &[u8]| {
        let path = out_dir.join(file);
        write_atomic(&path, bytes).map_err(|e| MetricsError::io(path, e))
    };
    for (name, svg) in &charts {
        write(&format!("{name}.svg"), svg.as_bytes())?;
    }
    write(SUMMARY_FILE, (json + "\n").as_bytes())?;
    write(REPORT_FILE, markdown.as_bytes())?;
    Ok(summary)
}
