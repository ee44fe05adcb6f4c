//! One clock for every modeled duration: real time, real time compressed by a scale factor, or
//! a virtual clock that runs as fast as the CPU allows.
//!
//! Controllers only ever `sleep` modeled durations and read modeled time through a [`Clock`].
//! Real and scaled clocks divide the duration by the scale; the virtual clock is tokio's paused
//! clock (see [`run_virtual`]), which jumps to the next timer whenever every task is waiting, so
//! the same code plans hours of Hive work in seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Lateness beyond which a sleep no longer chains from the previous one's due time.
const SLACK: Duration = Duration::from_millis(3);

/// Modeled seconds per real second: at 100, a modeled hour passes in 36 real seconds.
///
/// Checked once, where it is made: a clock never sees a value that is not finite and positive.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct TimeScale(f64);

impl TimeScale {
    /// Real time.
    pub const REAL: TimeScale = TimeScale(1.0);
    /// The largest scale the paced simulation is meant for.
    pub const MAX: f64 = 1_000_000.0;

    /// `k` modeled seconds per real second.
    ///
    /// # Errors
    ///
    /// [`TimeScaleError::OutOfRange`] when `k` is not finite, not positive, or above
    /// [`TimeScale::MAX`].
    pub fn new(k: f64) -> Result<Self, TimeScaleError> {
        if k.is_finite() && k > 0.0 && k <= Self::MAX {
            Ok(Self(k))
        } else {
            Err(TimeScaleError::OutOfRange(k))
        }
    }

    /// The factor.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for TimeScale {
    fn default() -> Self {
        Self::REAL
    }
}

impl TryFrom<f64> for TimeScale {
    type Error = TimeScaleError;
    fn try_from(k: f64) -> Result<Self, TimeScaleError> {
        Self::new(k)
    }
}

impl From<TimeScale> for f64 {
    fn from(k: TimeScale) -> f64 {
        k.0
    }
}

impl std::str::FromStr for TimeScale {
    type Err = TimeScaleError;
    fn from_str(s: &str) -> Result<Self, TimeScaleError> {
        let k: f64 = s
            .trim()
            .parse()
            .map_err(|_| TimeScaleError::NotANumber(s.to_string()))?;
        Self::new(k)
    }
}

/// A time scale that is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeScaleError {
    /// Not finite, not positive, or above [`TimeScale::MAX`].
    #[error(
        "the time scale must be a positive number of modeled seconds per real second (at most {max}), not {0}",
        max = TimeScale::MAX
    )]
    OutOfRange(f64),
    /// Text that is not a number.
    #[error("the time scale must be a number, not {0:?}")]
    NotANumber(String),
}

impl std::fmt::Display for TimeScale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

tokio::task_local! {
    static CURSOR: std::cell::Cell<Option<Instant>>;
}

/// Maps modeled time to the runtime's clock.
#[derive(Debug, Clone)]
pub struct Clock {
    scale: f64,
    start: Instant,
    epoch: jiff::Timestamp,
    /// Modeled nanoseconds published by a paced simulation (see [`pace`]), for readers on
    /// another runtime (the API server's timestamps).
    follow: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// Modeled time is wall time.
    pub fn real() -> Self {
        Self::scaled(TimeScale::REAL)
    }

    /// A modeled duration `d` takes `d / scale` of the runtime's time.
    pub fn scaled(scale: TimeScale) -> Self {
        Self {
            scale: scale.get(),
            start: Instant::now(),
            epoch: jiff::Timestamp::now(),
            follow: None,
        }
    }

    /// A clock on the caller's runtime starting at `epoch` (a paced simulation's own clock).
    pub fn starting_at(epoch: jiff::Timestamp) -> Self {
        Self {
            epoch,
            ..Self::real()
        }
    }

    /// A read-only view of a paced simulation's time for another runtime: modeled time is what
    /// the simulation published, the scale is informational.
    pub fn following(epoch: jiff::Timestamp, scale: TimeScale, published: Arc<AtomicU64>) -> Self {
        Self {
            scale: scale.get(),
            start: Instant::now(),
            epoch,
            follow: Some(published),
        }
    }

    /// The wall-clock time modeled time starts from.
    pub fn epoch(&self) -> jiff::Timestamp {
        self.epoch
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
        match &self.follow {
            Some(f) => Duration::from_nanos(f.load(Ordering::Relaxed)),
            None => self.start.elapsed().mul_f64(self.scale),
        }
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

    /// Modeled seconds between a timestamp and now (for ages and latencies); `None` when `ts`
    /// is not RFC 3339.
    pub fn seconds_since(&self, ts: &str) -> Option<f64> {
        Some(self.seconds_since_time(ts.parse().ok()?))
    }

    /// [`Clock::seconds_since`] of a parsed timestamp.
    pub fn seconds_since_time(&self, t: jiff::Timestamp) -> f64 {
        (self.now().as_millisecond() - t.as_millisecond()) as f64 / 1000.0
    }
}

/// Keeps a paused runtime's clock `scale` times ahead of real time until `stop` is set, and
/// publishes the modeled time reached into `published`.
///
/// The simulation runs on a current-thread runtime whose clock is paused: its timers fire at
/// exact modeled instants (no millisecond rounding of scaled-down sleeps), and this task lets
/// time advance only as fast as real time allows. If the simulation needs more real CPU than it
/// has, modeled time simply advances more slowly: results stay right, the run takes longer.
pub async fn pace(scale: TimeScale, stop: Arc<AtomicBool>, published: Arc<AtomicU64>) {
    let scale = scale.get();
    let real0 = std::time::Instant::now();
    let virt0 = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        published.store(
            now.saturating_duration_since(virt0).as_nanos() as u64,
            Ordering::Relaxed,
        );
        let target = virt0 + real0.elapsed().mul_f64(scale);
        if now < target {
            // Other timers before the target fire first; then time jumps to the target.
            tokio::time::sleep_until(target).await;
        } else {
            // Ahead of real time: let real time pass.
            std::thread::sleep(Duration::from_micros(500));
            tokio::task::yield_now().await;
        }
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

    #[test]
    fn pacing_keeps_modeled_time_at_the_scale() {
        let stop = Arc::new(AtomicBool::new(false));
        let published = Arc::new(AtomicU64::new(0));
        let (s2, p2) = (stop.clone(), published.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let wall = std::time::Instant::now();
        let modeled = rt.block_on(async move {
            tokio::spawn(pace(TimeScale::new(100.0).unwrap(), s2, p2));
            let c = Clock::real();
            // 1000 sleeps of 1 ms modeled: 1 s modeled, 10 ms real at scale 100.
            for _ in 0..1000 {
                c.sleep(Duration::from_millis(1)).await;
            }
            stop.store(true, Ordering::Relaxed);
            c.elapsed()
        });
        let real = wall.elapsed();
        assert!(modeled >= Duration::from_secs(1), "{modeled:?}");
        assert!(
            real >= Duration::from_millis(9) && real < Duration::from_millis(200),
            "{real:?}"
        );
        assert!(published.load(Ordering::Relaxed) > 0);
    }

    #[tokio::test]
    async fn chained_short_sleeps_do_not_inflate() {
        // 200 sleeps of 50 microseconds real time each: 10 ms, not 200 timer ticks.
        let c = Clock::scaled(TimeScale::new(100.0).unwrap());
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

    #[test]
    fn time_scales_are_checked_once() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e6] {
            assert!(TimeScale::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            "fast".parse::<TimeScale>(),
            Err(TimeScaleError::NotANumber("fast".into()))
        );
        assert_eq!("250".parse::<TimeScale>().unwrap().get(), 250.0);
        assert!(serde_json::from_str::<TimeScale>("-3").is_err());
        assert_eq!(serde_json::from_str::<TimeScale>("2.5").unwrap().get(), 2.5);
    }

    #[tokio::test(start_paused = true)]
    async fn scaled_time_divides_sleeps() {
        let c = Clock::scaled(TimeScale::new(100.0).unwrap());
        let real = Instant::now();
        c.sleep(Duration::from_secs(100)).await;
        assert_eq!(real.elapsed(), Duration::from_secs(1));
        assert!((c.elapsed().as_secs_f64() - 100.0).abs() < 0.01);
        assert!(c.seconds_since(&c.now_rfc3339()).unwrap() < 1.0);
    }
}
