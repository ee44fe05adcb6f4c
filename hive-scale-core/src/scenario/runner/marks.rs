//! When each cluster was first seen to hold each set's current generation, from a watch of
//! the ClusterSyncs: the moment of a change's arrival on a cluster, to within a watch event's
//! delivery, where a poll would only know it to within its interval.

use crate::api::{ClusterSync, Lenient, SyncResult};
use crate::hub::Hub;
use crate::scenario::progress::Mark;
use futures::StreamExt as _;
use kube::api::Api;
use kube::runtime::{WatchStreamExt as _, watcher};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// By `(namespace/cluster, set)`: the mark last seen (see
/// [`crate::scenario::progress::HiveObjects::applied_marks`]) and when it was first seen.
#[derive(Debug, Default)]
pub struct MarkLog {
    seen: Mutex<HashMap<(String, String), (String, Instant)>>,
    /// The sets whose marks are kept: a production hub's ClusterSyncs list other teams' sets
    /// too, which are none of the run's business (nor of its memory).
    wanted: parking_lot::RwLock<std::collections::HashSet<String>>,
    /// Whether the watch feeding the log has listed every ClusterSync once.
    ready: tokio::sync::watch::Sender<bool>,
}

impl MarkLog {
    /// Notes what `cs` says of each of its SelectorSyncSets, seen at `at`: a mark that moved
    /// is stamped `at`, one that did not keeps its first stamp.
    pub fn record(&self, cs: &ClusterSync, at: Instant) {
        let cluster = format!(
            "{}/{}",
            cs.metadata.namespace.as_deref().unwrap_or_default(),
            cs.metadata.name.as_deref().unwrap_or_default()
        );
        let wanted = self.wanted.read();
        if wanted.is_empty() {
            return;
        }
        let mut seen = self.seen.lock();
        for e in cs.status.iter().flat_map(|s| s.selector_sync_sets.iter()) {
            if !wanted.contains(&e.name) {
                continue;
            }
            let mark = if e.result == SyncResult::Success {
                e.observed_generation.to_string()
            } else {
                String::new()
            };
            let key = (cluster.clone(), e.name.clone());
            match seen.get(&key) {
                Some((m, _)) if *m == mark => {}
                _ => {
                    seen.insert(key, (mark, at));
                }
            }
        }
    }

    /// Keeps the marks of `set` from now on (before a change to it is made).
    pub fn want(&self, set: &str) {
        if !self.wanted.read().contains(set) {
            self.wanted.write().insert(set.to_string());
        }
    }

    /// When `cluster` was first seen holding `mark` of `set`, if that is what it holds.
    pub fn first_seen(&self, cluster: &str, set: &str, mark: &str) -> Option<Instant> {
        let seen = self.seen.lock();
        seen.get(&(cluster.to_string(), set.to_string()))
            .filter(|(m, _)| m == mark)
            .map(|(_, at)| *at)
    }

    /// Marks the log as holding every ClusterSync the hub had when its watch began.
    pub fn set_ready(&self) {
        self.ready.send_replace(true);
    }

    /// Waits until [`MarkLog::set_ready`], at most `timeout`; whether it happened.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut rx = self.ready.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

impl MarkLog {
    /// Feeds the log from one event of a ClusterSync watch, seen now.
    pub fn on_event(&self, event: &watcher::Event<Lenient<ClusterSync>>) {
        let now = Instant::now();
        match event {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                if let Ok(cs) = o.decoded() {
                    self.record(cs, now);
                }
            }
            watcher::Event::InitDone => self.set_ready(),
            _ => {}
        }
    }

    /// Sets the `seen_at` of every mark of `marks` (by set, then cluster) from the log.
    pub fn stamp(&self, marks: &mut HashMap<String, HashMap<String, Mark>>) {
        for (set, by_cluster) in marks.iter_mut() {
            for (cluster, mark) in by_cluster.iter_mut() {
                mark.seen_at = self.first_seen(cluster, set, &mark.applied);
            }
        }
    }
}

/// A watch of every ClusterSync of a hub feeding a [`MarkLog`] (no copy of the objects is
/// kept); it stops when dropped.
#[derive(Debug)]
pub struct Follower {
    log: Arc<MarkLog>,
    task: tokio::task::AbortHandle,
}

impl Follower {
    /// Starts watching and waits, at most `ready_timeout`, for the first list (a log that is
    /// not ready yet still serves: its stamps are then late, never early).
    pub async fn start(hub: &Hub, ready_timeout: Duration) -> Self {
        let log = Arc::new(MarkLog::default());
        let feed = log.clone();
        let api = Api::<Lenient<ClusterSync>>::all(hub.watch_client());
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .for_each(move |event| {
                match event {
                    Ok(e) => feed.on_event(&e),
                    Err(e) => {
                        tracing::warn!(kind = "ClusterSync", error = %e, "watch failed; retrying")
                    }
                }
                futures::future::ready(())
            });
        let task = tokio::spawn(stream).abort_handle();
        if !log.wait_ready(ready_timeout).await {
            tracing::warn!(
                seconds = ready_timeout.as_secs(),
                "the ClusterSyncs' watch has not listed them yet: changes are timed when next looked at"
            );
        }
        Self { log, task }
    }

    /// The log it feeds.
    pub fn log(&self) -> &MarkLog {
        &self.log
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(entries: &[(&str, i64, &str)]) -> ClusterSync {
        let status: Vec<serde_json::Value> = entries
            .iter()
            .map(|(name, g, result)| {
                serde_json::json!({"name": name, "observedGeneration": g, "result": result,
                    "lastTransitionTime": "2026-01-01T00:00:00Z"})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync",
            "metadata": {"name": "c1", "namespace": "ns1"},
            "spec": {},
            "status": {"selectorSyncSets": status}
        }))
        .unwrap()
    }

    #[test]
    fn a_mark_keeps_the_moment_it_was_first_seen() {
        let log = MarkLog::default();
        log.want("a");
        log.want("b");
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let t2 = t0 + Duration::from_secs(2);
        log.record(&cs(&[("a", 1, "Success"), ("b", 1, "Failure")]), t0);
        // Written again for another set: "a" keeps its stamp; "b" succeeds now.
        log.record(&cs(&[("a", 1, "Success"), ("b", 1, "Success")]), t1);
        log.record(&cs(&[("a", 2, "Success"), ("b", 1, "Success")]), t2);
        assert_eq!(log.first_seen("ns1/c1", "b", "1"), Some(t1));
        assert_eq!(log.first_seen("ns1/c1", "a", "2"), Some(t2));
        assert_eq!(log.first_seen("ns1/c1", "a", "1"), None, "no longer held");
        assert_eq!(log.first_seen("ns1/c2", "a", "2"), None);
        // Another team's set on the same cluster is not kept.
        log.record(&cs(&[("theirs", 7, "Success")]), t2);
        assert_eq!(log.first_seen("ns1/c1", "theirs", "7"), None);
    }
}
