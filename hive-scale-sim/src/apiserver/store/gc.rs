//! Consequences of a write for other objects: the served resources when CRDs change,
//! dependents of a deleted owner (ownerReferences), and namespaces that finish terminating.

use super::admission::is_crd;
use super::writes::{Decision, Preconditions, WriteEffect};
use super::{Store, meta, meta_str};
use crate::apiserver::registry::{Registry, ResourceDef};
use serde_json::Value;
use std::sync::Arc;

impl Store {
    /// Consequences of a write that touch other objects: CRD registration, namespace
    /// finalization, garbage collection of dependents.
    pub(super) fn after_write(&self, def: &ResourceDef, obj: &Value, effect: WriteEffect) {
        if is_crd(def) {
            self.rebuild_registry(def);
        }
        if effect != WriteEffect::Deleted {
            return;
        }
        let ns = meta_str(obj, "namespace").unwrap_or_default().to_string();
        if let Some(uid) = meta_str(obj, "uid") {
            self.collect_dependents(&ns, uid);
        }
        if def.namespaced {
            self.finish_namespace(&ns);
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

    /// Deletes objects in `ns` whose ownerReferences name `uid` (background propagation).
    fn collect_dependents(&self, ns: &str, uid: &str) {
        if ns.is_empty() {
            return;
        }
        for def in self.registry().all().iter().filter(|d| d.namespaced) {
            let kind = self.kind(def);
            let dependents: Vec<String> = {
                let st = kind.state.read();
                st.objects
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .filter(|(_, o)| {
                        meta(o.head())
                            .and_then(|m| m.get("ownerReferences"))
                            .and_then(Value::as_array)
                            .is_some_and(|refs| {
                                refs.iter()
                                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                            })
                    })
                    .map(|((_, name), _)| name.clone())
                    .collect()
            };
            for name in dependents {
                // Already gone or finalizing: nothing else to do.
                let _ = self.delete(def, ns, &name, &Preconditions::default(), false);
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
                let _ = self.delete(def, ns, &name, &Preconditions::default(), false);
            }
        }
    }

    /// Removes a terminating namespace once nothing is left in it.
    pub(super) fn finish_namespace(&self, ns: &str) {
        let Ok(nsobj) = self.get(&self.namespaces, "", ns) else {
            return;
        };
        if nsobj.pointer("/status/phase").and_then(Value::as_str) != Some("Terminating")
            || !self.namespace_empty(ns)
        {
            return;
        }
        let namespaces = self.namespaces.clone();
        // Somebody else may have finished it first.
        let _ = self.mutate(&namespaces, "", ns, false, |old| match old {
            Some(o)
                if o.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating") =>
            {
                Ok(Decision::Remove)
            }
            _ => Ok(Decision::Keep),
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
