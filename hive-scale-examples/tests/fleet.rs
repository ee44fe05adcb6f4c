//! A fleet of hubs: `scaletest --hubs N` and `scaletest --fleet FILE` against embedded hubs
//! running as separate `hive-scale hub` processes, reached through their kubeconfigs and
//! metrics URLs exactly as real hubs are.

mod common;

use common::{bin, run_bin};
use hive_scale_core::api::{ClusterDeployment, ClusterSync, Pipeline, SelectorSyncSet};
use hive_scale_core::hub::{Hub, HubOptions};
use hive_scale_core::scenario::progress::HiveObjects;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A small scenario on the current pipeline (ClusterSyncs), the laptop model.
fn scenario(dir: &Path, clusters: u32, sets: u32, time_scale: Option<f64>) -> PathBuf {
    let path = dir.join("scenario.yaml");
    let scale = time_scale.map_or(String::new(), |k| format!(", time_scale: {k}"));
    std::fs::write(
        &path,
        format!(
            "name: fleet-test\nclusters: {clusters}\nselectorsyncsets: {sets}\nconfigmaps: 1\n\
             embedded: {{preset: laptop, pipeline: clustersync{scale}}}\n\
             phases:\n  - selectorsyncsets: {{start: 0, count: {sets}}}\n  - adopt: {{start: 1, end: {clusters}}}\n  - observe: {{}}\n"
        ),
    )
    .unwrap();
    path
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn connect(kubeconfig: &Path) -> Hub {
    Hub::connect(&HubOptions::kubeconfig(kubeconfig.to_path_buf()))
        .await
        .unwrap()
}

/// Objects carrying run `run`'s label on `hub`: ClusterDeployments, namespaces, sets.
async fn run_objects(hub: &Hub, run: &str) -> (usize, usize, usize) {
    let lp = ListParams::default().labels(&format!("hive-scale.openshift.io/run={run}"));
    let cds = Api::<ClusterDeployment>::all(hub.client())
        .list(&lp)
        .await
        .unwrap()
        .items
        .len();
    let nss = Api::<Namespace>::all(hub.client())
        .list(&lp)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .count();
    let sets = Api::<SelectorSyncSet>::all(hub.client())
        .list(&lp)
        .await
        .unwrap()
        .items
        .len();
    (cds, nss, sets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_embedded_hubs_share_the_clones_and_the_summary_matches_their_clustersyncs() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // 241 clones over 3 hubs: 81, 80, 80.
    let scenario = scenario(dir.path(), 241, 2, Some(30.0));
    let mut child = tokio::process::Command::new(bin())
        .args(["scaletest", "--hubs", "3", "--keep", "--timeout", "2m"])
        .args([
            "--interval",
            "0.5",
            "--scenario",
            scenario.to_str().unwrap(),
        ])
        .args(["--out", out.to_str().unwrap()])
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    let t0 = Instant::now();
    while !stdout.contains("the embedded hubs keep running") {
        let line = tokio::time::timeout(
            Duration::from_secs(180).saturating_sub(t0.elapsed()),
            lines.next_line(),
        )
        .await
        .unwrap_or_else(|_| panic!("no end of the run in time: {stdout}"))
        .unwrap()
        .unwrap_or_else(|| panic!("scaletest ended early: {stdout}"));
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["kind"], "fleet");
    assert_eq!(s["status"], "passed", "{s:#}");
    assert_eq!(s["failed_hubs"], serde_json::json!([]));
    let fleet_run = s["run_id"].as_str().unwrap().to_string();
    let hubs = s["hubs"].as_array().unwrap();
    let names: Vec<&str> = hubs.iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hub-1", "hub-2", "hub-3"]);
    let identities: std::collections::HashSet<&str> = hubs
        .iter()
        .map(|h| h["identity"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(identities.len(), 3, "three hubs, three kube-system uids");
    let clusters: Vec<u64> = hubs
        .iter()
        .map(|h| h["clusters"].as_u64().unwrap())
        .collect();
    assert_eq!(clusters, [81, 80, 80]);

    // Every hub's objects and ClusterSyncs against its row of the summary.
    let mut fleet_pairs = 0;
    let mut fleet_max: f64 = 0.0;
    let mut pids = Vec::new();
    for h in hubs {
        let name = h["name"].as_str().unwrap();
        let hub_dir = out.join("hubs").join(name);
        let endpoints = read_json(&hub_dir.join("hub/hub.json"));
        pids.push(endpoints["pid"].as_u64().unwrap());
        // Its own process, ports and directory.
        assert!(
            endpoints["kubeconfig"]
                .as_str()
                .unwrap()
                .contains(&format!("hubs/{name}/hub")),
            "{endpoints}"
        );
        let hub = connect(&hub_dir.join("hub/hub.kubeconfig")).await;
        let n = h["clusters"].as_u64().unwrap() as usize;
        // Its objects carry its own run id, made from the fleet's.
        let run = h["run_id"].as_str().unwrap().to_string();
        assert_eq!(run, format!("{fleet_run}-{name}"));
        assert_eq!(h["identity"]["by"], "kube-system-uid", "{h:#}");
        assert_eq!(run_objects(&hub, &run).await, (n, n, 2), "{name}");
        assert_eq!(run_objects(&hub, &fleet_run).await, (0, 0, 0), "{name}");
        let syncs = Api::<ClusterSync>::all(hub.client())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        let first_successes = syncs
            .iter()
            .flat_map(|c| c.status.iter().flat_map(|st| st.selector_sync_sets.iter()))
            .filter(|e| e.first_success_time.is_some())
            .count();
        assert_eq!(
            first_successes,
            n * 2,
            "{name}: one success per (set, cluster)"
        );
        assert_eq!(
            h["pairs_applied"].as_u64().unwrap() as usize,
            n * 2,
            "{name}"
        );
        assert_eq!(
            h["pairs_expected"].as_u64().unwrap() as usize,
            n * 2,
            "{name}"
        );
        // Fan-out from the ClusterSyncs' firstSuccessTime against the creation of the set
        // and the cluster, and from Hive's histogram (what the run used): the histogram's
        // max is the upper bound of the bucket holding the slowest pair.
        let exact = HiveObjects::list(&hub, Some(Pipeline::ClusterSync))
            .await
            .unwrap()
            .scoped(Some(&run))
            .progress();
        assert_eq!(exact.done, n * 2);
        let slowest = exact.fanout.values().copied().fold(0.0, f64::max);
        let f = &h["fanout"];
        assert_eq!(h["fanout_from"], "hive-histogram");
        assert_eq!(f["count"].as_u64().unwrap() as usize, n * 2, "{name}");
        assert!(
            f["max"].as_f64().unwrap() + 1.0 >= slowest,
            "{name}: histogram max {} below the slowest pair {slowest}",
            f["max"]
        );
        assert!(f["p50"].as_f64().unwrap() <= f["max"].as_f64().unwrap());
        fleet_pairs += n * 2;
        fleet_max = fleet_max.max(slowest);
        // Its metrics findings, from its own recording.
        assert!(
            h["findings"]["queues"]
                .as_array()
                .is_some_and(|q| !q.is_empty()),
            "{name}: {h:#}"
        );
        let own = read_json(&hub_dir.join("summary.json"));
        assert_eq!(own["run_id"], run.as_str());
        assert_eq!(own["status"], "passed");
        assert_eq!(own["scenario"]["clusters"].as_u64().unwrap() as usize, n);
        assert!(hub_dir.join("report.md").exists());
    }
    let f = &s["fleet"];
    assert_eq!(f["pairs_applied"].as_u64().unwrap() as usize, fleet_pairs);
    assert_eq!(f["pairs_expected"].as_u64().unwrap() as usize, fleet_pairs);
    assert_eq!(f["clusters"], 241);
    assert_eq!(f["fanout"]["count"].as_u64().unwrap() as usize, fleet_pairs);
    assert_eq!(f["fanout_from"], "hive-histogram");
    assert!(f["fanout"]["max"].as_f64().unwrap() + 1.0 >= fleet_max);
    let drains: Vec<f64> = hubs
        .iter()
        .map(|h| h["drain_seconds"].as_f64().unwrap())
        .collect();
    let slowest = f["slowest_hub"].as_str().unwrap();
    let i = names.iter().position(|n| *n == slowest).unwrap();
    assert_eq!(f["drain_seconds"].as_f64().unwrap(), drains[i]);
    assert!(drains.iter().all(|d| *d <= drains[i]));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| hub-2 | 80 | passed |"), "{report}");
    assert!(report.contains("Slowest hub: "), "{report}");
    // Each hub's phase table, in the fleet's report.
    for name in &names {
        assert!(report.contains(&format!("## Hub {name} (")), "{report}");
    }
    assert_eq!(report.matches("| observe | ok |").count(), 3, "{report}");
    // And its findings (the re-apply needs a rate, which a run of seconds may not give).
    assert!(report.matches("\nQueue ").count() >= 3, "{report}");

    // The kept objects go through each hub's deprovision interlock, and nothing is left.
    for name in &names {
        let run = format!("{fleet_run}-{name}");
        let kubeconfig = out.join("hubs").join(name).join("hub/hub.kubeconfig");
        assert!(
            stdout.contains(&format!(
                "hub {name}: the run's objects are still there; to remove them: hive-scale teardown --all --run {run} --selectorsyncsets --kubeconfig {}",
                kubeconfig.display()
            )),
            "{stdout}"
        );
        let t = run_bin(
            &[
                "teardown",
                "--all",
                "--run",
                &run,
                "--selectorsyncsets",
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
            ],
            &[],
        )
        .await;
        t.ok();
        assert_eq!(
            run_objects(&connect(&kubeconfig).await, &run).await,
            (0, 0, 0)
        );
    }

    // SIGTERM stops the scale test and every hub it started.
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "hub process {pid} still running"
        );
    }
}

/// A `hive-scale hub` process of the test's own, which the test can kill.
struct HubProcess {
    dir: PathBuf,
    child: tokio::process::Child,
    metrics_url: String,
}

/// `hive-scale scaletest --fleet` in the background, its output kept for the end.
fn spawn_fleet_run(scenario: &Path, fleet_file: &Path, out: &Path) -> tokio::process::Child {
    tokio::process::Command::new(bin())
        .args(["scaletest", "--timeout", "2m", "--interval", "0.5"])
        .arg("--scenario")
        .arg(scenario)
        .arg("--fleet")
        .arg(fleet_file)
        .arg("--out")
        .arg(out)
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn start_hub(dir: PathBuf) -> HubProcess {
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("model.json"),
        r#"{"preset": "laptop", "pipeline": "clustersync"}"#,
    )
    .unwrap();
    let child = tokio::process::Command::new(bin())
        .args(["hub", "--stop-when-stdin-closes", "--dir"])
        .arg(&dir)
        .arg("--model")
        .arg(dir.join("model.json"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let endpoints = loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("hub.json")) {
            break serde_json::from_str::<Value>(&text).unwrap();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "hub did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    HubProcess {
        metrics_url: endpoints["metrics_url"].as_str().unwrap().to_string(),
        dir,
        child,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_mid_observe_fails_the_run_and_the_others_finish_clean() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut hubs = Vec::new();
    for name in ["east", "west", "south"] {
        hubs.push(start_hub(dir.path().join(name)).await);
    }
    let mut fleet = String::from("hubs:\n");
    for (name, h) in ["east", "west", "south"].iter().zip(&hubs) {
        // Relative paths are read from the fleet file's directory.
        fleet.push_str(&format!(
            "  - name: {name}\n    kubeconfig: {name}/hub.kubeconfig\n    spoke_kubeconfig: {name}/spoke.kubeconfig\n    metrics: {{metrics_url: {}}}\n    max_retries: 2\n",
            h.metrics_url
        ));
    }
    let fleet_file = dir.path().join("fleet.yaml");
    std::fs::write(&fleet_file, fleet).unwrap();
    let out = dir.path().join("out");
    // At real time, 60 clones of 3 sets a hub take the laptop model long enough to observe
    // that a kill lands mid-observe.
    let scenario = scenario(dir.path(), 180, 3, None);
    let child = spawn_fleet_run(&scenario, &fleet_file, &out);
    // West's adopt phase is recorded when its observe phase begins.
    let west = out.join("hubs/west/summary.json");
    let t0 = Instant::now();
    loop {
        let adopted = std::fs::read_to_string(&west)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|s| {
                s["phases"].as_array().is_some_and(|p| {
                    p.iter()
                        .any(|p| p["name"].as_str().unwrap().starts_with("adopt"))
                })
            });
        if adopted {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "west never adopted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    hubs[1].child.kill().await.unwrap();
    let killed_at = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    let o = tokio::time::timeout(Duration::from_secs(150), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("failed hubs: west"), "{stderr}");
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["status"], "failed");
    assert_eq!(s["failed_hubs"], serde_json::json!(["west"]));
    let rows = s["hubs"].as_array().unwrap();
    for r in rows {
        let name = r["name"].as_str().unwrap();
        if name == "west" {
            let f = &r["failure"];
            assert_eq!(f["phase"], "observe", "{r:#}");
            assert!(f["at"].as_f64().unwrap() >= killed_at, "{r:#}");
        } else {
            assert_eq!(r["status"], "passed", "{r:#}");
            assert_eq!(r["pairs_applied"], 180, "60 clones x 3 sets");
            assert!(r["failure"].is_null());
        }
    }
    assert_eq!(s["fleet"]["hubs_passed"], 2);
    // junit.xml: each hub's suite, west's with the failed observe phase.
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let suites: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<&str> = suites.iter().filter_map(|n| n.attribute("name")).collect();
    assert_eq!(
        names,
        [
            "east: scaletest fleet-test",
            "west: scaletest fleet-test",
            "south: scaletest fleet-test"
        ]
    );
    let failed: Vec<&str> = suites
        .iter()
        .filter(|s| s.descendants().any(|n| n.has_tag_name("failure")))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(failed, ["west: scaletest fleet-test"], "{junit}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("- **west** failed in observe at "),
        "{report}"
    );
    // The survivors were torn down through their interlock: nothing of the run is left.
    for (h, row) in [(&hubs[0], &rows[0]), (&hubs[2], &rows[2])] {
        let hub = connect(&h.dir.join("hub.kubeconfig")).await;
        assert_eq!(
            run_objects(&hub, row["run_id"].as_str().unwrap()).await,
            (0, 0, 0),
            "{}",
            h.dir.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fleet_files_are_one_error_line_and_create_nothing() {
    let hub = common::TestHub::start().await;
    let dir = hub.dir.path();
    let kubeconfig = hub.kubeconfig().to_str().unwrap().to_string();
    let namespaces_before = Api::<Namespace>::all(connect(hub.kubeconfig()).await.client())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    let good = format!("  - name: a\n    kubeconfig: {kubeconfig}\n    fake_cluster: true\n");
    // Another hub's kubeconfig (never contacted).
    let other = dir.join("other.kubeconfig");
    std::fs::write(
        &other,
        "apiVersion: v1\nkind: Config\nclusters: [{name: o, cluster: {server: 'https://127.0.0.1:9'}}]\n\
         users: [{name: o, user: {token: not-a-real-token}}]\n\
         contexts: [{name: o, context: {cluster: o, user: o}}]\ncurrent-context: o\n",
    )
    .unwrap();
    let other = other.to_str().unwrap();
    let cases: Vec<(String, &str)> = vec![
        ("hubs: []\n".into(), "lists no hubs"),
        (format!("hubs:\n{good}{good}"), "named twice"),
        (
            format!("hubs:\n{good}  - name: b\n    kubeconfig: {kubeconfig}\n"),
            "needs spoke_kubeconfig or fake_cluster",
        ),
        (
            format!(
                "hubs:\n{good}  - name: B\n    kubeconfig: {kubeconfig}\n    fake_cluster: true\n"
            ),
            "lowercase",
        ),
        (
            format!("hubs:\n{good}  - name: b\n    fake_cluster: true\n"),
            "needs kubeconfig",
        ),
        (
            format!(
                "hubs:\n{good}  - name: b\n    kubeconfig: nope.kubeconfig\n    fake_cluster: true\n"
            ),
            "nope.kubeconfig",
        ),
        (
            format!(
                "hubs:\n{good}  - name: b\n    kubeconfig: {kubeconfig}\n    fake_cluster: true\n    weight: 1\n    clusters: 2\n"
            ),
            "weight or clusters",
        ),
        (
            format!(
                "hubs:\n{good}  - name: b\n    kubeconfig: {other}\n    fake_cluster: true\n    clusters: 99\n"
            ),
            "exceed",
        ),
        (
            format!(
                "hubs:\n{good}  - name: b\n    kubeconfig: {kubeconfig}\n    fake_cluster: true\n"
            ),
            "hubs \"a\" and \"b\" are the same hub",
        ),
        (
            format!(
                "hubs:\n{good}  - name: b\n    kubeconfig: {other}\n    context: nope\n    fake_cluster: true\n"
            ),
            "has no context \"nope\"",
        ),
        (format!("hubs:\n{good}    colour: blue\n"), "colour"),
        (
            format!("hubs:\n{good}    metrics: {{prometheus: http://p, metrics_url: http://m}}\n"),
            "not both",
        ),
        (
            format!(
                "hubs:\n{good}    metrics: {{prometheus: http://p, token_file: missing-token}}\n"
            ),
            "missing-token",
        ),
        (
            format!(
                "hubs:\n{good}    metrics: {{metrics_url: [http://127.0.0.1:1/metrics, 'http://u:pw@metrics.example/metrics']}}\n"
            ),
            "http://metrics.example/metrics, whose host is not loopback",
        ),
    ];
    for (text, expect) in cases {
        let file = dir.join("fleet.yaml");
        std::fs::write(&file, &text).unwrap();
        let out = dir.join("out");
        let r = run_bin(
            &[
                "scaletest",
                "--clusters",
                "10",
                "--fleet",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        )
        .await;
        let line = r.one_error_line();
        assert_eq!(r.code, 2, "{text}: {}", r.stderr);
        assert!(line.contains(expect), "{text}: {line}");
        assert!(!out.exists(), "{text}: the result directory was created");
        assert!(!r.stderr.contains("not-a-real-token"), "{}", r.stderr);
    }
    // Flags a fleet file says per hub are refused with it.
    let file = dir.join("fleet.yaml");
    std::fs::write(&file, format!("hubs:\n{good}")).unwrap();
    let r = run_bin(
        &[
            "scaletest",
            "--fleet",
            file.to_str().unwrap(),
            "--kubeconfig",
            &kubeconfig,
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run_bin(
        &[
            "scaletest",
            "--fleet",
            file.to_str().unwrap(),
            "--fake-cluster",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.one_error_line().contains("per hub"), "{}", r.stderr);
    let r = run_bin(&["scaletest", "--hubs", "3", "--clusters", "2"], &[]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.one_error_line().contains("no cluster"), "{}", r.stderr);
    let namespaces_after = Api::<Namespace>::all(connect(hub.kubeconfig()).await.client())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(namespaces_before, namespaces_after, "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hub_s_refused_teardown_never_skips_another_hub_s_cleanup() {
    use kube::api::{Patch, PatchParams};
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut hubs = Vec::new();
    for name in ["north", "south"] {
        hubs.push(start_hub(dir.path().join(name)).await);
    }
    let mut fleet = String::from("hubs:\n");
    for (name, h) in ["north", "south"].iter().zip(&hubs) {
        fleet.push_str(&format!(
            "  - name: {name}\n    kubeconfig: {}\n    fake_cluster: true\n    metrics: {{metrics_url: [{}]}}\n",
            h.dir.join("hub.kubeconfig").display(),
            h.metrics_url
        ));
    }
    let fleet_file = dir.path().join("fleet.yaml");
    std::fs::write(&fleet_file, fleet).unwrap();
    let out = dir.path().join("out");
    let scenario = scenario(dir.path(), 40, 1, None);
    let child = spawn_fleet_run(&scenario, &fleet_file, &out);
    // Somebody turns clone 1 on north into a cluster Hive would deprovision on delete.
    let north = connect(&hubs[0].dir.join("hub.kubeconfig")).await;
    let cds = Api::<ClusterDeployment>::namespaced(north.client(), "ns1");
    let t0 = Instant::now();
    while cds.get_opt("c1").await.unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(60), "c1 never appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cds.patch(
        "c1",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"preserveOnDelete": false}})),
    )
    .await
    .unwrap();
    let o = tokio::time::timeout(Duration::from_secs(150), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(3), "{stdout}\n{stderr}");
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["failed_hubs"], serde_json::json!(["north"]));
    let rows = s["hubs"].as_array().unwrap();
    assert_eq!(rows[0]["status"], "refused");
    assert_eq!(rows[0]["failure"]["phase"], "teardown");
    assert!(
        rows[0]["teardown"].as_str().unwrap().contains("refused"),
        "{:#}",
        rows[0]
    );
    assert_eq!(rows[1]["status"], "passed");
    // North keeps only the refused clone (its namespace holds it); south is clean.
    let run = |row: &Value| row["run_id"].as_str().unwrap().to_string();
    assert_eq!(run_objects(&north, &run(&rows[0])).await, (1, 1, 0));
    let c1 = cds.get("c1").await.unwrap();
    assert!(
        c1.metadata.deletion_timestamp.is_none(),
        "c1 was not deleted"
    );
    let south = connect(&hubs[1].dir.join("hub.kubeconfig")).await;
    assert_eq!(run_objects(&south, &run(&rows[1])).await, (0, 0, 0));
}

/// Everything a fleet run could have written on a hub: namespace names, ClusterDeployments,
/// SelectorSyncSets.
async fn hub_objects(hub: &Hub) -> (Vec<String>, usize, usize) {
    let lp = ListParams::default();
    let mut namespaces: Vec<String> = Api::<Namespace>::all(hub.client())
        .list(&lp)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    namespaces.sort();
    let cds = Api::<ClusterDeployment>::all(hub.client())
        .list(&lp)
        .await
        .unwrap()
        .items
        .len();
    let sets = Api::<SelectorSyncSet>::all(hub.client())
        .list(&lp)
        .await
        .unwrap()
        .items
        .len();
    (namespaces, cds, sets)
}

/// A copy of a hub's kubeconfig that reaches it as `localhost` rather than 127.0.0.1.
fn as_localhost(kubeconfig: &Path) -> PathBuf {
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    assert!(text.contains("https://127.0.0.1:"), "{text}");
    let path = kubeconfig.with_extension("localhost.kubeconfig");
    std::fs::write(
        &path,
        text.replace("https://127.0.0.1:", "https://localhost:"),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_is_known_by_kube_system_else_by_its_certificate_whatever_its_url() {
    use hive_scale_core::scenario::fleet::HubIdentity;
    use hive_scale_core::scenario::fleet::identity::identify;
    use hive_scale_sim::apiserver::faults::FaultConfig;
    use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
    let hub = common::TestHub::start().await;
    let (a, b) = (
        connect(hub.kubeconfig()).await,
        connect(&as_localhost(hub.kubeconfig())).await,
    );
    let namespaces = Api::<Namespace>::all(a.client());
    let uid = namespaces
        .get("kube-system")
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    assert_eq!(
        identify(&a).await.unwrap(),
        HubIdentity::KubeSystemUid(uid.clone())
    );
    assert_eq!(identify(&b).await.unwrap(), HubIdentity::KubeSystemUid(uid));

    // kube-system absent: the API server's certificate, the same whatever the URL.
    namespaces
        .delete("kube-system", &Default::default())
        .await
        .unwrap();
    let t0 = Instant::now();
    while namespaces.get_opt("kube-system").await.unwrap().is_some() {
        assert!(t0.elapsed() < Duration::from_secs(30), "kube-system stays");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let by_cert = identify(&a).await.unwrap();
    assert!(
        matches!(&by_cert, HubIdentity::CertificateSha256(h) if h.len() == 64),
        "{by_cert:?}"
    );
    assert_eq!(identify(&b).await.unwrap(), by_cert);

    // kube-system forbidden (every resource request refused): another hub, another certificate.
    let dir = tempfile::tempdir().unwrap();
    let mut config = ApiServerConfig::new(dir.path(), "forbidding");
    config.faults = Some(FaultConfig::parse("403=1").unwrap());
    let forbidding = ApiServer::start(config).await.unwrap();
    let c = connect(forbidding.kubeconfig_path()).await;
    let e = Api::<Namespace>::all(c.client())
        .get("kube-system")
        .await
        .unwrap_err();
    assert!(matches!(&e, kube::Error::Api(s) if s.code == 403), "{e:?}");
    let other = identify(&c).await.unwrap();
    assert!(
        matches!(other, HubIdentity::CertificateSha256(_)),
        "{other:?}"
    );
    assert_ne!(other, by_cert);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hub_named_twice_is_refused_and_each_hub_s_objects_carry_its_own_run_id() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let one = start_hub(dir.path().join("one")).await;
    let two = start_hub(dir.path().join("two")).await;
    // The same hub reached as localhost: another spelling of its URL, another kubeconfig.
    as_localhost(&one.dir.join("hub.kubeconfig"));
    let hub_one = connect(&one.dir.join("hub.kubeconfig")).await;
    let before = hub_objects(&hub_one).await;
    let scenario = scenario(dir.path(), 4, 1, None);
    let fleet_file = dir.path().join("twice.yaml");
    std::fs::write(
        &fleet_file,
        "hubs:\n  - name: a\n    kubeconfig: one/hub.kubeconfig\n    fake_cluster: true\n\
         \x20 - name: b\n    kubeconfig: one/hub.localhost.kubeconfig\n    fake_cluster: true\n",
    )
    .unwrap();
    let out = dir.path().join("out-twice");
    let r = run_bin(
        &[
            "scaletest",
            "--scenario",
            scenario.to_str().unwrap(),
            "--fleet",
            fleet_file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--timeout",
            "1m",
        ],
        &[],
    )
    .await;
    let line = r.one_error_line();
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        line.contains("hubs \"a\" and \"b\" are the same hub") && line.contains("kube-system"),
        "{line}"
    );
    assert!(!out.exists(), "the result directory was created");
    assert_eq!(hub_objects(&hub_one).await, before, "something was written");

    // Two hubs: each member's objects carry a run id of its own, derived from the fleet's.
    let fleet_file = dir.path().join("two.yaml");
    std::fs::write(
        &fleet_file,
        format!(
            "hubs:\n  - name: a\n    kubeconfig: one/hub.kubeconfig\n    fake_cluster: true\n    metrics: {{metrics_url: {}}}\n\
             \x20 - name: b\n    kubeconfig: two/hub.kubeconfig\n    fake_cluster: true\n    metrics: {{metrics_url: {}}}\n",
            one.metrics_url, two.metrics_url
        ),
    )
    .unwrap();
    let out = dir.path().join("out-two");
    let r = run_bin(
        &[
            "scaletest",
            "--scenario",
            scenario.to_str().unwrap(),
            "--fleet",
            fleet_file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--timeout",
            "1m",
            "--run",
            "fleet-run-1",
            "--keep",
        ],
        &[],
    )
    .await;
    r.ok();
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["status"], "passed", "{s:#}");
    assert_eq!(s["run_id"], "fleet-run-1");
    let rows = s["hubs"].as_array().unwrap();
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let mut identities = Vec::new();
    for (row, hub_dir) in rows.iter().zip([&one.dir, &two.dir]) {
        let name = row["name"].as_str().unwrap();
        let run = format!("fleet-run-1-{name}");
        assert_eq!(row["run_id"], run.as_str(), "{row:#}");
        assert_eq!(row["identity"]["by"], "kube-system-uid", "{row:#}");
        identities.push(row["identity"]["value"].as_str().unwrap().to_string());
        let own = read_json(&out.join("hubs").join(name).join("summary.json"));
        assert_eq!(own["run_id"], run.as_str());
        assert!(report.contains(&run), "{report}");
        let hub = connect(&hub_dir.join("hub.kubeconfig")).await;
        assert_eq!(run_objects(&hub, &run).await, (2, 2, 1), "{name}");
        assert_eq!(run_objects(&hub, "fleet-run-1").await, (0, 0, 0), "{name}");
        let kubeconfig = hub_dir.join("hub.kubeconfig");
        let teardown = format!(
            "hub {name}: the run's objects are still there; to remove them: hive-scale teardown --all --run {run} --selectorsyncsets --kubeconfig {}",
            kubeconfig.display()
        );
        assert!(r.stdout.contains(&teardown), "{}", r.stdout);
        run_bin(
            &[
                "teardown",
                "--all",
                "--run",
                &run,
                "--selectorsyncsets",
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
            ],
            &[],
        )
        .await
        .ok();
        assert_eq!(run_objects(&hub, &run).await, (0, 0, 0), "{name}");
    }
    assert_ne!(
        identities[0], identities[1],
        "two hubs, one kube-system uid"
    );
    // Hub one's own kube-system is what identified it.
    let kube_system = Api::<Namespace>::all(hub_one.client())
        .get("kube-system")
        .await
        .unwrap();
    assert_eq!(
        kube_system.metadata.uid.as_deref(),
        Some(identities[0].as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_hub_is_named_and_the_others_run() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let up = start_hub(dir.path().join("up")).await;
    let mut down = start_hub(dir.path().join("down")).await;
    down.child.kill().await.unwrap();
    let fleet_file = dir.path().join("fleet.yaml");
    std::fs::write(
        &fleet_file,
        format!(
            "hubs:\n  - name: up\n    kubeconfig: up/hub.kubeconfig\n    fake_cluster: true\n    metrics: {{metrics_url: {}}}\n    clusters: 6\n\
             \x20 - name: down\n    kubeconfig: down/hub.kubeconfig\n    fake_cluster: true\n    max_retries: 0\n    clusters: 4\n",
            up.metrics_url
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let scenario = scenario(dir.path(), 10, 1, None);
    let r = run_bin(
        &[
            "scaletest",
            "--scenario",
            scenario.to_str().unwrap(),
            "--fleet",
            fleet_file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--timeout",
            "1m",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[down] cannot connect"), "{}", r.stdout);
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["failed_hubs"], serde_json::json!(["down"]));
    let rows = s["hubs"].as_array().unwrap();
    assert_eq!(rows[0]["status"], "passed", "{:#}", rows[0]);
    assert_eq!(rows[0]["pairs_applied"], 6);
    assert_eq!(rows[1]["failure"]["phase"], "connect");
    assert!(rows[1]["failure"]["at"].as_f64().unwrap() >= s["started"].as_f64().unwrap());
    assert_eq!(s["fleet"]["pairs_applied"], 6);
    assert_eq!(s["fleet"]["clusters"], 10);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("- **down** failed in connect at "),
        "{report}"
    );
    let hub = connect(&up.dir.join("hub.kubeconfig")).await;
    assert_eq!(
        run_objects(&hub, rows[0]["run_id"].as_str().unwrap()).await,
        (0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_every_hub_s_run_and_the_embedded_hubs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // 100 clones of 3 sets a hub: the laptop model takes about 35 s to apply them at real time,
    // long enough for both hubs to be observing when SIGTERM comes.
    let scenario = scenario(dir.path(), 200, 3, Some(1.0));
    let child = tokio::process::Command::new(bin())
        .args(["scaletest", "--hubs", "2", "--timeout", "2m"])
        .args(["--scenario", scenario.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    // Two phases recorded: the sets and the adoption; observing has begun.
    let adopted = |hub: &str| {
        std::fs::read_to_string(out.join("hubs").join(hub).join("summary.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|s| s["phases"].as_array().is_some_and(|p| p.len() >= 2))
    };
    while !(adopted("hub-1") && adopted("hub-2")) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the hubs never adopted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pids: Vec<u64> = ["hub-1", "hub-2"]
        .iter()
        .map(|h| {
            read_json(&out.join("hubs").join(h).join("hub/hub.json"))["pid"]
                .as_u64()
                .unwrap()
        })
        .collect();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    let o = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(143), "{stdout}");
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["status"], "interrupted");
    for h in s["hubs"].as_array().unwrap() {
        assert_eq!(h["status"], "interrupted", "{h:#}");
        let own = read_json(&out.join(h["dir"].as_str().unwrap()).join("summary.json"));
        assert_eq!(own["signal"], "SIGTERM");
    }
    // The embedded hubs went with the run, so there is no teardown command to print.
    assert!(!stdout.contains("to remove them"), "{stdout}");
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "hub {pid} still runs"
        );
    }
}

/// The card's way in, `cargo run --example scaletest -- --hubs N`, with no `hive-scale` on
/// PATH: the example starts its hubs from its own code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_starts_its_hubs_without_hive_scale_installed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = scenario(dir.path(), 4, 1, Some(30.0));
    let r = common::run_with_env(
        "scaletest",
        &[
            "--hubs",
            "2",
            "--timeout",
            "2m",
            "--scenario",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        // Only the system's programs: no hive-scale.
        &[("PATH", "/usr/bin:/bin")],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("started 2 embedded hubs"), "{}", r.stdout);
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["fleet"]["hubs_passed"], 2, "{s}");
}
