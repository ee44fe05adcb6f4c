//! The simulated Hive against the embedded hub: what adopted clones and SelectorSyncSets turn
//! into, on the hub and on the spoke.

use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions};
use hive_scale_core::api::{
    ClusterDeployment, ClusterSync, HiveConfig, Pipeline, SelectorSyncSet, SyncSetInstance,
};
use hive_scale_core::fixtures::{self, SelectorSyncSetFixture};
use hive_scale_core::hub::Hub;
use hive_scale_sim::clock::TimeScale;
use hive_scale_sim::controllers::SimConfig;
use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};
use hive_scale_sim::model::CostModel;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use std::time::Duration;

async fn start(pipeline: Pipeline, scale: f64) -> (tempfile::TempDir, EmbeddedHub, Hub) {
    start_with(pipeline, scale, 1).await
}

async fn start_with(
    pipeline: Pipeline,
    scale: f64,
    replicas: usize,
) -> (tempfile::TempDir, EmbeddedHub, Hub) {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedHubConfig::new(dir.path());
    let mut model = CostModel::preset("laptop").unwrap();
    model.apply_mode = hive_scale_sim::model::ApplyMode::ServerSide;
    model.pipeline = pipeline;
    model.replicas = replicas;
    cfg.sim = SimConfig::new(model);
    cfg.time_scale = TimeScale::new(scale).unwrap();
    let hub = EmbeddedHub::start(cfg).await.unwrap();
    let client = hub.connect(0.0).await.unwrap();
    (dir, hub, client)
}

async fn adopt_clones(hub: &EmbeddedHub, client: &Hub, range: std::ops::RangeInclusive<u32>) {
    let spoke = std::fs::read(hub.spoke_kubeconfig_path().unwrap()).unwrap();
    let s = adopt::adopt(
        client,
        &AdoptPlan::new(spoke),
        range,
        &EngineOptions::default(),
        &None,
    )
    .await
    .unwrap();
    assert!(s.succeeded(), "{s:?}");
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn synced(client: &kube::Client, sets: usize) -> usize {
    let cs: Api<ClusterSync> = Api::all(client.clone());
    cs.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|c| {
            c.status.as_ref().is_some_and(|s| {
                s.first_success_time.is_some() && s.selector_sync_sets.len() == sets
            })
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_sync_every_set_to_the_spoke() {
    let (_d, hub, client) = start(Pipeline::ClusterSync, 20.0).await;
    let kc = hub.api_server().client().await.unwrap();
    let sets = SelectorSyncSetFixture::new()
        .configmaps(3)
        .render_range(0, 4)
        .unwrap();
    fixtures::apply_selector_syncsets(&client, &sets, 4, &None)
        .await
        .unwrap();
    adopt_clones(&hub, &client, 1..=6).await;
    eventually("every ClusterSync to succeed", || async {
        synced(&kc, 4).await == 6
    })
    .await;

    let cd: ClusterDeployment = Api::namespaced(kc.clone(), "ns3").get("c3").await.unwrap();
    let st = cd.status.unwrap();
    assert!(st.installed_timestamp.is_some());
    assert_eq!(st.condition("Unreachable").unwrap().status, "False");
    assert!(
        cd.metadata
            .finalizers
            .unwrap()
            .contains(&"hive.openshift.io/deprovision".to_string())
    );
    let cs: ClusterSync = Api::namespaced(kc.clone(), "ns3").get("c3").await.unwrap();
    let st = cs.status.unwrap();
    assert_eq!(st.conditions[0].type_, "Failed");
    assert_eq!(st.conditions[0].status, "False");
    let names: Vec<&str> = st
        .selector_sync_sets
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "scaletest-0-configmap",
            "scaletest-1-configmap",
            "scaletest-2-configmap",
            "scaletest-3-configmap"
        ],
        "sorted by name"
    );
    assert!(
        st.selector_sync_sets
            .iter()
            .all(|s| s.first_success_time.is_some()
                && s.resources_to_delete.len() == 3
                && s.observed_generation == 1)
    );
    let lease = Api::<hive_scale_core::api::ClusterSyncLease>::namespaced(kc.clone(), "ns3")
        .get("c3")
        .await
        .unwrap();
    assert!(!lease.spec.renew_time.is_empty());

    let spoke = hub.spoke().unwrap().client().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(spoke.clone(), "default");
    let applied = cms
        .list(&ListParams::default().labels("hive.openshift.io/managed=true"))
        .await
        .unwrap()
        .items;
    assert_eq!(
        applied.len(),
        12,
        "4 sets x 3 ConfigMaps, written once however many clones"
    );
    assert_eq!(hub.metrics().sim_thrash.get(), 0);

    // Sync mode: a ConfigMap dropped from a set is deleted from the spoke; a new generation is applied.
    let sss: Api<SelectorSyncSet> = Api::all(kc.clone());
    let mut set = sss.get("scaletest-0-configmap").await.unwrap();
    set.spec.common.resources.pop();
    set.metadata.managed_fields = None;
    sss.replace("scaletest-0-configmap", &PostParams::default(), &set)
        .await
        .unwrap();
    eventually("the dropped ConfigMap to leave the spoke", || async {
        cms.get_opt("scaletest-0-configmap-2")
            .await
            .unwrap()
            .is_none()
    })
    .await;
    eventually("generation 2 to be observed everywhere", || async {
        let all = Api::<ClusterSync>::all(kc.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        all.iter()
            .all(|c| c.status.as_ref().unwrap().selector_sync_sets[0].observed_generation == 2)
    })
    .await;

    // The exported metrics carry Hive's names.
    let text = hub.metrics().encode();
    for name in [
        "workqueue_depth{name=\"clusterSync-controller\"",
        "controller_runtime_reconcile_total{controller=\"clusterSync-controller\"",
        "hive_syncsetinstance_apply_duration_seconds_bucket",
        "hive_selectorsyncset_apply_duration_seconds_count{name=\"scaletest-1-configmap\"} 6",
        "hive_clustersync_first_success_duration_seconds_count 6",
        "hive_kube_client_requests_total{controller=\"clusterSync-controller\",method=\"PATCH\"",
        "hive_sim_time_scale 20",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_paused_clusters_are_skipped() {
    let (_d, hub, client) = start(Pipeline::ClusterSync, 20.0).await;
    let kc = hub.api_server().client().await.unwrap();
    let sets = SelectorSyncSetFixture::new()
        .configmaps(1)
        .render_range(0, 1)
        .unwrap();
    fixtures::apply_selector_syncsets(&client, &sets, 1, &None)
        .await
        .unwrap();
    // c1 points at a server that is not the spoke; c2 is paused; c3 is fine.
    let elsewhere = hive_scale_core::adopt::plan::placeholder_kubeconfig().into_bytes();
    adopt::adopt(
        &client,
        &AdoptPlan::new(elsewhere),
        1..=1,
        &EngineOptions::default(),
        &None,
    )
    .await
    .unwrap();
    let spoke = std::fs::read(hub.spoke_kubeconfig_path().unwrap()).unwrap();
    let mut paused = AdoptPlan::new(spoke.clone());
    paused
        .annotations
        .insert("hive.openshift.io/syncset-pause".into(), "true".into());
    adopt::adopt(&client, &paused, 2..=2, &EngineOptions::default(), &None)
        .await
        .unwrap();
    adopt::adopt(
        &client,
        &AdoptPlan::new(spoke),
        3..=3,
        &EngineOptions::default(),
        &None,
    )
    .await
    .unwrap();
    eventually("c3 to sync", || async { synced(&kc, 1).await == 1 }).await;
    let c1: ClusterDeployment = Api::namespaced(kc.clone(), "ns1").get("c1").await.unwrap();
    assert_eq!(
        c1.status.unwrap().condition("Unreachable").unwrap().status,
        "True"
    );
    let cs: Api<ClusterSync> = Api::all(kc.clone());
    let names: Vec<String> = cs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    assert_eq!(
        names,
        ["c3"],
        "no ClusterSync for the unreachable or the paused clone"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hiveconfig_sets_the_workers_and_client_and_deleting_without_preserve_is_counted() {
    let (_d, hub, client) = start(Pipeline::ClusterSync, 20.0).await;
    let kc = hub.api_server().client().await.unwrap();
    let gauge = |n: usize| {
        format!(
            "controller_runtime_max_concurrent_reconciles{{controller=\"clusterSync-controller\"}} {n}"
        )
    };
    assert!(hub.metrics().encode().contains(&gauge(5)));
    let hc: HiveConfig = serde_json::from_value(serde_json::json!({
        "apiVersion": "hive.openshift.io/v1", "kind": "HiveConfig", "metadata": {"name": "hive"},
        "spec": {"controllersConfig": {
            "default": {"clientQPS": 50},
            "controllers": [{"name": "clustersync", "config": {"concurrentReconciles": 25, "clientBurst": 100}}]
        }}
    }))
    .unwrap();
    Api::<HiveConfig>::all(kc.clone())
        .patch(
            "hive",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&hc),
        )
        .await
        .unwrap();
    eventually("25 workers", || async {
        hub.metrics().encode().contains(&gauge(25))
    })
    .await;
    // The client towards the hub: clientQPS from the default entry, clientBurst its own.
    let client_settings = || hub.hive().unwrap().sim().replicas[0].hub_client.settings();
    eventually("HiveConfig's client", || async {
        client_settings() == (Some(50.0), 100)
    })
    .await;

    adopt_clones(&hub, &client, 1..=2).await;
    let cds: Api<ClusterDeployment> = Api::namespaced(kc.clone(), "ns1");
    eventually("the deprovision finalizer", || async {
        cds.get("c1").await.unwrap().metadata.finalizers.is_some()
    })
    .await;
    // Bypassing the toolkit's interlock on purpose: the simulated Hive must notice.
    // A merge patch: the simulated controllers update c1 concurrently, a replace could conflict.
    cds.patch(
        "c1",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"preserveOnDelete": false}})),
    )
    .await
    .unwrap();
    cds.delete("c1", &Default::default()).await.unwrap();
    eventually("c1 to be gone", || async {
        cds.get_opt("c1").await.unwrap().is_none()
    })
    .await;
    assert_eq!(hub.metrics().sim_deprovisions.get(), 1);
    let ns2: Api<ClusterDeployment> = Api::namespaced(kc.clone(), "ns2");
    ns2.delete("c2", &Default::default()).await.unwrap();
    eventually("c2 to be gone", || async {
        ns2.get_opt("c2").await.unwrap().is_none()
    })
    .await;
    assert_eq!(
        hub.metrics().sim_deprovisions.get(),
        1,
        "preserveOnDelete: no deprovision"
    );
    // Without a HiveConfig, the model's client (the laptop's: unlimited, client-go's burst).
    Api::<HiveConfig>::all(kc.clone())
        .delete("hive", &Default::default())
        .await
        .unwrap();
    eventually("the model's client again", || async {
        client_settings() == (None, 10)
    })
    .await;
    eventually("the model's workers again", || async {
        hub.metrics().encode().contains(&gauge(5))
    })
    .await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_mode_keeps_one_instance_per_cluster_and_set() {
    let (_d, hub, client) = start(Pipeline::SyncSetInstance, 20.0).await;
    let kc = hub.api_server().client().await.unwrap();
    let sets = SelectorSyncSetFixture::new()
        .configmaps(2)
        .render_range(0, 3)
        .unwrap();
    fixtures::apply_selector_syncsets(&client, &sets, 3, &None)
        .await
        .unwrap();
    adopt_clones(&hub, &client, 1..=4).await;
    let ssi: Api<SyncSetInstance> = Api::all(kc.clone());
    eventually("12 applied instances", || async {
        let all = ssi.list(&ListParams::default()).await.unwrap().items;
        all.len() == 12
            && all.iter().all(|i| {
                i.status
                    .as_ref()
                    .is_some_and(|s| s.applied && s.first_success_timestamp.is_some())
            })
    })
    .await;
    let one = Api::<SyncSetInstance>::namespaced(kc.clone(), "ns2")
        .get("c2-scaletest-1-configmap-selector-syncset")
        .await
        .unwrap();
    assert_eq!(one.spec.cluster_deployment_ref.name, "c2");
    assert_eq!(
        one.metadata.labels.unwrap()["hive.openshift.io/selector-syncset-name"],
        "scaletest-1-configmap"
    );
    let text = hub.metrics().encode();
    assert!(
        text.contains("workqueue_depth{name=\"syncsetinstance-controller\"} 0"),
        "2020 label set: {text}"
    );
    // A set that stops matching loses its instances.
    Api::<SelectorSyncSet>::all(kc.clone())
        .delete("scaletest-2-configmap", &Default::default())
        .await
        .unwrap();
    let cd: Api<ClusterDeployment> = Api::namespaced(kc.clone(), "ns1");
    cd.patch(
        "c1",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"labels": {"touch": "1"}}})),
    )
    .await
    .unwrap();
    eventually("c1's instance of the deleted set to go", || async {
        Api::<SyncSetInstance>::namespaced(kc.clone(), "ns1")
            .get_opt("c1-scaletest-2-configmap-selector-syncset")
            .await
            .unwrap()
            .is_none()
    })
    .await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_sets_thrash_and_are_counted() {
    let (_d, hub, client) = start(Pipeline::ClusterSync, 20.0).await;
    let kc = hub.api_server().client().await.unwrap();
    // Two sets writing the same ConfigMap with different data.
    let template = "apiVersion: hive.openshift.io/v1\nkind: SelectorSyncSet\nmetadata: {name: clash-{{ index }}}\nspec:\n  clusterDeploymentSelector: {matchLabels: {scaletest: \"true\"}}\n  resources:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: shared, namespace: default}, data: {owner: \"{{ index }}\"}}\n";
    let sets = SelectorSyncSetFixture::new()
        .template("clash", template)
        .unwrap()
        .render_range(0, 2)
        .unwrap();
    fixtures::apply_selector_syncsets(&client, &sets, 2, &None)
        .await
        .unwrap();
    adopt_clones(&hub, &client, 1..=3).await;
    eventually("all clones to sync", || async { synced(&kc, 2).await == 3 }).await;
    assert!(
        hub.metrics().sim_thrash.get() > 0,
        "two sets fought over default/shared"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_shard_clusters_by_uid_with_their_own_metrics() {
    let (_d, hub, client) = start_with(Pipeline::ClusterSync, 20.0, 3).await;
    hub.hive().unwrap().refresh();
    let kc = hub.api_server().client().await.unwrap();
    let sets = SelectorSyncSetFixture::new()
        .configmaps(2)
        .render_range(0, 2)
        .unwrap();
    fixtures::apply_selector_syncsets(&client, &sets, 2, &None)
        .await
        .unwrap();
    adopt_clones(&hub, &client, 1..=12).await;
    eventually("every ClusterSync to succeed", || async {
        synced(&kc, 2).await == 12
    })
    .await;
    let cds: Api<ClusterDeployment> = Api::all(kc.clone());
    let mut owned = [0usize; 3];
    for cd in cds.list(&ListParams::default()).await.unwrap().items {
        let (ns, name) = (
            cd.metadata.namespace.clone().unwrap(),
            cd.metadata.name.clone().unwrap(),
        );
        let uid = cd.metadata.uid.clone().unwrap();
        let want = hive_scale_sim::model::replica_of(&uid, 3);
        let cs: ClusterSync = Api::namespaced(kc.clone(), &ns).get(&name).await.unwrap();
        assert_eq!(
            cs.status.unwrap().controlled_by_replica,
            Some(want as i64),
            "{ns}/{name} (uid {uid}) belongs to replica {want}"
        );
        owned[want] += 1;
    }
    // Each replica exports its own series, told apart by the pod label, and its applies are
    // its clusters' (2 sets x 2 ConfigMaps each). Every family keeps one label set, as the
    // text format wants (hive-controllers' series carry their own pod).
    let text = hub.metrics().encode();
    hive_scale_core::metrics::Exposition::parse(&text).unwrap();
    for (ordinal, clusters) in owned.iter().enumerate() {
        let pod = format!("pod=\"hive-clustersync-{ordinal}\"");
        let applied: f64 = text
            .lines()
            .filter(|l| {
                l.starts_with("hive_syncsetinstance_resources_applied_total{")
                    && l.contains(&pod)
                    && l.contains("result=\"success\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(
            applied >= (clusters * 4) as f64,
            "replica {ordinal}: {applied} applies for {clusters} clusters"
        );
        assert!(
            text.lines().any(|l| l.starts_with("workqueue_depth{")
                && l.contains("clusterSync-controller")
                && l.contains(&pod)),
            "replica {ordinal} has its own queue depth"
        );
        assert!(
            text.lines().any(
                |l| l.starts_with("controller_runtime_max_concurrent_reconciles{")
                    && l.contains(&pod)
            ),
            "replica {ordinal} has its own workers gauge"
        );
    }
    assert!(owned.iter().filter(|n| **n > 0).count() >= 2, "{owned:?}");
    // Every pod is given every cluster, as in Hive: the ones another replica owns end as
    // skipped-sync, and the default profile's rate of work (sync_rate) leaves those out.
    let reconciles = |pod: &str, outcome: Option<&str>| -> f64 {
        text.lines()
            .filter(|l| {
                l.starts_with("hive_controller_reconcile_seconds_count{")
                    && l.contains("clusterSync-controller")
                    && l.contains(&format!("pod=\"{pod}\""))
                    && outcome.is_none_or(|o| l.contains(&format!("outcome=\"{o}\"")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let profile = hive_scale_core::metrics::Profile::builtin();
    let spec = profile.get("sync_rate").unwrap().scrape.clone().unwrap();
    // The same page a second later, from zero: the rate is the counts per second.
    let zeroed: String = text
        .lines()
        .map(|l| match l.rsplit_once(' ') {
            Some((series, _)) if l.starts_with("hive_controller_reconcile_seconds") => {
                format!("{series} 0\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let now = std::time::Instant::now();
    let page = |text: &str, at| hive_scale_core::metrics::Scrape {
        t: 0.0,
        at,
        exposition: hive_scale_core::metrics::Exposition::parse(text).unwrap(),
    };
    let counted = hive_scale_core::metrics::scrape::evaluate(
        &spec,
        &page(&text, now + std::time::Duration::from_secs(1)),
        Some(&page(&zeroed, now)),
    )
    .unwrap();
    for (ordinal, mine) in owned.iter().enumerate() {
        let pod = format!("hive-clustersync-{ordinal}");
        let skipped = reconciles(&pod, Some("skipped-sync"));
        assert!(
            skipped >= (12 - mine) as f64,
            "{pod} saw the {} clusters it does not own: {skipped} skipped-sync",
            12 - mine
        );
        let rate = counted
            .values()
            .into_iter()
            .find(|(l, _)| {
                l.get("pod") == Some(&pod)
                    && l.get("controller").map(String::as_str) == Some("clusterSync-controller")
            })
            .map(|(_, v)| v)
            .unwrap_or(0.0);
        assert_eq!(rate, reconciles(&pod, None) - skipped, "{pod}");
        assert!(
            rate >= *mine as f64,
            "{pod}: {rate} reconciles for {mine} clusters"
        );
    }
    hub.shutdown().await;
}
