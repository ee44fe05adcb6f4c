//! Hive's metrics, with Hive's names, types, label names and buckets (hive-facts.md, section 6),
//! plus `hive_sim_*` gauges and the process's own `process_*` metrics. Served in the Prometheus
//! text format (0.0.4), as client_golang serves them.

use hive_scale_core::metrics::names;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// A label set: `(name, value)` pairs in a fixed order.
pub type Labels = Vec<(&'static str, String)>;
type HistFamily = Family<Labels, Histogram, fn() -> Histogram>;
type FGauge = Gauge<f64, AtomicU64>;

macro_rules! buckets {
    ($name:ident, [$($b:expr),*]) => {
        fn $name() -> Histogram {
            Histogram::new([$($b as f64),*])
        }
    };
}
buckets!(syncset_buckets, [5, 10, 30, 60, 300, 600, 1800, 3600]);
buckets!(apply_buckets, [0.5, 1, 3, 5, 10, 20, 30]);
buckets!(
    first_success_buckets,
    [60, 300, 600, 1200, 1800, 2400, 3000, 3600]
);
buckets!(client_buckets, [0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120]);
buckets!(reconcile_buckets, [0.001, 0.01, 0.1, 1, 10, 30, 60, 120]);
fn workqueue_buckets() -> Histogram {
    Histogram::new((0..12).map(|i| 1e-8 * 10f64.powi(i)))
}
fn controller_runtime_buckets() -> Histogram {
    // controller-runtime's 40 buckets from 5 ms to 60 s.
    let mut b: Vec<f64> = vec![
        0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8,
        0.9, 1.0,
    ];
    b.extend([
        1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
        25.0, 30.0, 40.0, 50.0, 60.0,
    ]);
    Histogram::new(b)
}

/// The name to register a counter under: prometheus-client appends `_total` to counters when it
/// encodes them, so a counter registered as `names::X_TOTAL` would come out as `x_total_total`.
fn counter_name(name: &'static str) -> &'static str {
    name.strip_suffix("_total").unwrap_or(name)
}

/// Every metric the simulated Hive exports.
#[derive(Debug)]
pub struct HiveMetrics {
    registry: Registry,
    /// `workqueue_depth{name,controller,priority}` (legacy: `{name}`).
    pub workqueue_depth: Family<Labels, Gauge>,
    /// `workqueue_adds_total`.
    pub workqueue_adds: Family<Labels, Counter>,
    /// `workqueue_retries_total`.
    pub workqueue_retries: Family<Labels, Counter>,
    /// `workqueue_queue_duration_seconds`.
    pub workqueue_queue_duration: HistFamily,
    /// `workqueue_work_duration_seconds`.
    pub workqueue_work_duration: HistFamily,
    /// `workqueue_unfinished_work_seconds`.
    pub workqueue_unfinished_work: Family<Labels, FGauge>,
    /// `workqueue_longest_running_processor_seconds`.
    pub workqueue_longest_running: Family<Labels, FGauge>,
    /// `controller_runtime_reconcile_total{controller,result}`.
    pub reconcile_total: Family<Labels, Counter>,
    /// `controller_runtime_reconcile_errors_total{controller}`.
    pub reconcile_errors: Family<Labels, Counter>,
    /// `controller_runtime_reconcile_time_seconds{controller}`.
    pub reconcile_time: HistFamily,
    /// `controller_runtime_max_concurrent_reconciles{controller}`.
    pub max_concurrent_reconciles: Family<Labels, Gauge>,
    /// `controller_runtime_active_workers{controller}`.
    pub active_workers: Family<Labels, Gauge>,
    /// `hive_syncsetinstance_apply_duration_seconds{type,result}`.
    pub apply_duration: HistFamily,
    /// `hive_syncsetinstance_resources_applied_total{type,result}`.
    pub resources_applied: Family<Labels, Counter>,
    /// `hive_selectorsyncset_apply_duration_seconds{name}`.
    pub selectorsyncset_apply_duration: HistFamily,
    /// `hive_syncset_apply_duration_seconds{group}`.
    pub syncset_apply_duration: HistFamily,
    /// `hive_clustersync_first_success_duration_seconds`.
    pub clustersync_first_success: HistFamily,
    /// `hive_kube_client_requests_total{controller,method,resource,remote,status}`.
    pub client_requests: Family<Labels, Counter>,
    /// `hive_kube_client_request_seconds{...}`.
    pub client_request_seconds: HistFamily,
    /// `hive_controller_reconcile_seconds{controller,outcome}`.
    pub controller_reconcile_seconds: HistFamily,
    /// `hive_selectorsyncset_clusters_total{name}`.
    pub selectorsyncset_clusters: Family<Labels, Gauge>,
    /// `hive_selectorsyncset_clusters_unapplied_total{name}`.
    pub selectorsyncset_unapplied: Family<Labels, Gauge>,
    /// `hive_sim_cores_busy`: modeled cores in use now.
    pub sim_cores_busy: Gauge,
    /// `hive_sim_cpu_seconds_total`: modeled CPU spent (its rate is cores busy on average).
    pub sim_cpu_seconds: Counter<f64, AtomicU64>,
    /// `hive_sim_thrash_total`: spoke writes that overwrote another writer's different content.
    pub sim_thrash: Counter,
    /// `hive_sim_deprovisions_total`: ClusterDeployments deleted without preserveOnDelete (a real
    /// Hive would have destroyed the cluster's infrastructure).
    pub sim_deprovisions: Counter,
    /// `hive_sim_time_scale`: modeled seconds per real second.
    pub sim_time_scale: FGauge,
    process_cpu: Counter<f64, AtomicU64>,
    process_rss: Gauge,
    process_vm: Gauge,
    process_start: FGauge,
    process_fds: Gauge,
}

impl Default for HiveMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl HiveMetrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut r = Registry::default();
        let hist = |f: fn() -> Histogram| HistFamily::new_with_constructor(f);
        let m = Self {
            workqueue_depth: Family::default(),
            workqueue_adds: Family::default(),
            workqueue_retries: Family::default(),
            workqueue_queue_duration: hist(workqueue_buckets),
            workqueue_work_duration: hist(workqueue_buckets),
            workqueue_unfinished_work: Family::default(),
            workqueue_longest_running: Family::default(),
            reconcile_total: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_time: hist(controller_runtime_buckets),
            max_concurrent_reconciles: Family::default(),
            active_workers: Family::default(),
            apply_duration: hist(apply_buckets),
            resources_applied: Family::default(),
            selectorsyncset_apply_duration: hist(syncset_buckets),
            syncset_apply_duration: hist(syncset_buckets),
            clustersync_first_success: hist(first_success_buckets),
            client_requests: Family::default(),
            client_request_seconds: hist(client_buckets),
            controller_reconcile_seconds: hist(reconcile_buckets),
            selectorsyncset_clusters: Family::default(),
            selectorsyncset_unapplied: Family::default(),
            sim_cores_busy: Gauge::default(),
            sim_cpu_seconds: Counter::default(),
            sim_thrash: Counter::default(),
            sim_deprovisions: Counter::default(),
            sim_time_scale: Gauge::default(),
            process_cpu: Counter::default(),
            process_rss: Gauge::default(),
            process_vm: Gauge::default(),
            process_start: Gauge::default(),
            process_fds: Gauge::default(),
            registry: Registry::default(),
        };
        r.register(
            names::WORKQUEUE_DEPTH,
            "Current depth of workqueue",
            m.workqueue_depth.clone(),
        );
        r.register(
            "workqueue_adds",
            "Total number of adds handled by workqueue",
            m.workqueue_adds.clone(),
        );
        r.register(
            "workqueue_retries",
            "Total number of retries handled by workqueue",
            m.workqueue_retries.clone(),
        );
        r.register(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            m.workqueue_queue_duration.clone(),
        );
        r.register(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes",
            m.workqueue_work_duration.clone(),
        );
        r.register(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress",
            m.workqueue_unfinished_work.clone(),
        );
        r.register(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running",
            m.workqueue_longest_running.clone(),
        );
        r.register(
            counter_name(names::CONTROLLER_RUNTIME_RECONCILE_TOTAL),
            "Total number of reconciliations per controller",
            m.reconcile_total.clone(),
        );
        r.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            m.reconcile_errors.clone(),
        );
        r.register(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            m.reconcile_time.clone(),
        );
        r.register(
            names::MAX_CONCURRENT_RECONCILES,
            "Maximum number of concurrent reconciles per controller",
            m.max_concurrent_reconciles.clone(),
        );
        r.register(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            m.active_workers.clone(),
        );
        r.register(
            names::SYNCSETINSTANCE_APPLY_DURATION_SECONDS,
            "Time to apply a resource or secret",
            m.apply_duration.clone(),
        );
        r.register(
            counter_name(names::SYNCSETINSTANCE_RESOURCES_APPLIED_TOTAL),
            "Resources and secrets applied",
            m.resources_applied.clone(),
        );
        r.register(
            names::SELECTORSYNCSET_APPLY_DURATION_SECONDS,
            "Time to first successfully apply a SelectorSyncSet to a cluster",
            m.selectorsyncset_apply_duration.clone(),
        );
        r.register(
            "hive_syncset_apply_duration_seconds",
            "Time to first successfully apply a SyncSet to a cluster",
            m.syncset_apply_duration.clone(),
        );
        r.register(
            "hive_clustersync_first_success_duration_seconds",
            "Time from install to the ClusterSync's first success",
            m.clustersync_first_success.clone(),
        );
        r.register(
            counter_name(names::KUBE_CLIENT_REQUESTS_TOTAL),
            "Kubernetes client requests",
            m.client_requests.clone(),
        );
        r.register(
            names::KUBE_CLIENT_REQUEST_SECONDS,
            "Kubernetes client request latency",
            m.client_request_seconds.clone(),
        );
        r.register(
            names::CONTROLLER_RECONCILE_SECONDS,
            "Reconcile time per controller and outcome",
            m.controller_reconcile_seconds.clone(),
        );
        r.register(
            names::SELECTORSYNCSET_CLUSTERS,
            "ClusterSyncs listing the SelectorSyncSet",
            m.selectorsyncset_clusters.clone(),
        );
        r.register(
            names::SELECTORSYNCSET_UNAPPLIED,
            "Of those, how many are not applied",
            m.selectorsyncset_unapplied.clone(),
        );
        r.register(
            "hive_sim_cores_busy",
            "Modeled cores in use",
            m.sim_cores_busy.clone(),
        );
        r.register(
            counter_name(names::SIM_CPU_SECONDS_TOTAL),
            "Modeled CPU seconds spent by the simulated controllers",
            m.sim_cpu_seconds.clone(),
        );
        r.register(
            "hive_sim_thrash",
            "Spoke writes that changed an object another set or copy wrote with different content",
            m.sim_thrash.clone(),
        );
        r.register("hive_sim_deprovisions", "ClusterDeployments deleted without preserveOnDelete: a real Hive would deprovision them", m.sim_deprovisions.clone());
        r.register(
            names::SIM_TIME_SCALE,
            "Modeled seconds per real second; divide rates by it for modeled rates",
            m.sim_time_scale.clone(),
        );
        r.register(
            counter_name(names::PROCESS_CPU_SECONDS_TOTAL),
            "Total user and system CPU time spent in seconds",
            m.process_cpu.clone(),
        );
        r.register(
            names::PROCESS_RESIDENT_MEMORY_BYTES,
            "Resident memory size in bytes",
            m.process_rss.clone(),
        );
        r.register(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            m.process_vm.clone(),
        );
        r.register(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            m.process_start.clone(),
        );
        r.register(
            "process_open_fds",
            "Number of open file descriptors",
            m.process_fds.clone(),
        );
        Self { registry: r, ..m }
    }

    /// The text exposition, with process metrics read now.
    pub fn encode(&self) -> String {
        self.refresh_process();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// The content type of [`HiveMetrics::encode`].
    pub fn content_type() -> &'static str {
        prometheus_text::CONTENT_TYPE
    }

    fn refresh_process(&self) {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return;
        };
        // Fields after the command name (which may contain spaces) start after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            return;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        let ticks = 100.0;
        // utime and stime are fields 14 and 15 of stat (index 11, 12 after the name).
        // A counter, as client_golang exports it (process_cpu_seconds_total).
        let cpu = (num(11) + num(12)) / ticks;
        let delta = cpu - self.process_cpu.get();
        if delta > 0.0 {
            self.process_cpu.inc_by(delta);
        }
        self.process_vm.set(num(20) as i64);
        self.process_rss.set((num(21) * 4096.0) as i64);
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("btime"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            })
            .unwrap_or(0.0);
        self.process_start.set(boot + num(19) / ticks);
        if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
            self.process_fds.set(d.count() as i64);
        }
    }
}

/// Labels from pairs.
pub fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_uses_hives_names_and_buckets() {
        let m = HiveMetrics::new();
        m.resources_applied
            .get_or_create(&labels(&[("type", "apply"), ("result", "success")]))
            .inc();
        m.apply_duration
            .get_or_create(&labels(&[("type", "apply"), ("result", "success")]))
            .observe(0.6);
        m.workqueue_depth
            .get_or_create(&labels(&[
                ("name", "clusterSync-controller"),
                ("controller", "clusterSync-controller"),
                ("priority", "0"),
            ]))
            .set(3);
        m.sim_time_scale.set(10.0);
        let text = m.encode();
        assert!(
            text.contains("# TYPE hive_syncsetinstance_resources_applied_total counter"),
            "{text}"
        );
        assert!(
            text.contains(
                "hive_syncsetinstance_resources_applied_total{type=\"apply\",result=\"success\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("hive_syncsetinstance_apply_duration_seconds_bucket{type=\"apply\",result=\"success\",le=\"0.5\"} 0"), "{text}");
        assert!(text.contains("hive_syncsetinstance_apply_duration_seconds_bucket{type=\"apply\",result=\"success\",le=\"1\"} 1"), "{text}");
        assert!(text.contains("workqueue_depth{name=\"clusterSync-controller\",controller=\"clusterSync-controller\",priority=\"0\"} 3"), "{text}");
        assert!(text.contains("hive_sim_time_scale 10"), "{text}");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
        assert!(
            text.contains("# TYPE process_cpu_seconds_total counter"),
            "{text}"
        );
        m.reconcile_total
            .get_or_create(&labels(&[("controller", "c"), ("result", "success")]))
            .inc();
        // Every name the library reads is a family here, counters with one `_total`. A family
        // shows only once it has a series.
        let l = labels(&[("name", "x")]);
        m.selectorsyncset_apply_duration
            .get_or_create(&l)
            .observe(1.0);
        m.client_requests.get_or_create(&l).inc();
        m.client_request_seconds.get_or_create(&l).observe(1.0);
        m.controller_reconcile_seconds
            .get_or_create(&l)
            .observe(1.0);
        m.selectorsyncset_clusters.get_or_create(&l).set(2);
        m.selectorsyncset_unapplied.get_or_create(&l).set(1);
        m.max_concurrent_reconciles.get_or_create(&l).set(5);
        let text = m.encode();
        for name in names::ALL {
            assert!(
                text.lines().any(|l| l
                    .strip_prefix(&format!("# TYPE {name} "))
                    .is_some_and(|kind| !kind.contains(' '))),
                "{name} is not exported:\n{text}"
            );
        }
        assert!(!text.contains("_total_total"), "{text}");
        assert!(
            m.encode().contains(
                "controller_runtime_reconcile_total{controller=\"c\",result=\"success\"} 1"
            )
        );
    }
}
