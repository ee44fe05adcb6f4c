//! The planner as an SRE uses it: `plan --recommend` answers the sizing question and the sweep
//! (`plan` with the recommended replicas, workers and cores) confirms it; impossible limits are
//! refused with how many hubs it would take; `--hubs` splits a fleet.

mod common;

use common::{Run, run_bin};
use serde_json::Value;
use std::path::Path;

/// Held by the tests that keep both cores busy (the planner's confirmations run two at a time)
/// and by those whose hub runs on a scaled clock that must keep up: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `hive-scale scaletest` of `scenario` into `out` at `time_scale`, polling every 100 ms.
async fn scaletest(scenario: &Path, out: &Path, time_scale: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "scaletest",
        "--scenario",
        scenario.to_str().unwrap(),
        "--time-scale",
        time_scale,
        "--interval",
        "100ms",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_bin(&args, &[]).await
}

const FLEET: [&str; 8] = [
    "--clusters",
    "240",
    "--selectorsyncsets",
    "10",
    "--configmaps",
    "10",
    "--preset",
    "c5.9xlarge",
];

async fn json(args: &[&str]) -> (i32, Value) {
    let run = run_bin(&[&["plan"], &FLEET[..], args, &["--json"]].concat(), &[]).await;
    assert!(
        run.stderr.is_empty() || !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
    let v = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    (run.code, v)
}

#[tokio::test]
async fn the_recommended_configuration_is_confirmed_by_the_sweep() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let targets = [
        "--recommend",
        "--target-fanout",
        "30s",
        "--target-reapply",
        "10m",
        "--target-new-cluster",
        "1m",
        "--max-replicas",
        "4",
    ];
    let (code, v) = json(&targets).await;
    assert_eq!(code, 0, "{v:#}");
    let r = &v["recommendation"];
    assert_eq!(r["hubs"], 1);
    let chosen = &r["chosen"];
    assert!(chosen.is_object(), "the simulation confirmed one: {v:#}");
    let candidates = r["candidates"].as_array().unwrap();
    let cores: Vec<u64> = candidates
        .iter()
        .map(|c| c["total_cores"].as_u64().unwrap())
        .collect();
    assert!(
        cores.windows(2).all(|w| w[0] <= w[1]),
        "cheapest first: {cores:?}"
    );
    // Whatever is cheaper than the chosen one was run and turned down by the simulation.
    for c in candidates {
        if c["total_cores"].as_u64() < chosen["total_cores"].as_u64() {
            assert_eq!(c["confirmed"]["meets"], false, "{c:#}");
        }
    }
    // The sweep: the same fleet planned with the chosen configuration meets the targets.
    let n = |k: &str| chosen[k].as_u64().unwrap().to_string();
    let (code, planned) = json(&[
        "--replicas",
        &n("replicas"),
        "--workers",
        &n("workers"),
        "--cores",
        &n("cores"),
    ])
    .await;
    assert_eq!(code, 0);
    let p = &planned[0];
    let drain = p["drain_seconds"].as_f64().unwrap();
    let new_set = p["new_set_seconds"].as_f64().unwrap();
    assert!(drain <= 600.0, "re-apply {drain}s over 10m: {p:#}");
    assert!(new_set <= 30.0, "new set {new_set}s over 30s: {p:#}");
}

#[tokio::test]
async fn impossible_limits_are_refused_with_the_hubs_it_would_take() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let tight = [
        "--recommend",
        "--target-fanout",
        "20s",
        "--max-replicas",
        "1",
        "--max-cores",
        "2",
        "--max-workers",
        "5",
        "--max-hubs",
        "1",
        "--no-confirm",
    ];
    let (code, v) = json(&tight).await;
    assert_eq!(code, 1, "no configuration fits: {v:#}");
    let r = &v["recommendation"];
    assert_eq!(r["within_limits"], false);
    assert!(r["hubs"].as_u64().unwrap() > 1, "{r:#}");
    let text = run_bin(&[&["plan"], &FLEET[..], &tight[..]].concat(), &[]).await;
    assert_eq!(text.code, 1);
    assert!(
        text.stdout
            .contains("no configuration within the limits meets the targets")
            && text
                .stdout
                .contains(&format!("split across {} hubs", r["hubs"])),
        "{}",
        text.stdout
    );
}

#[tokio::test]
async fn recommend_refuses_what_it_would_choose_itself() {
    let run = run_bin(
        &[&["plan"], &FLEET[..], &["--recommend", "--workers", "5"]].concat(),
        &[],
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.one_error_line().contains("--max-workers"));
    let run = run_bin(
        &[&["plan"], &FLEET[..], &["--target-fanout", "5m"]].concat(),
        &[],
    )
    .await;
    assert_eq!(run.code, 2, "a target without --recommend: {}", run.stderr);
}

#[tokio::test]
async fn hubs_split_the_fleet() {
    let (code, one) = json(&["--no-probe"]).await;
    assert_eq!(code, 0);
    let (code, three) = json(&["--hubs", "3", "--no-probe"]).await;
    assert_eq!(code, 0);
    let hub = &three[0];
    assert_eq!(hub["clusters"], 80, "each hub plans its share");
    let fleet = &hub["fleet"];
    assert_eq!(fleet["hubs"], 3);
    assert_eq!(
        fleet["hive_objects"],
        3 * hub["hub"]["hive_objects"].as_u64().unwrap()
    );
    // Three Hives side by side drain the fleet about three times as fast as one.
    let speedup = one[0]["drain_seconds"].as_f64().unwrap()
        / fleet["slowest_hub_drain_seconds"].as_f64().unwrap();
    assert!((2.4..=3.6).contains(&speedup), "{speedup}");
}

/// The calibration round trip: the embedded hub runs two clustersync replicas with costs the
/// fitter is not told (CPU per apply, latencies, the helper's wait, contention), a recording
/// of it is fitted with only the cores per pod given, and the fitted preset predicts the same
/// hub at other worker counts within 15%.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_recovers_a_hub_it_was_not_told() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let hidden = dir.path().join("hidden.yaml");
    std::fs::write(
        &hidden,
        "name: hidden\nreplicas: 2\nworkers: 6\ncores: 4\ncpu_speed: 1.0\napply_mode: client-side\n\
         spokes: per-cluster\ncpu_per_apply_client_side: 0.06\ncpu_per_apply_server_side: 0.01\n\
         cpu_per_apply_fake: 0.002\ncontention: 0.01\nreconcile_cpu: 0.015\nreconcile_remote_latency: 0.5\nremote_get_latency: 0.03\n\
         remote_write_latency: 0.01\nhub_write_latency: 0.006\nspoke_capacity: 0\nhub_capacity: 0\nhub_qps: 5\n",
    )
    .unwrap();
    let scenario = dir.path().join("calibration.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: calibration\ndescription: a hub with hidden costs\nclusters: 60\nselectorsyncsets: 10\n\
             configmaps: 5\nembedded:\n  preset_file: {}\nphases:\n  - selectorsyncsets: {{start: 0, count: 10}}\n\
             \x20 - adopt: {{start: 1, end: 60}}\n  - observe: {{}}\n",
            hidden.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let run = scaletest(&scenario, &out, "10", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let fitted = dir.path().join("fitted.yaml");
    let recording = out.join("recording.jsonl");
    let fit = run_bin(
        &[
            "plan",
            "--calibrate",
            recording.to_str().unwrap(),
            "--cores",
            "4",
            "--out-preset",
            fitted.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(fit.code, 0, "{}", fit.stderr);
    let text = std::fs::read_to_string(&fitted).unwrap();
    assert!(text.contains("apply_mode: client-side"), "{text}");
    assert!(
        text.contains("\nreplicas: 2\n"),
        "the replicas from the pods: {text}"
    );
    assert!(
        text.contains("\nworkers: 6\n"),
        "workers per replica: {text}"
    );
    println!("{text}");
    for workers in ["3", "12"] {
        let rate = |preset: &std::path::Path| {
            let preset = preset.to_str().unwrap().to_string();
            let workers = workers.to_string();
            async move {
                let r = run_bin(
                    &[
                        "plan",
                        "--clusters",
                        "120",
                        "--selectorsyncsets",
                        "10",
                        "--configmaps",
                        "5",
                        "--preset-file",
                        &preset,
                        "--workers",
                        &workers,
                        "--no-probe",
                        "--json",
                    ],
                    &[],
                )
                .await;
                assert_eq!(r.code, 0, "{}", r.stderr);
                let v: Value = serde_json::from_str(&r.stdout).unwrap();
                v[0]["applies_per_second"].as_f64().unwrap()
            }
        };
        let (truth, predicted) = (rate(&hidden).await, rate(&fitted).await);
        println!("{workers} workers: hidden {truth:.1}/s, fitted {predicted:.1}/s");
        assert!(
            (predicted / truth - 1.0).abs() <= 0.15,
            "{workers} workers: hidden {truth:.1}/s, fitted {predicted:.1}/s\n{text}"
        );
    }
    // Without --cores, or with too few for the CPU seen: one error line each.
    let no_cores = run_bin(&["plan", "--calibrate", recording.to_str().unwrap()], &[]).await;
    assert_eq!(no_cores.code, 2);
    assert!(no_cores.one_error_line().contains("--cores"));
    let too_few = run_bin(
        &[
            "plan",
            "--calibrate",
            recording.to_str().unwrap(),
            "--cores",
            "1",
        ],
        &[],
    )
    .await;
    assert_eq!(too_few.code, 2);
    assert!(
        too_few.one_error_line().contains("cores were busy"),
        "{}",
        too_few.stderr
    );
    // A recording without the queries the fit needs is one error line.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let bad = run_bin(
        &[
            "plan",
            "--calibrate",
            empty.to_str().unwrap(),
            "--cores",
            "4",
        ],
        &[],
    )
    .await;
    assert_eq!(bad.code, 2);
    bad.one_error_line();
}

/// With clustersync replicas, the report's findings are also per replica, in clusters (the
/// queue's unit), each at the replica's own rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_per_replica() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("replicas.yaml");
    std::fs::write(
        &scenario,
        "name: replicas\ndescription: three clustersync replicas\nclusters: 45\nselectorsyncsets: 4\n\
         configmaps: 5\nembedded:\n  preset: laptop\n  replicas: 3\n  workers: 2\n  cores: 1\n\
         phases:\n  - selectorsyncsets: {start: 0, count: 4}\n  - adopt: {start: 1, end: 45}\n  - observe: {}\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let run = scaletest(&scenario, &out, "5", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let findings = &summary["metrics"]["findings"];
    let replicas = findings["replicas"].as_array().unwrap_or_else(|| {
        panic!("no per-replica findings: {summary:#}");
    });
    assert_eq!(replicas.len(), 3, "{replicas:#?}");
    for r in replicas {
        assert!(
            r["replica"]
                .as_str()
                .unwrap()
                .starts_with("hive-clustersync-")
        );
        let reapply = &r["reapply"];
        assert_eq!(reapply["unit"], "clusters", "{r:#}");
        assert!(reapply["rate"].as_f64().unwrap() > 0.0, "{r:#}");
    }
    // The replicas' shares add up to the fleet's 45 clusters (each rounded).
    let shares: f64 = replicas
        .iter()
        .map(|r| r["reapply"]["items"].as_f64().unwrap())
        .sum();
    assert!((shares - 45.0).abs() <= 2.0, "{replicas:#?}");
    // Each replica's verdict is its own re-apply at its own rate.
    for r in replicas {
        let re = &r["reapply"];
        let seconds = re["items"].as_f64().unwrap() / re["rate"].as_f64().unwrap();
        assert!(
            (re["seconds"].as_f64().unwrap() - seconds).abs() < 1e-6,
            "{r:#}"
        );
        assert_eq!(re["fits"], seconds <= 7200.0, "{r:#}");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("Replica `hive-clustersync-1`"), "{report}");
}

/// A re-apply that does not fit in 2h: the report and the planner, on the same fleet and
/// model, both say so, within a small factor of each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_apply_too_slow_for_2h_is_too_slow_in_the_report_and_the_plan() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("slow.yaml");
    // 20 clusters x 6 sets x 10 ConfigMaps on one worker and one core at 10 s of CPU an apply
    // (7.7 s on m5.xlarge's faster core): about 1200 x 7.7 s = 2.6 h for everything.
    std::fs::write(
        &scenario,
        "name: slow\ndescription: a hub too slow to re-apply in 2h\nclusters: 20\nselectorsyncsets: 6\n\
         configmaps: 10\nembedded:\n  preset: m5.xlarge\n  workers: 1\n  cores: 1\n  cpu_per_apply: 10.0\n\
         phases:\n  - selectorsyncsets: {start: 0, count: 6}\n  - adopt: {start: 1, end: 20}\n  - observe: {}\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let run = scaletest(&scenario, &out, "5000", &["--max-drain", "10h"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let r = &summary["metrics"]["findings"]["reapply"];
    assert_eq!(r["unit"], "clusters", "{r:#}");
    assert_eq!(r["fits"], false, "the report: {r:#}");
    let p = run_bin(
        &[
            "plan",
            "--clusters",
            "20",
            "--selectorsyncsets",
            "6",
            "--configmaps",
            "10",
            "--preset",
            "m5.xlarge",
            "--workers",
            "1",
            "--cores",
            "1",
            "--cpu-per-apply",
            "10.0",
            "--no-probe",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(p.code, 0, "{}", p.stderr);
    let plan: Value = serde_json::from_str(&p.stdout).unwrap();
    assert_eq!(plan[0]["reapply_fits_2h"], false, "the plan: {:#}", plan[0]);
    let ratio = r["seconds"].as_f64().unwrap() / plan[0]["drain_seconds"].as_f64().unwrap();
    assert!(
        (0.5..=2.0).contains(&ratio),
        "report {r:#}\nplan {:#}",
        plan[0]
    );
}

/// Above 2,000 clusters the plan says it sampled; `--no-sample` simulates every cluster, and
/// makes no sense beside `--recommend` (which always samples what it confirms).
#[tokio::test]
async fn large_fleets_are_sampled_unless_told_not_to() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let fleet = [
        "plan",
        "--clusters",
        "2100",
        "--selectorsyncsets",
        "1",
        "--configmaps",
        "1",
        "--no-probe",
    ];
    let sampled = run_bin(&fleet, &[]).await;
    assert_eq!(sampled.code, 0, "{}", sampled.stderr);
    assert!(
        sampled.stdout.contains("simulated as samples of"),
        "{}",
        sampled.stdout
    );
    let whole = run_bin(&[&fleet[..], &["--no-sample"]].concat(), &[]).await;
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    assert!(!whole.stdout.contains("samples"), "{}", whole.stdout);
    let both = run_bin(
        &[
            &fleet[..7],
            &["--no-sample", "--recommend", "--target-fanout", "5m"],
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(both.code, 2);
    assert!(
        both.one_error_line().contains("--no-sample"),
        "{}",
        both.stderr
    );
}
