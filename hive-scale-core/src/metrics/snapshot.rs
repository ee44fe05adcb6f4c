//! A profile evaluated at one instant: typed results, serializable to JSON.

use super::profile::{Kind, Profile, ProfileQuery};
use super::{MetricsError, PrometheusClient, Scraper};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// The PromQL that finds the simulator's time scale (absent on a real Hive).
pub const TIME_SCALE_QUERY: &str = "max(hive_sim_time_scale)";

/// One series of an instant result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Its labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Its value (NaN and infinities are written as Prometheus writes them: `"NaN"`, `"+Inf"`).
    #[serde(with = "num")]
    pub value: f64,
}

/// One `(time, value)` point of a range result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix seconds.
    pub t: f64,
    /// The value.
    pub v: f64,
}

impl Serialize for Point {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.t)?;
        t.serialize_element(&num::Num(self.v))?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (t, v): (f64, num::Num) = Deserialize::deserialize(d)?;
        Ok(Point { t, v: v.0 })
    }
}

/// One series of a range result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeSeries {
    /// Its labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Its points, oldest first.
    pub points: Vec<Point>,
}

/// A query's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum QueryValue {
    /// A single number.
    Scalar {
        /// The number.
        #[serde(with = "num")]
        value: f64,
    },
    /// One value per series (an instant query's usual answer).
    Vector {
        /// The series; empty when nothing matched.
        series: Vec<Series>,
    },
    /// Points per series (a range query's answer).
    Matrix {
        /// The series.
        series: Vec<RangeSeries>,
    },
}

impl QueryValue {
    /// `(labels, value)` of every series at the instant (a matrix gives each series' last point).
    pub fn values(&self) -> Vec<(BTreeMap<String, String>, f64)> {
        match self {
            QueryValue::Scalar { value } => vec![(BTreeMap::new(), *value)],
            QueryValue::Vector { series } => {
                series.iter().map(|s| (s.labels.clone(), s.value)).collect()
            }
            QueryValue::Matrix { series } => series
                .iter()
                .filter_map(|s| s.points.last().map(|p| (s.labels.clone(), p.v)))
                .collect(),
        }
    }

    /// The sum over series, ignoring NaN; `None` when there is no number at all.
    pub fn total(&self) -> Option<f64> {
        let vals: Vec<f64> = self
            .values()
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| !v.is_nan())
            .collect();
        (!vals.is_empty()).then(|| vals.iter().sum())
    }

    /// Whether there is no series at all.
    pub fn is_empty(&self) -> bool {
        match self {
            QueryValue::Scalar { .. } => false,
            QueryValue::Vector { series } => series.is_empty(),
            QueryValue::Matrix { series } => series.is_empty(),
        }
    }

    /// Applies `f` to every value.
    pub fn map_values(&mut self, f: impl Fn(f64) -> f64) {
        match self {
            QueryValue::Scalar { value } => *value = f(*value),
            QueryValue::Vector { series } => series.iter_mut().for_each(|s| s.value = f(s.value)),
            QueryValue::Matrix { series } => series
                .iter_mut()
                .flat_map(|s| s.points.iter_mut())
                .for_each(|p| p.v = f(p.v)),
        }
    }
}

/// What became of one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
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
    pub outcome: Outcome,
}

impl QueryResult {
    /// The value, when the query answered.
    pub fn value(&self) -> Option<&QueryValue> {
        match &self.outcome {
            Outcome::Ok { value } => Some(value),
            _ => None,
        }
    }

    /// The error, when the query failed.
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Error { error } => Some(error),
            _ => None,
        }
    }

    /// Builds the entry for `q` from what the source said, converting to modeled units.
    pub(crate) fn new(
        q: &ProfileQuery,
        outcome: Result<QueryValue, Outcome>,
        time_scale: Option<f64>,
    ) -> Self {
        let mut converted = false;
        let outcome = match outcome {
            Ok(mut value) => {
                if let (true, Some(k)) = (q.converts(), time_scale) {
                    value.map_values(|v| v / k);
                    converted = true;
                }
                Outcome::Ok { value }
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
                Outcome::Ok { value } => {
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
                Outcome::Error { error } => rows.push([
                    r.name.clone(),
                    "-".into(),
                    format!("error: {error}"),
                    r.unit.clone(),
                ]),
                Outcome::Unavailable { reason } => rows.push([
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

/// A value for people: integers without decimals, others with 4 significant digits.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1000.0 {
        format!("{v:.1}")
    } else {
        let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
        format!("{v:.digits$}")
    }
}

/// Where snapshots come from.
#[derive(Debug)]
pub enum Source {
    /// A Prometheus server's HTTP API.
    Prometheus(PrometheusClient),
    /// `/metrics` endpoints scraped directly.
    Scrape(Scraper),
}

impl Source {
    /// `prometheus URL` or `scrape URL`.
    pub fn describe(&self) -> String {
        match self {
            Source::Prometheus(p) => format!("prometheus {}", p.url()),
            Source::Scrape(s) => format!("scrape {}", s.urls().join(",")),
        }
    }

    /// Evaluates every query of the profile at one instant. Fails as a whole only when the
    /// endpoint itself fails; a query that fails is recorded in its own entry.
    pub async fn snapshot(&self, profile: &Profile) -> Result<Snapshot, MetricsError> {
        match self {
            Source::Prometheus(p) => prometheus_snapshot(p, profile).await,
            Source::Scrape(s) => s.snapshot(profile).await,
        }
    }
}

async fn prometheus_snapshot(
    client: &PrometheusClient,
    profile: &Profile,
) -> Result<Snapshot, MetricsError> {
    let started = std::time::Instant::now();
    let t = super::now_unix();
    // Also the probe: an unreachable Prometheus fails here, once, instead of once per query.
    let scale = client.query(TIME_SCALE_QUERY, Some(t));
    let queries = futures::future::join_all(
        profile
            .queries
            .iter()
            .map(|q| client.query(&q.query, Some(t))),
    );
    let (scale, answers) = futures::join!(scale, queries);
    let time_scale = match scale {
        Ok(v) => v.total().filter(|k| k.is_finite() && *k > 0.0),
        Err(e) if e.is_transport() => return Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the time scale; values are not converted");
            None
        }
    };
    let results = profile
        .queries
        .iter()
        .zip(answers)
        .map(|(q, a)| {
            let outcome = a.map_err(|e| Outcome::Error {
                error: e.to_string(),
            });
            QueryResult::new(q, outcome, time_scale)
        })
        .collect();
    Ok(Snapshot {
        t,
        source: format!("prometheus {}", client.url()),
        profile: profile.name.clone(),
        time_scale,
        modeled: time_scale.is_some(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        results,
    })
}

/// Numbers as JSON numbers, NaN and infinities as Prometheus' strings.
pub(crate) mod num {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) struct Num(pub f64);

    impl Serialize for Num {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serialize(&self.0, s)
        }
    }

    impl<'de> Deserialize<'de> for Num {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize(d).map(Num)
        }
    }

    pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("+Inf")
        } else {
            s.serialize_str("-Inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(f64),
        S(String),
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(n),
            Raw::S(s) => super::super::prometheus::parse_float(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("not a number: {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                    Err(Outcome::Error {
                        error: "Prometheus: bad_data: parse error".into(),
                    }),
                    Some(10.0),
                ),
                QueryResult::new(
                    &q("promql_only", Kind::Gauge, ""),
                    Err(Outcome::Unavailable {
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
        let m = QueryValue::Matrix {
            series: vec![RangeSeries {
                labels: BTreeMap::new(),
                points: vec![
                    Point { t: 1.0, v: 2.5 },
                    Point {
                        t: 2.0,
                        v: f64::INFINITY,
                    },
                ],
            }],
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(
            text,
            r#"{"type":"matrix","series":[{"points":[[1.0,2.5],[2.0,"+Inf"]]}]}"#
        );
        assert_eq!(serde_json::from_str::<QueryValue>(&text).unwrap(), m);
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

    #[test]
    fn values_format_for_people() {
        assert_eq!(format_value(60000.0), "60000");
        assert_eq!(format_value(1.2), "1.200");
        assert_eq!(format_value(0.016), "0.01600");
        assert_eq!(format_value(1234.56), "1234.6");
        assert_eq!(format_value(f64::NAN), "NaN");
    }
}
