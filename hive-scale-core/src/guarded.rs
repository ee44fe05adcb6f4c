//! Writes and deletes that never touch what is not the toolkit's, and that re-read and
//! re-decide instead of retrying blindly when the hub answers 409 or a response was lost.
//!
//! A create that comes back `AlreadyExists` (somebody else's object, or our own create whose
//! response was lost) reads the object and decides again; an update carries the
//! resourceVersion it was decided on, so a change in between is a conflict, read and decided
//! again; a delete carries the uid and resourceVersion that were checked, and a conflict is
//! read back: gone or already terminating counts as done, a changed object is checked again.

use crate::apply::contains;
use crate::hub::Hub;
use crate::ownership::{Ownership, Refusal, RefusalReason, describe, ownership};
use crate::{Error, Result};
use futures::StreamExt;
use kube::Resource;
use kube::api::{Api, DeleteParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::watcher;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::time::Duration;

/// What the guarded operations work on: any typed Kubernetes object.
pub trait Object:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

impl<K> Object for K where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

/// How many times one object is read and decided again before giving up: enough for a busy
/// object (Hive updates a ClusterDeployment's status often), few enough to end.
const ATTEMPTS: usize = 8;

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// It did not exist; now it does (also when our own earlier create's response was lost).
    Created,
    /// It was ours and differed; now it matches.
    Updated,
    /// It was ours and already matched; nothing was sent.
    Unchanged,
    /// A namespace that is not ours already exists: it hosts our objects and is left as it is.
    Borrowed,
}

/// Options of [`ensure`].
#[derive(Debug, Clone)]
pub struct EnsureOptions {
    /// The run whose objects may be written.
    pub run: String,
    /// Accept an existing object that is not ours as [`Written::Borrowed`] (namespaces).
    pub borrow_foreign: bool,
    /// How long to wait for an object of ours that is being deleted to go before recreating it.
    pub terminating_timeout: Duration,
}

impl EnsureOptions {
    /// Writes for `run`; nothing borrowed; a minute for terminating objects.
    pub fn new(run: impl Into<String>) -> Self {
        Self {
            run: run.into(),
            borrow_foreign: false,
            terminating_timeout: Duration::from_secs(60),
        }
    }
}

fn kind<K: Resource<DynamicType = ()>>() -> String {
    K::kind(&()).into_owned()
}

fn is_conflict(e: &Error) -> bool {
    e.code() == Some(409)
}

/// What the caller knows of an object before [`ensure`] writes it.
#[derive(Debug, Clone)]
pub enum Listing<K> {
    /// A listing showed it, as it was then (saves a read).
    Seen(K),
    /// A listing did not show it: a create answered AlreadyExists is then our own earlier
    /// create whose response was lost (or a race), and counts as created once it matches.
    Absent,
    /// Nothing was listed (the credentials may create the kind, not list it): ensure creates
    /// first, and an existing object that matches is unchanged.
    Unknown,
}

impl<K> From<Option<K>> for Listing<K> {
    /// What a listing showed: the object, or its absence.
    fn from(seen: Option<K>) -> Self {
        seen.map_or(Listing::Absent, Listing::Seen)
    }
}

/// Makes the object `desired` names exist as `desired` says, if it may: created when absent,
/// updated when ours and different, left alone (a refusal) when somebody else's or another
/// run's. `seen` is what a listing showed of it, if one was made.
///
/// # Errors
///
/// [`Error::Refused`] for an object that is not ours (or still terminating after the
/// timeout); the hub's error when a request fails for good.
pub async fn ensure<K>(
    hub: &Hub,
    api: &Api<K>,
    desired: &K,
    seen: Listing<K>,
    opts: &EnsureOptions,
) -> Result<Written>
where
    K: Resource<DynamicType = ()>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let name = desired.meta().name.clone().unwrap_or_default();
    let what = describe(&kind::<K>(), desired.meta());
    let want = serde_json::to_value(desired).map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
    let listed = !matches!(seen, Listing::Unknown);
    let mut current = match seen {
        Listing::Seen(k) => Some(k),
        Listing::Absent | Listing::Unknown => None,
    };
    let mut created_by_us = false;
    let pp = PostParams {
        field_manager: Some(crate::labels::FIELD_MANAGER.into()),
        ..Default::default()
    };
    for _ in 0..ATTEMPTS {
        let Some(obj) = current.take() else {
            match hub.call("create", &what, || api.create(&pp, desired)).await {
                Ok(_) => return Ok(Written::Created),
                Err(e) if is_conflict(&e) => {
                    // Somebody else's, or ours from a create whose response was lost: read it.
                    // Without a listing it may as well have been there all along.
                    created_by_us = listed;
                    current = hub.get_opt(api, &name).await?;
                    continue;
                }
                Err(e) => return Err(e),
            }
        };
        match ownership(obj.meta(), &opts.run) {
            Ownership::Foreign if opts.borrow_foreign => return Ok(Written::Borrowed),
            Ownership::Foreign => {
                return Err(Error::Refused(Refusal::new(
                    &kind::<K>(),
                    obj.meta(),
                    RefusalReason::NotOurs,
                )));
            }
            Ownership::OtherRun(r) => {
                return Err(Error::Refused(Refusal::new(
                    &kind::<K>(),
                    obj.meta(),
                    RefusalReason::OtherRun(r),
                )));
            }
            Ownership::Ours => {}
        }
        if obj.meta().deletion_timestamp.is_some() {
            // Never "unchanged": it is going. Wait for it, then create it again.
            let uid = obj.meta().uid.clone().unwrap_or_default();
            if !wait_deleted(api, &name, &uid, opts.terminating_timeout).await? {
                return Err(Error::Refused(Refusal::new(
                    &kind::<K>(),
                    obj.meta(),
                    RefusalReason::StillTerminating(opts.terminating_timeout.as_secs()),
                )));
            }
            continue;
        }
        let have =
            serde_json::to_value(&obj).map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
        if contains(&want, &have) {
            return Ok(if created_by_us {
                Written::Created
            } else {
                Written::Unchanged
            });
        }
        // An update of exactly the version decided on: a change in between is a conflict.
        let mut update = desired.clone();
        update.meta_mut().resource_version = obj.meta().resource_version.clone();
        match hub.apply(api, &name, &update).await {
            Ok(_) => return Ok(Written::Updated),
            Err(e) if is_conflict(&e) || e.is_not_found() => {
                current = hub.get_opt(api, &name).await?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::Invalid(format!(
        "{what} kept changing while it was being written ({ATTEMPTS} attempts)"
    )))
}

/// What [`modify`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modified {
    /// The change was written (also when our write's response was lost and a re-read showed
    /// it had landed).
    Changed,
    /// The object already held the change; nothing was sent.
    Unchanged,
}

/// Changes an existing object of ours in place: reads it, checks that it is the toolkit's and of
/// `run`, lets `change` edit it (returning `false` when the object already holds the change),
/// and replaces it carrying the resourceVersion it read. A conflict, or a response lost after
/// the write landed, is read again and decided again, ownership included, so somebody else's
/// change in between is never overwritten and a landed change is not made twice.
///
/// # Errors
///
/// [`Error::Refused`] for an object that is not ours or another run's; [`Error::Invalid`] when
/// it does not exist; the hub's error when a request fails for good.
pub async fn modify<K>(
    hub: &Hub,
    api: &Api<K>,
    name: &str,
    run: &str,
    mut change: impl FnMut(&mut K) -> bool,
) -> Result<Modified>
where
    K: Object + Serialize,
{
    let mut sent = false;
    for _ in 0..ATTEMPTS {
        let Some(lenient) = hub.get_lenient(api, name).await? else {
            return Err(Error::Invalid(format!(
                "{} {name} does not exist",
                kind::<K>()
            )));
        };
        // Ownership first, from the metadata alone: an object we cannot decode is refused for
        // what it is, not reported as unreadable.
        let reason = match ownership(lenient.meta(), run) {
            Ownership::Ours => None,
            Ownership::OtherRun(r) => Some(RefusalReason::OtherRun(r)),
            Ownership::Foreign => Some(RefusalReason::NotOurs),
        };
        if let Some(reason) = reason {
            return Err(Error::Refused(Refusal::new(
                &kind::<K>(),
                lenient.meta(),
                reason,
            )));
        }
        let mut obj = std::sync::Arc::unwrap_or_clone(lenient.into_decoded()?);
        if !change(&mut obj) {
            return Ok(if sent {
                Modified::Changed
            } else {
                Modified::Unchanged
            });
        }
        // The server keeps its own bookkeeping; what we send is the object as read and changed.
        obj.meta_mut().managed_fields = None;
        let what = describe(&kind::<K>(), obj.meta());
        let pp = PostParams {
            field_manager: Some(crate::labels::FIELD_MANAGER.into()),
            ..Default::default()
        };
        sent = true;
        match hub
            .call("replace", &what, || api.replace(name, &pp, &obj))
            .await
        {
            Ok(_) => return Ok(Modified::Changed),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Invalid(format!(
        "{} {name} kept changing while it was being written ({ATTEMPTS} attempts)",
        kind::<K>()
    )))
}

/// What [`delete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The delete was accepted (the object is gone or terminating).
    Deleted,
    /// It was already gone (or replaced by another object of the same name, left alone).
    AlreadyGone,
}

/// Deletes `obj` if `check` allows it, with `obj`'s uid and resourceVersion as preconditions and
/// an explicit propagation policy. A conflict is read back and decided again (`check`
/// included); an object that is already terminating counts as deleted.
///
/// # Errors
///
/// [`Error::Refused`] when `check` refuses (now or after a re-read); the hub's error when a
/// request fails for good.
pub async fn delete<K>(
    hub: &Hub,
    api: &Api<K>,
    obj: &K,
    propagation: PropagationPolicy,
    check: impl Fn(&K) -> std::result::Result<(), RefusalReason>,
) -> Result<Deleted>
where
    K: Object,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let what = describe(&kind::<K>(), obj.meta());
    let uid = obj.meta().uid.clone();
    let mut current = obj.clone();
    for _ in 0..ATTEMPTS {
        check(&current)
            .map_err(|reason| Error::Refused(Refusal::new(&kind::<K>(), current.meta(), reason)))?;
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: current.meta().uid.clone(),
                resource_version: current.meta().resource_version.clone(),
            }),
            propagation_policy: Some(propagation.clone()),
            ..Default::default()
        };
        match hub.call("delete", &what, || api.delete(&name, &dp)).await {
            Ok(_) => return Ok(Deleted::Deleted),
            Err(e) if e.is_not_found() => return Ok(Deleted::AlreadyGone),
            Err(e) if is_conflict(&e) => match hub.get_opt(api, &name).await? {
                None => return Ok(Deleted::AlreadyGone),
                Some(o) if o.meta().uid != uid => return Ok(Deleted::AlreadyGone),
                Some(o) if o.meta().deletion_timestamp.is_some() => return Ok(Deleted::Deleted),
                Some(o) => current = o,
            },
            Err(e) => return Err(e),
        }
    }
    Err(Error::Invalid(format!(
        "{what} kept changing while it was being deleted ({ATTEMPTS} attempts)"
    )))
}

/// Waits (watching, not polling) until the object `name` with `uid` is gone; `false` on
/// timeout.
async fn wait_deleted<K>(api: &Api<K>, name: &str, uid: &str, timeout: Duration) -> Result<bool>
where
    K: Object,
{
    let cond = kube::runtime::wait::conditions::is_deleted(uid);
    match tokio::time::timeout(
        timeout,
        kube::runtime::wait::await_condition(api.clone(), name, cond),
    )
    .await
    {
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) => Err(Error::Invalid(format!("waiting for {name} to go: {e}"))),
        Err(_) => Ok(false),
    }
}

/// Waits (one watch, not repeated lists) until none of the objects with `uids` that match
/// `selector` exist; returns the uids still there at the timeout.
///
/// # Errors
///
/// When the watch cannot be started at all.
pub async fn wait_all_gone<K>(
    api: &Api<K>,
    selector: &str,
    uids: BTreeSet<String>,
    timeout: Duration,
) -> Result<BTreeSet<String>>
where
    K: Object,
{
    if uids.is_empty() {
        return Ok(uids);
    }
    let cfg = watcher::Config::default().labels(selector);
    let mut stream = watcher(api.clone(), cfg).boxed();
    let mut left = uids;
    // What the initial list shows: a uid not in it is gone already.
    let mut listed: Option<BTreeSet<String>> = None;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let event = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) | Ok(None) => return Ok(left),
            Ok(Some(Err(e))) => {
                // The watcher retries by itself on the next poll; a persistent error ends at the
                // deadline with what is left.
                tracing::debug!(error = %e, "watch while waiting for deletions");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Ok(Some(Ok(ev))) => ev,
        };
        let uid = |o: &K| o.meta().uid.clone().unwrap_or_default();
        match event {
            watcher::Event::Init => listed = Some(BTreeSet::new()),
            watcher::Event::InitApply(o) => {
                if let Some(l) = listed.as_mut() {
                    l.insert(uid(&o));
                }
            }
            watcher::Event::InitDone => {
                if let Some(l) = listed.take() {
                    left.retain(|u| l.contains(u));
                }
                tracing::debug!(left = left.len(), "listed while waiting for deletions");
            }
            watcher::Event::Delete(o) => {
                left.remove(&uid(&o));
            }
            watcher::Event::Apply(_) => {}
        }
        if left.is_empty() {
            return Ok(left);
        }
    }
}
