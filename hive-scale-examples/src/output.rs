//! What the scale test's fronts say, and the exit codes they end with: the console side of the
//! output layer (the files are `hive_scale_core::scenario::output`'s). The engine decides no
//! exit code; [`decide`] and [`decide_fleet`] turn a report into them, in one place.

use crate::exit::scaletest as exit;
use hive_scale_core::metrics::slo::SloStatus;
use hive_scale_core::scenario::fleet::FleetSummary;
use hive_scale_core::scenario::output::{Finish, ResultDir};
use hive_scale_core::scenario::runner::{
    Event, EventSink, RunEvent, Signal, Status, Summary, TeardownRecord, ThresholdKind,
};
use std::path::{Path, PathBuf};

/// The exit code a failed threshold of `kind` gives a run.
pub fn threshold_code(kind: ThresholdKind) -> u8 {
    match kind {
        ThresholdKind::Drain => exit::DRAIN,
        ThresholdKind::P99Fanout => exit::FANOUT,
        ThresholdKind::Errors => exit::ERRORS,
        ThresholdKind::ApiSlo => exit::API_SLO,
    }
}

/// The shell's convention for a process a signal stopped: 128 plus the signal's number.
pub fn signal_code(signal: Signal) -> u8 {
    match signal {
        Signal::Interrupt => exit::INTERRUPTED,
        Signal::Terminate => exit::TERMINATED,
    }
}

/// The exit code of a run that ended as `summary` says: the signal's, else its status's (the
/// first failed threshold's for thresholds).
pub fn run_code(summary: &Summary) -> u8 {
    if let Some(s) = summary.signal {
        return signal_code(s);
    }
    match summary.status {
        Status::Running | Status::Passed => exit::OK,
        Status::Failed => exit::PHASE_FAILED,
        Status::Timeout => exit::TIMEOUT,
        Status::Interrupted => exit::INTERRUPTED,
        Status::ThresholdsFailed => (summary.thresholds.iter())
            .find(|t| !t.held)
            .map_or(exit::PHASE_FAILED, |t| threshold_code(t.kind)),
        Status::Refused => exit::REFUSED,
        Status::TeardownFailed => exit::TEARDOWN,
    }
}

/// Writes the exit codes into a run's report: each threshold's, and the run's.
pub fn decide(summary: &mut Summary) {
    for t in &mut summary.thresholds {
        t.exit_code = threshold_code(t.kind);
    }
    summary.exit_code = run_code(summary);
}

/// Writes the exit codes into a fleet's report: each hub's (a hub that never ran failed), and
/// the fleet's, which is that of the hub whose status is the fleet's.
pub fn decide_fleet(fleet: &mut FleetSummary) {
    for h in &mut fleet.hubs {
        h.exit_code = match h.summary.as_deref_mut() {
            Some(s) => {
                decide(s);
                s.exit_code
            }
            None if h.failure.is_some() => exit::PHASE_FAILED,
            None => exit::OK,
        };
    }
    fleet.exit_code = fleet.deciding_hub().map_or(exit::OK, |h| h.exit_code);
}

/// `[hub] ` before a fleet hub's lines, or nothing.
fn who(hub: Option<&str>) -> String {
    hub.map(|h| format!("[{h}] ")).unwrap_or_default()
}

/// Says a run's events on the console: phases as they start and end, refusals, teardown, the
/// API SLO; each line of a fleet's hub names the hub.
pub fn console() -> EventSink {
    EventSink::new(|e: &Event| {
        let who = who(e.hub.as_deref());
        match &e.what {
            RunEvent::PhaseStarted { name } => println!("{who}phase {name} ..."),
            RunEvent::PhaseEnded(p) => println!(
                "{who}phase {}: {} in {:.1}s ({:.0} modeled s); {} of {} pairs applied",
                p.name,
                p.outcome,
                p.wall_seconds,
                p.modeled_seconds,
                p.pairs_applied,
                p.pairs_expected
            ),
            RunEvent::CloneRefused { index, refusal } => {
                eprintln!("{who}refused clone {index}: {refusal}");
            }
            RunEvent::NotRecording { error } => {
                eprintln!("{who}warning: not recording metrics: {error}");
            }
            RunEvent::ApiSlo(r) => match r.status {
                SloStatus::NotMeasured => println!(
                    "{who}API call latency SLO: not measured ({})",
                    r.reason.as_deref().unwrap_or("")
                ),
                _ => println!(
                    "{who}API call latency SLO: {} ({} groups over {} windows)",
                    r.status,
                    r.groups.len(),
                    r.windows
                ),
            },
            RunEvent::TeardownStarted { after, grace } => match after {
                Some(s) => println!(
                    "{who}phase teardown after {s}: at most {:.0}s more, a second signal stops it ...",
                    grace.as_secs_f64()
                ),
                None => println!("{who}phase teardown ..."),
            },
            RunEvent::SignalDuringTeardown { signal, grace } => println!(
                "{who}{signal} during teardown: at most {:.0}s more, a second signal stops it",
                grace.as_secs_f64()
            ),
            RunEvent::TeardownEnded(TeardownRecord::Ran(t)) => {
                println!("{who}phase teardown: {}", t.counts());
                for line in t.problems() {
                    eprintln!("{who}{line}");
                }
            }
            RunEvent::TeardownEnded(TeardownRecord::Error { error }) => {
                eprintln!("{who}teardown failed: {error}");
            }
            RunEvent::HubStarted {
                clusters,
                description,
                identity,
                run_id,
            } => println!("{who}{clusters} clusters on {description} ({identity}), run {run_id}"),
            RunEvent::HubNotRun { phase, error } => match phase.as_str() {
                "connect" => println!("{who}cannot connect: {error}"),
                _ => println!("{who}cannot {phase}: {error}"),
            },
            RunEvent::Ended(s) if e.hub.is_some() => {
                println!("{who}{} (exit code {})", s.status, run_code(s));
            }
            _ => {}
        }
    })
}

/// Keeps a fleet's result directory as it goes: each hub's summary after every phase, each
/// hub's artefacts when its run ends, the fleet's summary as hubs end.
pub fn fleet_files(out: &Path) -> EventSink {
    let out: PathBuf = out.to_path_buf();
    EventSink::new(move |e: &Event| {
        let hub_dir = |h: &str| ResultDir::new(out.join("hubs").join(h));
        let done = match (&e.what, e.hub.as_deref()) {
            (RunEvent::Saved(s), Some(h)) => hub_dir(h).save(s).map_err(|e| e.to_string()),
            (RunEvent::Ended(s), Some(h)) => {
                let mut s = (**s).clone();
                decide(&mut s);
                (hub_dir(h).finish(&s, &Finish::default()))
                    .map(|_| ())
                    .map_err(|e| hive_scale_core::error::chain(&e))
            }
            (RunEvent::FleetSaved(f), None) => {
                let mut f = (**f).clone();
                decide_fleet(&mut f);
                ResultDir::new(&out)
                    .save_fleet(&f)
                    .map_err(|e| e.to_string())
            }
            _ => Ok(()),
        };
        if let Err(error) = done {
            tracing::warn!(%error, "cannot write the fleet's results");
        }
    })
}
