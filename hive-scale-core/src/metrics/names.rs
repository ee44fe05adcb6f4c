//! The metric names the library reads and the simulator exports: one constant each, so a rename
//! on either side fails to compile instead of silently leaving a query without data. Names are
//! as they appear in the text exposition (counters with their `_total` suffix, histograms by
//! their family name). The built-in profiles (`config/profiles/`) read these too; a test keeps
//! their `scrape.metric` fields and this list in step.

/// `workqueue_depth{name,controller,priority}`: items waiting per controller queue.
pub const WORKQUEUE_DEPTH: &str = "workqueue_depth";
/// `controller_runtime_reconcile_total{controller,result}`: reconciles done.
pub const CONTROLLER_RUNTIME_RECONCILE_TOTAL: &str = "controller_runtime_reconcile_total";
/// `hive_syncsetinstance_apply_duration_seconds{type,result}`: time to apply one resource.
pub const SYNCSETINSTANCE_APPLY_DURATION_SECONDS: &str =
    "hive_syncsetinstance_apply_duration_seconds";
/// `hive_syncsetinstance_resources_applied_total{type,result}`: resources and secrets applied.
pub const SYNCSETINSTANCE_RESOURCES_APPLIED_TOTAL: &str =
    "hive_syncsetinstance_resources_applied_total";
/// `hive_selectorsyncset_apply_duration_seconds{name}`: time to first apply a SelectorSyncSet.
pub const SELECTORSYNCSET_APPLY_DURATION_SECONDS: &str =
    "hive_selectorsyncset_apply_duration_seconds";
/// `hive_kube_client_requests_total{controller,method,resource,remote,status}`.
pub const KUBE_CLIENT_REQUESTS_TOTAL: &str = "hive_kube_client_requests_total";
/// `hive_kube_client_request_seconds{controller,method,resource,remote,status}`: latency.
pub const KUBE_CLIENT_REQUEST_SECONDS: &str = "hive_kube_client_request_seconds";
/// `process_cpu_seconds_total`: CPU the process used (client_golang's name).
pub const PROCESS_CPU_SECONDS_TOTAL: &str = "process_cpu_seconds_total";
/// `process_resident_memory_bytes`.
pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";
/// `hive_sim_time_scale`: the simulator's modeled seconds per real second. Absent on a real
/// Hive; when present, rates are converted to per modeled second.
pub const SIM_TIME_SCALE: &str = "hive_sim_time_scale";
/// `apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}`:
/// kube-apiserver's requests served.
pub const APISERVER_REQUEST_TOTAL: &str = "apiserver_request_total";
/// `apiserver_request_duration_seconds{verb,dry_run,group,version,resource,subresource,scope,component}`:
/// kube-apiserver's latency from receipt to the last byte of the response (the SLO's input).
pub const APISERVER_REQUEST_DURATION_SECONDS: &str = "apiserver_request_duration_seconds";
/// `apiserver_response_sizes{verb,group,version,resource,subresource,scope,component}` (bytes).
pub const APISERVER_RESPONSE_SIZES: &str = "apiserver_response_sizes";
/// `apiserver_storage_objects{resource}`: objects stored per resource.
pub const APISERVER_STORAGE_OBJECTS: &str = "apiserver_storage_objects";

/// `hive_selectorsyncset_clusters_total{name}`: ClusterSyncs listing the SelectorSyncSet.
pub const SELECTORSYNCSET_CLUSTERS: &str = "hive_selectorsyncset_clusters_total";
/// `hive_selectorsyncset_clusters_unapplied_total{name}`: of those, the ones whose last result
/// is not a success.
pub const SELECTORSYNCSET_UNAPPLIED: &str = "hive_selectorsyncset_clusters_unapplied_total";

/// `controller_runtime_max_concurrent_reconciles{controller}`: a controller's workers.
pub const MAX_CONCURRENT_RECONCILES: &str = "controller_runtime_max_concurrent_reconciles";
/// `hive_sim_cpu_seconds_total`: the embedded hub's modeled CPU of Hive's sync controller (a
/// real hub has the clustersync pods' `process_cpu_seconds_total` instead).
pub const SIM_CPU_SECONDS_TOTAL: &str = "hive_sim_cpu_seconds_total";

/// `hive_controller_reconcile_seconds{controller,outcome}`: Hive's own reconcile histogram; its
/// `outcome` tells a clustersync pod's `skipped-sync` (another replica's cluster) from work.
pub const CONTROLLER_RECONCILE_SECONDS: &str = "hive_controller_reconcile_seconds";

/// Every name above that Hive's metrics endpoints export (the simulator's too).
pub const ALL: &[&str] = &[
    WORKQUEUE_DEPTH,
    CONTROLLER_RUNTIME_RECONCILE_TOTAL,
    CONTROLLER_RECONCILE_SECONDS,
    SYNCSETINSTANCE_APPLY_DURATION_SECONDS,
    SYNCSETINSTANCE_RESOURCES_APPLIED_TOTAL,
    SELECTORSYNCSET_APPLY_DURATION_SECONDS,
    KUBE_CLIENT_REQUESTS_TOTAL,
    KUBE_CLIENT_REQUEST_SECONDS,
    PROCESS_CPU_SECONDS_TOTAL,
    PROCESS_RESIDENT_MEMORY_BYTES,
    SIM_TIME_SCALE,
    SELECTORSYNCSET_CLUSTERS,
    SELECTORSYNCSET_UNAPPLIED,
    MAX_CONCURRENT_RECONCILES,
    SIM_CPU_SECONDS_TOTAL,
];

/// The names above that kube-apiserver exports (the embedded hub's API server too).
pub const APISERVER_ALL: &[&str] = &[
    APISERVER_REQUEST_TOTAL,
    APISERVER_REQUEST_DURATION_SECONDS,
    APISERVER_RESPONSE_SIZES,
    APISERVER_STORAGE_OBJECTS,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Profile;

    #[test]
    fn every_metric_the_builtin_profiles_scrape_has_a_constant() {
        for profile in [Profile::builtin(), Profile::hive_2020()] {
            for q in &profile.queries {
                if let Some(s) = &q.scrape {
                    assert!(
                        ALL.contains(&s.metric.as_str())
                            || APISERVER_ALL.contains(&s.metric.as_str()),
                        "profile {} query {} scrapes {}, which has no constant",
                        profile.name,
                        q.name,
                        s.metric
                    );
                }
                // The PromQL of a query with a scrape equivalent reads the same family.
                if let Some(s) = &q.scrape
                    && !s.metric.starts_with("process_cpu")
                {
                    assert!(q.query.contains(&s.metric), "{}: {}", q.name, q.query);
                }
            }
        }
    }
}
