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

    // Its command line is one scaletest accepts: in-cluster credentials and a metrics URL,
    // results written under the mounted volume.
    let container = &pod.containers[0];
    let args = container.args.clone().unwrap();
    assert_eq!(args[0], "scaletest");
    assert!(args.iter().any(|a| a == "--in-cluster"), "{args:?}");
    assert!(args.iter().any(|a| a == "--metrics-url"), "{args:?}");
    hive_scale::cli::scaletest::Args::try_parse_from(&args)
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
