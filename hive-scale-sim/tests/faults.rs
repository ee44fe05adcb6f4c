//! Injected network faults, seen by a kube client: a write committed before the connection was
//! cut, and conflicts that change nothing.

use hive_scale_sim::apiserver::faults::FaultConfig;
use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn faulty(spec: &str) -> (tempfile::TempDir, ApiServer, Api<ConfigMap>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ApiServerConfig::new(dir.path(), "hub");
    cfg.faults = Some(FaultConfig::parse(spec).unwrap());
    let hub = ApiServer::start(cfg).await.unwrap();
    let api = Api::namespaced(hub.client().await.unwrap(), "default");
    (dir, hub, api)
}

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": value}}))
        .unwrap()
}

/// The ConfigMap as the store holds it, bypassing the faults.
fn stored(hub: &ApiServer, name: &str) -> Option<serde_json::Value> {
    let def = hub
        .store()
        .registry()
        .lookup("", "v1", "configmaps")
        .unwrap();
    hub.store()
        .get(&def, "default", name)
        .ok()
        .map(|o| (*o).clone())
}

/// A transport error: the client got no answer (not an API error).
fn cut(e: &kube::Error) -> bool {
    !matches!(e, kube::Error::Api(_))
}

#[tokio::test]
async fn a_committed_write_whose_answer_is_lost_really_happened() {
    let (_d, hub, api) = faulty("commit-drop=1,seed=3").await;
    let err = api
        .create(&PostParams::default(), &cm("c", "1"))
        .await
        .unwrap_err();
    assert!(cut(&err), "{err:?}");
    assert_eq!(
        stored(&hub, "c").unwrap()["data"]["a"],
        "1",
        "the create was committed"
    );

    let params = PatchParams::apply("test").force();
    let err = api
        .patch("c", &params, &Patch::Apply(cm("c", "2")))
        .await
        .unwrap_err();
    assert!(cut(&err), "{err:?}");
    assert_eq!(
        stored(&hub, "c").unwrap()["data"]["a"],
        "2",
        "the apply was committed"
    );

    let err = api.delete("c", &DeleteParams::default()).await.unwrap_err();
    assert!(cut(&err), "{err:?}");
    assert!(stored(&hub, "c").is_none(), "the delete was committed");

    // Reads are not writes: they are answered.
    assert!(api.get_opt("c").await.unwrap().is_none());
    assert_eq!(hub.fault_stats().unwrap().injected["commit-drop"], 3);
    hub.shutdown().await;
}

#[tokio::test]
async fn an_injected_conflict_changes_nothing() {
    let (_d, hub, api) = faulty("409=1,seed=3").await;
    let conflict = |e: kube::Error| matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict");

    // Apply of an object that does not exist: 409, and nothing is created.
    let params = PatchParams::apply("test").force();
    let err = api
        .patch("c", &params, &Patch::Apply(cm("c", "1")))
        .await
        .unwrap_err();
    assert!(conflict(err));
    assert!(stored(&hub, "c").is_none());

    // A create races with another: AlreadyExists, and nothing is created either.
    let err = api
        .create(&PostParams::default(), &cm("c", "1"))
        .await
        .unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"));
    assert!(stored(&hub, "c").is_none());
    let def = hub
        .store()
        .registry()
        .lookup("", "v1", "configmaps")
        .unwrap();
    let value = serde_json::to_value(cm("c", "1")).unwrap();
    hub.store()
        .create(&def, "default", value, &Default::default())
        .unwrap();
    let created: ConfigMap = serde_json::from_value(stored(&hub, "c").unwrap()).unwrap();
    let rv = stored(&hub, "c").unwrap()["metadata"]["resourceVersion"].clone();
    let err = api
        .patch("c", &params, &Patch::Apply(cm("c", "2")))
        .await
        .unwrap_err();
    assert!(conflict(err));
    let err = api
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": "3"}})),
        )
        .await
        .unwrap_err();
    assert!(conflict(err));
    let err = api
        .replace("c", &PostParams::default(), &created)
        .await
        .unwrap_err();
    assert!(conflict(err));
    let err = api.delete("c", &DeleteParams::default()).await.unwrap_err();
    assert!(conflict(err));
    let now = stored(&hub, "c").expect("still there");
    assert_eq!(now["data"]["a"], "1");
    assert_eq!(now["metadata"]["resourceVersion"], rv, "not written at all");
    assert_eq!(hub.fault_stats().unwrap().injected["409"], 6);
    hub.shutdown().await;
}
