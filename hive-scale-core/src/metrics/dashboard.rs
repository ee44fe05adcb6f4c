//! The metric profile where people already look: a Grafana dashboard and a link to
//! Prometheus's graph page, both made from a profile's queries so they never drift from what
//! the report shows (`config/grafana/hive-scale.json` is this module's output for the default
//! profile; a test keeps the file in step).

use super::profile::{Kind, Profile};
use serde_json::{Value, json};

/// Grafana's unit for a profile query's unit.
fn grafana_unit(unit: &str, kind: Kind) -> &'static str {
    match (unit, kind) {
        ("s", _) | (_, Kind::Duration) => "s",
        ("bytes", _) => "bytes",
        ("1/s", _) | (_, Kind::Rate) => "ops",
        _ => "short",
    }
}

/// A Grafana dashboard (JSON model, importable: its Prometheus data source is asked for on
/// import) with one time-series panel per query of `profile`, two to a row, in the profile's
/// order.
pub fn grafana(profile: &Profile) -> Value {
    let panels: Vec<Value> = profile
        .queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            json!({
                "id": i + 1,
                "type": "timeseries",
                "title": q.display_title(),
                "description": format!("{} ({}, {:?})", q.name, q.unit, q.kind).to_lowercase(),
                "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8},
                "fieldConfig": {
                    "defaults": {"unit": grafana_unit(&q.unit, q.kind)},
                    "overrides": []
                },
                "options": {
                    "legend": {"displayMode": "list", "placement": "bottom"},
                    "tooltip": {"mode": "multi"}
                },
                "targets": [{
                    "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                    "expr": q.query,
                    "refId": "A"
                }]
            })
        })
        .collect();
    json!({
        "__inputs": [{
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "description": "The Prometheus that scrapes Hive (hive-controllers and hive-clustersync)",
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus"
        }],
        "title": format!("hive-scale: {}", profile.name),
        "description": profile.description,
        "uid": format!("hive-scale-{}", profile.name),
        "tags": ["hive", "hive-scale"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": panels,
        "templating": {"list": []},
        "annotations": {"list": []}
    })
}

/// The dashboard as the file `config/grafana/` holds: pretty JSON with a final newline.
pub fn grafana_file(profile: &Profile) -> String {
    let mut text = serde_json::to_string_pretty(&grafana(profile)).expect("JSON values print");
    text.push('\n');
    text
}

/// A link to the graph page of the Prometheus at `base` showing every query of `profile` over
/// `start..end` (Unix seconds), one graph each, as the 2020 test's dashboard link did.
pub fn prometheus_graph_url(base: &str, profile: &Profile, start: f64, end: f64) -> String {
    let range = (end - start).max(60.0).ceil() as u64;
    let at = jiff::Timestamp::from_second(end.ceil() as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    let mut url = format!("{}/graph?", base.trim_end_matches('/'));
    let params: Vec<String> = profile
        .queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let expr = q.query.split_whitespace().collect::<Vec<_>>().join(" ");
            format!(
                "g{i}.expr={}&g{i}.tab=0&g{i}.stacked=0&g{i}.range_input={range}s&g{i}.end_input={}&g{i}.moment_input={}",
                encode(&expr),
                encode(&at),
                encode(&at)
            )
        })
        .collect();
    url.push_str(&params.join("&"));
    url
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_panel_per_query_with_its_expression_and_unit() {
        let p = Profile::builtin();
        let d = grafana(&p);
        let panels = d["panels"].as_array().unwrap();
        assert_eq!(panels.len(), p.queries.len());
        for (panel, q) in panels.iter().zip(&p.queries) {
            assert_eq!(panel["targets"][0]["expr"], q.query.as_str());
            assert_eq!(panel["title"], q.display_title());
        }
        // No two panels on the same spot.
        let mut spots: Vec<(i64, i64)> = panels
            .iter()
            .map(|p| {
                (
                    p["gridPos"]["x"].as_i64().unwrap(),
                    p["gridPos"]["y"].as_i64().unwrap(),
                )
            })
            .collect();
        spots.sort();
        spots.dedup();
        assert_eq!(spots.len(), panels.len());
    }

    #[test]
    fn the_graph_link_holds_every_query_over_the_window() {
        let p = Profile::builtin();
        let url = prometheus_graph_url("http://prom:9090/", &p, 1_000_000.0, 1_003_600.0);
        assert!(url.starts_with("http://prom:9090/graph?g0.expr="), "{url}");
        for i in 0..p.queries.len() {
            assert!(url.contains(&format!("&g{i}.range_input=3600s")) || i == 0);
            assert!(url.contains(&format!("g{i}.expr=")), "{url}");
        }
        // The window's end, 1970-01-12 13:46:40 + 3600 s, in the UI's format.
        assert!(url.contains("end_input=1970-01-12%2014%3A46%3A40"), "{url}");
        assert!(!url.contains(' ') && !url.contains('\n'), "{url}");
    }
}
