//! The `hive-scale` program: its subcommands against the examples, credentials resolved as
//! kubectl resolves them, SIGTERM, and a real hub's pipeline found out and watched.

mod common;

use common::{TestHub, bin, run_bin, run_with_env};
use hive_scale_core::api::SelectorSyncSet;
use kube::api::Api;
use kube::config::Kubeconfig;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_is_a_subcommand_and_says_the_same_as_its_example() {
    let help = run_bin(&["--help"], &[]).await;
    help.ok();
    for sub in [
        "hub",
        "setup-selectorsyncsets",
        "test-setup",
        "get-kubeconfig",
        "teardown",
        "plan",
        "snapshot",
        "record",
        "report",
        "scaletest",
        "completion",
    ] {
        assert!(
            help.stdout.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{}",
            help.stdout
        );
    }
    // The same code behind both fronts: the same YAML for the same flags.
    let args = [
        "--count",
        "2",
        "--configmaps",
        "1",
        "--run",
        "r",
        "--dry-run",
    ];
    let from_bin = run_bin(&[&["setup-selectorsyncsets"], &args[..]].concat(), &[]).await;
    let from_example = run_with_env("setup_selectorsyncsets", &args, &[]).await;
    from_bin.ok();
    from_example.ok();
    assert_eq!(from_bin.stdout, from_example.stdout);
    assert!(from_bin.stdout.contains("name: scaletest-1-configmap"));
    let plan = [
        "--clusters",
        "20",
        "--selectorsyncsets",
        "2",
        "--configmaps",
        "1",
        "--json",
    ];
    let a = run_bin(&[&["plan"], &plan[..]].concat(), &[]).await;
    let b = run_with_env("plan", &plan, &[]).await;
    let without_wall_time = |text: &str| {
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        v[0].as_object_mut().unwrap().remove("wall_seconds");
        v
    };
    assert_eq!(
        without_wall_time(&a.ok().stdout),
        without_wall_time(&b.ok().stdout),
        "the planner is deterministic and the same code runs"
    );

    let completion = run_bin(&["completion", "bash"], &[]).await;
    completion.ok();
    assert!(completion.stdout.contains("hive-scale"));
    assert!(completion.stdout.contains("setup-selectorsyncsets"));
    assert_eq!(run_bin(&["completion", "tcsh"], &[]).await.code, 2);

    let bogus = run_bin(&["frobnicate"], &[]).await;
    assert_eq!(bogus.code, 2);
    assert!(
        bogus.one_error_line().contains("frobnicate"),
        "{}",
        bogus.stderr
    );
    let bad_duration = run_bin(&["record", "--duration", "5 parsecs"], &[]).await;
    assert_eq!(bad_duration.code, 2, "{}", bad_duration.stderr);
}

/// Every front reports a bad command line or input the same way: exactly one `error:` line
/// that says what is wrong, exit code 2, and nothing written or contacted (no hub is given:
/// a tool that went on would fail to connect instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_command_line_is_one_line_and_exit_2_in_every_front() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (out, recording) = (d("out"), d("none.jsonl"));
    let profile = d("profile.yaml");
    std::fs::write(
        &profile,
        "name: x\nqueries: [{name: a, query: up, kind: speed}]\n",
    )
    .unwrap();
    let typo = d("typo.yaml");
    std::fs::write(
        &typo,
        "name: x\nclusters: 5\nselectorsyncsets: 1\nconfigmpas: 1\nphases: []\n",
    )
    .unwrap();
    let typo_at = format!("scenario {typo}:4:1: unknown field `configmpas`, expected one of");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["scaletest", "--scenario", &typo, "--out", &out],
            &typo_at,
        ),
        (vec!["teardown"], "<START|--all|--selector <SELECTOR>>"),
        (
            vec!["teardown", "5", "1"],
            "the first clone index (5) is greater than the last (1)",
        ),
        (vec!["teardown", "0"], "start at 1"),
        (
            vec!["test-setup", "-", "5", "1", "--fake-cluster"],
            "greater than the last",
        ),
        (
            vec!["test-setup", "-", "0", "1", "--fake-cluster"],
            "start at 1",
        ),
        (
            vec!["test-setup", "-", "1", "2"],
            "only with --fake-cluster",
        ),
        (vec!["test-setup", &recording, "1", "2"], "cannot be read"),
        (vec!["test-setup"], "<SPOKE_KUBECONFIG>, <START>, <END>"),
        (vec!["get-kubeconfig", "ns1/"], "expected [NAMESPACE/]NAME"),
        (vec!["report", &recording, "--out", &out], "none.jsonl"),
        (vec!["snapshot", "--profile", &profile], "profile"),
        (
            vec!["record", "--out", &out, "--token-file", &recording],
            "none.jsonl",
        ),
        (
            vec!["hub", "--pipeline"],
            "a value is required for '--pipeline <PIPELINE>'",
        ),
        (vec!["hub", "--preset", "nope"], "nope"),
        (
            vec!["setup-selectorsyncsets", "--template", &recording],
            "none.jsonl",
        ),
    ];
    for (args, says) in cases {
        let r = run_bin(&args, &[]).await;
        let line = r.one_error_line();
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(line.contains(says), "{args:?}: {line}");
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
    assert!(
        !dir.path().join("out").exists(),
        "nothing is written on bad input"
    );
}

/// Writes `kc` as a kubeconfig file (JSON is YAML).
fn write_kubeconfig(path: &std::path::Path, kc: &Kubeconfig) {
    std::fs::write(path, serde_json::to_string_pretty(kc).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_resolved_as_kubectl_resolves_them() {
    let hub = TestHub::start().await;
    let dir = hub.dir.path();
    let full = Kubeconfig::read_from(hub.kubeconfig()).unwrap();
    // Split the hub's kubeconfig over two files as people's KUBECONFIG lists are: users and
    // contexts in one (whose current context points at a hub that does not answer), clusters
    // in the other.
    let mut users = full.clone();
    users.clusters.clear();
    let mut dead = users.contexts[0].clone();
    dead.name = "elsewhere".into();
    dead.context.as_mut().unwrap().cluster = "nowhere".into();
    users.contexts.push(dead);
    users.current_context = Some("elsewhere".into());
    let mut clusters = Kubeconfig {
        clusters: full.clusters.clone(),
        ..Kubeconfig::default()
    };
    let mut nowhere = full.clusters[0].clone();
    nowhere.name = "nowhere".into();
    nowhere.cluster.as_mut().unwrap().server = Some("https://127.0.0.1:1".into());
    clusters.clusters.push(nowhere);
    let (a, b) = (dir.join("users.yaml"), dir.join("clusters.yaml"));
    write_kubeconfig(&a, &users);
    write_kubeconfig(&b, &clusters);
    let list = std::env::join_paths([dir.join("missing.yaml"), a.clone(), b.clone()]).unwrap();
    let list = list.to_str().unwrap();
    let context = full.current_context.clone().unwrap();
    let setup = |extra: &[&str]| {
        let mut args = vec![
            "setup-selectorsyncsets",
            "--count",
            "1",
            "--configmaps",
            "1",
            "--max-retries",
            "0",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>, env: Vec<(&'static str, String)>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_bin(&args, &env).await
    };
    // The merged list's current context is the dead hub: one error line naming it.
    let r = run(setup(&[]), vec![("KUBECONFIG", list.into())]).await;
    assert!(r.one_error_line().contains("127.0.0.1:1"), "{}", r.stderr);
    // --context picks a context of the first file and a cluster of the second.
    let r = run(
        setup(&["--context", &context]),
        vec![("KUBECONFIG", list.into())],
    )
    .await;
    r.ok();
    let sets: Api<SelectorSyncSet> = Api::all(hub.server.client().await.unwrap());
    assert!(
        sets.get_opt("scaletest-0-configmap")
            .await
            .unwrap()
            .is_some()
    );
    // A list of files none of which exists is an error, not a fall back to another hub.
    let none = std::env::join_paths([dir.join("x.yaml"), dir.join("y.yaml")]).unwrap();
    let r = run(
        setup(&[]),
        vec![("KUBECONFIG", none.to_str().unwrap().into())],
    )
    .await;
    assert!(
        r.one_error_line().contains("does not exist"),
        "{}",
        r.stderr
    );
    // No kubeconfig anywhere, in a pod: the service account is tried (and here is missing).
    let home = tempfile::tempdir().unwrap();
    let r = run(
        setup(&[]),
        vec![
            ("HOME", home.path().to_str().unwrap().into()),
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1".into()),
            ("KUBERNETES_SERVICE_PORT", "1".into()),
        ],
    )
    .await;
    assert!(
        r.one_error_line().contains("service account"),
        "{}",
        r.stderr
    );
    // --in-cluster is a request for the hub the pod runs in, never the embedded one.
    let r = run_bin(
        &[
            "scaletest",
            "--in-cluster",
            "--fake-cluster",
            "--clusters",
            "1",
        ],
        &[],
    )
    .await;
    assert!(
        r.one_error_line().contains("service account"),
        "{}",
        r.stderr
    );
    // Not in a pod either: the error names ~/.kube/config.
    let r = run(
        setup(&[]),
        vec![("HOME", home.path().to_str().unwrap().into())],
    )
    .await;
    assert!(r.one_error_line().contains(".kube/config"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_run_like_ctrl_c_with_its_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("term");
    let child = tokio::process::Command::new(bin())
        .args([
            "scaletest",
            "--clusters",
            "30",
            "--selectorsyncsets",
            "6",
            "--time-scale",
            "1",
            "--interval",
            "200ms",
            "--out",
            out.to_str().unwrap(),
        ])
        .env_remove("KUBECONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    let pid = child.id().unwrap();
    // Read stderr as it comes, and wait until it is observing: a progress line says so. A busy
    // machine (CI runs tests side by side) can take a while to get there.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        use tokio::io::AsyncBufReadExt;
        let (seen, err) = (seen.clone(), child.stderr.take().unwrap());
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let mut s = seen.lock().unwrap();
                s.push_str(&l);
                s.push('\n');
            }
        })
    };
    for _ in 0..1200 {
        if seen.lock().unwrap().contains("pairs applied (") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = child.wait().await.unwrap();
    reader.await.unwrap();
    let stderr = seen.lock().unwrap().clone();
    assert_eq!(status.code(), Some(143), "{stderr}");
    // Not on a terminal: progress comes as plain lines.
    assert!(
        stderr.contains("pairs applied ("),
        "a progress line while observing: {stderr}"
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "interrupted");
    assert_eq!(s["signal"], "SIGTERM");
    assert_eq!(s["exit_code"], 143);
}

/// A hub the tool did not start, running the 2020 pipeline: scaletest finds that out (both
/// kinds are served, neither has objects, so from what Hive writes), passes, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_hub_running_the_2020_pipeline_is_found_out_and_watched() {
    use hive_scale_core::api::Pipeline;
    use hive_scale_core::hub::{Hub, HubOptions};
    use hive_scale_core::scenario::runner::{Detected, detect_pipeline};
    use hive_scale_sim::controllers::SimConfig;
    use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
    use hive_scale_sim::model::CostModel;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedHubConfig::new(dir.path().join("hub"));
    cfg.time_scale = hive_scale_sim::clock::TimeScale::new(20.0).unwrap();
    let mut model = CostModel::preset("laptop").unwrap();
    model.pipeline = Pipeline::SyncSetInstance;
    cfg.sim = SimConfig::new(model);
    let hub = EmbeddedHub::start(cfg).await.unwrap();
    let kubeconfig = hub.kubeconfig_path().to_str().unwrap().to_string();
    // Somebody else's SelectorSyncSet that Hive applies to the test's clusters too: its pairs
    // are not the test's, in the counts, in the metrics or in fan-out.
    let foreign: SelectorSyncSet = serde_json::from_value(serde_json::json!({
        "apiVersion": "hive.openshift.io/v1",
        "kind": "SelectorSyncSet",
        "metadata": {"name": "production-config"},
        "spec": {
            "clusterDeploymentSelector": {"matchLabels": {"scaletest": "true"}},
            "resourceApplyMode": "Sync",
            "resources": [{"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "prod", "namespace": "default"}, "data": {"a": "b"}}]
        }
    }))
    .unwrap();
    let sets: Api<SelectorSyncSet> = Api::all(hub.api_server().client().await.unwrap());
    sets.create(&Default::default(), &foreign).await.unwrap();
    let out = dir.path().join("run");
    let r = run_bin(
        &[
            "scaletest",
            "--kubeconfig",
            &kubeconfig,
            "--fake-cluster",
            "--metrics-url",
            &hub.metrics_url(),
            "--clusters",
            "8",
            "--selectorsyncsets",
            "3",
            "--configmaps",
            "1",
            "--timeout",
            "2m",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("pipeline found out when Hive first writes"),
        "{}",
        r.stdout
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["pipeline"], "syncsetinstance");
    let observe = s["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "observe")
        .unwrap();
    assert_eq!(observe["pairs_applied"], 8 * 3);
    // With Hive's metrics at hand, fan-out comes from its histogram, not from the objects.
    assert_eq!(s["fanout_from"], "hive-histogram");
    assert_eq!(s["fanout"]["count"], 8 * 3);
    assert!(
        s["fanout"]["p99"].as_f64().unwrap() > 0.0,
        "{}",
        s["fanout"]
    );
    assert!(
        sets.get_opt("production-config").await.unwrap().is_some(),
        "teardown leaves other people's sets"
    );

    // Without one of the kinds the answer comes from discovery alone; without both, Hive is
    // not there and the run would write nothing.
    let opts = HubOptions::kubeconfig(&kubeconfig);
    let client = Hub::connect(&opts).await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.client());
    crds.delete("syncsetinstances.hive.openshift.io", &Default::default())
        .await
        .unwrap();
    assert_eq!(
        detect_pipeline(&client).await.unwrap(),
        Detected::Pipeline(Pipeline::ClusterSync)
    );
    crds.delete(
        "clustersyncs.hiveinternal.openshift.io",
        &Default::default(),
    )
    .await
    .unwrap();
    let e = detect_pipeline(&client).await.unwrap_err().to_string();
    assert!(e.contains("is Hive installed?"), "{e}");
    hub.shutdown().await;
}

/// `plan --no-probe` does not time a new set: the table says "skipped" and the JSON says
/// so, rather than "never" (which means the new set never reached every cluster).
#[tokio::test]
async fn plan_without_the_probe_says_the_new_set_was_not_measured() {
    let args = [
        "--clusters",
        "2",
        "--selectorsyncsets",
        "1",
        "--configmaps",
        "1",
        "--no-probe",
    ];
    let table = run_with_env("plan", &args, &[]).await.ok().stdout.clone();
    let row = table.lines().nth(1).unwrap();
    assert!(row.contains("skipped"), "{table}");
    assert!(!row.contains("never"), "{table}");
    let json = run_with_env("plan", &[&args[..], &["--json"]].concat(), &[])
        .await
        .ok()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["new_set_measured"], false, "{json}");
    assert!(v[0]["new_set_seconds"].is_null(), "{json}");
    // With the probe, it is measured.
    let probed = run_with_env("plan", &[&args[..6], &["--json"]].concat(), &[])
        .await
        .ok()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_str(&probed).unwrap();
    assert_eq!(v[0]["new_set_measured"], true, "{probed}");
    assert!(v[0]["new_set_seconds"].as_f64().unwrap() > 0.0, "{probed}");
}

/// Credentials that may not list what the observer watches: one line naming the kind and the
/// permissions a run needs, before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_without_permission_say_which_before_writing() {
    use hive_scale_sim::apiserver::faults::FaultConfig;
    use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedHubConfig::new(dir.path().join("hub"));
    cfg.faults = Some(FaultConfig::parse("403=1").unwrap());
    let hub = EmbeddedHub::start(cfg).await.unwrap();
    let r = run_bin(
        &[
            "scaletest",
            "--kubeconfig",
            hub.kubeconfig_path().to_str().unwrap(),
            "--fake-cluster",
            "--clusters",
            "2",
            "--out",
            dir.path().join("run").to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let line = r.one_error_line();
    assert!(
        line.contains("may not list clusterdeployments.hive.openshift.io (HTTP 403)"),
        "{line}"
    );
    assert!(!dir.path().join("run").join("summary.json").exists());
    hub.shutdown().await;
}

/// An incremental scenario on a hub reached through its kubeconfig, with Hive's metrics: sets
/// added to clusters that synced before, a change to a set seen landing on every cluster (the
/// sync objects are watched from then on), a late clone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_of_an_incremental_scenario_lands_on_a_real_hub() {
    use hive_scale_sim::controllers::SimConfig;
    use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
    use hive_scale_sim::model::CostModel;
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedHubConfig::new(dir.path().join("hub"));
    cfg.time_scale = hive_scale_sim::clock::TimeScale::new(50.0).unwrap();
    cfg.sim = SimConfig::new(CostModel::preset("laptop").unwrap());
    let hub = EmbeddedHub::start(cfg).await.unwrap();
    let out = dir.path().join("run");
    let r = run_bin(
        &[
            "scaletest",
            "--scenario",
            "2019-incremental",
            "--clusters",
            "12",
            "--selectorsyncsets",
            "4",
            "--kubeconfig",
            hub.kubeconfig_path().to_str().unwrap(),
            "--fake-cluster",
            "--metrics-url",
            &hub.metrics_url(),
            "--timeout",
            "2m",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let phases = s["phases"].as_array().unwrap();
    assert!(
        phases
            .iter()
            .any(|p| p["name"].as_str().unwrap().starts_with("add-resource")),
        "{phases:?}"
    );
    assert!(phases.iter().all(|p| p["outcome"] == "ok"), "{phases:?}");
    let last = phases
        .iter()
        .rev()
        .find(|p| p["name"] == "observe")
        .unwrap();
    assert_eq!(last["pairs_applied"], last["pairs_expected"]);
    assert_eq!(s["fanout"]["count"], last["pairs_expected"]);
    hub.shutdown().await;
}

/// HiveConfig sets the hub's workers as Hive's operator would; the replicas it asks for are
/// fixed when the hub starts, and the hub says so rather than ignoring them quietly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_takes_hiveconfig_workers_and_says_it_keeps_its_replicas() {
    let Some(kubectl) = hive_scale_sim::testing::tool(
        "kubectl",
        "the_hub_takes_hiveconfig_workers_and_says_it_keeps_its_replicas",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let log = dir.path().join("hub.log");
    let mut child = tokio::process::Command::new(bin())
        .args([
            "hub",
            "--replicas",
            "2",
            "--stop-when-stdin-closes",
            "--dir",
        ])
        .arg(&hub_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let endpoints: serde_json::Value = loop {
        if let Ok(text) = std::fs::read_to_string(hub_dir.join("hub.json")) {
            break serde_json::from_str(&text).unwrap();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "hub did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let hiveconfig = dir.path().join("hiveconfig.yaml");
    std::fs::write(
        &hiveconfig,
        "apiVersion: hive.openshift.io/v1\nkind: HiveConfig\nmetadata:\n  name: hive\nspec:\n  \
         controllersConfig:\n    controllers:\n    - name: clustersync\n      config:\n        \
         concurrentReconciles: 7\n        replicas: 3\n",
    )
    .unwrap();
    let applied = tokio::process::Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(hub_dir.join("hub.kubeconfig"))
        .args(["apply", "-f"])
        .arg(&hiveconfig)
        .output()
        .await
        .unwrap();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let scraper = hive_scale_core::metrics::Scraper::new(
        &[endpoints["metrics_url"].as_str().unwrap().to_string()],
        &Default::default(),
    )
    .unwrap();
    let spec: hive_scale_core::metrics::ScrapeSpec = serde_saphyr::from_str(
        "{metric: controller_runtime_max_concurrent_reconciles, op: sum, by: [controller, pod]}",
    )
    .unwrap();
    // The clustersync workers of each pod.
    let workers = |page: &hive_scale_core::metrics::Scrape| {
        let v = hive_scale_core::metrics::scrape::evaluate(&spec, page, None).unwrap();
        let mut by_pod: Vec<(String, f64)> = v
            .values()
            .into_iter()
            .filter(|(l, _)| {
                l.get("controller").map(String::as_str) == Some("clusterSync-controller")
            })
            .map(|(l, n)| (l.get("pod").cloned().unwrap_or_default(), n))
            .collect();
        by_pod.sort_by(|a, b| a.0.cmp(&b.0));
        by_pod
    };
    let want = vec![
        ("hive-clustersync-0".to_string(), 7.0),
        ("hive-clustersync-1".to_string(), 7.0),
    ];
    let (mut seen, mut said) = (Vec::new(), String::new());
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        seen = workers(&scraper.scrape().await.unwrap());
        said = std::fs::read_to_string(&log).unwrap();
        if seen == want && said.contains("HiveConfig asks for 3 clustersync replicas") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both replicas run HiveConfig's 7 workers, and no third replica appears.
    assert_eq!(seen, want);
    assert!(
        said.contains("HiveConfig asks for 3 clustersync replicas")
            && said.contains("keeps the 2 it was started with"),
        "{said}"
    );
    assert!(
        !said.contains('\u{1b}'),
        "no colour codes in a log file: {said:?}"
    );
    drop(child.stdin.take());
    let _ = child.wait().await;
}

/// A result directory holds one run: `scaletest`, `report` and `record` refuse one that holds
/// an earlier run's results (nothing is touched) unless `--force`, which removes those first
/// and nothing else, so a report never mixes two runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_directory_holds_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    std::fs::create_dir_all(out.join("mine")).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let out_s = out.to_str().unwrap();
    let scaletest = |run: &'static str, force: bool| {
        let mut args = vec![
            "scaletest",
            "--clusters",
            "2",
            "--selectorsyncsets",
            "1",
            "--configmaps",
            "1",
            "--time-scale",
            "100",
            "--run",
            run,
            "--out",
            out_s,
        ];
        if force {
            args.push("--force");
        }
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_bin(&args, &[]).await
    };
    let summary = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
    };
    // A directory with only somebody else's files is fine.
    let r = run(scaletest("first-run", false)).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(summary()["run_id"], "first-run");
    // Again: refused, and the first run's results are as they were.
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let r = run(scaletest("second-run", false)).await;
    let line = r.one_error_line();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        line.contains("holds an earlier run's results") && line.contains("--force"),
        "{line}"
    );
    assert_eq!(summary()["run_id"], "first-run");
    assert_eq!(
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        report
    );
    // --force: the first run's results are gone, the report is the second run's alone, and
    // what is not a run's is still there.
    let r = run(scaletest("second-run", true)).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("removed"), "{}", r.stderr);
    assert_eq!(summary()["run_id"], "second-run");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("second-run") && !report.contains("first-run"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(out.join("mine").is_dir());

    // report: the same rule; --force keeps the recording it reads.
    let recording = out.join("recording.jsonl");
    let rec_s = recording.to_str().unwrap();
    let r = run_bin(&["report", rec_s, "--out", out_s], &[]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.one_error_line().contains("--force"), "{}", r.stderr);
    let r = run_bin(&["report", rec_s, "--out", out_s, "--force"], &[]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(recording.exists() && out.join("metrics-summary.json").exists());
    assert!(!out.join("summary.json").exists() && !out.join("hub").exists());
    assert!(out.join("notes.txt").exists());
    // A directory holding only the recording read is not an earlier run's.
    let alone = dir.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(&recording, alone.join("recording.jsonl")).unwrap();
    let r = run_bin(
        &[
            "report",
            alone.join("recording.jsonl").to_str().unwrap(),
            "--out",
            alone.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // record: an existing file is an earlier recording.
    let before = std::fs::read(&recording).unwrap();
    let dead = "http://127.0.0.1:1/metrics";
    let r = run_bin(&["record", "--metrics-url", dead, "--out", rec_s], &[]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.one_error_line().contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read(&recording).unwrap(), before);
    // With --force it goes on (to find nobody at that URL).
    let r = run_bin(
        &["record", "--metrics-url", dead, "--out", rec_s, "--force"],
        &[],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.one_error_line()
            .contains("cannot reach the metrics endpoint"),
        "{}",
        r.stderr
    );
}

/// One hub serves a directory: a second `hive-scale hub --dir D` (or an embedded hub started
/// there, as scaletest starts OUT/hub) is refused while the first runs, and leaves the first's
/// kubeconfig and hub.json as they were; a killed hub leaves no stale lock behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_directory_is_served_by_one_hub_at_a_time() {
    use hive_scale_core::files::LockError;
    use hive_scale_sim::SimError;
    use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let mut first = tokio::process::Command::new(bin())
        .args([
            "hub",
            "--no-controllers",
            "--stop-when-stdin-closes",
            "--dir",
        ])
        .arg(&hub_dir)
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = first.id().unwrap();
    let t0 = std::time::Instant::now();
    while !hub_dir.join("hub.json").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "hub did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let files = || {
        (
            std::fs::read(hub_dir.join("hub.json")).unwrap(),
            std::fs::read(hub_dir.join("hub.kubeconfig")).unwrap(),
        )
    };
    let before = files();
    let r = run_bin(
        &[
            "hub",
            "--no-controllers",
            "--dir",
            hub_dir.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let line = r.one_error_line();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        line.contains(&format!("is served by another hub (pid {pid})")) && line.contains("--dir"),
        "{line}"
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let no_controllers = || {
        let mut cfg = EmbeddedHubConfig::new(&hub_dir);
        cfg.controllers = false;
        cfg.spoke = false;
        cfg
    };
    match EmbeddedHub::start(no_controllers()).await {
        Err(SimError::Lock(LockError::Held { pid: held_by, .. })) => {
            assert_eq!(held_by, Some(pid))
        }
        other => panic!("{other:?}"),
    }
    assert!(files() == before, "the serving hub's files are untouched");
    // The first still answers through what it wrote.
    let opts = hive_scale_core::hub::HubOptions::kubeconfig(hub_dir.join("hub.kubeconfig"));
    let client = hive_scale_core::hub::Hub::connect(&opts).await.unwrap();
    client.check().await.unwrap();
    // Killed, it holds nothing: the directory can be served again.
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let again = EmbeddedHub::start(no_controllers()).await.unwrap();
    again.shutdown().await;
}

/// What the planner prints reads right: `--recommend` needs a target and a target needs
/// `--recommend`; the recommended configuration comes first, labelled; a plan that does not
/// fit says how to find one that does.
#[tokio::test]
async fn the_planner_says_what_it_recommends_first_and_how_to_fit() {
    for args in [
        vec!["--recommend"],
        vec!["--target-fanout", "5m"],
        vec!["--target-reapply", "2h", "--clusters", "10"],
    ] {
        let r = run_with_env("plan", &args, &[]).await;
        assert_eq!(r.code, 2, "{args:?}: {}", r.stdout);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stdout.is_empty(),
            "{args:?}: nothing planned: {}",
            r.stdout
        );
    }
    let r = run_with_env(
        "plan",
        &[
            "--recommend",
            "--clusters",
            "40",
            "--selectorsyncsets",
            "3",
            "--configmaps",
            "2",
            "--preset",
            "c5.9xlarge",
            "--target-fanout",
            "2m",
            "--target-reapply",
            "2h",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let chosen = lines
        .iter()
        .position(|l| l.starts_with("recommended:"))
        .expect("the answer");
    let first_row = lines
        .iter()
        .position(|l| l.starts_with("recommended "))
        .expect("the recommended row");
    assert!(
        chosen < first_row,
        "the answer before the table: {}",
        r.stdout
    );
    // The recommended row is the table's first, and the only one so labelled.
    assert!(lines[first_row - 1].contains("replicas"), "{}", r.stdout);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("recommended "))
            .count(),
        1
    );
    assert!(lines[first_row].contains("meets"), "{}", r.stdout);
    // Every duration column says it is a time, the load its percent.
    let header = lines[first_row - 1];
    for h in [
        "re-apply(time)",
        "new-set(time)",
        "new-cluster(time)",
        "load(%)",
    ] {
        assert!(header.contains(h), "{header}");
    }

    // The 2020 Hive at 1000 clusters does not re-apply within 2 h: say what to run, with the
    // model flags given (not the cores --recommend chooses itself), and it runs.
    let r = run_with_env(
        "plan",
        &[
            "--no-probe",
            "--clusters",
            "1000",
            "--hub-qps",
            "7",
            "--cores",
            "4",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.lines().next().unwrap().contains("re-apply(time)"),
        "{}",
        r.stdout
    );
    let suggested = r
        .stdout
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command in {}", r.stdout));
    assert_eq!(
        suggested,
        "hive-scale plan --recommend --clusters 1000 --selectorsyncsets 60 --configmaps 10 --preset m4.xlarge-2020 --pipeline clustersync --hub-qps 7.0 --target-reapply 2h"
    );
    let mut words: Vec<&str> = suggested.split(' ').skip(2).collect();
    words.push("--no-confirm");
    let r = run_with_env("plan", &words, &[]).await;
    assert!(r.code == 0 || r.code == 1, "{words:?}: {}", r.stderr);
    assert!(r.stdout.contains("recommended"), "{}", r.stdout);
}
