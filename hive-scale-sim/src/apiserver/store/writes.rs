//! Writes: create, update, patch, and `Store::mutate`, the one place objects change.

use super::EventType;
use super::admission::{
    Admission, ServerFields, check_immutable, check_namespace_open, stamp_metadata,
};
use super::bounds::{self, Exceeded};
use super::{
    Entry, KindState, Obj, Store, Stored, WatchEvent, has_finalizers, is_namespace, meta, meta_mut,
    meta_str,
};
use crate::apiserver::error::ApiError;
use crate::apiserver::fields::{self, Claim, FieldSet, Scope};
use crate::apiserver::registry::ResourceDef;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Options of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `fieldManager` (or one derived from the User-Agent).
    pub field_manager: String,
    /// `dryRun=All`: validate and compute, store nothing.
    pub dry_run: bool,
    /// `force` of server-side apply.
    pub force: bool,
    /// The write targets the `/status` subresource.
    pub status: bool,
    /// A write by the simulated controllers, whose objects are built by code: schema validation
    /// and managed-field tracking are skipped (on big statuses they cost more than the rest of
    /// the write, and nobody applies over them).
    pub internal: bool,
    /// A last check of the object the write would store (after a patch or apply is worked
    /// out), such as RBAC's escalation check; its error refuses the write.
    pub guard: Option<WriteGuard>,
}

/// A check of the object a client's write would store, given its name. It runs under the
/// written resource's lock, so it sees exactly what is stored (no other write can come
/// between), and it must not read that same resource.
#[derive(Clone)]
pub struct WriteGuard(Arc<GuardFn>);

type GuardFn = dyn Fn(&str, &Value) -> Result<(), ApiError> + Send + Sync;

impl WriteGuard {
    /// A guard running `check`.
    pub fn new(
        check: impl Fn(&str, &Value) -> Result<(), ApiError> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(check))
    }
}

impl std::fmt::Debug for WriteGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteGuard(..)")
    }
}

/// Patch formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/strategic-merge-patch+json`, treated as a merge patch with directives dropped.
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

/// What a write did to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEffect {
    /// A new object.
    Created,
    /// An existing object changed.
    Updated,
    /// Nothing changed (no new resourceVersion, no event).
    Unchanged,
    /// Deletion started; finalizers hold the object.
    Finalizing,
    /// The object is gone.
    Deleted,
}

/// What a write wants done with the object, decided under the resource's lock.
pub(super) enum Decision {
    /// Store this (server-owned metadata is stamped afterwards).
    Put(Value),
    /// Start the object's deletion: store this, with the deletionTimestamp the server set in it
    /// (the only write whose deletion fields are not taken from the stored object).
    MarkDeleted(Value),
    /// Store this, which the server made from the stored object by removing from its metadata
    /// (an owner reference, a finalizer).
    Derived(Value),
    /// Remove the object.
    Remove,
    /// Leave it as it is.
    Keep,
}

/// A decision with the server's metadata applied: what is committed.
enum Step {
    /// Store the object; `bounded`: refuse it if it is out of bounds (see `Store::step` for
    /// what is not checked).
    Store {
        value: Value,
        effect: WriteEffect,
        bounded: bool,
    },
    Drop(Obj),
}

impl Step {
    /// The result of a dry run: what would be stored, nothing committed.
    fn preview(self) -> (Obj, WriteEffect) {
        match self {
            Step::Store { value, effect, .. } => (Arc::new(value), effect),
            Step::Drop(last) => (last, WriteEffect::Deleted),
        }
    }
}

/// The admission a create, update or patch result gets.
fn admission(opts: &WriteOptions) -> Admission {
    if opts.internal {
        Admission::Internal
    } else {
        Admission::Whole
    }
}

/// The fields a write through the main endpoint (or `/status`) may touch.
pub(super) fn write_scope(def: &ResourceDef, status: bool) -> Scope {
    if status {
        Scope::Status
    } else {
        Scope::Main {
            status_subresource: def.status_subresource,
        }
    }
}

impl Store {
    /// The one place objects change: `decide` sees the current object under the resource's
    /// lock; the result gets the next resourceVersion and is published to watchers.
    pub(super) fn mutate(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        dry_run: bool,
        decide: impl FnOnce(Option<&Obj>) -> Result<Decision, ApiError>,
    ) -> Result<(Obj, WriteEffect), ApiError> {
        let ns_kind = def.namespaced.then(|| self.kind(&self.namespaces));
        let ns_state = ns_kind.as_ref().map(|k| k.state.read());
        let kind = self.kind(def);
        let mut st = kind.state.write();
        let key = (ns.to_string(), name.to_string());
        let old_entry = st.objects.get(&key).cloned();
        let old = old_entry.as_ref().map(|e| Arc::new(e.value()));
        let decision = decide(old.as_ref())?;
        let namespace = ns_state
            .as_ref()
            .map(|nss| nss.objects.get(&(String::new(), ns.to_string())));
        let Some(step) = self.step(def, ns, name, old.as_ref(), namespace, decision)? else {
            let old = old.ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
            return Ok((old, WriteEffect::Unchanged));
        };
        if dry_run {
            // A dry run is refused as the write would be (its resourceVersion aside).
            if let Step::Store {
                value,
                bounded: true,
                ..
            } = &step
            {
                Stored::bounded(value).map_err(|e| out_of_bounds(def, name, &e))?;
            }
            return Ok(step.preview());
        }
        // A write refused below leaves a gap in resourceVersions, as a failed etcd
        // transaction does: clients never assume they are consecutive.
        let rv = self.rv.fetch_add(1, Ordering::SeqCst) + 1;
        let (event, result) =
            commit(&mut st, key, step, old_entry, rv).map_err(|e| out_of_bounds(def, name, &e))?;
        publish(&mut st, event, self.config.history_limit);
        drop(st);
        drop(ns_state);
        self.after_write(def, &result.0, result.1);
        Ok(result)
    }

    /// A client's write: [`Store::mutate`], with the write's guard (if any) checking what a
    /// `Put` would store.
    pub(super) fn write(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        opts: &WriteOptions,
        decide: impl FnOnce(Option<&Obj>) -> Result<Decision, ApiError>,
    ) -> Result<(Obj, WriteEffect), ApiError> {
        self.mutate(def, ns, name, opts.dry_run, |old| {
            let decision = decide(old)?;
            if let (Some(guard), Decision::Put(new)) = (&opts.guard, &decision) {
                (guard.0)(name, new)?;
            }
            Ok(decision)
        })
    }

    /// Turns a decision into what is committed; `None` when nothing changes. `namespace` is
    /// the object's namespace as stored (`None` for cluster-scoped resources).
    fn step(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        old: Option<&Obj>,
        namespace: Option<Option<&Entry>>,
        decision: Decision,
    ) -> Result<Option<Step>, ApiError> {
        let missing = || ApiError::not_found(&def.qualified(), name);
        // Only what clients (and the simulated controllers) write is held to the bounds: the
        // server's own changes of a stored object's metadata make it no deeper and at most a
        // few bytes longer, and refusing them could leave an object that cannot be deleted.
        let (mut new, deleting, bounded) = match decision {
            Decision::Keep => return old.map(|_| None).ok_or_else(missing),
            Decision::Remove => return Ok(Some(Step::Drop(old.cloned().ok_or_else(missing)?))),
            Decision::Put(new) => (new, false, true),
            Decision::Derived(new) => (new, false, false),
            Decision::MarkDeleted(new) => (new, true, false),
        };
        if old.is_none()
            && let Some(nsobj) = namespace
        {
            check_namespace_open(nsobj, def, ns, name)?;
        }
        if let Some(o) = old {
            check_immutable(def, name, o, &new)?;
        }
        let server = ServerFields {
            now: &self.clock.now_rfc3339(),
            deleting,
            uids: &self.uids,
        };
        stamp_metadata(def, ns, name, old.map(|o| &**o), &mut new, server);
        Ok(match old {
            Some(o) if **o == new => None,
            // A namespace's own finalizer is its contents: finish_namespace removes it.
            Some(o)
                if meta(&new).is_some_and(|m| m.contains_key("deletionTimestamp"))
                    && !has_finalizers(&new)
                    && !is_namespace(def) =>
            {
                Some(Step::Drop(o.clone()))
            }
            Some(_) => Some(Step::Store {
                value: new,
                effect: WriteEffect::Updated,
                bounded,
            }),
            None => Some(Step::Store {
                value: new,
                effect: WriteEffect::Created,
                bounded: true,
            }),
        })
    }

    /// Creates an object (POST).
    pub fn create(
        &self,
        def: &ResourceDef,
        ns: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<(Obj, WriteEffect), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON or YAML object",
            ));
        }
        let name = match meta_str(&obj, "name").filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => match meta_str(&obj, "generateName").filter(|n| !n.is_empty()) {
                Some(prefix) => format!("{prefix}{}", random_suffix()),
                None => {
                    return Err(ApiError::invalid(
                        &def.kind,
                        "",
                        vec![(
                            "metadata.name".into(),
                            "Required value: name or generateName is required".into(),
                        )],
                    ));
                }
            },
        };
        self.admit(def, ns, &name, &mut obj, admission(opts))?;
        let m = meta_mut(&mut obj);
        m.remove("resourceVersion");
        m.remove("managedFields");
        if def.status_subresource && def.custom {
            obj.as_object_mut()
                .expect("admitted objects are maps")
                .remove("status");
        }
        if is_namespace(def) {
            obj["status"] = json!({"phase": "Active"});
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        if !opts.internal {
            let owned = fields::leaf_paths(&obj, write_scope(def, false));
            let claim = Claim {
                manager: &opts.field_manager,
                operation: "Update",
                subresource: None,
                time: &self.clock.now_rfc3339(),
            };
            fields::set_managed(&mut obj, &[], claim, owned, false);
        }
        self.write(def, ns, &name, opts, |old| match old {
            Some(_) => Err(ApiError::already_exists(&def.qualified(), &name)),
            None => Ok(Decision::Put(obj)),
        })
    }

    /// Replaces an object (PUT), or its status with `opts.status`.
    pub fn update(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<(Obj, WriteEffect), ApiError> {
        if let Some(body_name) = meta_str(&obj, "name")
            && body_name != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        self.admit(def, ns, name, &mut obj, admission(opts))?;
        let want_rv = meta_str(&obj, "resourceVersion")
            .filter(|r| !r.is_empty())
            .map(String::from);
        if want_rv.is_none() && def.custom {
            return Err(ApiError::invalid(
                &def.kind,
                name,
                vec![(
                    "metadata.resourceVersion".into(),
                    "Invalid value: 0x0: must be specified for an update".into(),
                )],
            ));
        }
        self.write(def, ns, name, opts, |old| {
            let old = old.ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
            if let Some(rv) = &want_rv
                && meta_str(old, "resourceVersion") != Some(rv.as_str())
            {
                return Err(stale(def, name));
            }
            let new = merge_scope(def, old, obj, opts.status);
            let now = self.clock.now_rfc3339();
            Ok(Decision::Put(track_update(def, old, new, opts, &now)))
        })
    }

    /// Applies a patch (PATCH); server-side apply creates missing objects.
    pub fn patch(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        kind: PatchKind,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<(Obj, WriteEffect), ApiError> {
        let (ops, body) = match kind {
            PatchKind::Apply => return self.apply(def, ns, name, body, opts),
            PatchKind::Strategic => (None, strip_directives(body)),
            PatchKind::Merge => (None, body),
            PatchKind::Json => (Some(json_patch_operations(body)?), Value::Null),
        };
        // Validation needs the patched object, so it happens inside the decision.
        self.write(def, ns, name, opts, |old| {
            let old = old.ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
            let mut patched = (**old).clone();
            if let Some(ops) = &ops {
                bounds::apply_json_patch(&mut patched, ops)
                    .map_err(|e| ApiError::invalid(&def.kind, name, vec![(e.field, e.message)]))?;
            } else {
                if !body.is_object() {
                    return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                }
                json_patch::merge(&mut patched, &body);
            }
            if let Some(rv) = meta_str(&patched, "resourceVersion")
                && Some(rv) != meta_str(old, "resourceVersion")
            {
                return Err(stale(def, name));
            }
            if meta_str(&patched, "name") != Some(name) {
                return Err(ApiError::bad_request("a patch cannot change metadata.name"));
            }
            self.admit(def, ns, name, &mut patched, admission(opts))?;
            let new = merge_scope(def, old, patched, opts.status);
            let now = self.clock.now_rfc3339();
            Ok(Decision::Put(track_update(def, old, new, opts, &now)))
        })
    }

    /// A change the server makes to a stored object's metadata, removing something from it:
    /// `change` edits a copy, or returns `None` to leave the object as it is.
    pub(super) fn edit(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        change: impl FnOnce(&mut Value) -> Option<()>,
    ) -> Result<(Obj, WriteEffect), ApiError> {
        self.mutate(def, ns, name, false, |old| {
            let old = old.ok_or_else(|| ApiError::not_found(&def.qualified(), name))?;
            let mut new = (**old).clone();
            Ok(match change(&mut new) {
                Some(()) => Decision::Derived(new),
                None => Decision::Keep,
            })
        })
    }

    /// Removes a stored object if `condition` holds for it.
    pub(super) fn remove_if(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        condition: impl FnOnce(&Value) -> bool,
    ) -> Result<(Obj, WriteEffect), ApiError> {
        self.mutate(def, ns, name, false, |old| {
            Ok(match old {
                Some(o) if condition(o) => Decision::Remove,
                _ => Decision::Keep,
            })
        })
    }
}

/// 422 for an object the store cannot keep (too deep or too big).
fn out_of_bounds(def: &ResourceDef, name: &str, e: &Exceeded) -> ApiError {
    ApiError::invalid(&def.kind, name, vec![e.cause()])
}

/// Stores a committed step and makes its watch event; an object out of bounds is refused
/// before anything changes.
fn commit(
    st: &mut KindState,
    key: (String, String),
    step: Step,
    prev: Option<Entry>,
    rv: u64,
) -> Result<(WatchEvent, (Obj, WriteEffect)), Exceeded> {
    Ok(match step {
        Step::Store {
            value: mut n,
            effect,
            bounded,
        } => {
            meta_mut(&mut n).insert("resourceVersion".into(), rv.to_string().into());
            let stored = Arc::new(if bounded {
                Stored::bounded(&n)?
            } else {
                Stored::derived(&n)
            });
            st.objects.insert(key, stored.clone());
            let type_ = if effect == WriteEffect::Created {
                EventType::Added
            } else {
                EventType::Modified
            };
            let event = WatchEvent {
                type_,
                rv,
                object: stored,
                prev,
            };
            (event, (Arc::new(n), effect))
        }
        Step::Drop(last) => {
            st.objects.remove(&key);
            let mut gone = (*last).clone();
            meta_mut(&mut gone).insert("resourceVersion".into(), rv.to_string().into());
            let event = WatchEvent {
                type_: EventType::Deleted,
                rv,
                object: Arc::new(Stored::derived(&gone)),
                prev,
            };
            (event, (Arc::new(gone), WriteEffect::Deleted))
        }
    })
}

/// Adds the event to the resource's history (dropping the oldest past `limit`) and sends it
/// to open watches.
pub(super) fn publish(st: &mut KindState, event: WatchEvent, limit: usize) {
    let event = Arc::new(event);
    st.history.push_back(event.clone());
    while st.history.len() > limit {
        if let Some(e) = st.history.pop_front() {
            st.compacted_rv = e.rv;
        }
    }
    // No receivers is fine: nobody is watching.
    let _ = st.tx.send(event);
}

/// 409 for a write based on an older resourceVersion.
pub(super) fn stale(def: &ResourceDef, name: &str) -> ApiError {
    ApiError::conflict(
        &def.qualified(),
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )
}

/// Keeps the part of `new` the endpoint may change and takes the rest from `old`.
fn merge_scope(def: &ResourceDef, old: &Value, mut new: Value, status_endpoint: bool) -> Value {
    if !def.status_subresource {
        return new;
    }
    if status_endpoint {
        // Everything but the status from the stored object; the old status, which may be
        // most of the object, is not copied only to be replaced.
        let mut status = new.as_object_mut().and_then(|m| m.remove("status"));
        let mut out = serde_json::Map::new();
        for (k, v) in old.as_object().expect("stored objects are maps") {
            if k != "status" {
                out.insert(k.clone(), v.clone());
            } else if let Some(s) = status.take() {
                out.insert(k.clone(), s);
            }
        }
        if let Some(s) = status {
            out.insert("status".into(), s);
        }
        Value::Object(out)
    } else {
        let m = new.as_object_mut().expect("admitted objects are maps");
        match old.get("status") {
            Some(s) => m.insert("status".into(), s.clone()),
            None => m.remove("status"),
        };
        new
    }
}

/// Records a non-apply write in managedFields: the writer takes the fields it changed.
fn track_update(
    def: &ResourceDef,
    old: &Value,
    mut new: Value,
    opts: &WriteOptions,
    now: &str,
) -> Value {
    if opts.internal {
        return new;
    }
    let scope = write_scope(def, opts.status);
    let before = fields::leaf_paths(old, scope);
    let after = fields::leaf_paths(&new, scope);
    let changed: FieldSet = after
        .iter()
        .filter(|p| fields::get(old, p) != fields::get(&new, p))
        .cloned()
        .collect();
    let removed: FieldSet = before.difference(&after).cloned().collect();
    let entries = fields::managed_entries(old);
    let claim = Claim {
        manager: &opts.field_manager,
        operation: "Update",
        subresource: opts.status.then_some("status"),
        time: now,
    };
    fields::set_managed(&mut new, &entries, claim, changed, false);
    fields::strip_from_all(&mut new, &removed);
    new
}

/// The operations of a JSON patch body; more than kube-apiserver takes is 413, as there.
fn json_patch_operations(body: Value) -> Result<Vec<json_patch::PatchOperation>, ApiError> {
    let count = body.as_array().map_or(0, Vec::len);
    if count > bounds::MAX_JSON_PATCH_OPERATIONS {
        return Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!(
                "a JSON patch may have at most {} operations, this one has {count}",
                bounds::MAX_JSON_PATCH_OPERATIONS
            ),
        ));
    }
    serde_json::from_value::<json_patch::Patch>(body)
        .map(|p| p.0)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))
}

/// Drops strategic-merge-patch directives (`$patch`, `$retainKeys`, `$setElementOrder/...`).
fn strip_directives(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k, strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_directives).collect()),
        other => other,
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}
