//! Watching Hive while it works: what the 2020 scale test did by hand with a Prometheus
//! dashboard, as a library.
//!
//! * [`PrometheusClient`]: instant and range queries over Prometheus' HTTP API, with Prometheus'
//!   own error message when a query fails, timeouts, bearer or basic auth and a custom CA.
//! * [`Profile`]: named PromQL queries with a unit and a [`Kind`], loaded from YAML
//!   (`config/profiles/`); [`Profile::builtin`] is `config/profiles/default.yaml`, compiled in.
//! * [`Snapshot`]: a profile evaluated at one instant, every query at once, typed results. When
//!   the target is the simulator (it exports `hive_sim_time_scale` = K), rates are converted to
//!   per modeled second (divided by K) and the snapshot says so.
//! * [`Scraper`]: the same profile straight from a `/metrics` endpoint when no Prometheus runs,
//!   for the queries that declare a [`ScrapeSpec`].
//! * [`Recorder`]: snapshots every interval into a JSON Lines file, with phase markers, each line
//!   flushed as it is written.
//! * [`report`]: `report.md` (from a tera template the user can replace), `metrics-summary.json`
//!   and one SVG chart per query from a recording, with the findings the 2020 author worked out
//!   by hand (peak queue, time to drain, rates, time left at the current rate, whether a full
//!   re-apply fits in the re-apply interval).
//! * [`slo`]: the API call latency SLO checked from kube-apiserver's duration histogram.
//! * [`names`]: the metric names the library reads and the simulator exports.
//! * [`redact_url`]: a URL fit to store or show (no user information, no secret query values).

#[cfg(feature = "charts")]
mod chart;
pub mod dashboard;
mod error;
mod http;
pub mod names;
pub mod profile;
pub mod prometheus;
pub mod recorder;
pub mod report;
pub mod scrape;
pub mod slo;
pub mod snapshot;
mod source;
pub mod value;

pub use error::{MetricsError, TransportError, UrlParseError, YamlError};
pub use http::{Auth, HttpOptions, Secret, redact_url};
pub use profile::{Findings, Kind, Profile, ProfileQuery, ScrapeOp, ScrapeSpec};
pub use prometheus::PrometheusClient;
pub use recorder::{RecordLine, Recorder, RecorderHandle, RecordingSummary};
pub use report::{
    ReportOptions, ReportSummary, Sections, TemplateError, analyze_recording, read_recording,
    render_report, write_report,
};
pub use scrape::{Exposition, Scrape, Scraper};
pub use snapshot::{QueryOutcome, QueryResult, Snapshot};
pub use source::Source;
pub use value::{Point, QueryValue, RangeSeries, Series, format_value};

use std::time::Duration;

/// Parses a duration such as `5s`, `2m`, `1h`, `1h30m`, `500ms` or `1d`; a bare number is
/// seconds.
pub fn parse_duration(text: &str) -> Result<Duration, MetricsError> {
    let s = text.trim();
    let bad = || {
        MetricsError::Invalid(format!(
            "invalid duration {text:?}: expected e.g. 500ms, 5s, 2m, 1h, 1h30m"
        ))
    };
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(bad()),
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Formats a number of seconds the way a person reads it: `45 s`, `12.5 min`, `13.9 h`.
pub fn human_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "forever".into();
    }
    let s = seconds.abs();
    if s < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else if s < 120.0 {
        format!("{seconds:.0} s")
    } else if s < 7200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else if s < 3.0 * 86400.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else {
        format!("{:.1} d", seconds / 86400.0)
    }
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_the_tools_expect() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        for bad in ["", "s", "5x", "-5s", "5 s", "m5", "1h-"] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(e.contains("invalid duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn human_durations_pick_a_readable_unit() {
        assert_eq!(human_duration(0.25), "250 ms");
        assert_eq!(human_duration(45.0), "45 s");
        assert_eq!(human_duration(50.0 * 60.0), "50.0 min");
        assert_eq!(human_duration(60000.0 / 1.2), "13.9 h");
        assert_eq!(human_duration(f64::INFINITY), "forever");
    }
}
