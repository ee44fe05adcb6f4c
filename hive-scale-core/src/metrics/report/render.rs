//! Rendering a report: `report.md` from a tera template fed the summary (the built-in
//! `report.md.tera`, or the caller's), and one SVG chart per query.

#[cfg(feature = "charts")]
use super::super::chart::{self, ChartSeries, ChartSpec, PhaseLine};
#[cfg(feature = "charts")]
use super::super::profile::Kind;
use super::super::value::format_value;
use super::super::{MetricsError, human_duration};
use super::analysis::Analysis;
use super::summary::ReportSummary;
use std::path::Path;

/// The built-in template of `report.md`: a starting point for `report --template FILE`.
pub const DEFAULT_TEMPLATE: &str = include_str!("report.md.tera");

/// How the built-in template is named in errors.
const DEFAULT_TEMPLATE_NAME: &str = "report.md.tera (built-in)";

/// A template that could not be parsed or rendered. Tera's own text is a multi-line excerpt of
/// the template; this one is a single line (what is wrong, and where), so a command can print
/// it as one error line. [`TemplateError::tera`] gives tera's error itself.
#[derive(Debug)]
pub struct TemplateError(tera::Error);

impl TemplateError {
    /// Tera's error.
    pub fn tera(&self) -> &tera::Error {
        &self.0
    }
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.kind() {
            tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => write!(
                f,
                "{} (line {}, column {})",
                r.message(),
                r.span().start_line,
                r.span().start_col + 1
            )?,
            other => f.write_str(&other.to_string().replace('\n', " "))?,
        }
        // Errors a filter returned come as the source.
        let mut cause = std::error::Error::source(&self.0);
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl std::error::Error for TemplateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The text above already holds tera's causes; tera's own text is the multi-line one.
        None
    }
}

/// Renders `report.md` from `template` (a file), or the built-in template, fed `metrics` (the
/// summary's fields, and `metrics: true`; else `metrics: false` and `no_metrics`, why there are
/// none) and `sections` (`scaletest`, `fleet`: absent ones are null).
pub(super) fn markdown(
    metrics: Option<&ReportSummary>,
    sections: &super::Sections,
    no_metrics: &str,
    template: Option<&Path>,
) -> Result<String, MetricsError> {
    let (name, text) = match template {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).map_err(|e| MetricsError::io(path, e))?,
        ),
        None => (
            DEFAULT_TEMPLATE_NAME.to_string(),
            DEFAULT_TEMPLATE.to_string(),
        ),
    };
    let fail = |e: tera::Error| MetricsError::Template {
        name: name.clone(),
        source: TemplateError(e),
    };
    let mut context = match metrics.map(serde_json::to_value) {
        Some(Ok(serde_json::Value::Object(m))) => m,
        _ => serde_json::Map::new(),
    };
    context.insert("metrics".into(), metrics.is_some().into());
    context.insert("no_metrics".into(), no_metrics.into());
    for section in ["scaletest", "fleet"] {
        context.insert(section.into(), serde_json::Value::Null);
    }
    context.extend(sections.clone());
    let mut tera = engine();
    tera.add_raw_template(&name, &text).map_err(fail)?;
    let context =
        tera::Context::from_serialize(&serde_json::Value::Object(context)).map_err(fail)?;
    tera.render(&name, &context).map_err(fail)
}

/// A tera with the report's filters, and no HTML escaping (the output is Markdown).
fn engine() -> tera::Tera {
    use tera::{Kwargs, State, Value};
    let mut t = tera::Tera::new();
    t.autoescape_on(Vec::<&str>::new());
    t.register_filter("count", |v: f64, _: Kwargs, _: &State| count(v));
    t.register_filter("short", |v: f64, _: Kwargs, _: &State| short(v));
    t.register_filter("num", |v: f64, _: Kwargs, _: &State| v.to_string());
    t.register_filter("duration", |v: f64, _: Kwargs, _: &State| human_duration(v));
    t.register_filter("timestamp", |v: f64, _: Kwargs, _: &State| timestamp(v));
    t.register_filter("fixed", |v: f64, kw: Kwargs, _: &State| {
        let digits: usize = kw.get("digits")?.unwrap_or(0);
        Ok::<_, tera::Error>(format!("{v:.digits$}"))
    });
    t.register_filter("with_unit", |v: &str, kw: Kwargs, _: &State| {
        let unit: String = kw.must_get("unit")?;
        Ok::<_, tera::Error>(with_unit(v, &unit))
    });
    t.register_filter("cell", |v: &str, _: Kwargs, _: &State| {
        v.replace('|', "\\|")
    });
    t.register_filter("labels", |v: &Value, _: Kwargs, _: &State| {
        let mut pairs: Vec<(String, String)> = v
            .as_map()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != Some("__name__"))
                    .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if pairs.is_empty() {
            return "-".to_string();
        }
        pairs.sort();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    });
    t
}

/// Draws one chart per query, on all cores: `(query name, SVG)`.
/// Without the `charts` feature a report has no charts.
#[cfg(not(feature = "charts"))]
pub(super) fn charts(_: &Analysis) -> Result<Vec<(String, String)>, MetricsError> {
    Ok(Vec::new())
}

#[cfg(feature = "charts")]
pub(super) fn charts(a: &Analysis) -> Result<Vec<(String, String)>, MetricsError> {
    let s = &a.summary;
    let clock_name = if s.modeled { "modeled" } else { "real" };
    let phases: Vec<PhaseLine> = s
        .phases
        .iter()
        .map(|p| PhaseLine {
            name: p.name.clone(),
            x: p.at_s,
        })
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = a
            .data
            .iter()
            .map(|d| {
                let phases = &phases;
                scope.spawn(move || {
                    let series: Vec<ChartSeries> = d
                        .series
                        .iter()
                        .map(|(key, (_, pts))| ChartSeries {
                            label: key.clone(),
                            points: pts.clone(),
                        })
                        .collect();
                    let unit = if d.stats.kind == Kind::Rate && s.modeled && d.stats.unit == "1/s" {
                        "per modeled second".to_string()
                    } else {
                        d.stats.unit.clone()
                    };
                    let svg = chart::svg(&ChartSpec {
                        title: &d.stats.title,
                        clock: clock_name,
                        unit: &unit,
                        series: &series,
                        phases,
                    })
                    .map_err(|source| MetricsError::Chart {
                        name: d.stats.name.clone(),
                        source,
                    })?;
                    Ok((d.stats.name.clone(), svg))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(MetricsError::Invalid("a chart thread panicked".into()))
                })
            })
            .collect()
    })
}

/// `1.2/s`, `0.5 cores`.
fn with_unit(v: &str, unit: &str) -> String {
    match unit {
        "" => v.to_string(),
        "1/s" => format!("{v}/s"),
        u => format!("{v} {u}"),
    }
}

/// Large numbers rounded with thousands separators (`60,000`), others readable.
fn count(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else {
        short(v)
    }
}

/// 3 significant digits, no trailing noise.
fn short(v: f64) -> String {
    if !v.is_finite() || v == v.trunc() {
        return format_value(v);
    }
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.1 {
        format!("{v:.2}")
    } else {
        let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
        format!("{v:.digits$}")
    }
}

fn timestamp(t: f64) -> String {
    jiff::Timestamp::from_millisecond((t * 1000.0) as i64)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| format!("{t}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::report::summary::ReportFindings;

    fn summary() -> ReportSummary {
        ReportSummary {
            recording: "run.jsonl".into(),
            source: None,
            profile: "default".into(),
            snapshots: 3,
            errors: 0,
            skipped_lines: 0,
            stopped: true,
            start_t: 0.0,
            end_t: 20.0,
            duration_s: 20.0,
            time_scale: None,
            modeled: false,
            clock_duration_s: 20.0,
            pairs: None,
            clusters: None,
            phases: vec![],
            findings: ReportFindings::default(),
            queries: vec![],
            warnings: vec![],
        }
    }

    #[test]
    fn numbers_read_like_the_2020_notes() {
        assert_eq!(count(60000.0), "60,000");
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(820.0), "820");
        assert_eq!(count(41534350.4), "41,534,350");
        assert_eq!(with_unit("1.2", "1/s"), "1.2/s");
        assert_eq!(with_unit("3", "cores"), "3 cores");
        assert_eq!(short(1.2), "1.20");
        assert_eq!(short(0.016), "0.0160");
        assert_eq!(short(14.5), "14.5");
        assert_eq!(timestamp(0.0), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn a_custom_template_gets_the_summary_and_the_filters() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("mine.md.tera");
        std::fs::write(
            &f,
            "{{ profile }}: {{ snapshots }} over {{ duration_s | duration }}; \
             {{ 60000 | count }} {{ 1.25 | short | with_unit(unit=\"1/s\") }} \
             {{ 2.5 | num }} {{ 6.94 | fixed(digits=1) }} {{ {\"b\": \"2\", \"a\": \"1|x\"} | labels | cell }} \
             {{ none_here | labels }} <b>",
        )
        .unwrap();
        let md = markdown(Some(&summary()), &Default::default(), "", Some(&f)).unwrap();
        assert_eq!(
            md,
            "default: 3 over 20 s; 60,000 1.25/s 2.5 6.9 a=1\\|x,b=2 - <b>"
        );
    }

    #[test]
    fn a_template_error_is_one_line_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.md.tera");
        std::fs::write(&f, "# Report\n\n{{ snapshots | count }} {% if %}\n").unwrap();
        let e = markdown(Some(&summary()), &Default::default(), "", Some(&f)).unwrap_err();
        let text = crate::error::chain(&e);
        assert!(
            text.starts_with(&format!("report template {}: ", f.display())),
            "{text}"
        );
        assert!(text.contains("line 3"), "{text}");
        assert!(!text.contains('\n'), "{text}");
        assert!(matches!(e, MetricsError::Template { .. }));
        // A rendering error: an unknown field.
        std::fs::write(&f, "{{ findings.nothing.here }}").unwrap();
        let text = crate::error::chain(
            &markdown(Some(&summary()), &Default::default(), "", Some(&f)).unwrap_err(),
        );
        assert!(
            text.starts_with(&format!("report template {}: ", f.display())) && !text.contains('\n'),
            "{text}"
        );
        let e = markdown(
            Some(&summary()),
            &Default::default(),
            "",
            Some(&dir.path().join("missing.tera")),
        )
        .unwrap_err();
        assert!(e.to_string().contains("missing.tera"), "{e}");
    }
}
