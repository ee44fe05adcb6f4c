//! One clock for every modeled duration: real time, real time compressed by a scale factor, or
//! a virtual clock that runs as fast as the CPU allows.
//!
//! Controllers only ever `sleep` modeled durations and read modeled time through a [`Clock`].
//! Real and scaled clocks divide the duration by the scale; the virtual clock is tokio's paused
//! clock (see [`run_virtual`]), which jumps to the next timer whenever every task is waiting, so
//! the same code plans hours of Hive work in seconds.

use std::time::Duration;
use tokio::time::Instant;

/// Lateness beyond which a sleep no longer chains from the previous one's due time.
const SLACK: Duration = Duration::from_millis(3);

tokio::task_local! {
    static CURSOR: std::cell::Cell<Option<Instant>>;
}

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
    ///
    /// Tokio's timers fire on whole milliseconds, so at a high time scale every short sleep
    /// would last a full millisecond and modeled time would inflate. Inside [`Clock::track`],
    /// consecutive sleeps of one task are chained from where the previous one was due, not
    /// from when it woke, so the rounding does not accumulate.
    pub async fn sleep(&self, modeled: Duration) {
        if modeled.is_zero() {
            return;
        }
        let real = modeled.div_f64(self.scale);
        let now = Instant::now();
        let deadline = CURSOR
            .try_with(|c| {
                // A task that waited on something else (a core, the queue) starts afresh.
                let from = c
                    .get()
                    .filter(|due| now.saturating_duration_since(*due) < SLACK)
                    .unwrap_or(now);
                let due = from + real;
                c.set(Some(due));
                due
            })
            .unwrap_or(now + real);
        tokio::time::sleep_until(deadline).await;
    }

    /// Runs `fut` with its own sleep cursor (see [`Clock::sleep`]).
    pub fn track<F: std::future::Future>(fut: F) -> impl std::future::Future<Output = F::Output> {
        CURSOR.scope(std::cell::Cell::new(None), fut)
    }

    /// Waits until modeled time `at` (since the clock started).
    pub async fn sleep_until(&self, at: Duration) {
        let deadline = self.start + at.div_f64(self.scale);
        // The next chained sleep starts from this deadline.
        let _ = CURSOR.try_with(|c| c.set(Some(deadline)));
        tokio::time::sleep_until(deadline).await;
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

    #[tokio::test]
    async fn chained_short_sleeps_do_not_inflate() {
        // 200 sleeps of 50 microseconds real time each: 10 ms, not 200 timer ticks.
        let c = Clock::scaled(100.0);
        let start = std::time::Instant::now();
        Clock::track(async {
            for _ in 0..200 {
                c.sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let took = start.elapsed();
        assert!(took < Duration::from_millis(60), "took {took:?}");
        assert!(took >= Duration::from_millis(10));
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
