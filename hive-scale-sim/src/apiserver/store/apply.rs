//! Server-side apply: the applier owns exactly the fields it sends; changing a field another
//! manager owns is a conflict unless forced; fields the applier stops sending are removed
//! unless someone else owns them; a resourceVersion in the body is a precondition.

use super::admission::{Admission, decode_check, invalid_unless_empty};
use super::writes::{Decision, WriteEffect, WriteOptions, stale, write_scope};
use super::{Obj, Store, is_namespace, meta_mut, meta_str};
use crate::apiserver::error::ApiError;
use crate::apiserver::fields::{self, Claim, FieldSet, ManagedEntry, Scope};
use crate::apiserver::registry::ResourceDef;
use crate::apiserver::validate;
use serde_json::{Value, json};

/// One apply request, checked and admitted.
struct Applied<'a> {
    /// The apply configuration.
    body: Value,
    /// The fields it sets.
    fields: FieldSet,
    /// `metadata.resourceVersion` of the body: the object must be at this version.
    resource_version: Option<String>,
    scope: Scope,
    opts: &'a WriteOptions,
}

impl Applied<'_> {
    fn claim<'t>(&'t self, time: &'t str) -> Claim<'t> {
        Claim {
            manager: &self.opts.field_manager,
            operation: "Apply",
            subresource: self.subresource(),
            time,
        }
    }

    fn subresource(&self) -> Option<&'static str> {
        self.opts.status.then_some("status")
    }

    /// Whether `e` is this applier's own entry.
    fn owns(&self, e: &ManagedEntry) -> bool {
        e.manager == self.opts.field_manager && e.operation == "Apply"
    }
}

impl Store {
    /// Server-side apply.
    pub(super) fn apply(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<(Obj, WriteEffect), ApiError> {
        let applied = self.admit_apply(def, ns, name, body, opts)?;
        self.write(def, ns, name, opts, |old| {
            // A resourceVersion is a precondition on an existing object only: with nothing
            // stored, the apply creates, as kube-apiserver does.
            let now = self.clock.now_rfc3339();
            let Some(old) = old else {
                let new = first_apply(def, &applied, &now);
                decode_result(def, name, &new, opts)?;
                return Ok(Decision::Put(new));
            };
            if let Some(rv) = &applied.resource_version
                && meta_str(old, "resourceVersion") != Some(rv.as_str())
            {
                return Err(stale(def, name));
            }
            let mut entries = fields::managed_entries(old);
            let conflicts = take_over(&mut entries, &applied, old);
            if !conflicts.is_empty() {
                return Err(ApiError::apply_conflict(&def.qualified(), name, &conflicts));
            }
            let new = merge_applied(old, &entries, &applied, &now);
            decode_result(def, name, &new, opts)?;
            if same_content_and_owners(&new, old) {
                return Ok(Decision::Keep);
            }
            Ok(Decision::Put(new))
        })
    }

    /// Checks an apply configuration and admits it.
    fn admit_apply<'a>(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        mut body: Value,
        opts: &'a WriteOptions,
    ) -> Result<Applied<'a>, ApiError> {
        if opts.field_manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH with apply requires a fieldManager",
            ));
        }
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the apply configuration must be an object",
            ));
        }
        if let Some(sent) = meta_str(&body, "name").filter(|n| *n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({sent}) does not match the name on the URL ({name})"
            )));
        }
        for k in ["apiVersion", "kind"] {
            if body.get(k).and_then(Value::as_str).is_none() {
                return Err(ApiError::bad_request(format!(
                    "{k} must be set in an apply configuration"
                )));
            }
        }
        let admission = if opts.internal {
            Admission::Internal
        } else {
            Admission::Partial
        };
        self.admit(def, ns, name, &mut body, admission)?;
        let resource_version = meta_str(&body, "resourceVersion")
            .filter(|rv| !rv.is_empty())
            .map(String::from);
        let m = meta_mut(&mut body);
        m.insert("name".into(), name.into());
        m.remove("managedFields");
        m.remove("resourceVersion");
        let scope = write_scope(def, opts.status);
        Ok(Applied {
            fields: fields::leaf_paths(&body, scope),
            resource_version,
            body,
            scope,
            opts,
        })
    }
}

/// Decodes the object an apply makes, as every stored object is (the configuration alone may
/// be partial).
fn decode_result(
    def: &ResourceDef,
    name: &str,
    obj: &Value,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    if opts.internal {
        return Ok(());
    }
    let mut causes = validate::Causes::new();
    decode_check(def, name, obj, &mut causes);
    invalid_unless_empty(def, name, causes)
}

/// The object an apply creates.
fn first_apply(def: &ResourceDef, applied: &Applied<'_>, now: &str) -> Value {
    let mut obj = applied.body.clone();
    if def.status_subresource
        && def.custom
        && !applied.opts.status
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    if is_namespace(def) {
        obj["status"] = json!({"phase": "Active"});
    }
    fields::set_managed(
        &mut obj,
        &[],
        applied.claim(now),
        applied.fields.clone(),
        true,
    );
    obj
}

/// Finds the fields other managers own that the apply changes: with `force` they change hands
/// (are removed from the other entries); without, they are returned as (field, manager)
/// conflicts.
fn take_over(
    entries: &mut [ManagedEntry],
    applied: &Applied<'_>,
    old: &Value,
) -> Vec<(String, String)> {
    let mut conflicts = Vec::new();
    for e in entries.iter_mut() {
        if applied.owns(e) || e.subresource.as_deref() != applied.subresource() {
            continue;
        }
        let overlapping: Vec<fields::Path> = e
            .fields
            .iter()
            .filter(|p| applied.fields.iter().any(|q| fields::overlaps(p, q)))
            .cloned()
            .collect();
        for p in overlapping {
            let differs = applied
                .fields
                .iter()
                .filter(|q| fields::overlaps(&p, q))
                .any(|q| fields::get(&applied.body, q) != fields::get(old, q));
            if !differs {
                continue;
            }
            if applied.opts.force {
                e.fields.remove(&p);
            } else {
                conflicts.push((fields::display(&p), e.manager.clone()));
            }
        }
    }
    conflicts
}

/// The object after the apply: fields the applier dropped (and nobody else owns) removed, the
/// configuration merged in, ownership recorded.
fn merge_applied(old: &Value, entries: &[ManagedEntry], applied: &Applied<'_>, now: &str) -> Value {
    let previous: FieldSet = entries
        .iter()
        .find(|e| applied.owns(e) && e.subresource.as_deref() == applied.subresource())
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut new = old.clone();
    for p in previous.difference(&applied.fields) {
        let owned_elsewhere = entries
            .iter()
            .any(|e| !applied.owns(e) && e.fields.iter().any(|q| fields::overlaps(p, q)));
        if !owned_elsewhere {
            fields::remove(&mut new, p);
        }
    }
    let mut body = applied.body.clone();
    if let Some(m) = body.as_object_mut() {
        match applied.scope {
            Scope::Status => m.retain(|k, _| k == "status" || k == "apiVersion" || k == "kind"),
            Scope::Main {
                status_subresource: true,
            } => {
                m.remove("status");
            }
            Scope::Main { .. } => {}
        }
    }
    fields::deep_merge(&mut new, &body);
    fields::set_managed(
        &mut new,
        entries,
        applied.claim(now),
        applied.fields.clone(),
        true,
    );
    new
}

/// Whether an apply changed neither content nor who owns what (its timestamps aside).
fn same_content_and_owners(new: &Value, old: &Value) -> bool {
    comparable(new) == comparable(old)
        && fields::managed_entries(new)
            .iter()
            .map(|e| &e.fields)
            .eq(fields::managed_entries(old).iter().map(|e| &e.fields))
}

/// The object without the fields that change on every write, for "did anything change?".
fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    v
}
