//! The spoke every clone points at: what the sync controllers apply lands in its store, and
//! writes that overwrite another writer's different content are counted (the 2020 worry about
//! copies "thrashing" shared resources).

use crate::apiserver::ApiError;
use crate::apiserver::store::{PatchKind, Store, WriteOptions};
use crate::metrics::HiveMetrics;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The embedded spoke as the controllers see it.
#[derive(Debug)]
pub struct Spoke {
    /// The spoke API server's URL: a clone whose admin kubeconfig names it is reachable.
    pub url: String,
    store: Arc<Store>,
    written: Mutex<HashMap<String, (u64, String)>>,
    metrics: Arc<HiveMetrics>,
}

/// Why a write to a spoke failed, as the sync controllers record it in a set's status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SpokeError {
    /// The spoke does not serve the resource's kind.
    #[error("the spoke serves no {kind} in {api_version}")]
    NotServed {
        /// `apiVersion` of the resource.
        api_version: String,
        /// `kind` of the resource.
        kind: String,
    },
    /// The spoke refused the apply.
    #[error("failed to apply {kind} {namespace}/{name}")]
    Apply {
        /// `kind` of the resource.
        kind: String,
        /// Its namespace (empty when cluster-scoped).
        namespace: String,
        /// Its name.
        name: String,
        /// The spoke's answer.
        #[source]
        source: Box<ApiError>,
    },
    /// The spoke refused to delete a resource Sync mode no longer wants.
    #[error("failed to delete {kind} {namespace}/{name}")]
    Delete {
        /// `kind` of the resource.
        kind: String,
        /// Its namespace (empty when cluster-scoped).
        namespace: String,
        /// Its name.
        name: String,
        /// The spoke's answer.
        #[source]
        source: Box<ApiError>,
    },
}

/// Hash of a resource's content, as the spoke would store it.
pub fn content_hash(v: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

/// `apiVersion/kind/namespace/name` of a resource.
pub fn resource_key(v: &Value) -> String {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
    format!(
        "{}/{}/{}/{}",
        s("/apiVersion"),
        s("/kind"),
        s("/metadata/namespace"),
        s("/metadata/name")
    )
}

impl Spoke {
    /// A spoke backed by `store`.
    pub fn new(url: String, store: Arc<Store>, metrics: Arc<HiveMetrics>) -> Self {
        Self {
            url,
            store,
            written: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// Applies `resource` for `writer` (set and clone). Returns whether the spoke changed.
    pub fn apply(
        &self,
        resource: &Value,
        key: &str,
        hash: u64,
        writer: &str,
    ) -> Result<bool, SpokeError> {
        let mut written = self.written.lock();
        if let Some((h, w)) = written.get(key) {
            if *h == hash {
                return Ok(false);
            }
            if w != writer {
                self.metrics.sim_thrash.inc();
            }
        }
        let api_version = resource
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
        let def = self
            .store
            .registry()
            .by_kind(api_version, kind)
            .ok_or_else(|| SpokeError::NotServed {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            })?;
        let ns = resource
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(if def.namespaced { "default" } else { "" });
        let name = resource
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut body = resource.clone();
        body["metadata"]["labels"]["hive.openshift.io/managed"] = "true".into();
        let opts = WriteOptions {
            field_manager: "hive6-clustersync".into(),
            force: true,
            ..Default::default()
        };
        self.store
            .patch(
                &def,
                if def.namespaced { ns } else { "" },
                name,
                PatchKind::Apply,
                body,
                &opts,
            )
            .map_err(|source| SpokeError::Apply {
                kind: kind.to_string(),
                namespace: ns.to_string(),
                name: name.to_string(),
                source: Box::new(source),
            })?;
        written.insert(key.to_string(), (hash, writer.to_string()));
        Ok(true)
    }

    /// Deletes a resource Sync mode no longer wants; absent is fine.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Result<(), SpokeError> {
        let Some(def) = self.store.registry().by_kind(api_version, kind) else {
            return Ok(());
        };
        let key = format!("{api_version}/{kind}/{}/{name}", ns.unwrap_or(""));
        self.written.lock().remove(&key);
        match self
            .store
            .delete(&def, ns.unwrap_or(""), name, &Default::default(), false)
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(source) => Err(SpokeError::Delete {
                kind: kind.to_string(),
                namespace: ns.unwrap_or("").to_string(),
                name: name.to_string(),
                source: Box::new(source),
            }),
        }
    }

    /// The spoke's store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}
