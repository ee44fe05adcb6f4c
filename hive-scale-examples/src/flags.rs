//! Flags several tools share, each defined once: a tool takes a group with
//! `#[command(flatten)]`, so a flag has one name, one help text and one default everywhere.

use crate::Failure;
use anyhow::Context as _;
use hive_scale_core::adopt::CloneRange;
use hive_scale_core::files::{self, DirLock, LockError};
use hive_scale_core::hub::{HubOptions, RetryPolicy};
use hive_scale_core::metrics::{
    HttpOptions, MetricsError, Profile, PrometheusClient, Scraper, Secret, Source, parse_duration,
    redact_url,
};
use hive_scale_core::scenario::Scenario;
use hive_scale_core::scenario::runner::{RealHub, Target};
use hive_scale_sim::hub::EmbeddedHub;
use hive_scale_sim::target::ScaleChoice;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `--verbose`: how much every tool logs.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct LogFlags {
    /// Log more (RUST_LOG overrides).
    #[arg(short, long)]
    pub verbose: bool,
}

impl LogFlags {
    /// Sets up logging as the flags say (see [`crate::init_logging`]).
    pub fn init(self) {
        crate::init_logging(self.verbose);
    }
}

/// `--json`: the result as JSON on stdout, for scripts.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct OutputFlags {
    /// Print the result as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The clones `START..=END` of a command line; a bad range is a usage error (exit 2).
pub fn clone_range(start: u32, end: u32) -> anyhow::Result<CloneRange> {
    CloneRange::new(start, end)
        .map_err(|e| Failure::usage(format!("START END ({start} {end}): {e}")))
}

/// Which hub: a kubeconfig and a context, resolved as kubectl does.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct KubeconfigFlags {
    /// The hub's kubeconfig (default: the KUBECONFIG list, then ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, alias = "hub-kubeconfig")]
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Use the pod's service account (running as a Kubernetes Job), whatever kubeconfig exists.
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"])]
    pub in_cluster: bool,
}

/// Which hub to talk to, and how fast.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HubFlags {
    #[command(flatten)]
    pub kubeconfig: KubeconfigFlags,
    /// Client-side requests per second towards the hub (0: unlimited; default 50, or 0 on the
    /// embedded hub).
    #[arg(long)]
    pub qps: Option<f64>,
    /// Client-side burst.
    #[arg(long, default_value_t = 100)]
    pub burst: u32,
    /// Retries of a request that failed transiently (429, 5xx, timeouts, dropped connections).
    #[arg(long, default_value_t = RetryPolicy::default().max_retries)]
    pub max_retries: usize,
    /// The first backoff between retries (doubling, with jitter, up to --retry-max-delay).
    #[arg(long, default_value = "100ms", value_parser = duration)]
    pub retry_min_delay: Duration,
    /// The longest backoff between retries (a server's Retry-After may ask for more).
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub retry_max_delay: Duration,
}

impl HubFlags {
    /// Whether a hub was named on the command line (an environment variable does not count).
    pub fn given(&self) -> bool {
        self.kubeconfig.kubeconfig.is_some()
            || self.kubeconfig.context.is_some()
            || self.kubeconfig.in_cluster
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
        let mut opts = HubOptions::default()
            .with_qps(self.qps.unwrap_or(default_qps))
            .with_burst(self.burst)
            .with_retry(RetryPolicy::new(
                self.max_retries,
                self.retry_min_delay,
                self.retry_max_delay.max(self.retry_min_delay),
            ));
        opts.kubeconfig = self.kubeconfig.kubeconfig.clone();
        opts.context = self.kubeconfig.context.clone();
        opts.in_cluster = self.kubeconfig.in_cluster;
        opts
    }
}

/// Where Hive's metrics come from, and how to reach it: the same flags for `scaletest`,
/// `snapshot` and `record`, and the same keys under a fleet file's `metrics:` (snake_case).
#[derive(clap::Args, serde::Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsFlags {
    /// Prometheus (or OpenShift's thanos-querier) to query; user:password@ in the URL is basic
    /// auth unless a credential flag is given.
    #[arg(long, conflicts_with = "metrics_url")]
    pub prometheus: Option<String>,
    /// A /metrics URL to scrape instead of asking Prometheus (repeat for several pods);
    /// user:password@ in a URL is basic auth for that URL only, unless a credential flag is given.
    #[arg(long, alias = "scrape")]
    #[serde(deserialize_with = "one_or_many")]
    pub metrics_url: Vec<String>,
    /// A file holding a bearer token, sent to every --prometheus/--metrics-url URL given
    /// (in place of user information in a URL).
    #[arg(long, conflicts_with_all = ["token_from_kubeconfig", "user"])]
    pub token_file: Option<PathBuf>,
    /// Send the bearer token of the hub's kubeconfig (its current context, or --context) to
    /// every URL given (in place of user information in a URL).
    #[arg(long, conflicts_with = "user")]
    pub token_from_kubeconfig: bool,
    /// User for basic auth to every URL given (password from --password-file).
    #[arg(long, requires = "password_file")]
    pub user: Option<String>,
    /// A file holding the basic-auth password.
    #[arg(long, requires = "user")]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA to trust for HTTPS.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate from Prometheus (a test cluster's self-signed route).
    #[arg(long, conflicts_with = "ca_file")]
    pub insecure_skip_tls_verify: bool,
    /// Send a token or password over plain http:// to a host that is not loopback (refused
    /// otherwise: anyone on the path could read it). localhost, 127.0.0.0/8 and ::1 need no
    /// permission.
    #[arg(long)]
    pub allow_insecure_credentials: bool,
    /// Limit for each request to Prometheus or /metrics.
    #[arg(long, default_value = "10s", value_parser = duration)]
    #[serde(
        default = "default_request_timeout",
        deserialize_with = "serde_duration"
    )]
    pub request_timeout: Duration,
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}

/// A duration written as on the command line (`10s`, `1m`), in a file.
fn serde_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s: String = serde::Deserialize::deserialize(d)?;
    duration(&s).map_err(serde::de::Error::custom)
}

/// One string or a list of them.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match serde::Deserialize::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl MetricsFlags {
    /// Whether a metrics source was named.
    pub fn given(&self) -> bool {
        self.prometheus.is_some() || !self.metrics_url.is_empty()
    }

    /// Timeout, credentials and CA as the flags say; `hub` names the kubeconfig for
    /// `--token-from-kubeconfig`. A file the flags name that cannot be read is a usage error.
    pub fn http(&self, hub: &KubeconfigFlags) -> anyhow::Result<HttpOptions> {
        let usage = |e: MetricsError| Failure::usage(hive_scale_core::error::chain(&e));
        let mut o = HttpOptions::default()
            .with_timeout(self.request_timeout)
            .with_insecure_skip_verify(self.insecure_skip_tls_verify)
            .with_insecure_credentials(self.allow_insecure_credentials);
        if let Some(f) = &self.token_file {
            o = o.with_token_file(f).map_err(usage)?;
        }
        if self.insecure_skip_tls_verify
            && (self.token_from_kubeconfig || self.token_file.is_some())
        {
            // The token is the hub's own credential: without verification anyone in the path
            // can take it.
            eprintln!(
                "warning: --insecure-skip-tls-verify sends the bearer token to a server whose certificate is not checked; prefer --ca-file"
            );
        }
        if self.token_from_kubeconfig {
            o = if hub.in_cluster {
                o.with_service_account_token()?
            } else {
                o.with_kubeconfig_token(hub.kubeconfig.as_deref(), hub.context.as_deref())
                    .map_err(|e| Failure::usage(hive_scale_core::error::chain(&e)))?
            };
        }
        if let (Some(user), Some(f)) = (&self.user, &self.password_file) {
            let pw = std::fs::read_to_string(f)
                .map_err(|e| Failure::usage(format!("password file {}: {e}", f.display())))?;
            o = o.with_basic_auth(user, Secret::new(pw.trim_end_matches(['\r', '\n'])));
        }
        if let Some(f) = &self.ca_file {
            o = o.with_ca_file(f).map_err(usage)?;
        }
        Ok(o)
    }

    /// The source the flags name, if any.
    pub fn source(&self, hub: &KubeconfigFlags) -> anyhow::Result<Option<Source>> {
        match &self.prometheus {
            None if self.metrics_url.is_empty() => Ok(None),
            prometheus => self
                .source_or(hub, prometheus.as_deref().unwrap_or_default())
                .map(Some),
        }
    }

    /// The source the flags name, or the Prometheus at `default_prometheus`. Credentials that
    /// would go over plain HTTP to a remote host are a usage error, before anything is sent.
    pub fn source_or(
        &self,
        hub: &KubeconfigFlags,
        default_prometheus: &str,
    ) -> anyhow::Result<Source> {
        let http = self.http(hub)?;
        let source = if self.metrics_url.is_empty() {
            let url = self.prometheus.as_deref().unwrap_or(default_prometheus);
            PrometheusClient::new(url, &http).map(Source::Prometheus)
        } else {
            Scraper::new(&self.metrics_url, &http).map(Source::Scrape)
        };
        source.map_err(|e| match e {
            MetricsError::InsecureCredentials { .. } => Failure::usage(e.to_string()),
            e => e.into(),
        })
    }

    /// The URLs as they may be recorded: without user information or tokens.
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::json!({
            "prometheus": self.prometheus.as_deref().map(redact_url),
            "metrics_url": self.metrics_url.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
        })
    }
}

/// The metric profile at `path`, or the built-in one; a profile that cannot be read or is not
/// valid is a usage error.
pub fn load_profile(path: Option<&std::path::Path>) -> anyhow::Result<Profile> {
    match path {
        Some(f) => Profile::load(f).map_err(|e| Failure::usage(hive_scale_core::error::chain(&e))),
        None => Ok(Profile::builtin()),
    }
}

/// Parses a duration for clap: `500ms`, `30s`, `5m`, `2h`, `1h30m`, or plain seconds.
pub fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
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
    /// Fail (exit 5) if an observe phase takes longer than this, modeled time (`90m`, `2h`).
    #[arg(long, value_parser = duration)]
    pub max_drain: Option<Duration>,
    /// Fail (exit 6) if the P99 fan-out latency exceeds this, modeled time (`30s`, `5m`).
    #[arg(long, value_parser = duration)]
    pub max_p99_fanout: Option<Duration>,
    /// Fail (exit 7) if more writes than this failed.
    #[arg(long)]
    pub max_errors: Option<u64>,
}

impl ScenarioFlags {
    /// The scenario, scaled and with the thresholds given; a bad one is a usage error.
    pub fn load(&self) -> anyhow::Result<Scenario> {
        let usage = Failure::usage;
        let mut s = Scenario::load(&self.scenario).map_err(|e| usage(e.to_string()))?;
        if self.clusters.is_some() || self.selectorsyncsets.is_some() {
            s = s.scaled(
                self.clusters.unwrap_or(s.clusters),
                self.selectorsyncsets.unwrap_or(s.selectorsyncsets),
            );
        }
        if let Some(n) = self.configmaps.filter(|n| *n != s.configmaps) {
            s.configmaps = n;
            s.description = s.describe();
        }
        let t = &mut s.thresholds;
        t.max_drain_seconds = self
            .max_drain
            .map(|d| d.as_secs_f64())
            .or(t.max_drain_seconds);
        t.max_p99_fanout_seconds = self
            .max_p99_fanout
            .map(|d| d.as_secs_f64())
            .or(t.max_p99_fanout_seconds);
        t.max_errors = self.max_errors.or(t.max_errors);
        s.validate()
            .map_err(|why| usage(format!("scenario {}: {why}", s.name)))?;
        Ok(s)
    }
}

/// The lock file of a result directory, held by the run (or report) writing there.
pub const RESULT_LOCK: &str = ".hive-scale.lock";

/// Makes `dir` the result directory of one run, so that runs never mix: refused (usage, nothing
/// written) when it holds an earlier run's files ([`files::run_entries`]; `keep`, an input about
/// to be read, does not count) unless `force`, and while another run or report writes there
/// (its lock). With `force` those files are removed first ([`files::clear_run_entries`]);
/// nothing else in `dir` is touched. The returned lock is held until dropped.
pub fn claim_result_dir(dir: &Path, force: bool, keep: &[&Path]) -> anyhow::Result<ResultDir> {
    let io = |e: std::io::Error| Failure::usage(format!("{}: {e}", dir.display()));
    let kept: Vec<PathBuf> = keep
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let earlier: Vec<PathBuf> = files::run_entries(dir)
        .map_err(io)?
        .into_iter()
        .filter(|p| std::fs::canonicalize(p).map_or(true, |p| !kept.contains(&p)))
        .collect();
    if !earlier.is_empty() && !force {
        let mut names: Vec<String> = earlier
            .iter()
            .take(4)
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        if earlier.len() > names.len() {
            names.push("...".into());
        }
        return Err(Failure::usage(format!(
            "{} holds an earlier run's results ({}): give another directory, or --force to replace them",
            dir.display(),
            names.join(", ")
        )));
    }
    // The directories this claim creates, the outermost first reached: removed again on drop
    // when nothing was written in them.
    let existing = dir.ancestors().find(|a| a.exists()).map(Path::to_path_buf);
    let lock = DirLock::acquire(dir, RESULT_LOCK).map_err(|e| match e {
        LockError::Held { .. } => {
            Failure::usage(format!("{e}, which is writing its results there"))
        }
        e => Failure::usage(e.to_string()),
    })?;
    if !earlier.is_empty() {
        let removed = files::clear_run_entries(dir, keep)
            .with_context(|| format!("clearing the earlier run's results in {}", dir.display()))?;
        eprintln!(
            "note: removed {} files and directories of an earlier run from {} (--force)",
            removed.len(),
            dir.display()
        );
    }
    Ok(ResultDir {
        dir: dir.to_path_buf(),
        created_below: existing,
        lock: Some(lock),
    })
}

/// A result directory claimed by [`claim_result_dir`]: its lock, held until this is dropped.
/// Directories the claim created are removed again on drop when nothing but the lock file was
/// written in them, so a run that stops before writing (bad input, a hub that cannot be
/// reached) leaves no trace.
#[derive(Debug)]
pub struct ResultDir {
    dir: PathBuf,
    /// The nearest ancestor of `dir` (or `dir` itself) that existed before the claim.
    created_below: Option<PathBuf>,
    lock: Option<DirLock>,
}

impl Drop for ResultDir {
    fn drop(&mut self) {
        let Some(lock) = self.lock.take() else { return };
        if self.created_below.as_deref() == Some(self.dir.as_path()) {
            return;
        }
        let only_the_lock = std::fs::read_dir(&self.dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .all(|e| e.file_name() == RESULT_LOCK)
        });
        if !only_the_lock {
            return;
        }
        let _ = std::fs::remove_file(lock.path());
        drop(lock);
        // remove_dir removes only what is empty: a directory somebody wrote in meanwhile stays.
        for d in self.dir.ancestors() {
            if Some(d) == self.created_below.as_deref() || std::fs::remove_dir(d).is_err() {
                break;
            }
        }
    }
}

/// Parses a run id for clap: a DNS label (it becomes a label value and part of spoke-side
/// object names).
pub fn run_id(s: &str) -> Result<String, String> {
    if hive_scale_core::labels::is_run_id(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a valid run id (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit)"
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
    /// Wall time an observe phase may take (e.g. 10m, 24h).
    #[arg(long, default_value = "10m", value_parser = duration)]
    pub timeout: Duration,
    /// Recording interval (wall).
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub interval: Duration,
    /// How long teardown may wait for deletions to finish.
    #[arg(long, default_value = "5m", value_parser = duration)]
    pub teardown_timeout: Duration,
    /// After SIGINT or SIGTERM, how long teardown may go on before it stops and lists what is
    /// left (a second signal stops it at once); keep it under a Job's termination grace period.
    #[arg(long, default_value = "25s", value_parser = duration)]
    pub grace: Duration,
    /// Clones in flight while adopting.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Adopt into a namespace that exists and is not hive-scale's (it stays unlabelled and is
    /// never deleted); without this such a clone is refused.
    #[arg(long)]
    pub borrow_namespaces: bool,
    /// The run id to label objects with (default: a fresh one); teardown removes only its objects.
    /// Over a fleet, each hub's objects carry RUN-NAME (NAME: the hub's).
    #[arg(long, value_parser = run_id)]
    pub run: Option<String>,
    /// Fail (exit 9) if the hub API server's P99 latency in a 5-minute window exceeds the API
    /// call latency SLO's limit times this (1: the SLO as written; a large value only reports).
    #[arg(long, default_value_t = 1.0)]
    pub max_api_p99_factor: f64,
    /// Replace an earlier run's results in --out: first remove the files and directories a run
    /// writes there (summary.json, junit.xml, recording.jsonl, report.md, metrics-summary.json,
    /// *.svg, hub/, hubs/) and nothing else. Without it, a --out holding them is refused.
    #[arg(long)]
    pub force: bool,
}

impl RunFlags {
    /// Makes `out` this run's result directory (see [`claim_result_dir`]); keep it until the
    /// run is over.
    pub fn claim_out(&self, out: &Path) -> anyhow::Result<ResultDir> {
        claim_result_dir(out, self.force, &[])
    }

    /// The run's settings for `scenario`; bad values are a usage error.
    pub fn settings(
        &self,
        scenario: &Scenario,
    ) -> anyhow::Result<hive_scale_core::scenario::runner::RunSettings> {
        if !(self.max_api_p99_factor.is_finite() && self.max_api_p99_factor > 0.0) {
            return Err(Failure::usage(
                "--max-api-p99-factor must be a positive number",
            ));
        }
        if self.interval < Duration::from_millis(100) || self.timeout.is_zero() {
            return Err(Failure::usage(
                "--interval must be at least 100ms and --timeout more than zero",
            ));
        }
        let out = self.out.clone().unwrap_or_else(|| {
            let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S");
            format!("target/scaletest/{}-{stamp}", scenario.name).into()
        });
        let mut s = hive_scale_core::scenario::runner::RunSettings::new(out);
        s.timeout = self.timeout;
        s.interval = self.interval;
        s.teardown_timeout = self.teardown_timeout;
        s.grace = self.grace;
        s.concurrency = self.concurrency as usize;
        s.borrow_namespaces = self.borrow_namespaces;
        s.keep = self.keep;
        s.api_slo_factor = self.max_api_p99_factor;
        if let Some(run) = &self.run {
            s.run_id = run.clone();
        }
        Ok(s)
    }
}

/// Where a scenario runs: a real hub when `--kubeconfig` or `--context` names one (a
/// `KUBECONFIG` in the environment is not a request), else the embedded hub.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetFlags {
    #[command(flatten)]
    pub hub: HubFlags,
    #[command(flatten)]
    pub metrics: MetricsFlags,
    /// The spoke's admin kubeconfig, adopted many times (real hub).
    #[arg(long)]
    pub spoke_kubeconfig: Option<PathBuf>,
    /// Adopt fake clusters (hive.openshift.io/fake-cluster) instead of a spoke.
    #[arg(long)]
    pub fake_cluster: bool,
    /// Modeled seconds per real second on the embedded hub (default: picked for a few minutes).
    #[arg(long)]
    pub time_scale: Option<hive_scale_sim::clock::TimeScale>,
    /// A ClusterRole to bind to the hub credentials in each clone namespace created, so a
    /// least-privilege Job can read its own Secrets back (config/job: hive-scale-namespace).
    #[arg(long, value_name = "CLUSTERROLE")]
    pub namespace_role: Option<String>,
}

impl TargetFlags {
    /// The target for `scenario`, and the embedded hub when it is one (started in `dir`).
    pub async fn target(
        &self,
        scenario: &Scenario,
        dir: &std::path::Path,
    ) -> anyhow::Result<(Target, Option<EmbeddedHub>)> {
        if self.hub.given() {
            if self.spoke_kubeconfig.is_none() && !self.fake_cluster {
                return Err(Failure::usage(
                    "a real hub needs --spoke-kubeconfig or --fake-cluster",
                ));
            }
            let mut real = RealHub::default();
            real.hub = self.hub.options(50.0);
            real.spoke_kubeconfig = self.spoke_kubeconfig.clone();
            real.fake_cluster = self.fake_cluster;
            real.metrics = self.metrics.source(&self.hub.kubeconfig)?;
            real.namespace_role = self.namespace_role.clone();
            return Ok((Target::real(real).await?, None));
        }
        let (hub, choice) = EmbeddedHub::for_scenario(scenario, dir, self.time_scale)
            .await
            .map_err(|e| Failure::usage(hive_scale_core::error::chain(&e)))?;
        if let ScaleChoice::Predicted {
            scale,
            modeled_seconds,
        } = choice
        {
            println!(
                "time scale {scale}: the model predicts {:.1} modeled hours of syncing, so this runs in a few minutes",
                modeled_seconds / 3600.0
            );
        }
        let client = hub.connect(self.hub.qps.unwrap_or(0.0)).await?;
        Ok((hub.target(client, self.fake_cluster)?, Some(hub)))
    }

    /// The flags as the summary records them (URLs without credentials).
    pub fn recorded(&self) -> serde_json::Value {
        serde_json::json!({
            "kubeconfig": self.hub.kubeconfig.kubeconfig,
            "context": self.hub.kubeconfig.context,
            "spoke_kubeconfig": self.spoke_kubeconfig,
            "fake_cluster": self.fake_cluster,
            "time_scale": self.time_scale.map(f64::from),
            "metrics": self.metrics.redacted(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_directory_is_one_run_s_and_a_claim_that_wrote_nothing_leaves_no_trace() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/run");
        let claim = claim_result_dir(&out, false, &[]).unwrap();
        assert!(out.join(RESULT_LOCK).exists());
        let e = claim_result_dir(&out, true, &[]).unwrap_err().to_string();
        assert!(
            e.contains("is in use by another process") && e.contains("writing its results"),
            "{e}"
        );
        drop(claim);
        assert!(
            !tmp.path().join("a").exists(),
            "created, then nothing written"
        );
        // A run that wrote its results leaves them.
        let claim = claim_result_dir(&out, false, &[]).unwrap();
        std::fs::write(out.join("summary.json"), "{}").unwrap();
        drop(claim);
        assert!(out.join("summary.json").exists());
        let e = claim_result_dir(&out, false, &[]).unwrap_err();
        assert_eq!(e.downcast_ref::<Failure>().map(|f| f.code), Some(2));
        assert!(
            e.to_string()
                .contains("holds an earlier run's results (summary.json)"),
            "{e}"
        );
        let _claim = claim_result_dir(&out, true, &[]).unwrap();
        assert!(!out.join("summary.json").exists());
        assert!(out.exists(), "a directory that existed stays");
    }
}
