//! `plan --recommend`: the cheapest configurations that meet the targets.
//!
//! ```text
//! hive-scale plan --recommend --clusters 3000 --selectorsyncsets 150 --configmaps 10 \
//!     --preset c5.9xlarge --target-fanout 5m --target-reapply 2h [--max-replicas 10 --max-cores 96]
//! ```
//! Exits 0 with the answer, 1 when no configuration within the limits meets the targets.

use super::{Args, fail, hours};
use hive_scale_sim::plan::analytic::Fleet;
use hive_scale_sim::plan::recommend::{Candidate, Limits, Recommendation, Targets, recommend};
use std::process::ExitCode;

/// Runs `plan --recommend`.
pub fn main(args: &Args) -> ExitCode {
    if args.workers.is_some() || args.cores.is_some() || args.model.replicas.is_some() {
        eprintln!(
            "error: --recommend chooses replicas, workers and cores itself; bound them with --max-replicas, --max-workers and --max-cores"
        );
        return ExitCode::from(2);
    }
    let f = &args.recommend;
    if f.target_fanout.is_none() && f.target_reapply.is_none() && f.target_new_cluster.is_none() {
        eprintln!(
            "error: --recommend needs a target to meet: --target-fanout, --target-reapply or --target-new-cluster"
        );
        return ExitCode::from(2);
    }
    let model = match args.model.resolve() {
        Ok(m) => m,
        Err(e) => return fail(&e, 2),
    };
    let targets = Targets {
        fanout: f.target_fanout,
        reapply: f.target_reapply,
        new_cluster: f.target_new_cluster,
    };
    let limits = Limits {
        max_replicas: f.max_replicas as usize,
        max_cores: f.max_cores as usize,
        max_workers: f.max_workers as usize,
        max_hubs: f.max_hubs as usize,
    };
    let fleet = Fleet {
        clusters: args.clusters as usize,
        sets: args.selectorsyncsets as usize,
        resources: args.configmaps as usize,
    };
    let wall = std::time::Instant::now();
    let r = match recommend(&model, fleet, &targets, &limits, !f.no_confirm) {
        Ok(r) => r,
        Err(e) => return fail(&e, 2),
    };
    let out = if args.output.json {
        let v = serde_json::json!({
            "preset": model.preset,
            "apply_mode": model.apply_mode.to_string(),
            "spokes": model.spokes,
            "clusters": fleet.clusters,
            "selectorsyncsets": fleet.sets,
            "configmaps": fleet.resources,
            "targets": targets,
            "limits": limits,
            "recommendation": r,
            "wall_seconds": wall.elapsed().as_secs_f64(),
        });
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else {
        text(&r, &targets, &model, fleet, wall.elapsed().as_secs_f64())
    };
    if let Err(e) = crate::print_stdout(&out) {
        return fail(&e, 1);
    }
    if r.fits() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn target(t: Option<std::time::Duration>) -> String {
    t.map_or("-".into(), |d| hours(Some(d.as_secs_f64())))
}

fn row(c: &Candidate, label: &str) -> String {
    let e = &c.predicted;
    let confirmed = match &c.confirmed {
        None => "not run".to_string(),
        Some(k) => format!(
            "{} (re-apply {}, new set {}, new cluster {}{})",
            if k.meets { "meets" } else { "misses" },
            hours(k.reapply_seconds),
            hours(k.new_set_seconds),
            hours(k.new_cluster_seconds),
            if k.draws > 1 {
                format!("; mean of {} runs", k.draws)
            } else {
                String::new()
            }
        ),
    };
    format!(
        "{label:<11} {:>8} {:>15} {:>13} {:>10} {:>14.1} {:>14} {:>13.0}% {:>13} {:>17} {:>18.1} {:>14}  {}\n",
        c.replicas,
        c.workers,
        c.cores,
        c.total_cores,
        e.applies_per_second,
        hours(Some(e.first_sync_seconds)),
        e.reapply_load * 100.0,
        hours(Some(e.new_set_seconds)),
        hours(Some(e.new_cluster_seconds)),
        e.cores_busy_per_replica,
        e.limited_by.to_string(),
        confirmed
    )
}

fn text(
    r: &Recommendation,
    targets: &Targets,
    model: &hive_scale_sim::model::CostModel,
    fleet: Fleet,
    wall: f64,
) -> String {
    let mut t = format!(
        "{} clusters x {} sets x {} resources; preset {}, {} apply, {} spokes; targets: new set {}, re-apply {}, new cluster {}\n",
        fleet.clusters,
        fleet.sets,
        fleet.resources,
        model.preset,
        model.apply_mode,
        model.spokes,
        target(targets.fanout),
        target(targets.reapply),
        target(targets.new_cluster),
    );
    if r.candidates.is_empty() {
        t.push_str(&format!(
            "no configuration meets the targets: {} ({} searched)\n",
            r.split_because
                .as_deref()
                .unwrap_or("none within the limits"),
            r.searched
        ));
        return t;
    }
    if !r.within_limits {
        t.push_str(&format!(
            "no configuration within the limits meets the targets on one hub; split across {} hubs of {} clusters it does (more than --max-hubs allows):\n",
            r.hubs, r.clusters_per_hub
        ));
    } else if let Some(why) = &r.split_because {
        t.push_str(&format!(
            "split the fleet across {} hubs of {} clusters: {why}\n",
            r.hubs, r.clusters_per_hub
        ));
    }
    match &r.chosen {
        Some(c) => t.push_str(&format!(
            "recommended: {} clustersync replicas x {} workers x {} cores ({} cores in all){}\n",
            c.replicas,
            c.workers,
            c.cores,
            c.total_cores,
            if r.hubs > 1 {
                format!(" on each of {} hubs", r.hubs)
            } else {
                String::new()
            }
        )),
        None if r.simulated => t.push_str(
            "the simulation did not confirm the closed form's cheapest candidates (exit 1); plan them with --replicas, --workers and --cores to see why\n",
        ),
        None => {}
    }
    t.push_str(&format!(
        "the recommended configuration first, then the cheapest others per hub ({} searched; cheapest: fewest cores in all, then fewest replicas, each of which also holds its own cache of the hub's objects). Re-apply is one full round from nothing (every pair new to its cluster, at least what the periodic re-apply takes); load is the periodic re-apply's share of the busiest replica; new set and new cluster are timed with that load running:\n",
        r.searched
    ));
    t.push_str("            replicas workers/replica cores/replica cores(all) applies/s(hub) re-apply(time) re-apply load(%) new-set(time) new-cluster(time) busy(cores/replica)     limited by  simulated\n");
    let chosen = r.chosen.as_ref();
    let is_chosen = |c: &Candidate| {
        chosen.is_some_and(|k| (k.replicas, k.workers, k.cores) == (c.replicas, c.workers, c.cores))
    };
    for c in r.candidates.iter().filter(|c| is_chosen(c)) {
        t.push_str(&row(c, "recommended"));
    }
    for c in r.candidates.iter().filter(|c| !is_chosen(c)) {
        t.push_str(&row(c, ""));
    }
    t.push_str(&r.hub.line());
    t.push_str(&format!("\n{wall:.1}s wall\n"));
    t
}
