//! The API call latency SLO of SIG Scalability, checked from kube-apiserver's
//! `apiserver_request_duration_seconds` histogram: the 99th percentile per 5-minute window,
//! grouped and limited as the SLO says.
//!
//! * mutating calls on single objects (POST, PUT, PATCH, DELETE), by (resource, verb): 1 s;
//! * non-streaming reads (GET, LIST), by (resource, scope): 1 s for scope `resource`, 5 s for
//!   `namespace`, 30 s for `cluster`.
//!
//! Input is a series of [`DurationSample`]s: the histogram's cumulative bucket counts at
//! several instants, from the embedded hub's own counters, a `/metrics` page read repeatedly
//! ([`DurationSample::from_exposition`]) or a Prometheus range query
//! ([`DurationSample::from_range`]). Everything here is a pure function of those samples.
//!
//! The official SLO leaves out custom resources and aggregated APIs. Hive's objects are custom
//! resources and they are what a scale test of Hive loads, so they are checked against the
//! same limits and marked [`SloGroup::custom_resource`]: a reference figure, not the SLO.

use super::value::RangeSeries;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// kube-apiserver's buckets of `apiserver_request_duration_seconds` (seconds).
pub const DURATION_BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// The SLO's window: the P99 is taken over 5 minutes.
pub const WINDOW_SECONDS: f64 = 300.0;

/// The quantile the SLO limits.
pub const QUANTILE: f64 = 0.99;

/// The verbs the SLO reads; the PromQL selector of [`DurationSample::from_range`]'s query.
///
/// Summed over instances (and the labels the check does not group by), so a hub's several
/// API servers are one histogram and a long run stays within Prometheus' sample limits; only
/// the `apiserver` job (kube-apiserver), since openshift-apiserver and oauth-apiserver export a
/// histogram of the same name.
pub const PROMQL: &str = "sum by (verb, group, resource, scope, le) (apiserver_request_duration_seconds_bucket{job=\"apiserver\", verb=~\"GET|LIST|POST|PUT|PATCH|DELETE\"})";

/// One series of the duration histogram at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationSeries {
    /// `GET`, `LIST`, `POST`...
    pub verb: String,
    /// API group; empty for the core group.
    pub group: String,
    /// The resource's plural.
    pub resource: String,
    /// `resource`, `namespace` or `cluster`.
    pub scope: String,
    /// The other labels that tell series apart (subresource, dry_run, an instance in a
    /// Prometheus result), folded into one string: increases are taken per series, then
    /// summed within a group.
    pub id: String,
    /// `(le, cumulative count)`, ascending, `+Inf` last.
    pub buckets: Vec<(f64, f64)>,
}

/// The duration histogram at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurationSample {
    /// Seconds on any clock shared by the samples of one check (Unix seconds usually).
    pub at: f64,
    /// Every series.
    pub series: Vec<DurationSeries>,
}

type Key = (String, String, String, String, String);

/// Buckets gathered per label set (the `le` label taken out).
type ByLabels = BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>>;

fn key(s: &DurationSeries) -> Key {
    (
        s.verb.clone(),
        s.group.clone(),
        s.resource.clone(),
        s.scope.clone(),
        s.id.clone(),
    )
}

/// Builds a series from its labels (the `le` label excluded) and buckets.
fn series_from_labels(
    labels: &BTreeMap<String, String>,
    buckets: Vec<(f64, f64)>,
) -> DurationSeries {
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let id = labels
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "verb" | "group" | "resource" | "scope" | "le"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut buckets = buckets;
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    DurationSeries {
        verb: get("verb"),
        group: get("group"),
        resource: get("resource"),
        scope: get("scope"),
        id,
        buckets,
    }
}

pub(crate) fn parse_le(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => v.parse().ok(),
    }
}

impl DurationSample {
    /// The `apiserver_request_duration_seconds_bucket` lines of a Prometheus text exposition
    /// (a `/metrics` page), taken at `at`. Lines that do not parse are skipped: the page is
    /// somebody else's and one odd line must not cost the whole check.
    pub fn from_exposition(text: &str, at: f64) -> Self {
        let prefix = "apiserver_request_duration_seconds_bucket{";
        let mut by_labels = ByLabels::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(prefix) else {
                continue;
            };
            let Some((mut labels, after)) = parse_labels(rest) else {
                continue;
            };
            let Some(value) = after
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
            else {
                continue;
            };
            let Some(le) = labels.remove("le").as_deref().and_then(parse_le) else {
                continue;
            };
            by_labels.entry(labels).or_default().push((le, value));
        }
        DurationSample {
            at,
            series: by_labels
                .into_iter()
                .map(|(l, b)| series_from_labels(&l, b))
                .collect(),
        }
    }

    /// Samples from a Prometheus range query of [`PROMQL`]: one sample per evaluation instant.
    pub fn from_range(series: &[RangeSeries]) -> Vec<Self> {
        let mut at: BTreeMap<u64, ByLabels> = BTreeMap::new();
        for s in series {
            let mut labels = s.labels.clone();
            let Some(le) = labels.remove("le").as_deref().and_then(parse_le) else {
                continue;
            };
            labels.remove("__name__");
            for p in &s.points {
                // Range results share evaluation instants: millisecond keys group them.
                at.entry((p.t * 1000.0).round() as u64)
                    .or_default()
                    .entry(labels.clone())
                    .or_default()
                    .push((le, p.v));
            }
        }
        at.into_iter()
            .map(|(ms, by_labels)| DurationSample {
                at: ms as f64 / 1000.0,
                series: by_labels
                    .into_iter()
                    .map(|(l, b)| series_from_labels(&l, b))
                    .collect(),
            })
            .collect()
    }
}

/// `name="value",...}` to the labels and what follows the `}`.
fn parse_labels(text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (name, after) = rest.split_once('=')?;
        let mut chars = after.strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        };
        labels.insert(name.trim().to_string(), value);
        rest = &after[end + 2..];
    }
}

/// Prometheus' `histogram_quantile`: the `q` quantile of cumulative `(le, count)` buckets,
/// interpolated linearly inside the bucket it falls in. `None` where Prometheus gives NaN: no
/// observations, no `+Inf` bucket, fewer than two buckets, or `q` outside 0..=1. A quantile in
/// the `+Inf` bucket is the largest finite bound (the histogram cannot tell more).
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) || buckets.len() < 2 {
        return None;
    }
    let mut b = buckets.to_vec();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.last()?.0 != f64::INFINITY {
        return None;
    }
    // Counts sampled at slightly different moments can dip; cumulative counts never do.
    for i in 1..b.len() {
        b[i].1 = b[i].1.max(b[i - 1].1);
    }
    let total = b.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let i = b.iter().position(|(_, c)| *c >= rank)?;
    if i == b.len() - 1 {
        return Some(b[b.len() - 2].0);
    }
    let (upper, count) = b[i];
    if i == 0 && upper <= 0.0 {
        return Some(upper);
    }
    let (lower, below) = if i == 0 { (0.0, 0.0) } else { b[i - 1] };
    let inside = count - below;
    if inside <= 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * (rank - below) / inside)
}

/// How a series' cumulative buckets grew from `before` to `after`; a series that counts less
/// than before was restarted (a counter reset) and everything it holds is new.
fn growth(before: Option<&[(f64, f64)]>, after: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let Some(before) = before else {
        return after.to_vec();
    };
    let old: HashMap<u64, f64> = before.iter().map(|(le, c)| (le.to_bits(), *c)).collect();
    let reset = after
        .iter()
        .any(|(le, c)| old.get(&le.to_bits()).is_some_and(|o| c < o));
    after
        .iter()
        .map(|(le, c)| {
            let base = if reset {
                0.0
            } else {
                old.get(&le.to_bits()).copied().unwrap_or(0.0)
            };
            (*le, c - base)
        })
        .collect()
}

/// Which SLO group a series belongs to, or `None` for what the SLO does not cover (watches,
/// collection deletes, non-resource URLs).
fn group_of(s: &DurationSeries) -> Option<GroupKey> {
    if s.resource.is_empty() {
        return None;
    }
    let resource = if s.group.is_empty() {
        s.resource.clone()
    } else {
        format!("{}.{}", s.resource, s.group)
    };
    match s.verb.as_str() {
        "POST" | "PUT" | "PATCH" | "DELETE" => Some(GroupKey {
            resource,
            verb: Some(s.verb.clone()),
            scope: None,
            custom: is_custom(&s.group),
        }),
        "GET" | "LIST" if matches!(s.scope.as_str(), "resource" | "namespace" | "cluster") => {
            Some(GroupKey {
                resource,
                verb: None,
                scope: Some(s.scope.clone()),
                custom: is_custom(&s.group),
            })
        }
        _ => None,
    }
}

/// Kubernetes' own groups are the core group, the unqualified ones (`apps`, `batch`...) and
/// `*.k8s.io`; anything else is a custom resource or an aggregated API.
fn is_custom(group: &str) -> bool {
    group.contains('.') && !group.ends_with(".k8s.io") && group != "k8s.io"
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct GroupKey {
    resource: String,
    verb: Option<String>,
    scope: Option<String>,
    custom: bool,
}

impl GroupKey {
    fn limit(&self) -> f64 {
        match self.scope.as_deref() {
            Some("namespace") => 5.0,
            Some("cluster") => 30.0,
            _ => 1.0,
        }
    }
}

/// Whether the SLO held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SloStatus {
    /// Every group's worst window was within its limit (or nothing was requested).
    Passed,
    /// Some group's worst window exceeded its limit.
    Failed,
    /// The hub's API server latency could not be read (see [`SloReport::reason`]).
    NotMeasured,
}

impl std::fmt::Display for SloStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SloStatus::Passed => "passed",
            SloStatus::Failed => "failed",
            SloStatus::NotMeasured => "not measured",
        })
    }
}

/// One group of the SLO and how it fared.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SloGroup {
    /// `configmaps`, `clusterdeployments.hive.openshift.io`.
    pub resource: String,
    /// The verb, for mutating calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// The scope, for reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A custom resource or aggregated API: outside the official SLO, checked as a reference.
    pub custom_resource: bool,
    /// Requests in the run.
    pub requests: u64,
    /// The worst window's P99 (seconds).
    pub p99_seconds: f64,
    /// Where that window started, seconds after the first sample.
    pub window_start_seconds: f64,
    /// The limit (the SLO's, times the factor).
    pub limit_seconds: f64,
    /// Whether the worst window was within the limit.
    pub passed: bool,
}

impl SloGroup {
    /// `POST clusterdeployments.hive.openshift.io` or `LIST configmaps (namespace)`-like text.
    pub fn label(&self) -> String {
        match (&self.verb, &self.scope) {
            (Some(v), _) => format!("{v} {}", self.resource),
            (None, Some(s)) => format!("GET/LIST {} ({s} scope)", self.resource),
            (None, None) => self.resource.clone(),
        }
    }
}

/// The SLO check of a run: the `api_slo` section of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SloReport {
    /// Whether it held.
    pub status: SloStatus,
    /// Why it was not measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the samples came from (`the embedded API server`, a Prometheus URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The factor the SLO's limits were multiplied by.
    pub factor: f64,
    /// The window (seconds); a run shorter than that is one window.
    pub window_seconds: f64,
    /// Windows checked.
    pub windows: usize,
    /// Seconds between the first and the last sample.
    pub span_seconds: f64,
    /// Every group that saw requests, failing ones first.
    pub groups: Vec<SloGroup>,
}

impl SloReport {
    /// A report that says why nothing was measured.
    pub fn not_measured(reason: impl Into<String>, factor: f64) -> Self {
        Self {
            status: SloStatus::NotMeasured,
            reason: Some(reason.into()),
            source: None,
            factor,
            window_seconds: WINDOW_SECONDS,
            windows: 0,
            span_seconds: 0.0,
            groups: Vec::new(),
        }
    }

    /// The groups that failed.
    pub fn failed(&self) -> impl Iterator<Item = &SloGroup> {
        self.groups.iter().filter(|g| !g.passed)
    }
}

/// Windows as `(first, last)` sample indices: 5-minute tiles from the first sample, the last
/// one ending at the last sample and reaching back a full window (it may overlap the tile
/// before it), so every window is as long as the SLO's while the samples allow. A run shorter
/// than a window is one window.
fn windows(at: &[f64]) -> Vec<(usize, usize)> {
    let n = at.len();
    if n < 2 {
        return Vec::new();
    }
    let last = n - 1;
    let mut out = Vec::new();
    let mut i = 0;
    while i < last {
        let j = (i + 1..=last)
            .take_while(|&j| at[j] - at[i] <= WINDOW_SECONDS + 1e-9)
            .last()
            .unwrap_or(i + 1);
        if j == last && !out.is_empty() && at[last] - at[i] < WINDOW_SECONDS {
            // A short tail: the last full window instead.
            let start = (0..last)
                .find(|&s| at[last] - at[s] <= WINDOW_SECONDS + 1e-9)
                .unwrap_or(i)
                .min(i);
            out.push((start, last));
            break;
        }
        out.push((i, j));
        i = j;
    }
    out
}

/// Per group, the increase of the summed buckets between samples `i` and `j`.
fn increases(
    samples: &[DurationSample],
    i: usize,
    j: usize,
) -> BTreeMap<GroupKey, Vec<(f64, f64)>> {
    let mut by_series: HashMap<Key, Vec<(f64, f64)>> = HashMap::new();
    let index: Vec<HashMap<Key, &DurationSeries>> = samples[i..=j]
        .iter()
        .map(|s| s.series.iter().map(|x| (key(x), x)).collect())
        .collect();
    for k in 1..index.len() {
        for (key, s) in &index[k] {
            let before = index[k - 1].get(key).map(|p| p.buckets.as_slice());
            let g = growth(before, &s.buckets);
            let acc = by_series.entry(key.clone()).or_default();
            add(acc, &g);
        }
    }
    let mut by_group: BTreeMap<GroupKey, Vec<(f64, f64)>> = BTreeMap::new();
    for (k, b) in by_series {
        let series = index
            .iter()
            .rev()
            .find_map(|m| m.get(&k))
            .expect("every key came from a sample");
        if let Some(g) = group_of(series) {
            add(by_group.entry(g).or_default(), &b);
        }
    }
    by_group
}

/// Adds buckets into `acc`, matching them by bound.
fn add(acc: &mut Vec<(f64, f64)>, more: &[(f64, f64)]) {
    for (le, c) in more {
        match acc.iter_mut().find(|(l, _)| l.to_bits() == le.to_bits()) {
            Some((_, a)) => *a += c,
            None => acc.push((*le, *c)),
        }
    }
    acc.sort_by(|a, b| a.0.total_cmp(&b.0));
}

/// Checks the SLO over `samples` (any order), each limit multiplied by `factor`.
pub fn check(samples: &[DurationSample], factor: f64) -> SloReport {
    let mut samples = samples.to_vec();
    samples.sort_by(|a, b| a.at.total_cmp(&b.at));
    if samples.len() < 2 {
        return SloReport::not_measured(
            "fewer than two samples of apiserver_request_duration_seconds",
            factor,
        );
    }
    let at: Vec<f64> = samples.iter().map(|s| s.at).collect();
    let wins = windows(&at);
    let whole = increases(&samples, 0, samples.len() - 1);
    let mut worst: HashMap<GroupKey, (f64, f64)> = HashMap::new();
    for &(i, j) in &wins {
        for (g, b) in increases(&samples, i, j) {
            if let Some(p) = histogram_quantile(QUANTILE, &b) {
                let start = at[i] - at[0];
                let w = worst.entry(g).or_insert((p, start));
                if p > w.0 {
                    *w = (p, start);
                }
            }
        }
    }
    let mut groups: Vec<SloGroup> = whole
        .into_iter()
        .filter_map(|(g, b)| {
            let requests = b.last().map_or(0.0, |(_, c)| *c);
            let (p99, start) = *worst.get(&g)?;
            let limit = g.limit() * factor;
            Some(SloGroup {
                passed: p99 <= limit,
                requests: requests.round() as u64,
                p99_seconds: p99,
                window_start_seconds: start,
                limit_seconds: limit,
                custom_resource: g.custom,
                resource: g.resource,
                verb: g.verb,
                scope: g.scope,
            })
        })
        .collect();
    groups.sort_by(|a, b| {
        a.passed
            .cmp(&b.passed)
            .then_with(|| (a.verb.is_none()).cmp(&b.verb.is_none()))
            .then_with(|| a.resource.cmp(&b.resource))
            .then_with(|| a.verb.cmp(&b.verb))
            .then_with(|| a.scope.cmp(&b.scope))
    });
    SloReport {
        // Custom resources and aggregated APIs are outside the official SLO: reported against
        // its limits as a reference, they do not fail the check.
        status: if groups.iter().all(|g| g.passed || g.custom_resource) {
            SloStatus::Passed
        } else {
            SloStatus::Failed
        },
        reason: None,
        source: None,
        factor,
        window_seconds: WINDOW_SECONDS,
        windows: wins.len(),
        span_seconds: at[at.len() - 1] - at[0],
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(
        verb: &str,
        group: &str,
        resource: &str,
        scope: &str,
        obs: &[(f64, f64)],
    ) -> DurationSeries {
        // `obs`: (seconds, how many requests took that long), turned into cumulative buckets.
        let mut buckets: Vec<(f64, f64)> = DURATION_BUCKETS
            .iter()
            .chain([f64::INFINITY].iter())
            .map(|le| {
                let c = obs.iter().filter(|(s, _)| s <= le).map(|(_, n)| n).sum();
                (*le, c)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        DurationSeries {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            scope: scope.into(),
            id: String::new(),
            buckets,
        }
    }

    fn sample(at: f64, series: Vec<DurationSeries>) -> DurationSample {
        DurationSample { at, series }
    }

    #[test]
    fn quantile_interpolates_inside_the_bucket() {
        let b = [(1.0, 50.0), (2.0, 100.0), (f64::INFINITY, 100.0)];
        // Rank 99 of 100 is 49/50 of the way through (1, 2].
        let p = histogram_quantile(0.99, &b).unwrap();
        assert!((p - 1.98).abs() < 1e-9, "{p}");
        // The first bucket starts at zero.
        let p = histogram_quantile(0.25, &b).unwrap();
        assert!((p - 0.5).abs() < 1e-9, "{p}");
        // Order of the input does not matter.
        let mut r = b.to_vec();
        r.reverse();
        assert_eq!(histogram_quantile(0.99, &r), histogram_quantile(0.99, &b));
    }

    #[test]
    fn quantile_in_the_inf_bucket_is_the_largest_bound_and_nan_cases_are_none() {
        let b = [(1.0, 10.0), (2.0, 10.0), (f64::INFINITY, 100.0)];
        assert_eq!(histogram_quantile(0.99, &b), Some(2.0));
        assert_eq!(
            histogram_quantile(0.99, &[(1.0, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(
            histogram_quantile(0.99, &[(1.0, 5.0), (2.0, 5.0)]),
            None,
            "no +Inf"
        );
        assert_eq!(histogram_quantile(0.99, &[(f64::INFINITY, 5.0)]), None);
        assert_eq!(histogram_quantile(1.5, &b), None);
    }

    #[test]
    fn counter_reset_counts_the_new_values_only() {
        let before = [(1.0, 100.0), (f64::INFINITY, 120.0)];
        let after = [(1.0, 3.0), (f64::INFINITY, 4.0)];
        assert_eq!(growth(Some(&before), &after), after.to_vec());
        let later = [(1.0, 105.0), (f64::INFINITY, 130.0)];
        assert_eq!(
            growth(Some(&before), &later),
            vec![(1.0, 5.0), (f64::INFINITY, 10.0)]
        );
        assert_eq!(growth(None, &after), after.to_vec());
    }

    #[test]
    fn a_reset_inside_a_window_keeps_the_slow_requests_after_it() {
        let s0 = sample(
            0.0,
            vec![series(
                "POST",
                "",
                "configmaps",
                "resource",
                &[(0.01, 1000.0)],
            )],
        );
        // The server restarted: 10 slow requests since.
        let s1 = sample(
            60.0,
            vec![series("POST", "", "configmaps", "resource", &[(3.0, 10.0)])],
        );
        let r = check(&[s0, s1], 1.0);
        assert_eq!(r.status, SloStatus::Failed, "{r:?}");
        assert_eq!(r.groups[0].requests, 10);
        assert!(r.groups[0].p99_seconds > 2.0);
    }

    #[test]
    fn empty_or_single_samples_are_not_measured_and_idle_runs_pass() {
        assert_eq!(check(&[], 1.0).status, SloStatus::NotMeasured);
        assert_eq!(
            check(&[sample(0.0, vec![])], 1.0).status,
            SloStatus::NotMeasured
        );
        let r = check(&[sample(0.0, vec![]), sample(10.0, vec![])], 1.0);
        assert_eq!(
            (r.status, r.groups.len(), r.windows),
            (SloStatus::Passed, 0, 1)
        );
    }

    fn find_in<'a>(r: &'a SloReport, label: &str) -> &'a SloGroup {
        r.groups.iter().find(|g| g.label() == label).unwrap()
    }

    #[test]
    fn groups_limits_and_what_is_left_out() {
        let fast = &[(0.01, 100.0)][..];
        let s1 = vec![
            series("GET", "", "configmaps", "resource", fast),
            series("LIST", "", "configmaps", "namespace", &[(4.0, 100.0)]),
            series(
                "LIST",
                "hive.openshift.io",
                "clusterdeployments",
                "cluster",
                &[(20.0, 100.0)],
            ),
            series(
                "POST",
                "hive.openshift.io",
                "clusterdeployments",
                "resource",
                &[(1.5, 100.0)],
            ),
            series("PATCH", "apps", "deployments", "resource", fast),
            series("WATCH", "", "configmaps", "cluster", &[(60.0, 100.0)]),
            series(
                "DELETECOLLECTION",
                "",
                "configmaps",
                "namespace",
                &[(60.0, 100.0)],
            ),
            series("GET", "", "", "", &[(60.0, 100.0)]),
        ];
        let r = check(&[sample(0.0, vec![]), sample(100.0, s1.clone())], 1.0);
        assert_eq!(r.groups.len(), 5, "{r:#?}");
        let find = |label: &str| r.groups.iter().find(|g| g.label() == label).unwrap();
        // 4 s in a namespaced list is within 5 s; 20 s across the cluster within 30 s.
        assert!(find("GET/LIST configmaps (namespace scope)").passed);
        assert!(find("GET/LIST clusterdeployments.hive.openshift.io (cluster scope)").passed);
        let post = find("POST clusterdeployments.hive.openshift.io");
        assert!(!post.passed && post.custom_resource && post.limit_seconds == 1.0);
        assert!(!find("PATCH deployments.apps").custom_resource);
        // A custom resource's miss is reported, but as a reference it fails nothing.
        assert_eq!(r.status, SloStatus::Passed);
        assert_eq!(
            r.groups[0].label(),
            "POST clusterdeployments.hive.openshift.io",
            "failures first"
        );
        // A built-in kind's miss fails the check; a factor of 2 lets its 1.5 s writes pass.
        let mut s2 = s1.clone();
        s2.push(series("POST", "", "secrets", "resource", &[(1.5, 100.0)]));
        let r = check(&[sample(0.0, vec![]), sample(100.0, s2.clone())], 1.0);
        assert_eq!(r.status, SloStatus::Failed);
        assert!(!find_in(&r, "POST secrets").passed);
        assert_eq!(
            check(&[sample(0.0, vec![]), sample(100.0, s2)], 2.0).status,
            SloStatus::Passed
        );
    }

    #[test]
    fn the_worst_five_minute_window_counts_not_the_run_average() {
        let get = |n_fast: f64, n_slow: f64| {
            series(
                "GET",
                "",
                "secrets",
                "resource",
                &[(0.01, n_fast), (2.0, n_slow)],
            )
        };
        // 20 minutes; 20 slow requests in the third window only (2% of it), among 4000 fast ones
        // in all.
        let samples: Vec<DurationSample> = (0..=20)
            .map(|m| {
                let slow = if m >= 12 { 20.0 } else { 0.0 };
                sample(f64::from(m) * 60.0, vec![get(f64::from(m) * 200.0, slow)])
            })
            .collect();
        let r = check(&samples, 1.0);
        assert_eq!(r.windows, 4);
        let g = &r.groups[0];
        assert_eq!(g.requests, 4020);
        assert!(!g.passed, "{g:?}");
        assert_eq!(g.window_start_seconds, 600.0);
        // Over the whole run the slow ones are 0.5%: a single window would have passed.
        let whole = [samples[0].clone(), samples[20].clone()];
        let mut one = check(&whole, 1.0);
        assert_eq!(one.windows, 1);
        assert!(one.groups.remove(0).passed);
    }

    #[test]
    fn windows_tile_five_minutes_and_the_tail_reaches_back() {
        let at: Vec<f64> = (0..=14).map(|m| f64::from(m) * 60.0).collect();
        // 0-5, 5-10, then 9-14 rather than a 4-minute tail.
        assert_eq!(windows(&at), vec![(0, 5), (5, 10), (9, 14)]);
        assert_eq!(windows(&[0.0, 30.0, 70.0]), vec![(0, 2)]);
        assert_eq!(windows(&[0.0, 1000.0]), vec![(0, 1)]);
        assert!(windows(&[5.0]).is_empty());
    }

    #[test]
    fn series_appearing_later_and_series_per_instance_are_summed() {
        let mut a = series("PUT", "", "secrets", "resource", &[(0.01, 50.0)]);
        a.id = "instance=a".into();
        let mut b = series(
            "PUT",
            "",
            "secrets",
            "resource",
            &[(0.01, 49.0), (5.0, 1.0)],
        );
        b.id = "instance=b".into();
        let r = check(
            &[
                sample(0.0, vec![a.clone()]),
                sample(60.0, vec![a.clone(), b]),
            ],
            1.0,
        );
        // a did not grow; b is new: 50 requests, one slow: P99 rank 49.5 lands in (4, 5].
        let g = &r.groups[0];
        assert_eq!(g.requests, 50);
        assert!(g.p99_seconds > 4.0 && !g.passed, "{g:?}");
    }

    #[test]
    fn reads_an_exposition_and_a_range_result() {
        let text = "# TYPE apiserver_request_duration_seconds histogram\n\
            apiserver_request_duration_seconds_bucket{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\",le=\"0.005\"} 3\n\
            apiserver_request_duration_seconds_bucket{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\",le=\"+Inf\"} 4\n\
            apiserver_request_duration_seconds_sum{verb=\"LIST\"} 1\n\
            apiserver_request_total{verb=\"LIST\",code=\"200\"} 4\n";
        let s = DurationSample::from_exposition(text, 7.0);
        assert_eq!(s.at, 7.0);
        assert_eq!(s.series.len(), 1);
        let x = &s.series[0];
        assert_eq!(
            (x.verb.as_str(), x.resource.as_str(), x.scope.as_str()),
            ("LIST", "configmaps", "namespace")
        );
        assert_eq!(x.buckets, vec![(0.005, 3.0), (f64::INFINITY, 4.0)]);
        assert!(x.id.contains("version=v1") && !x.id.contains("le="));

        let labels = |le: &str| -> BTreeMap<String, String> {
            [
                ("__name__", "apiserver_request_duration_seconds_bucket"),
                ("verb", "GET"),
                ("resource", "secrets"),
                ("scope", "resource"),
                ("instance", "a"),
                ("le", le),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let points = |v: [f64; 2]| {
            vec![
                crate::metrics::Point { t: 100.0, v: v[0] },
                crate::metrics::Point { t: 130.0, v: v[1] },
            ]
        };
        let range = [
            RangeSeries {
                labels: labels("1"),
                points: points([1.0, 2.0]),
            },
            RangeSeries {
                labels: labels("+Inf"),
                points: points([1.0, 3.0]),
            },
        ];
        let samples = DurationSample::from_range(&range);
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[1].at, 130.0);
        assert_eq!(
            samples[1].series[0].buckets,
            vec![(1.0, 2.0), (f64::INFINITY, 3.0)]
        );
        assert_eq!(samples[1].series[0].id, "instance=a");
        let r = check(&samples, 1.0);
        // Two new requests, one of them above 1 s: P99 in +Inf is the largest bound, 1 s.
        assert_eq!(r.groups[0].requests, 2);
        assert_eq!(r.groups[0].p99_seconds, 1.0);
    }
}
