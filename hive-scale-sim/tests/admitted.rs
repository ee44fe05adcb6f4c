//! Every object Hive's CRDs admit decodes into hive-scale's types, and keeps what it holds.
//!
//! The objects come from the schemas of the CRDs the embedded hub serves (Hive's constraints
//! on every field we model, none stricter): empty strings, other spellings of Hive's words,
//! missing optional fields, fields nobody models.

use hive_scale_core::api::*;
use hive_scale_sim::testing::admitted_object;
use rand::SeedableRng;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Decodes `v` as every reader of a hub's objects does (one object at a time, as
/// [`Lenient`]), and serializes it back.
fn through<K>(v: &Value) -> Result<Value, String>
where
    K: kube::Resource<DynamicType = ()> + Serialize + DeserializeOwned,
{
    let read: Lenient<K> = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    let k = read.decoded().map_err(|e| e.to_string())?;
    serde_json::to_value(&**k).map_err(|e| e.to_string())
}

fn without_empty_lists(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.as_array().is_some_and(Vec::is_empty))
                .map(|(k, v)| (k.clone(), without_empty_lists(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_empty_lists).collect()),
        other => other.clone(),
    }
}

#[test]
fn every_object_hive_admits_decodes_and_keeps_what_it_holds() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut checked = 0;
    for crd in crds() {
        let kind = crd.spec.names.kind.clone();
        let namespaced = crd.spec.scope == "Namespaced";
        for i in 0..300 {
            let obj = admitted_object(
                &crd,
                &format!("theirs-{i}"),
                namespaced.then_some("other-team"),
                &mut rng,
            );
            let back = match kind.as_str() {
                "ClusterDeployment" => through::<ClusterDeployment>(&obj),
                "SyncSet" => through::<SyncSet>(&obj),
                "SelectorSyncSet" => through::<SelectorSyncSet>(&obj),
                "ClusterImageSet" => through::<ClusterImageSet>(&obj),
                "HiveConfig" => through::<HiveConfig>(&obj),
                "SyncSetInstance" => through::<SyncSetInstance>(&obj),
                "ClusterSync" => through::<ClusterSync>(&obj),
                "ClusterSyncLease" => through::<ClusterSyncLease>(&obj),
                other => panic!("a CRD of a kind this test does not know: {other}"),
            }
            .unwrap_or_else(|e| panic!("{kind} admitted by its CRD does not decode: {e}\n{obj:#}"));
            // A read-modify-write never drops what somebody else wrote (an empty list written
            // back as absent reads the same, as Go's omitempty writes it).
            assert!(
                hive_scale_core::apply::contains(&without_empty_lists(&obj), &back),
                "{kind} lost something in a round trip:\n{obj:#}\n{back:#}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 8 * 300);
}

#[test]
fn values_outside_our_words_are_kept_as_written() {
    let set: SelectorSyncSet = serde_json::from_value(serde_json::json!({
        "apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
        "metadata": {"name": "theirs"},
        "spec": {"resourceApplyMode": "sync", "applyBehavior": ""}
    }))
    .unwrap();
    // Hive compares the exact spelling: `sync` is not Sync to it, and stays `sync` here.
    assert_eq!(
        set.spec.common.resource_apply_mode,
        Some(ResourceApplyMode::Other("sync".into()))
    );
    assert_eq!(
        set.spec.common.apply_behavior,
        Some(ApplyBehavior::Other(String::new()))
    );
    assert_eq!(
        serde_json::to_value(&set).unwrap()["spec"]["resourceApplyMode"],
        "sync"
    );
}
