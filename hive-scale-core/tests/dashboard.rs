//! `config/grafana/hive-scale.json` is the default metric profile's dashboard, as generated:
//! a change to the profile changes the dashboard in the same commit.
//! `HIVE_SCALE_GOLDEN_UPDATE=1 cargo test -p hive-scale-core --test dashboard` rewrites it.

use hive_scale_core::metrics::dashboard;
use hive_scale_core::metrics::profile::Profile;
use std::path::Path;

#[test]
fn the_shipped_dashboard_is_the_default_profile_s() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/grafana/hive-scale.json");
    let want = dashboard::grafana_file(&Profile::builtin());
    if std::env::var_os("HIVE_SCALE_GOLDEN_UPDATE").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} differs from the default profile's dashboard; regenerate it with \
         HIVE_SCALE_GOLDEN_UPDATE=1 cargo test -p hive-scale-core --test dashboard",
        path.display()
    );
    // Grafana reads it: JSON, one panel per query, each with its expression.
    let d: serde_json::Value = serde_json::from_str(&have).unwrap();
    let exprs: Vec<&str> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["targets"][0]["expr"].as_str().unwrap())
        .collect();
    let profile = Profile::builtin();
    let queries: Vec<&str> = profile.queries.iter().map(|q| q.query.as_str()).collect();
    assert_eq!(exprs, queries);
}
