//! `plan --arrival-every 60s`: clusters arriving over time, and the fan-out latency each saw.
//!
//! ```text
//! hive-scale plan --arrival-every 60s --clusters 300 --selectorsyncsets 60 --preset m5.xlarge
//! ```

use super::{Args, fail, hours};
use hive_scale_sim::plan::PlanConfig;
use hive_scale_sim::plan::arrival::{ArrivalResult, arrivals};
use std::process::ExitCode;
use std::time::Duration;

/// Rows the table shows (the JSON and `--out` hold every arrival).
const ROWS: usize = 20;

/// Runs `plan --arrival-every`.
pub fn main(args: &Args, every: Duration) -> ExitCode {
    let single = |n: &Option<crate::flags::Numbers>| n.as_ref().is_none_or(|n| n.0.len() == 1);
    if !single(&args.workers) || !single(&args.cores) {
        eprintln!(
            "error: --arrival-every plans one configuration: give --workers and --cores one value each"
        );
        return ExitCode::from(2);
    }
    let mut config = args.model.clone();
    config.workers = args.workers.as_ref().map(|w| w.0[0]);
    config.cores = args.cores.as_ref().map(|c| c.0[0]);
    let model = match config.resolve() {
        Ok(m) => m,
        Err(e) => return fail(&e, 2),
    };
    let mut cfg = PlanConfig::new(model);
    (cfg.clusters, cfg.selectorsyncsets, cfg.configmaps) = (
        args.clusters as usize,
        args.selectorsyncsets as usize,
        args.configmaps as usize,
    );
    // After the last arrival, long enough for a starved fleet to drain.
    cfg.max_duration = Duration::from_secs(24 * 3600);
    let r = match arrivals(&cfg, every) {
        Ok(r) => r,
        Err(e) => return fail(&e, 2),
    };
    if let Some(dir) = &args.out {
        let path = dir.join("arrivals.json");
        let written = std::fs::create_dir_all(dir).and_then(|()| {
            std::fs::write(&path, serde_json::to_string_pretty(&r).unwrap_or_default())
        });
        if let Err(e) = written {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let out = if args.output.json {
        format!("{}\n", serde_json::to_string_pretty(&r).unwrap_or_default())
    } else {
        table(&r, args)
    };
    if let Err(e) = crate::print_stdout(&out) {
        return fail(&e, 1);
    }
    ExitCode::SUCCESS
}

fn table(r: &ArrivalResult, args: &Args) -> String {
    let mut t = format!(
        "{} clusters arriving every {}, {} sets x {} resources; preset {}, {} replicas x {} workers x {} cores\n",
        r.arrivals.len(),
        hours(Some(r.every_seconds)),
        args.selectorsyncsets,
        args.configmaps,
        r.preset,
        r.replicas,
        r.workers,
        r.cores,
    );
    t.push_str("cluster  arrived  fan-out latency\n");
    let step = r.arrivals.len().div_ceil(ROWS).max(1);
    for a in r.arrivals.iter().step_by(step).chain(r.arrivals.last()) {
        t.push_str(&format!(
            "{:>7} {:>8}  {}\n",
            a.cluster,
            hours(Some(a.arrived_at)),
            hours(a.latency)
        ));
    }
    t.push_str(&match (r.baseline_seconds, r.degraded_after) {
        (Some(b), Some(c)) => format!(
            "applies degrade from cluster {c} on (latency above twice the early {})\n",
            hours(Some(b))
        ),
        (Some(b), None) => format!(
            "no degradation: latencies stay within twice the early {}\n",
            hours(Some(b))
        ),
        (None, _) => "no cluster finished syncing\n".into(),
    });
    if let Some(c) = r.over_30m_at {
        t.push_str(&format!(
            "a cluster first waits 30 minutes or more at cluster {c}\n"
        ));
    }
    t.push_str(&format!("{:.1}s wall\n", r.wall_seconds));
    t
}
