//! Workers that take keys from a queue and reconcile them, with controller-runtime's metrics;
//! and the pumps that turn store events into keys.

use super::workqueue::{QueueNames, WorkQueue};
use super::{Sim, with_pod};
use crate::apiserver::registry::ResourceDef;
use crate::apiserver::store::WatchEvent;
use crate::metrics::labels;
use futures::future::BoxFuture;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// What a reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Requeue {
    /// Nothing.
    Done,
    /// Again after a modeled delay (`requeue_after`).
    After(Duration),
    /// Again soon, rate limited (`requeue`).
    Soon,
    /// It failed: again after the key's backoff (`error`).
    Error,
}

/// A controller's reconcile function.
pub trait Reconciler<K>: Send + Sync + 'static {
    /// The controller's name as metrics label it.
    fn name(&self) -> &str;
    /// Reconciles one key; returns what to do next and the `hive_controller_reconcile_seconds`
    /// outcome label.
    fn reconcile(self: Arc<Self>, key: K) -> BoxFuture<'static, (Requeue, &'static str)>;
    /// The `pod` label of the replica it runs in, when replicas are told apart.
    fn pod(&self) -> Option<&str> {
        None
    }
}

/// A running controller: its queue and workers.
pub struct Controller<K> {
    /// The queue.
    pub queue: Arc<WorkQueue<K>>,
    target: AtomicUsize,
    spawned: AtomicUsize,
}

impl<K> std::fmt::Debug for Controller<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("workers", &self.target.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl<K: Clone + Eq + Hash + Ord + Send + Sync + std::fmt::Debug + 'static> Controller<K> {
    /// Starts `workers` workers.
    pub fn start<R: Reconciler<K>>(
        sim: &Arc<Sim>,
        reconciler: Arc<R>,
        queue_name: &str,
        workers: usize,
    ) -> Arc<Self> {
        let queue = WorkQueue::new(
            QueueNames {
                name: queue_name.to_string(),
                pipeline: sim.pipeline,
                pod: reconciler.pod().map(String::from),
            },
            sim.clock.clone(),
            sim.metrics.clone(),
        );
        let c = Arc::new(Self {
            queue,
            target: AtomicUsize::new(0),
            spawned: AtomicUsize::new(0),
        });
        sim.metrics
            .active_workers
            .get_or_create(&with_pod(
                labels(&[("controller", reconciler.name())]),
                reconciler.pod(),
            ))
            .set(0);
        c.set_workers(sim, &reconciler, workers);
        c
    }

    /// Changes the number of workers (HiveConfig's concurrentReconciles); extra workers stop
    /// after their current key.
    pub fn set_workers<R: Reconciler<K>>(
        self: &Arc<Self>,
        sim: &Arc<Sim>,
        reconciler: &Arc<R>,
        workers: usize,
    ) {
        let workers = workers.max(1);
        self.target.store(workers, Ordering::SeqCst);
        sim.metrics
            .max_concurrent_reconciles
            .get_or_create(&with_pod(
                labels(&[("controller", reconciler.name())]),
                reconciler.pod(),
            ))
            .set(workers as i64);
        while self.spawned.load(Ordering::SeqCst) < workers {
            let id = self.spawned.fetch_add(1, Ordering::SeqCst);
            let (me, sim, r) = (self.clone(), sim.clone(), reconciler.clone());
            tokio::spawn(crate::clock::Clock::track(async move {
                me.work(id, sim, r).await
            }));
        }
    }

    async fn work<R: Reconciler<K>>(self: Arc<Self>, id: usize, sim: Arc<Sim>, r: Arc<R>) {
        let name = r.name().to_string();
        let pod = r.pod().map(String::from);
        let ctl = with_pod(labels(&[("controller", &name)]), pod.as_deref());
        while id < self.target.load(Ordering::SeqCst) {
            let Some(key) = self.queue.get().await else {
                break;
            };
            sim.metrics.active_workers.get_or_create(&ctl).inc();
            let start = sim.clock.elapsed();
            let (next, outcome) = r.clone().reconcile(key.clone()).await;
            let took = sim.clock.elapsed().saturating_sub(start).as_secs_f64();
            sim.metrics.active_workers.get_or_create(&ctl).dec();
            sim.metrics.reconcile_time.get_or_create(&ctl).observe(took);
            sim.metrics
                .controller_reconcile_seconds
                .get_or_create(&with_pod(
                    labels(&[("controller", &name), ("outcome", outcome)]),
                    pod.as_deref(),
                ))
                .observe(took);
            let result = match next {
                Requeue::Done => {
                    self.queue.forget(&key);
                    "success"
                }
                Requeue::After(d) => {
                    self.queue.forget(&key);
                    self.queue.add_after(key.clone(), d);
                    "requeue_after"
                }
                Requeue::Soon => {
                    self.queue.add_rate_limited(key.clone());
                    "requeue"
                }
                Requeue::Error => {
                    sim.metrics.reconcile_errors.get_or_create(&ctl).inc();
                    self.queue.add_rate_limited(key.clone());
                    "error"
                }
            };
            sim.metrics
                .reconcile_total
                .get_or_create(&with_pod(
                    labels(&[("controller", &name), ("result", result)]),
                    pod.as_deref(),
                ))
                .inc();
            self.queue.done(&key);
        }
        self.spawned.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Feeds every event of `def` (starting with the current objects) to `on_event`; after a
/// watcher falls behind it starts over from the current state, as an informer relists.
pub fn pump(
    sim: &Arc<Sim>,
    def: Arc<ResourceDef>,
    on_event: impl Fn(&WatchEvent) + Send + Sync + 'static,
) {
    let store = sim.store.clone();
    tokio::spawn(async move {
        loop {
            let Ok(start) = store.watch(&def, None) else {
                return;
            };
            for e in &start.initial {
                on_event(e);
            }
            let mut rx = start.rx;
            loop {
                match rx.recv().await {
                    Ok(e) => on_event(&e),
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
}
