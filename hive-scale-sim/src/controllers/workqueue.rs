//! A work queue with client-go's semantics: a key added twice is held once, a key is processed
//! by one worker at a time (re-added keys wait until it is done), failures back off per key
//! exponentially (5 ms doubling to 1000 s) combined with an overall 10 qps / 100 burst bucket,
//! and delayed adds. Durations are modeled time, so the same queue runs on every clock.

use crate::clock::Clock;
use crate::metrics::{HiveMetrics, Labels, labels};
use parking_lot::Mutex;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Names and metric labels of a queue.
#[derive(Debug, Clone)]
pub struct QueueNames {
    /// The queue's name (`clusterSync-controller`, `syncsetinstance-controller`, ...).
    pub name: String,
    /// The pipeline, which dates the label set: the 2020 one had `name` only.
    pub pipeline: hive_scale_core::api::Pipeline,
    /// The replica's `pod` label, when replicas are told apart.
    pub pod: Option<String>,
}

impl QueueNames {
    fn era_2020(&self) -> bool {
        self.pipeline == hive_scale_core::api::Pipeline::SyncSetInstance
    }
    fn base(&self) -> Labels {
        let l = if self.era_2020() {
            labels(&[("name", &self.name)])
        } else {
            labels(&[("name", &self.name), ("controller", &self.name)])
        };
        super::with_pod(l, self.pod.as_deref())
    }
    fn depth(&self) -> Labels {
        let mut l = self.base();
        if !self.era_2020() {
            l.push(("priority", "0".to_string()));
        }
        l
    }
}

struct Inner<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashMap<K, Duration>,
    added_at: HashMap<K, Duration>,
    failures: HashMap<K, u32>,
    delayed: BinaryHeap<Reverse<(Duration, u64, K)>>,
    /// Each delayed key's one ready time (and its entry's sequence number): like client-go's
    /// delaying queue, a key waits once, for the earliest of the times it was added after.
    waiting: HashMap<K, (Duration, u64)>,
    seq: u64,
    bucket: (f64, Duration),
    shutdown: bool,
}

/// The queue.
pub struct WorkQueue<K> {
    names: QueueNames,
    clock: Clock,
    metrics: Arc<HiveMetrics>,
    inner: Mutex<Inner<K>>,
    ready: Notify,
    delay_changed: Arc<Notify>,
}

impl<K> std::fmt::Debug for WorkQueue<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueue")
            .field("name", &self.names.name)
            .finish_non_exhaustive()
    }
}

const BUCKET_QPS: f64 = 10.0;
const BUCKET_BURST: f64 = 100.0;

impl<K: Clone + Eq + Hash + Ord + Send + Sync + 'static> WorkQueue<K> {
    /// A queue; spawns its delay task on the current runtime.
    pub fn new(names: QueueNames, clock: Clock, metrics: Arc<HiveMetrics>) -> Arc<Self> {
        let q = Arc::new(Self {
            names,
            clock,
            metrics,
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashMap::new(),
                added_at: HashMap::new(),
                failures: HashMap::new(),
                delayed: BinaryHeap::new(),
                waiting: HashMap::new(),
                seq: 0,
                bucket: (BUCKET_BURST, Duration::ZERO),
                shutdown: false,
            }),
            ready: Notify::new(),
            delay_changed: Arc::new(Notify::new()),
        });
        q.metrics
            .workqueue_depth
            .get_or_create(&q.names.depth())
            .set(0);
        let _ = q.metrics.workqueue_adds.get_or_create(&q.names.base());
        let _ = q.metrics.workqueue_retries.get_or_create(&q.names.base());
        let weak = Arc::downgrade(&q);
        tokio::spawn(async move {
            while let Some(q) = weak.upgrade() {
                if !q.promote_due().await {
                    break;
                }
            }
        });
        q
    }

    /// Adds a key now.
    pub fn add(&self, key: K) {
        let mut st = self.inner.lock();
        if st.shutdown || st.dirty.contains(&key) {
            return;
        }
        self.metrics
            .workqueue_adds
            .get_or_create(&self.names.base())
            .inc();
        st.dirty.insert(key.clone());
        if st.processing.contains_key(&key) {
            return;
        }
        st.added_at.insert(key.clone(), self.clock.elapsed());
        st.queue.push_back(key);
        self.metrics
            .workqueue_depth
            .get_or_create(&self.names.depth())
            .set(st.queue.len() as i64);
        drop(st);
        self.ready.notify_one();
    }

    /// Adds a key after a modeled delay.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let mut st = self.inner.lock();
        if st.shutdown {
            return;
        }
        let at = self.clock.elapsed() + delay;
        if st.waiting.get(&key).is_some_and(|(t, _)| *t <= at) {
            return;
        }
        st.seq += 1;
        let seq = st.seq;
        st.waiting.insert(key.clone(), (at, seq));
        let earliest = st.delayed.peek().is_none_or(|Reverse((t, _, _))| at < *t);
        st.delayed.push(Reverse((at, seq, key)));
        drop(st);
        if earliest {
            self.delay_changed.notify_one();
        }
    }

    /// Re-adds a key that failed, after its backoff.
    pub fn add_rate_limited(&self, key: K) {
        let delay = {
            let mut st = self.inner.lock();
            let n = st.failures.entry(key.clone()).or_default();
            let exp = Duration::from_secs_f64((0.005 * 2f64.powi((*n).min(30) as i32)).min(1000.0));
            *n += 1;
            // The overall bucket: a reservation like client-go's rate.Limiter.
            let now = self.clock.elapsed();
            let (tokens, last) = st.bucket;
            let tokens = (tokens + (now.saturating_sub(last)).as_secs_f64() * BUCKET_QPS)
                .min(BUCKET_BURST)
                - 1.0;
            st.bucket = (tokens, now);
            let bucket = if tokens < 0.0 {
                Duration::from_secs_f64(-tokens / BUCKET_QPS)
            } else {
                Duration::ZERO
            };
            exp.max(bucket)
        };
        self.metrics
            .workqueue_retries
            .get_or_create(&self.names.base())
            .inc();
        self.add_after(key, delay);
    }

    /// Clears a key's failure count.
    pub fn forget(&self, key: &K) {
        self.inner.lock().failures.remove(key);
    }

    /// How many times a key failed in a row.
    pub fn failures(&self, key: &K) -> u32 {
        self.inner.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Waits for a key; `None` after shutdown.
    pub async fn get(&self) -> Option<K> {
        loop {
            let notified = self.ready.notified();
            {
                let mut st = self.inner.lock();
                if let Some(key) = st.queue.pop_front() {
                    let now = self.clock.elapsed();
                    st.dirty.remove(&key);
                    st.processing.insert(key.clone(), now);
                    if let Some(at) = st.added_at.remove(&key) {
                        self.metrics
                            .workqueue_queue_duration
                            .get_or_create(&self.names.base())
                            .observe(now.saturating_sub(at).as_secs_f64());
                    }
                    self.metrics
                        .workqueue_depth
                        .get_or_create(&self.names.depth())
                        .set(st.queue.len() as i64);
                    if !st.queue.is_empty() {
                        self.ready.notify_one();
                    }
                    return Some(key);
                }
                if st.shutdown {
                    self.ready.notify_one();
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Marks a key processed; if it was added meanwhile it goes back in the queue.
    pub fn done(&self, key: &K) {
        let mut st = self.inner.lock();
        let now = self.clock.elapsed();
        if let Some(started) = st.processing.remove(key) {
            self.metrics
                .workqueue_work_duration
                .get_or_create(&self.names.base())
                .observe(now.saturating_sub(started).as_secs_f64());
        }
        if st.dirty.contains(key) {
            st.added_at.insert(key.clone(), now);
            st.queue.push_back(key.clone());
            self.metrics
                .workqueue_depth
                .get_or_create(&self.names.depth())
                .set(st.queue.len() as i64);
            drop(st);
            self.ready.notify_one();
        }
    }

    /// Keys waiting (not counting delayed ones or those being processed).
    pub fn len(&self) -> usize {
        self.inner.lock().queue.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys being processed now.
    pub fn in_progress(&self) -> usize {
        self.inner.lock().processing.len()
    }

    /// Updates the unfinished-work gauges (called before a scrape).
    pub fn refresh_gauges(&self) {
        let st = self.inner.lock();
        let now = self.clock.elapsed();
        let ages: Vec<f64> = st
            .processing
            .values()
            .map(|s| now.saturating_sub(*s).as_secs_f64())
            .collect();
        self.metrics
            .workqueue_unfinished_work
            .get_or_create(&self.names.base())
            .set(ages.iter().sum());
        self.metrics
            .workqueue_longest_running
            .get_or_create(&self.names.base())
            .set(ages.iter().copied().fold(0.0, f64::max));
    }

    /// Stops handing out keys; workers' `get` returns `None`.
    pub fn shutdown(&self) {
        self.inner.lock().shutdown = true;
        self.ready.notify_waiters();
        self.ready.notify_one();
        self.delay_changed.notify_one();
    }

    /// Moves due delayed keys into the queue, then sleeps until the next one is due.
    async fn promote_due(self: Arc<Self>) -> bool {
        let notify = self.delay_changed.clone();
        let changed = notify.notified();
        let next = {
            let mut st = self.inner.lock();
            if st.shutdown {
                return false;
            }
            let now = self.clock.elapsed();
            let mut due = Vec::new();
            while st
                .delayed
                .peek()
                .is_some_and(|Reverse((t, _, _))| *t <= now)
            {
                if let Some(Reverse((t, seq, k))) = st.delayed.pop()
                    && st.waiting.get(&k) == Some(&(t, seq))
                {
                    st.waiting.remove(&k);
                    due.push(k);
                }
            }
            let next = st.delayed.peek().map(|Reverse((t, _, _))| *t);
            drop(st);
            for k in due {
                self.add(k);
            }
            next
        };
        let clock = self.clock.clone();
        drop(self);
        match next {
            Some(at) => {
                tokio::select! {
                    _ = clock.sleep_until(at) => {}
                    _ = changed => {}
                }
            }
            None => changed.await,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> Arc<WorkQueue<String>> {
        WorkQueue::new(
            QueueNames {
                name: "test".into(),
                pipeline: hive_scale_core::api::Pipeline::ClusterSync,
                pod: None,
            },
            Clock::real(),
            Arc::new(HiveMetrics::new()),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn deduplicates_and_holds_keys_being_processed() {
        let q = queue();
        q.add("a".into());
        q.add("a".into());
        q.add("b".into());
        assert_eq!(q.len(), 2, "a key queued twice is held once");
        let a = q.get().await.unwrap();
        assert_eq!(a, "a");
        q.add("a".into());
        assert_eq!(q.len(), 1, "re-added while processing: waits for done");
        assert_eq!(q.get().await.unwrap(), "b");
        q.done(&a);
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await.unwrap(), "a");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_grows_per_key_and_forget_resets() {
        let q = queue();
        let start = tokio::time::Instant::now();
        for expected_ms in [5u64, 10, 20, 40] {
            q.add_rate_limited("k".into());
            let k = q.get().await.unwrap();
            q.done(&k);
            let waited = start.elapsed();
            assert!(
                waited >= Duration::from_millis(expected_ms),
                "{waited:?} < {expected_ms}ms"
            );
        }
        assert_eq!(q.failures(&"k".to_string()), 4);
        q.forget(&"k".to_string());
        assert_eq!(q.failures(&"k".to_string()), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_adds_arrive_in_time_order() {
        let q = queue();
        q.add_after("late".into(), Duration::from_secs(7200));
        q.add_after("soon".into(), Duration::from_secs(5));
        let t0 = tokio::time::Instant::now();
        assert_eq!(q.get().await.unwrap(), "soon");
        assert!(t0.elapsed() >= Duration::from_secs(5));
        assert_eq!(q.get().await.unwrap(), "late");
        assert!(t0.elapsed() >= Duration::from_secs(7200));
    }

    /// As client-go's delaying queue: a key added after several delays waits once, for the
    /// earliest (Hive's re-apply timer and a sooner requeue of the same cluster are one wait).
    #[tokio::test(start_paused = true)]
    async fn a_key_delayed_twice_waits_once_for_the_earlier() {
        let q = queue();
        q.add_after("a".into(), Duration::from_secs(60));
        q.add_after("a".into(), Duration::from_secs(5));
        q.add_after("a".into(), Duration::from_secs(30));
        q.add_after("b".into(), Duration::from_secs(600));
        let t0 = tokio::time::Instant::now();
        assert_eq!(q.get().await.unwrap(), "a");
        let at = t0.elapsed();
        assert!(
            at >= Duration::from_secs(5) && at < Duration::from_secs(30),
            "{at:?}"
        );
        q.done(&"a".to_string());
        assert_eq!(q.get().await.unwrap(), "b", "a's later delays were dropped");
        assert!(t0.elapsed() >= Duration::from_secs(600));
    }
}
