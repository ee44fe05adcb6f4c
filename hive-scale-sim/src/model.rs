//! The cost model: what an apply costs in modeled CPU on a fixed pool of cores, in remote
//! request latency, and in the capacity of the spoke's and the hub's API servers.
//!
//! Every parameter is a field here and a flag of `hub` and `plan`. The presets are YAML files
//! under `config/presets/` (compiled in; `config/presets/README.md` gives every parameter's
//! meaning and unit); the 2020 ones hold values fitted to the 2020 scale test, and
//! `docs/performance.md` shows how each was derived and the model's numbers beside the report's.

use crate::clock::TimeScale;
use hive_scale_core::api::Pipeline;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
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
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s {
            "client-side" => Ok(Self::ClientSide),
            "server-side" => Ok(Self::ServerSide),
            "fake" => Ok(Self::Fake),
            other => Err(ModelError::UnknownApplyMode(other.to_string())),
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

/// Where the clusters' API servers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpokeMode {
    /// One real spoke adopted many times (2020): one API server, and its capacity, for the
    /// whole fleet.
    Shared,
    /// Every cluster its own API server with `spoke_capacity` each (a real fleet).
    PerCluster,
    /// Hive's fake-cluster helper: no API server, each apply sleeps (implies the fake apply
    /// mode).
    Fake,
}

impl std::str::FromStr for SpokeMode {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s {
            "shared" => Ok(Self::Shared),
            "per-cluster" => Ok(Self::PerCluster),
            "fake" => Ok(Self::Fake),
            other => Err(ModelError::UnknownSpokes(other.to_string())),
        }
    }
}

impl std::fmt::Display for SpokeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Shared => "shared",
            Self::PerCluster => "per-cluster",
            Self::Fake => "fake",
        })
    }
}

/// The clustersync replica a ClusterDeployment belongs to: its UID read as one hexadecimal
/// number (dashes removed), modulo the replica count, as Hive shards (0 replicas count as 1).
/// A UID that is not hexadecimal falls to replica 0.
pub fn replica_of(uid: &str, replicas: usize) -> usize {
    let replicas = replicas.max(1) as u128;
    let mut rem: u128 = 0;
    for c in uid.chars().filter(|c| *c != '-') {
        let Some(d) = c.to_digit(16) else {
            return 0;
        };
        // Long division keeps any length of UID in range.
        rem = (rem * 16 + u128::from(d)) % replicas;
    }
    rem as usize
}

/// Requests the controllers' client may send at once before `hub_qps` paces them (client-go's
/// default burst, which Hive keeps unless HiveConfig sets clientBurst).
pub const HUB_CLIENT_BURST: u32 = 10;

/// The fake-cluster helper's apply sleeps, milliseconds (Hive's own list).
pub const FAKE_APPLY_MS: [u64; 10] = [27, 27, 27, 27, 27, 45, 45, 45, 53, 230];

/// Parameters of the model. Durations are modeled seconds; CPU costs are core-seconds on the
/// reference core (an m4.xlarge vCPU), divided by `cpu_speed` on faster cores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Preset the values came from (informational).
    pub preset: String,
    /// Which Hive pipeline runs: today's clustersync, or 2020's SyncSetInstances.
    pub pipeline: Pipeline,
    /// clustersync replicas (pods of the StatefulSet); each owns the clusters whose UID falls
    /// to it and has its own workers and cores. Always 1 in the 2020 pipeline.
    pub replicas: usize,
    /// Workers of the sync controller (clustersync, or syncsetinstance in legacy mode), per
    /// replica.
    pub workers: usize,
    /// Cores Hive's controllers get, per replica.
    pub cores: usize,
    /// Speed of a core relative to the reference core.
    pub cpu_speed: f64,
    /// How resources are written.
    pub apply_mode: ApplyMode,
    /// Where the clusters' API servers are.
    pub spokes: SpokeMode,
    /// CPU per resource apply, client-side mode.
    pub cpu_per_apply_client_side: f64,
    /// CPU per resource apply, server-side mode.
    pub cpu_per_apply_server_side: f64,
    /// CPU per resource apply with the fake-cluster helper (serializing the object and the
    /// bookkeeping around the sleep).
    pub cpu_per_apply_fake: f64,
    /// Extra fraction of an apply's CPU for each apply in flight in the same process beyond
    /// its cores, in every mode (scheduling and garbage-collection pressure; 2020 saw memory
    /// reach 5-6 GB with 100 workers on 3 cores).
    pub contention: f64,
    /// Extra fraction of every CPU burst in one replica per pair of bursts running at once on
    /// its cores (Gunther's coherency term): one Go process's shared heap, garbage collector
    /// and scheduler, whose cost grows with the cores it keeps busy. A burst that starts with
    /// `n` cores busy (itself included) costs `1 + coherency * n * (n - 1)` times its CPU, so
    /// past about `1 / sqrt(coherency)` busy cores more cores and workers stop paying off.
    pub coherency: f64,
    /// CPU per reconcile outside the applies (cache reads, hashing, status).
    pub reconcile_cpu: f64,
    /// What a reconcile of a real spoke waits before its applies: Hive builds a new resource
    /// helper each reconcile, which fetches the spoke's OpenAPI schema (today's Hive).
    pub reconcile_remote_latency: f64,
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
    /// The controllers' client-side QPS towards the hub (None: unlimited; 2020's syncset
    /// controller wrote about 30 objects/s).
    pub hub_qps: Option<f64>,
}

impl CostModel {
    /// The named presets, built in from `config/presets/<name>.yaml`.
    pub const PRESETS: [&'static str; 7] = [
        "m4.xlarge-2020",
        "c5.24xlarge-2020",
        "m5.xlarge",
        "c5.2xlarge",
        "c5.9xlarge",
        "c5.24xlarge",
        "laptop",
    ];

    /// A preset by name, parsed from its built-in YAML (see [`BUILTIN_PRESETS`]).
    ///
    /// # Errors
    ///
    /// [`PresetError::Unknown`] for a name that is not built in (its text lists the known
    /// ones).
    pub fn preset(name: &str) -> Result<Self, PresetError> {
        let (_, text) = BUILTIN_PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| PresetError::Unknown {
                name: name.to_string(),
            })?;
        // The built-in files are checked by the tests, so an error here is a broken build,
        // still reported as an error rather than a panic.
        Self::from_preset_yaml(text, &format!("{name} (built-in)"))
    }

    /// Reads a preset file (the shape of `config/presets/*.yaml`).
    ///
    /// # Errors
    ///
    /// The file cannot be read, is not a preset (bad YAML, a missing or unknown field), or a
    /// value is out of range; each as one line naming the file.
    pub fn from_preset_file(path: &Path) -> Result<Self, PresetError> {
        let text = std::fs::read_to_string(path).map_err(|source| PresetError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_preset_yaml(&text, &path.display().to_string())
    }

    /// Parses and checks a preset; `origin` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`CostModel::from_preset_file`], without the reading.
    pub fn from_preset_yaml(text: &str, origin: &str) -> Result<Self, PresetError> {
        let file: PresetFile = serde_saphyr::from_str(text).map_err(|e| PresetError::Parse {
            origin: origin.to_string(),
            // The YAML error's first line holds the position and the problem; the lines after
            // it quote the file, which a one-line error does without.
            reason: first_line(&e.to_string()),
        })?;
        let m = file.into_model();
        m.validate().map_err(|source| PresetError::Invalid {
            origin: origin.to_string(),
            source: Box::new(source),
        })?;
        Ok(m)
    }

    /// The model as a preset file (the shape of `config/presets/*.yaml`), after `header` as
    /// comment lines. The pipeline is not part of a preset.
    pub fn to_preset_yaml(&self, header: &str) -> String {
        let body = serde_saphyr::to_string(&PresetFile::from_model(self))
            .expect("a preset is plain numbers and names");
        let mut out: String = header.lines().map(|l| format!("# {l}\n")).collect();
        out.push_str(&body);
        out
    }

    /// CPU of one apply in `mode` with `in_flight` applies running in the same process (one
    /// replica), in modeled seconds.
    ///
    /// The process's own saturation multiplies every mode's cost: applies beyond its cores are
    /// goroutines the Go scheduler time-slices and whose live memory the garbage collector
    /// scans while they wait, so each one past the cores adds `contention` to every apply.
    /// Up to the core count each apply has a core to itself and pays nothing extra, which is
    /// why 100 server-side workers on 96 cores (2020) cost no more per apply than 5 did.
    pub fn apply_cpu_in(&self, mode: ApplyMode, in_flight: usize) -> Duration {
        let base = self.cpu_per_apply(mode);
        let saturation = 1.0 + self.contention * in_flight.saturating_sub(self.cores) as f64;
        Duration::from_secs_f64(base * saturation / self.cpu_speed)
    }

    /// CPU of one apply in `mode` with nothing else in flight, reference core-seconds.
    pub fn cpu_per_apply(&self, mode: ApplyMode) -> f64 {
        match mode {
            ApplyMode::ClientSide => self.cpu_per_apply_client_side,
            ApplyMode::ServerSide => self.cpu_per_apply_server_side,
            ApplyMode::Fake => self.cpu_per_apply_fake,
        }
    }

    /// Sets [`CostModel::cpu_per_apply`] of `mode`.
    pub fn set_cpu_per_apply(&mut self, mode: ApplyMode, v: f64) {
        match mode {
            ApplyMode::ClientSide => self.cpu_per_apply_client_side = v,
            ApplyMode::ServerSide => self.cpu_per_apply_server_side = v,
            ApplyMode::Fake => self.cpu_per_apply_fake = v,
        }
    }

    /// [`CostModel::apply_cpu_in`] in the model's own apply mode.
    pub fn apply_cpu(&self, in_flight: usize) -> Duration {
        self.apply_cpu_in(self.apply_mode, in_flight)
    }

    /// CPU of a reconcile's own work, modeled seconds.
    pub fn reconcile_cpu(&self) -> Duration {
        Duration::from_secs_f64(self.reconcile_cpu / self.cpu_speed)
    }

    /// Checks ranges.
    ///
    /// # Errors
    ///
    /// The first value out of range, as the [`ModelError`] variant that names it.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.workers == 0 || self.cores == 0 || self.replicas == 0 {
            return Err(ModelError::NoCapacity);
        }
        if self.replicas > 1 && self.pipeline == Pipeline::SyncSetInstance {
            return Err(ModelError::ReplicasInLegacyPipeline);
        }
        if (self.apply_mode == ApplyMode::Fake) != (self.spokes == SpokeMode::Fake) {
            return Err(ModelError::FakeMismatch {
                apply: self.apply_mode,
                spokes: self.spokes,
            });
        }
        let all = [
            self.cpu_speed,
            self.cpu_per_apply_client_side,
            self.cpu_per_apply_server_side,
            self.cpu_per_apply_fake,
            self.contention,
            self.coherency,
            self.reconcile_cpu,
            self.reconcile_remote_latency,
            self.remote_get_latency,
            self.remote_write_latency,
            self.hub_write_latency,
        ];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0) || self.cpu_speed == 0.0 {
            return Err(ModelError::BadCost);
        }
        if [self.spoke_capacity, self.hub_capacity, self.hub_qps]
            .iter()
            .flatten()
            .any(|c| !c.is_finite() || *c <= 0.0)
        {
            return Err(ModelError::BadCapacity);
        }
        Ok(())
    }
}

/// The built-in presets as `(name, YAML)`, compiled in so the tools work from any directory.
pub const BUILTIN_PRESETS: [(&str, &str); 7] = [
    (
        "m4.xlarge-2020",
        include_str!("../../config/presets/m4.xlarge-2020.yaml"),
    ),
    (
        "c5.24xlarge-2020",
        include_str!("../../config/presets/c5.24xlarge-2020.yaml"),
    ),
    (
        "m5.xlarge",
        include_str!("../../config/presets/m5.xlarge.yaml"),
    ),
    (
        "c5.2xlarge",
        include_str!("../../config/presets/c5.2xlarge.yaml"),
    ),
    (
        "c5.9xlarge",
        include_str!("../../config/presets/c5.9xlarge.yaml"),
    ),
    (
        "c5.24xlarge",
        include_str!("../../config/presets/c5.24xlarge.yaml"),
    ),
    ("laptop", include_str!("../../config/presets/laptop.yaml")),
];

/// Why a preset could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// No built-in preset has this name.
    #[error("unknown preset {name:?}; known: {}", CostModel::PRESETS.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// The preset file could not be read.
    #[error("preset file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a preset: bad YAML, a wrong type, a missing or an unknown field.
    #[error("preset {origin}: {reason}")]
    Parse {
        /// The file, or the built-in preset's name.
        origin: String,
        /// The YAML error's first line (position and problem; the lines after it quote the
        /// file).
        reason: String,
    },
    /// A value is out of range ([`CostModel::validate`]).
    #[error("preset {origin}")]
    Invalid {
        /// The file, or the built-in preset's name.
        origin: String,
        /// What is out of range.
        #[source]
        source: Box<ModelError>,
    },
}

/// Why the model's settings are not usable: a value out of range, settings that contradict
/// each other, or a preset that cannot be loaded. Each text is one line; the front prints the
/// chain of sources after it.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Replicas, workers or cores is zero.
    #[error("replicas, workers and cores must be at least 1")]
    NoCapacity,
    /// More than one replica asked of the 2020 pipeline.
    #[error(
        "replicas apply to clustersync only: the 2020 pipeline runs in one hive-controllers pod"
    )]
    ReplicasInLegacyPipeline,
    /// One of apply mode and spokes is fake and the other is not.
    #[error("apply mode {apply} does not go with spokes {spokes}: fake clusters are both")]
    FakeMismatch {
        /// The apply mode.
        apply: ApplyMode,
        /// The spokes.
        spokes: SpokeMode,
    },
    /// `--apply` and `--spokes` were both given and only one of them is fake.
    #[error(
        "--apply {apply} and --spokes {spokes} disagree: fake clusters are both (give one of them)"
    )]
    FlagsDisagree {
        /// `--apply`.
        apply: ApplyMode,
        /// `--spokes`.
        spokes: SpokeMode,
    },
    /// A cost or latency is negative or not finite, or the core speed is zero.
    #[error("costs must be finite and non-negative, and cpu speed positive")]
    BadCost,
    /// A capacity or the hub QPS is zero, negative or not finite.
    #[error("capacities and the hub QPS must be positive")]
    BadCapacity,
    /// An apply mode that is not client-side, server-side or fake.
    #[error("apply mode must be client-side, server-side or fake, not {0:?}")]
    UnknownApplyMode(String),
    /// Spokes that are not shared, per-cluster or fake.
    #[error("spokes must be shared, per-cluster or fake, not {0:?}")]
    UnknownSpokes(String),
    /// The named preset or the preset file cannot be loaded.
    #[error(transparent)]
    Preset(#[from] PresetError),
    /// A scenario's `embedded:` section has an unknown field or a value of the wrong type.
    #[error("embedded")]
    Section(#[source] serde_json::Error),
}

/// A preset as written in `config/presets/*.yaml`: every parameter of [`CostModel`] except the
/// pipeline, which is a choice of the run rather than of the hardware. Every field is required
/// so a file states the whole model; `config/presets/README.md` gives meanings and units.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    name: String,
    replicas: usize,
    workers: usize,
    cores: usize,
    cpu_speed: f64,
    apply_mode: ApplyMode,
    spokes: SpokeMode,
    cpu_per_apply_client_side: f64,
    cpu_per_apply_server_side: f64,
    cpu_per_apply_fake: f64,
    contention: f64,
    /// Optional, unlike the rest: a file written before the field existed reads as it did.
    #[serde(default)]
    coherency: f64,
    reconcile_cpu: f64,
    reconcile_remote_latency: f64,
    remote_get_latency: f64,
    remote_write_latency: f64,
    hub_write_latency: f64,
    /// 0: unlimited, as on the command line.
    spoke_capacity: f64,
    /// 0: unlimited.
    hub_capacity: f64,
    /// 0: unlimited.
    hub_qps: f64,
}

impl PresetFile {
    fn from_model(m: &CostModel) -> Self {
        let zero = |v: Option<f64>| v.unwrap_or(0.0);
        Self {
            name: m.preset.clone(),
            replicas: m.replicas,
            workers: m.workers,
            cores: m.cores,
            cpu_speed: m.cpu_speed,
            apply_mode: m.apply_mode,
            spokes: m.spokes,
            cpu_per_apply_client_side: m.cpu_per_apply_client_side,
            cpu_per_apply_server_side: m.cpu_per_apply_server_side,
            cpu_per_apply_fake: m.cpu_per_apply_fake,
            contention: m.contention,
            coherency: m.coherency,
            reconcile_cpu: m.reconcile_cpu,
            reconcile_remote_latency: m.reconcile_remote_latency,
            remote_get_latency: m.remote_get_latency,
            remote_write_latency: m.remote_write_latency,
            hub_write_latency: m.hub_write_latency,
            spoke_capacity: zero(m.spoke_capacity),
            hub_capacity: zero(m.hub_capacity),
            hub_qps: zero(m.hub_qps),
        }
    }

    fn into_model(self) -> CostModel {
        let limit = |v: f64| (v != 0.0).then_some(v);
        CostModel {
            preset: self.name,
            pipeline: Pipeline::ClusterSync,
            replicas: self.replicas,
            workers: self.workers,
            cores: self.cores,
            cpu_speed: self.cpu_speed,
            apply_mode: self.apply_mode,
            spokes: self.spokes,
            cpu_per_apply_client_side: self.cpu_per_apply_client_side,
            cpu_per_apply_server_side: self.cpu_per_apply_server_side,
            cpu_per_apply_fake: self.cpu_per_apply_fake,
            contention: self.contention,
            coherency: self.coherency,
            reconcile_cpu: self.reconcile_cpu,
            reconcile_remote_latency: self.reconcile_remote_latency,
            remote_get_latency: self.remote_get_latency,
            remote_write_latency: self.remote_write_latency,
            hub_write_latency: self.hub_write_latency,
            spoke_capacity: limit(self.spoke_capacity),
            hub_capacity: limit(self.hub_capacity),
            hub_qps: limit(self.hub_qps),
        }
    }
}

/// The first non-empty line of a message, without a leading `error: `.
fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(s);
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// How a user configures the model: a preset plus what to change in it. One type for the
/// command-line flags of `hub` and `plan`, a scenario's `embedded:` section and preset files;
/// [`ModelConfig::resolve`] is the one place it is checked and turned into a [`CostModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
// Keys are written as the flags are (`hub-qps`, `--hub-qps`); the underscore spelling of
// earlier scenario files is still read.
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct ModelConfig {
    /// Named preset (m4.xlarge-2020, c5.24xlarge-2020, m5.xlarge, c5.2xlarge, c5.9xlarge,
    /// c5.24xlarge, laptop).
    #[cfg_attr(feature = "cli", arg(long, default_value = "m4.xlarge-2020"))]
    pub preset: String,
    /// A preset file (the shape of config/presets/*.yaml) instead of a named preset; the
    /// other flags still override its values.
    #[cfg_attr(
        feature = "cli",
        arg(long, value_name = "FILE", conflicts_with = "preset")
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(alias = "preset_file")]
    pub preset_file: Option<PathBuf>,
    /// Hive pipeline: clustersync (today) or syncsetinstance (2020).
    #[cfg_attr(feature = "cli", arg(long, default_value = "clustersync"))]
    pub pipeline: Pipeline,
    /// Apply mode: client-side, server-side or fake (fake implies --spokes fake).
    #[cfg_attr(feature = "cli", arg(long = "apply"))]
    pub apply: Option<ApplyMode>,
    /// Where the clusters' API servers are: shared (one spoke adopted many times, its capacity
    /// shared), per-cluster (capacity per spoke) or fake (Hive's fake-cluster helper).
    #[cfg_attr(feature = "cli", arg(long))]
    pub spokes: Option<SpokeMode>,
    /// clustersync replicas, each with its own workers and cores (clusters sharded by UID).
    #[cfg_attr(feature = "cli", arg(long, value_parser = clap::value_parser!(u32).range(1..=1000)))]
    pub replicas: Option<u32>,
    /// Sync controller workers.
    #[cfg_attr(feature = "cli", arg(skip))]
    pub workers: Option<usize>,
    /// Modeled cores.
    #[cfg_attr(feature = "cli", arg(skip))]
    pub cores: Option<usize>,
    /// CPU seconds per apply for the chosen mode (reference core).
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "cpu_per_apply")]
    pub cpu_per_apply: Option<f64>,
    /// Extra CPU per apply for each concurrent apply (client-side).
    #[cfg_attr(feature = "cli", arg(long))]
    pub contention: Option<f64>,
    /// Extra CPU of every burst in a replica per pair of bursts running at once (the
    /// process's own limit beyond its cores).
    #[cfg_attr(feature = "cli", arg(long))]
    pub coherency: Option<f64>,
    /// CPU seconds per reconcile besides the applies.
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "reconcile_cpu")]
    pub reconcile_cpu: Option<f64>,
    /// Speed of a modeled core relative to an m4.xlarge vCPU.
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "cpu_speed")]
    pub cpu_speed: Option<f64>,
    /// Seconds a reconcile of a real spoke waits before applying (helper, OpenAPI schema).
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "reconcile_remote_latency")]
    pub reconcile_remote_latency: Option<f64>,
    /// Latency of a GET to the spoke, seconds.
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "remote_get_latency")]
    pub remote_get_latency: Option<f64>,
    /// Latency of a write to the spoke, seconds.
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "remote_write_latency")]
    pub remote_write_latency: Option<f64>,
    /// Latency of a write to the hub, seconds.
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "hub_write_latency")]
    pub hub_write_latency: Option<f64>,
    /// Requests/s the spoke API server serves (0: unlimited).
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "spoke_capacity")]
    pub spoke_capacity: Option<f64>,
    /// Requests/s the hub API server serves (0: unlimited).
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "hub_capacity")]
    pub hub_capacity: Option<f64>,
    /// The controllers' client QPS towards the hub (0: unlimited).
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(alias = "hub_qps")]
    pub hub_qps: Option<f64>,
    /// Modeled seconds per real second on the embedded hub (none: the tool picks one).
    #[cfg_attr(feature = "cli", arg(skip))]
    #[serde(alias = "time_scale")]
    pub time_scale: Option<TimeScale>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            preset: "m4.xlarge-2020".into(),
            preset_file: None,
            pipeline: Pipeline::ClusterSync,
            apply: None,
            spokes: None,
            replicas: None,
            workers: None,
            cores: None,
            cpu_per_apply: None,
            contention: None,
            coherency: None,
            reconcile_cpu: None,
            reconcile_remote_latency: None,
            cpu_speed: None,
            remote_get_latency: None,
            remote_write_latency: None,
            hub_write_latency: None,
            spoke_capacity: None,
            hub_capacity: None,
            hub_qps: None,
            time_scale: None,
        }
    }
}

impl ModelConfig {
    /// Reads a scenario's `embedded:` section.
    ///
    /// # Errors
    ///
    /// [`ModelError::Section`]: an unknown field or a value of the wrong type.
    pub fn from_section(
        section: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, ModelError> {
        serde_json::from_value(serde_json::Value::Object(section.clone()))
            .map_err(ModelError::Section)
    }

    /// The preset (the file when one is given, else the named one) with every override
    /// applied, checked. A relative `preset_file` is read from the current directory.
    ///
    /// # Errors
    ///
    /// An unknown preset, an unreadable or malformed preset file ([`ModelError::Preset`]),
    /// `apply` and `spokes` that contradict each other, or a value out of range.
    pub fn resolve(&self) -> Result<CostModel, ModelError> {
        let mut m = match &self.preset_file {
            Some(path) => CostModel::from_preset_file(path)?,
            None => CostModel::preset(&self.preset)?,
        };
        m.pipeline = self.pipeline;
        if let (Some(apply), Some(spokes)) = (self.apply, self.spokes)
            && (apply == ApplyMode::Fake) != (spokes == SpokeMode::Fake)
        {
            return Err(ModelError::FlagsDisagree { apply, spokes });
        }
        // Fake clusters are both an apply mode and a kind of spoke: choosing one side of it
        // chooses the other, and leaving it chooses real spokes again.
        if let Some(mode) = self.apply {
            m.apply_mode = mode;
            if mode == ApplyMode::Fake {
                m.spokes = SpokeMode::Fake;
            } else if m.spokes == SpokeMode::Fake {
                m.spokes = SpokeMode::Shared;
            }
        }
        if let Some(spokes) = self.spokes {
            m.spokes = spokes;
            if spokes == SpokeMode::Fake {
                m.apply_mode = ApplyMode::Fake;
            } else if m.apply_mode == ApplyMode::Fake {
                m.apply_mode = ApplyMode::ClientSide;
            }
        }
        if let Some(r) = self.replicas {
            m.replicas = r as usize;
        }
        if let Some(w) = self.workers {
            m.workers = w;
        }
        if let Some(c) = self.cores {
            m.cores = c;
        }
        if let Some(v) = self.cpu_per_apply {
            let mode = m.apply_mode;
            m.set_cpu_per_apply(mode, v);
        }
        let set = |dst: &mut f64, v: Option<f64>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut m.contention, self.contention);
        set(&mut m.coherency, self.coherency);
        set(&mut m.reconcile_cpu, self.reconcile_cpu);
        set(
            &mut m.reconcile_remote_latency,
            self.reconcile_remote_latency,
        );
        set(&mut m.cpu_speed, self.cpu_speed);
        set(&mut m.remote_get_latency, self.remote_get_latency);
        set(&mut m.remote_write_latency, self.remote_write_latency);
        set(&mut m.hub_write_latency, self.hub_write_latency);
        // 0 means unlimited on the command line and in files.
        let limit = |v: Option<f64>, default: Option<f64>| match v {
            Some(0.0) => None,
            Some(c) => Some(c),
            None => default,
        };
        m.spoke_capacity = limit(self.spoke_capacity, m.spoke_capacity);
        m.hub_capacity = limit(self.hub_capacity, m.hub_capacity);
        m.hub_qps = limit(self.hub_qps, m.hub_qps);
        m.validate()?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hive_scale_core::error::chain;

    #[test]
    fn presets_are_valid_and_named() {
        for p in CostModel::PRESETS {
            let m = CostModel::preset(p).unwrap();
            m.validate().unwrap();
            assert_eq!(m.preset, p);
        }
        let unknown = CostModel::preset("z80").unwrap_err();
        assert!(matches!(&unknown, PresetError::Unknown { name } if name == "z80"));
        assert!(unknown.to_string().contains("m4.xlarge-2020"), "{unknown}");
    }

    /// The fitted presets' values as `CostModel::preset` built them in code before the presets
    /// moved to YAML; `None` for today's presets, which are checked by their mechanisms.
    fn fitted_preset_as_it_was_in_code(name: &str) -> Option<CostModel> {
        let m4 = CostModel {
            preset: name.to_string(),
            pipeline: Pipeline::ClusterSync,
            replicas: 1,
            workers: 5,
            cores: 3,
            cpu_speed: 1.0,
            apply_mode: ApplyMode::ClientSide,
            spokes: SpokeMode::Shared,
            cpu_per_apply_client_side: 0.267,
            cpu_per_apply_server_side: 0.019,
            cpu_per_apply_fake: 0.005,
            contention: 0.00729,
            coherency: 0.0,
            reconcile_cpu: 0.11,
            reconcile_remote_latency: 0.0,
            remote_get_latency: 0.016,
            remote_write_latency: 0.005,
            hub_write_latency: 0.004,
            spoke_capacity: Some(700.0),
            hub_capacity: Some(800.0),
            hub_qps: None,
        };
        Some(match name {
            "m4.xlarge-2020" => m4,
            "c5.24xlarge-2020" => CostModel {
                cores: 96,
                cpu_speed: 1.8,
                ..m4
            },
            "laptop" => CostModel {
                cores: 2,
                cpu_speed: 1.5,
                spoke_capacity: None,
                hub_capacity: None,
                ..m4
            },
            _ => return None,
        })
    }

    #[test]
    fn yaml_presets_keep_every_number_the_code_had() {
        assert_eq!(
            BUILTIN_PRESETS.map(|(n, _)| n),
            CostModel::PRESETS,
            "every named preset has a file"
        );
        for (name, text) in BUILTIN_PRESETS {
            let from_text = CostModel::from_preset_yaml(text, name).unwrap();
            assert_eq!(from_text.preset, name, "the file's name: field");
            // Exact equality, floats included: the fits of 2020 do not drift.
            if let Some(fitted) = fitted_preset_as_it_was_in_code(name) {
                assert_eq!(CostModel::preset(name).unwrap(), fitted, "{name}");
            }
        }
    }

    #[test]
    fn today_s_presets_price_today_s_apply() {
        let m4 = CostModel::preset("m4.xlarge-2020").unwrap();
        let near = CostModel::preset("c5.9xlarge").unwrap();
        for name in ["m5.xlarge", "c5.2xlarge", "c5.9xlarge", "c5.24xlarge"] {
            let m = CostModel::preset(name).unwrap();
            // Today's helper applies in-process: 2020's in-process (server-side) apply cost,
            // not its kubectl-and-temp-file client-side one.
            assert_eq!(
                m.cpu_per_apply_client_side, m4.cpu_per_apply_server_side,
                "{name}"
            );
            assert_eq!(m.apply_mode, ApplyMode::ClientSide, "{name}");
            assert_eq!(m.spokes, SpokeMode::PerCluster, "{name}");
            assert!(
                m.coherency > 0.0,
                "{name}: one process has a limit past its cores"
            );
            assert_eq!(m.coherency, near.coherency, "{name}");
        }
        // The near-spoke presets differ only in their cores.
        for name in ["c5.2xlarge", "c5.24xlarge"] {
            let m = CostModel::preset(name).unwrap();
            assert_eq!(
                CostModel {
                    preset: near.preset.clone(),
                    cores: near.cores,
                    ..m
                },
                near,
                "{name}"
            );
        }
        // Over a WAN every spoke request is slower than the CPU it takes.
        let wan = CostModel::preset("m5.xlarge").unwrap();
        assert!(wan.remote_get_latency > 10.0 * near.remote_get_latency);
        assert!(wan.remote_get_latency > wan.cpu_per_apply_client_side / wan.cpu_speed);
    }

    #[test]
    fn a_preset_written_before_coherency_reads_as_it_did() {
        let (_, text) = BUILTIN_PRESETS[0];
        let before: String = text
            .lines()
            .filter(|l| !l.starts_with("coherency:"))
            .map(|l| format!("{l}\n"))
            .collect();
        let m = CostModel::from_preset_yaml(&before, "old.yaml").unwrap();
        assert_eq!(m.coherency, 0.0);
        let near = CostModel::preset("c5.9xlarge").unwrap();
        let without: String = near
            .to_preset_yaml("")
            .lines()
            .filter(|l| !l.starts_with("coherency:"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            CostModel::from_preset_yaml(&without, "x")
                .unwrap()
                .coherency,
            0.0
        );
    }

    #[test]
    fn the_files_on_disk_are_the_ones_compiled_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/presets");
        for (name, _) in BUILTIN_PRESETS {
            let m = CostModel::from_preset_file(&dir.join(format!("{name}.yaml"))).unwrap();
            assert_eq!(m, CostModel::preset(name).unwrap());
        }
    }

    #[test]
    fn bad_preset_files_are_one_line_errors() {
        let good = BUILTIN_PRESETS[0].1;
        let cases = [
            (
                good.replace("cores: 3", "cores: 3\ncorez: 4"),
                "unknown field",
            ),
            (good.replace("contention: 0.00729\n", ""), "contention"),
            (good.replace("cores: 3", "cores: [3"), "preset x.yaml"),
            (
                good.replace("cpu_speed: 1.0", "cpu_speed: -1"),
                "non-negative",
            ),
            (
                good.replace("hub_capacity: 800.0", "hub_capacity: -5"),
                "positive",
            ),
            (good.replace("workers: 5", "workers: 0"), "at least 1"),
            (
                good.replace("spokes: shared", "spokes: fake"),
                "fake clusters are both",
            ),
        ];
        for (text, why) in cases {
            let e = chain(&CostModel::from_preset_yaml(&text, "x.yaml").unwrap_err());
            assert!(e.starts_with("preset x.yaml: "), "{e}");
            assert!(e.contains(why), "{why:?} not in {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let missing = Path::new("/nonexistent/preset.yaml");
        assert!(matches!(
            CostModel::from_preset_file(missing),
            Err(PresetError::Read { .. })
        ));
    }

    #[test]
    fn a_model_written_as_a_preset_reads_back_the_same() {
        for name in CostModel::PRESETS {
            let m = CostModel::preset(name).unwrap();
            let text = m.to_preset_yaml("written back\nby a test");
            assert!(text.starts_with("# written back\n# by a test\n"), "{text}");
            assert_eq!(
                CostModel::from_preset_yaml(&text, "back").unwrap(),
                m,
                "{text}"
            );
        }
    }

    #[test]
    fn a_preset_file_with_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.yaml");
        let text = BUILTIN_PRESETS[0]
            .1
            .replace("name: m4.xlarge-2020", "name: mine")
            .replace("cores: 3", "cores: 8");
        std::fs::write(&path, text).unwrap();
        let config = ModelConfig {
            preset_file: Some(path.clone()),
            workers: Some(9),
            ..Default::default()
        };
        let m = config.resolve().unwrap();
        assert_eq!((m.preset.as_str(), m.cores, m.workers), ("mine", 8, 9));
        let section = serde_json::json!({"preset_file": path});
        let c = ModelConfig::from_section(section.as_object().unwrap()).unwrap();
        assert_eq!(c.resolve().unwrap().cores, 8, "a scenario's preset_file:");
        std::fs::write(&path, "name: mine\n").unwrap();
        let e = config.resolve().unwrap_err();
        assert!(
            matches!(e, ModelError::Preset(PresetError::Parse { .. })),
            "{e:?}"
        );
        let e = chain(&e);
        assert!(
            e.contains("mine.yaml") && e.contains("missing field"),
            "{e}"
        );
    }

    #[test]
    fn saturation_raises_the_cost_in_every_mode() {
        let m = CostModel::preset("m4.xlarge-2020").unwrap();
        for mode in [
            ApplyMode::ClientSide,
            ApplyMode::ServerSide,
            ApplyMode::Fake,
        ] {
            let (one, hundred) = (m.apply_cpu_in(mode, 1), m.apply_cpu_in(mode, 100));
            assert!(one > Duration::ZERO, "{mode}: an apply costs CPU");
            let ratio = hundred.as_secs_f64() / one.as_secs_f64();
            let past_the_cores = (100 - m.cores) as f64;
            assert!(
                (ratio - 1.0 - past_the_cores * m.contention).abs() < 1e-9,
                "{mode}: {ratio}"
            );
            assert_eq!(
                m.apply_cpu_in(mode, m.cores),
                one,
                "{mode}: no cost up to the cores"
            );
        }
    }

    #[test]
    fn replicas_shard_by_uid_as_hive_does() {
        // Hive reads the UID without dashes as one hexadecimal number.
        assert_eq!(replica_of("00000000-0000-0000-0000-00000000000a", 3), 1);
        assert_eq!(replica_of("00000000-0000-0000-0000-00000000000f", 4), 3);
        assert_eq!(replica_of("ffffffff-ffff-ffff-ffff-ffffffffffff", 1), 0);
        let big = u128::MAX;
        let uid = format!("{big:032x}");
        assert_eq!(replica_of(&uid, 7), (big % 7) as usize);
        assert_eq!(replica_of("not-hex", 5), 0);
        assert_eq!(replica_of("abc", 0), 0, "0 replicas count as 1");
    }

    #[test]
    fn fake_apply_and_fake_spokes_go_together() {
        let both = ModelConfig {
            apply: Some(ApplyMode::Fake),
            spokes: Some(SpokeMode::PerCluster),
            ..Default::default()
        };
        assert!(matches!(
            both.resolve().unwrap_err(),
            ModelError::FlagsDisagree {
                apply: ApplyMode::Fake,
                spokes: SpokeMode::PerCluster
            }
        ));
        let fake = ModelConfig {
            apply: Some(ApplyMode::Fake),
            ..Default::default()
        };
        assert_eq!(fake.resolve().unwrap().spokes, SpokeMode::Fake);
        let spokes = ModelConfig {
            spokes: Some(SpokeMode::Fake),
            ..Default::default()
        };
        assert_eq!(spokes.resolve().unwrap().apply_mode, ApplyMode::Fake);
        let real = ModelConfig {
            preset: "c5.9xlarge".into(),
            spokes: Some(SpokeMode::Shared),
            replicas: Some(3),
            ..Default::default()
        };
        let m = real.resolve().unwrap();
        assert_eq!(
            (m.spokes, m.apply_mode, m.replicas),
            (SpokeMode::Shared, ApplyMode::ClientSide, 3)
        );
        let legacy = ModelConfig {
            replicas: Some(2),
            pipeline: Pipeline::SyncSetInstance,
            ..Default::default()
        };
        assert!(matches!(
            legacy.resolve().unwrap_err(),
            ModelError::ReplicasInLegacyPipeline
        ));
    }

    #[test]
    fn one_config_from_a_scenario_section() {
        let section = serde_json::json!({"preset": "m5.xlarge", "apply": "server-side", "workers": 7, "pipeline": "syncsetinstance", "hub-qps": 30, "time-scale": 50});
        let c = ModelConfig::from_section(section.as_object().unwrap()).unwrap();
        // The spelling of earlier files: underscores.
        let old = serde_json::json!({"preset": "m5.xlarge", "apply": "server-side", "workers": 7, "pipeline": "syncsetinstance", "hub_qps": 30, "time_scale": 50});
        assert_eq!(
            ModelConfig::from_section(old.as_object().unwrap()).unwrap(),
            c
        );
        assert_eq!(c.time_scale.map(TimeScale::get), Some(50.0));
        let m = c.resolve().unwrap();
        assert_eq!(
            (m.workers, m.apply_mode, m.pipeline, m.hub_qps),
            (
                7,
                ApplyMode::ServerSide,
                Pipeline::SyncSetInstance,
                Some(30.0)
            )
        );
        assert_eq!(m.cores, 3, "the preset's cores");
        for (bad, why) in [
            (serde_json::json!({"legacy": true}), "unknown field"),
            (serde_json::json!({"apply": "sideways"}), "unknown variant"),
            (serde_json::json!({"time_scale": 0}), "time scale"),
            (serde_json::json!({"workers": "five"}), "invalid type"),
        ] {
            let e = ModelConfig::from_section(bad.as_object().unwrap()).unwrap_err();
            assert!(matches!(e, ModelError::Section(_)), "{e:?}");
            let e = chain(&e);
            assert!(e.starts_with("embedded: ") && e.contains(why), "{e}");
        }
        let zero = ModelConfig {
            workers: Some(0),
            ..Default::default()
        };
        assert!(matches!(
            zero.resolve().unwrap_err(),
            ModelError::NoCapacity
        ));
        let unlimited = ModelConfig {
            spoke_capacity: Some(0.0),
            ..Default::default()
        };
        assert_eq!(unlimited.resolve().unwrap().spoke_capacity, None);
    }
}
