//! A profile evaluated at one instant: typed results, serializable to JSON.

use super::profile::{Kind, ProfileQuery};
use super::value::{QueryValue, format_value};
use serde::{Deserialize, Serialize};

/// What became of one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum QueryOutcome {
    /// It answered.
    Ok {
        /// The answer.
        value: QueryValue,
    },
    /// It failed; the other queries of the snapshot are unaffected.
    Error {
        /// Why (Prometheus' own message for a bad query).
        error: String,
    },
    /// The source cannot compute it (a scrape and a query without a scrape equivalent).
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// One query's entry in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// The query's name in the profile.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Its unit.
    pub unit: String,
    /// Whether the values were divided by the time scale (per modeled second).
    #[serde(default)]
    pub converted: bool,
    /// The value, the error or why it is unavailable.
    #[serde(flatten)]
    pub outcome: QueryOutcome,
}

impl QueryResult {
    /// The value, when the query answered.
    pub fn value(&self) -> Option<&QueryValue> {
        match &self.outcome {
            QueryOutcome::Ok { value } => Some(value),
            _ => None,
        }
    }

    /// The error, when the query failed.
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            QueryOutcome::Error { error } => Some(error),
            _ => None,
        }
    }

    /// Builds the entry for `q` from what the source said, converting to modeled units.
    pub(crate) fn new(
        q: &ProfileQuery,
        outcome: Result<QueryValue, QueryOutcome>,
        time_scale: Option<f64>,
    ) -> Self {
        let mut converted = false;
        let outcome = match outcome {
            Ok(mut value) => {
                if let (true, Some(k)) = (q.converts(), time_scale) {
                    value.map_values(|v| v / k);
                    converted = true;
                }
                QueryOutcome::Ok { value }
            }
            Err(o) => o,
        };
        Self {
            name: q.name.clone(),
            kind: q.kind,
            unit: q.unit.clone(),
            converted,
            outcome,
        }
    }
}

/// A profile evaluated at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The instant, Unix seconds.
    pub t: f64,
    /// Where the values came from (`prometheus URL` or `scrape URL`).
    pub source: String,
    /// The profile's name.
    pub profile: String,
    /// The simulator's modeled seconds per real second, when the target exports
    /// `hive_sim_time_scale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// Whether values are in modeled units: rates per modeled second, durations in modeled
    /// seconds (true exactly when `time_scale` is known).
    #[serde(default)]
    pub modeled: bool,
    /// How long taking the snapshot took, in milliseconds.
    pub elapsed_ms: f64,
    /// One entry per profile query, in profile order.
    pub results: Vec<QueryResult>,
}

impl Snapshot {
    /// The entry of that query.
    pub fn get(&self, name: &str) -> Option<&QueryResult> {
        self.results.iter().find(|r| r.name == name)
    }

    /// The entries whose query failed.
    pub fn failed(&self) -> impl Iterator<Item = &QueryResult> {
        self.results.iter().filter(|r| r.error().is_some())
    }

    /// A table for a terminal: query, series, value, unit.
    pub fn table(&self) -> String {
        let mut rows: Vec<[String; 4]> = vec![[
            "QUERY".into(),
            "SERIES".into(),
            "VALUE".into(),
            "UNIT".into(),
        ]];
        for r in &self.results {
            match &r.outcome {
                QueryOutcome::Ok { value } => {
                    let vals = value.values();
                    if vals.is_empty() {
                        rows.push([
                            r.name.clone(),
                            "-".into(),
                            "(no data)".into(),
                            r.unit.clone(),
                        ]);
                    }
                    for (labels, v) in vals {
                        let series = if labels.is_empty() {
                            "-".to_string()
                        } else {
                            labels
                                .iter()
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(",")
                        };
                        rows.push([r.name.clone(), series, format_value(v), r.unit.clone()]);
                    }
                }
                QueryOutcome::Error { error } => rows.push([
                    r.name.clone(),
                    "-".into(),
                    format!("error: {error}"),
                    r.unit.clone(),
                ]),
                QueryOutcome::Unavailable { reason } => rows.push([
                    r.name.clone(),
                    "-".into(),
                    format!("unavailable: {reason}"),
                    r.unit.clone(),
                ]),
            }
        }
        let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0);
        let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(0).min(60);
        let w2 = rows
            .iter()
            .filter(|r| !r[2].starts_with("error") && !r[2].starts_with("unavailable"))
            .map(|r| r[2].len())
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "{} at {}, profile {}{}\n",
            self.source,
            jiff::Timestamp::from_millisecond((self.t * 1000.0) as i64)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            self.profile,
            match self.time_scale {
                Some(k) => format!(", time scale {k} (rates per modeled second)"),
                None => String::new(),
            }
        );
        for r in rows {
            let line = if r[2].starts_with("error") || r[2].starts_with("unavailable") {
                format!("{:w0$}  {:w1$}  {}", r[0], r[1], r[2])
            } else {
                format!("{:w0$}  {:w1$}  {:>w2$}  {}", r[0], r[1], r[2], r[3])
            };
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::value::Series;
    use std::collections::BTreeMap;

    fn snapshot() -> Snapshot {
        let q = |name: &str, kind, unit: &str| ProfileQuery {
            name: name.into(),
            title: String::new(),
            query: "up".into(),
            unit: unit.into(),
            kind,
            convert: None,
            scrape: None,
        };
        let series = |name: &str, v: f64| Series {
            labels: BTreeMap::from([("name".to_string(), name.to_string())]),
            value: v,
        };
        Snapshot {
            t: 1_700_000_000.5,
            source: "prometheus http://127.0.0.1:9091/".into(),
            profile: "default".into(),
            time_scale: Some(10.0),
            modeled: true,
            elapsed_ms: 3.2,
            results: vec![
                QueryResult::new(
                    &q("depth", Kind::Gauge, "items"),
                    Ok(QueryValue::Vector {
                        series: vec![series("a", 60000.0), series("b", 0.0)],
                    }),
                    Some(10.0),
                ),
                QueryResult::new(
                    &q("rate", Kind::Rate, "1/s"),
                    Ok(QueryValue::Vector {
                        series: vec![series("a", 12.0)],
                    }),
                    Some(10.0),
                ),
                QueryResult::new(
                    &q("mean", Kind::Duration, "s"),
                    Ok(QueryValue::Scalar { value: f64::NAN }),
                    Some(10.0),
                ),
                QueryResult::new(
                    &q("broken", Kind::Gauge, ""),
                    Err(QueryOutcome::Error {
                        error: "Prometheus: bad_data: parse error".into(),
                    }),
                    Some(10.0),
                ),
                QueryResult::new(
                    &q("promql_only", Kind::Gauge, ""),
                    Err(QueryOutcome::Unavailable {
                        reason: "needs Prometheus".into(),
                    }),
                    Some(10.0),
                ),
            ],
        }
    }

    #[test]
    fn rates_are_converted_to_modeled_seconds_and_nothing_else() {
        let s = snapshot();
        assert_eq!(s.get("rate").unwrap().value().unwrap().total(), Some(1.2));
        assert!(s.get("rate").unwrap().converted);
        assert_eq!(
            s.get("depth").unwrap().value().unwrap().total(),
            Some(60000.0)
        );
        assert!(!s.get("depth").unwrap().converted);
        assert!(!s.get("mean").unwrap().converted);
    }

    #[test]
    fn snapshots_round_trip_through_json_nan_included() {
        let s = snapshot();
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains(r#""value":"NaN""#), "{text}");
        assert!(
            text.contains(r#""status":"error","error":"Prometheus: bad_data"#),
            "{text}"
        );
        assert!(text.contains(r#""status":"unavailable""#), "{text}");
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back.results.len(), 5);
        assert!(
            matches!(back.get("mean").unwrap().value(), Some(QueryValue::Scalar { value }) if value.is_nan())
        );
        assert_eq!(back.results[0], s.results[0]);
        assert_eq!(
            back.get("broken").unwrap().error(),
            s.get("broken").unwrap().error()
        );
    }

    #[test]
    fn the_table_lists_every_series_and_every_problem() {
        let t = snapshot().table();
        assert!(t.contains("time scale 10"), "{t}");
        let line = t
            .lines()
            .find(|l| l.contains("name=a") && l.starts_with("depth"))
            .unwrap();
        assert!(line.contains("60000") && line.ends_with("items"), "{t}");
        assert!(
            t.lines()
                .any(|l| l.starts_with("rate") && l.contains("1.200")),
            "{t}"
        );
        assert!(
            t.lines()
                .any(|l| l.starts_with("broken") && l.contains("error: Prometheus: bad_data")),
            "{t}"
        );
        assert!(
            t.lines()
                .any(|l| l.starts_with("promql_only") && l.contains("unavailable")),
            "{t}"
        );
    }
}
