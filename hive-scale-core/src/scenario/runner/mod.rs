//! The scale test's engine: runs a [`Scenario`] phase by phase against a [`Target`], records
//! Hive's metrics (`recording.jsonl`), checks the thresholds, tears down what the run created,
//! and returns what happened (a [`Summary`]), also when a phase fails, times out or the run is
//! interrupted. It prints nothing and decides no exit code: it sends [`RunEvent`]s while it
//! runs, which a front says and the output layer
//! ([`output::ResultDir`](crate::scenario::output::ResultDir)) writes.
//!
//! ```no_run
//! # async fn demo(target: hive_scale_core::scenario::runner::Target) -> hive_scale_core::Result<()> {
//! use hive_scale_core::scenario::Scenario;
//! use hive_scale_core::scenario::runner::{RunSettings, run};
//! let scenario = Scenario::load("2020-adoption")?.scaled(10, 2);
//! let summary = run(&scenario, target, &RunSettings::new("target/scaletest/demo")).await?;
//! assert!(summary.status != hive_scale_core::scenario::runner::Status::Running);
//! # Ok(()) }
//! ```

mod changes;
mod events;
pub mod marks;
mod phases;
mod ramp;
mod summary;
mod target;
mod watch;

pub use changes::{ChangeFanout, CurvePoint};
pub use events::{Event, EventSink, RunEvent, fan_out};
pub use ramp::{RampResult, RampStep};
pub use summary::{
    FanoutFrom, JUNIT_FILE, PhaseOutcome, PhaseRecord, SUMMARY_FILE, Status, Summary,
    TeardownRecord, ThresholdKind, ThresholdResult, drain_seconds,
};
pub use target::{ApiLatency, ListObserver, Observer, PairCount, RealHub, Target};
pub use watch::{Detected, WatchObserver, detect_pipeline};

use crate::adopt::{self, AdoptPlan, Selection, TeardownOptions};
use crate::fixtures::SelectorSyncSetFixture;
use crate::hub::StatsSnapshot;
use crate::metrics::slo::{self, DurationSample, SloReport, SloStatus};
use crate::metrics::{self, Profile, Recorder, RecorderHandle};
use crate::scenario::progress::{Percentiles, bucket_count};
use crate::scenario::{Phase, Scenario};
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Settings of a run besides the scenario and the target.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunSettings {
    /// The result directory.
    pub out: PathBuf,
    /// Wall time an observe phase may take (unless the scenario says otherwise).
    pub timeout: Duration,
    /// Recording interval (wall).
    pub interval: Duration,
    /// Clones in flight while adopting.
    pub concurrency: usize,
    /// Adopt into namespaces that exist and are not the toolkit's (left unlabelled, never
    /// deleted); off, such a clone is refused.
    pub borrow_namespaces: bool,
    /// Keep what was created (no teardown).
    pub keep: bool,
    /// The run id: every object the run creates carries it as its run label, and teardown
    /// removes only objects carrying it.
    pub run_id: String,
    /// How long teardown may wait for deletions to finish.
    pub teardown_timeout: Duration,
    /// Parameters to record in the summary (flags as given, without credentials).
    pub parameters: serde_json::Value,
    /// The API call latency SLO's limits are multiplied by this (1: the SLO as written).
    pub api_slo_factor: f64,
    /// Where observe phases publish their progress at each poll, for a front to draw.
    pub progress: Option<tokio::sync::watch::Sender<ObserveProgress>>,
    /// The hub this run is about, named in its events (a fleet names each hub's).
    pub label: Option<String>,
    /// Where the run sends its events (see [`RunEvent`]): a front says them, the output layer
    /// (`output::ResultDir::sink`) writes summary.json from them. The run itself prints and
    /// writes nothing but its recording.
    pub events: Option<EventSink>,
    /// The signals the run heeds; installed when the run starts if `None` (a fleet shares one).
    pub signals: Option<Signals>,
    /// After SIGINT or SIGTERM, how long teardown may go on (counted from the signal) before it
    /// stops and lists what is left; a second signal stops it at once. A Kubernetes Job's pod
    /// gets 30 s by default between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// How far an observe phase has come, published at each poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObserveProgress {
    /// The phase (`observe`, or `observe` after an incremental step).
    pub phase: String,
    /// Pairs applied at least once.
    pub applied: usize,
    /// Pairs that should apply.
    pub expected: usize,
    /// The phase has ended (settled, timed out or interrupted).
    pub finished: bool,
}

impl RunSettings {
    /// Results in `out`; 10 minutes per observe phase, a 2 s recording interval, 16 clones in
    /// flight, a fresh run id, teardown at the end (25 s of it after a signal).
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            timeout: Duration::from_secs(600),
            interval: Duration::from_secs(2),
            concurrency: 16,
            borrow_namespaces: false,
            keep: false,
            run_id: crate::labels::new_run_id(),
            teardown_timeout: Duration::from_secs(300),
            parameters: serde_json::Value::Null,
            progress: None,
            label: None,
            api_slo_factor: 1.0,
            signals: None,
            grace: Duration::from_secs(25),
            events: None,
        }
    }
}

/// Why a phase did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PhaseError {
    /// Ctrl-C or SIGTERM.
    #[error("interrupted by {0}")]
    Interrupted(Signal),
    /// An observe phase did not settle in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// A request or a step failed.
    #[error(transparent)]
    Failed(#[from] Error),
    /// The phase ran but not everything in it succeeded.
    #[error("{0}")]
    Incomplete(String),
}

impl PhaseError {
    fn status(&self) -> Status {
        match self {
            PhaseError::Interrupted(_) => Status::Interrupted,
            PhaseError::Timeout(_) => Status::Timeout,
            PhaseError::Failed(_) | PhaseError::Incomplete(_) => Status::Failed,
        }
    }
}

pub use crate::signals::{Signal, Signals};

/// Resolves on the next Ctrl-C, or SIGTERM on unix, saying which (for fronts that wait for one
/// outside a run).
pub async fn interrupted() -> Signal {
    Signals::install().at_least(1).await
}

struct Run<'a> {
    scenario: &'a Scenario,
    target: &'a Target,
    settings: &'a RunSettings,
    /// The target's clone plan with this run's id.
    clones: AdoptPlan,
    summary: Summary,
    started: Instant,
    /// Fan-out of every applied pair so far, by `namespace/cluster/set`.
    all_fanout: HashMap<String, f64>,
    /// Changes to existing sets still landing, which the next observe phase waits for.
    changes: Vec<changes::Pending>,
    /// The indexes of the sets this run created, in order (what a churn changes).
    created_sets: Vec<u32>,
    /// Fan-out of the changes landed since the last observe phase, modeled seconds.
    change_fanout: Vec<f64>,
    /// Hive's fan-out histogram when the run started and at the last observe phase's end
    /// (when fan-out comes from it).
    fanout_histogram_start: Option<Vec<(f64, f64)>>,
    fanout_histogram: Option<Vec<(f64, f64)>>,
    /// Heard from the start of the run to its end.
    signals: Signals,
}

impl Run<'_> {
    /// Records the first signal heard, if it is not recorded yet, and saves the summary at once
    /// (a pod may be killed soon after).
    fn note_signal(&mut self) {
        if self.summary.signal.is_none()
            && let Some(s) = self.signals.first()
        {
            self.summary.signal = Some(s);
            self.save();
        }
    }

    fn emit(&self, what: RunEvent) {
        emit(self.settings, what);
    }

    /// Brings the summary up to date and hands it to the sinks to keep.
    fn save(&mut self) {
        self.summary.wall_seconds = self.started.elapsed().as_secs_f64();
        self.summary.requests = self.target.hub.stats();
        if let Some(p) = self.target.observer.pipeline() {
            self.summary.pipeline = Some(p);
        }
        self.emit(RunEvent::Saved(Box::new(self.summary.clone())));
    }

    /// The run's sets select only the run's clusters (`scaletest: "true"` and the run label):
    /// clones another run left behind carry `scaletest: "true"` too, and Hive would apply these
    /// sets to them, which no count of this run's pairs expects.
    fn fixture(&self) -> SelectorSyncSetFixture {
        let selector = [
            ("scaletest".to_string(), "true".to_string()),
            (crate::labels::RUN.to_string(), self.settings.run_id.clone()),
        ]
        .into();
        SelectorSyncSetFixture::new()
            .configmaps(self.scenario.configmaps as usize)
            .run(&self.settings.run_id)
            .selector(selector)
    }

    /// Runs one phase, interruptible, and records it.
    async fn record_phase(
        &mut self,
        phase: &Phase,
        recorder: Option<&RecorderHandle>,
    ) -> Result<(), PhaseError> {
        let name = phase.name();
        if let Some(r) = recorder {
            r.mark_phase(&name);
        }
        self.emit(RunEvent::PhaseStarted { name: name.clone() });
        let t0 = Instant::now();
        let errors_before = self.summary.errors;
        let signals = self.signals.clone();
        let result = tokio::select! {
            r = self.phase(phase) => r,
            signal = signals.at_least(1) => Err(PhaseError::Interrupted(signal)),
        };
        let p = match self.target.observer.progress().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read progress");
                Default::default()
            }
        };
        if p.replicas > self.summary.clustersync_replicas {
            self.summary.clustersync_replicas = p.replicas;
        }
        let from_histogram = p.fanout_histogram.clone();
        let fanout = matches!(phase, Phase::Observe { .. }).then(|| {
            if let Some(now) = &from_histogram {
                // Hive's histogram: what it gained since the last observe phase.
                let since = self.fanout_histogram.get_or_insert_with(Vec::new).clone();
                self.fanout_histogram = Some(now.clone());
                self.change_fanout.clear();
                return Percentiles::from_histogram(&since, now);
            }
            // Pairs applied since the last observe phase, and clusters reached by a change.
            let mut new: Vec<f64> = p
                .fanout
                .iter()
                .filter(|(k, _)| !self.all_fanout.contains_key(*k))
                .map(|(_, v)| *v)
                .collect();
            new.append(&mut self.change_fanout);
            self.all_fanout
                .extend(p.fanout.iter().map(|(k, v)| (k.clone(), *v)));
            Percentiles::of(&new)
        });
        let wall = t0.elapsed().as_secs_f64();
        let outcome = match &result {
            Ok(()) => PhaseOutcome::Ok,
            Err(PhaseError::Interrupted(s)) => PhaseOutcome::Interrupted(*s),
            Err(PhaseError::Timeout(what)) => PhaseOutcome::Timeout(what.clone()),
            Err(e) => PhaseOutcome::Failed(crate::error::chain(e)),
        };
        let modeled = wall * self.target.time_scale;
        let record = PhaseRecord {
            name,
            outcome,
            wall_seconds: wall,
            modeled_seconds: modeled,
            pairs_expected: p.expected,
            pairs_applied: p.done,
            fanout,
            errors: self.summary.errors - errors_before,
        };
        self.emit(RunEvent::PhaseEnded(record.clone()));
        self.summary.phases.push(record);
        match &from_histogram {
            Some(now) => {
                let start = self.fanout_histogram_start.get_or_insert_with(Vec::new);
                self.summary.fanout = Percentiles::from_histogram(start, now);
                self.summary.fanout_from = FanoutFrom::HiveHistogram;
                self.summary.fanout_buckets = Some(
                    now.iter()
                        .map(|(le, n)| (*le, (n - bucket_count(start, *le)).max(0.0)))
                        .collect(),
                );
            }
            None => {
                self.summary.fanout_samples = self.all_fanout.values().copied().collect();
                self.summary.fanout = Percentiles::of(&self.summary.fanout_samples);
            }
        }
        self.save();
        result
    }

    /// Stops the recorder and reads the findings of what it recorded.
    async fn finish_recording(&mut self, recorder: RecorderHandle) {
        if let Err(e) = recorder.stop().await {
            self.summary.metrics_error = Some(crate::error::chain(&e));
        }
        // Both counts, and the pipeline when the hub has shown it: the report counts the
        // re-apply in the unit of that pipeline's sync queue.
        let clusters = u64::from(self.scenario.clusters);
        let opts = metrics::ReportOptions {
            pairs: Some(clusters * u64::from(self.scenario.selectorsyncsets)),
            clusters: Some(clusters),
            pipeline: self.summary.pipeline,
            ..Default::default()
        };
        let recording = self.settings.out.join("recording.jsonl");
        match metrics::analyze_recording(&recording, &opts) {
            Ok(report) => self.summary.metrics = Some(report),
            Err(e) => self.summary.metrics_error = Some(crate::error::chain(&e)),
        }
    }

    /// Checks the scenario's thresholds; whether any failed. (Which exit code each carries is
    /// the front's to say.)
    fn check_thresholds(&mut self) -> bool {
        let t = &self.scenario.thresholds;
        let drain = drain_seconds(&self.summary.phases);
        let checks = [
            (ThresholdKind::Drain, t.max_drain_seconds, drain),
            (
                ThresholdKind::P99Fanout,
                t.max_p99_fanout_seconds,
                self.summary.fanout.p99,
            ),
            (
                ThresholdKind::Errors,
                t.max_errors.map(|e| e as f64),
                self.summary.errors as f64,
            ),
        ];
        let mut failed = false;
        for (kind, limit, value) in checks {
            if let Some(limit) = limit {
                let held = value <= limit;
                self.summary.thresholds.push(ThresholdResult {
                    kind,
                    limit,
                    value,
                    held,
                    exit_code: 0,
                });
                failed |= !held;
            }
        }
        if let Some(r) = &self.summary.api_slo
            && r.status != SloStatus::NotMeasured
        {
            // How many times its SLO limit the worst group's P99 was: the factor that would
            // have made it pass.
            let worst = r
                .groups
                .iter()
                .map(|g| g.p99_seconds / (g.limit_seconds / r.factor))
                .fold(0.0, f64::max);
            let held = r.status == SloStatus::Passed;
            self.summary.thresholds.push(ThresholdResult {
                kind: ThresholdKind::ApiSlo,
                limit: r.factor,
                value: worst,
                held,
                exit_code: 0,
            });
            failed |= !held;
        }
        failed
    }

    /// Checks the API call latency SLO from what the target's API server reported.
    async fn check_api_slo(&mut self, sampler: Option<ApiSampler>) {
        let factor = self.settings.api_slo_factor;
        let report = match (&self.target.api_latency, sampler) {
            (ApiLatency::Direct(_), Some(s)) => {
                let mut r = slo::check(&s.finish().await, factor);
                r.source = Some("the embedded API server, read in-process".into());
                r
            }
            (ApiLatency::Prometheus(_), _) if self.signals.first().is_some() => {
                SloReport::not_measured("the run was interrupted before the query", factor)
            }
            (ApiLatency::Prometheus(p), _) => {
                let (start, end) = (self.summary.started, metrics::now_unix());
                // Enough points for 5-minute windows without asking Prometheus for thousands.
                let step = Duration::from_secs_f64(((end - start) / 100.0).clamp(5.0, 60.0));
                let signals = self.signals.clone();
                let answer = tokio::select! {
                    a = p.query_range(slo::PROMQL, start, end, step) => Some(a),
                    _ = signals.at_least(1) => None,
                };
                match answer {
                    None => {
                        SloReport::not_measured("the run was interrupted during the query", factor)
                    }
                    Some(answer) => match answer {
                        Ok(metrics::QueryValue::Matrix { series }) => {
                            let mut r = slo::check(&DurationSample::from_range(&series), factor);
                            r.source = Some(format!("prometheus {}", p.url()));
                            r
                        }
                        Ok(_) => SloReport::not_measured(
                            "Prometheus answered the range query with something other than a matrix",
                            factor,
                        ),
                        Err(e) => SloReport::not_measured(
                            format!("cannot query Prometheus: {}", crate::error::chain(&e)),
                            factor,
                        ),
                    },
                }
            }
            (ApiLatency::NotMeasured(why), _) => SloReport::not_measured(why.clone(), factor),
            (ApiLatency::Direct(_), None) => {
                SloReport::not_measured("the API server was not sampled", factor)
            }
        };
        self.emit(RunEvent::ApiSlo(report.clone()));
        self.summary.api_slo = Some(report);
    }

    /// Deletes what this run created, through the library's interlock like every other
    /// delete path; returns how teardown ended, if it did not leave everything clean. After a
    /// signal (before or during it) it goes on for the run's grace, then stops and lists what
    /// is left; a second signal stops it at once.
    async fn teardown(&mut self) -> Option<Status> {
        let grace = self.settings.grace;
        self.emit(RunEvent::TeardownStarted {
            after: self.signals.first(),
            grace,
        });
        let mut opts = TeardownOptions::new(Selection::All);
        opts.selectorsyncsets = true;
        opts.run = Some(self.settings.run_id.clone());
        opts.timeout = self.settings.teardown_timeout;
        let stop = self.signals.stop_after_grace(grace);
        opts.stop = Some(stop.clone());
        let (hub, signals) = (self.target.hub.clone(), self.signals.clone());
        let teardown = adopt::teardown(&hub, &opts, &None);
        tokio::pin!(teardown);
        let result = tokio::select! {
            r = &mut teardown => r,
            signal = signals.at_least(1), if self.summary.signal.is_none() => {
                self.note_signal();
                self.emit(RunEvent::SignalDuringTeardown { signal, grace });
                teardown.await
            }
        };
        stop.cancel();
        let (record, status) = match result {
            Ok(t) => {
                let status = if !t.failures.is_empty() || t.timed_out || t.stopped {
                    Some(Status::TeardownFailed)
                } else if !t.refused.is_empty() || !t.secrets_left.is_empty() {
                    Some(Status::Refused)
                } else {
                    None
                };
                (TeardownRecord::Ran(Box::new(t)), status)
            }
            Err(e) => {
                let error = crate::error::chain(&e);
                (
                    TeardownRecord::Error { error },
                    Some(Status::TeardownFailed),
                )
            }
        };
        self.emit(RunEvent::TeardownEnded(record.clone()));
        self.summary.teardown = Some(record);
        status
    }
}

/// Runs `scenario` on `target`; returns the summary (also written to `summary.json`).
///
/// # Errors
///
/// Only when the result directory cannot be created: everything that goes wrong later is
/// recorded in the summary's status.
///
/// # Examples
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use hive_scale_core::scenario::Scenario;
/// use hive_scale_core::scenario::output::{Finish, ResultDir};
/// use hive_scale_core::scenario::runner::{self, RealHub, RunSettings, Target};
///
/// // 100 fake clusters and 10 sets on the hub of the current kubeconfig context.
/// let scenario = Scenario::load("2020-adoption")?.scaled(100, 10);
/// let target = Target::real(RealHub::default()).await?;
/// let results = ResultDir::new("results");
/// let mut settings = RunSettings::new("results");
/// settings.events = Some(results.sink(None)); // summary.json as the run goes
/// let summary = runner::run(&scenario, target, &settings).await?;
/// results.finish(&summary, &Finish::default())?; // report.md and the rest
/// println!("{}", summary.status);
/// # Ok(())
/// # }
/// ```
pub async fn run(
    scenario: &Scenario,
    mut target: Target,
    settings: &RunSettings,
) -> Result<Summary> {
    let source = target.metrics.take();
    target.observer.scope(&settings.run_id);
    let target = &target;
    std::fs::create_dir_all(&settings.out).map_err(|source| Error::Io {
        path: settings.out.clone(),
        source,
    })?;
    let mut clones = target.clones.clone();
    clones.run = settings.run_id.clone();
    let summary = Summary {
        status: Status::Running,
        exit_code: 0,
        run_id: settings.run_id.clone(),
        scenario: {
            let mut s = scenario.clone();
            if !target.runs_model {
                s.embedded.clear();
            }
            s
        },
        parameters: settings.parameters.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        hub: target.description.clone(),
        prometheus: match &source {
            Some(metrics::Source::Prometheus(p)) => Some(metrics::redact_url(p.url())),
            _ => None,
        },
        pipeline: target.pipeline,
        clustersync_replicas: None,
        time_scale: target.time_scale,
        signal: None,
        started: metrics::now_unix(),
        wall_seconds: 0.0,
        phases: Vec::new(),
        fanout: Percentiles::default(),
        fanout_from: FanoutFrom::Objects,
        fanout_samples: Vec::new(),
        fanout_buckets: None,
        thresholds: Vec::new(),
        errors: 0,
        requests: StatsSnapshot::default(),
        teardown: None,
        metrics: None,
        metrics_error: None,
        api_slo: None,
        changes: Vec::new(),
        ramp: None,
    };
    let mut run = Run {
        scenario,
        target,
        settings,
        clones,
        summary,
        started: Instant::now(),
        all_fanout: HashMap::new(),
        fanout_histogram_start: None,
        fanout_histogram: None,
        changes: Vec::new(),
        created_sets: Vec::new(),
        change_fanout: Vec::new(),
        signals: settings.signals.clone().unwrap_or_else(Signals::install),
    };
    run.save();
    let recording = settings.out.join("recording.jsonl");
    let recorder = match source {
        Some(source) => {
            match Recorder::start(source, Profile::builtin(), settings.interval, &recording).await {
                Ok(r) => Some(r),
                Err(e) => {
                    let error = crate::error::chain(&e);
                    run.emit(RunEvent::NotRecording {
                        error: error.clone(),
                    });
                    run.summary.metrics_error = Some(error);
                    None
                }
            }
        }
        None => {
            run.summary.metrics_error =
                Some("no metrics source (a Prometheus or /metrics URL)".into());
            None
        }
    };
    let sampler = match &target.api_latency {
        ApiLatency::Direct(read) => Some(ApiSampler::start(read.clone(), settings.interval)),
        _ => None,
    };
    // What ended the run, first come first named: a failed phase, then thresholds, then
    // teardown; a signal at any moment ends it interrupted, whatever else happened.
    let mut status = Status::Passed;
    for phase in &scenario.phases {
        if run.signals.first().is_some() {
            break;
        }
        if let Err(e) = run.record_phase(phase, recorder.as_ref()).await {
            if !matches!(e, PhaseError::Interrupted(_)) {
                status = e.status();
            }
            break;
        }
    }
    run.note_signal();
    if let Some(r) = recorder {
        run.finish_recording(r).await;
    }
    run.check_api_slo(sampler).await;
    if run.check_thresholds() && status == Status::Passed {
        status = Status::ThresholdsFailed;
    }
    if !settings.keep
        && let Some(teardown_status) = run.teardown().await
        && status == Status::Passed
    {
        status = teardown_status;
    }
    run.note_signal();
    run.summary.status = match run.summary.signal {
        Some(_) => Status::Interrupted,
        None => status,
    };
    run.save();
    run.emit(RunEvent::Ended(Box::new(run.summary.clone())));
    Ok(run.summary)
}

/// Sends `what` to the run's sinks, naming its hub.
fn emit(settings: &RunSettings, what: RunEvent) {
    if let Some(sink) = &settings.events {
        sink.send(&Event {
            hub: settings.label.clone(),
            what,
        });
    }
}

/// Samples an in-process API server's duration histogram every interval until finished.
struct ApiSampler {
    samples: std::sync::Arc<parking_lot::Mutex<Vec<DurationSample>>>,
    read: std::sync::Arc<dyn Fn(f64) -> DurationSample + Send + Sync>,
    task: tokio::task::JoinHandle<()>,
}

impl ApiSampler {
    fn start(
        read: std::sync::Arc<dyn Fn(f64) -> DurationSample + Send + Sync>,
        every: Duration,
    ) -> Self {
        let samples = std::sync::Arc::new(parking_lot::Mutex::new(vec![read(metrics::now_unix())]));
        let task = tokio::spawn({
            let (samples, read) = (samples.clone(), read.clone());
            async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let s = read(metrics::now_unix());
                    samples.lock().push(s);
                }
            }
        });
        Self {
            samples,
            read,
            task,
        }
    }

    /// Stops sampling; every sample, the last one taken now.
    async fn finish(self) -> Vec<DurationSample> {
        self.task.abort();
        let _ = self.task.await;
        let mut samples = std::mem::take(&mut *self.samples.lock());
        samples.push((self.read)(metrics::now_unix()));
        samples
    }
}
