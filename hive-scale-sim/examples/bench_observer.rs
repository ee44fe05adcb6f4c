//! What observing costs the hub it measures: runs a scenario (default the 2020 one) on the
//! embedded hub through the real-hub path (its kubeconfig, watches, no simulator shortcut) and
//! compares the requests and bytes the observer made the hub serve during the observe phase
//! with the simulated Hive controllers' own modeled hub traffic in the same phase. Also prices
//! the old observer, which listed every ClusterSync every 5 s, by measuring one such poll and
//! counting the polls a real hub would have served in the same modeled time.
//!
//! Run through `hack/bench/observer.sh` (release). `CLUSTERS`, `SETS`, `CONFIGMAPS` scale the
//! scenario down; `NO_METRICS=1` observes without Hive's metrics (watching the sync objects).

use hive_scale_core::hub::{Hub, HubOptions, StatsSnapshot};
use hive_scale_core::metrics::{HttpOptions, Scraper, Source};
use hive_scale_core::scenario::Scenario;
use hive_scale_core::scenario::progress::HiveObjects;
use hive_scale_core::scenario::runner::{self, ObserveProgress, RealHub, RunSettings, Target};
use hive_scale_sim::hub::EmbeddedHub;
use std::sync::atomic::Ordering;
use std::time::Instant;

fn env_u32(name: &str) -> Option<u32> {
    std::env::var(name).ok()?.parse().ok()
}

/// The observer's and the controllers' counts at one moment.
#[derive(Debug, Clone, Copy)]
struct Mark {
    observer: (u64, u64),
    controllers: (u64, u64),
    modeled: f64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let mut scenario = Scenario::load("2020-adoption")?;
    scenario = scenario.scaled(
        env_u32("CLUSTERS").unwrap_or(scenario.clusters),
        env_u32("SETS").unwrap_or(scenario.selectorsyncsets),
    );
    if let Some(c) = env_u32("CONFIGMAPS") {
        scenario.configmaps = c;
    }
    let dir = tempfile::tempdir()?;
    let (hub, choice) = EmbeddedHub::for_scenario(&scenario, dir.path().join("hub"), None).await?;
    let scale = choice.scale();
    let opts = HubOptions::kubeconfig(hub.kubeconfig_path().to_path_buf()).with_qps(0.0);
    let mut real = RealHub::default();
    real.hub = opts.clone();
    real.spoke_kubeconfig = hub.spoke_kubeconfig_path().map(Into::into);
    // NO_METRICS=1: an observer without Hive's metrics, which watches the sync objects too.
    let with_metrics = std::env::var_os("NO_METRICS").is_none();
    if with_metrics {
        real.metrics = Some(Source::Scrape(Scraper::new(
            &[hub.metrics_url()],
            &HttpOptions::default(),
        )?));
    }
    let target = Target::real(real).await?;
    let client = target.hub.clone();
    let opts_for_lister = opts.clone();
    let sim = hub
        .hive()
        .ok_or("the embedded hub runs no controllers")?
        .sim()
        .clone();
    let clock = hub.clock().clone();
    let mark = move |stats: StatsSnapshot| Mark {
        observer: (stats.requests, stats.response_bytes),
        controllers: (
            sim.counters.hub_requests.load(Ordering::Relaxed),
            sim.counters.hub_bytes.load(Ordering::Relaxed),
        ),
        modeled: clock.elapsed().as_secs_f64(),
    };

    // Marks at the observe phase's start and end, from the runner's progress channel.
    let (tx, mut rx) = tokio::sync::watch::channel(ObserveProgress::default());
    let marker = {
        let client = client.clone();
        let mark = mark.clone();
        tokio::spawn(async move {
            let (mut start, mut end) = (None, None);
            while rx.changed().await.is_ok() {
                let p = rx.borrow_and_update().clone();
                if p.phase == "observe" && !p.finished && start.is_none() {
                    start = Some(mark(client.stats()));
                }
                if p.finished && start.is_some() && end.is_none() {
                    end = Some(mark(client.stats()));
                }
            }
            (start, end)
        })
    };
    let mut settings = RunSettings::new(dir.path().join("out"));
    settings.progress = Some(tx);
    settings.timeout = std::time::Duration::from_secs(1800);
    settings.keep = true;
    println!(
        "scenario {} ({} clusters x {} sets x {} ConfigMaps) at time scale {scale}, through the hub's kubeconfig",
        scenario.name, scenario.clusters, scenario.selectorsyncsets, scenario.configmaps
    );
    let wall = Instant::now();
    let summary = runner::run(&scenario, target, &settings).await?;
    drop(settings.progress.take());
    let (Some(start), Some(end)) = marker.await? else {
        return Err("the run never observed".into());
    };
    // The phase's last reads (each pair's fan-out, listed once) come after it settles, and
    // nothing follows the observe phase in this run (kept: no teardown): count up to now.
    let end = Mark {
        observer: mark(client.stats()).observer,
        ..end
    };
    println!(
        "run {} in {:.0}s wall; {} pipeline",
        summary.status,
        wall.elapsed().as_secs_f64(),
        summary
            .pipeline
            .map_or("unknown".to_string(), |p| p.to_string())
    );

    // One poll of the old observer (every ClusterDeployment, SelectorSyncSet and ClusterSync
    // or SyncSetInstance), on the hub as the run left it (kept: no teardown), priced at the
    // polls a real hub would have served: one every 5 s of the observe phase's modeled time.
    let lister = Hub::connect(&opts_for_lister).await?;
    let before = lister.stats();
    let objects = HiveObjects::list(&lister, summary.pipeline).await?;
    let after = lister.stats();
    let per_poll = (
        after.requests - before.requests,
        after.response_bytes - before.response_bytes,
    );
    let modeled = end.modeled - start.modeled;
    let polls = (modeled / 5.0).ceil() as u64;
    let polling = (per_poll.0 * polls, per_poll.1 * polls);
    let observer = (
        end.observer.0 - start.observer.0,
        end.observer.1 - start.observer.1,
    );
    let controllers = (
        end.controllers.0 - start.controllers.0,
        end.controllers.1 - start.controllers.1,
    );
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    println!(
        "observe phase: {modeled:.0} modeled s, {} clusters' sync objects ({:.1} MB per full list)",
        objects.cluster_deployments.len(),
        per_poll.1 as f64 / 1e6
    );
    println!(
        "controllers (modeled):  {:>9} requests {:>10.1} MB",
        controllers.0,
        controllers.1 as f64 / 1e6
    );
    println!(
        "observer ({}): {:>9} requests {:>10.2} MB  ratio requests {:.4}, bytes {:.4} (target: under 0.05)",
        if with_metrics {
            "watches + Hive's metrics"
        } else {
            "watches only"
        },
        observer.0,
        observer.1 as f64 / 1e6,
        ratio(observer.0, controllers.0),
        ratio(observer.1, controllers.1)
    );
    println!(
        "polling every 5 s:      {:>9} requests {:>10.1} MB  ratio requests {:.4}, bytes {:.4} ({polls} polls)",
        polling.0,
        polling.1 as f64 / 1e6,
        ratio(polling.0, controllers.0),
        ratio(polling.1, controllers.1)
    );
    hub.shutdown().await;
    Ok(())
}
