//! A client-side token bucket shared by every request, like client-go's QPS/burst limiter.

use parking_lot::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Allows `qps` requests per second on average and `burst` at once; `qps <= 0` means unlimited.
///
/// Requests reserve a token and sleep until it is theirs, so waiters are served in arrival
/// order and nobody spins.
#[derive(Debug)]
pub struct RateLimiter {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
    waited: Mutex<Duration>,
}

impl RateLimiter {
    /// A limiter that starts with a full bucket.
    pub fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            qps,
            burst,
            state: Mutex::new((burst, Instant::now())),
            waited: Mutex::new(Duration::ZERO),
        }
    }

    /// Whether the limiter lets everything through.
    pub fn unlimited(&self) -> bool {
        self.qps <= 0.0
    }

    /// Waits for one token; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        if self.unlimited() {
            return Duration::ZERO;
        }
        let wait = {
            let mut st = self.state.lock();
            let now = Instant::now();
            let refill = now.saturating_duration_since(st.1).as_secs_f64() * self.qps;
            st.0 = (st.0 + refill).min(self.burst) - 1.0;
            st.1 = now;
            if st.0 < 0.0 {
                Duration::from_secs_f64(-st.0 / self.qps)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
            *self.waited.lock() += wait;
        }
        wait
    }

    /// Total time requests spent waiting for tokens.
    pub fn total_wait(&self) -> Duration {
        *self.waited.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_the_rate_after_the_burst() {
        let l = RateLimiter::new(50.0, 10);
        let start = Instant::now();
        for _ in 0..110 {
            l.acquire().await;
        }
        // 10 immediately, 100 more at 50/s = 2 s.
        let took = start.elapsed().as_secs_f64();
        assert!((took - 2.0).abs() < 0.05, "took {took}");
        assert!((l.total_wait().as_secs_f64() - 2.0).abs() < 0.2);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_qps_is_unlimited() {
        let l = RateLimiter::new(0.0, 0);
        let start = Instant::now();
        for _ in 0..1000 {
            l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
