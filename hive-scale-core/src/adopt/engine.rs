//! Applies adoption plans for a range of clones: bounded concurrency, the hub's shared limiter
//! and retries, and a comparison with what already exists so a re-run (or a resumed run after a
//! crash) writes only what is missing or different.
//!
//! Every write goes through [`guarded::ensure`]: an object of a clone's name that is not the
//! toolkit's (or is another run's) is never overwritten or relabelled; that clone is refused, and
//! the refusal names the object. A namespace that already exists and is not ours hosts a clone
//! only when asked ([`EngineOptions::borrow_namespaces`]); it is left unlabelled, teardown never
//! deletes it, and the clone's ClusterDeployment is written there before its Secrets, so our
//! credentials never land beside a ClusterDeployment that is not ours.

use super::plan::AdoptPlan;
use super::range::CloneRange;
use crate::api::ClusterDeployment;
use crate::apply::{self, Counts, Event, Outcome, ProgressSink};
use crate::guarded::{self, EnsureOptions, Listing, Written};
use crate::hub::{Hub, StatsSnapshot};
use crate::labels;
use crate::ownership::{Refusal, RefusalReason};
use crate::{Error, Result};
use futures::StreamExt;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Resource;
use kube::api::Api;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Tunables of the engine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineOptions {
    /// Clones in flight at once.
    pub concurrency: usize,
    /// How long to wait for an object of ours that is being deleted before recreating it.
    pub terminating_timeout: Duration,
    /// Adopt into namespaces that exist and are not the toolkit's (left unlabelled, never
    /// deleted); when false such a clone is refused.
    pub borrow_namespaces: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: 16,
            terminating_timeout: Duration::from_secs(60),
            borrow_namespaces: false,
        }
    }
}

impl EngineOptions {
    /// The same, with `concurrency` clones in flight.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// The same, borrowing namespaces that are not the toolkit's (or not).
    pub fn with_borrow_namespaces(mut self, borrow: bool) -> Self {
        self.borrow_namespaces = borrow;
        self
    }

    /// The same, waiting at most `timeout` for a terminating object to go.
    pub fn with_terminating_timeout(mut self, timeout: Duration) -> Self {
        self.terminating_timeout = timeout;
        self
    }
}

/// What an adoption run did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct AdoptSummary {
    /// First index.
    pub start: u32,
    /// Last index (inclusive).
    pub end: u32,
    /// The run id the clones carry.
    pub run: String,
    /// Per-outcome clone counts (refused clones count as skipped).
    pub clones: Counts,
    /// Failed clones with the reason, by index.
    pub failures: Vec<(u32, String)>,
    /// Clones left alone because an object in their way is not this run's, by index.
    pub refused: Vec<(u32, Refusal)>,
    /// Namespaces that existed and are not ours, hosting clones (kept unlabelled).
    pub borrowed_namespaces: Vec<String>,
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
        self.failures.is_empty() && self.refused.is_empty()
    }
}

/// The toolkit's objects of a kind, by (namespace, name), as listed once up front.
type Seen<K> = HashMap<(String, String), K>;

async fn list_ours<K>(hub: &Hub, api: &Api<K>) -> Result<Seen<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
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
            Some((key, o))
        })
        .collect())
}

fn seen<K: Resource + Clone>(seen: &Seen<K>, obj: &K) -> Listing<K> {
    let m = obj.meta();
    let key = (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
    );
    seen.get(&key).cloned().into()
}

/// How one clone ended.
enum CloneResult {
    Done(Outcome, bool),
    Refused(Refusal),
    Failed(String),
}

/// The toolkit's objects listed up front, shared by every clone. Secrets are there only when
/// the credentials may list them across namespaces (a least-privilege Job may only create
/// them): otherwise each Secret is created first and read only if it already exists.
struct Listed {
    namespaces: Seen<Namespace>,
    secrets: Option<Seen<Secret>>,
    cds: Seen<ClusterDeployment>,
}

/// Writes clone `i`'s objects, stopping at the first that is refused. In a namespace of ours:
/// the namespace, the Secrets, then the ClusterDeployment (which Hive reads them for). In a
/// borrowed namespace the ClusterDeployment goes first: the Secrets, holding the spoke's
/// credentials, are written only beside a ClusterDeployment known to be ours.
async fn adopt_one(
    hub: &Hub,
    plan: &AdoptPlan,
    i: u32,
    listed: &Listed,
    opts: &EnsureOptions,
    borrow_namespaces: bool,
) -> CloneResult {
    let client = hub.client();
    let objs = plan.clone_objects(i);
    let ns = plan.namespace_name(i);
    let result = async {
        let ns_api: Api<Namespace> = Api::all(client.clone());
        let ns_opts = EnsureOptions {
            borrow_foreign: borrow_namespaces,
            ..opts.clone()
        };
        let namespace = match guarded::ensure(
            hub,
            &ns_api,
            &objs.namespace,
            seen(&listed.namespaces, &objs.namespace),
            &ns_opts,
        )
        .await
        {
            Err(Error::Refused(r)) if r.reason == RefusalReason::NotOurs => {
                return Err(Error::Refused(Refusal {
                    reason: RefusalReason::NotOurNamespace,
                    ..r
                }));
            }
            other => other?,
        };
        let borrowed = namespace == Written::Borrowed;
        let mut steps = Vec::new();
        // Our own namespace only: the grant lets these credentials read what they write here.
        if let Some(binding) = objs.role_binding.as_ref().filter(|_| !borrowed) {
            let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &ns);
            let unknown = Listing::Unknown;
            steps.push(guarded::ensure(hub, &bindings, binding, unknown, opts).await?);
        }
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let cds: Api<ClusterDeployment> = Api::namespaced(client.clone(), &ns);
        let cd = &objs.cluster_deployment;
        let ensure_cd = || guarded::ensure(hub, &cds, cd, seen(&listed.cds, cd), opts);
        let clone_secrets: Vec<&Secret> = objs
            .aws_credentials
            .iter()
            .chain([&objs.admin_kubeconfig])
            .collect();
        if borrowed {
            // Their Secret of a clone's name would be read by Hive for our ClusterDeployment:
            // checked first, and nothing is written beside it.
            for secret in &clone_secrets {
                let name = secret.metadata.name.as_deref().unwrap_or_default();
                if let Some(theirs) = hub.get_lenient(&secrets, name).await? {
                    let reason = match crate::ownership::ownership(theirs.meta(), &opts.run) {
                        crate::ownership::Ownership::Ours => continue,
                        crate::ownership::Ownership::OtherRun(r) => RefusalReason::OtherRun(r),
                        crate::ownership::Ownership::Foreign => RefusalReason::NotOurs,
                    };
                    return Err(Error::Refused(Refusal::new(
                        "Secret",
                        theirs.meta(),
                        reason,
                    )));
                }
            }
            steps.push(ensure_cd().await?);
        }
        for secret in clone_secrets {
            let known = match &listed.secrets {
                Some(s) => seen(s, secret),
                None => Listing::Unknown,
            };
            match guarded::ensure(hub, &secrets, secret, known, opts).await {
                Ok(w) => steps.push(w),
                // Somebody else's appeared since the check: take our ClusterDeployment back
                // rather than leave it pointing at their credentials.
                Err(Error::Refused(r)) if borrowed => {
                    if let Some(ours) = hub.get_opt(&cds, &plan.cd_name(i)).await? {
                        let run = opts.run.as_str();
                        super::teardown::delete_cluster_deployment(hub, &ours, Some(run)).await?;
                    }
                    return Err(Error::Refused(r));
                }
                Err(e) => return Err(e),
            }
        }
        if !borrowed {
            steps.push(ensure_cd().await?);
            steps.push(namespace);
        }
        Ok::<_, Error>((steps, borrowed))
    }
    .await;
    match result {
        Ok((steps, borrowed)) => {
            let outcome = if steps.iter().all(|s| *s == Written::Unchanged) {
                Outcome::Unchanged
            } else if steps.iter().all(|s| *s == Written::Created) {
                Outcome::Created
            } else {
                Outcome::Updated
            };
            CloneResult::Done(outcome, borrowed)
        }
        Err(Error::Refused(r)) => CloneResult::Refused(r),
        Err(e) => CloneResult::Failed(crate::error::chain(&e)),
    }
}

/// Adopts clones `range` (inclusive) into the hub: a [`CloneRange`], or a `RangeInclusive`
/// checked as one.
///
/// # Errors
///
/// An invalid plan or range ([`Error::Invalid`]), or a hub that cannot be listed; failures and refusals of single
/// clones are in the summary.
///
/// # Examples
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions};
/// use hive_scale_core::hub::{Hub, HubOptions};
///
/// let hub = Hub::connect(&HubOptions::default()).await?;
/// let spoke = std::fs::read("spoke.kubeconfig")?;
/// let plan = AdoptPlan::new(spoke);
/// let summary = adopt::adopt(&hub, &plan, 1..=250, &EngineOptions::default(), &None).await?;
/// println!("{} created, {} refused", summary.clones.created, summary.refused.len());
/// # Ok(())
/// # }
/// ```
pub async fn adopt(
    hub: &Hub,
    plan: &AdoptPlan,
    range: impl Into<RangeInclusive<u32>>,
    opts: &EngineOptions,
    progress: &ProgressSink,
) -> Result<AdoptSummary> {
    let range = range.into();
    let range = CloneRange::try_from(range.clone())
        .map_err(|e| Error::Invalid(format!("clones {}..={}: {e}", range.start(), range.end())))?;
    plan.validate()?;
    let plan = &with_namespace_role_user(hub, plan).await?;
    let started = Instant::now();
    let client = hub.client();
    let (ns_api, secret_api, cd_api) = (
        Api::<Namespace>::all(client.clone()),
        Api::<Secret>::all(client.clone()),
        Api::<ClusterDeployment>::all(client),
    );
    let (namespaces, secrets, cds) = futures::try_join!(
        list_ours(hub, &ns_api),
        async {
            match list_ours(hub, &secret_api).await {
                Ok(s) => Ok(Some(s)),
                // May create Secrets, not list them: read each only when it exists.
                Err(e) if e.code() == Some(403) => Ok(None),
                Err(e) => Err(e),
            }
        },
        list_ours(hub, &cd_api)
    )?;
    let listed = Listed {
        namespaces,
        secrets,
        cds,
    };
    let ensure = EnsureOptions {
        terminating_timeout: opts.terminating_timeout,
        ..EnsureOptions::new(plan.run.clone())
    };
    let in_flight = AtomicUsize::new(0);
    let max_in_flight = AtomicUsize::new(0);
    let results: Vec<(u32, CloneResult)> = futures::stream::iter(range)
        .map(|i| {
            let (listed, ensure) = (&listed, &ensure);
            let (in_flight, max_in_flight) = (&in_flight, &max_in_flight);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max_in_flight.fetch_max(now, Ordering::SeqCst);
                let r = adopt_one(hub, plan, i, listed, ensure, opts.borrow_namespaces).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                (i, r)
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .inspect(|(i, r)| {
            let (outcome, reason) = match r {
                CloneResult::Done(o, _) => (*o, None),
                CloneResult::Refused(r) => (Outcome::Skipped, Some(r.to_string())),
                CloneResult::Failed(why) => (Outcome::Failed, Some(why.clone())),
            };
            apply::emit(
                progress,
                Event {
                    item: format!("clone/{i}"),
                    outcome,
                    reason,
                },
            )
        })
        .collect()
        .await;
    let mut clones = Counts::default();
    let (mut failures, mut refused, mut borrowed) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in results {
        match r {
            CloneResult::Done(o, b) => {
                clones.add(o);
                if b {
                    borrowed.push(plan.namespace_name(i));
                }
            }
            CloneResult::Refused(r) => {
                clones.add(Outcome::Skipped);
                refused.push((i, r));
            }
            CloneResult::Failed(why) => {
                clones.add(Outcome::Failed);
                failures.push((i, why));
            }
        }
    }
    failures.sort();
    refused.sort();
    borrowed.sort();
    let elapsed = started.elapsed();
    Ok(AdoptSummary {
        start: range.start(),
        end: range.end(),
        run: plan.run.clone(),
        clones_per_second: apply::per_second(clones.total(), elapsed),
        clones,
        failures,
        refused,
        borrowed_namespaces: borrowed,
        elapsed_seconds: elapsed.as_secs_f64(),
        max_in_flight: max_in_flight.load(Ordering::SeqCst),
        requests: hub.stats(),
    })
}

/// The plan with its [`NamespaceRole`](super::plan::NamespaceRole)'s user filled in, asking the
/// hub who the credentials are (a SelfSubjectReview, which every authenticated user may create)
/// when the plan does not say.
async fn with_namespace_role_user(hub: &Hub, plan: &AdoptPlan) -> Result<AdoptPlan> {
    let mut plan = plan.clone();
    if let Some(role) = plan.namespace_role.as_mut()
        && role.user.is_none()
    {
        let api: Api<SelfSubjectReview> = Api::all(hub.client());
        let pp = kube::api::PostParams::default();
        let ask = SelfSubjectReview::default();
        let review = hub
            .call("create", "selfsubjectreview", || api.create(&pp, &ask))
            .await?;
        let user = review
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                Error::Invalid(
                    "the hub did not say who these credentials are (SelfSubjectReview); name the user the namespace role is bound to".into(),
                )
            })?;
        role.user = Some(user);
    }
    Ok(plan)
}

/// Checks a spoke kubeconfig: parses, has a current context with a server and credentials.
/// With `call_version`, also calls the spoke's `/version` (quickly: two retries).
pub async fn check_spoke(
    kubeconfig: &[u8],
    path: Option<&std::path::Path>,
    call_version: bool,
) -> Result<String> {
    let text = std::str::from_utf8(kubeconfig)
        .map_err(|_| Error::kubeconfig(path, "is not UTF-8 text"))?;
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
            Error::Unreachable { source, .. } => Error::Unreachable {
                server: format!("{server} (the spoke)"),
                source,
            },
            other => other,
        })?;
        return Ok(format!("{server} ({version})"));
    }
    Ok(server)
}
