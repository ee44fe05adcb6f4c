//! The cost-model flags shared by `hub`, `plan` and `scaletest`.

use hive_scale_sim::model::{ApplyMode, CostModel};

/// Cost model flags: a preset plus overrides of any parameter.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Named preset (m4.xlarge-2020, c5.24xlarge-2020, m5.xlarge, laptop).
    #[arg(long, default_value = "m4.xlarge-2020")]
    pub preset: String,
    /// Apply mode: client-side, server-side or fake.
    #[arg(long = "apply")]
    pub apply_mode: Option<ApplyMode>,
    /// CPU seconds per apply for the chosen mode (reference core).
    #[arg(long)]
    pub cpu_per_apply: Option<f64>,
    /// Extra CPU per apply for each concurrent apply (client-side).
    #[arg(long)]
    pub contention: Option<f64>,
    /// CPU seconds per reconcile besides the applies.
    #[arg(long)]
    pub reconcile_cpu: Option<f64>,
    /// Speed of a modeled core relative to an m4.xlarge vCPU.
    #[arg(long)]
    pub cpu_speed: Option<f64>,
    /// Latency of a GET to the spoke, seconds.
    #[arg(long)]
    pub remote_get_latency: Option<f64>,
    /// Latency of a write to the spoke, seconds.
    #[arg(long)]
    pub remote_write_latency: Option<f64>,
    /// Latency of a write to the hub, seconds.
    #[arg(long)]
    pub hub_write_latency: Option<f64>,
    /// Requests/s the spoke API server serves (0: unlimited).
    #[arg(long)]
    pub spoke_capacity: Option<f64>,
    /// Requests/s the hub API server serves (0: unlimited).
    #[arg(long)]
    pub hub_capacity: Option<f64>,
    /// The controllers' client QPS towards the hub (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    pub hub_qps: f64,
    /// Use the 2020 SyncSetInstance pipeline (syncset + syncsetinstance controllers).
    #[arg(long)]
    pub legacy_syncsetinstances: bool,
}

impl ModelArgs {
    /// The model with `workers` and `cores` (None: the preset's).
    pub fn model(&self, workers: Option<usize>, cores: Option<usize>) -> Result<CostModel, String> {
        let mut m = CostModel::preset(&self.preset)?;
        if let Some(mode) = self.apply_mode {
            m.apply_mode = mode;
        }
        if let Some(w) = workers {
            m.workers = w;
        }
        if let Some(c) = cores {
            m.cores = c;
        }
        if let Some(v) = self.cpu_per_apply {
            match m.apply_mode {
                ApplyMode::ClientSide => m.cpu_per_apply_client_side = v,
                _ => m.cpu_per_apply_server_side = v,
            }
        }
        let set = |dst: &mut f64, v: Option<f64>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut m.contention, self.contention);
        set(&mut m.reconcile_cpu, self.reconcile_cpu);
        set(&mut m.cpu_speed, self.cpu_speed);
        set(&mut m.remote_get_latency, self.remote_get_latency);
        set(&mut m.remote_write_latency, self.remote_write_latency);
        set(&mut m.hub_write_latency, self.hub_write_latency);
        if let Some(c) = self.spoke_capacity {
            m.spoke_capacity = (c > 0.0).then_some(c);
        }
        if let Some(c) = self.hub_capacity {
            m.hub_capacity = (c > 0.0).then_some(c);
        }
        m.validate()?;
        Ok(m)
    }

    /// The hub QPS as an option.
    pub fn hub_qps(&self) -> Option<f64> {
        (self.hub_qps > 0.0).then_some(self.hub_qps)
    }
}

/// A comma-separated list of positive numbers (`5,10,20`), for sweeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbers(pub Vec<usize>);

/// Parses `5,10,20`.
pub fn number_list(s: &str) -> Result<Numbers, String> {
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("expected positive numbers separated by commas, got {s:?}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Numbers)
}
