//! The planner as an SRE uses it: `plan --recommend` answers the sizing question and the sweep
//! (`plan` with the recommended replicas, workers and cores) confirms it; impossible limits are
//! refused with how many hubs it would take; `--hubs` splits a fleet.

mod common;

use common::run_bin;
use serde_json::Value;

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
    let (code, v) = json(&[
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
    ])
    .await;
    assert_eq!(code, 1, "no configuration fits: {v:#}");
    let r = &v["recommendation"];
    assert_eq!(r["within_limits"], false);
    assert!(r["hubs"].as_u64().unwrap() > 1, "{r:#}");
    let text = run_bin(
        &[
            &["plan"],
            &FLEET[..],
            &[
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
            ],
        ]
        .concat(),
        &[],
    )
    .await;
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
