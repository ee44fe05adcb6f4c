//! Fitting the cost model to a recording (`plan --calibrate RECORDING`), made by `record` or
//! `scaletest` on a real hub (or the embedded one).
//!
//! From the stretch of the recording where applies ran at their peak it reads what Hive's
//! metrics show: applies per second, the mean time of one apply, the sync controller's
//! reconciles per second, workers and cores busy, and the remote and hub request latencies.
//! Little's law gives the applies in flight (rate times duration); the CPU of one apply is the
//! cores busy divided by the applies per second, less the process's saturation at that many
//! applies in flight and the reconciles' share. Costs come out in this hub's core-seconds
//! (`cpu_speed: 1`). What a recording cannot tell apart, the base model supplies: the cores
//! clustersync has (Hive's metrics do not export them), the contention per apply past the
//! cores, and the reconcile's CPU relative to an apply's.

use crate::model::{ApplyMode, CostModel, SpokeMode};
use hive_scale_core::metrics::report::Recording;
use hive_scale_core::metrics::snapshot::Snapshot;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the recording showed over its steady stretch.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    /// Snapshots in the stretch where applies ran at 70% of their peak (the 90th percentile of
    /// the rates) or more.
    pub snapshots: usize,
    /// Resource applies per second.
    pub applies_per_second: f64,
    /// Cores busy in the sync controller.
    pub cores_busy: f64,
    /// Mean seconds of one apply.
    pub apply_seconds: f64,
    /// The sync controller's reconciles per second.
    pub reconciles_per_second: f64,
    /// Applies in flight (Little's law: rate times duration).
    pub applies_in_flight: f64,
    /// Workers of the sync controller in all its replicas, when the recording has them.
    pub workers: Option<usize>,
    /// Replicas of the sync controller: its queue's distinct pods (1 when unlabelled).
    pub replicas: usize,
    /// Seconds a worker spends per reconcile outside its applies (Little's law: workers not
    /// in an apply, over reconciles per second), when the workers are known.
    pub outside_applies_per_reconcile: Option<f64>,
    /// Mean GET latency to the spokes, when there were GETs (client-side apply).
    pub remote_get_latency: Option<f64>,
    /// Mean write latency to the spokes, when there were writes.
    pub remote_write_latency: Option<f64>,
    /// Mean write latency to the hub.
    pub hub_write_latency: Option<f64>,
    /// The apply mode the requests show: GETs before writes are client-side, writes alone
    /// server-side, no spoke requests at all fake clusters.
    pub apply_mode: ApplyMode,
}

/// The fit.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// What the recording showed.
    pub observed: Observed,
    /// The model fitted to it.
    pub model: CostModel,
}

/// Why a recording cannot be fitted.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// A query the fit needs is missing from every snapshot.
    #[error(
        "{path}: no {query} in the recording; record with the default profile (it has {query})"
    )]
    Missing {
        /// The recording.
        path: String,
        /// The query.
        query: &'static str,
    },
    /// The recording has no CPU of the sync controller.
    #[error(
        "{path}: no CPU of the sync controller in the recording: record sync_cores_busy (the default profile, through Prometheus) or process_cpu of the clustersync pods"
    )]
    NoCpu {
        /// The recording.
        path: String,
    },
    /// The recording has no stretch where applies ran.
    #[error("{path}: no steady stretch of applies (at least two snapshots while applies ran)")]
    NoApplies {
        /// The recording.
        path: String,
    },
    /// The recording shows more cores busy than the base model's cores give its replicas.
    #[error(
        "{path}: {cores_busy:.1} cores were busy, more than the {capacity} that {replicas} replica(s) of --cores {cores} have: give the cores each clustersync pod has"
    )]
    TooBusy {
        /// The recording.
        path: String,
        /// Cores busy in the steady stretch.
        cores_busy: f64,
        /// What the replicas have between them.
        capacity: f64,
        /// Replicas the recording shows.
        replicas: usize,
        /// Cores per replica in the base model.
        cores: usize,
    },
    /// The fitted values are not a model.
    #[error("{path}: the fit is not a usable model")]
    Invalid {
        /// The recording.
        path: String,
        /// What is out of range.
        #[source]
        source: crate::model::ModelError,
    },
}

const APPLIED: &str = "resources_applied_rate";
const QUEUE: &str = "workqueue_depth";
const CPU: &str = "sync_cores_busy";
/// The Hive pods' own CPU, by job: a recording scraped from clustersync's `/metrics` (no
/// Prometheus) has it where `sync_cores_busy` is empty.
const PROCESS_CPU: &str = "process_cpu";
const APPLY_SECONDS: &str = "apply_duration_mean";
/// Reconciles that did work (not another replica's cluster, skipped); every reconcile in
/// recordings made before the default profile had it.
const WORK: &str = "sync_rate";
const RECONCILES: &str = "reconcile_rate";
const WORKERS: &str = "sync_workers";
const REMOTE: &str = "remote_request_latency";
const LOCAL: &str = "local_request_latency";

type Labelled = Vec<(BTreeMap<String, String>, f64)>;

fn values(s: &Snapshot, query: &str) -> Option<Labelled> {
    Some(s.get(query)?.value()?.values())
}

fn total(s: &Snapshot, query: &str) -> Option<f64> {
    s.get(query)?.value()?.total()
}

/// Cores busy in the sync controller: `sync_cores_busy`, else the CPU of the clustersync pods
/// (the series whose job names clustersync, or all of them when none is labelled).
fn sync_cpu(s: &Snapshot) -> Option<f64> {
    if let Some(v) = total(s, CPU) {
        return Some(v);
    }
    let series = values(s, PROCESS_CPU)?;
    let labelled = series.iter().any(|(l, _)| l.contains_key("job"));
    let cpu: Vec<f64> = series
        .into_iter()
        .filter(|(l, _)| !labelled || l.get("job").is_some_and(|j| j.contains("clustersync")))
        .map(|(_, v)| v)
        .collect();
    (!cpu.is_empty()).then(|| cpu.iter().sum())
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Whether a series belongs to the sync controller (clustersync, or the 2020 syncsetinstance
/// controller); a series without a controller label counts.
fn sync_series(labels: &BTreeMap<String, String>) -> bool {
    labels.get("controller").is_none_or(|c| {
        let c = c.to_ascii_lowercase();
        c.contains("clustersync") || c.contains("syncsetinstance")
    })
}

/// Whether a queue series (labelled `name`) is the sync controller's.
fn sync_series_named(labels: &BTreeMap<String, String>) -> bool {
    labels.get("name").is_some_and(|n| {
        let n = n.to_ascii_lowercase();
        n.contains("clustersync") || n.contains("syncsetinstance")
    })
}

fn method_is(labels: &BTreeMap<String, String>, methods: &[&str]) -> bool {
    labels
        .get("method")
        .is_some_and(|m| methods.contains(&m.as_str()))
}

/// Fits `base` to `rec`.
///
/// # Errors
///
/// The recording lacks a query the fit needs, has no stretch of applies, or fits to values out
/// of range.
pub fn calibrate(rec: &Recording, base: &CostModel) -> Result<Calibration, CalibrateError> {
    let path = rec.path.display().to_string();
    let missing = |query| CalibrateError::Missing {
        path: path.clone(),
        query,
    };
    let rate: Vec<(usize, f64)> = rec
        .snapshots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, total(s, APPLIED)?)))
        .collect();
    if rate.is_empty() {
        return Err(missing(APPLIED));
    }
    if !rec.snapshots.iter().any(|s| sync_cpu(s).is_some()) {
        return Err(CalibrateError::NoCpu { path });
    }
    // The peak is the 90th percentile: a rate between two scrapes close together can spike,
    // and one spike must not leave the stretch empty.
    let mut sorted: Vec<f64> = rate.iter().map(|(_, v)| *v).filter(|v| *v > 0.0).collect();
    sorted.sort_by(f64::total_cmp);
    let peak = sorted
        .get((sorted.len() * 9 / 10).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    let steady: Vec<&Snapshot> = rate
        .iter()
        .filter(|(_, v)| peak > 0.0 && *v >= 0.7 * peak)
        .map(|(i, _)| &rec.snapshots[*i])
        .collect();
    if steady.len() < 2 {
        return Err(CalibrateError::NoApplies { path });
    }
    let over = |query: &str| mean(steady.iter().filter_map(|s| total(s, query)));
    let x = over(APPLIED).unwrap_or(0.0);
    let cores_busy = mean(steady.iter().filter_map(|s| sync_cpu(s)))
        .ok_or(CalibrateError::NoCpu { path: path.clone() })?;
    // Durations and latencies are means since the start: the stretch's last snapshot holds
    // the most applies.
    let last = steady.last().expect("two or more");
    let apply_seconds = values(last, APPLY_SECONDS)
        .and_then(|v| mean(v.into_iter().map(|(_, v)| v)))
        .ok_or_else(|| missing(APPLY_SECONDS))?;
    let rate = if steady.iter().any(|s| values(s, WORK).is_some()) {
        WORK
    } else {
        RECONCILES
    };
    let reconciles = mean(steady.iter().filter_map(|s| {
        values(s, rate).map(|v| {
            v.into_iter()
                .filter(|(l, _)| sync_series(l))
                .map(|(_, v)| v)
                .sum::<f64>()
        })
    }))
    .unwrap_or(0.0);
    let workers = values(last, WORKERS).and_then(|v| {
        v.into_iter()
            .find(|(l, _)| l.get("controller").is_some_and(|_| sync_series(l)))
            .map(|(_, w)| w.round() as usize)
    });
    // Replicas: the sync queue's distinct pods (a single pod's series carry none).
    let replicas = rec
        .snapshots
        .iter()
        .filter_map(|s| values(s, QUEUE))
        .flat_map(|v| v.into_iter())
        .filter(|(l, _)| l.get("name").is_some_and(|_| sync_series_named(l)))
        .filter_map(|(l, _)| l.get("pod").cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        .max(1);
    let latency = |query: &str, methods: &[&str]| {
        values(last, query).and_then(|v| {
            mean(
                v.into_iter()
                    .filter(|(l, _)| sync_series(l) && method_is(l, methods))
                    .map(|(_, v)| v),
            )
        })
    };
    let get = latency(REMOTE, &["GET"]);
    let write = latency(REMOTE, &["POST", "PATCH", "PUT"]);
    let hub_write = latency(LOCAL, &["POST", "PATCH", "PUT"]);
    let apply_mode = match (get, write) {
        (Some(_), _) => ApplyMode::ClientSide,
        (None, Some(_)) => ApplyMode::ServerSide,
        (None, None) => ApplyMode::Fake,
    };
    let in_flight = x * apply_seconds;
    let outside = workers
        .filter(|_| reconciles > 0.0)
        .map(|w| ((w as f64 - in_flight) / reconciles).max(0.0));
    let observed = Observed {
        snapshots: steady.len(),
        applies_per_second: x,
        cores_busy,
        apply_seconds,
        reconciles_per_second: reconciles,
        applies_in_flight: in_flight,
        workers,
        replicas,
        outside_applies_per_reconcile: outside,
        remote_get_latency: get,
        remote_write_latency: write,
        hub_write_latency: hub_write,
        apply_mode,
    };
    let capacity = (base.cores * replicas) as f64;
    if cores_busy > capacity * 1.05 {
        return Err(CalibrateError::TooBusy {
            path,
            cores_busy,
            capacity,
            replicas,
            cores: base.cores,
        });
    }
    let model = fit(base, &observed, &rec.path);
    model.validate().map_err(|source| CalibrateError::Invalid {
        path: path.clone(),
        source,
    })?;
    Ok(Calibration { observed, model })
}

/// The model the observations imply, the rest from `base`.
fn fit(base: &CostModel, o: &Observed, path: &std::path::Path) -> CostModel {
    let mut m = base.clone();
    m.preset = format!(
        "calibrated-{}",
        path.parent()
            .and_then(|p| p.file_name())
            .or(path.file_stem())
            .map_or("recording".into(), |n| n.to_string_lossy().into_owned())
    );
    m.apply_mode = o.apply_mode;
    if o.apply_mode == ApplyMode::Fake {
        m.spokes = SpokeMode::Fake;
    } else if m.spokes == SpokeMode::Fake {
        m.spokes = SpokeMode::PerCluster;
    }
    m.replicas = o.replicas;
    if let Some(w) = o.workers {
        m.workers = (w / m.replicas.max(1)).max(1);
    }
    let base_apply = base.cpu_per_apply(o.apply_mode);
    let ratio = if base_apply > 0.0 {
        base.reconcile_cpu / base_apply
    } else {
        0.0
    };
    let per_replica = o.applies_in_flight / m.replicas.max(1) as f64;
    let saturation = 1.0 + m.contention * (per_replica - m.cores as f64).max(0.0);
    // The CPU seen already carries the process's coherency at the load seen.
    let busy = (o.cores_busy / m.replicas.max(1) as f64).max(1.0);
    let coherency = 1.0 + m.coherency * busy * (busy - 1.0);
    let per_apply = if o.applies_per_second > 0.0 {
        o.cores_busy
            / coherency
            / (o.applies_per_second * saturation + o.reconciles_per_second * ratio)
    } else {
        0.0
    };
    // Costs in this hub's core-seconds.
    m.cpu_speed = 1.0;
    m.set_cpu_per_apply(o.apply_mode, per_apply);
    m.reconcile_cpu = per_apply * ratio;
    // What is left of a worker's time outside its applies, once the reconcile's own CPU and
    // its hub writes (the status, and the lease or the ClusterSync's creation: 1.5 on
    // average over a first sync) are taken out, is the wait for the spoke's resource helper.
    if let Some(outside) = o.outside_applies_per_reconcile
        && o.apply_mode != ApplyMode::Fake
    {
        let hub = o.hub_write_latency.unwrap_or(m.hub_write_latency);
        m.reconcile_remote_latency = (outside - m.reconcile_cpu - 1.5 * hub).max(0.0);
    }
    // Measured latencies include any queueing at the servers, so the servers' capacities are
    // left unlimited rather than counted twice.
    if let Some(v) = o.remote_get_latency {
        m.remote_get_latency = v;
    }
    if let Some(v) = o.remote_write_latency {
        m.remote_write_latency = v;
    }
    if let Some(v) = o.hub_write_latency {
        m.hub_write_latency = v;
    }
    m.spoke_capacity = None;
    m.hub_capacity = None;
    m
}
