//! Counts and latencies of the requests a [`Hub`](super::Hub) sent.

use parking_lot::Mutex;
use serde::Serialize;
use std::time::Duration;

/// Shared request statistics.
#[derive(Debug, Default)]
pub struct RequestStats {
    inner: Mutex<Inner>,
    // Counted per body chunk, watches included: an atomic keeps the hot path off the lock.
    response_bytes: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: u64,
    errors: u64,
    retries: u64,
    latencies: Vec<f32>,
}

/// Cap on recorded latencies; percentiles over the first million requests are plenty.
const MAX_SAMPLES: usize = 1_000_000;

/// A point-in-time copy of [`RequestStats`], serializable for summaries.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Requests answered with an error status or not answered.
    pub errors: u64,
    /// Retries after transient failures.
    pub retries: u64,
    /// Bytes of response bodies received, watch streams included: what the hub served us.
    pub response_bytes: u64,
    /// Median request latency, seconds.
    pub latency_p50: f64,
    /// 90th percentile latency, seconds.
    pub latency_p90: f64,
    /// 99th percentile latency, seconds.
    pub latency_p99: f64,
    /// Slowest request, seconds.
    pub latency_max: f64,
    /// Time spent waiting on the client-side rate limiter, seconds (summed over requests).
    pub limiter_wait_seconds: f64,
}

impl RequestStats {
    /// Records one request.
    pub fn record(&self, latency: Duration, ok: bool) {
        let mut s = self.inner.lock();
        s.requests += 1;
        if !ok {
            s.errors += 1;
        }
        if s.latencies.len() < MAX_SAMPLES {
            s.latencies.push(latency.as_secs_f32());
        }
    }

    /// Counts bytes of response bodies (watch streams included, as they arrive).
    pub fn received(&self, bytes: u64) {
        self.response_bytes
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records one retry.
    pub fn retried(&self) {
        self.inner.lock().retries += 1;
    }

    /// The numbers so far.
    pub fn snapshot(&self, limiter_wait: Duration) -> StatsSnapshot {
        let (requests, errors, retries, mut l) = {
            let s = self.inner.lock();
            (s.requests, s.errors, s.retries, s.latencies.clone())
        };
        l.sort_by(f32::total_cmp);
        StatsSnapshot {
            requests,
            errors,
            retries,
            response_bytes: self
                .response_bytes
                .load(std::sync::atomic::Ordering::Relaxed),
            latency_p50: percentile(&l, 0.50),
            latency_p90: percentile(&l, 0.90),
            latency_p99: percentile(&l, 0.99),
            latency_max: l.last().copied().map(f64::from).unwrap_or(0.0),
            limiter_wait_seconds: limiter_wait.as_secs_f64(),
        }
    }
}

/// Nearest-rank percentile of sorted samples (0 when empty).
pub fn percentile(sorted: &[f32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let s: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        assert_eq!(percentile(&s, 0.5), 50.0);
        assert_eq!(percentile(&s, 0.99), 99.0);
        assert_eq!(percentile(&s, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn snapshot_counts() {
        let st = RequestStats::default();
        st.record(Duration::from_millis(10), true);
        st.record(Duration::from_millis(30), false);
        st.retried();
        let s = st.snapshot(Duration::from_secs(1));
        assert_eq!((s.requests, s.errors, s.retries), (2, 1, 1));
        assert!((s.latency_max - 0.03).abs() < 1e-6);
        assert_eq!(s.limiter_wait_seconds, 1.0);
    }
}
