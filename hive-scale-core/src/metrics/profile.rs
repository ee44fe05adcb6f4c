//! Metric profiles: named PromQL queries with a unit and a kind, as YAML data
//! (`config/profiles/*.yaml`).

use super::{MetricsError, YamlError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What a query's value is, which decides how it is converted to modeled time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A level: queue depth, memory.
    Gauge,
    /// Per second. Divided by the simulator's time scale (per modeled second) unless the query
    /// says `convert: false`.
    Rate,
    /// Seconds. The simulator records modeled seconds already, so never converted.
    Duration,
    /// A number of things.
    Count,
}

impl Kind {
    /// The lowercase name used in profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Rate => "rate",
            Kind::Duration => "duration",
            Kind::Count => "count",
        }
    }
}

/// How a scrape equivalent combines samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScrapeOp {
    /// Sum of a gauge's or counter's values.
    Sum,
    /// A histogram's (or summary's) sum divided by its count: the mean since the process started.
    Mean,
    /// A counter's increase between two scrapes divided by the seconds between them (for a
    /// histogram, its count's).
    Rate,
}

/// How to compute a query from one `/metrics` page, without Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeSpec {
    /// The metric family (`workqueue_depth`, `hive_syncsetinstance_apply_duration_seconds`,
    /// `controller_runtime_reconcile_total`).
    pub metric: String,
    /// How to combine its samples.
    pub op: ScrapeOp,
    /// Labels to group by; none: one value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by: Vec<String>,
    /// Only samples whose labels have exactly these values.
    #[serde(default, rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub matchers: BTreeMap<String, String>,
    /// Leaves out samples whose labels have these values (PromQL's `!=`): say, clustersync's
    /// `skipped-sync` reconciles of clusters another replica owns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exclude: BTreeMap<String, String>,
}

/// One query of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileQuery {
    /// Short name: the key in snapshots and the chart's file name (`[A-Za-z0-9_.-]`).
    pub name: String,
    /// What a person calls it (chart title).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// The PromQL expression.
    pub query: String,
    /// The unit of the value (`items`, `s`, `1/s`, `cores`, `bytes`).
    #[serde(default)]
    pub unit: String,
    /// What the value is.
    pub kind: Kind,
    /// Whether to divide by the simulator's time scale; default: yes for rates, no otherwise.
    /// Measurements of the real process (its CPU) say `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert: Option<bool>,
    /// The same value from a `/metrics` page, when it can be had without PromQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape: Option<ScrapeSpec>,
}

impl ProfileQuery {
    /// Whether values are divided by the time scale when the target has one.
    pub fn converts(&self) -> bool {
        self.convert.unwrap_or(self.kind == Kind::Rate)
    }

    /// The title, or the name when there is none.
    pub fn display_title(&self) -> &str {
        if self.title.is_empty() {
            &self.name
        } else {
            &self.title
        }
    }
}

/// Which queries the report reasons about: a queue and the rate it drains at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Findings {
    /// The queue-depth query.
    pub queue: String,
    /// The label naming the queue in its series.
    pub queue_label: String,
    /// The rate the queues drain at (reconciles per second, every reconcile).
    pub rate: String,
    /// The label of the rate's series that names the queue (compared as controllers are
    /// named: case aside, with or without `-controller`).
    pub rate_label: String,
    /// The rate of the reconciles that did work, for the re-apply: with clustersync replicas
    /// every pod reconciles every cluster and ends those it does not own as `skipped-sync`, so
    /// the queue drains faster than clusters are synced. `rate` when not given or not recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_rate: Option<String>,
    /// The label that tells replicas of one controller apart (`pod`, as Prometheus labels each
    /// clustersync pod's series): with it, the sync queue's findings are also given per
    /// replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_label: Option<String>,
}

impl Default for Findings {
    fn default() -> Self {
        Self {
            queue: "workqueue_depth".into(),
            queue_label: "name".into(),
            rate: "reconcile_rate".into(),
            rate_label: "controller".into(),
            work_rate: None,
            replica_label: None,
        }
    }
}

/// A named set of queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The queries, in display order.
    pub queries: Vec<ProfileQuery>,
    /// What the report reasons about.
    #[serde(default)]
    pub findings: Findings,
}

/// `config/profiles/default.yaml`, compiled in.
pub const DEFAULT_PROFILE_YAML: &str = include_str!("../../../config/profiles/default.yaml");

/// `config/profiles/hive-2020.yaml`, compiled in.
pub const HIVE_2020_PROFILE_YAML: &str = include_str!("../../../config/profiles/hive-2020.yaml");

impl Profile {
    /// The built-in default profile (`config/profiles/default.yaml`).
    pub fn builtin() -> Profile {
        Self::from_yaml(DEFAULT_PROFILE_YAML, "(built-in default)")
            .expect("the built-in profile is valid (tested)")
    }

    /// The built-in 2020 profile (`config/profiles/hive-2020.yaml`).
    pub fn hive_2020() -> Profile {
        Self::from_yaml(HIVE_2020_PROFILE_YAML, "(built-in hive-2020)")
            .expect("the built-in profile is valid (tested)")
    }

    /// Reads a profile file. Errors are one line naming the file and the problem.
    pub fn load(path: &Path) -> Result<Profile, MetricsError> {
        let text = std::fs::read_to_string(path).map_err(|source| MetricsError::ProfileRead {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Parses and validates a profile; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Profile, MetricsError> {
        let p: Profile = serde_saphyr::from_str(text).map_err(|e| MetricsError::ProfileParse {
            origin: origin.to_string(),
            source: YamlError(Box::new(e)),
        })?;
        p.validate().map_err(|reason| MetricsError::Profile {
            origin: origin.to_string(),
            reason,
        })?;
        Ok(p)
    }

    /// Checks names and fields that YAML alone cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("the profile has no name".into());
        }
        if self.queries.is_empty() {
            return Err("the profile has no queries".into());
        }
        let mut seen = std::collections::HashSet::new();
        for (i, q) in self.queries.iter().enumerate() {
            let at = if q.name.is_empty() {
                format!("queries[{i}]")
            } else {
                format!("query {:?}", q.name)
            };
            if q.name.is_empty()
                || !q
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                || q.name.starts_with('.')
            {
                return Err(format!(
                    "{at}: the name must be letters, digits, '_', '-' or '.'"
                ));
            }
            if !seen.insert(q.name.as_str()) {
                return Err(format!("{at}: the name is used twice"));
            }
            if q.query.trim().is_empty() {
                return Err(format!("{at}: the query is empty"));
            }
            if let Some(s) = &q.scrape {
                if s.metric.trim().is_empty() {
                    return Err(format!("{at}: scrape.metric is empty"));
                }
                if s.by.iter().any(|l| l.is_empty()) {
                    return Err(format!("{at}: scrape.by has an empty label name"));
                }
            }
        }
        Ok(())
    }

    /// The query of that name.
    pub fn get(&self, name: &str) -> Option<&ProfileQuery> {
        self.queries.iter().find(|q| q.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_profiles_cover_the_2020_dashboard() {
        for p in [Profile::builtin(), Profile::hive_2020()] {
            for name in [
                "workqueue_depth",
                "apply_duration_mean",
                "resources_applied_rate",
                "remote_request_latency",
                "local_request_latency",
                "reconcile_rate",
                "selectorsyncset_apply_duration_mean",
                "client_request_rate",
                "process_cpu",
                "process_memory",
            ] {
                assert!(p.get(name).is_some(), "{} lacks {name}", p.name);
            }
        }
        let p = Profile::builtin();
        assert_eq!(p.name, "default");
        assert_eq!(
            p.get("workqueue_depth").unwrap().query,
            "sum by (name, pod) (workqueue_depth)",
            "by pod too: each clustersync replica has its own queue"
        );
        assert_eq!(p.findings.replica_label.as_deref(), Some("pod"));
        let rate = p.get("reconcile_rate").unwrap();
        assert_eq!(rate.kind, Kind::Rate);
        assert!(rate.converts());
        assert!(!p.get("process_cpu").unwrap().converts(), "real CPU");
        assert!(!p.get("apply_duration_mean").unwrap().converts());
        let lat = p
            .get("remote_request_latency")
            .unwrap()
            .scrape
            .clone()
            .unwrap();
        assert_eq!(lat.op, ScrapeOp::Mean);
        assert_eq!(lat.matchers["remote"], "true");
        assert_eq!(
            p.findings,
            Findings {
                replica_label: Some("pod".into()),
                work_rate: Some("sync_rate".into()),
                ..Findings::default()
            }
        );
        // Every default query can be computed from /metrics alone.
        assert!(p.queries.iter().all(|q| q.scrape.is_some()));
    }

    #[test]
    fn a_profile_round_trips_through_json() {
        let p = Profile::builtin();
        let back: Profile = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(p, back);
    }

    #[test]
    fn loading_errors_are_one_line_naming_file_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.yaml");
        std::fs::write(
            &f,
            "name: x\nqueries:\n  - name: a\n    query: up\n    kind: gauge\n    kidn: rate\n",
        )
        .unwrap();
        let e = crate::error::chain(&Profile::load(&f).unwrap_err());
        assert!(e.starts_with(&format!("profile {}: ", f.display())), "{e}");
        assert!(e.contains("kidn"), "{e}");
        assert!(!e.contains('\n'), "{e}");

        std::fs::write(
            &f,
            "name: x\nqueries:\n  - name: a\n    query: up\n    kind: speed\n",
        )
        .unwrap();
        let e = crate::error::chain(&Profile::load(&f).unwrap_err());
        assert!(e.contains("speed"), "{e}");

        std::fs::write(
            &f,
            "name: x\nqueries:\n  - {name: a, query: up, kind: gauge}\n  - {name: a, query: up, kind: gauge}\n",
        )
        .unwrap();
        let e = crate::error::chain(&Profile::load(&f).unwrap_err());
        assert!(e.contains("query \"a\": the name is used twice"), "{e}");

        std::fs::write(
            &f,
            "name: x\nqueries:\n  - {name: 'a/b', query: up, kind: gauge}\n",
        )
        .unwrap();
        let e = crate::error::chain(&Profile::load(&f).unwrap_err());
        assert!(e.contains("letters, digits"), "{e}");

        std::fs::write(&f, "name: x\nqueries: []\n").unwrap();
        assert!(
            Profile::load(&f)
                .unwrap_err()
                .to_string()
                .contains("no queries")
        );

        std::fs::write(
            &f,
            "name: x\nqueries:\n  - {name: a, query: ' ', kind: gauge}\n",
        )
        .unwrap();
        assert!(
            Profile::load(&f)
                .unwrap_err()
                .to_string()
                .contains("query is empty")
        );

        let e = Profile::load(&dir.path().join("none.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("profile ") && e.contains("none.yaml"), "{e}");
    }

    #[test]
    fn scrape_ops_and_defaults_parse() {
        let p = Profile::from_yaml(
            "name: t\nqueries:\n  - name: q\n    query: up\n    kind: rate\n    convert: false\n    scrape: {metric: m, op: rate}\nfindings: {queue: q}\n",
            "t",
        )
        .unwrap();
        let q = &p.queries[0];
        assert!(!q.converts());
        assert_eq!(q.scrape.as_ref().unwrap().op, ScrapeOp::Rate);
        assert_eq!(p.findings.queue, "q");
        assert_eq!(p.findings.rate, "reconcile_rate", "defaults fill the rest");
        assert_eq!(q.display_title(), "q");
    }
}
