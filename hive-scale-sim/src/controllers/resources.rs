//! The modeled resources work waits for: a fixed pool of cores, and API servers of limited
//! capacity. Both queue in arrival order, so waiting times emerge as they would on real hardware.

use crate::clock::Clock;
use crate::metrics::HiveMetrics;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Cores: a CPU burst holds one for its modeled duration; bursts beyond the core count wait.
/// The cores are one process's: a burst costs more the more of them are busy when it starts
/// (the model's `coherency`).
#[derive(Debug)]
pub struct CorePool {
    permits: Semaphore,
    cores: usize,
    coherency: f64,
    spent_nanos: std::sync::atomic::AtomicU64,
    clock: Clock,
    metrics: Arc<HiveMetrics>,
}

impl CorePool {
    /// `cores` cores of one process whose bursts cost `1 + coherency * n * (n - 1)` times
    /// their CPU when they start with `n` cores busy.
    pub fn new(cores: usize, coherency: f64, clock: Clock, metrics: Arc<HiveMetrics>) -> Self {
        Self {
            permits: Semaphore::new(cores.max(1)),
            cores: cores.max(1),
            coherency,
            spent_nanos: Default::default(),
            clock,
            metrics,
        }
    }

    /// Spends `cpu` of modeled CPU time on one core.
    pub async fn run(&self, cpu: Duration) {
        if cpu.is_zero() {
            return;
        }
        // The semaphore is never closed.
        let Ok(_permit) = self.permits.acquire().await else {
            return;
        };
        let busy = (self.cores - self.permits.available_permits()) as f64;
        let cpu = cpu.mul_f64(1.0 + self.coherency * busy * (busy - 1.0));
        self.metrics.sim_cores_busy.inc();
        self.clock.sleep(cpu).await;
        self.metrics.sim_cores_busy.dec();
        self.metrics.sim_cpu_seconds.inc_by(cpu.as_secs_f64());
        self.spent_nanos
            .fetch_add(cpu.as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Modeled CPU seconds spent on these cores so far.
    pub fn spent(&self) -> f64 {
        self.spent_nanos.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9
    }
}

/// An API server that serves `capacity` requests per second, first come first served; each
/// request also takes its own latency.
#[derive(Debug)]
pub struct ApiCapacity {
    interval: Option<Duration>,
    next_free: Mutex<Duration>,
    clock: Clock,
}

impl ApiCapacity {
    /// `None`: unlimited.
    pub fn new(capacity: Option<f64>, clock: Clock) -> Self {
        Self {
            interval: capacity.map(|c| Duration::from_secs_f64(1.0 / c)),
            next_free: Mutex::new(Duration::ZERO),
            clock,
        }
    }

    /// Waits for a slot, then for the request's latency. Returns the modeled time it took.
    pub async fn request(&self, latency: Duration) -> Duration {
        let start = self.clock.elapsed();
        let slot = match self.interval {
            Some(interval) => {
                let mut next = self.next_free.lock();
                let slot = (*next).max(start);
                *next = slot + interval;
                slot
            }
            None => start,
        };
        // One timer for the wait and the latency.
        self.clock.sleep_until(slot + latency).await;
        self.clock.elapsed().saturating_sub(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn cores_queue_beyond_their_count() {
        let pool = Arc::new(CorePool::new(
            2,
            0.0,
            Clock::real(),
            Arc::new(HiveMetrics::new()),
        ));
        let start = tokio::time::Instant::now();
        let jobs: Vec<_> = (0..4)
            .map(|_| {
                let p = pool.clone();
                tokio::spawn(async move { p.run(Duration::from_secs(1)).await })
            })
            .collect();
        for j in jobs {
            j.await.unwrap();
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "4 one-second bursts on 2 cores"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_costs_more_the_more_cores_are_busy() {
        let pool = Arc::new(CorePool::new(
            3,
            0.25,
            Clock::real(),
            Arc::new(HiveMetrics::new()),
        ));
        // Alone: its own CPU.
        let start = tokio::time::Instant::now();
        pool.run(Duration::from_secs(1)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // Three at once: the second starts with two cores busy (1.5 s), the third with three
        // (2.5 s); the pool's CPU counts what they cost.
        let start = tokio::time::Instant::now();
        let jobs: Vec<_> = (0..3)
            .map(|_| {
                let p = pool.clone();
                tokio::spawn(async move { p.run(Duration::from_secs(1)).await })
            })
            .collect();
        for j in jobs {
            j.await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_millis(2500));
        assert!((pool.spent() - 6.0).abs() < 1e-9, "{}", pool.spent());
    }

    #[tokio::test(start_paused = true)]
    async fn capacity_caps_the_request_rate() {
        let api = Arc::new(ApiCapacity::new(Some(100.0), Clock::real()));
        let start = tokio::time::Instant::now();
        let reqs: Vec<_> = (0..200)
            .map(|_| {
                let a = api.clone();
                tokio::spawn(async move { a.request(Duration::from_millis(5)).await })
            })
            .collect();
        for r in reqs {
            r.await.unwrap();
        }
        let took = start.elapsed().as_secs_f64();
        assert!(
            (took - 1.995).abs() < 0.02,
            "200 requests at 100/s took {took}"
        );
    }
}

/// A client-side token bucket on modeled time (controller-runtime's client QPS and burst).
#[derive(Debug)]
pub struct ClientLimiter {
    bucket: Mutex<Bucket>,
    clock: Clock,
}

#[derive(Debug)]
struct Bucket {
    /// `None`: unlimited.
    qps: Option<f64>,
    burst: f64,
    tokens: f64,
    at: Duration,
}

impl Bucket {
    fn full(qps: Option<f64>, burst: u32, at: Duration) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            qps: qps.filter(|q| *q > 0.0),
            burst,
            tokens: burst,
            at,
        }
    }
}

impl ClientLimiter {
    /// `None`: unlimited.
    pub fn new(qps: Option<f64>, burst: u32, clock: Clock) -> Self {
        Self {
            bucket: Mutex::new(Bucket::full(qps, burst, Duration::ZERO)),
            clock,
        }
    }

    /// The rate (`None`: unlimited) and burst.
    pub fn settings(&self) -> (Option<f64>, u32) {
        let b = self.bucket.lock();
        (b.qps, b.burst as u32)
    }

    /// New settings, with a full bucket: as a pod restarted with a new client. The same
    /// settings change nothing, so a HiveConfig edit elsewhere does not refill the bucket.
    pub fn set(&self, qps: Option<f64>, burst: u32) {
        let new = Bucket::full(qps, burst, self.clock.elapsed());
        let mut b = self.bucket.lock();
        if (b.qps, b.burst) != (new.qps, new.burst) {
            *b = new;
        }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        let wait = {
            let mut b = self.bucket.lock();
            let Some(qps) = b.qps else { return };
            let now = self.clock.elapsed();
            let tokens =
                (b.tokens + now.saturating_sub(b.at).as_secs_f64() * qps).min(b.burst) - 1.0;
            (b.tokens, b.at) = (tokens, now);
            if tokens < 0.0 {
                Duration::from_secs_f64(-tokens / qps)
            } else {
                Duration::ZERO
            }
        };
        self.clock.sleep(wait).await;
    }
}
