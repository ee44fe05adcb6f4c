use super::run::same_hub;
use super::*;
use crate::scenario::output::{fleet_report, junit};

/// A hub's run summary whose fan-out is `samples`, or Hive's histogram `buckets`.
fn run_summary(samples: Vec<f64>, buckets: Option<Vec<(f64, f64)>>) -> Box<Summary> {
    let mut s: Summary =
        serde_json::from_str(include_str!("../../../tests/golden/run/summary.json")).unwrap();
    s.fanout_samples = samples;
    s.fanout_buckets = buckets;
    Box::new(s)
}

fn row(name: &str, status: Status, drain: f64, samples: Vec<f64>) -> HubResult {
    let mut h = HubResult::not_run(
        &Member::new(name, 1, RealHub::default()),
        format!("hubs/{name}"),
        member_run_id("r", name),
        "connect",
        0.0,
        String::new(),
    );
    h.status = status;
    h.failure = None;
    h.drain_seconds = drain;
    h.pairs_applied = samples.len();
    h.pairs_expected = samples.len();
    h.fanout = Percentiles::of(&samples);
    h.summary = Some(run_summary(samples, None));
    h
}

fn fleet(hubs: Vec<HubResult>) -> FleetSummary {
    let mut s = FleetSummary {
        kind: "fleet",
        status: Status::Running,
        exit_code: 0,
        run_id: "r".into(),
        scenario: Scenario::load("2020-adoption").unwrap(),
        parameters: serde_json::Value::Null,
        tool_version: String::new(),
        started: 0.0,
        wall_seconds: 0.0,
        failed_hubs: Vec::new(),
        hubs,
        fleet: FleetTotals::default(),
    };
    s.totals();
    s
}

#[test]
fn totals_merge_pairs_and_name_the_slowest_and_failed_hubs() {
    let s = fleet(vec![
        row("a", Status::Passed, 10.0, vec![1.0, 2.0]),
        row("b", Status::Passed, 30.0, vec![3.0, 40.0]),
        row("c", Status::Timeout, 5.0, vec![5.0]),
    ]);
    let f = &s.fleet;
    assert_eq!((f.pairs_applied, f.hubs_passed), (5, 2));
    assert_eq!(f.slowest_hub.as_deref(), Some("b"));
    assert_eq!(f.fanout.count, 5);
    assert_eq!(f.fanout.max, 40.0);
    assert_eq!(f.fanout_from, FleetFanoutFrom::Objects);
    assert_eq!(s.failed_hubs, vec!["c"]);
    assert_eq!(s.status, Status::Timeout);
    assert_eq!(s.deciding_hub().map(|h| h.name.as_str()), Some("c"));
    let all_ok = fleet(vec![row("a", Status::Passed, 1.0, vec![1.0])]);
    assert_eq!(all_ok.status, Status::Passed);
    assert!(all_ok.deciding_hub().is_none());
    let interrupted = fleet(vec![
        row("a", Status::Failed, 1.0, vec![]),
        row("b", Status::Interrupted, 1.0, vec![]),
    ]);
    assert_eq!(interrupted.status, Status::Interrupted);
    assert_eq!(
        interrupted.deciding_hub().map(|h| h.name.as_str()),
        Some("b")
    );
    // While a hub runs the fleet runs, and hubs that already failed are named.
    let half_way = fleet(vec![
        row("a", Status::Running, 0.0, vec![]),
        row("b", Status::Timeout, 1.0, vec![]),
    ]);
    assert_eq!(half_way.status, Status::Running);
    assert_eq!(half_way.failed_hubs, vec!["b"]);
}

#[test]
fn each_member_has_a_run_id_of_its_own_within_a_dns_label() {
    assert_eq!(
        member_run_id("hs-20261130t002949-4f2a", "east"),
        "hs-20261130t002949-4f2a-east"
    );
    let long = "x".repeat(63);
    let (a, b) = (
        member_run_id(&long, &format!("{}-a", "n".repeat(40))),
        member_run_id(&long, &format!("{}-b", "n".repeat(40))),
    );
    for id in [&a, &b] {
        assert_eq!(id.len(), 63, "{id}");
        assert!(crate::labels::is_run_id(id), "{id}");
        assert!(id.starts_with(&long[..50]), "{id}");
    }
    assert_ne!(a, b, "names that differ past the cut");
    // The same inputs give the same id: a resumed fleet finds its objects again.
    assert_eq!(a, member_run_id(&long, &format!("{}-a", "n".repeat(40))));
    // A cut that ends in a '-' still gives a DNS label.
    let id = member_run_id(&format!("{}-x", "r".repeat(53)), "hub-with-a-long-name");
    assert_eq!(&id[53..55], "--", "{id}");
    assert!(crate::labels::is_run_id(&id), "{id}");
}

#[test]
fn a_hub_named_twice_is_found_by_its_identity() {
    let uid = |u: &str| HubIdentity::KubeSystemUid(u.into());
    let (one, two, cert) = (
        uid("1"),
        uid("2"),
        HubIdentity::CertificateSha256("1".into()),
    );
    assert!(same_hub(&[("a", &one), ("b", &two), ("c", &cert)]).is_none());
    let e = same_hub(&[("a", &one), ("b", &two), ("c", &one)]).unwrap();
    assert_eq!(
        e.to_string(),
        r#"hubs "a" and "c" are the same hub (kube-system namespace uid 1): name each hub once"#
    );
    assert!(matches!(e, Error::SameHub { .. }));
}

#[test]
fn the_report_names_each_hub_s_run_id_and_identity() {
    let mut a = row("a", Status::Passed, 1.0, vec![1.0]);
    a.hub = Some("https://127.0.0.1:6443".into());
    a.identity = Some(HubIdentity::KubeSystemUid("u-1".into()));
    a.phases = vec![
        serde_json::from_value(serde_json::json!({
            "name": "observe", "outcome": "ok", "wall_seconds": 1.0, "modeled_seconds": 1.0,
            "pairs_expected": 1, "pairs_applied": 1, "errors": 0
        }))
        .unwrap(),
    ];
    let r = fleet_report(&fleet(vec![a]), None).unwrap();
    assert!(r.contains("| a | 1 | passed | r-a | 1 of 1 |"), "{r}");
    assert!(
        r.contains("https://127.0.0.1:6443, told from the other hubs by its kube-system namespace uid u-1; its objects carry run id r-a."),
        "{r}"
    );
}

#[test]
fn histograms_add_bucket_by_bucket() {
    let mut a = row("a", Status::Passed, 1.0, vec![]);
    let mut b = row("b", Status::Passed, 1.0, vec![]);
    for (h, buckets) in [
        (&mut a, vec![(10.0, 2.0), (60.0, 2.0), (f64::INFINITY, 2.0)]),
        (&mut b, vec![(10.0, 0.0), (60.0, 2.0), (f64::INFINITY, 2.0)]),
    ] {
        h.fanout = Percentiles::from_histogram(&[], &buckets);
        h.fanout_from = FanoutFrom::HiveHistogram;
        h.summary = Some(run_summary(Vec::new(), Some(buckets)));
    }
    let s = fleet(vec![a, b]);
    assert_eq!(s.fleet.fanout_from, FleetFanoutFrom::HiveHistogram);
    assert_eq!(s.fleet.fanout.count, 4);
    assert_eq!(s.fleet.fanout.max, 60.0);
    let report = fleet_report(&s, None).unwrap();
    assert!(report.contains("| a | 1 | passed |"), "{report}");
}

#[test]
fn findings_are_summed_up_per_hub() {
    let f: crate::metrics::report::ReportFindings = serde_json::from_value(serde_json::json!({
        "queues": [
            {"queue": "clusterSync-controller", "peak": 80.0, "peak_at_s": 12.0, "drain_s": 40.0, "remaining": 0.0, "rate_mean": 2.5},
            {"queue": "syncset-controller", "peak": 5.0, "peak_at_s": 1.0, "drain_s": null, "remaining": 3.0, "rate_mean": 0.5}
        ],
        "rates": [], "notes": [],
        "reapply": {"items": 80.0, "unit": "clusters", "items_from": "clusters", "queue": "clusterSync-controller", "rate": 2.5, "seconds": 32.0, "fits": true, "interval_s": 7200.0}
    }))
    .unwrap();
    let mut h = row("a", Status::Passed, 1.0, vec![1.0]);
    h.phases = vec![
        serde_json::from_value(serde_json::json!({
            "name": "observe", "outcome": "ok", "wall_seconds": 1.0, "modeled_seconds": 1.0,
            "pairs_expected": 1, "pairs_applied": 1, "errors": 0
        }))
        .unwrap(),
    ];
    h.findings = Some(f);
    let bare = row("b", Status::Passed, 1.0, vec![1.0]);
    let t = fleet_report(&fleet(vec![h, bare]), None).unwrap();
    assert!(
        t.contains(
            "Queue clusterSync-controller: peak 80 at 12s, drained in 40s, 2.50 reconciles/s."
        ),
        "{t}"
    );
    assert!(t.contains("not drained (3 left)"), "{t}");
    assert!(
        t.contains("A full re-apply (80 clusters) takes 32s: fits Hive's 7200s interval."),
        "{t}"
    );
    // A hub without findings says none.
    assert_eq!(t.matches("Queue ").count(), 2, "{t}");
}

#[test]
fn a_failure_is_named_with_its_phase_and_time() {
    let mut h = row("east", Status::Failed, 0.0, vec![]);
    h.summary = None;
    h.failure = Some(HubFailure {
        phase: "observe".into(),
        error: "connection refused".into(),
        at: 90.0,
        at_rfc3339: rfc3339(90.0),
    });
    let s = fleet(vec![h, row("west", Status::Passed, 1.0, vec![1.0])]);
    let r = fleet_report(&s, None).unwrap();
    assert!(
        r.contains("**east** failed in observe at 1970-01-01T00:01:30Z (90s into the run): connection refused"),
        "{r}"
    );
    assert_eq!(s.deciding_hub().map(|h| h.name.as_str()), Some("east"));
    let west = &s.hubs[1];
    assert!(west.summary.is_some());
    let junit = junit::render_fleet(&s);
    // East never ran: one failed case of its own; west's run is its own suite.
    assert!(
        junit.contains(
            r#"<testsuite name="east: scaletest 2020-adoption" tests="1" failures="1""#
        ) && junit.contains(
            r#"<failure type="observe" message="connection refused">connection refused</failure>"#
        ),
        "{junit}"
    );
    assert!(
        junit.contains(r#"<testsuite name="west: scaletest "#),
        "{junit}"
    );
}
