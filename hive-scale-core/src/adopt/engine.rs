//! Applies adoption plans for a range of clones: bounded concurrency, the hub's shared limiter
//! and retries, and a comparison with what already exists so a re-run (or a resumed run after a
//! crash) writes only what is missing or different.

use super::plan::AdoptPlan;
use crate::api::ClusterDeployment;
use crate::apply::{self, Counts, Event, Outcome, ProgressSink};
use crate::hub::{Hub, StatsSnapshot};
use crate::labels;
use crate::{Error, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Resource;
use kube::api::Api;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Clones in flight at once.
    pub concurrency: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self { concurrency: 16 }
    }
}

/// What an adoption run did.
#[derive(Debug, Clone, Serialize)]
pub struct AdoptSummary {
    /// First index.
    pub start: u32,
    /// Last index (inclusive).
    pub end: u32,
    /// Per-outcome clone counts.
    pub clones: Counts,
    /// Failed clones with the reason, by index.
    pub failures: Vec<(u32, String)>,
    /// Wall time, seconds.
    pub elapsed_seconds: f64,
    /// Clones handled per second.
    pub clones_per_second: f64,
    /// Most clones that were in flight at once.
    pub max_in_flight: usize,
    /// Requests sent, retries, latency percentiles, limiter wait.
    pub requests: StatsSnapshot,
}

impl AdoptSummary {
    /// Whether every requested clone now exists as planned.
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty()
    }
}

type Existing = HashMap<(String, String), Value>;

async fn existing<K>(hub: &Hub, api: &Api<K>) -> Result<Existing>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    K::DynamicType: Default,
{
    let selector = format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE);
    Ok(hub
        .list_all(api, &selector)
        .await?
        .into_iter()
        .filter_map(|o| {
            let key = (
                o.meta().namespace.clone().unwrap_or_default(),
                o.meta().name.clone()?,
            );
            Some((key, serde_json::to_value(o).ok()?))
        })
        .collect())
}

/// What one object's step did.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Missing,
    Differed,
    Matched,
}

async fn ensure<K>(hub: &Hub, api: Api<K>, existing: &Existing, obj: &K) -> Result<Step>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    K::DynamicType: Default,
{
    let meta = obj.meta();
    let name = meta.name.clone().unwrap_or_default();
    let key = (meta.namespace.clone().unwrap_or_default(), name.clone());
    let desired = serde_json::to_value(obj).expect("planned objects serialize");
    let step = match existing.get(&key) {
        Some(e) if apply::contains(&desired, e) => return Ok(Step::Matched),
        Some(_) => Step::Differed,
        None => Step::Missing,
    };
    hub.apply(&api, &name, obj).await?;
    Ok(step)
}

/// Adopts clones `range` (inclusive) into the hub.
pub async fn adopt(
    hub: &Hub,
    plan: &AdoptPlan,
    range: RangeInclusive<u32>,
    opts: &EngineOptions,
    progress: &ProgressSink,
) -> Result<AdoptSummary> {
    plan.validate()?;
    if range.is_empty() || *range.start() == 0 {
        return Err(Error::Invalid(format!(
            "clone indices start at 1 and START <= END; got {}..={}",
            range.start(),
            range.end()
        )));
    }
    let started = Instant::now();
    let client = hub.client();
    let ns_api: Api<Namespace> = Api::all(client.clone());
    let secrets_all: Api<Secret> = Api::all(client.clone());
    let cds_all: Api<ClusterDeployment> = Api::all(client.clone());
    let (have_ns, have_secrets, have_cds) = futures::try_join!(
        existing(hub, &ns_api),
        existing(hub, &secrets_all),
        existing(hub, &cds_all)
    )?;
    let in_flight = AtomicUsize::new(0);
    let max_in_flight = AtomicUsize::new(0);
    let results: Vec<(u32, Outcome, Option<String>)> = futures::stream::iter(range.clone())
        .map(|i| {
            let (client, ns_api) = (client.clone(), ns_api.clone());
            let (have_ns, have_secrets, have_cds) = (&have_ns, &have_secrets, &have_cds);
            let (in_flight, max_in_flight) = (&in_flight, &max_in_flight);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max_in_flight.fetch_max(now, Ordering::SeqCst);
                let objs = plan.clone_objects(i);
                let ns = plan.namespace_name(i);
                let result = async {
                    let mut steps = vec![ensure(hub, ns_api, have_ns, &objs.namespace).await?];
                    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
                    if let Some(creds) = &objs.aws_credentials {
                        steps.push(ensure(hub, secrets.clone(), have_secrets, creds).await?);
                    }
                    steps.push(ensure(hub, secrets, have_secrets, &objs.admin_kubeconfig).await?);
                    let cds: Api<ClusterDeployment> = Api::namespaced(client.clone(), &ns);
                    steps.push(ensure(hub, cds, have_cds, &objs.cluster_deployment).await?);
                    Ok::<_, Error>(steps)
                }
                .await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                match result {
                    Ok(steps) if steps.iter().all(|s| *s == Step::Matched) => {
                        (i, Outcome::Unchanged, None)
                    }
                    Ok(steps) if steps.iter().all(|s| *s == Step::Missing) => {
                        (i, Outcome::Created, None)
                    }
                    Ok(_) => (i, Outcome::Updated, None),
                    Err(e) => (i, Outcome::Failed, Some(e.to_string())),
                }
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .inspect(|(i, outcome, reason)| {
            apply::emit(
                progress,
                Event {
                    item: format!("clone/{i}"),
                    outcome: *outcome,
                    reason: reason.clone(),
                },
            )
        })
        .collect()
        .await;
    let mut clones = Counts::default();
    let mut failures = Vec::new();
    for (i, outcome, reason) in results {
        clones.add(outcome);
        if let Some(r) = reason.filter(|_| outcome == Outcome::Failed) {
            failures.push((i, r));
        }
    }
    failures.sort();
    let elapsed = started.elapsed();
    Ok(AdoptSummary {
        start: *range.start(),
        end: *range.end(),
        clones_per_second: apply::per_second(clones.total(), elapsed),
        clones,
        failures,
        elapsed_seconds: elapsed.as_secs_f64(),
        max_in_flight: max_in_flight.load(Ordering::SeqCst),
        requests: hub.stats(),
    })
}

/// Checks a spoke kubeconfig: parses, has a current context with a server and credentials.
/// With `call_version`, also calls the spoke's `/version` (quickly: two retries).
pub async fn check_spoke(
    kubeconfig: &[u8],
    path: Option<&std::path::Path>,
    call_version: bool,
) -> Result<String> {
    let text = std::str::from_utf8(kubeconfig).map_err(|_| Error::Kubeconfig {
        path: path.map(Into::into),
        reason: "is not UTF-8 text".into(),
    })?;
    let kc = crate::hub::kubeconfig::parse(text, path)?;
    let loaded = crate::hub::kubeconfig::validate(kc, path.map(Into::into), None)?;
    let server = loaded.server.clone();
    if call_version {
        let opts = crate::hub::HubOptions {
            qps: 0.0,
            timeout: Duration::from_secs(10),
            ..Default::default()
        };
        let spoke = Hub::from_kubeconfig(loaded, &opts).await?;
        let version = spoke.check().await.map_err(|e| match e {
            Error::Unreachable { reason, .. } => Error::Unreachable {
                server: format!("{server} (the spoke)"),
                reason,
            },
            other => other,
        })?;
        return Ok(format!("{server} ({version})"));
    }
    Ok(server)
}
