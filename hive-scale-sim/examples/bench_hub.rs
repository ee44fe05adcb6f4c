//! Measures the embedded hub: request throughput, paged listing of 60,000 objects, storage
//! overhead per object, and applying the 60 SelectorSyncSets. Run through `hack/bench/hub.sh`
//! (release build); prints each figure beside its target as a ratio.

use futures::StreamExt;
use hive_scale_core::fixtures::{self, SelectorSyncSetFixture};
use hive_scale_core::hub::{Hub, HubOptions};
use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use std::time::{Duration, Instant};

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"scaletest": "true"}},
        "data": {"foo": "bar", "a": "1", "b": "2"}
    }))
    .expect("valid ConfigMap")
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Requests per second `clients` (one task each) send in `secs`, alternating a create and a
/// get of a small ConfigMap in `default` (named after `round`, so rounds do not collide).
async fn small_requests(
    clients: &[kube::Client],
    round: usize,
    secs: f64,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().cloned().enumerate() {
        tasks.push(tokio::spawn(async move {
            let api: Api<ConfigMap> = Api::namespaced(client, "default");
            let deadline = Instant::now() + Duration::from_secs_f64(secs);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let name = format!("load-{round}-{c}-{n}");
                api.create(&PostParams::default(), &cm(&name))
                    .await
                    .expect("create");
                api.get(&name).await.expect("get");
                n += 2;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await?;
    }
    Ok(total as f64 / secs)
}

/// A server on the hub's own stack (axum-server: hyper and rustls, a certificate of the same
/// kind) that answers the small requests with no API server behind them: a create is echoed
/// back, a get returns a fixed ConfigMap of the name asked. Returns a kubeconfig for it.
async fn bare_server()
-> Result<(String, axum_server::Handle<std::net::SocketAddr>), Box<dyn std::error::Error>> {
    use base64::Engine as _;
    let certs = hive_scale_sim::apiserver::tls::generate()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
        certs.cert_pem.clone().into_bytes(),
        certs.key_pem.clone().into_bytes(),
    )
    .await?;
    let app = axum::Router::new().fallback(|req: axum::extract::Request| async move {
        let json = [(http::header::CONTENT_TYPE, "application/json")];
        if req.method() == http::Method::POST {
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            (http::StatusCode::CREATED, json, body)
        } else {
            let name = req
                .uri()
                .path()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string();
            let body = serde_json::to_vec(&serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "default", "resourceVersion": "1",
                    "labels": {"scaletest": "true"}},
                "data": {"foo": "bar", "a": "1", "b": "2"}
            }))
            .unwrap_or_default();
            (http::StatusCode::OK, json, body.into())
        }
    });
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)?.handle(handle.clone());
    tokio::spawn(async move { server.serve(app.into_make_service()).await });
    let ca = base64::engine::general_purpose::STANDARD.encode(&certs.ca_pem);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: bare\n  cluster:\n    server: https://{addr}\n    certificate-authority-data: {ca}\nusers:\n- name: bare\n  user:\n    token: bare\ncontexts:\n- name: bare\n  context:\n    cluster: bare\n    user: bare\ncurrent-context: bare\n"
    );
    Ok((kubeconfig, handle))
}

async fn client_from(yaml: &str) -> Result<kube::Client, Box<dyn std::error::Error>> {
    let kc = kube::config::Kubeconfig::from_yaml(yaml)?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await?;
    Ok(kube::Client::try_from(cfg)?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let server = ApiServer::start(ApiServerConfig::new(dir.path(), "hub")).await?;
    let clients = 8;
    // Rounds of hub and bare server in turn, each pair in alternating order: this machine's
    // speed drifts by a third over a minute, so a ratio is taken from neighbouring runs; an
    // even number of pairs puts each side first equally often.
    let rounds = 6;
    let secs = 2.0;

    // 1. Small requests: each client on its own keep-alive connection, alternating create and
    // get; then the same against a bare server on the same stack (hyper, rustls) answering
    // them with fixed bytes, run in the same process: the hub's cost over the transport's.
    let mut hub_clients = Vec::new();
    for _ in 0..clients {
        hub_clients.push(server.client().await?);
    }
    let (bare, bare_handle) = bare_server().await?;
    let mut bare_clients = Vec::new();
    for _ in 0..clients {
        bare_clients.push(client_from(&bare).await?);
    }
    let mut pairs = Vec::new();
    for round in 0..rounds {
        let (hub_rps, bare_rps) = if round % 2 == 0 {
            let hub = small_requests(&hub_clients, round, secs).await?;
            (hub, small_requests(&bare_clients, round, secs).await?)
        } else {
            let bare = small_requests(&bare_clients, round, secs).await?;
            (small_requests(&hub_clients, round, secs).await?, bare)
        };
        pairs.push((hub_rps, bare_rps));
    }
    bare_handle.shutdown();
    let mut ratios: Vec<f64> = pairs.iter().map(|(h, b)| h / b).collect();
    ratios.sort_by(f64::total_cmp);
    let median = (ratios[(ratios.len() - 1) / 2] + ratios[ratios.len() / 2]) / 2.0;
    let runs = pairs
        .iter()
        .map(|(h, b)| format!("{h:.0}/{b:.0}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "requests/s (get+create, {clients} clients, keep-alive), hub/bare in {rounds} paired runs of {secs:.0}s: {runs}; hub/bare median {median:.2} (lowest {:.2}, highest {:.2})  target 0.50  ratio {:.2}",
        ratios[0],
        ratios[ratios.len() - 1],
        median / 0.5
    );

    // 2. 60,000 objects of one kind, listed 500 per page as kubectl does.
    let client = server.client().await?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "bulk");
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    ns.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "bulk"}}))?,
    )
    .await?;
    let rss_before = rss_kib();
    let fill = Instant::now();
    futures::stream::iter(0..60_000)
        .map(|i| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &cm(&format!("cm-{i:05}")))
                    .await
                    .expect("create")
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let fill_s = fill.elapsed().as_secs_f64();
    let rss_after = rss_kib();
    println!(
        "created 60,000 ConfigMaps in {fill_s:.1}s ({:.0}/s)",
        60_000.0 / fill_s
    );
    let start = Instant::now();
    let mut seen = 0;
    let mut lp = ListParams::default().limit(500);
    loop {
        let page = api.list(&lp).await?;
        seen += page.items.len();
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    let list_s = start.elapsed().as_secs_f64();
    assert_eq!(seen, 60_000);
    println!(
        "paged list of 60,000 (limit 500), kube-rs typed: {list_s:.3}s  target 1.0s  ratio {:.2}  (2020 hub: 16s for 31k)",
        list_s / 1.0
    );
    // The same pages as text: what the hub and the connection cost, without decoding the items.
    let start = Instant::now();
    let (mut pages, mut bytes, mut token) = (0, 0, String::new());
    loop {
        let mut uri = "/api/v1/namespaces/bulk/configmaps?limit=500".to_string();
        if !token.is_empty() {
            uri.push_str("&continue=");
            uri.push_str(&token);
        }
        let text = client
            .request_text(http::Request::get(uri).body(Vec::new())?)
            .await?;
        bytes += text.len();
        pages += 1;
        // Only the continue token is read: the items stay text.
        #[derive(serde::Deserialize)]
        struct Meta {
            #[serde(default, rename = "continue")]
            token: String,
        }
        #[derive(serde::Deserialize)]
        struct Page {
            metadata: Meta,
        }
        token = serde_json::from_str::<Page>(&text)?.metadata.token;
        if token.is_empty() {
            break;
        }
    }
    let raw_s = start.elapsed().as_secs_f64();
    println!(
        "paged list of 60,000 (limit 500), raw JSON: {raw_s:.3}s  target 1.0s  ratio {:.2}  ({pages} pages, {:.1} MB)",
        raw_s / 1.0,
        bytes as f64 / 1e6
    );
    // And the real kubectl, which pages 500 at a time by default; it spends most of its time
    // decoding and printing, not waiting for the hub (see -v=6: a page is served in a few ms).
    let start = Instant::now();
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .args(["get", "configmaps", "-n", "bulk", "-o", "name"])
        .output();
    match out {
        Ok(o) if o.status.success() => println!(
            "kubectl get configmaps -o name (60,000): {:.3}s  ({} lines)",
            start.elapsed().as_secs_f64(),
            o.stdout.iter().filter(|b| **b == b'\n').count()
        ),
        _ => println!("kubectl get configmaps: kubectl not available or failed"),
    }

    // 3. Storage: bytes per object beyond its JSON.
    let def = server
        .store()
        .registry()
        .lookup("", "v1", "configmaps")
        .expect("built in");
    if let Some((json, held)) = server.store().overhead_estimate(&def) {
        println!(
            "storage per ConfigMap: JSON {json} B, held {held} B (overhead {} B beyond the JSON, {:.1}x); RSS grew {:.0} B per object (objects plus watch history)",
            held.saturating_sub(json),
            held as f64 / json as f64,
            (rss_after.saturating_sub(rss_before) * 1024) as f64 / 60_000.0
        );
    }

    // 4. The 60 SelectorSyncSets of the 2020 test, through the library as setup_selectorsyncsets does.
    let hub =
        Hub::connect(&HubOptions::kubeconfig(server.kubeconfig_path().to_path_buf()).with_qps(0.0))
            .await?;
    let sets = SelectorSyncSetFixture::new().render_range(0, 60)?;
    let start = Instant::now();
    let s = fixtures::apply_selector_syncsets(&hub, &sets, 16, &None).await?;
    let took = start.elapsed().as_secs_f64();
    assert_eq!(s.counts.created, 60);
    println!("apply 60 SelectorSyncSets: {took:.3}s  target 1.0s  ratio {took:.2}");
    server.shutdown().await;
    Ok(())
}
