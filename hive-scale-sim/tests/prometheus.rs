//! The real Prometheus (Debian's package) scrapes the embedded hub's metrics endpoint and
//! answers queries over Hive's metric names.

use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions};
use hive_scale_core::fixtures::{self, SelectorSyncSetFixture};
use hive_scale_core::hub::{Hub, HubOptions};
use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
use std::io::{Read, Write};
use std::time::Duration;

fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_hive_metrics_from_the_hub() {
    let Some(prometheus) =
        hive_scale_sim::testing::tool("prometheus", "prometheus_scrapes_hive_metrics_from_the_hub")
    else {
        return;
    };
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedHubConfig::new(dir.path());
    cfg.time_scale = hive_scale_sim::clock::TimeScale::new(10.0).unwrap();
    let hub = EmbeddedHub::start(cfg).await.unwrap();
    let client =
        Hub::connect(&HubOptions::kubeconfig(hub.kubeconfig_path().to_path_buf()).with_qps(0.0))
            .await
            .unwrap();
    let sets = SelectorSyncSetFixture::new()
        .configmaps(2)
        .render_range(0, 3)
        .unwrap();
    fixtures::apply_selector_syncsets(&client, &sets, 3, &None)
        .await
        .unwrap();
    let spoke = std::fs::read(hub.spoke_kubeconfig_path().unwrap()).unwrap();
    adopt::adopt(
        &client,
        &AdoptPlan::new(spoke),
        1..=5,
        &EngineOptions::default(),
        &None,
    )
    .await
    .unwrap();

    let target = hub
        .metrics_url()
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, format!("global: {{scrape_interval: 1s}}\nscrape_configs:\n- job_name: hive-clustersync\n  static_configs:\n  - targets: ['{target}']\n")).unwrap();
    let mut prom = std::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let query = |q: &str| {
        let body = http_get(
            &addr,
            &format!(
                "/api/v1/query?query={}",
                q.replace(' ', "%20")
                    .replace('{', "%7B")
                    .replace('}', "%7D")
                    .replace('"', "%22")
                    .replace('[', "%5B")
                    .replace(']', "%5D")
            ),
        )?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let results = v["data"]["result"].as_array()?.clone();
        (!results.is_empty()).then_some(results)
    };
    let mut answers = Vec::new();
    for q in [
        "sum by (name) (workqueue_depth)",
        "sum(hive_syncsetinstance_resources_applied_total)",
        "controller_runtime_reconcile_total{controller=\"clusterSync-controller\"}",
        "hive_sim_time_scale",
        "process_resident_memory_bytes",
    ] {
        let mut found = None;
        for _ in 0..60 {
            if let Some(r) = query(q) {
                found = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        answers.push((q, found));
    }
    let _ = prom.kill();
    let _ = prom.wait();
    hub.shutdown().await;
    for (q, a) in &answers {
        assert!(a.is_some(), "Prometheus had no data for {q}");
    }
    let applied: f64 = answers[1].1.as_ref().unwrap()[0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        applied >= 6.0,
        "3 sets x 2 ConfigMaps applied at least once: {applied}"
    );
    assert_eq!(answers[3].1.as_ref().unwrap()[0]["value"][1], "10");
}
