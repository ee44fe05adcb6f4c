//! Fault injection: answer a share of resource requests with what a struggling API server or
//! a bad network does, so clients' retry paths can be tested. Decisions come from a seeded
//! generator: a run repeats.
//!
//! The `--faults` spec is `KIND=VALUE,...`:
//!
//! * `429=RATE`: 429 TooManyRequests with Retry-After (`retry-after=SECONDS`, default 1).
//! * `500=RATE`, `503=RATE`: InternalError, ServiceUnavailable.
//! * `409=RATE`: 409 on every write, nothing changed: AlreadyExists on POST (a racing create),
//!   Conflict on PUT, PATCH (server-side apply included) and DELETE.
//! * `drop=RATE`: the connection is cut after the response headers; the request was not served.
//! * `commit-drop=RATE`: a write (POST, PUT, PATCH, DELETE) is committed, then the connection
//!   is cut before the response: the client sees a transport error although the change
//!   happened.
//! * `latency=MSms`: added to every resource request.
//! * `delay=RATE:DURATION`: a share of resource requests is held DURATION (`1500ms`, `2s`)
//!   before it is served: a server slow now and then, which its latency percentiles show.
//! * `restart=AFTER:DOWN`: the server restarts once, AFTER seconds in, down for DOWN seconds.
//! * `seed=N`: the generator's seed.

use super::error::ApiError;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Rates (0..=1) of each fault, per resource request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// 429 TooManyRequests with a Retry-After of `retry_after`.
    pub too_many_requests: f64,
    /// Seconds clients are asked to wait after a 429.
    pub retry_after: u64,
    /// 500 InternalError.
    pub internal_error: f64,
    /// 503 ServiceUnavailable.
    pub unavailable: f64,
    /// 409 on every write, with nothing changed: AlreadyExists on POST (a racing create),
    /// Conflict on PUT, PATCH (including apply) and DELETE.
    pub conflict: f64,
    /// The response starts, then the connection is cut (the request is not served).
    pub drop_connection: f64,
    /// A write is committed, then the connection is cut before the response.
    pub commit_drop: f64,
    /// 403 Forbidden: credentials without the permission (RBAC).
    pub forbidden: f64,
    /// Added to every resource request.
    pub latency: Duration,
    /// A share of resource requests, and how long each of them is held.
    pub delay: Option<(f64, Duration)>,
    /// Seed of the generator.
    pub seed: u64,
    /// Restart the API server once: after the first duration, for the second.
    pub restart: Option<(Duration, Duration)>,
}

impl FaultConfig {
    /// Parses `429=0.1,500=0.1,503=0.1,409=0.1,drop=0.1,commit-drop=0.1,latency=5ms,
    /// retry-after=1,restart=30:2,seed=7` (see the module documentation).
    ///
    /// # Errors
    ///
    /// The first part that is not `KIND=VALUE` of a known kind with a value of its form.
    pub fn parse(text: &str) -> Result<Self, FaultSpecError> {
        let mut f = Self {
            retry_after: 1,
            seed: 1,
            ..Default::default()
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| FaultSpecError::NotKindValue(part.to_string()))?;
            let malformed = |expected: &'static str| FaultSpecError::Malformed {
                kind: k.to_string(),
                value: v.to_string(),
                expected,
            };
            let rate = |r: &str| -> Result<f64, FaultSpecError> {
                let r: f64 = r.parse().map_err(|_| malformed("a number"))?;
                if (0.0..=1.0).contains(&r) {
                    Ok(r)
                } else {
                    Err(FaultSpecError::RateOutOfRange {
                        kind: k.to_string(),
                        rate: r,
                    })
                }
            };
            match k {
                "429" => f.too_many_requests = rate(v)?,
                "500" => f.internal_error = rate(v)?,
                "503" => f.unavailable = rate(v)?,
                "409" => f.conflict = rate(v)?,
                "drop" => f.drop_connection = rate(v)?,
                "commit-drop" => f.commit_drop = rate(v)?,
                "403" => f.forbidden = rate(v)?,
                "retry-after" => {
                    f.retry_after = v.parse().map_err(|_| malformed("whole seconds"))?
                }
                "seed" => f.seed = v.parse().map_err(|_| malformed("a number"))?,
                "restart" => {
                    let secs = |x: &str| {
                        x.parse::<f64>()
                            .ok()
                            .filter(|s| s.is_finite() && *s >= 0.0)
                            .map(Duration::from_secs_f64)
                    };
                    let (after, down) = v
                        .split_once(':')
                        .and_then(|(a, d)| Some((secs(a)?, secs(d)?)))
                        .ok_or_else(|| malformed("AFTER:DOWN seconds"))?;
                    f.restart = Some((after, down));
                }
                "delay" => {
                    let (r, d) = v
                        .split_once(':')
                        .ok_or_else(|| malformed("RATE:DURATION (e.g. 0.1:1500ms)"))?;
                    let r = rate(r)?;
                    let d = hive_scale_core::metrics::parse_duration(d).map_err(|source| {
                        FaultSpecError::Duration {
                            kind: k.to_string(),
                            source,
                        }
                    })?;
                    f.delay = Some((r, d));
                }
                "latency" => {
                    let ms = v
                        .strip_suffix("ms")
                        .and_then(|ms| ms.parse().ok())
                        .ok_or_else(|| malformed("a whole number of ms (e.g. 5ms)"))?;
                    f.latency = Duration::from_millis(ms);
                }
                other => return Err(FaultSpecError::Unknown(other.to_string())),
            }
        }
        Ok(f)
    }

    /// Whether any fault is configured.
    pub fn active(&self) -> bool {
        self.too_many_requests
            + self.internal_error
            + self.unavailable
            + self.conflict
            + self.drop_connection
            + self.commit_drop
            + self.forbidden
            > 0.0
            || !self.latency.is_zero()
            || self.delay.is_some_and(|(r, d)| r > 0.0 && !d.is_zero())
            || self.restart.is_some()
    }
}

/// A `--faults` spec that does not parse ([`FaultConfig::parse`]).
#[derive(Debug, thiserror::Error)]
pub enum FaultSpecError {
    /// A part without `=`.
    #[error("expected KIND=VALUE, got {0:?}")]
    NotKindValue(String),
    /// A kind that is not one of the known faults.
    #[error(
        "unknown fault {0:?}; known: 429=RATE, 500=RATE, 503=RATE, 409=RATE (AlreadyExists on POST, Conflict on PUT, PATCH, DELETE; nothing changed), drop=RATE (cut before serving), commit-drop=RATE (write committed, then cut before the response), latency=MSms, delay=RATE:DURATION, retry-after=SECONDS, restart=AFTER:DOWN, seed=N"
    )]
    Unknown(String),
    /// A value not of its kind's form.
    #[error("{kind}: {value:?} is not {expected}")]
    Malformed {
        /// The fault.
        kind: String,
        /// The value given.
        value: String,
        /// The form it must have.
        expected: &'static str,
    },
    /// A rate outside 0..=1.
    #[error("{kind}: rate {rate} is not between 0 and 1")]
    RateOutOfRange {
        /// The fault.
        kind: String,
        /// The rate given.
        rate: f64,
    },
    /// A duration that does not parse.
    #[error("{kind}")]
    Duration {
        /// The fault.
        kind: String,
        /// Why the duration does not parse.
        #[source]
        source: hive_scale_core::metrics::MetricsError,
    },
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this error.
    Error(ApiError),
    /// Start a response and cut the connection, without serving the request.
    Drop,
    /// Serve the request (commit the write), then cut the connection instead of answering.
    CommitThenDrop,
}

/// Counts of injected faults and how clients reacted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultStats {
    /// Faults injected, by kind (`429`, `500`, `503`, `409`, `drop`, `commit-drop`).
    pub injected: HashMap<&'static str, u64>,
    /// Shortest time between a 429 and the next request for the same URL (seconds).
    pub min_retry_gap: Option<f64>,
}

/// The injector.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rng: rand::rngs::StdRng,
    stats: FaultStats,
    throttled: HashMap<String, Instant>,
}

impl Faults {
    /// An injector for `config`.
    pub fn new(config: FaultConfig) -> Self {
        let rng = rand::rngs::StdRng::seed_from_u64(config.seed);
        Self {
            config,
            state: Mutex::new(State {
                rng,
                stats: FaultStats::default(),
                throttled: HashMap::new(),
            }),
        }
    }

    /// Added latency.
    pub fn latency(&self) -> Duration {
        self.config.latency
    }

    /// How long to hold this request, when the delay fault picks it.
    pub fn delay(&self) -> Option<Duration> {
        let (rate, d) = self.config.delay?;
        let mut st = self.state.lock();
        // A roll of its own: configs without a delay keep their fault sequences.
        if st.rng.random::<f64>() >= rate {
            return None;
        }
        *st.stats.injected.entry("delay").or_default() += 1;
        Some(d)
    }

    /// Decides the fate of a request to `key` (method and path).
    pub fn decide(&self, method: &str, key: &str) -> Option<Fault> {
        let c = &self.config;
        let writes = matches!(method, "POST" | "PUT" | "PATCH" | "DELETE");
        let mut st = self.state.lock();
        if let Some(at) = st.throttled.remove(key) {
            let gap = at.elapsed().as_secs_f64();
            st.stats.min_retry_gap = Some(st.stats.min_retry_gap.map_or(gap, |g| g.min(gap)));
        }
        let roll: f64 = st.rng.random();
        let mut edge = 0.0;
        let mut pick = |rate: f64| {
            edge += rate;
            roll < edge
        };
        let (kind, fault) = if pick(c.too_many_requests) {
            st.throttled.insert(key.to_string(), Instant::now());
            (
                "429",
                Fault::Error(ApiError::too_many_requests(c.retry_after)),
            )
        } else if pick(c.internal_error) {
            (
                "500",
                Fault::Error(ApiError::internal("injected fault: internal error")),
            )
        } else if pick(c.unavailable) {
            (
                "503",
                Fault::Error(ApiError::unavailable("injected fault: service unavailable")),
            )
        } else if writes && pick(c.conflict) {
            // A create races with another create (AlreadyExists, as if that object were then
            // deleted again); a write to an object races with another write (Conflict).
            let error = if method == "POST" {
                ApiError::already_exists("object", key)
            } else {
                ApiError::conflict(
                    "object",
                    key,
                    "injected fault: the object has been modified; please apply your changes to the latest version and try again",
                )
            };
            ("409", Fault::Error(error))
        } else if pick(c.drop_connection) {
            ("drop", Fault::Drop)
        } else if writes && pick(c.commit_drop) {
            ("commit-drop", Fault::CommitThenDrop)
        } else if !is_discovery(key) && pick(c.forbidden) {
            (
                "403",
                Fault::Error(ApiError::forbidden(
                    "injected fault: the credentials lack this permission",
                )),
            )
        } else {
            return None;
        };
        *st.stats.injected.entry(kind).or_default() += 1;
        Some(fault)
    }

    /// What was injected so far.
    pub fn stats(&self) -> FaultStats {
        self.state.lock().stats.clone()
    }
}

/// Whether `key` (`METHOD /path?query`) asks for discovery (`/api/v1`, `/apis/GROUP/VERSION`),
/// which Kubernetes allows every authenticated user: RBAC refusals are for resources.
fn is_discovery(key: &str) -> bool {
    let path = key
        .split_once(' ')
        .map_or(key, |(_, p)| p)
        .split('?')
        .next()
        .unwrap_or_default();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.first() {
        Some(&"api") => parts.len() <= 2,
        Some(&"apis") => parts.len() <= 3,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_spares_discovery() {
        let f = Faults::new(FaultConfig::parse("403=1").unwrap());
        assert!(f.decide("GET", "GET /apis/hive.openshift.io/v1").is_none());
        assert!(f.decide("GET", "GET /api/v1?timeout=32s").is_none());
        assert!(matches!(
            f.decide("GET", "GET /apis/hive.openshift.io/v1/clusterdeployments?limit=1"),
            Some(Fault::Error(e)) if e.code == 403
        ));
    }

    #[test]
    fn parses_and_rejects() {
        let f = FaultConfig::parse("429=0.1,500=0.2,drop=0.05,latency=5ms,retry-after=2,seed=9")
            .unwrap();
        assert_eq!(
            (f.too_many_requests, f.internal_error, f.drop_connection),
            (0.1, 0.2, 0.05)
        );
        assert_eq!(
            (f.latency, f.retry_after, f.seed),
            (Duration::from_millis(5), 2, 9)
        );
        assert!(f.active());
        assert!(FaultConfig::parse("429=2").is_err());
        assert!(FaultConfig::parse("teapot=0.1").is_err());
        assert!(FaultConfig::parse("latency=5s").is_err());
        let f = FaultConfig::parse("commit-drop=0.3,409=0.2").unwrap();
        assert_eq!((f.commit_drop, f.conflict), (0.3, 0.2));
        assert!(f.active());
        let f = FaultConfig::parse("delay=0.25:1500ms").unwrap();
        assert_eq!(f.delay, Some((0.25, Duration::from_millis(1500))));
        assert!(f.active());
        assert!(FaultConfig::parse("delay=2:1s").is_err());
        assert!(FaultConfig::parse("delay=0.5").is_err());
        assert!(matches!(
            FaultConfig::parse("429=2"),
            Err(FaultSpecError::RateOutOfRange { rate: 2.0, .. })
        ));
        assert!(matches!(
            FaultConfig::parse("delay=0.1:soon"),
            Err(FaultSpecError::Duration { .. })
        ));
        let err = FaultConfig::parse("commit_drop=0.1").unwrap_err();
        assert!(matches!(&err, FaultSpecError::Unknown(k) if k == "commit_drop"));
        let err = err.to_string();
        assert!(
            err.contains("commit-drop=RATE") && err.contains("409=RATE"),
            "{err}"
        );
    }

    #[test]
    fn conflicts_hit_every_write_and_commit_drops_every_write() {
        let all = |config: FaultConfig| {
            let f = Faults::new(config);
            ["GET", "POST", "PUT", "PATCH", "DELETE"].map(|m| f.decide(m, &format!("{m} /x")))
        };
        let conflict = all(FaultConfig {
            conflict: 1.0,
            ..Default::default()
        });
        assert!(conflict[0].is_none(), "{conflict:?}");
        assert!(
            conflict[1..]
                .iter()
                .all(|f| matches!(f, Some(Fault::Error(e)) if e.code == 409)),
            "{conflict:?}"
        );
        assert!(
            matches!(&conflict[1], Some(Fault::Error(e)) if e.reason == "AlreadyExists"),
            "{conflict:?}"
        );
        let commit = all(FaultConfig {
            commit_drop: 1.0,
            ..Default::default()
        });
        assert_eq!(commit[0], None);
        assert!(
            commit[1..]
                .iter()
                .all(|f| *f == Some(Fault::CommitThenDrop))
        );
    }

    #[test]
    fn delays_the_configured_share() {
        let f = Faults::new(FaultConfig {
            delay: Some((0.3, Duration::from_millis(5))),
            ..Default::default()
        });
        let n = (0..10_000).filter(|_| f.delay().is_some()).count();
        assert!((2700..3300).contains(&n), "{n}");
        assert_eq!(f.stats().injected.get("delay"), Some(&(n as u64)));
        assert_eq!(Faults::new(FaultConfig::default()).delay(), None);
    }

    #[test]
    fn injects_at_roughly_the_configured_rate_and_repeats_with_the_seed() {
        let cfg = FaultConfig {
            internal_error: 0.1,
            seed: 3,
            ..Default::default()
        };
        let count = |f: &Faults| {
            (0..10_000)
                .filter(|i| f.decide("GET", &format!("/x/{i}")).is_some())
                .count()
        };
        let a = count(&Faults::new(cfg.clone()));
        assert!((900..1100).contains(&a), "{a}");
        assert_eq!(a, count(&Faults::new(cfg)), "same seed, same faults");
    }
}
