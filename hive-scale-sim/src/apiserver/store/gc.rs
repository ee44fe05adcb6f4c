//! Consequences of a write for other objects: the served resources when CRDs change (and the
//! objects of a deleted CRD's resource), dependents of a deleted owner (ownerReferences, with the three propagation policies), and
//! namespaces that finish terminating.
//!
//! Dependents are looked for in the owner's namespace, so cluster-scoped owners collect nothing.

use super::admission::is_crd;
use super::delete::{DeleteOptions, Propagation};
use super::writes::{WriteEffect, publish};
use super::{
    EventType, Store, Stored, WatchEvent, has_finalizers, is_namespace, meta, meta_mut, meta_str,
};
use crate::apiserver::registry::{Registry, ResourceDef};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The finalizer that holds an owner being deleted in the foreground.
pub(super) const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer that holds an owner while its dependents are orphaned.
pub(super) const ORPHAN: &str = "orphan";

/// One object whose ownerReferences name an owner.
struct Dependent {
    def: Arc<ResourceDef>,
    name: String,
    /// Its reference sets `blockOwnerDeletion`: a foreground deletion waits for it.
    blocking: bool,
}

impl Store {
    /// Consequences of a write that touch other objects: CRD registration, namespace
    /// finalization, garbage collection of dependents, owners waiting for them.
    pub(super) fn after_write(&self, def: &ResourceDef, obj: &Value, effect: WriteEffect) {
        if is_crd(def) {
            self.rebuild_registry(def);
            if effect == WriteEffect::Deleted {
                self.purge_resource(obj);
            }
        }
        if effect == WriteEffect::Deleted {
            self.after_removal(def.namespaced, obj);
        }
        // A terminating namespace whose last finalizer just went may be done.
        if effect == WriteEffect::Updated
            && is_namespace(def)
            && let Some(name) = meta_str(obj, "name")
        {
            self.finish_namespace(name);
        }
    }

    /// What the removal of `obj` means for others: its dependents go (in the background),
    /// owners waiting for it may go, and its namespace may finish terminating.
    fn after_removal(&self, namespaced: bool, obj: &Value) {
        let ns = meta_str(obj, "namespace").unwrap_or_default().to_string();
        if let Some(uid) = meta_str(obj, "uid") {
            self.delete_dependents(&ns, uid, Propagation::Background);
        }
        self.release_owners_of(&ns, obj);
        if namespaced {
            self.finish_namespace(&ns);
        }
    }

    /// Removes every object of the resource a deleted CRD defined (watchers see them
    /// deleted): the resource is not served any more, and re-creating the CRD must not bring
    /// them back. Finalizers do not hold them: nothing could reach them to remove one.
    fn purge_resource(&self, crd: &Value) {
        let text = |p: &str| crd.pointer(p).and_then(Value::as_str).map(String::from);
        let (Some(group), Some(plural)) = (text("/spec/group"), text("/spec/names/plural")) else {
            return;
        };
        let Some(kind) = self.kinds.read().get(&(group, plural)).cloned() else {
            return;
        };
        let removed: Vec<Value> = {
            let mut st = kind.state.write();
            let objects = std::mem::take(&mut st.objects);
            objects
                .into_values()
                .map(|entry| {
                    let rv = self.rv.fetch_add(1, Ordering::SeqCst) + 1;
                    let mut last = entry.value();
                    meta_mut(&mut last).insert("resourceVersion".into(), rv.to_string().into());
                    let event = WatchEvent {
                        type_: EventType::Deleted,
                        rv,
                        object: Arc::new(Stored::derived(&last)),
                        prev: Some(entry),
                    };
                    publish(&mut st, event, self.config.history_limit);
                    last
                })
                .collect()
        };
        for obj in &removed {
            self.after_removal(meta_str(obj, "namespace").is_some(), obj);
        }
    }

    fn rebuild_registry(&self, crd_def: &ResourceDef) {
        let kind = self.kind(crd_def);
        let crds: Vec<_> = kind
            .state
            .read()
            .objects
            .values()
            .filter_map(|o| serde_json::from_value(o.value()).ok())
            .collect();
        *self.registry.write() = Arc::new(Registry::new(&crds));
    }

    /// The objects in `ns` whose ownerReferences name `uid`.
    fn dependents(&self, ns: &str, uid: &str) -> Vec<Dependent> {
        if ns.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for def in self.registry().all().iter().filter(|d| d.namespaced) {
            let kind = self.kind(def);
            let st = kind.state.read();
            for ((_, name), o) in st
                .objects
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
            {
                if let Some(r) = o.head().owner(uid) {
                    out.push(Dependent {
                        def: def.clone(),
                        name: name.clone(),
                        blocking: r.block_owner_deletion,
                    });
                }
            }
        }
        out
    }

    /// Deletes the dependents of `uid` in `ns` with `policy`.
    pub(super) fn delete_dependents(&self, ns: &str, uid: &str, policy: Propagation) {
        let opts = DeleteOptions {
            propagation: policy,
            ..Default::default()
        };
        for d in self.dependents(ns, uid) {
            // Already gone or finalizing: nothing else to do.
            let _ = self.delete(&d.def, ns, &d.name, &opts, false);
        }
    }

    /// Removes the reference to `uid` from its dependents in `ns`, which then stay.
    pub(super) fn orphan_dependents(&self, ns: &str, uid: &str) {
        for d in self.dependents(ns, uid) {
            // A dependent deleted meanwhile needs no orphaning.
            let _ = self.edit(&d.def, ns, &d.name, |obj| {
                let m = meta_mut(obj);
                let refs = m.get_mut("ownerReferences").and_then(Value::as_array_mut)?;
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
                if refs.is_empty() {
                    m.remove("ownerReferences");
                }
                Some(())
            });
        }
    }

    /// Removes `finalizer` from an object the server is deleting; without finalizers left, the
    /// object goes.
    pub(super) fn drop_finalizer(&self, def: &ResourceDef, ns: &str, name: &str, finalizer: &str) {
        // Gone already, or somebody removed the finalizer first: nothing to do.
        let _ = self.edit(def, ns, name, |obj| {
            let list = meta_mut(obj)
                .get_mut("finalizers")
                .and_then(Value::as_array_mut)?;
            let before = list.len();
            list.retain(|f| f.as_str() != Some(finalizer));
            (list.len() < before).then_some(())
        });
    }

    /// Finishes the foreground deletion of an owner once no dependent blocks it.
    pub(super) fn release_foreground(&self, def: &ResourceDef, ns: &str, name: &str) {
        let Ok(owner) = self.get_entry(def, ns, name) else {
            return;
        };
        let uid = owner.head().uid();
        if self.dependents(ns, uid).iter().any(|d| d.blocking) {
            return;
        }
        self.drop_finalizer(def, ns, name, FOREGROUND);
    }

    /// A deleted object may have been what an owner deleting in the foreground waited for.
    fn release_owners_of(&self, ns: &str, obj: &Value) {
        if ns.is_empty() {
            return;
        }
        let Some(refs) = meta(obj)
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
        else {
            return;
        };
        let registry = self.registry();
        for r in refs {
            let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
            let Some(def) = registry.by_kind(text("apiVersion"), text("kind")) else {
                continue;
            };
            let Ok(owner) = self.get_entry(&def, ns, text("name")) else {
                continue;
            };
            // Only an owner being deleted can be waiting; release_foreground checks for the
            // finalizer itself.
            let head = owner.head();
            if head.uid() == text("uid") && head.deleting() {
                self.release_foreground(&def, ns, text("name"));
            }
        }
    }

    /// Deletes everything in a namespace that is terminating.
    pub(super) fn empty_namespace(&self, ns: &str) {
        for def in self.registry().all().iter().filter(|d| d.namespaced) {
            let kind = self.kind(def);
            let names: Vec<String> = kind
                .state
                .read()
                .objects
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|((_, name), _)| name.clone())
                .collect();
            for name in names {
                // Objects deleted meanwhile are fine.
                let _ = self.delete(def, ns, &name, &DeleteOptions::default(), false);
            }
        }
    }

    /// Removes a terminating namespace once nothing is left in it.
    pub(super) fn finish_namespace(&self, ns: &str) {
        let Ok(nsobj) = self.get(&self.namespaces, "", ns) else {
            return;
        };
        // Its contents are the namespace's own finalizer; finalizers in its metadata (somebody
        // else's controller) hold it as they hold any object.
        if nsobj.pointer("/status/phase").and_then(Value::as_str) != Some("Terminating")
            || has_finalizers(&nsobj)
            || !self.namespace_empty(ns)
        {
            return;
        }
        let namespaces = self.namespaces.clone();
        // Somebody else may have finished it first.
        let _ = self.remove_if(&namespaces, "", ns, |o| {
            o.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
                && !has_finalizers(o)
        });
    }

    fn namespace_empty(&self, ns: &str) -> bool {
        self.registry()
            .all()
            .iter()
            .filter(|d| d.namespaced)
            .all(|def| {
                let kind = self.kind(def);
                let st = kind.state.read();
                st.objects
                    .range((ns.to_string(), String::new())..)
                    .next()
                    .is_none_or(|((n, _), _)| n != ns)
            })
    }
}
