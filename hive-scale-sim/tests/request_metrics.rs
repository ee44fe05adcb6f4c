//! kube-apiserver's request metrics on the hub's own `/metrics`, behind its token.

mod common;

use common::{CMS, cm, get, hub, post};
use hive_scale_core::metrics::slo::DurationSample;
use std::time::Duration;

/// The label set kube-apiserver gives a request, in the order the page writes them.
fn labels(verb: &str, group: &str, resource: &str, scope: &str) -> String {
    format!(
        "verb=\"{verb}\",dry_run=\"\",group=\"{group}\",version=\"v1\",resource=\"{resource}\",subresource=\"\",scope=\"{scope}\",component=\"apiserver\""
    )
}

fn value_of<'a>(page: &'a str, prefix: &str) -> Option<&'a str> {
    page.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_known_requests_with_kube_apiservers_labels() {
    let (dir, hub, client) = hub().await;
    assert_eq!(post(&client, CMS, cm("a")).await.0, 201);
    assert_eq!(get(&client, &format!("{CMS}/a")).await.0, 200);
    assert_eq!(get(&client, &format!("{CMS}/missing")).await.0, 404);
    assert_eq!(get(&client, &format!("{CMS}/missing")).await.0, 404);
    assert_eq!(get(&client, CMS).await.0, 200);
    assert_eq!(get(&client, "/api/v1/configmaps").await.0, 200);
    assert_eq!(
        get(
            &client,
            "/apis/hive.openshift.io/v1/namespaces/default/clusterdeployments"
        )
        .await
        .0,
        200
    );
    // A request is recorded when the server lets go of its body, just after the client has it.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let page = client
        .request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
        .await
        .unwrap();
    let total = |verb, group, resource, scope, code: u16| {
        value_of(
            &page,
            &format!(
                "apiserver_request_total{{{},code=\"{code}\"}}",
                labels(verb, group, resource, scope)
            ),
        )
        .map(str::to_string)
    };
    assert_eq!(
        total("POST", "", "configmaps", "resource", 201).as_deref(),
        Some("1"),
        "{page}"
    );
    assert_eq!(
        total("GET", "", "configmaps", "resource", 200).as_deref(),
        Some("1")
    );
    assert_eq!(
        total("GET", "", "configmaps", "resource", 404).as_deref(),
        Some("2")
    );
    assert_eq!(
        total("LIST", "", "configmaps", "namespace", 200).as_deref(),
        Some("1")
    );
    assert_eq!(
        total("LIST", "", "configmaps", "cluster", 200).as_deref(),
        Some("1")
    );
    assert_eq!(
        total(
            "LIST",
            "hive.openshift.io",
            "clusterdeployments",
            "namespace",
            200
        )
        .as_deref(),
        Some("1")
    );
    // Three GETs of one configmap, whatever their code, in kube-apiserver's buckets.
    let get_cm = labels("GET", "", "configmaps", "resource");
    assert_eq!(
        value_of(
            &page,
            &format!("apiserver_request_duration_seconds_bucket{{{get_cm},le=\"+Inf\"}}")
        ),
        Some("3"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "apiserver_request_duration_seconds_bucket{{{get_cm},le=\"0.005\"}}"
        )) && page.contains(&format!(
            "apiserver_request_duration_seconds_bucket{{{get_cm},le=\"60\"}}"
        )),
        "{page}"
    );
    // Sizes: no dry_run label; the bytes the client received.
    let size_labels = get_cm.replace("dry_run=\"\",", "");
    let sum: f64 = value_of(
        &page,
        &format!("apiserver_response_sizes_sum{{{size_labels}}}"),
    )
    .expect("a size histogram")
    .parse()
    .unwrap();
    let (_, one) = get(&client, &format!("{CMS}/a")).await;
    let (_, missing) = get(&client, &format!("{CMS}/missing")).await;
    let expected =
        serde_json::to_vec(&one).unwrap().len() + 2 * serde_json::to_vec(&missing).unwrap().len();
    assert_eq!(sum as usize, expected, "{page}");
    // Objects per resource, as the store counts them.
    let counts = hub.store().counts();
    assert_eq!(counts["configmaps"], 1);
    assert_eq!(
        value_of(&page, "apiserver_storage_objects{resource=\"configmaps\"}"),
        Some("1")
    );
    assert_eq!(
        value_of(
            &page,
            "apiserver_storage_objects{resource=\"clusterdeployments.hive.openshift.io\"}"
        ),
        Some("0")
    );
    assert_eq!(
        value_of(&page, "apiserver_storage_objects{resource=\"namespaces\"}"),
        Some(counts["namespaces"].to_string().as_str())
    );
    // The page and the in-process reading agree.
    let scraped = DurationSample::from_exposition(&page, 0.0);
    let direct = hub.request_metrics().durations(0.0);
    let find = |s: &DurationSample| {
        s.series
            .iter()
            .find(|x| x.verb == "LIST" && x.scope == "cluster" && x.resource == "configmaps")
            .map(|x| x.buckets.clone())
    };
    assert!(find(&direct).is_some());
    assert_eq!(find(&scraped), find(&direct));

    // kubectl reads the same page with the kubeconfig's token, and is refused without it.
    if hive_scale_sim::testing::tool("kubectl", "metrics_count_known_requests").is_some() {
        let kubeconfig = hub.kubeconfig_path().to_path_buf();
        let cache = dir.path().join("cache");
        let server = hub.url();
        tokio::task::spawn_blocking(move || {
            let kubectl = |args: &[&str]| {
                std::process::Command::new("kubectl")
                    .arg("--cache-dir")
                    .arg(&cache)
                    .args(args)
                    .output()
                    .unwrap()
            };
            let kc = kubeconfig.to_str().unwrap();
            let out = kubectl(&["--kubeconfig", kc, "get", "--raw", "/metrics"]);
            assert!(out.status.success(), "{out:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            for family in [
                "# TYPE apiserver_request_total counter",
                "# TYPE apiserver_request_duration_seconds histogram",
                "# TYPE apiserver_response_sizes histogram",
                "# TYPE apiserver_storage_objects gauge",
            ] {
                assert!(text.contains(family), "{family} missing: {text}");
            }
            let refused = kubectl(&[
                "--kubeconfig",
                "/dev/null",
                "--server",
                &server,
                "--insecure-skip-tls-verify",
                "--token",
                "not-the-token",
                "get",
                "--raw",
                "/metrics",
            ]);
            assert!(!refused.status.success());
            assert!(
                String::from_utf8_lossy(&refused.stderr).contains("Unauthorized"),
                "{refused:?}"
            );
        })
        .await
        .unwrap();
    }
    hub.shutdown().await;
}
