//! Deletes: preconditions, finalizers, namespaces, and what happens to dependents.

use super::gc::{FOREGROUND, ORPHAN};
use super::writes::{Decision, WriteEffect};
use super::{ListQuery, Obj, Store, has_finalizers, is_namespace, meta, meta_mut, meta_str};
use crate::apiserver::error::ApiError;
use crate::apiserver::registry::ResourceDef;
use serde_json::{Value, json};

/// Preconditions of a delete.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    /// The object must have this uid.
    pub uid: Option<String>,
    /// The object must be at this resourceVersion.
    pub resource_version: Option<String>,
}

/// What happens to the dependents of a deleted object (`propagationPolicy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Propagation {
    /// The owner goes now, its dependents after it (Kubernetes' default).
    #[default]
    Background,
    /// The owner gets a deletionTimestamp and the `foregroundDeletion` finalizer; its
    /// dependents are deleted, and the owner goes once none with `blockOwnerDeletion` is left.
    Foreground,
    /// The dependents stay, without their reference to the owner.
    Orphan,
}

impl Propagation {
    /// Parses a `propagationPolicy` value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Background" => Some(Self::Background),
            "Foreground" => Some(Self::Foreground),
            "Orphan" => Some(Self::Orphan),
            _ => None,
        }
    }
}

/// Options of a delete (`DeleteOptions`).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// uid and resourceVersion the object must have.
    pub preconditions: Preconditions,
    /// What happens to the object's dependents.
    pub propagation: Propagation,
}

impl Store {
    /// Deletes an object; with finalizers it only gets a deletionTimestamp. Namespaces cascade;
    /// dependents follow `opts.propagation`.
    pub fn delete(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
        dry_run: bool,
    ) -> Result<(Obj, WriteEffect), ApiError> {
        let is_namespace = is_namespace(def);
        // Orphaning and foreground deletion hold the owner with a finalizer of their own while
        // the dependents are dealt with, as Kubernetes' garbage collector does.
        let hold = match opts.propagation {
            _ if is_namespace => None,
            Propagation::Background => None,
            Propagation::Foreground => Some(FOREGROUND),
            Propagation::Orphan => Some(ORPHAN),
        };
        let (obj, effect) = self.mutate(def, ns, name, dry_run, |old| {
            let old = old.ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
            check_preconditions(def, name, old, &opts.preconditions)?;
            if meta(old).is_some_and(|m| m.contains_key("deletionTimestamp")) {
                return Ok(Decision::Keep);
            }
            if !is_namespace && !has_finalizers(old) && hold.is_none() {
                return Ok(Decision::Remove);
            }
            Ok(Decision::MarkDeleted(self.marked_deleted(
                old,
                is_namespace,
                hold,
            )))
        })?;
        if is_namespace && !dry_run {
            self.empty_namespace(name);
            self.finish_namespace(name);
            if let Ok(obj) = self.get(def, "", name) {
                return Ok((obj, WriteEffect::Finalizing));
            }
            return Ok((obj, WriteEffect::Deleted));
        }
        if effect == WriteEffect::Deleted {
            return Ok((obj, WriteEffect::Deleted));
        }
        if effect == WriteEffect::Updated && !dry_run {
            let uid = meta_str(&obj, "uid").unwrap_or_default();
            match opts.propagation {
                Propagation::Background => {}
                Propagation::Orphan => {
                    self.orphan_dependents(ns, uid);
                    self.drop_finalizer(def, ns, name, ORPHAN);
                }
                Propagation::Foreground => {
                    self.delete_dependents(ns, uid, Propagation::Foreground);
                    self.release_foreground(def, ns, name);
                }
            }
        }
        Ok((obj, WriteEffect::Finalizing))
    }

    /// `old` with the deletionTimestamp the server sets (and `hold` added to its finalizers).
    fn marked_deleted(&self, old: &Value, is_namespace: bool, hold: Option<&str>) -> Value {
        let mut new = old.clone();
        let m = meta_mut(&mut new);
        m.insert("deletionTimestamp".into(), self.clock.now_rfc3339().into());
        m.insert("deletionGracePeriodSeconds".into(), 0.into());
        if let Some(f) = hold {
            let list = m.entry("finalizers").or_insert_with(|| json!([]));
            match list.as_array_mut() {
                Some(l) if !l.iter().any(|x| x.as_str() == Some(f)) => l.push(f.into()),
                Some(_) => {}
                None => *list = json!([f]),
            }
        }
        if is_namespace {
            new["status"] = json!({"phase": "Terminating"});
        }
        new
    }

    /// Deletes every object a list query selects.
    pub fn delete_collection(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        q: &ListQuery,
        opts: &DeleteOptions,
        dry_run: bool,
    ) -> Result<Vec<Obj>, ApiError> {
        let all = ListQuery {
            limit: 0,
            continue_token: None,
            ..q.clone()
        };
        let items = self.list(def, ns, &all)?.items;
        let mut out = Vec::new();
        for item in items {
            let (ns, name) = (item.head().namespace(), item.head().name());
            match self.delete(def, ns, name, opts, dry_run) {
                Ok((o, _)) => out.push(o),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// A delete's uid and resourceVersion preconditions.
fn check_preconditions(
    def: &ResourceDef,
    name: &str,
    old: &Value,
    pre: &Preconditions,
) -> Result<(), ApiError> {
    if let Some(uid) = &pre.uid
        && meta_str(old, "uid") != Some(uid.as_str())
    {
        return Err(ApiError::conflict(
            &def.qualified(),
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(old, "uid").unwrap_or_default()
            ),
        ));
    }
    if let Some(rv) = &pre.resource_version
        && meta_str(old, "resourceVersion") != Some(rv.as_str())
    {
        return Err(ApiError::conflict(
            &def.qualified(),
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta_str(old, "resourceVersion").unwrap_or_default()
            ),
        ));
    }
    Ok(())
}
