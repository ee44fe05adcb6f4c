//! What a run tells while it goes. The engine prints nothing: it sends these to the sinks its
//! caller gives ([`RunSettings::events`](super::RunSettings::events)), and a front says them (console
//! lines) while the output layer records them (`summary.json` after every phase).

use super::{PhaseRecord, Summary, TeardownRecord};
use crate::adopt::Refusal;
use crate::metrics::slo::SloReport;
use crate::signals::Signal;
use std::sync::Arc;
use std::time::Duration;

/// One thing that happened in a run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RunEvent {
    /// A phase starts.
    PhaseStarted {
        /// Its name (`adopt 1..=1000`).
        name: String,
    },
    /// A phase ended, as summary.json records it.
    PhaseEnded(PhaseRecord),
    /// A clone was left alone: an object in its way is not the run's.
    CloneRefused {
        /// The clone's index.
        index: u32,
        /// What was in the way, and why.
        refusal: Refusal,
    },
    /// Hive's metrics are not recorded in this run, and why.
    NotRecording {
        /// Why.
        error: String,
    },
    /// The API call latency SLO was checked (or could not be).
    ApiSlo(SloReport),
    /// Teardown starts; after a signal, how long it may go on.
    TeardownStarted {
        /// The signal that came before it, if one did.
        after: Option<Signal>,
        /// How long teardown may go on after a signal.
        grace: Duration,
    },
    /// A signal came while teardown ran: it goes on for at most `grace` more.
    SignalDuringTeardown {
        /// The signal.
        signal: Signal,
        /// How long teardown may go on.
        grace: Duration,
    },
    /// Teardown ended.
    TeardownEnded(TeardownRecord),
    /// The run's summary as it stands: after every phase, a signal and at the end. What the
    /// output layer writes as summary.json, so a run killed at any point leaves its last state.
    Saved(Box<Summary>),
    /// The run ended: its summary, whole (its exit code is the front's to decide).
    Ended(Box<Summary>),
    /// A fleet's hub starts its run.
    HubStarted {
        /// Clusters it adopts.
        clusters: u32,
        /// The hub as its target describes it.
        description: String,
        /// What told it from the fleet's other hubs.
        identity: String,
        /// The run id its objects carry.
        run_id: String,
    },
    /// A fleet's hub could not run: in which step (`connect`, `start`) and why.
    HubNotRun {
        /// The step.
        phase: String,
        /// Why.
        error: String,
    },
    /// The fleet's summary as it stands: at the start and as each hub ends.
    FleetSaved(Box<crate::scenario::fleet::FleetSummary>),
}

/// An event and the hub it is about (a fleet runs one run per hub; `None` for a single hub).
#[derive(Debug, Clone)]
pub struct Event {
    /// The hub's name in a fleet.
    pub hub: Option<String>,
    /// What happened.
    pub what: RunEvent,
}

/// Where a run sends its events: called in order, from the run's task, so it should be quick.
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(&Event) + Send + Sync>);

impl EventSink {
    /// A sink calling `f` with every event.
    pub fn new(f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Hands `event` to the sink.
    pub fn send(&self, event: &Event) {
        (self.0)(event);
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

/// Several sinks as one, each called in turn.
pub fn fan_out(sinks: Vec<EventSink>) -> EventSink {
    EventSink::new(move |e: &Event| sinks.iter().for_each(|s| s.send(e)))
}
