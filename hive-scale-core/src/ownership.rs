//! Whose an object is, and why the toolkit leaves one alone.
//!
//! The toolkit writes and deletes only what it created: objects carrying
//! `app.kubernetes.io/managed-by: hive-scale`, and of those, only the current run's (the
//! `hive-scale.openshift.io/run` label). Everything else on a hub belongs to somebody else, and
//! a refusal names the object and says why.

use crate::api::ClusterDeployment;
use crate::labels;
use kube::api::ObjectMeta;
use serde::Serialize;

/// Whose an object is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// The toolkit's, of the run asked about.
    Ours,
    /// The toolkit's, of another run (named).
    OtherRun(String),
    /// Not the toolkit's.
    Foreign,
}

/// Whose the object with `meta` is, seen from run `run`.
pub fn ownership(meta: &ObjectMeta, run: &str) -> Ownership {
    let labels = meta.labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    if label(labels::MANAGED_BY) != Some(labels::MANAGED_BY_VALUE) {
        return Ownership::Foreign;
    }
    match label(labels::RUN) {
        Some(r) if r == run => Ownership::Ours,
        other => Ownership::OtherRun(other.unwrap_or_default().to_string()),
    }
}

/// Whether the object with `meta` carries the toolkit's label (of any run).
pub fn is_toolkits(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(labels::MANAGED_BY))
        .map(String::as_str)
        == Some(labels::MANAGED_BY_VALUE)
}

/// Why the toolkit would not write or delete an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum RefusalReason {
    /// It exists and is not the toolkit's.
    #[error(
        "it exists and is not hive-scale's (no label app.kubernetes.io/managed-by=hive-scale); left as it is"
    )]
    NotOurs,
    /// A namespace exists and is not the toolkit's: a clone goes there only when asked.
    #[error(
        "it exists and is not hive-scale's; a clone is adopted into it only with --borrow-namespaces (it then stays unlabelled and is never deleted)"
    )]
    NotOurNamespace,
    /// It is the toolkit's, but another run's.
    #[error(
        "it belongs to hive-scale run {0:?}; left as it is (pass --run {0} to act on that run)"
    )]
    OtherRun(String),
    /// Deleting this ClusterDeployment would deprovision a real cluster.
    #[error(
        "spec.preserveOnDelete is not true: deleting it would make Hive deprovision the cluster it points at"
    )]
    NotPreserved,
    /// Deleting this namespace would delete ClusterDeployments in it.
    #[error("the namespace still holds ClusterDeployments ({0}); deleting it would delete them")]
    HoldsClusterDeployments(String),
    /// It is being deleted and did not go in time.
    #[error("it is being deleted and was still there after {0}s")]
    StillTerminating(u64),
}

/// An object the toolkit left alone, and why.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, thiserror::Error,
)]
#[error("{object}: {reason}")]
pub struct Refusal {
    /// `Kind namespace/name` (or `Kind name` for cluster-scoped objects).
    pub object: String,
    /// Why, written as its message (which reads back as the reason).
    #[serde(serialize_with = "display", deserialize_with = "from_message")]
    pub reason: RefusalReason,
}

fn display<S: serde::Serializer>(r: &RefusalReason, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(r)
}

fn from_message<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RefusalReason, D::Error> {
    let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

impl std::str::FromStr for RefusalReason {
    type Err = String;
    /// A reason from its message, as a summary file holds it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let between = |start: &str, end: &str| {
            text.strip_prefix(start)
                .and_then(|rest| rest.split_once(end))
                .map(|(inside, _)| inside.to_string())
        };
        for fixed in [
            RefusalReason::NotOurs,
            RefusalReason::NotOurNamespace,
            RefusalReason::NotPreserved,
        ] {
            if text == fixed.to_string() {
                return Ok(fixed);
            }
        }
        if let Some(run) = between("it belongs to hive-scale run ", "; left as it is") {
            return serde_json::from_str(&run)
                .map(RefusalReason::OtherRun)
                .map_err(|e| format!("{text:?}: {e}"));
        }
        if let Some(held) = between(
            "the namespace still holds ClusterDeployments (",
            "); deleting it",
        ) {
            return Ok(RefusalReason::HoldsClusterDeployments(held));
        }
        if let Some(secs) = between("it is being deleted and was still there after ", "s") {
            return secs
                .parse()
                .map(RefusalReason::StillTerminating)
                .map_err(|e| format!("{text:?}: {e}"));
        }
        Err(format!("not a refusal's reason: {text:?}"))
    }
}

impl Refusal {
    /// A refusal of the object `kind` with `meta`.
    pub fn new(kind: &str, meta: &ObjectMeta, reason: RefusalReason) -> Self {
        Self {
            object: describe(kind, meta),
            reason,
        }
    }
}

/// `Kind namespace/name`, or `Kind name` without a namespace.
pub fn describe(kind: &str, meta: &ObjectMeta) -> String {
    match (meta.namespace.as_deref(), meta.name.as_deref()) {
        (Some(ns), Some(n)) if !ns.is_empty() => format!("{kind} {ns}/{n}"),
        (_, n) => format!("{kind} {}", n.unwrap_or_default()),
    }
}

/// The deprovision interlock: a ClusterDeployment may be deleted only if it is the toolkit's
/// (of run `run`, or of any run when `None`) and has `preserveOnDelete: true`; Hive deprovisions
/// the real cluster behind one deleted without it.
pub fn interlock(cd: &ClusterDeployment, run: Option<&str>) -> Result<(), RefusalReason> {
    if !cd.spec.preserve_on_delete {
        return Err(RefusalReason::NotPreserved);
    }
    match run {
        None if is_toolkits(&cd.metadata) => Ok(()),
        None => Err(RefusalReason::NotOurs),
        Some(run) => match ownership(&cd.metadata, run) {
            Ownership::Ours => Ok(()),
            Ownership::OtherRun(r) => Err(RefusalReason::OtherRun(r)),
            Ownership::Foreign => Err(RefusalReason::NotOurs),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn meta(labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some("c1".into()),
            namespace: Some("ns1".into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn ownership_by_label_and_run() {
        let ours = meta(&[(labels::MANAGED_BY, "hive-scale"), (labels::RUN, "r1")]);
        assert_eq!(ownership(&ours, "r1"), Ownership::Ours);
        assert_eq!(ownership(&ours, "r2"), Ownership::OtherRun("r1".into()));
        assert_eq!(
            ownership(&meta(&[(labels::RUN, "r1")]), "r1"),
            Ownership::Foreign
        );
        assert_eq!(ownership(&ObjectMeta::default(), "r1"), Ownership::Foreign);
        assert!(is_toolkits(&ours) && !is_toolkits(&ObjectMeta::default()));
    }

    #[test]
    fn the_interlock_needs_preserve_on_delete_and_our_run() {
        let mut cd = ClusterDeployment::new("c1", Default::default());
        cd.metadata = meta(&[(labels::MANAGED_BY, "hive-scale"), (labels::RUN, "r1")]);
        assert_eq!(interlock(&cd, Some("r1")), Err(RefusalReason::NotPreserved));
        cd.spec.preserve_on_delete = true;
        assert_eq!(interlock(&cd, Some("r1")), Ok(()));
        assert_eq!(interlock(&cd, None), Ok(()));
        assert_eq!(
            interlock(&cd, Some("r2")),
            Err(RefusalReason::OtherRun("r1".into()))
        );
        cd.metadata = meta(&[]);
        assert_eq!(interlock(&cd, None), Err(RefusalReason::NotOurs));
        let r = Refusal::new("ClusterDeployment", &cd.metadata, RefusalReason::NotOurs);
        assert!(
            r.to_string()
                .starts_with("ClusterDeployment ns1/c1: it exists and is not hive-scale's")
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap()["reason"],
            RefusalReason::NotOurs.to_string()
        );
        // Every reason reads back from its message, as a summary file holds it.
        for reason in [
            RefusalReason::NotOurs,
            RefusalReason::NotOurNamespace,
            RefusalReason::NotPreserved,
            RefusalReason::OtherRun("hs-1 \"odd\"".into()),
            RefusalReason::HoldsClusterDeployments("ns1/c1, ns1/c2".into()),
            RefusalReason::StillTerminating(60),
        ] {
            let r = Refusal::new("Namespace", &cd.metadata, reason);
            let back: Refusal = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
            assert_eq!(back, r);
        }
    }
}
