//! Realistic Hive objects survive a parse / serialize round trip, fields we do not model included.

use hive_scale_core::api::*;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Parses the fixture into `T`, serializes it back and compares with the YAML read as plain data.
fn round_trip<T: Serialize + DeserializeOwned>(name: &str) -> T {
    let text = fixture(name);
    let typed: T = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    let raw: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(back, raw, "{name} changed in a round trip");
    // And a second pass through JSON text changes nothing either.
    let again: T = serde_json::from_value(back.clone()).unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap(), back);
    typed
}

#[test]
fn cluster_deployment_keeps_unknown_fields() {
    let cd: ClusterDeployment = round_trip("clusterdeployment-adopted.yaml");
    assert!(cd.spec.installed && cd.preserves_on_delete());
    assert!(cd.is_reachable());
    assert_eq!(cd.spec.platform.label_value(), "aws");
    assert_eq!(cd.spec.platform.count(), 1);
    assert_eq!(cd.spec.extra["futureField"]["nested"][2], 3);
    assert_eq!(
        cd.spec.platform.aws.as_ref().unwrap().extra["userTags"]["owner"],
        "scaletest"
    );
    let md = cd.spec.cluster_metadata.as_ref().unwrap();
    assert_eq!(
        md.admin_kubeconfig_secret_ref.name,
        "c17-adopted-admin-kubeconfig"
    );
    assert_eq!(
        md.extra["platform"]["aws"]["hostedZoneRole"],
        "arn:aws:iam::123:role/zone"
    );
}

#[test]
fn read_modify_write_keeps_unknown_fields() {
    let mut cd: ClusterDeployment =
        serde_saphyr::from_str(&fixture("clusterdeployment-adopted.yaml")).unwrap();
    cd.spec.preserve_on_delete = false;
    let v = serde_json::to_value(&cd).unwrap();
    assert_eq!(v["spec"]["preserveOnDelete"], false);
    assert_eq!(v["spec"]["ingress"][0]["name"], "default");
    assert_eq!(
        v["spec"]["controlPlaneConfig"]["servingCertificates"],
        serde_json::json!({})
    );
    assert_eq!(
        v["status"]["platformStatus"],
        serde_json::json!({"aws": {}})
    );
}

#[test]
fn selector_syncset_round_trips() {
    let s: SelectorSyncSet = round_trip("selectorsyncset.yaml");
    assert_eq!(
        s.spec.common.resource_apply_mode,
        Some(ResourceApplyMode::Sync)
    );
    assert_eq!(
        s.spec.common.apply_behavior,
        Some(ApplyBehavior::CreateOrUpdate)
    );
    assert_eq!(s.spec.extra["someNewerHiveField"], "keep-me");
    let labels = [
        ("scaletest".to_string(), "true".to_string()),
        ("hive.openshift.io/cluster-platform".into(), "aws".into()),
    ]
    .into();
    assert!(s.spec.cluster_deployment_selector.matches(&labels));
    let other = [
        ("scaletest".to_string(), "true".to_string()),
        ("hive.openshift.io/cluster-platform".into(), "gcp".into()),
    ]
    .into();
    assert!(!s.spec.cluster_deployment_selector.matches(&other));
    assert_eq!(
        s.spec.cluster_deployment_selector.to_query(),
        "scaletest=true,hive.openshift.io/cluster-platform in (aws,none-platform)"
    );
}

#[test]
fn the_rest_round_trip() {
    let ss: SyncSet = round_trip("syncset.yaml");
    assert_eq!(ss.spec.cluster_deployment_refs[0].name, "c1");
    let cs: ClusterSync = round_trip("clustersync.yaml");
    let st = cs.status.unwrap();
    assert_eq!(st.selector_sync_sets[1].result, SyncResult::Failure);
    assert_eq!(st.selector_sync_sets[0].resources_to_delete.len(), 1);
    let lease: ClusterSyncLease = round_trip("clustersynclease.yaml");
    assert!(lease.spec.renew_time.ends_with(".123456Z"));
    let _: ClusterImageSet = round_trip("clusterimageset.yaml");
    let hc: HiveConfig = round_trip("hiveconfig.yaml");
    assert_eq!(hc.spec.concurrent_reconciles("clustersync"), Some(25));
    assert_eq!(hc.spec.concurrent_reconciles("machinepool"), Some(10));
    assert_eq!(hc.spec.replicas("clustersync"), Some(2));
    assert_eq!(
        (
            hc.spec.client_qps("clustersync"),
            hc.spec.client_burst("clustersync")
        ),
        (Some(50), Some(100))
    );
    assert_eq!(
        hc.spec.client_qps("machinepool"),
        None,
        "no default in the fixture"
    );
    assert_eq!(
        hc.spec.replicas("machinepool"),
        None,
        "no default for replicas"
    );
    let ssi: SyncSetInstance = round_trip("syncsetinstance.yaml");
    assert!(ssi.status.unwrap().applied);
}
