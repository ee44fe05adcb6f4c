//! `plan --calibrate RECORDING`: the cost model fitted to a recording, as a preset file.
//!
//! ```text
//! hive-scale plan --calibrate target/scaletest/run/recording.jsonl --cores 16 --out-preset my-hub.yaml
//! hive-scale plan --preset-file my-hub.yaml --workers 40      # the same hub with more workers
//! ```

use super::{Args, fail};
use hive_scale_core::metrics::read_recording;
use hive_scale_sim::plan::calibrate::{Calibration, calibrate};
use std::path::Path;
use std::process::ExitCode;

/// Hive's default client QPS per controller and pod (client-go's).
const TODAY_S_CLIENT_QPS: f64 = 5.0;

/// Runs `plan --calibrate`.
pub fn main(args: &Args, recording: &Path) -> ExitCode {
    let Some(cores) = args.cores.as_ref() else {
        eprintln!(
            "error: --calibrate needs --cores N: the cores each clustersync pod has (Hive's metrics do not show them)"
        );
        return ExitCode::from(2);
    };
    if cores.0.len() > 1 || args.workers.as_ref().is_some_and(|w| w.0.len() > 1) {
        eprintln!("error: --calibrate fits one hub: give --cores (and --workers) one value each");
        return ExitCode::from(2);
    }
    let mut config = args.model.clone();
    config.workers = args.workers.as_ref().map(|w| w.0[0]);
    config.cores = args.cores.as_ref().map(|c| c.0[0]);
    let base = match config.resolve() {
        Ok(m) => m,
        Err(e) => return fail(&e, 2),
    };
    let rec = match read_recording(recording) {
        Ok(r) => r,
        Err(e) => return fail(&e, 2),
    };
    let mut fit = match calibrate(&rec, &base) {
        Ok(f) => f,
        Err(e) => return fail(&e, 2),
    };
    // A recording does not show the client's QPS; unless told, today's Hive default.
    if args.model.hub_qps.is_none() {
        fit.model.hub_qps = Some(TODAY_S_CLIENT_QPS);
    }
    let yaml = fit.model.to_preset_yaml(&header(&fit, recording));
    if let Some(path) = &args.out_preset
        && let Err(e) = std::fs::write(path, &yaml)
    {
        eprintln!("error: {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    let out = if args.output.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&fit).unwrap_or_default()
        )
    } else if args.out_preset.is_some() {
        header(&fit, recording) + "\n"
    } else {
        yaml
    };
    if let Err(e) = crate::print_stdout(&out) {
        return fail(&e, 1);
    }
    ExitCode::SUCCESS
}

/// What was observed and what it implies, as the preset file's comment.
fn header(fit: &Calibration, recording: &Path) -> String {
    let o = &fit.observed;
    let m = &fit.model;
    let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.1} ms", v * 1000.0));
    format!(
        "{}: fitted by `hive-scale plan --calibrate {}`.\n\
         Observed over {} snapshots at the applies' peak: {:.1} applies/s, {:.2} cores busy, {:.3} s per apply,\n\
         {:.2} reconciles/s, {:.1} applies in flight, {} workers in {} replica(s); remote GET {}, remote write {}, hub write {}.\n\
         Fitted: {} apply, {:.4} core-seconds per apply and {:.4} per reconcile on this hub's cores (cpu_speed 1),\n\
         {:.2} s per reconcile waiting for the spoke's resource helper.\n\
         Assumed, as a recording cannot tell: {} cores per replica (--cores), contention {} per apply past the cores,\n\
         hub client {} requests/s per pod ({}), no server capacity limits (the measured latencies include any queueing).\n\
         Units: config/presets/README.md.",
        m.preset,
        recording.display(),
        o.snapshots,
        o.applies_per_second,
        o.cores_busy,
        o.apply_seconds,
        o.reconciles_per_second,
        o.applies_in_flight,
        o.workers.map_or("unknown".into(), |w| w.to_string()),
        o.replicas,
        ms(o.remote_get_latency),
        ms(o.remote_write_latency),
        ms(o.hub_write_latency),
        m.apply_mode,
        m.cpu_per_apply(m.apply_mode),
        m.reconcile_cpu,
        m.reconcile_remote_latency,
        m.cores,
        m.contention,
        m.hub_qps.unwrap_or(0.0),
        if m.hub_qps == Some(TODAY_S_CLIENT_QPS) {
            "Hive's default; --hub-qps to change"
        } else {
            "--hub-qps"
        },
    )
}
