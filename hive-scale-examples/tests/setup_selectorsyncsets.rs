//! `setup_selectorsyncsets` against the embedded hub, including its error paths.

mod common;

use common::{TestHub, run_with_env};
use hive_scale_core::api::SelectorSyncSet;
use kube::api::{Api, ListParams};

async fn names(hub: &TestHub) -> Vec<String> {
    let api: Api<SelectorSyncSet> = Api::all(hub.server.client().await.unwrap());
    let mut n: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.metadata.name.unwrap())
        .collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_exactly_sixty_then_changes_nothing_then_deletes() {
    let hub = TestHub::start().await;
    let r = hub.run("setup_selectorsyncsets", &["--run", "r1"]).await;
    r.ok();
    assert!(
        r.stdout
            .contains("created 60, updated 0, unchanged 0, failed 0"),
        "{}",
        r.stdout
    );
    let mut want: Vec<String> = (0..60)
        .map(|i| format!("scaletest-{i}-configmap"))
        .collect();
    want.sort();
    assert_eq!(names(&hub).await, want, "indices 0..59, not 0..=60");

    let r = hub.run("setup_selectorsyncsets", &["--run", "r1"]).await;
    r.ok();
    assert!(
        r.stdout.contains("created 0, updated 0, unchanged 60"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("nothing to do"), "{}", r.stdout);

    // Another run (a fresh run id) finds the sets of run r1: it leaves every one alone.
    let r = hub.run("setup_selectorsyncsets", &["--count", "2"]).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "refused SelectorSyncSet scaletest-0-configmap: it belongs to hive-scale run \"r1\""
        ),
        "{}",
        r.stderr
    );
    assert!(r.one_error_line().contains("refused 2 of 2 sets"));
    let r = hub
        .run(
            "setup_selectorsyncsets",
            &["--delete", "--run", "other", "--count", "1"],
        )
        .await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(names(&hub).await.len(), 60, "nothing of run r1 deleted");

    let r = hub
        .run(
            "setup_selectorsyncsets",
            &["--configmaps", "3", "--count", "2", "--run", "r1"],
        )
        .await;
    r.ok();
    assert!(r.stdout.contains("updated 2"), "{}", r.stdout);
    let api: Api<SelectorSyncSet> = Api::all(hub.server.client().await.unwrap());
    assert_eq!(
        api.get("scaletest-1-configmap")
            .await
            .unwrap()
            .spec
            .common
            .resources
            .len(),
        3
    );

    let r = hub
        .run(
            "setup_selectorsyncsets",
            &["--delete", "--start", "10", "--count", "50", "--run", "r1"],
        )
        .await;
    r.ok();
    assert!(r.stdout.contains("deleted 50"), "{}", r.stdout);
    assert_eq!(names(&hub).await.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_yaml_and_contacts_nothing() {
    let r = run_with_env(
        "setup_selectorsyncsets",
        &["--dry-run", "--count", "3", "--configmaps", "2"],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    )
    .await;
    r.ok();
    let docs: Vec<SelectorSyncSet> = serde_saphyr::from_multiple(&r.stdout).unwrap();
    assert_eq!(docs.len(), 3);
    assert_eq!(
        docs[2].metadata.name.as_deref(),
        Some("scaletest-2-configmap")
    );
    assert_eq!(docs[0].spec.common.resources.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_templates_and_set_variables() {
    let hub = TestHub::start().await;
    let template = hub.dir.path().join("mine.yaml.tera");
    std::fs::write(
        &template,
        "apiVersion: hive.openshift.io/v1\nkind: SelectorSyncSet\nmetadata:\n  name: {{ team }}-{{ index }}\nspec:\n  clusterDeploymentSelector: {matchLabels: {team: \"{{ team }}\"}}\n  resources:\n  - {apiVersion: v1, kind: Namespace, metadata: {name: \"{{ team }}-ns-{{ index }}\"}}\n",
    )
    .unwrap();
    let t = template.to_str().unwrap();
    let r = hub
        .run(
            "setup_selectorsyncsets",
            &[
                "--template",
                t,
                "--set",
                "team=sre",
                "--set",
                "unused=1",
                "--count",
                "4",
                "--start",
                "1",
            ],
        )
        .await;
    r.ok();
    assert!(
        r.stderr.contains("warning: --set unused=... is never used"),
        "{}",
        r.stderr
    );
    assert_eq!(names(&hub).await, ["sre-1", "sre-2", "sre-3", "sre-4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_clear_line() {
    let hub = TestHub::start().await;
    for (args, want) in [
        (vec!["--count", "0"], "--count"),
        (vec!["--count", "-3"], "--count"),
        (vec!["--count", "many"], "--count"),
        (vec!["--configmaps", "x"], "--configmaps"),
        (
            vec!["--kubeconfig", "/nonexistent"],
            "/nonexistent: cannot be read",
        ),
        (vec!["--set", "novalue"], "key=value"),
    ] {
        let r = hub.run("setup_selectorsyncsets", &args).await;
        let line = r.one_error_line();
        assert!(line.contains(want), "{args:?}: {line}");
    }
    let broken = hub.dir.path().join("broken.tera");
    std::fs::write(&broken, "metadata: {{ index ").unwrap();
    let r = hub
        .run(
            "setup_selectorsyncsets",
            &["--template", broken.to_str().unwrap()],
        )
        .await;
    assert!(r.one_error_line().contains("template"), "{}", r.stderr);
    let not_yaml = hub.dir.path().join("notyaml.tera");
    std::fs::write(&not_yaml, "a: [{{ index }}").unwrap();
    let r = hub
        .run(
            "setup_selectorsyncsets",
            &["--template", not_yaml.to_str().unwrap()],
        )
        .await;
    assert!(
        r.one_error_line()
            .contains("invalid SelectorSyncSet for index 0"),
        "{}",
        r.stderr
    );
    assert!(
        names(&hub).await.is_empty(),
        "rejected command lines create nothing"
    );

    let malformed = hub.dir.path().join("malformed.kubeconfig");
    std::fs::write(&malformed, "clusters: [[[\ntoken: SECRET").unwrap();
    let r = run_with_env(
        "setup_selectorsyncsets",
        &["--kubeconfig", malformed.to_str().unwrap()],
        &[],
    )
    .await;
    let line = r.one_error_line();
    assert!(
        line.contains("not a valid kubeconfig") && !line.contains("SECRET"),
        "{line}"
    );

    // A hub that is down: one line naming the server.
    let text = std::fs::read_to_string(hub.kubeconfig()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let down = hub.dir.path().join("down.kubeconfig");
    let url = hub.server.url();
    std::fs::write(
        &down,
        text.replace(&url, &format!("https://127.0.0.1:{port}")),
    )
    .unwrap();
    let r = run_with_env(
        "setup_selectorsyncsets",
        &["--kubeconfig", down.to_str().unwrap()],
        &[],
    )
    .await;
    let line = r.one_error_line();
    assert!(
        line.contains(&format!("cannot reach the hub at https://127.0.0.1:{port}")),
        "{line}"
    );
    let token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap();
    assert!(!r.stderr.contains(token) && !r.stdout.contains(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_failure_says_what_was_written() {
    let hub = TestHub::start().await;
    // Label values over 63 characters are refused by the API server, from index 10 on.
    let template = hub.dir.path().join("long.tera");
    std::fs::write(
        &template,
        "apiVersion: hive.openshift.io/v1\nkind: SelectorSyncSet\nmetadata:\n  name: s-{{ index }}\n  labels: {size: \"{% if index >= 10 %}{% for i in range(end=70) %}x{% endfor %}{% else %}small{% endif %}\"}\nspec:\n  clusterDeploymentSelector: {matchLabels: {scaletest: \"true\"}}\n",
    )
    .unwrap();
    let r = hub
        .run(
            "setup_selectorsyncsets",
            &["--template", template.to_str().unwrap(), "--count", "12"],
        )
        .await;
    let line = r.one_error_line().to_string();
    assert!(
        line.contains("2 of 12 sets failed")
            && line.contains("s-10")
            && line.contains("10 created"),
        "{line}"
    );
    assert_eq!(names(&hub).await.len(), 10, "what succeeded stays");
}
