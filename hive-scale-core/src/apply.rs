//! Idempotent writes: compare what a hub has with what we want, write only the difference,
//! and report per object what happened.

use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// What happened to one object (or one clone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did not exist and now does.
    Created,
    /// It existed and differed; now it matches.
    Updated,
    /// It already matched; nothing was sent.
    Unchanged,
    /// It was deleted (or was already absent).
    Deleted,
    /// It was left alone on purpose (not ours, or refused by the interlock).
    Skipped,
    /// The write failed.
    Failed,
}

/// One step of progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The object or clone, e.g. `selectorsyncset/scaletest-3-configmap` or `clone/17`.
    pub item: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Totals of a batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Created.
    pub created: usize,
    /// Updated.
    pub updated: usize,
    /// Unchanged.
    pub unchanged: usize,
    /// Deleted.
    pub deleted: usize,
    /// Skipped.
    pub skipped: usize,
    /// Failed.
    pub failed: usize,
}

impl Counts {
    /// Adds one outcome.
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Deleted => self.deleted += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    /// Everything counted.
    pub fn total(&self) -> usize {
        self.created + self.updated + self.unchanged + self.deleted + self.skipped + self.failed
    }

    /// Whether nothing changed (every item unchanged, or nothing to do).
    pub fn nothing_changed(&self) -> bool {
        self.created == 0 && self.updated == 0 && self.deleted == 0
    }
}

/// Where progress events go: a channel, so callers can draw a bar, log, or collect.
pub type ProgressSink = Option<tokio::sync::mpsc::UnboundedSender<Event>>;

/// Sends `event` if anybody listens.
pub fn emit(progress: &ProgressSink, event: Event) {
    if let Some(tx) = progress {
        // A caller that stopped listening does not stop the work.
        let _ = tx.send(event);
    }
}

/// Whether `existing` already has every field `desired` sets, with the same value.
///
/// Servers add fields (uid, defaults, status), so equality would be too strict; anything
/// `desired` says must hold, including list contents and lengths.
pub fn contains(desired: &Value, existing: &Value) -> bool {
    match (desired, existing) {
        (Value::Object(d), Value::Object(e)) => d.iter().all(|(k, dv)| match e.get(k) {
            Some(ev) => contains(dv, ev),
            // An empty map or null the server dropped is no difference.
            None => dv.is_null() || dv.as_object().is_some_and(|m| m.is_empty()),
        }),
        (Value::Array(d), Value::Array(e)) => {
            d.len() == e.len() && d.iter().zip(e).all(|(a, b)| contains(a, b))
        }
        (d, e) => d == e,
    }
}

/// Rate of `n` items over `elapsed`.
pub fn per_second(n: usize, elapsed: Duration) -> f64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containment_ignores_what_servers_add() {
        let desired = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"l": [{"a": 1}], "e": {}}});
        let existing = json!({"metadata": {"name": "a", "uid": "u", "labels": {"x": "1", "y": "2"}}, "spec": {"l": [{"a": 1, "b": 2}]}, "status": {}});
        assert!(contains(&desired, &existing));
        assert!(!contains(
            &json!({"metadata": {"labels": {"x": "2"}}}),
            &existing
        ));
        assert!(!contains(
            &json!({"spec": {"l": [{"a": 1}, {"a": 2}]}}),
            &existing
        ));
        assert!(!contains(&json!({"spec": {"missing": 1}}), &existing));
    }

    #[test]
    fn counts_add_up() {
        let mut c = Counts::default();
        for o in [
            Outcome::Created,
            Outcome::Unchanged,
            Outcome::Unchanged,
            Outcome::Failed,
        ] {
            c.add(o);
        }
        assert_eq!((c.created, c.unchanged, c.failed, c.total()), (1, 2, 1, 4));
        assert!(!c.nothing_changed());
    }
}
