//! Where snapshots come from: a Prometheus server, or `/metrics` pages scraped directly.

use super::names;
use super::profile::Profile;
use super::snapshot::{QueryOutcome, QueryResult, Snapshot};
use super::{MetricsError, PrometheusClient, Scraper};

/// Where snapshots come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A Prometheus server's HTTP API.
    Prometheus(PrometheusClient),
    /// `/metrics` endpoints scraped directly.
    Scrape(Scraper),
}

impl Source {
    /// `prometheus URL` or `scrape URL,URL`, the URLs through [`redact_url`](super::redact_url)
    /// (what recordings store and tools print).
    pub fn describe(&self) -> String {
        match self {
            Source::Prometheus(p) => format!("prometheus {}", p.url()),
            Source::Scrape(s) => format!("scrape {}", s.urls().join(",")),
        }
    }

    /// A histogram's cumulative buckets `(le, count)` now, summed over its series (only those
    /// whose label `only.0` is one of `only.1`, when given); `None` when the source has no such
    /// series (yet: a family shows once it has a series).
    ///
    /// # Errors
    ///
    /// When the endpoint cannot be reached or answers with an error.
    pub async fn histogram(
        &self,
        metric: &str,
        only: Option<(&str, &[String])>,
    ) -> Result<Option<Vec<(f64, f64)>>, MetricsError> {
        match self {
            Source::Scrape(s) => Ok(s.scrape().await?.exposition.buckets(metric, only)),
            Source::Prometheus(p) => {
                let selector = match only {
                    None => String::new(),
                    Some((_, [])) => return Ok(None),
                    Some((label, values)) => {
                        // Object names are DNS subdomains: only `.` needs escaping.
                        let alternatives: Vec<String> =
                            values.iter().map(|v| v.replace('.', "\\\\.")).collect();
                        format!("{{{label}=~\"{}\"}}", alternatives.join("|"))
                    }
                };
                let v = p
                    .query(&format!("sum by (le) ({metric}_bucket{selector})"), None)
                    .await?;
                let buckets: Vec<(f64, f64)> = v
                    .values()
                    .into_iter()
                    .filter_map(|(labels, n)| Some((super::slo::parse_le(labels.get("le")?)?, n)))
                    .collect();
                Ok((!buckets.is_empty()).then_some(buckets))
            }
        }
    }

    /// Evaluates every query of the profile at one instant. Fails as a whole only when the
    /// endpoint itself fails; a query that fails is recorded in its own entry.
    ///
    /// # Errors
    ///
    /// When the endpoint cannot be reached, refuses the credentials, or answers with what is
    /// not Prometheus' API or text format.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), hive_scale_core::metrics::MetricsError> {
    /// use hive_scale_core::metrics::{HttpOptions, Profile, PrometheusClient, Source};
    ///
    /// let http = HttpOptions::default().with_token_file("token".as_ref())?;
    /// let prometheus = PrometheusClient::new("https://thanos-querier.example:9091", &http)?;
    /// let snapshot = Source::Prometheus(prometheus).snapshot(&Profile::builtin()).await?;
    /// for result in &snapshot.results {
    ///     println!("{}: {:?}", result.name, result.value());
    /// }
    /// # Ok(())
    /// # }
    /// ```
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
    let scale_query = format!("max({})", names::SIM_TIME_SCALE);
    let scale = client.query(&scale_query, Some(t));
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
            tracing::warn!(error = %crate::error::chain(&e), "cannot read the time scale; values are not converted");
            None
        }
    };
    let results = profile
        .queries
        .iter()
        .zip(answers)
        .map(|(q, a)| {
            let outcome = a.map_err(|e| QueryOutcome::Error {
                error: crate::error::chain(&e),
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
