//! Metrics against the real Prometheus (Debian's package) scraping the embedded hub while it
//! works: snapshots, the recorder, the report and its charts, direct scrape agreeing with
//! Prometheus, broken queries, a dead Prometheus, TLS and basic auth, report templates, and
//! credentials in URLs kept out of every file and message; the library and the `snapshot`,
//! `record` and `report` examples.

mod common;

use common::{run_bin, run_with_env};
use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions};
use hive_scale_core::fixtures::{self, SelectorSyncSetFixture};
use hive_scale_core::hub::{Hub, HubOptions};
use hive_scale_core::metrics::{
    HttpOptions, Kind, Profile, PrometheusClient, Recorder, ReportOptions, ReportSummary, Scraper,
    Secret, Snapshot, Source, write_report,
};
use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Prometheus process, killed on drop.
struct Prometheus {
    child: std::process::Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus; `None` (the test is skipped) when it is not installed.
    fn start(
        test: &str,
        dir: &Path,
        config: &str,
        web_config: Option<&str>,
        scheme: &str,
    ) -> Option<Self> {
        let binary = hive_scale_sim::testing::tool("prometheus", test)?;
        let port = free_port();
        let config = config.replace("127.0.0.1:9091", &format!("127.0.0.1:{port}"));
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let mut cmd = std::process::Command::new(binary);
        cmd.arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(web) = web_config {
            let f = dir.join("web.yml");
            std::fs::write(&f, web).unwrap();
            cmd.arg(format!("--web.config.file={}", f.display()));
        }
        Some(Self {
            child: cmd.spawn().unwrap(),
            url: format!("{scheme}://127.0.0.1:{port}"),
        })
    }

    /// Waits until Prometheus answers `expr` with data.
    async fn wait_for(&self, client: &PrometheusClient, expr: &str) {
        let start = Instant::now();
        loop {
            if let Ok(v) = client.query(expr, None).await
                && !v.is_empty()
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Prometheus at {} never answered {expr}",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The shipped config/prometheus/prometheus.yml, scraping `target` every second.
fn local_config(target: &str) -> String {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/prometheus/prometheus.yml"),
    )
    .unwrap();
    for needle in [
        "127.0.0.1:2112",
        "scrape_interval: 15s",
        "job_name: hive-clustersync",
    ] {
        assert!(shipped.contains(needle), "prometheus.yml lacks {needle}");
    }
    shipped
        .replace("127.0.0.1:2112", target)
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
}

async fn start_hub(dir: &Path) -> (EmbeddedHub, Hub) {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let mut cfg = EmbeddedHubConfig::new(dir);
    cfg.time_scale = hive_scale_sim::clock::TimeScale::new(10.0).unwrap();
    let hub = EmbeddedHub::start(cfg).await.unwrap();
    let client =
        Hub::connect(&HubOptions::kubeconfig(hub.kubeconfig_path().to_path_buf()).with_qps(0.0))
            .await
            .unwrap();
    (hub, client)
}

/// Pairs of `(value, y pixel)` must fall on a line going down the page as values go up.
fn assert_plots(values: &[f64], ys: &[f64], what: &str) {
    assert_eq!(values.len(), ys.len(), "{what}");
    let n = values.len() as f64;
    let (mv, my) = (values.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = values
        .iter()
        .zip(ys)
        .map(|(v, y)| (v - mv) * (y - my))
        .sum();
    let vv: f64 = values.iter().map(|v| (v - mv).powi(2)).sum();
    let yy: f64 = ys.iter().map(|y| (y - my).powi(2)).sum();
    if vv == 0.0 {
        // A flat series is a flat line.
        assert!(yy == 0.0, "{what}: flat values, uneven line");
        return;
    }
    let r = cov / (vv.sqrt() * yy.sqrt());
    assert!(
        r < -0.99,
        "{what}: the line does not follow the values (r = {r})"
    );
}

/// The polylines of an SVG chart, as `(x, y)` lists, after checking it is well-formed XML.
fn polylines(svg: &str) -> Vec<Vec<(f64, f64)>> {
    let doc = roxmltree::Document::parse(svg).expect("the chart is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| {
            n.attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

/// The recorded values of one series of one query, in order.
fn recorded(recording: &Path, query: &str, label: Option<(&str, &str)>) -> Vec<f64> {
    let rec = hive_scale_core::metrics::read_recording(recording).unwrap();
    rec.snapshots
        .iter()
        .filter_map(|s| {
            let v = s.get(query)?.value()?;
            let vals: Vec<f64> = v
                .values()
                .into_iter()
                .filter(|(l, _)| label.is_none_or(|(k, want)| l.get(k).is_some_and(|x| x == want)))
                .map(|(_, v)| v)
                .collect();
            (vals.len() == 1 && vals[0].is_finite()).then(|| vals[0])
        })
        .collect()
}

fn check_chart(
    out: &Path,
    summary: &ReportSummary,
    recording: &Path,
    query: &str,
    label: Option<(&str, &str)>,
) {
    let q = summary.queries.iter().find(|q| q.name == query).unwrap();
    let svg = std::fs::read_to_string(out.join(q.chart.as_ref().unwrap())).unwrap();
    let values = recorded(recording, query, label);
    assert!(values.len() >= 3, "{query}: {values:?}");
    let lines = polylines(&svg);
    let line = lines
        .iter()
        .find(|l| l.len() == values.len())
        .unwrap_or_else(|| {
            panic!(
                "{query}: no polyline with the {} recorded points (lengths {:?})",
                values.len(),
                lines.iter().map(Vec::len).collect::<Vec<_>>()
            )
        });
    assert!(
        line.windows(2).all(|w| w[0].0 <= w[1].0),
        "{query}: time goes right"
    );
    let ys: Vec<f64> = line.iter().map(|p| p.1).collect();
    assert_plots(&values, &ys, query);
}

/// Within `rel` of each other (or both tiny).
fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) || (a - b).abs() < 1e-9
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_and_scrape_watch_the_hub_work_and_the_report_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client) = start_hub(dir.path()).await;
    let target = hub
        .metrics_url()
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let Some(prom) = Prometheus::start(
        "prometheus_and_scrape_watch_the_hub_work_and_the_report_shows_it",
        &prom_dir,
        &local_config(&target),
        None,
        "http",
    ) else {
        return;
    };
    let pc = PrometheusClient::new(&prom.url, &HttpOptions::default()).unwrap();
    prom.wait_for(&pc, "hive_sim_time_scale").await;

    // Record while the hub works: SelectorSyncSets, then adopted clones.
    let profile = Profile::builtin();
    let recording = dir.path().join("run.jsonl");
    let rec = Recorder::start(
        Source::Prometheus(pc.clone()),
        profile.clone(),
        Duration::from_millis(400),
        &recording,
    )
    .await
    .unwrap();
    rec.mark_phase("selectorsyncsets");
    let sets = SelectorSyncSetFixture::new()
        .configmaps(2)
        .render_range(0, 3)
        .unwrap();
    fixtures::apply_selector_syncsets(&client, &sets, 3, &None)
        .await
        .unwrap();
    rec.mark_phase("adopt");
    let spoke = std::fs::read(hub.spoke_kubeconfig_path().unwrap()).unwrap();
    let s = adopt::adopt(
        &client,
        &AdoptPlan::new(spoke),
        1..=5,
        &EngineOptions::default(),
        &None,
    )
    .await
    .unwrap();
    assert!(s.succeeded(), "{s:?}");

    // Every default-profile query returns data, and the hub settles (5 clusters x 3 sets applied).
    let source = Source::Prometheus(pc.clone());
    let start = Instant::now();
    let snap = loop {
        let snap = source.snapshot(&profile).await.unwrap();
        let all_data = snap
            .results
            .iter()
            .all(|r| r.value().is_some_and(|v| !v.is_empty()));
        let depth = snap
            .get("workqueue_depth")
            .unwrap()
            .value()
            .unwrap()
            .total();
        let sss = snap
            .get("selectorsyncset_apply_duration_mean")
            .unwrap()
            .value()
            .and_then(|v| v.total());
        if all_data && depth == Some(0.0) && sss.is_some_and(|m| m.is_finite()) {
            break snap;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "not every query has data, or the hub did not settle:\n{}",
            snap.table()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(snap.time_scale, Some(10.0));
    assert!(snap.modeled);
    assert!(snap.failed().next().is_none());
    for r in &snap.results {
        assert_eq!(
            r.converted,
            r.kind == Kind::Rate && r.name != "process_cpu",
            "{}",
            r.name
        );
    }
    assert!(snap.elapsed_ms < 2000.0, "{}", snap.elapsed_ms);
    rec.mark_phase("quiet");
    // Prometheus scrapes the settled state once more, then both sources see the same thing.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let summary = rec.stop().await.unwrap();
    assert!(summary.snapshots >= 5, "{summary:?}");
    assert_eq!((summary.errors, summary.phases), (0, 3), "{summary:?}");

    let from_prom = source.snapshot(&profile).await.unwrap();
    let scraper = Scraper::new(&[hub.metrics_url()], &HttpOptions::default())
        .unwrap()
        .with_rate_window(Duration::from_millis(500));
    let from_scrape = Source::Scrape(scraper).snapshot(&profile).await.unwrap();
    assert_eq!(from_scrape.time_scale, Some(10.0));
    assert!(from_scrape.modeled);
    let mut compared = Vec::new();
    for q in &profile.queries {
        let p = from_prom.get(&q.name).unwrap();
        let s = from_scrape.get(&q.name).unwrap();
        let (Some(pv), Some(sv)) = (p.value(), s.value()) else {
            panic!(
                "{}: prometheus {:?}, scrape {:?}",
                q.name, p.outcome, s.outcome
            );
        };
        if q.kind == Kind::Rate {
            // Prometheus' rate()[1m] and a 0.5 s scrape window measure different spans; both
            // must at least be numbers.
            assert!(sv.total().is_some_and(f64::is_finite), "{}: {sv:?}", q.name);
            continue;
        }
        let (a, b) = (pv.total().unwrap(), sv.total().unwrap());
        let tolerance = if q.name == "process_memory" { 0.3 } else { 0.1 };
        assert!(
            close(a, b, tolerance),
            "{}: prometheus {a} vs scrape {b}",
            q.name
        );
        // Same series, same labels (Prometheus adds job and instance where it does not aggregate).
        if let Some(spec) = &q.scrape
            && !spec.by.is_empty()
        {
            let keys = |v: &hive_scale_core::metrics::QueryValue| {
                let mut k: Vec<_> = v.values().into_iter().map(|(l, _)| l).collect();
                k.sort();
                k
            };
            assert_eq!(keys(pv), keys(sv), "{}", q.name);
        }
        compared.push(q.name.clone());
    }
    assert!(compared.len() >= 5, "{compared:?}");

    // The report: files, findings, charts holding the recorded points.
    let out = dir.path().join("report");
    let report = write_report(&recording, &out, &ReportOptions::default()).unwrap();
    assert!(out.join("report.md").exists() && out.join("metrics-summary.json").exists());
    assert!(
        !out.join("summary.json").exists(),
        "summary.json is the scale test's"
    );
    assert_eq!(report.snapshots as u64, summary.snapshots);
    assert_eq!(report.time_scale, Some(10.0));
    assert_eq!(
        report
            .phases
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["selectorsyncsets", "adopt", "quiet"]
    );
    assert_eq!(report.queries.len(), profile.queries.len());
    for q in &report.queries {
        let svg = std::fs::read_to_string(out.join(q.chart.as_ref().unwrap())).unwrap();
        assert!(svg.trim_start().starts_with("<svg"), "{}", q.name);
        polylines(&svg);
        for phase in ["selectorsyncsets", "adopt", "quiet"] {
            assert!(svg.contains(phase), "{}: phase {phase} not marked", q.name);
        }
    }
    check_chart(&out, &report, &recording, "process_memory", None);
    check_chart(
        &out,
        &report,
        &recording,
        "workqueue_depth",
        Some(("name", "clusterSync-controller")),
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("time scale 10"), "{md}");
    assert!(
        md.contains("## Findings") && md.contains("![Workqueue depth](workqueue_depth.svg)"),
        "{md}"
    );
    let json: ReportSummary =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics-summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        (json.snapshots, json.time_scale),
        (report.snapshots, report.time_scale)
    );
    assert_eq!(json.phases.len(), 3);
    assert_eq!(json.queries.len(), report.queries.len());

    // A profile with a broken query: named, and the rest still answer and are recorded.
    let mut broken = profile.clone();
    broken.name = "broken".into();
    broken.queries.insert(
        1,
        hive_scale_core::metrics::ProfileQuery {
            name: "broken_query".into(),
            title: String::new(),
            query: "sum(rate(workqueue_adds_total[1m]".into(),
            unit: String::new(),
            kind: Kind::Rate,
            convert: None,
            scrape: None,
        },
    );
    let snap = source.snapshot(&broken).await.unwrap();
    let failed: Vec<&str> = snap.failed().map(|r| r.name.as_str()).collect();
    assert_eq!(failed, ["broken_query"]);
    let err = snap.get("broken_query").unwrap().error().unwrap();
    assert!(err.starts_with("Prometheus: bad_data: "), "{err}");
    assert!(err.contains("parse error"), "{err}");
    assert_eq!(
        snap.results.iter().filter(|r| r.value().is_some()).count(),
        profile.queries.len()
    );
    let broken_file = dir.path().join("broken.yaml");
    std::fs::write(&broken_file, serde_saphyr::to_string(&broken).unwrap()).unwrap();

    // The examples.
    let url = prom.url.as_str();
    let run = run_with_env("snapshot", &["--prometheus", url], &[]).await;
    run.ok();
    for q in &profile.queries {
        assert!(
            run.stdout.lines().any(|l| l.starts_with(q.name.as_str())),
            "{} missing:\n{}",
            q.name,
            run.stdout
        );
    }
    assert!(run.stdout.contains("time scale 10"), "{}", run.stdout);
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    let run = run_with_env("snapshot", &["--prometheus", url, "--json"], &[]).await;
    run.ok();
    let snap: Snapshot = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((snap.time_scale, snap.modeled), (Some(10.0), true));

    let metrics_url = hub.metrics_url();
    let run = run_with_env(
        "snapshot",
        &["--scrape", &metrics_url, "--rate-window", "300ms", "--json"],
        &[],
    )
    .await;
    run.ok();
    let snap: Snapshot = serde_json::from_str(&run.stdout).unwrap();
    assert!(snap.source.starts_with("scrape http://127.0.0.1:"));
    assert!(
        snap.results.iter().all(|r| r.value().is_some()),
        "{}",
        run.stdout
    );

    let run = run_with_env(
        "snapshot",
        &[
            "--prometheus",
            url,
            "--profile",
            broken_file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    run.ok();
    assert!(
        run.stderr
            .contains("warning: query broken_query failed: Prometheus: bad_data: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("broken_query") && l.contains("error: Prometheus: bad_data")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.lines().any(|l| l.starts_with("process_memory")));

    let cli_rec = dir.path().join("cli.jsonl");
    let run = run_with_env(
        "record",
        &[
            "--prometheus",
            url,
            "--profile",
            broken_file.to_str().unwrap(),
            "--interval",
            "300ms",
            "--duration",
            "1s",
            "--out",
            cli_rec.to_str().unwrap(),
            "--phase",
            "cli",
        ],
        &[],
    )
    .await;
    run.ok();
    assert!(
        run.stderr.contains("warning: query broken_query failed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("recorded "), "{}", run.stderr);
    let rec = hive_scale_core::metrics::read_recording(&cli_rec).unwrap();
    assert!(
        rec.stopped && rec.snapshots.len() >= 3,
        "{}",
        rec.snapshots.len()
    );
    assert_eq!(rec.phases[0].name, "cli");
    for s in &rec.snapshots {
        assert!(s.get("broken_query").unwrap().error().is_some());
        assert!(s.get("workqueue_depth").unwrap().value().is_some());
    }

    let cli_out = dir.path().join("cli-report");
    let run = run_with_env(
        "report",
        &[
            cli_rec.to_str().unwrap(),
            "--out",
            cli_out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    run.ok();
    assert!(run.stdout.contains("wrote "), "{}", run.stdout);
    for f in [
        "report.md",
        "metrics-summary.json",
        "workqueue_depth.svg",
        "broken_query.svg",
    ] {
        assert!(cli_out.join(f).exists(), "{f}");
    }

    // A recording cut mid-line (the recorder killed while writing): the report skips that line.
    let cut = dir.path().join("cut.jsonl");
    let text = std::fs::read_to_string(&cli_rec).unwrap();
    let keep = text.trim_end().rfind('\n').unwrap() + 40;
    std::fs::write(&cut, &text[..keep]).unwrap();
    let run = run_with_env(
        "report",
        &[
            cut.to_str().unwrap(),
            "--out",
            dir.path().join("cut-report").to_str().unwrap(),
            "--json",
        ],
        &[],
    )
    .await;
    run.ok();
    assert!(run.stderr.contains("cut short"), "{}", run.stderr);
    let s: ReportSummary = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((s.skipped_lines, s.stopped), (1, false));

    // Ctrl-C stops a recording cleanly; SIGKILL leaves everything written so far.
    for (signal, stopped) in [("-INT", true), ("-KILL", false)] {
        let file = dir.path().join(format!("signal{signal}.jsonl"));
        let mut child = tokio::process::Command::new(common::example("record"))
            .args([
                "--prometheus",
                url,
                "--interval",
                "200ms",
                "--out",
                file.to_str().unwrap(),
            ])
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let pid = child.id().unwrap().to_string();
        let killed = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().await.unwrap();
        assert_eq!(status.success(), stopped, "{signal}: {status:?}");
        let rec = hive_scale_core::metrics::read_recording(&file).unwrap();
        assert_eq!(rec.stopped, stopped, "{signal}");
        assert!(
            rec.snapshots.len() >= 3,
            "{signal}: {}",
            rec.snapshots.len()
        );
    }

    // The 2020 profile's queries are valid PromQL too.
    let snap = source.snapshot(&Profile::hive_2020()).await.unwrap();
    assert!(snap.failed().next().is_none(), "{}", snap.table());
    // Straight from /metrics, the queries without a scrape equivalent are marked unavailable.
    let scraper = Scraper::new(&[hub.metrics_url()], &HttpOptions::default()).unwrap();
    let snap = Source::Scrape(scraper)
        .snapshot(&Profile::hive_2020())
        .await
        .unwrap();
    for r in &snap.results {
        let unavailable = matches!(
            r.outcome,
            hive_scale_core::metrics::QueryOutcome::Unavailable { .. }
        );
        assert_eq!(
            unavailable,
            Profile::hive_2020().get(&r.name).unwrap().scrape.is_none(),
            "{}: {:?}",
            r.name,
            r.outcome
        );
        assert!(r.error().is_none(), "{}: {:?}", r.name, r.outcome);
    }
    assert!(snap.table().contains("unavailable: no scrape equivalent"));

    drop(prom);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_prometheus_is_one_error_line() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let run = run_with_env("snapshot", &["--prometheus", &dead], &[]).await;
    let line = run.one_error_line();
    assert!(
        line.starts_with(&format!("error: cannot reach Prometheus at {dead}/: ")),
        "{line}"
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.jsonl");
    let run = run_with_env(
        "record",
        &[
            "--prometheus",
            &dead,
            "--out",
            out.to_str().unwrap(),
            "--duration",
            "1s",
        ],
        &[],
    )
    .await;
    assert!(run.one_error_line().contains("cannot reach Prometheus"));
    assert!(!out.exists(), "nothing recorded from a dead Prometheus");

    let run = run_with_env("snapshot", &["--scrape", &format!("{dead}/metrics")], &[]).await;
    assert!(
        run.one_error_line()
            .contains("cannot reach the metrics endpoint")
    );

    // Bad input: one line each, naming the problem.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: x\nqueries:\n  - {name: a, query: up, kind: speed}\n",
    )
    .unwrap();
    let run = run_with_env("snapshot", &["--profile", bad.to_str().unwrap()], &[]).await;
    let line = run.one_error_line();
    assert!(
        line.starts_with(&format!("error: profile {}: ", bad.display())),
        "{line}"
    );
    let run = run_with_env(
        "record",
        &["--out", "x.jsonl", "--interval", "5 parsecs"],
        &[],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("invalid duration"), "{}", run.stderr);
    let run = run_with_env(
        "report",
        &[
            dir.path().join("none.jsonl").to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(run.one_error_line().contains("none.jsonl"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_over_plain_http_to_a_remote_host_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-SECRET-1\n").unwrap();
    let out = dir.path().join("run.jsonl");
    for (tool, args, shown) in [
        (
            "snapshot",
            vec![
                "--metrics-url",
                "http://u:pw-SECRET-2@metrics.example:2112/metrics",
            ],
            "metrics URL http://metrics.example:2112/metrics",
        ),
        (
            "snapshot",
            vec![
                "--prometheus",
                "http://prometheus.example:9090",
                "--token-file",
                token.to_str().unwrap(),
            ],
            "Prometheus URL http://prometheus.example:9090/",
        ),
        (
            "record",
            vec![
                "--metrics-url",
                "http://127.0.0.1:1/metrics",
                "--metrics-url",
                "http://10.1.2.3:2112/metrics",
                "--user",
                "alice",
                "--password-file",
                token.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            "metrics URL http://10.1.2.3:2112/metrics",
        ),
    ] {
        let run = run_bin(&[&[tool][..], &args].concat(), &[]).await;
        let line = run.one_error_line();
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            line.contains(shown) && line.contains("--allow-insecure-credentials"),
            "{line}"
        );
        assert!(!run.stderr.contains("SECRET") && !run.stdout.contains("SECRET"));
        assert!(!out.exists(), "nothing is recorded");
    }
    // Allowed, the request goes out (and finds nobody listening).
    let run = run_bin(
        &[
            "snapshot",
            "--metrics-url",
            "http://u:pw@metrics.invalid:2112/metrics",
            "--allow-insecure-credentials",
            "--request-timeout",
            "2s",
        ],
        &[],
    )
    .await;
    let line = run.one_error_line();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        line.contains("http://metrics.invalid:2112/metrics"),
        "{line}"
    );
    assert!(!line.contains("refusing"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let certs = hive_scale_sim::apiserver::tls::generate().unwrap();
    let (cert, key, ca) = (
        dir.path().join("tls.crt"),
        dir.path().join("tls.key"),
        dir.path().join("ca.crt"),
    );
    std::fs::write(&cert, &certs.cert_pem).unwrap();
    std::fs::write(&key, &certs.key_pem).unwrap();
    std::fs::write(&ca, &certs.ca_pem).unwrap();
    // bcrypt (cost 4) of "s3cret-basic".
    let web = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  alice: $2b$04$khBd/ddR9h6uflG1lkaYq.ZEzcnShpWkNCCaF23EIE19oU0wjyvPy\n",
        cert.display(),
        key.display()
    );
    let Some(prom) = Prometheus::start(
        "tls_with_a_custom_ca_and_basic_auth",
        dir.path(),
        "global: {scrape_interval: 1s}\n",
        Some(&web),
        "https",
    ) else {
        return;
    };
    let auth = HttpOptions::default()
        .with_ca_file(&ca)
        .unwrap()
        .with_basic_auth("alice", Secret::new("s3cret-basic"));
    let pc = PrometheusClient::new(&prom.url, &auth).unwrap();
    prom.wait_for(&pc, "vector(1)").await;
    let v = pc.query("1 + 1", None).await.unwrap();
    assert_eq!(v.total(), Some(2.0));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let range = pc
        .query_range("vector(3)", now - 10.0, now, Duration::from_secs(2))
        .await
        .unwrap();
    let hive_scale_core::metrics::QueryValue::Matrix { series } = &range else {
        panic!("{range:?}")
    };
    assert!(series[0].points.len() >= 5 && series[0].points.iter().all(|p| p.v == 3.0));

    // Prometheus' own /metrics over HTTPS, scraped and parsed.
    let scraper = Scraper::new(&[format!("{}/metrics", prom.url)], &auth).unwrap();
    let page = scraper.scrape().await.unwrap();
    assert!(
        page.exposition
            .names()
            .any(|n| n == "prometheus_build_info")
    );

    // The system roots do not know the throwaway CA.
    let e = PrometheusClient::new(&prom.url, &HttpOptions::default())
        .unwrap()
        .query("1", None)
        .await
        .unwrap_err();
    assert!(e.is_transport(), "{e}");
    let chain = hive_scale_core::error::chain(&e);
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");

    // A wrong password: Prometheus' 401, and the password shown nowhere.
    let wrong = HttpOptions::default()
        .with_ca_file(&ca)
        .unwrap()
        .with_basic_auth("alice", Secret::new("WRONG-pass"));
    let e = PrometheusClient::new(&prom.url, &wrong)
        .unwrap()
        .query("1", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("HTTP 401"), "{e}");
    assert!(!e.to_string().contains("WRONG") && !format!("{e:?}").contains("WRONG"));

    // The example with --ca-file, --user and --password-file.
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret-basic\n").unwrap();
    let run = run_with_env(
        "snapshot",
        &[
            "--prometheus",
            &prom.url,
            "--ca-file",
            ca.to_str().unwrap(),
            "--user",
            "alice",
            "--password-file",
            pw.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    run.ok();
    // Nothing is scraped by this Prometheus: every query answers, with no data.
    assert!(run.stdout.contains("(no data)"), "{}", run.stdout);
    assert!(!run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"));
    let run = run_with_env("snapshot", &["--prometheus", &prom.url], &[]).await;
    assert!(
        run.one_error_line().contains("cannot reach Prometheus"),
        "{}",
        run.stderr
    );
}

/// Every file under `dir`, with its text (lossy).
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            out.push((path, text));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_metrics_urls_are_never_stored_or_shown() {
    let hub_dir = tempfile::tempdir().unwrap();
    let (hub, _client) = start_hub(hub_dir.path()).await;
    let results = tempfile::tempdir().unwrap();
    const SECRETS: [&str; 2] = ["hunter2", "abcSECRET42"];
    // The hub ignores both; they go on the wire as basic auth and as the query.
    let url = hub.metrics_url().replace("http://", "http://user:hunter2@") + "?token=abcSECRET42";
    let recording = results.path().join("run.jsonl");
    let mut runs = vec![
        run_with_env(
            "record",
            &[
                "--scrape",
                &url,
                "--interval",
                "300ms",
                "--duration",
                "1s",
                "--out",
                recording.to_str().unwrap(),
            ],
            &[],
        )
        .await,
    ];
    runs[0].ok();
    let rec = hive_scale_core::metrics::read_recording(&recording).unwrap();
    assert!(rec.snapshots.len() >= 2 && rec.stopped);
    assert!(
        rec.start
            .as_ref()
            .unwrap()
            .source
            .ends_with("?token=REDACTED"),
        "{:?}",
        rec.start.as_ref().map(|s| &s.source)
    );
    let report = results.path().join("report");
    runs.push(
        run_with_env(
            "report",
            &[
                recording.to_str().unwrap(),
                "--out",
                report.to_str().unwrap(),
            ],
            &[],
        )
        .await,
    );
    runs[1].ok();
    runs.push(
        run_with_env(
            "snapshot",
            &["--scrape", &url, "--rate-window", "200ms"],
            &[],
        )
        .await,
    );
    runs[2].ok();
    assert!(
        runs[2].stdout.contains("token=REDACTED"),
        "{}",
        runs[2].stdout
    );
    // An endpoint that is not there: the error names it, without the secrets.
    let dead = format!(
        "http://user:hunter2@127.0.0.1:{}/metrics?token=abcSECRET42",
        free_port()
    );
    let failed = run_with_env("snapshot", &["--scrape", &dead], &[]).await;
    assert!(
        failed
            .one_error_line()
            .contains("cannot reach the metrics endpoint at http://127.0.0.1:"),
        "{}",
        failed.stderr
    );
    runs.push(failed);
    let files = files_under(results.path());
    assert!(files.len() >= 4, "{files:?}");
    for (path, text) in &files {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{} holds {secret}", path.display());
        }
    }
    for run in &runs {
        for secret in SECRETS {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{secret} shown:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_templates_replace_report_md_and_fail_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // A recording written by hand: two snapshots of a queue that drains.
    let profile = Profile::builtin();
    let q = profile.get("workqueue_depth").unwrap();
    let mut text = serde_json::to_string(&hive_scale_core::metrics::RecordLine::Start {
        t: 0.0,
        source: "scrape http://127.0.0.1:1/metrics".into(),
        interval_s: 10.0,
        profile: profile.clone(),
    })
    .unwrap()
        + "\n";
    for (t, depth) in [(0.0, 90.0), (10.0, 0.0)] {
        let snap = Snapshot {
            t,
            source: "scrape http://127.0.0.1:1/metrics".into(),
            profile: profile.name.clone(),
            time_scale: None,
            modeled: false,
            elapsed_ms: 1.0,
            results: vec![hive_scale_core::metrics::QueryResult {
                name: q.name.clone(),
                kind: q.kind,
                unit: q.unit.clone(),
                converted: false,
                outcome: hive_scale_core::metrics::QueryOutcome::Ok {
                    value: hive_scale_core::metrics::QueryValue::Vector {
                        series: vec![hive_scale_core::metrics::Series {
                            labels: [("name".to_string(), "clusterSync".to_string())].into(),
                            value: depth,
                        }],
                    },
                },
            }],
        };
        text += &(serde_json::to_string(&hive_scale_core::metrics::RecordLine::Snapshot(snap))
            .unwrap()
            + "\n");
    }
    let recording = dir.path().join("run.jsonl");
    std::fs::write(&recording, text).unwrap();

    // The built-in template's findings, as the command prints them.
    let out = dir.path().join("builtin");
    let run = run_with_env(
        "report",
        &[recording.to_str().unwrap(), "--out", out.to_str().unwrap()],
        &[],
    )
    .await;
    run.ok();
    assert!(
        run.stdout.starts_with(
            "Queue `clusterSync`: peak 90 items at 0 ms; drained to 0 at 10 s, 10 s after the peak.\n"
        ),
        "{}",
        run.stdout
    );

    let template = dir.path().join("mine.md.tera");
    std::fs::write(
        &template,
        "# {{ profile }}\n{% for q in findings.queues %}{{ q.queue }}: {{ q.peak | count }} drained in {{ q.drain_s | duration }}\n{% endfor %}",
    )
    .unwrap();
    let out = dir.path().join("custom");
    let run = run_with_env(
        "report",
        &[
            recording.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--template",
            template.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    run.ok();
    assert_eq!(
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        "# default\nclusterSync: 90 drained in 10 s\n"
    );
    assert!(out.join("metrics-summary.json").exists());

    std::fs::write(&template, "# {{ profile }\n").unwrap();
    let broken = dir.path().join("broken");
    let run = run_with_env(
        "report",
        &[
            recording.to_str().unwrap(),
            "--out",
            broken.to_str().unwrap(),
            "--template",
            template.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let line = run.one_error_line();
    assert!(
        line.starts_with(&format!("error: report template {}: ", template.display())),
        "{line}"
    );
    assert!(line.contains("line 1"), "{line}");
    assert!(!broken.exists(), "nothing written from a broken template");
}

/// scaletest on a hub it reaches only through its kubeconfig and a Prometheus, as on a real hub:
/// Prometheus scrapes Hive's metrics and the API server's own (HTTPS, the hub's token and CA);
/// progress and fan-out come from Hive's metrics, and the API latency SLO from a range query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_hub_through_prometheus_gives_progress_fanout_and_the_api_slo() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _client) = start_hub(&dir.path().join("hub")).await;
    // The scrape credentials Prometheus would be given in a cluster: the hub's CA and token.
    let kc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(hub.kubeconfig_path()).unwrap()).unwrap();
    let token = kc["users"][0]["user"]["token"].as_str().unwrap();
    let ca = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(
                kc["clusters"][0]["cluster"]["certificate-authority-data"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap()
    };
    let (ca_file, token_file) = (dir.path().join("ca.crt"), dir.path().join("token"));
    std::fs::write(&ca_file, ca).unwrap();
    std::fs::write(&token_file, token).unwrap();
    let api = hub.api_server().addr();
    let hive = hub.metrics_url();
    let hive_target = hive
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: hive\n  static_configs: [{{targets: ['{hive_target}']}}]\n- job_name: apiserver\n  scheme: https\n  tls_config: {{ca_file: {}}}\n  authorization: {{credentials_file: {}}}\n  static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
        ca_file.display(),
        token_file.display(),
        api.port()
    );
    let Some(prom) = Prometheus::start(
        "a_real_hub_through_prometheus_gives_progress_fanout_and_the_api_slo",
        dir.path(),
        &config,
        None,
        "http",
    ) else {
        return;
    };
    let client = PrometheusClient::new(&prom.url, &Default::default()).unwrap();
    prom.wait_for(&client, "apiserver_request_total").await;
    let out = dir.path().join("run");
    let kubeconfig = hub.kubeconfig_path().to_str().unwrap().to_string();
    let r = run_with_env(
        "scaletest",
        &[
            "--kubeconfig",
            &kubeconfig,
            "--fake-cluster",
            "--prometheus",
            &prom.url,
            "--clusters",
            "6",
            "--selectorsyncsets",
            "2",
            "--configmaps",
            "1",
            "--interval",
            "1s",
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
    let observe = s["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "observe")
        .unwrap();
    assert_eq!(observe["pairs_applied"], 6 * 2);
    assert_eq!(s["fanout"]["count"], 6 * 2, "{}", s["fanout"]);
    let slo = &s["api_slo"];
    assert!(
        slo["source"]
            .as_str()
            .unwrap_or("")
            .starts_with("prometheus"),
        "{slo}"
    );
    let groups = slo["groups"].as_array().unwrap();
    assert!(
        groups
            .iter()
            .any(|g| g["resource"] == "clusterdeployments.hive.openshift.io" && g["verb"] == "POST"),
        "the run's own creates are measured: {slo}"
    );
    // report.md links the run's window on this Prometheus's graph page, every query of the
    // default profile (the Grafana dashboard's panels) on it.
    assert_eq!(
        s["prometheus"].as_str().map(|u| u.trim_end_matches('/')),
        Some(prom.url.trim_end_matches('/')),
        "{}",
        s["prometheus"]
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let link = report
        .split("[The run in Prometheus](")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no Prometheus link in\n{report}"));
    assert!(
        link.starts_with(&format!(
            "{}/graph?g0.expr=",
            prom.url.trim_end_matches('/')
        )),
        "{link}"
    );
    let profile = hive_scale_core::metrics::profile::Profile::builtin();
    assert!(
        link.contains(&format!("g{}.expr=", profile.queries.len() - 1)),
        "{link}"
    );
    // The first graph's expression is the profile's first query, percent-encoded.
    let g0 = link
        .split("g0.expr=")
        .nth(1)
        .and_then(|v| v.split('&').next())
        .unwrap();
    let bytes = g0.as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            decoded.push(u8::from_str_radix(&g0[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let want: Vec<&str> = profile.queries[0].query.split_whitespace().collect();
    assert_eq!(String::from_utf8(decoded).unwrap(), want.join(" "));
    hub.shutdown().await;
}
