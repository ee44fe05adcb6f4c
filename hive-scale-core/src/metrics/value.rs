//! The values a query answers with, shared by the Prometheus client, the scraper, snapshots and
//! the report: series, points, and numbers written the way Prometheus writes them (`NaN`,
//! `+Inf`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

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

/// Parses a sample value as Prometheus writes it (`1.5`, `NaN`, `+Inf`, `-Inf`).
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Numbers as JSON numbers, NaN and infinities as Prometheus' strings.
mod num {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) struct Num(pub f64);

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

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
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

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(n),
            Raw::S(s) => super::parse_float(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("not a number: {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_parse_like_prometheus_writes_them() {
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("x"), None);
    }

    #[test]
    fn values_format_for_people() {
        assert_eq!(format_value(60000.0), "60000");
        assert_eq!(format_value(1.2), "1.200");
        assert_eq!(format_value(0.016), "0.01600");
        assert_eq!(format_value(1234.56), "1234.6");
        assert_eq!(format_value(f64::NAN), "NaN");
    }

    #[test]
    fn values_round_trip_through_json_infinities_included() {
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
        let e =
            serde_json::from_str::<QueryValue>(r#"{"type":"scalar","value":"lots"}"#).unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
    }
}
