//! config/job/: what runs the scale test inside a hub as a Kubernetes Job. The real kubectl
//! renders it (kustomize, as `kubectl apply -k` does), every object is checked against the
//! Kubernetes API's own types, and the Job's command line against hive-scale's.

mod common;

use clap::Parser as _;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

fn job_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/job")
}

/// `doc` decoded as `T` and encoded again is `doc` itself: no field the API does not know
/// (a typo would be dropped), none of the wrong type (decoding would fail).
fn schema_check<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) {
    let typed: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", doc["kind"]));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back, doc,
        "{} has fields its type does not know",
        doc["kind"]
    );
}

fn check(doc: &Value) {
    match doc["kind"].as_str().unwrap() {
        "ServiceAccount" => schema_check::<ServiceAccount>(doc),
        "ClusterRole" => schema_check::<ClusterRole>(doc),
        "ClusterRoleBinding" => schema_check::<ClusterRoleBinding>(doc),
        "PersistentVolumeClaim" => schema_check::<PersistentVolumeClaim>(doc),
        "Job" => schema_check::<Job>(doc),
        "Pod" => schema_check::<Pod>(doc),
        other => panic!("unexpected kind {other}"),
    }
}

fn docs(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

#[test]
fn kubectl_renders_the_job_and_every_object_matches_its_api_type() {
    let Some(kubectl) = hive_scale_sim::testing::tool(
        "kubectl",
        "kubectl_renders_the_job_and_every_object_matches_its_api_type",
    ) else {
        return;
    };
    let o = std::process::Command::new(kubectl)
        .arg("kustomize")
        .arg(job_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rendered = docs(&String::from_utf8(o.stdout).unwrap());
    let mut kinds: Vec<&str> = rendered
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding",
            "Job",
            "PersistentVolumeClaim",
            "ServiceAccount"
        ]
    );
    for d in &rendered {
        check(d);
    }
    let results = docs(&std::fs::read_to_string(job_dir().join("results-pod.yaml")).unwrap());
    for d in &results {
        check(d);
    }

    let by_kind = |k: &str| rendered.iter().find(|d| d["kind"] == k).unwrap();
    let job: Job = serde_json::from_value(by_kind("Job").clone()).unwrap();
    let pod = job.spec.unwrap().template.spec.unwrap();
    // The Job runs as the bound service account, in its namespace, with the results volume
    // that results-pod.yaml mounts.
    let sa = by_kind("ServiceAccount");
    assert_eq!(
        pod.service_account_name.as_deref(),
        sa["metadata"]["name"].as_str()
    );
    let binding = by_kind("ClusterRoleBinding");
    assert_eq!(binding["subjects"][0]["name"], sa["metadata"]["name"]);
    // Pinned: a version or a digest, never a moving tag.
    let image = pod.containers[0].image.clone().unwrap();
    assert!(
        image.contains("@sha256:") || image.ends_with(&format!(":{}", env!("CARGO_PKG_VERSION"))),
        "{image}"
    );
    // A deadline, and a termination grace period that leaves room for teardown's --grace.
    let job_spec = serde_json::from_value::<Job>(by_kind("Job").clone())
        .unwrap()
        .spec
        .unwrap();
    assert!(
        job_spec
            .active_deadline_seconds
            .is_some_and(|s| s > 2 * 3600)
    );
    let args = pod.containers[0].args.clone().unwrap();
    let grace = hive_scale_core::metrics::parse_duration(
        &args[args.iter().position(|a| a == "--grace").unwrap() + 1],
    )
    .unwrap();
    let period = pod.termination_grace_period_seconds.unwrap();
    assert!(
        grace.as_secs() + 5 <= period as u64,
        "--grace {grace:?} must end before the pod's {period} s"
    );
    assert_eq!(
        binding["subjects"][0]["namespace"],
        sa["metadata"]["namespace"]
    );
    assert_eq!(
        binding["roleRef"]["name"],
        by_kind("ClusterRole")["metadata"]["name"]
    );
    let claim = |p: &k8s_openapi::api::core::v1::PodSpec| {
        p.volumes.as_ref().unwrap()[0]
            .persistent_volume_claim
            .as_ref()
            .unwrap()
            .claim_name
            .clone()
    };
    assert_eq!(
        claim(&pod),
        by_kind("PersistentVolumeClaim")["metadata"]["name"]
    );
    let fetch: Pod = serde_json::from_value(results[0].clone()).unwrap();
    assert_eq!(claim(fetch.spec.as_ref().unwrap()), claim(&pod));
    // The results pod only reads the volume: no token to the hub.
    assert_eq!(
        fetch.spec.as_ref().unwrap().automount_service_account_token,
        Some(false)
    );
    // The image's build context holds no build output and no kubeconfig.
    let ignore = std::fs::read_to_string(job_dir().join("../../.containerignore")).unwrap();
    for pattern in ["target/", "kubeconfig"] {
        assert!(ignore.lines().any(|l| l.contains(pattern)), "{pattern}");
    }
    let containerfile = std::fs::read_to_string(job_dir().join("Containerfile")).unwrap();
    for from in containerfile.lines().filter(|l| l.starts_with("FROM ")) {
        assert!(!from.contains(":latest") && from.contains(':'), "{from}");
    }

    // Its command line is one scaletest accepts: in-cluster credentials and a metrics URL,
    // results written under the mounted volume.
    let container = &pod.containers[0];
    let args = container.args.clone().unwrap();
    assert_eq!(args[0], "scaletest");
    assert!(args.iter().any(|a| a == "--in-cluster"), "{args:?}");
    assert!(args.iter().any(|a| a == "--metrics-url"), "{args:?}");
    hive_scale_examples::cli::scaletest::Args::try_parse_from(&args)
        .unwrap_or_else(|e| panic!("the Job's arguments do not parse: {e}"));
    let out = &args[args.iter().position(|a| a == "--out").unwrap() + 1];
    let mount = &container.volume_mounts.as_ref().unwrap()[0].mount_path;
    assert!(out.starts_with(mount.as_str()), "{out} outside {mount}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_dry_runs_the_job_on_the_embedded_hub_which_stores_nothing() {
    let Some(kubectl) = hive_scale_sim::testing::tool(
        "kubectl",
        "kubectl_dry_runs_the_job_on_the_embedded_hub_which_stores_nothing",
    ) else {
        return;
    };
    let hub = common::TestHub::start().await;
    let kubectl = |args: &[&str]| {
        std::process::Command::new(&kubectl)
            .args(args)
            .env("KUBECONFIG", hub.kubeconfig())
            .output()
            .unwrap()
    };
    // The hub has Hive's namespace, as a hub with Hive installed does.
    let o = kubectl(&["get", "namespace", "hive"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = kubectl(&[
        "apply",
        "--dry-run=server",
        "-k",
        job_dir().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for object in [
        "serviceaccount/hive-scale",
        "clusterrole.rbac.authorization.k8s.io/hive-scale",
        "clusterrole.rbac.authorization.k8s.io/hive-scale-namespace",
        "clusterrolebinding.rbac.authorization.k8s.io/hive-scale",
        "persistentvolumeclaim/hive-scale-results",
        "job.batch/hive-scale",
    ] {
        assert!(
            stdout.contains(&format!("{object} created (server dry run)")),
            "{stdout}"
        );
    }
    // A dry run stores nothing.
    let o = kubectl(&[
        "get",
        "serviceaccounts,persistentvolumeclaims,jobs",
        "-n",
        "hive",
        "-o",
        "name",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "");
    let o = kubectl(&["get", "clusterroles,clusterrolebindings", "-o", "name"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "");

    // A Job the API would refuse is refused by the dry run too.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("job.yaml");
    let text = std::fs::read_to_string(job_dir().join("job.yaml"))
        .unwrap()
        .replace("backoffLimit: 0", "backoffLimit: none");
    std::fs::write(&bad, text).unwrap();
    let o = kubectl(&["apply", "--dry-run=server", "-f", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("backoffLimit"), "{stderr}");
}

/// What the Job does, as config/job's ServiceAccount (through `hub`), in namespaces and names of
/// its own (`tag`): every path that needs a permission, with the outcome it must have. Objects
/// are set aside by `admin` where a path needs somebody else's object in the way or a drift.
async fn job_flow(
    hub: &hive_scale_core::hub::Hub,
    admin: &kube::Client,
    tag: &str,
) -> Result<(), String> {
    use hive_scale_core::adopt::{self, AdoptPlan, EngineOptions, NamespaceRole, RefusalReason};
    use hive_scale_core::api::{ClusterDeployment, SelectorSyncSet};
    use hive_scale_core::fixtures::{self, ConfigMapFixture, SelectorSyncSetFixture};
    use hive_scale_core::scenario::runner::{WatchObserver, detect_pipeline};
    use k8s_openapi::api::core::v1::{Namespace, Secret};
    use k8s_openapi::api::rbac::v1::RoleBinding;
    use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
    let step = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let drop_label = Patch::Merge(serde_json::json!({"metadata": {"labels": {"scaletest": null}}}));
    let pp = PatchParams::default();

    // The scenario's sets: created, then one drifted and written back, then changed.
    let fixture = SelectorSyncSetFixture::new()
        .run(tag)
        .name_prefix(tag)
        .configmaps(1);
    let sets = fixture.render_range(0, 1).map_err(|e| step("render", &e))?;
    let set_name = sets[0].metadata.name.clone().unwrap();
    let s = fixtures::apply_selector_syncsets(hub, &sets, 4, &None)
        .await
        .and_then(|s| s.into_result())
        .map_err(|e| step("create the sets", &e))?;
    (s.counts.created == 1)
        .then_some(())
        .ok_or("sets not created")?;
    let sss: Api<SelectorSyncSet> = Api::all(admin.clone());
    sss.patch(&set_name, &pp, &drop_label).await.unwrap();
    let s = fixtures::apply_selector_syncsets(hub, &sets, 4, &None)
        .await
        .and_then(|s| s.into_result())
        .map_err(|e| step("write a drifted set back", &e))?;
    (s.counts.updated == 1)
        .then_some(())
        .ok_or("set not updated")?;
    hive_scale_core::guarded::modify(
        hub,
        &Api::all(hub.client()),
        &set_name,
        tag,
        |s: &mut SelectorSyncSet| {
            if s.spec.common.resources.len() > 1 {
                return false;
            }
            s.spec
                .common
                .resources
                .push(ConfigMapFixture::new(format!("{tag}-added")).build_resource());
            true
        },
    )
    .await
    .map_err(|e| step("change a set", &e))?;

    // Clones: created, drifted and written back, re-run unchanged.
    let mut plan = AdoptPlan::fake();
    plan.run = tag.into();
    plan.namespace_prefix = format!("{tag}-ns");
    plan.namespace_role = Some(NamespaceRole {
        cluster_role: "hive-scale-namespace".into(),
        user: None,
    });
    let opts = EngineOptions::default();
    let a = adopt::adopt(hub, &plan, 1..=2, &opts, &None)
        .await
        .map_err(|e| step("adopt", &e))?;
    if !a.succeeded() || a.clones.created != 2 {
        return Err(format!("adopt: {:?} {:?}", a.failures, a.refused));
    }
    let ns1 = format!("{tag}-ns1");
    Api::<Namespace>::all(admin.clone())
        .patch(&ns1, &pp, &drop_label)
        .await
        .unwrap();
    Api::<ClusterDeployment>::namespaced(admin.clone(), &ns1)
        .patch("c1", &pp, &drop_label)
        .await
        .unwrap();
    Api::<Secret>::namespaced(admin.clone(), &ns1)
        .patch("c1-adopted-admin-kubeconfig", &pp, &drop_label)
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), &ns1)
        .patch(adopt::NAMESPACE_ROLE_BINDING, &pp, &drop_label)
        .await
        .unwrap();
    let a = adopt::adopt(hub, &plan, 1..=2, &opts, &None)
        .await
        .map_err(|e| step("adopt again", &e))?;
    if !a.succeeded() || a.clones.updated != 1 || a.clones.unchanged != 1 {
        return Err(format!(
            "adopt again: {:?} {:?} {:?}",
            a.clones, a.failures, a.refused
        ));
    }

    // Somebody else's objects in the way: a namespace, and a ClusterDeployment in ours.
    let ns9 = format!("{tag}-ns9");
    let foreign_ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": ns9}})).unwrap();
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &foreign_ns)
        .await
        .unwrap();
    let a = adopt::adopt(hub, &plan, 9..=9, &opts, &None)
        .await
        .map_err(|e| step("adopt into a foreign namespace", &e))?;
    if !(a.failures.is_empty()
        && a.refused.len() == 1
        && a.refused[0].1.reason == RefusalReason::NotOurNamespace)
    {
        return Err(format!(
            "foreign namespace: {:?} {:?}",
            a.failures, a.refused
        ));
    }
    let ns8 = format!("{tag}-ns8");
    adopt::adopt(hub, &plan, 8..=8, &opts, &None)
        .await
        .map_err(|e| step("adopt 8", &e))?;
    let cds8 = Api::<ClusterDeployment>::namespaced(admin.clone(), &ns8);
    let mut theirs = cds8.get("c8").await.unwrap();
    cds8.delete("c8", &DeleteParams::default()).await.unwrap();
    theirs.metadata = kube::api::ObjectMeta {
        name: Some("c8".into()),
        namespace: Some(ns8.clone()),
        ..Default::default()
    };
    cds8.create(&PostParams::default(), &theirs).await.unwrap();
    let a = adopt::adopt(hub, &plan, 8..=8, &opts, &None)
        .await
        .map_err(|e| step("adopt beside a foreign ClusterDeployment", &e))?;
    if !(a.failures.is_empty()
        && a.refused.len() == 1
        && a.refused[0].1.reason == RefusalReason::NotOurs)
    {
        return Err(format!(
            "foreign ClusterDeployment: {:?} {:?}",
            a.failures, a.refused
        ));
    }

    // Watching, as a scale test on a real hub does.
    let detected = detect_pipeline(hub)
        .await
        .map_err(|e| step("detect the pipeline", &e))?;
    let observer = WatchObserver::start(
        hub,
        detected,
        Duration::from_secs(1),
        Duration::from_secs(5),
        None,
    )
    .await
    .map_err(|e| step("watch", &e))?;
    // What happens after the first list arrives through the watches: a clone, a changed set,
    // and Hive's sync objects of both pipelines.
    adopt::adopt(hub, &plan, 3..=3, &opts, &None)
        .await
        .map_err(|e| step("adopt 3", &e))?;
    let ns3 = format!("{tag}-ns3");
    let marked = Patch::Merge(serde_json::json!({"metadata": {"labels": {"seen": "yes"}}}));
    sss.patch(&set_name, &pp, &marked).await.unwrap();
    let hive_object = |kind: &str, api_version: &str, name: &str, spec: serde_json::Value| {
        let ar = kube::api::ApiResource::from_gvk(
            &kube::api::GroupVersionKind::try_from(&kube::api::TypeMeta {
                api_version: api_version.into(),
                kind: kind.into(),
            })
            .unwrap(),
        );
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(admin.clone(), &ns1, &ar);
        let obj: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": ns1}, "spec": spec
        }))
        .unwrap();
        async move { api.create(&PostParams::default(), &obj).await.unwrap() }
    };
    hive_object(
        "ClusterSync",
        "hiveinternal.openshift.io/v1alpha1",
        "c1",
        serde_json::json!({}),
    )
    .await;
    hive_object(
        "SyncSetInstance",
        "hive.openshift.io/v1",
        "c1-s",
        serde_json::json!({"clusterDeploymentRef": {"name": "c1"}}),
    )
    .await;
    let watched = async {
        loop {
            let o = observer.objects();
            let has_cd = o.cluster_deployments.iter().any(|c| {
                c.metadata.name.as_deref() == Some("c3")
                    && c.metadata.namespace.as_deref() == Some(ns3.as_str())
            });
            let has_mark = o.selector_sync_sets.iter().any(|s| {
                s.metadata.name.as_deref() == Some(set_name.as_str())
                    && s.metadata
                        .labels
                        .as_ref()
                        .is_some_and(|l| l.contains_key("seen"))
            });
            let has_sync = o
                .cluster_syncs
                .iter()
                .any(|c| c.metadata.namespace.as_deref() == Some(ns1.as_str()));
            let has_instance = o
                .instances
                .iter()
                .any(|c| c.metadata.namespace.as_deref() == Some(ns1.as_str()));
            if has_cd && has_mark && has_sync && has_instance {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), watched)
        .await
        .map_err(|_| "the watches did not deliver what changed".to_string())?;
    drop(observer);

    // Teardown: everything of the run, but the namespace holding their ClusterDeployment, whose
    // Secret is listed as left. A finalizer holds one namespace a moment, as a hub's namespace
    // controller does, so teardown has to watch it go.
    let ns2 = format!("{tag}-ns2");
    let namespaces = Api::<Namespace>::all(admin.clone());
    let hold =
        |f: serde_json::Value| Patch::Merge(serde_json::json!({"metadata": {"finalizers": f}}));
    namespaces
        .patch(&ns2, &pp, &hold(serde_json::json!(["example.com/hold"])))
        .await
        .unwrap();
    let release = tokio::spawn({
        let (namespaces, ns2) = (namespaces.clone(), ns2.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = namespaces
                .patch(
                    &ns2,
                    &PatchParams::default(),
                    &hold(serde_json::Value::Null),
                )
                .await;
        }
    });
    let mut t = adopt::TeardownOptions::new(adopt::Selection::All);
    t.run = Some(tag.into());
    t.selectorsyncsets = true;
    t.timeout = Duration::from_secs(10);
    let t = adopt::teardown(hub, &t, &None).await;
    release.await.unwrap();
    let t = t.map_err(|e| step("teardown", &e))?;
    let held = t.refused.len() == 1
        && matches!(
            t.refused[0].reason,
            RefusalReason::HoldsClusterDeployments(_)
        );
    let left = t.secrets_left == [format!("{ns8}/c8-adopted-admin-kubeconfig")];
    if !(t.failures.is_empty()
        && !t.timed_out
        && held
        && left
        && t.selectorsyncsets.len() == 1
        && t.namespaces.len() == 3)
    {
        return Err(format!("teardown: {t:?}"));
    }
    for ns in [&ns8, &ns9] {
        Api::<Namespace>::all(admin.clone())
            .delete(ns, &DeleteParams::default())
            .await
            .unwrap();
    }
    Ok(())
}

/// config/job's RBAC, applied to the embedded hub, which enforces it for the ServiceAccount's
/// token: the Job can do everything it does (adopt and re-run, write drifted objects back, be
/// refused by somebody else's objects, watch, tear down), may read no Secret it did not create,
/// and every verb granted is needed: taking any one away breaks the flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_service_account_can_do_its_job_and_no_verb_is_granted_in_vain() {
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::api::rbac::v1::ClusterRole;
    use kube::api::{Api, PostParams};
    let Some(kubectl) = hive_scale_sim::testing::tool(
        "kubectl",
        "the_jobs_service_account_can_do_its_job_and_no_verb_is_granted_in_vain",
    ) else {
        return;
    };
    let hub = common::TestHub::start().await;
    let o = std::process::Command::new(&kubectl)
        .args(["apply", "-k", job_dir().to_str().unwrap()])
        .env("KUBECONFIG", hub.kubeconfig())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let token = hub
        .server
        .service_account_token("hive", "hive-scale", Duration::from_secs(3600))
        .unwrap();
    let kc = hub
        .server
        .write_kubeconfig_with_token("hive-scale", &token)
        .unwrap();
    let sa = hive_scale_core::hub::Hub::connect(
        &hive_scale_core::hub::HubOptions::kubeconfig(kc).with_qps(0.0),
    )
    .await
    .unwrap();
    let admin = hub.server.client().await.unwrap();
    job_flow(&sa, &admin, "full").await.unwrap();
    // No Secret it did not create: not across namespaces, not in Hive's namespace.
    for api in [
        Api::<Secret>::all(sa.client()),
        Api::namespaced(sa.client(), "hive"),
    ] {
        let e = api.list(&Default::default()).await.unwrap_err();
        assert!(matches!(&e, kube::Error::Api(s) if s.code == 403), "{e}");
    }
    // Every verb is needed.
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    let mut n = 0;
    for role in ["hive-scale", "hive-scale-namespace"] {
        let original = roles.get(role).await.unwrap();
        for (i, rule) in original
            .rules
            .clone()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            for verb in &rule.verbs {
                let mut less = roles.get(role).await.unwrap();
                let rules = less.rules.as_mut().unwrap();
                rules[i].verbs.retain(|v| v != verb);
                if rules[i].verbs.is_empty() {
                    rules.remove(i);
                }
                roles
                    .replace(role, &PostParams::default(), &less)
                    .await
                    .unwrap();
                n += 1;
                let tag = format!("w{n}");
                let r = job_flow(&sa, &admin, &tag).await;
                assert!(
                    r.is_err(),
                    "{role} grants {verb} on {:?}, which the Job never needs",
                    rule.resources
                );
                let mut back = original.clone();
                back.metadata.resource_version =
                    roles.get(role).await.unwrap().metadata.resource_version;
                roles
                    .replace(role, &PostParams::default(), &back)
                    .await
                    .unwrap();
            }
        }
    }
    assert!(n > 20, "{n} verbs checked");
    hub.server.shutdown().await;
}
