//! The fronts of a fleet run: reading a fleet file (`scaletest --fleet FILE`) and starting
//! embedded hubs as separate `hive-scale hub` processes (`scaletest --hubs N`), both turned into
//! the library's fleet [members](hive_scale_core::scenario::fleet::Member).

use crate::Failure;
use crate::cli::hub::{ENDPOINTS_FILE, Endpoints};
use crate::flags::{HubFlags, KubeconfigFlags, MetricsFlags};
use anyhow::Context as _;
use hive_scale_core::metrics::{HttpOptions, Scraper, Source, redact_url};
use hive_scale_core::scenario::Scenario;
use hive_scale_core::scenario::fleet::{Member, Share, spread};
use hive_scale_core::scenario::runner::RealHub;
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::model::ModelConfig;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fleet file: the hubs, in the order the summary lists them.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    /// The hubs.
    pub hubs: Vec<HubEntry>,
}

/// One hub of a fleet file. Relative paths are read from the fleet file's directory.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubEntry {
    /// The hub's name (its result subdirectory): lowercase letters, digits and `-`.
    pub name: String,
    /// The hub's kubeconfig.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// A context of it (default: its current context).
    #[serde(default)]
    pub context: Option<String>,
    /// The pod's own service account (the hub the Job runs in).
    #[serde(default)]
    pub in_cluster: bool,
    /// The spoke every clone on this hub points at.
    #[serde(default)]
    pub spoke_kubeconfig: Option<PathBuf>,
    /// Fake clusters instead of (or on top of) a spoke.
    #[serde(default)]
    pub fake_cluster: bool,
    /// Hive's metrics on this hub: the keys of the `--prometheus`/`--metrics-url` flags and
    /// their auth (`token_file`, `token_from_kubeconfig`, `user`, `password_file`, `ca_file`,
    /// `insecure_skip_tls_verify`, `request_timeout`).
    #[serde(default)]
    pub metrics: MetricsFlags,
    /// A share of the scenario's clusters, relative to the other hubs' weights (default 1).
    #[serde(default)]
    pub weight: Option<f64>,
    /// Exactly this many clusters instead of a weight.
    #[serde(default)]
    pub clusters: Option<u32>,
    /// Modeled seconds per real second of the hub (an embedded hub; 1 for a real one).
    #[serde(default)]
    pub time_scale: Option<f64>,
    /// Client-side requests per second towards this hub (default --qps, else 50; 0: unlimited).
    #[serde(default)]
    pub qps: Option<f64>,
    /// Retries of a request that failed transiently (default as `--max-retries`).
    #[serde(default)]
    pub max_retries: Option<usize>,
}

/// Whether `name` is a DNS label: a directory name on every system, and a label value.
fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn resolve(base: &Path, p: &Option<PathBuf>) -> Option<PathBuf> {
    p.as_ref().map(|p| base.join(p))
}

/// Reads and checks a fleet file and turns it into members sharing `total` clusters, opening
/// every file it names (kubeconfigs, spoke kubeconfigs, tokens, CAs) but contacting no hub:
/// whatever is wrong with it is found before anything is written anywhere.
///
/// # Errors
///
/// One line naming the file (and the hub) and what is wrong, as a usage error (exit 2).
pub fn load(path: &Path, total: u32, hub_flags: &HubFlags) -> anyhow::Result<Vec<Member>> {
    let usage = |why: String| Failure::usage(format!("fleet file {}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| usage(e.to_string()))?;
    let file: FleetFile = serde_saphyr::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "fleet file {}",
            hive_scale_core::error::yaml_line(&path.display().to_string(), &e)
        ))
    })?;
    if file.hubs.is_empty() {
        return Err(usage("it lists no hubs".into()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut shares = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for h in &file.hubs {
        let hub_usage = |why: &str| usage(format!("hub {:?}: {why}", h.name));
        if !is_dns_label(&h.name) {
            return Err(hub_usage(
                "a name is lowercase letters, digits and '-' (at most 63)",
            ));
        }
        if !seen.insert(h.name.as_str()) {
            return Err(hub_usage("named twice"));
        }
        if h.kubeconfig.is_none() && !h.in_cluster {
            // As on the command line, a KUBECONFIG in the environment is never taken as a
            // request to touch a hub.
            return Err(hub_usage("needs kubeconfig (or in_cluster: true)"));
        }
        if h.in_cluster && (h.kubeconfig.is_some() || h.context.is_some()) {
            return Err(hub_usage("in_cluster excludes kubeconfig and context"));
        }
        if h.spoke_kubeconfig.is_none() && !h.fake_cluster {
            return Err(hub_usage("needs spoke_kubeconfig or fake_cluster: true"));
        }
        for f in [&h.kubeconfig, &h.spoke_kubeconfig].into_iter().flatten() {
            let f = base.join(f);
            std::fs::metadata(&f).map_err(|e| hub_usage(&format!("{}: {e}", f.display())))?;
        }
        if h.metrics.prometheus.is_some() && !h.metrics.metrics_url.is_empty() {
            return Err(hub_usage("metrics: prometheus or metrics_url, not both"));
        }
        if h.metrics.user.is_some() != h.metrics.password_file.is_some() {
            return Err(hub_usage("metrics: user and password_file go together"));
        }
        if h.metrics.insecure_skip_tls_verify && h.metrics.ca_file.is_some() {
            return Err(hub_usage(
                "metrics: ca_file or insecure_skip_tls_verify, not both",
            ));
        }
        if h.time_scale.is_some_and(|k| !(k.is_finite() && k >= 1.0)) {
            return Err(hub_usage("time_scale must be a number of at least 1"));
        }
        if h.qps.is_some_and(|q| !(q.is_finite() && q >= 0.0)) {
            return Err(hub_usage("qps must be 0 or more"));
        }
        shares.push(match (h.weight, h.clusters) {
            (Some(_), Some(_)) => return Err(hub_usage("weight or clusters, not both")),
            (_, Some(n)) => Share::Clusters(n),
            (w, None) => Share::Weight(w.unwrap_or(1.0)),
        });
    }
    // Whether two entries are one hub is not known from their URLs (127.0.0.1 and localhost,
    // two contexts): the fleet asks each hub which it is once connected, before it writes.
    // Here each kubeconfig only has to name a server.
    for h in &file.hubs {
        if let Some(k) = &h.kubeconfig {
            server_of(&base.join(k), h.context.as_deref())
                .map_err(|why| usage(format!("hub {:?}: kubeconfig {why}", h.name)))?;
        }
    }
    let counts = spread(total, &shares).map_err(usage)?;
    let mut members = Vec::new();
    for (h, clusters) in file.hubs.into_iter().zip(counts) {
        let kubeconfig = KubeconfigFlags {
            kubeconfig: resolve(base, &h.kubeconfig),
            context: h.context.clone(),
            in_cluster: h.in_cluster,
        };
        let mut metrics = h.metrics.clone();
        metrics.token_file = resolve(base, &metrics.token_file);
        metrics.password_file = resolve(base, &metrics.password_file);
        metrics.ca_file = resolve(base, &metrics.ca_file);
        let source = metrics
            .source(&kubeconfig)
            .map_err(|e| usage(format!("hub {:?}: {}", h.name, crate::one_line(&e))))?;
        let flags = HubFlags {
            kubeconfig,
            qps: h.qps.or(hub_flags.qps),
            max_retries: h.max_retries.unwrap_or(hub_flags.max_retries),
            ..hub_flags.clone()
        };
        let mut real = RealHub::default();
        real.hub = flags.options(50.0);
        real.spoke_kubeconfig = resolve(base, &h.spoke_kubeconfig);
        real.fake_cluster = h.fake_cluster;
        real.metrics = source;
        let mut m = Member::new(h.name, clusters, real);
        m.time_scale = h.time_scale;
        members.push(m);
    }
    Ok(members)
}

/// The server a kubeconfig's `context` (or current context) points at, without credentials.
fn server_of(path: &Path, context: Option<&str>) -> Result<String, String> {
    let kc = hive_scale_core::hub::kubeconfig::read(path)
        .map_err(|e| hive_scale_core::error::chain(&e))?;
    let name = context
        .map(str::to_string)
        .or_else(|| kc.current_context.clone())
        .ok_or_else(|| {
            format!(
                "{} has no current context (name one with context:)",
                path.display()
            )
        })?;
    let ctx = (kc.contexts.iter().find(|c| c.name == name))
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| format!("{} has no context {name:?}", path.display()))?;
    (kc.clusters.iter().find(|c| c.name == ctx.cluster))
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.as_deref())
        .map(|s| redact_url(s.trim_end_matches('/')))
        .ok_or_else(|| {
            format!(
                "{}: context {name:?} names no cluster with a server",
                path.display()
            )
        })
}

/// Embedded hubs running as `hive-scale hub` processes, stopped when this is dropped (their
/// standard input closes; they are killed if they do not stop).
#[derive(Debug)]
pub struct EmbeddedFleet {
    hubs: Vec<(String, Endpoints, tokio::process::Child)>,
}

/// How long a hub may take to start before the fleet gives up on it.
const HUB_START_TIMEOUT: Duration = Duration::from_secs(60);

/// How to start a hub: this program's `hub` subcommand, or (this being an example, which has
/// no subcommands) this program again told to be the hub tool ([`crate::cli::RUN_AS_HUB`]):
/// either way the code that runs the test, whatever is installed.
fn hub_command() -> anyhow::Result<tokio::process::Command> {
    let me = std::env::current_exe().context("cannot find this program")?;
    let mut cmd = tokio::process::Command::new(&me);
    if me.file_stem().is_some_and(|s| s == "hive-scale") {
        cmd.arg("hub");
    } else {
        cmd.env(crate::cli::RUN_AS_HUB, "1");
    }
    Ok(cmd)
}

impl EmbeddedFleet {
    /// Starts `n` hubs, `hub-1`..`hub-n`, each in `out/hubs/NAME/hub` with the model of
    /// `scenario`'s `embedded:` section, at `time_scale` (default: picked by the planner so the
    /// largest hub's share, `largest` clusters, takes a few minutes). Returns the fleet and
    /// the time scale.
    ///
    /// # Errors
    ///
    /// A bad `embedded:` section (usage), or a hub that does not start (its log is named).
    pub async fn start(
        n: usize,
        scenario: &Scenario,
        largest: u32,
        out: &Path,
        time_scale: Option<TimeScale>,
    ) -> anyhow::Result<(Self, TimeScale)> {
        let usage = |e: hive_scale_sim::model::ModelError| {
            Failure::usage(format!(
                "scenario {}: {}",
                scenario.name,
                hive_scale_core::error::chain(&e)
            ))
        };
        let config = ModelConfig::from_section(&scenario.embedded).map_err(usage)?;
        let model = config.resolve().map_err(usage)?;
        let scale = time_scale.or(config.time_scale).unwrap_or_else(|| {
            let share = scenario.scaled(largest, scenario.selectorsyncsets);
            hive_scale_sim::target::pick_time_scale(&share, &model).scale()
        });
        let mut fleet = Self { hubs: Vec::new() };
        for i in 1..=n {
            let name = format!("hub-{i}");
            let dir = out.join("hubs").join(&name).join("hub");
            std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
            let _ = std::fs::remove_file(dir.join(ENDPOINTS_FILE));
            let model_file = dir.join("model.json");
            std::fs::write(&model_file, serde_json::to_vec_pretty(&scenario.embedded)?)
                .with_context(|| format!("{}", model_file.display()))?;
            let log = std::fs::File::create(dir.join("hub.log"))
                .with_context(|| format!("{}", dir.join("hub.log").display()))?;
            let mut cmd = hub_command()?;
            let child = cmd
                .arg("--dir")
                .arg(&dir)
                .arg("--model")
                .arg(&model_file)
                .args(["--time-scale", &f64::from(scale).to_string()])
                .arg("--stop-when-stdin-closes")
                .stdin(std::process::Stdio::piped())
                .stdout(log.try_clone()?)
                .stderr(log)
                .kill_on_drop(true)
                .spawn()
                .context("cannot start a hub")?;
            fleet.hubs.push((name, placeholder(), child));
        }
        for i in 0..fleet.hubs.len() {
            let dir = out.join("hubs").join(&fleet.hubs[i].0).join("hub");
            let endpoints = wait_for(&dir, &mut fleet.hubs[i].2).await?;
            fleet.hubs[i].1 = endpoints;
        }
        Ok((fleet, scale))
    }

    /// Each hub's name and where it serves.
    pub fn endpoints(&self) -> impl Iterator<Item = (&str, &Endpoints)> {
        self.hubs.iter().map(|(n, e, _)| (n.as_str(), e))
    }

    /// Stops every hub: closes its standard input, then kills it if it has not stopped
    /// within a few seconds.
    pub async fn stop(mut self) {
        for (_, _, child) in &mut self.hubs {
            drop(child.stdin.take());
        }
        for (name, _, child) in &mut self.hubs {
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                tracing::warn!(hub = %name, "the hub did not stop; killing it");
                let _ = child.kill().await;
            }
        }
    }
}

fn placeholder() -> Endpoints {
    Endpoints {
        hub_url: String::new(),
        kubeconfig: PathBuf::new(),
        spoke_kubeconfig: None,
        metrics_url: String::new(),
        time_scale: 1.0,
        pid: 0,
    }
}

/// Waits until the hub in `dir` has written its endpoints, or has exited.
async fn wait_for(dir: &Path, child: &mut tokio::process::Child) -> anyhow::Result<Endpoints> {
    let t0 = Instant::now();
    let file = dir.join(ENDPOINTS_FILE);
    let log = dir.join("hub.log");
    loop {
        if let Ok(bytes) = std::fs::read(&file) {
            return serde_json::from_slice(&bytes)
                .with_context(|| format!("cannot read {}", file.display()));
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!(
                "the hub in {} exited ({status}) before serving; see {}",
                dir.display(),
                log.display()
            );
        }
        if t0.elapsed() > HUB_START_TIMEOUT {
            anyhow::bail!(
                "the hub in {} did not start within {}s; see {}",
                dir.display(),
                HUB_START_TIMEOUT.as_secs(),
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Members for the embedded hubs: reached through the kubeconfig, spoke kubeconfig and
/// metrics URL each wrote, exactly as a fleet file would name real hubs.
pub fn embedded_members(
    fleet: &EmbeddedFleet,
    counts: &[u32],
    fake_cluster: bool,
    hub_flags: &HubFlags,
) -> anyhow::Result<Vec<Member>> {
    let mut members = Vec::new();
    for ((name, e), clusters) in fleet.endpoints().zip(counts) {
        let flags = HubFlags {
            kubeconfig: KubeconfigFlags {
                kubeconfig: Some(e.kubeconfig.clone()),
                context: None,
                in_cluster: false,
            },
            ..hub_flags.clone()
        };
        let mut real = RealHub::default();
        // No client-side limit unless asked: the hub is on this machine, as in a single run.
        real.hub = flags.options(0.0);
        real.spoke_kubeconfig = if fake_cluster {
            None
        } else {
            e.spoke_kubeconfig.clone()
        };
        real.fake_cluster = fake_cluster;
        real.metrics = Some(Source::Scrape(Scraper::new(
            std::slice::from_ref(&e.metrics_url),
            &HttpOptions::default(),
        )?));
        let mut m = Member::new(name, *clusters, real);
        m.time_scale = Some(e.time_scale);
        members.push(m);
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_names_are_dns_labels() {
        for ok in ["east", "hub-1", "a", "us-east-1"] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in ["", "East", "-a", "a-", "a/b", "..", "a.b", &"x".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }
}
