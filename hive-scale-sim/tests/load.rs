//! The hub under 50 concurrent clients keeps answering, without errors and with bounded latency.
//! CI runs 5 seconds; `HIVE_SCALE_LOAD_SECONDS=60 cargo test --release -p hive-scale-sim --test
//! load -- --nocapture` is the full minute (hack/bench/load.sh).

use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_get_answers_without_errors() {
    let seconds: u64 = std::env::var("HIVE_SCALE_LOAD_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let hub = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for c in 0..50 {
        let client = hub.client().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let api: Api<ConfigMap> = Api::namespaced(client, "default");
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let (mut latencies, mut errors, mut n) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = match n % 4 {
                    0 => {
                        let cm: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": format!("load-{c}-{n}"), "labels": {"client": c.to_string()}}, "data": {"n": n.to_string()}})).unwrap();
                        api.create(&PostParams::default(), &cm).await.map(|_| ())
                    }
                    1 | 2 => api.get(&format!("load-{c}-{}", n - n % 4)).await.map(|_| ()),
                    _ => api.list(&ListParams::default().labels(&format!("client={c}")).limit(50)).await.map(|_| ()),
                };
                latencies.push(t.elapsed().as_secs_f64());
                if r.is_err() {
                    errors += 1;
                }
                n += 1;
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort_by(f64::total_cmp);
    let pct = |q: f64| all[((q * all.len() as f64) as usize).min(all.len() - 1)];
    println!(
        "50 clients, {seconds}s: {} requests ({:.0}/s), {errors} errors, P50 {:.1} ms, P99 {:.1} ms, max {:.1} ms",
        all.len(),
        all.len() as f64 / seconds as f64,
        pct(0.5) * 1e3,
        pct(0.99) * 1e3,
        all.last().unwrap() * 1e3
    );
    assert_eq!(errors, 0);
    assert!(all.len() > 500, "the hub kept answering");
    assert!(pct(0.99) < 2.0, "P99 {:.3}s", pct(0.99));
    hub.shutdown().await;
}
