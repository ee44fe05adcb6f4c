//! The run over a fleet's hubs: each connected to and identified first, then each run by the
//! scale test's runner at once.

use super::identity::{self, HubIdentity};
use super::{FleetSummary, FleetTotals, HubResult, Member};
use crate::metrics::now_unix;
use crate::scenario::Scenario;
use crate::scenario::runner::{self, RunEvent, RunSettings, Status, Target};
use crate::{Error, Result};
use std::time::Instant;

/// The run id of fleet member `name` in the fleet's run `fleet`: `<fleet>-<name>`. Each hub's
/// objects can then be told from another member's even when two members turn out to be one
/// hub, and the fleet's id stays their common prefix. A run id is a DNS label
/// ([`is_run_id`](crate::labels::is_run_id)), at most 63 characters: a longer id is cut to fit
/// and ends in a hash of the whole, so members whose names differ only past the cut still
/// differ. With `fleet` and `name` DNS labels, so is the result.
pub fn member_run_id(fleet: &str, name: &str) -> String {
    const MAX: usize = 63;
    let full = format!("{fleet}-{name}");
    if full.len() <= MAX {
        return full;
    }
    // FNV-1a: stable across builds and versions (a resumed fleet derives the same ids), which
    // std's hashers do not promise.
    let hash = full.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let suffix = format!("-{hash:08x}");
    // Run ids and member names are DNS labels: ASCII, so any byte is a char boundary.
    let head = full.get(..MAX - suffix.len()).unwrap_or(&full);
    format!("{head}{suffix}")
}

/// Connects to a member's hub and finds out which hub it is; on failure, when and why.
async fn reach(m: &mut Member) -> std::result::Result<(Target, HubIdentity), (f64, String)> {
    let failed = |e: Error| (now_unix(), crate::error::chain(&e));
    let mut target = match Target::real(std::mem::take(&mut m.hub)).await {
        Ok(t) => t,
        Err(e) => return Err(failed(e)),
    };
    if let Some(k) = m.time_scale {
        target.time_scale = k;
    }
    match identity::identify(&target.hub).await {
        Ok(id) => Ok((target, id)),
        Err(e) => Err(failed(e)),
    }
}

/// The first member that is a hub already named, with the one it repeats.
pub(super) fn same_hub(reached: &[(&str, &HubIdentity)]) -> Option<Error> {
    reached.iter().enumerate().find_map(|(j, (second, id))| {
        reached[..j]
            .iter()
            .find(|(_, other)| other == id)
            .map(|(first, _)| Error::SameHub {
                first: first.to_string(),
                second: second.to_string(),
                identity: id.to_string(),
            })
    })
}

/// Runs `scenario` over `members`, each hub at once with its share of the clusters and every
/// SelectorSyncSet, each through [`runner::run`] (its result directory `settings.out/hubs/NAME`);
/// returns the fleet's report. Writes nothing itself: each hub's run sends its events (named
/// after the hub) to `settings.events`, and the fleet its own as hubs end
/// ([`RunEvent::FleetSaved`](runner::RunEvent::FleetSaved)), which the output layer writes.
///
/// Every hub is connected to and identified ([`identity::identify`]) first, before anything
/// is written to any hub or to `settings.out`. Each hub's objects carry its own run id,
/// [`member_run_id`] of `settings.run_id` and its name. A hub that cannot be connected to is
/// recorded as failed in phase `connect`; the others run on.
///
/// # Errors
///
/// [`Error::SameHub`] when two members are one hub; a member name not usable as a directory
/// name or a run id that is not a DNS label ([`Error::Invalid`]). Everything that goes wrong on
/// a hub is in the summary.
pub async fn run(
    scenario: &Scenario,
    members: Vec<Member>,
    settings: &RunSettings,
) -> Result<FleetSummary> {
    for m in &members {
        if !crate::labels::is_label_value(&m.name) || m.name.starts_with('.') {
            return Err(Error::Invalid(format!(
                "hub name {:?} is not usable as a directory name",
                m.name
            )));
        }
    }
    if !crate::labels::is_run_id(&settings.run_id) {
        return Err(Error::Invalid(format!(
            "run id {:?} is not a DNS label",
            settings.run_id
        )));
    }
    let started = now_unix();
    let clock = Instant::now();
    let total_clusters: u32 = members.iter().map(|m| m.clusters).sum();
    let hubs = members.len();
    let mut members = members;
    let reached = futures::future::join_all(members.iter_mut().map(reach)).await;
    let identities: Vec<(&str, &HubIdentity)> = members
        .iter()
        .zip(&reached)
        .filter_map(|(m, r)| r.as_ref().ok().map(|(_, id)| (m.name.as_str(), id)))
        .collect();
    if let Some(e) = same_hub(&identities) {
        return Err(e);
    }
    let out = &settings.out;
    let mut summary = FleetSummary {
        kind: "fleet",
        status: Status::Running,
        exit_code: 0,
        run_id: settings.run_id.clone(),
        scenario: scenario.scaled(total_clusters, scenario.selectorsyncsets),
        parameters: settings.parameters.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started,
        wall_seconds: 0.0,
        failed_hubs: Vec::new(),
        hubs: Vec::new(),
        fleet: FleetTotals {
            hubs,
            clusters: members.iter().map(|m| u64::from(m.clusters)).sum(),
            ..FleetTotals::default()
        },
    };
    // A row per hub from the start, each replaced as its hub finishes, so a fleet stopped
    // half-way leaves the hubs that had finished in summary.json.
    summary.hubs = members
        .iter()
        .map(|m| {
            let mut row = HubResult::not_run(
                m,
                format!("hubs/{}", m.name),
                member_run_id(&settings.run_id, &m.name),
                "",
                0.0,
                String::new(),
            );
            (row.status, row.failure) = (Status::Running, None);
            row
        })
        .collect();
    emit(
        settings,
        None,
        RunEvent::FleetSaved(Box::new(summary.clone())),
    );
    // One listener for every hub's run, from before any of them starts: a signal reaches
    // them all. Unless the caller listens already, a signal before here ends the process,
    // which has written nothing to a hub yet.
    let signals = settings
        .signals
        .clone()
        .unwrap_or_else(runner::Signals::install);
    let signals = &signals;
    let runs = members
        .into_iter()
        .zip(reached)
        .enumerate()
        .map(|(i, (m, reached))| async move {
            let dir = format!("hubs/{}", m.name);
            let run_id = member_run_id(&settings.run_id, &m.name);
            let (target, identity) = match reached {
                Ok(r) => r,
                Err((at, error)) => {
                    let what = RunEvent::HubNotRun {
                        phase: "connect".into(),
                        error: error.clone(),
                    };
                    emit(settings, Some(&m.name), what);
                    return (i, HubResult::not_run(&m, dir, run_id, "connect", at, error));
                }
            };
            let mut s = settings.clone();
            s.out = out.join(&dir);
            s.progress = None;
            s.label = Some(m.name.clone());
            s.run_id = run_id.clone();
            s.signals = Some(signals.clone());
            s.parameters = serde_json::json!({
                "fleet": settings.parameters,
                "fleet_run_id": settings.run_id,
                "hub": m.name,
                "clusters": m.clusters,
            });
            let scenario = scenario.scaled(m.clusters, scenario.selectorsyncsets);
            let what = RunEvent::HubStarted {
                clusters: m.clusters,
                description: target.description.clone(),
                identity: identity.to_string(),
                run_id: run_id.clone(),
            };
            emit(settings, Some(&m.name), what);
            let mut row = match runner::run(&scenario, target, &s).await {
                Ok(summary) => HubResult::from_summary(&m, dir, summary),
                // Its result directory could not be created.
                Err(e) => {
                    let error = crate::error::chain(&e);
                    let what = RunEvent::HubNotRun {
                        phase: "start".into(),
                        error: error.clone(),
                    };
                    emit(settings, Some(&m.name), what);
                    HubResult::not_run(&m, dir, run_id, "start", now_unix(), error)
                }
            };
            row.identity = Some(identity);
            (i, row)
        });
    let mut runs: futures::stream::FuturesUnordered<_> = runs.collect();
    while let Some((i, row)) = futures::StreamExt::next(&mut runs).await {
        summary.hubs[i] = row;
        summary.wall_seconds = clock.elapsed().as_secs_f64();
        summary.totals();
        emit(
            settings,
            None,
            RunEvent::FleetSaved(Box::new(summary.clone())),
        );
    }
    Ok(summary)
}

/// Sends `what` about hub `hub` (the fleet itself when `None`) to the caller's sinks.
fn emit(settings: &RunSettings, hub: Option<&str>, what: RunEvent) {
    if let Some(sink) = &settings.events {
        sink.send(&runner::Event {
            hub: hub.map(str::to_string),
            what,
        });
    }
}
