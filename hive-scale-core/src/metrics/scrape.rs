//! Direct scrape, for when no Prometheus runs: fetch `/metrics` pages, parse the text
//! exposition format, and compute what needs no PromQL (sums, histogram means, rates between two
//! scrapes) for the profile queries that declare a [`ScrapeSpec`].

use super::http::{self, Auth, HttpOptions, redact_url};
use super::profile::{Profile, ScrapeOp, ScrapeSpec};
use super::snapshot::{QueryOutcome, QueryResult, Snapshot};
use super::value::{QueryValue, Series};
use super::{MetricsError, names};
use openmetrics_parser::PrometheusValue;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WHAT: &str = "the metrics endpoint";

/// Per group (its `by` labels): sum of values (or of distribution sums), sum of distribution
/// counts, and whether the samples were distributions.
type Groups = BTreeMap<BTreeMap<String, String>, (f64, f64, bool)>;

/// One sample's value.
#[derive(Debug, Clone, PartialEq)]
enum SampleValue {
    /// A gauge, counter or untyped value.
    Number(f64),
    /// A histogram's or summary's sum and count, and a histogram's cumulative buckets
    /// `(le, count)`.
    Distribution {
        sum: f64,
        count: f64,
        buckets: Vec<(f64, f64)>,
    },
}

#[derive(Debug, Clone, Default)]
struct Family {
    samples: Vec<(BTreeMap<String, String>, SampleValue)>,
}

/// A parsed `/metrics` page (or several merged): metric families by name.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    families: HashMap<String, Family>,
}

impl Exposition {
    /// Parses the Prometheus text format (0.0.4); label values come out unescaped. A missing
    /// final newline is added.
    pub fn parse(text: &str) -> Result<Exposition, String> {
        if text.trim().is_empty() {
            return Ok(Exposition::default());
        }
        let owned;
        let text = if text.ends_with('\n') || text.is_empty() {
            text
        } else {
            owned = format!("{text}\n");
            &owned
        };
        let parsed = openmetrics_parser::prometheus::parse_prometheus(text).map_err(|e| {
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })?;
        let mut families = HashMap::with_capacity(parsed.families.len());
        for (name, fam) in parsed.families {
            let mut samples = Vec::new();
            for s in fam.iter_samples() {
                let labels = s
                    .get_labelset()
                    .map_err(|e| format!("{name}: {e}"))?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let value = match &s.value {
                    PrometheusValue::Unknown(n) | PrometheusValue::Gauge(n) => {
                        SampleValue::Number(n.as_f64())
                    }
                    PrometheusValue::Counter(c) => SampleValue::Number(c.value.as_f64()),
                    PrometheusValue::Histogram(h) => SampleValue::Distribution {
                        sum: h.sum.map(|n| n.as_f64()).unwrap_or(0.0),
                        count: h.count.unwrap_or(0) as f64,
                        buckets: h
                            .buckets
                            .iter()
                            .map(|b| (b.upper_bound, b.count.as_f64()))
                            .collect(),
                    },
                    PrometheusValue::Summary(h) => SampleValue::Distribution {
                        sum: h.sum.map(|n| n.as_f64()).unwrap_or(0.0),
                        count: h.count.unwrap_or(0) as f64,
                        buckets: Vec::new(),
                    },
                };
                samples.push((labels, value));
            }
            families.insert(name, Family { samples });
        }
        Ok(Exposition { families })
    }

    /// Adds another page's families (several pods of one deployment).
    pub fn merge(&mut self, other: Exposition) {
        for (name, fam) in other.families {
            self.families
                .entry(name)
                .or_default()
                .samples
                .extend(fam.samples);
        }
    }

    /// The family names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.families.keys().map(String::as_str)
    }

    /// Number of samples (a histogram series counts once).
    pub fn len(&self) -> usize {
        self.families.values().map(|f| f.samples.len()).sum()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A family by the name a profile uses; counters are found with or without `_total`.
    fn family(&self, metric: &str) -> Option<&Family> {
        self.families
            .get(metric)
            .or_else(|| self.families.get(&format!("{metric}_total")))
            .or_else(|| {
                metric
                    .strip_suffix("_total")
                    .and_then(|m| self.families.get(m))
            })
    }

    /// A histogram's cumulative buckets `(le, count)` summed over its series (a Prometheus
    /// `sum by (le)`), only those whose label `only.0` is one of `only.1` when given; `None`
    /// when the page has no such series.
    pub fn buckets(
        &self,
        metric: &str,
        only: Option<(&str, &[String])>,
    ) -> Option<Vec<(f64, f64)>> {
        let mut sum: std::collections::BTreeMap<u64, (f64, f64)> = Default::default();
        let mut found = false;
        let wanted = |labels: &BTreeMap<String, String>| match only {
            None => true,
            Some((label, values)) => labels
                .get(label)
                .is_some_and(|v| values.iter().any(|w| w == v)),
        };
        for (labels, v) in &self.family(metric)?.samples {
            if !wanted(labels) {
                continue;
            }
            if let SampleValue::Distribution { buckets, .. } = v {
                found = true;
                for (le, n) in buckets {
                    // Keyed by the bound's bits: bounds are the same floats in every series.
                    sum.entry(le.to_bits()).or_insert((*le, 0.0)).1 += n;
                }
            }
        }
        found.then(|| sum.into_values().collect())
    }

    /// The largest value of a gauge (`hive_sim_time_scale`), if it is there.
    pub fn max(&self, metric: &str) -> Option<f64> {
        self.family(metric)?
            .samples
            .iter()
            .filter_map(|(_, v)| match v {
                SampleValue::Number(n) => Some(*n),
                SampleValue::Distribution { .. } => None,
            })
            .reduce(f64::max)
    }

    /// Sums per group of `spec`: numbers, or distributions' `(sum, count)`.
    fn grouped(&self, spec: &ScrapeSpec) -> Groups {
        let mut groups = Groups::new();
        let Some(fam) = self.family(&spec.metric) else {
            return groups;
        };
        for (labels, value) in &fam.samples {
            let value_of = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
            if !spec.matchers.iter().all(|(k, v)| value_of(k) == v)
                || spec.exclude.iter().any(|(k, v)| value_of(k) == v)
            {
                continue;
            }
            let key: BTreeMap<String, String> = spec
                .by
                .iter()
                .filter_map(|l| {
                    labels
                        .get(l)
                        .filter(|v| !v.is_empty())
                        .map(|v| (l.clone(), v.clone()))
                })
                .collect();
            let g = groups.entry(key).or_insert((0.0, 0.0, false));
            match value {
                SampleValue::Number(n) => g.0 += n,
                SampleValue::Distribution { sum, count, .. } => {
                    g.0 += sum;
                    g.1 += count;
                    g.2 = true;
                }
            }
        }
        groups
    }
}

/// One scrape of every endpoint, merged.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// When it was taken, Unix seconds.
    pub t: f64,
    /// When it was taken, for intervals.
    pub at: Instant,
    /// What the endpoints said.
    pub exposition: Exposition,
}

/// Computes a scrape equivalent from the current scrape and, for rates, the one before.
pub fn evaluate(
    spec: &ScrapeSpec,
    cur: &Scrape,
    prev: Option<&Scrape>,
) -> Result<QueryValue, QueryOutcome> {
    let groups = cur.exposition.grouped(spec);
    let distribution = groups.values().any(|g| g.2);
    let series = match spec.op {
        ScrapeOp::Sum => {
            if distribution {
                return Err(QueryOutcome::Error {
                    error: format!(
                        "scrape op sum needs a gauge or counter; {} is a histogram (use mean or rate)",
                        spec.metric
                    ),
                });
            }
            groups
                .into_iter()
                .map(|(labels, (v, _, _))| Series { labels, value: v })
                .collect()
        }
        ScrapeOp::Mean => {
            if !groups.is_empty() && !distribution {
                return Err(QueryOutcome::Error {
                    error: format!(
                        "scrape op mean needs a histogram or summary; {} is not one",
                        spec.metric
                    ),
                });
            }
            groups
                .into_iter()
                .map(|(labels, (sum, count, _))| Series {
                    labels,
                    value: if count == 0.0 { f64::NAN } else { sum / count },
                })
                .collect()
        }
        ScrapeOp::Rate => {
            let Some(prev) = prev else {
                return Err(QueryOutcome::Unavailable {
                    reason: "a rate needs two scrapes".into(),
                });
            };
            let dt = cur.at.saturating_duration_since(prev.at).as_secs_f64();
            if dt <= 0.0 {
                return Err(QueryOutcome::Unavailable {
                    reason: "a rate needs two scrapes at different times".into(),
                });
            }
            let before = prev.exposition.grouped(spec);
            groups
                .into_iter()
                .filter_map(|(labels, (sum, count, dist))| {
                    // A group seen only now has no rate yet (as in Prometheus).
                    let (psum, pcount, _) = *before.get(&labels)?;
                    let (now, then) = if dist { (count, pcount) } else { (sum, psum) };
                    // A counter that went down was reset: it counted `now` since.
                    let delta = if now >= then { now - then } else { now };
                    Some(Series {
                        labels,
                        value: delta / dt,
                    })
                })
                .collect()
        }
    };
    Ok(QueryValue::Vector { series })
}

/// One endpoint: the URL requests go to, the same without credentials, to show, and the
/// credentials this endpoint (and no other) gets.
#[derive(Clone)]
struct Endpoint {
    url: reqwest::Url,
    shown: String,
    auth: Auth,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.shown)
            .field("auth", &self.auth)
            .finish()
    }
}

/// Scrapes `/metrics` endpoints and evaluates profiles from them.
pub struct Scraper {
    endpoints: Vec<Endpoint>,
    http: reqwest::Client,
    timeout: Duration,
    rate_window: Duration,
    last: parking_lot::Mutex<Option<Arc<Scrape>>>,
}

/// Another scraper of the same endpoints with the same credentials, with its own memory of the
/// last scrape (rates computed by one are not disturbed by the other's scrapes).
impl Clone for Scraper {
    fn clone(&self) -> Self {
        Self {
            endpoints: self.endpoints.clone(),
            http: self.http.clone(),
            timeout: self.timeout,
            rate_window: self.rate_window,
            last: parking_lot::Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for Scraper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scraper")
            .field("endpoints", &self.endpoints)
            .field("rate_window", &self.rate_window)
            .finish_non_exhaustive()
    }
}

impl Scraper {
    /// Scrapes these endpoints (their pages are merged: several pods of one deployment). The
    /// credentials of `opts` go to every endpoint; without them, user information in a URL is
    /// basic auth for that URL only. A secret in the query (`?token=...`) is sent as given.
    /// None is ever shown: see [`Scraper::urls`].
    ///
    /// # Errors
    ///
    /// No URL, a URL that is not http(s), or credentials that would go over plain HTTP to a
    /// host that is not loopback ([`MetricsError::InsecureCredentials`]) unless `opts` allows
    /// it; checked for every URL before anything is sent.
    pub fn new(urls: &[String], opts: &HttpOptions) -> Result<Self, MetricsError> {
        if urls.is_empty() {
            return Err(MetricsError::Invalid("no /metrics URL to scrape".into()));
        }
        let mut parsed = Vec::new();
        for u in urls {
            let (url, auth) = http::endpoint(u, "metrics", opts)?;
            parsed.push(Endpoint {
                shown: redact_url(url.as_str()),
                url,
                auth,
            });
        }
        Ok(Self {
            endpoints: parsed,
            http: opts.client()?,
            timeout: opts.timeout,
            rate_window: Duration::from_secs(2),
            last: parking_lot::Mutex::new(None),
        })
    }

    /// When the first snapshot needs a rate and there is no earlier scrape, it scrapes twice
    /// this far apart (default 2 s; zero: rates are unavailable until the next snapshot).
    pub fn with_rate_window(mut self, window: Duration) -> Self {
        self.rate_window = window;
        self
    }

    /// The endpoints, without credentials ([`redact_url`]).
    pub fn urls(&self) -> Vec<String> {
        self.endpoints.iter().map(|e| e.shown.clone()).collect()
    }

    /// Fetches and parses every endpoint.
    pub async fn scrape(&self) -> Result<Scrape, MetricsError> {
        let t = super::now_unix();
        let at = Instant::now();
        let pages =
            futures::future::try_join_all(self.endpoints.iter().map(|e| self.fetch(e))).await?;
        let mut exposition = Exposition::default();
        for p in pages {
            exposition.merge(p);
        }
        Ok(Scrape { t, at, exposition })
    }

    async fn fetch(&self, endpoint: &Endpoint) -> Result<Exposition, MetricsError> {
        let shown = endpoint.shown.as_str();
        let req = http::authorize(
            self.http.get(endpoint.url.clone()).header(
                reqwest::header::ACCEPT,
                "text/plain;version=0.0.4;q=1,*/*;q=0.1",
            ),
            &endpoint.auth,
        );
        let resp = req
            .send()
            .await
            .map_err(|e| http::transport_error(WHAT, shown, self.timeout, e))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| http::transport_error(WHAT, shown, self.timeout, e))?;
        let text = String::from_utf8_lossy(&body);
        if !(200..300).contains(&status) {
            return Err(MetricsError::Http {
                what: WHAT,
                url: shown.to_string(),
                status,
                message: text
                    .split_whitespace()
                    .take(30)
                    .collect::<Vec<_>>()
                    .join(" "),
            });
        }
        Exposition::parse(&text).map_err(|reason| MetricsError::BadResponse {
            what: WHAT,
            url: shown.to_string(),
            reason: format!("not the Prometheus text format: {reason}"),
            source: None,
        })
    }

    /// Evaluates the profile: queries with a scrape equivalent from the page (rates against the
    /// previous snapshot's scrape), the others marked unavailable.
    pub async fn snapshot(&self, profile: &Profile) -> Result<Snapshot, MetricsError> {
        let started = Instant::now();
        let needs_rate = profile
            .queries
            .iter()
            .any(|q| q.scrape.as_ref().is_some_and(|s| s.op == ScrapeOp::Rate));
        let mut prev = self.last.lock().clone();
        let mut cur = Arc::new(self.scrape().await?);
        if needs_rate && prev.is_none() && !self.rate_window.is_zero() {
            tokio::time::sleep(self.rate_window).await;
            prev = Some(cur);
            cur = Arc::new(self.scrape().await?);
        }
        *self.last.lock() = Some(cur.clone());
        let time_scale = cur
            .exposition
            .max(names::SIM_TIME_SCALE)
            .filter(|k| k.is_finite() && *k > 0.0);
        let results = profile
            .queries
            .iter()
            .map(|q| {
                let outcome = match &q.scrape {
                    Some(spec) => evaluate(spec, &cur, prev.as_deref()),
                    None => Err(QueryOutcome::Unavailable {
                        reason: "no scrape equivalent: needs Prometheus".into(),
                    }),
                };
                QueryResult::new(q, outcome, time_scale)
            })
            .collect();
        Ok(Snapshot {
            t: cur.t,
            source: format!("scrape {}", self.urls().join(",")),
            profile: profile.name.clone(),
            time_scale,
            modeled: time_scale.is_some(),
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# HELP workqueue_depth Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{name="clusterSync-controller",controller="clusterSync-controller",priority="0"} 40
workqueue_depth{name="clusterSync-controller",controller="clusterSync-controller",priority="-100"} 2
workqueue_depth{name="clusterdeployment-controller",controller="clusterdeployment-controller",priority="0"} 1
# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="clusterSync-controller",result="success"} 100
controller_runtime_reconcile_total{controller="clusterSync-controller",result="error"} 4
# HELP hive_syncsetinstance_apply_duration_seconds Time to apply a resource or secret
# TYPE hive_syncsetinstance_apply_duration_seconds histogram
hive_syncsetinstance_apply_duration_seconds_bucket{type="apply",result="success",le="0.5"} 1
hive_syncsetinstance_apply_duration_seconds_bucket{type="apply",result="success",le="+Inf"} 4
hive_syncsetinstance_apply_duration_seconds_sum{type="apply",result="success"} 2.4
hive_syncsetinstance_apply_duration_seconds_count{type="apply",result="success"} 4
# HELP hive_sim_time_scale Modeled seconds per real second
# TYPE hive_sim_time_scale gauge
hive_sim_time_scale 10
# HELP weird A label with escapes
# TYPE weird gauge
weird{path="a\"b\\c"} 1
# HELP process_cpu_seconds CPU
# TYPE process_cpu_seconds gauge
process_cpu_seconds 12.5"#;

    fn spec(metric: &str, op: ScrapeOp, by: &[&str]) -> ScrapeSpec {
        ScrapeSpec {
            metric: metric.into(),
            op,
            by: by.iter().map(|s| s.to_string()).collect(),
            matchers: BTreeMap::new(),
            exclude: BTreeMap::new(),
        }
    }

    fn scrape(text: &str, at: Instant) -> Scrape {
        Scrape {
            t: 0.0,
            at,
            exposition: Exposition::parse(text).unwrap(),
        }
    }

    fn by_name(v: &QueryValue) -> BTreeMap<String, f64> {
        v.values()
            .into_iter()
            .map(|(l, v)| (l.values().cloned().collect::<Vec<_>>().join(","), v))
            .collect()
    }

    #[test]
    fn sums_group_by_labels_across_priorities() {
        let s = scrape(PAGE, Instant::now());
        let v = evaluate(&spec("workqueue_depth", ScrapeOp::Sum, &["name"]), &s, None).unwrap();
        let m = by_name(&v);
        assert_eq!(m["clusterSync-controller"], 42.0);
        assert_eq!(m["clusterdeployment-controller"], 1.0);
        let v = evaluate(&spec("workqueue_depth", ScrapeOp::Sum, &[]), &s, None).unwrap();
        assert_eq!(v.total(), Some(43.0));
        let mut only = spec("controller_runtime_reconcile_total", ScrapeOp::Sum, &[]);
        only.matchers.insert("result".into(), "error".into());
        assert_eq!(evaluate(&only, &s, None).unwrap().total(), Some(4.0));
        let mut but = spec("controller_runtime_reconcile_total", ScrapeOp::Sum, &[]);
        but.exclude.insert("result".into(), "error".into());
        let all = spec("controller_runtime_reconcile_total", ScrapeOp::Sum, &[]);
        assert_eq!(
            evaluate(&but, &s, None).unwrap().total(),
            Some(evaluate(&all, &s, None).unwrap().total().unwrap() - 4.0)
        );
        // A metric nobody exports: no series, as Prometheus answers.
        assert!(
            evaluate(&spec("nothing", ScrapeOp::Sum, &[]), &s, None)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn means_are_sum_over_count_and_wrong_ops_say_so() {
        let s = scrape(PAGE, Instant::now());
        let v = evaluate(
            &spec(
                "hive_syncsetinstance_apply_duration_seconds",
                ScrapeOp::Mean,
                &["type"],
            ),
            &s,
            None,
        )
        .unwrap();
        assert!((v.total().unwrap() - 0.6).abs() < 1e-12);
        let e = evaluate(
            &spec(
                "hive_syncsetinstance_apply_duration_seconds",
                ScrapeOp::Sum,
                &[],
            ),
            &s,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&e, QueryOutcome::Error { error } if error.contains("is a histogram")),
            "{e:?}"
        );
        let e = evaluate(&spec("workqueue_depth", ScrapeOp::Mean, &[]), &s, None).unwrap_err();
        assert!(
            matches!(&e, QueryOutcome::Error { error } if error.contains("needs a histogram")),
            "{e:?}"
        );
    }

    #[test]
    fn rates_come_from_two_scrapes_and_survive_resets() {
        let t0 = Instant::now();
        let before = scrape(PAGE, t0);
        let after_text = PAGE
            .replace(r#"result="success"} 100"#, r#"result="success"} 120"#)
            .replace(r#"result="error"} 4"#, r#"result="error"} 1"#)
            .replace("process_cpu_seconds 12.5", "process_cpu_seconds 13.5");
        let after = scrape(&after_text, t0 + Duration::from_secs(10));
        let r = spec(
            "controller_runtime_reconcile_total",
            ScrapeOp::Rate,
            &["result"],
        );
        let v = evaluate(&r, &after, Some(&before)).unwrap();
        let m = by_name(&v);
        assert_eq!(m["success"], 2.0);
        assert_eq!(m["error"], 0.1, "reset: 1 counted since");
        let e = evaluate(&r, &after, None).unwrap_err();
        assert!(matches!(e, QueryOutcome::Unavailable { .. }));
        // The name with _total finds a family exported without it.
        let cpu = evaluate(
            &spec("process_cpu_seconds_total", ScrapeOp::Rate, &[]),
            &after,
            Some(&before),
        )
        .unwrap();
        assert_eq!(cpu.total(), Some(0.1));
        let h = evaluate(
            &spec(
                "hive_syncsetinstance_apply_duration_seconds",
                ScrapeOp::Rate,
                &[],
            ),
            &after,
            Some(&before),
        )
        .unwrap();
        assert_eq!(h.total(), Some(0.0), "rate of the count");
    }

    #[test]
    fn pages_parse_with_escapes_and_without_a_final_newline() {
        let e = Exposition::parse(PAGE).unwrap();
        assert_eq!(e.max("hive_sim_time_scale"), Some(10.0));
        let fam = e.family("weird").unwrap();
        assert_eq!(fam.samples[0].0["path"], "a\"b\\c");
        assert!(e.len() > 5 && !e.is_empty());
        assert!(e.names().any(|n| n == "workqueue_depth"));
        let err = Exposition::parse("this is not metrics\n").unwrap_err();
        assert!(!err.contains('\n'));
        assert!(Exposition::parse("").unwrap().is_empty());
    }

    /// A `/metrics` server that answers every path with a one-line page and records each
    /// request's path and `Authorization` header (empty when none came).
    async fn recording_server() -> (
        String,
        Arc<parking_lot::Mutex<Vec<(String, String)>>>,
        tokio::task::JoinHandle<()>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                    let auth = req
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("authorization")
                                .then(|| v.trim().to_string())
                        })
                        .unwrap_or_default();
                    log.lock().push((path, auth));
                    let body = "up 1\n";
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        (format!("127.0.0.1:{}", addr.port()), seen, task)
    }

    #[tokio::test]
    async fn user_information_in_one_url_goes_to_that_url_only() {
        let (addr, seen, server) = recording_server().await;
        let urls = [
            format!("http://alice:pw@{addr}/a/metrics"),
            format!("http://{addr}/b/metrics"),
            format!("http://bob:other@{addr}/c/metrics"),
        ];
        let s = Scraper::new(&urls, &HttpOptions::default()).unwrap();
        s.scrape().await.unwrap();
        let mut got = seen.lock().clone();
        got.sort();
        assert_eq!(
            got,
            [
                // base64("alice:pw"), base64("bob:other")
                ("/a/metrics".to_string(), "Basic YWxpY2U6cHc=".to_string()),
                ("/b/metrics".to_string(), String::new()),
                ("/c/metrics".to_string(), "Basic Ym9iOm90aGVy".to_string()),
            ]
        );
        assert!(!format!("{s:?}").contains("pw"), "{s:?}");

        // Credentials given for the source (the flags) go to every URL, in place of a URL's.
        seen.lock().clear();
        let s = Scraper::new(&urls, &HttpOptions::default().with_token("tok")).unwrap();
        s.scrape().await.unwrap();
        let got = seen.lock().clone();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|(_, a)| a == "Bearer tok"), "{got:?}");
        server.abort();
    }

    #[test]
    fn credentials_for_a_remote_plain_http_url_are_refused_before_anything_is_sent() {
        // One URL of several is enough to refuse them all, whichever position it has.
        let urls = [
            "http://127.0.0.1:1/metrics".to_string(),
            "http://u:pw-SECRET@hive-clustersync.hive.svc:2112/metrics".to_string(),
        ];
        let e = Scraper::new(&urls, &HttpOptions::default()).unwrap_err();
        assert!(
            matches!(e, MetricsError::InsecureCredentials { .. }),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("http://hive-clustersync.hive.svc:2112/metrics")
                && text.contains("--allow-insecure-credentials")
                && !text.contains("SECRET"),
            "{text}"
        );
        let allowed = HttpOptions::default().with_insecure_credentials(true);
        assert!(Scraper::new(&urls, &allowed).is_ok());
        // Without credentials the Job's scrape of Hive's service stays as it was.
        let job = ["http://hive-clustersync.hive.svc:2112/metrics".to_string()];
        assert!(Scraper::new(&job, &HttpOptions::default()).is_ok());
        let e = Scraper::new(&job, &HttpOptions::default().with_token("t")).unwrap_err();
        assert!(
            matches!(e, MetricsError::InsecureCredentials { .. }),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_fails_the_snapshot() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = Scraper::new(
            &[format!("http://127.0.0.1:{port}/metrics")],
            &HttpOptions::default(),
        )
        .unwrap();
        let e = s.snapshot(&Profile::builtin()).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot reach the metrics endpoint at http://127.0.0.1:"),
            "{e}"
        );
        assert!(Scraper::new(&[], &HttpOptions::default()).is_err());
    }
}
