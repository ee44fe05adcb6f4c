//! Labels, annotations and names every tool of the toolkit agrees on.

/// The selector label of the 2020 scale test: SelectorSyncSets match clusters carrying it.
pub const SCALETEST: &str = "scaletest";
/// Value of [`SCALETEST`].
pub const SCALETEST_VALUE: &str = "true";
/// Marks every object this toolkit creates; teardown never deletes an object without it.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "hive-scale";
/// Names the run that created an object, so one run can be torn down without touching another.
pub const RUN: &str = "hive-scale.openshift.io/run";
/// The field manager of every server-side apply the toolkit sends.
pub const FIELD_MANAGER: &str = "hive-scale";
/// Hive's annotation that makes a ClusterDeployment a fake cluster (no spoke is contacted).
pub const FAKE_CLUSTER: &str = "hive.openshift.io/fake-cluster";
/// Hive's annotation that pauses syncing of (Selector)SyncSets to a cluster.
pub const SYNCSET_PAUSE: &str = "hive.openshift.io/syncset-pause";
/// Hive's finalizer on ClusterDeployments: deleting one without `preserveOnDelete` deprovisions it.
pub const DEPROVISION_FINALIZER: &str = "hive.openshift.io/deprovision";

/// The run id of the standalone tools that mirror the 2020 scripts (setup-selectorsyncsets,
/// test-setup, teardown, get-kubeconfig) when no `--run` is given: one stable id, so a script
/// run twice, or again after a crash, finishes the same work and reports it unchanged, as the
/// scripts could be re-run. A scale test takes a fresh id per run instead.
pub const SCRIPTS_RUN: &str = "scaletest";

/// Whether `id` is usable as a run id: a DNS label (at most 63 lowercase letters, digits and
/// `-`, starting and ending with a letter or digit), because it is a label value on the hub and
/// part of the names of the objects Hive writes to the spoke.
pub fn is_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

/// A fresh run id, e.g. `hs-20261130t002949-4f2a`: a valid label value that sorts by time and
/// differs between two runs started in the same second.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let now = jiff::Timestamp::now();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i128(now.as_nanosecond());
    h.write_u32(std::process::id());
    format!(
        "hs-{}-{:04x}",
        now.strftime("%Y%m%dt%H%M%S"),
        h.finish() & 0xffff
    )
}

/// Whether `value` is a valid label value (at most 63 characters of letters, digits, `-`, `_`
/// and `.`, starting and ending with a letter or digit, or empty).
pub fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && value.as_bytes()[0].is_ascii_alphanumeric()
            && value.as_bytes()[value.len() - 1].is_ascii_alphanumeric())
}

/// Go's `strconv.ParseBool` truthiness, which Hive uses for its annotations.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Kubernetes' DNS-1123 subdomain rule for object names.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bool_matches_go() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("yes"), None);
        assert_eq!(parse_bool(""), None);
    }

    #[test]
    fn run_ids_are_distinct_label_values() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_ne!(a, b);
        assert!(
            is_label_value(&a) && is_run_id(&a) && a.starts_with("hs-"),
            "{a}"
        );
        assert!(is_run_id(SCRIPTS_RUN));
        for bad in ["", "Run", "a_b", "a.b", "-a", "a-", &"x".repeat(64)] {
            assert!(!is_run_id(bad), "{bad}");
        }
        for bad in ["-x", "x-", "a b", "ü", &"x".repeat(64)] {
            assert!(!is_label_value(bad), "{bad}");
        }
        assert!(is_label_value("scaletest") && is_label_value(""));
    }
}
