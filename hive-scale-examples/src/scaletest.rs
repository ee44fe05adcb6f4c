//! The main job's engine: runs a [`Scenario`] phase by phase against a hub (embedded or real),
//! records Hive's metrics, and always leaves a result directory: `summary.json`,
//! `recording.jsonl`, `report.md` and charts, also when a phase fails, times out or the run is
//! interrupted.

use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions, Selection, TeardownOptions};
use hive_scale_core::api::SelectorSyncSet;
use hive_scale_core::fixtures::{self, ConfigMapFixture, SelectorSyncSetFixture};
use hive_scale_core::hub::{Hub, StatsSnapshot};
use hive_scale_core::metrics::{self, Profile, Recorder, RecorderHandle, Source};
use hive_scale_core::scenario::progress::{Percentiles, Progress, applied_marks, progress};
use hive_scale_core::scenario::{Phase, Scenario, exit};
use kube::api::{Api, PostParams};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the run's objects go and how it observes.
pub struct Target {
    /// The hub.
    pub hub: Hub,
    /// The spoke's admin kubeconfig for the clones (None with fake clusters).
    pub spoke_kubeconfig: Option<Vec<u8>>,
    /// Whether clones are fake clusters.
    pub fake_cluster: bool,
    /// SyncSetInstances (2020 pipeline) rather than ClusterSyncs.
    pub legacy: bool,
    /// Modeled seconds per real second (1 on a real hub).
    pub time_scale: f64,
    /// Where the metrics come from, if anywhere.
    pub metrics: Option<Source>,
    /// Sync queue length, when the hub can tell (the embedded one can).
    pub queue: Option<Box<dyn Fn() -> usize + Send + Sync>>,
    /// (set, cluster) pairs applied so far, when the hub can count them cheaply.
    pub applied_pairs: Option<Box<dyn Fn() -> u64 + Send + Sync>>,
    /// Description for the summary (`embedded` or the server URL).
    pub description: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("hub", &self.hub)
            .field("fake_cluster", &self.fake_cluster)
            .field("legacy", &self.legacy)
            .field("time_scale", &self.time_scale)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// Run settings besides the scenario.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The result directory.
    pub out: PathBuf,
    /// Wall seconds an observe phase may take.
    pub timeout: Duration,
    /// Recording interval (wall).
    pub interval: Duration,
    /// Clones in flight.
    pub concurrency: usize,
    /// Keep what was created.
    pub keep: bool,
    /// Parameters to record in the summary (flags as given).
    pub parameters: serde_json::Value,
}

/// One phase's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseRecord {
    /// The phase.
    pub name: String,
    /// `ok`, `failed: ...`, `timeout` or `interrupted`.
    pub outcome: String,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// Modeled seconds (wall times the time scale).
    pub modeled_seconds: f64,
    /// Pairs expected and applied when the phase ended.
    pub pairs_expected: usize,
    /// Pairs applied.
    pub pairs_applied: usize,
    /// Fan-out of the pairs that first applied during this phase (observe phases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout: Option<Percentiles>,
    /// Writes that failed.
    pub errors: u64,
}

/// A threshold and whether it held.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdResult {
    /// `drain`, `p99-fanout` or `errors`.
    pub kind: String,
    /// The limit.
    pub limit: f64,
    /// The measured value.
    pub value: f64,
    /// Whether it held.
    pub held: bool,
    /// The exit code if it did not.
    pub exit_code: u8,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `running`, `passed`, `failed`, `timeout`, `interrupted`, `thresholds-failed`.
    pub status: String,
    /// The process exit code.
    pub exit_code: u8,
    /// The scenario as run.
    pub scenario: Scenario,
    /// Flags as given.
    pub parameters: serde_json::Value,
    /// hive-scale's version.
    pub tool_version: String,
    /// `embedded` or the hub's URL.
    pub hub: String,
    /// Modeled seconds per real second.
    pub time_scale: f64,
    /// Unix seconds at start.
    pub started: f64,
    /// Wall seconds so far.
    pub wall_seconds: f64,
    /// The phases.
    pub phases: Vec<PhaseRecord>,
    /// Fan-out over all pairs applied during the run.
    pub fanout: Percentiles,
    /// Thresholds.
    pub thresholds: Vec<ThresholdResult>,
    /// Failed writes in all.
    pub errors: u64,
    /// Requests the run sent to the hub.
    pub requests: StatsSnapshot,
    /// Teardown: deleted / refused counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teardown: Option<serde_json::Value>,
    /// The metrics report's summary, when metrics were recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<serde_json::Value>,
    /// Why metrics are missing, if they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_error: Option<String>,
}

fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Writes a file through a temporary name, so a kill never leaves it half-written.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

struct Run<'a> {
    scenario: &'a Scenario,
    target: &'a Target,
    settings: &'a RunSettings,
    summary: Summary,
    started: Instant,
    /// Fan-out of every applied pair so far, by `namespace/cluster/set`.
    all_fanout: HashMap<String, f64>,
    /// A change to an existing set that the next observe phase waits for.
    change: Option<Change>,
    /// Fan-out of the last change, modeled seconds, once an observe phase has seen it land.
    change_fanout: Vec<f64>,
}

/// A resource added to an existing set: what each cluster had applied before, and when each
/// was first seen to have applied the new content.
struct Change {
    set: String,
    before: HashMap<String, String>,
    at: Instant,
    reached: HashMap<String, f64>,
}

impl Run<'_> {
    fn save(&mut self) {
        self.summary.wall_seconds = self.started.elapsed().as_secs_f64();
        self.summary.requests = self.target.hub.stats();
        let text = serde_json::to_string_pretty(&self.summary).unwrap_or_default();
        if let Err(e) = write_atomic(&self.settings.out.join("summary.json"), &text) {
            tracing::warn!(error = %e, "cannot write summary.json");
        }
    }

    fn fixture(&self) -> SelectorSyncSetFixture {
        SelectorSyncSetFixture::new().configmaps(self.scenario.configmaps as usize)
    }

    fn plan(&self) -> AdoptPlan {
        match (&self.target.spoke_kubeconfig, self.target.fake_cluster) {
            (Some(k), fake) => {
                let mut p = AdoptPlan::new(k.clone());
                p.fake_cluster = fake;
                p
            }
            (None, _) => AdoptPlan::fake(),
        }
    }

    async fn progress(&self) -> Progress {
        match progress(&self.target.hub, self.target.legacy).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read progress");
                Progress::default()
            }
        }
    }

    /// With a change pending, whether every cluster has applied it (recording when each was
    /// first seen to); without one, true. Polls until then or the deadline.
    async fn change_landed(&mut self, deadline: Instant, poll: Duration) -> Result<bool, String> {
        let Some(change) = self.change.as_mut() else {
            return Ok(true);
        };
        loop {
            let now = applied_marks(&self.target.hub, self.target.legacy, &change.set)
                .await
                .map_err(|e| format!("reading what applied {}: {e}", change.set))?;
            let seen = change.at.elapsed().as_secs_f64() * self.target.time_scale;
            for (key, old) in &change.before {
                if let Some(mark) = now.get(key)
                    && !mark.is_empty()
                    && mark != old
                {
                    change.reached.entry(key.clone()).or_insert(seen);
                }
            }
            if change.reached.len() >= change.before.len() {
                self.change_fanout = change.reached.values().copied().collect();
                self.change = None;
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timeout: {} of {} clusters applied the change to {}",
                    change.reached.len(),
                    change.before.len(),
                    change.set
                ));
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Runs one phase; Err carries the outcome text.
    async fn phase(&mut self, phase: &Phase) -> Result<(), String> {
        let hub = &self.target.hub;
        match phase {
            Phase::Selectorsyncsets { start, count } => {
                let sets = self
                    .fixture()
                    .render_range(*start as usize, *count as usize)
                    .map_err(|e| e.to_string())?;
                let s = fixtures::apply_selector_syncsets(hub, &sets, 16, &None)
                    .await
                    .map_err(|e| e.to_string())?;
                self.summary.errors += s.counts.failed as u64;
                s.into_result().map(|_| ()).map_err(|e| e.to_string())
            }
            Phase::Adopt { start, end } => {
                let opts = EngineOptions {
                    concurrency: self.settings.concurrency,
                };
                let s = adopt::adopt(hub, &self.plan(), *start..=*end, &opts, &None)
                    .await
                    .map_err(|e| e.to_string())?;
                self.summary.errors += s.failures.len() as u64;
                match s.failures.first() {
                    None => Ok(()),
                    Some((i, why)) => Err(format!(
                        "{} clones failed (first: clone {i}: {why})",
                        s.failures.len()
                    )),
                }
            }
            Phase::Trickle {
                start,
                count,
                every_seconds,
            } => {
                let every = Duration::from_secs_f64(every_seconds / self.target.time_scale);
                let plan = self.plan();
                for i in *start..start + count {
                    let tick = Instant::now();
                    let s = adopt::adopt(hub, &plan, i..=i, &EngineOptions::default(), &None)
                        .await
                        .map_err(|e| e.to_string())?;
                    self.summary.errors += s.failures.len() as u64;
                    tokio::time::sleep(every.saturating_sub(tick.elapsed())).await;
                }
                Ok(())
            }
            Phase::AddResource { set } => {
                let api: Api<SelectorSyncSet> = Api::all(hub.client());
                let name = format!("scaletest-{set}-configmap");
                let mut s = api
                    .get(&name)
                    .await
                    .map_err(|e| format!("SelectorSyncSet {name}: {e}"))?;
                let before = applied_marks(hub, self.target.legacy, &name)
                    .await
                    .map_err(|e| format!("reading what applied {name}: {e}"))?;
                let j = s.spec.common.resources.len();
                s.spec.common.resources.push(
                    ConfigMapFixture::new(format!("{name}-{j}"))
                        .data("added", "true")
                        .build_resource(),
                );
                s.metadata.managed_fields = None;
                api.replace(&name, &PostParams::default(), &s)
                    .await
                    .map_err(|e| format!("SelectorSyncSet {name}: {e}"))?;
                self.change = Some(Change {
                    set: name,
                    before,
                    at: Instant::now(),
                    reached: HashMap::new(),
                });
                Ok(())
            }
            Phase::Observe { timeout_seconds } => {
                let timeout = timeout_seconds
                    .map(Duration::from_secs_f64)
                    .unwrap_or(self.settings.timeout);
                let deadline = Instant::now() + timeout;
                // Reading every ClusterSync (or SyncSetInstance) is expensive on a big hub: with a
                // cheap counter (the embedded hub) poll often, otherwise every few seconds.
                let poll = if self.target.applied_pairs.is_some() {
                    Duration::from_millis(250)
                } else {
                    Duration::from_secs(5)
                };
                let mut expected_at: Option<(Instant, usize)> = None;
                loop {
                    let (done, expected) = match &self.target.applied_pairs {
                        Some(count) => {
                            let expected = match expected_at {
                                Some((at, n)) if at.elapsed() < Duration::from_secs(5) => n,
                                _ => {
                                    let n = hive_scale_core::scenario::progress::expected(
                                        &self.target.hub,
                                    )
                                    .await
                                    .unwrap_or(usize::MAX);
                                    expected_at = Some((Instant::now(), n));
                                    n
                                }
                            };
                            (count().min(expected as u64) as usize, expected)
                        }
                        None => {
                            let p = self.progress().await;
                            (p.done, p.expected)
                        }
                    };
                    if done >= expected && self.change_landed(deadline, poll).await? {
                        // Settled: every pair applied once; give the queue a moment to empty.
                        let grace = Instant::now() + Duration::from_secs(5);
                        while self.target.queue.as_ref().is_some_and(|q| q() > 0)
                            && Instant::now() < grace
                        {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        return Ok(());
                    }
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "timeout: {done} of {expected} pairs applied after {:.0}s",
                            timeout.as_secs_f64()
                        ));
                    }
                    tokio::time::sleep(poll).await;
                }
            }
        }
    }
}

/// Runs the scenario; returns the summary (also written to `summary.json`).
pub async fn run(
    scenario: &Scenario,
    mut target: Target,
    settings: &RunSettings,
) -> anyhow::Result<Summary> {
    let source = target.metrics.take();
    let target = &target;
    std::fs::create_dir_all(&settings.out)
        .map_err(|e| anyhow::anyhow!("{}: {e}", settings.out.display()))?;
    let summary = Summary {
        status: "running".into(),
        exit_code: exit::OK,
        scenario: scenario.clone(),
        parameters: settings.parameters.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        hub: target.description.clone(),
        time_scale: target.time_scale,
        started: now_unix(),
        wall_seconds: 0.0,
        phases: Vec::new(),
        fanout: Percentiles::default(),
        thresholds: Vec::new(),
        errors: 0,
        requests: StatsSnapshot::default(),
        teardown: None,
        metrics: None,
        metrics_error: None,
    };
    let mut run = Run {
        scenario,
        target,
        settings,
        summary,
        started: Instant::now(),
        all_fanout: HashMap::new(),
        change: None,
        change_fanout: Vec::new(),
    };
    run.save();
    let recording = settings.out.join("recording.jsonl");
    let recorder: Option<RecorderHandle> = match source {
        Some(source) => {
            match Recorder::start(source, Profile::builtin(), settings.interval, &recording).await {
                Ok(r) => Some(r),
                Err(e) => {
                    run.summary.metrics_error = Some(e.to_string());
                    eprintln!("warning: not recording metrics: {e}");
                    None
                }
            }
        }
        None => {
            run.summary.metrics_error =
                Some("no metrics source (--prometheus or --metrics-url)".into());
            None
        }
    };
    let mut status = "passed".to_string();
    let mut code = exit::OK;
    for phase in &scenario.phases {
        let name = phase.name();
        if let Some(r) = &recorder {
            r.mark_phase(&name);
        }
        println!("phase {name} ...");
        let t0 = Instant::now();
        let errors_before = run.summary.errors;
        let result = tokio::select! {
            r = run.phase(phase) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        };
        let p = run.progress().await;
        let phase_fanout = matches!(phase, Phase::Observe { .. }).then(|| {
            // Pairs applied since the last observe phase, and clusters reached by a change.
            let mut new: Vec<f64> = p
                .fanout
                .iter()
                .filter(|(k, _)| !run.all_fanout.contains_key(*k))
                .map(|(_, v)| *v)
                .collect();
            new.append(&mut run.change_fanout);
            run.all_fanout
                .extend(p.fanout.iter().map(|(k, v)| (k.clone(), *v)));
            Percentiles::of(&new)
        });
        let wall = t0.elapsed().as_secs_f64();
        let outcome = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => e.clone(),
        };
        println!(
            "phase {name}: {outcome} in {wall:.1}s ({:.0} modeled s); {} of {} pairs applied",
            wall * target.time_scale,
            p.done,
            p.expected
        );
        run.summary.phases.push(PhaseRecord {
            name,
            outcome: outcome.clone(),
            wall_seconds: wall,
            modeled_seconds: wall * target.time_scale,
            pairs_expected: p.expected,
            pairs_applied: p.done,
            fanout: phase_fanout,
            errors: run.summary.errors - errors_before,
        });
        run.summary.fanout = Percentiles::of(&run.all_fanout.values().copied().collect::<Vec<_>>());
        run.save();
        if let Err(e) = result {
            (status, code) = if e == "interrupted" {
                ("interrupted".into(), exit::INTERRUPTED)
            } else if e.starts_with("timeout") {
                ("timeout".into(), exit::TIMEOUT)
            } else {
                ("failed".into(), exit::PHASE_FAILED)
            };
            break;
        }
    }
    if let Some(r) = recorder {
        if let Err(e) = r.stop().await {
            run.summary.metrics_error = Some(e.to_string());
        }
        let opts = metrics::ReportOptions {
            pairs: Some((scenario.clusters as u64) * (scenario.selectorsyncsets as u64)),
            ..Default::default()
        };
        match metrics::write_report(&recording, &settings.out, &opts) {
            Ok(report) => run.summary.metrics = serde_json::to_value(&report).ok(),
            Err(e) => run.summary.metrics_error = Some(e.to_string()),
        }
    }
    // Thresholds.
    let t = &scenario.thresholds;
    let drain = run
        .summary
        .phases
        .iter()
        .filter(|p| p.name == "observe")
        .map(|p| p.modeled_seconds)
        .fold(0.0, f64::max);
    let checks = [
        ("drain", t.max_drain_seconds, drain, exit::DRAIN),
        (
            "p99-fanout",
            t.max_p99_fanout_seconds,
            run.summary.fanout.p99,
            exit::FANOUT,
        ),
        (
            "errors",
            t.max_errors.map(|e| e as f64),
            run.summary.errors as f64,
            exit::ERRORS,
        ),
    ];
    for (kind, limit, value, exit_code) in checks {
        if let Some(limit) = limit {
            let held = value <= limit;
            run.summary.thresholds.push(ThresholdResult {
                kind: kind.into(),
                limit,
                value,
                held,
                exit_code,
            });
            if !held && code == exit::OK {
                status = "thresholds-failed".into();
                code = exit_code;
            }
        }
    }
    // Teardown, through the library's interlock like every other delete path.
    if !settings.keep && code != exit::INTERRUPTED {
        println!("phase teardown ...");
        let mut opts = TeardownOptions::new(Selection::All);
        opts.selectorsyncsets = true;
        opts.run = Some("scaletest".into());
        match adopt::teardown(&target.hub, &opts, &None).await {
            Ok(t) => {
                println!(
                    "phase teardown: deleted {} clusterdeployments, {} namespaces, {} selectorsyncsets; refused {}",
                    t.cluster_deployments.len(),
                    t.namespaces.len(),
                    t.selectorsyncsets.len(),
                    t.refused.len()
                );
                for r in &t.refused {
                    eprintln!("refused {}: {}", r.object, r.reason);
                }
                if !t.refused.is_empty() && code == exit::OK {
                    status = "refused".into();
                    code = exit::REFUSED;
                }
                run.summary.teardown = serde_json::to_value(&t).ok();
            }
            Err(e) => {
                eprintln!("warning: teardown failed: {e}");
                run.summary.teardown = Some(serde_json::json!({"error": e.to_string()}));
            }
        }
    }
    run.summary.status = status;
    run.summary.exit_code = code;
    run.save();
    append_report(&settings.out, &run.summary);
    Ok(run.summary)
}

/// Adds the scale test's own section (phases, fan-out, thresholds) to `report.md`.
fn append_report(out: &Path, s: &Summary) {
    let path = out.join("report.md");
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        format!(
            "# Scale test report\n\n(no metrics were recorded: {})\n",
            s.metrics_error.clone().unwrap_or_default()
        )
    });
    text.push_str(&format!(
        "\n## Scale test: {}\n\n{}\n\nStatus **{}** (exit code {}), hub {}, time scale {} (modeled seconds per real second), {:.0}s wall.\n\n",
        s.scenario.name, s.scenario.description, s.status, s.exit_code, s.hub, s.time_scale, s.wall_seconds
    ));
    text.push_str("| phase | outcome | wall s | modeled s | pairs applied | fan-out P50 / P90 / P99 / max (s) |\n|---|---|---|---|---|---|\n");
    for p in &s.phases {
        let f = p
            .fanout
            .as_ref()
            .map(|f| {
                format!(
                    "{:.0} / {:.0} / {:.0} / {:.0} ({} pairs)",
                    f.p50, f.p90, f.p99, f.max, f.count
                )
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "| {} | {} | {:.1} | {:.0} | {} of {} | {} |\n",
            p.name,
            p.outcome,
            p.wall_seconds,
            p.modeled_seconds,
            p.pairs_applied,
            p.pairs_expected,
            f
        ));
    }
    let f = &s.fanout;
    text.push_str(&format!(
        "\nFan-out over the run ({} pairs, first success against the later of the set's and the cluster's creation): P50 {:.0}s, P90 {:.0}s, P99 {:.0}s, max {:.0}s.\n",
        f.count, f.p50, f.p90, f.p99, f.max
    ));
    for t in &s.thresholds {
        text.push_str(&format!(
            "\nThreshold {}: {:.1} against a limit of {:.1}: {}.\n",
            t.kind,
            t.value,
            t.limit,
            if t.held { "held" } else { "FAILED" }
        ));
    }
    if let Err(e) = write_atomic(&path, &text) {
        tracing::warn!(error = %e, "cannot write report.md");
    }
}
