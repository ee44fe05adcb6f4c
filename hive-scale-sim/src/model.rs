//! The cost model: what an apply costs in modeled CPU on a fixed pool of cores, in remote
//! request latency, and in the capacity of the spoke's and the hub's API servers.
//!
//! Every parameter is a field here and a flag of `hub` and `plan`. The presets hold values
//! fitted to the 2020 scale test; `docs/performance.md` shows how each was derived and the model's
//! numbers beside the report's.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How Hive writes a resource to the spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyMode {
    /// kubectl's apply code through a temp file (Hive in 2020, and its client-side apply today).
    ClientSide,
    /// Server-side apply (what the 2020 report tried).
    ServerSide,
    /// Hive's fake-cluster helper: a sleep drawn from {27,27,27,27,27,45,45,45,53,230} ms.
    Fake,
}

impl std::str::FromStr for ApplyMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "client-side" => Ok(Self::ClientSide),
            "server-side" => Ok(Self::ServerSide),
            "fake" => Ok(Self::Fake),
            other => Err(format!(
                "apply mode must be client-side, server-side or fake, not {other:?}"
            )),
        }
    }
}

impl std::fmt::Display for ApplyMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ClientSide => "client-side",
            Self::ServerSide => "server-side",
            Self::Fake => "fake",
        })
    }
}

/// The fake-cluster helper's apply sleeps, milliseconds (Hive's own list).
pub const FAKE_APPLY_MS: [u64; 10] = [27, 27, 27, 27, 27, 45, 45, 45, 53, 230];

/// Parameters of the model. Durations are modeled seconds; CPU costs are core-seconds on the
/// reference core (an m4.xlarge vCPU), divided by `cpu_speed` on faster cores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Preset the values came from (informational).
    pub preset: String,
    /// Workers of the sync controller (clustersync, or syncsetinstance in legacy mode).
    pub workers: usize,
    /// Cores Hive's controllers get.
    pub cores: usize,
    /// Speed of a core relative to the reference core.
    pub cpu_speed: f64,
    /// How resources are written.
    pub apply_mode: ApplyMode,
    /// CPU per resource apply, client-side mode.
    pub cpu_per_apply_client_side: f64,
    /// CPU per resource apply, server-side mode.
    pub cpu_per_apply_server_side: f64,
    /// Extra CPU per apply for each other apply in flight (garbage collection and scheduling
    /// pressure; 2020 saw memory reach 5-6 GB with 100 workers).
    pub contention: f64,
    /// CPU per reconcile outside the applies (cache reads, hashing, status).
    pub reconcile_cpu: f64,
    /// Latency of a GET to the spoke.
    pub remote_get_latency: f64,
    /// Latency of a write (create, patch, apply) to the spoke.
    pub remote_write_latency: f64,
    /// Latency of a write to the hub.
    pub hub_write_latency: f64,
    /// Requests per second the spoke's API server serves (None: unlimited).
    pub spoke_capacity: Option<f64>,
    /// Requests per second the hub's API server serves (None: unlimited).
    pub hub_capacity: Option<f64>,
}

impl CostModel {
    /// The named presets.
    pub const PRESETS: [&'static str; 4] =
        ["m4.xlarge-2020", "c5.24xlarge-2020", "m5.xlarge", "laptop"];

    /// A preset by name.
    pub fn preset(name: &str) -> Result<Self, String> {
        // Reference values (m4.xlarge, 2020), fitted in docs/performance.md.
        let m4 = Self {
            preset: name.to_string(),
            workers: 5,
            cores: 3,
            cpu_speed: 1.0,
            apply_mode: ApplyMode::ClientSide,
            cpu_per_apply_client_side: 0.267,
            cpu_per_apply_server_side: 0.019,
            contention: 0.00729,
            reconcile_cpu: 0.11,
            remote_get_latency: 0.016,
            remote_write_latency: 0.005,
            hub_write_latency: 0.004,
            spoke_capacity: Some(700.0),
            hub_capacity: Some(800.0),
        };
        match name {
            "m4.xlarge-2020" => Ok(m4),
            "c5.24xlarge-2020" => Ok(Self {
                cores: 96,
                cpu_speed: 1.8,
                ..m4
            }),
            "m5.xlarge" => Ok(Self {
                cores: 3,
                cpu_speed: 1.3,
                ..m4
            }),
            "laptop" => Ok(Self {
                cores: 2,
                cpu_speed: 1.5,
                spoke_capacity: None,
                hub_capacity: None,
                ..m4
            }),
            other => Err(format!(
                "unknown preset {other:?}; known: {}",
                Self::PRESETS.join(", ")
            )),
        }
    }

    /// CPU of one apply in this mode with `in_flight` applies running, in modeled seconds.
    pub fn apply_cpu(&self, in_flight: usize) -> Duration {
        let base = match self.apply_mode {
            ApplyMode::ClientSide => {
                self.cpu_per_apply_client_side
                    * (1.0 + self.contention * in_flight.saturating_sub(1) as f64)
            }
            ApplyMode::ServerSide => self.cpu_per_apply_server_side,
            ApplyMode::Fake => 0.0,
        };
        Duration::from_secs_f64(base / self.cpu_speed)
    }

    /// CPU of a reconcile's own work, modeled seconds.
    pub fn reconcile_cpu(&self) -> Duration {
        Duration::from_secs_f64(self.reconcile_cpu / self.cpu_speed)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.workers == 0 || self.cores == 0 {
            return Err("workers and cores must be at least 1".into());
        }
        let all = [
            self.cpu_speed,
            self.cpu_per_apply_client_side,
            self.cpu_per_apply_server_side,
            self.contention,
            self.reconcile_cpu,
            self.remote_get_latency,
            self.remote_write_latency,
            self.hub_write_latency,
        ];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0) || self.cpu_speed == 0.0 {
            return Err("costs must be finite and non-negative, and cpu speed positive".into());
        }
        if [self.spoke_capacity, self.hub_capacity]
            .iter()
            .flatten()
            .any(|c| !c.is_finite() || *c <= 0.0)
        {
            return Err("capacities must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_named() {
        for p in CostModel::PRESETS {
            let m = CostModel::preset(p).unwrap();
            m.validate().unwrap();
            assert_eq!(m.preset, p);
        }
        assert!(
            CostModel::preset("z80")
                .unwrap_err()
                .contains("m4.xlarge-2020")
        );
    }

    #[test]
    fn contention_raises_client_side_cost_only() {
        let mut m = CostModel::preset("m4.xlarge-2020").unwrap();
        assert!(m.apply_cpu(100) > m.apply_cpu(1).mul_f64(1.5));
        m.apply_mode = ApplyMode::ServerSide;
        assert_eq!(m.apply_cpu(100), m.apply_cpu(1));
        m.apply_mode = ApplyMode::Fake;
        assert_eq!(m.apply_cpu(5), Duration::ZERO);
    }
}
