//! Flags several tools share, each defined once.

use crate::Failure;
use hive_scale_core::hub::HubOptions;
use hive_scale_core::scenario::{Scenario, exit};
use std::path::PathBuf;

/// Which hub to talk to, and how fast.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HubFlags {
    /// The hub's kubeconfig (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long, alias = "hub-kubeconfig")]
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Client-side requests per second towards the hub (0: unlimited; default 50, or 0 on the
    /// embedded hub).
    #[arg(long)]
    pub qps: Option<f64>,
    /// Client-side burst.
    #[arg(long, default_value_t = 100)]
    pub burst: u32,
}

impl HubFlags {
    /// Whether a hub was named on the command line (an environment variable does not count).
    pub fn given(&self) -> bool {
        self.kubeconfig.is_some() || self.context.is_some()
    }

    /// Connects (kubeconfig and context resolved as kubectl does) and checks that the hub
    /// answers; `default_qps` unless `--qps` is given.
    pub async fn connect(&self, default_qps: f64) -> anyhow::Result<hive_scale_core::hub::Hub> {
        let hub = hive_scale_core::hub::Hub::connect(&self.options(default_qps)).await?;
        hub.check().await?;
        Ok(hub)
    }

    /// The connection options, with `default_qps` when `--qps` is not given.
    pub fn options(&self, default_qps: f64) -> HubOptions {
        HubOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            qps: self.qps.unwrap_or(default_qps),
            burst: self.burst,
            ..Default::default()
        }
    }
}

/// Where Hive's metrics come from on a real hub.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct MetricsFlags {
    /// Prometheus to record Hive's metrics from.
    #[arg(long, conflicts_with = "metrics_url")]
    pub prometheus: Option<String>,
    /// A /metrics URL to scrape instead (e.g. a port-forward to hive-clustersync:2112).
    #[arg(long)]
    pub metrics_url: Option<String>,
}

/// A scenario and what to change in it.
#[derive(clap::Args, Debug, Clone)]
pub struct ScenarioFlags {
    /// A built-in scenario (2020-adoption, 2019-incremental, starvation) or a YAML file.
    #[arg(long, default_value = "2020-adoption")]
    pub scenario: String,
    /// Scale the scenario to this many clusters.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub clusters: Option<u32>,
    /// Scale the scenario to this many SelectorSyncSets.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub selectorsyncsets: Option<u32>,
    /// ConfigMaps per set.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub configmaps: Option<u32>,
    /// Fail (exit 5) if an observe phase takes longer than this, modeled seconds.
    #[arg(long)]
    pub max_drain: Option<f64>,
    /// Fail (exit 6) if the P99 fan-out latency exceeds this, modeled seconds.
    #[arg(long)]
    pub max_p99_fanout: Option<f64>,
    /// Fail (exit 7) if more writes than this failed.
    #[arg(long)]
    pub max_errors: Option<u64>,
}

impl ScenarioFlags {
    /// The scenario, scaled and with the thresholds given; a bad one is a usage error.
    pub fn load(&self) -> anyhow::Result<Scenario> {
        let usage = |message: String| Failure {
            code: exit::USAGE,
            message,
        };
        let mut s = Scenario::load(&self.scenario).map_err(|e| usage(e.to_string()))?;
        if self.clusters.is_some() || self.selectorsyncsets.is_some() {
            s = s.scaled(
                self.clusters.unwrap_or(s.clusters),
                self.selectorsyncsets.unwrap_or(s.selectorsyncsets),
            );
        }
        s.configmaps = self.configmaps.unwrap_or(s.configmaps);
        let t = &mut s.thresholds;
        t.max_drain_seconds = self.max_drain.or(t.max_drain_seconds);
        t.max_p99_fanout_seconds = self.max_p99_fanout.or(t.max_p99_fanout_seconds);
        t.max_errors = self.max_errors.or(t.max_errors);
        s.validate()
            .map_err(|why| usage(format!("scenario {}: {why}", s.name)))?;
        Ok(s)
    }
}

/// Parses a run id for clap: a non-empty label value.
pub fn run_id(s: &str) -> Result<String, String> {
    if !s.is_empty() && hive_scale_core::labels::is_label_value(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a valid run id (letters, digits, '-', '_' and '.', at most 63)"
        ))
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

/// How a scenario runs: where results go, how long to wait, what to keep.
#[derive(clap::Args, Debug, Clone)]
pub struct RunFlags {
    /// The result directory (default target/scaletest/SCENARIO-TIMESTAMP).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep what was created (no teardown); on the embedded hub, keep serving until Ctrl-C.
    #[arg(long)]
    pub keep: bool,
    /// Wall seconds an observe phase may take.
    #[arg(long, default_value_t = 600.0)]
    pub timeout: f64,
    /// Recording interval, wall seconds.
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
    /// Clones in flight while adopting.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// The run id to label objects with (default: a fresh one); teardown removes only its objects.
    #[arg(long, value_parser = run_id)]
    pub run: Option<String>,
}

impl RunFlags {
    /// The run's settings for `scenario`; bad values are a usage error.
    pub fn settings(
        &self,
        scenario: &Scenario,
    ) -> anyhow::Result<hive_scale_core::scenario::runner::RunSettings> {
        if !(self.interval >= 0.1 && self.timeout > 0.0 && self.timeout.is_finite()) {
            return Err(Failure {
                code: exit::USAGE,
                message: "--interval must be at least 0.1 and --timeout positive".into(),
            }
            .into());
        }
        let out = self.out.clone().unwrap_or_else(|| {
            let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S");
            format!("target/scaletest/{}-{stamp}", scenario.name).into()
        });
        let mut s = hive_scale_core::scenario::runner::RunSettings::new(out);
        s.timeout = std::time::Duration::from_secs_f64(self.timeout);
        s.interval = std::time::Duration::from_secs_f64(self.interval);
        s.concurrency = self.concurrency as usize;
        s.keep = self.keep;
        if let Some(run) = &self.run {
            s.run_id = run.clone();
        }
        Ok(s)
    }
}
