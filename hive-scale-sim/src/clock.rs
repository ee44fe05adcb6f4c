//! One clock for every modeled duration: real time, real time compressed by a scale factor, or
//! a virtual clock that runs as fast as the CPU allows.
//!
//! Controllers only ever `sleep` modeled durations and read modeled time through a [`Clock`].
//! Real and scaled clocks divide the duration by the scale; the virtual clock is tokio's paused
//! clock (see [`run_virtual`]), which jumps to the next timer whenever every task is waiting, so
//! the same code plans hours of Hive work in seconds.

use std::time::Duration;
use tokio::time::Instant;

/// Maps modeled time to the runtime's clock.
#[derive(Debug, Clone)]
pub struct Clock {
    scale: f64,
    start: Instant,
    epoch: jiff::Timestamp,
}

impl Clock {
    /// Modeled time is wall time.
    pub fn real() -> Self {
        Self::scaled(1.0)
    }

    /// A modeled duration `d` takes `d / scale` of the runtime's time.
    pub fn scaled(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            scale,
            start: Instant::now(),
            epoch: jiff::Timestamp::now(),
        }
    }

    /// The scale factor (1 for real time and for the virtual clock).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Waits a modeled duration.
    pub async fn sleep(&self, modeled: Duration) {
        if !modeled.is_zero() {
            tokio::time::sleep(modeled.div_f64(self.scale)).await;
        }
    }

    /// Waits until modeled time `at` (since the clock started).
    pub async fn sleep_until(&self, at: Duration) {
        let now = self.elapsed();
        if at > now {
            self.sleep(at - now).await;
        }
    }

    /// Modeled time since the clock started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed().mul_f64(self.scale)
    }

    /// The modeled wall-clock time: the start plus modeled time elapsed.
    pub fn now(&self) -> jiff::Timestamp {
        let d =
            jiff::SignedDuration::try_from(self.elapsed()).unwrap_or(jiff::SignedDuration::ZERO);
        self.epoch.checked_add(d).unwrap_or(self.epoch)
    }

    /// [`Clock::now`] as Kubernetes writes timestamps (RFC 3339, whole seconds).
    pub fn now_rfc3339(&self) -> String {
        let t = self.now();
        jiff::Timestamp::from_second(t.as_second())
            .unwrap_or(t)
            .to_string()
    }

    /// Modeled seconds between a timestamp and now (for ages and latencies).
    pub fn seconds_since(&self, ts: &str) -> Option<f64> {
        let t: jiff::Timestamp = ts.parse().ok()?;
        Some((self.now().as_millisecond() - t.as_millisecond()) as f64 / 1000.0)
    }
}

/// Runs `fut` on a current-thread runtime whose clock is paused: time advances only when every
/// task is waiting, straight to the next timer. Returns what `fut` returns.
pub fn run_virtual<F: std::future::Future>(fut: F) -> std::io::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    Ok(rt.block_on(fut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_is_free() {
        let wall = std::time::Instant::now();
        let modeled = run_virtual(async {
            let c = Clock::real();
            c.sleep(Duration::from_secs(7200)).await;
            c.elapsed()
        })
        .unwrap();
        assert!(modeled >= Duration::from_secs(7200) && modeled < Duration::from_secs(7201));
        assert!(wall.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn scaled_time_divides_sleeps() {
        let c = Clock::scaled(100.0);
        let real = Instant::now();
        c.sleep(Duration::from_secs(100)).await;
        assert_eq!(real.elapsed(), Duration::from_secs(1));
        assert!((c.elapsed().as_secs_f64() - 100.0).abs() < 0.01);
        assert!(c.seconds_since(&c.now_rfc3339()).unwrap() < 1.0);
    }
}
