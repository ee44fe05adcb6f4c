//! The knee of a hub, measured (after kube-burner's incremental load): clusters are added a
//! step at a time and the fleet's health is checked after each step, until a step fails.
//!
//! A step is healthy when its clusters have synced (every pair applied) within the step's
//! interval, so the hub keeps up with arrivals; a new generation of one of the run's sets
//! reaches 99% of the clusters within the target, the SRE's "a change lands everywhere within
//! minutes"; and the hub's API server kept its call latency SLO over the step (when it can be
//! read). The knee is the clusters the last healthy step had.

use super::changes::ChangeFanout;
use super::{ApiLatency, PhaseError, Run};
use crate::metrics::slo::{self, DurationSample, SloReport, SloStatus};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// A ramp's result: each step's health and the knee found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RampResult {
    /// Clusters added per step.
    pub step: u32,
    /// Modeled seconds per step.
    pub every_seconds: f64,
    /// The change fan-out a healthy step keeps under, at P99, modeled seconds.
    pub target_fanout_seconds: f64,
    /// The steps run, in order.
    pub steps: Vec<RampStep>,
    /// Clusters of the last healthy step (0 when the first failed).
    pub knee: u32,
    /// Whether a step failed: when not, the hub held every cluster the ramp offered and the
    /// knee is at least that.
    pub found: bool,
    /// Whether the ramp ran to its end (a step failed, or every cluster was offered); not
    /// when it was interrupted or a request failed for good, and then the knee is unknown.
    #[serde(default)]
    pub completed: bool,
    /// The planner's knee for the same model and targets, when the front can tell (the
    /// embedded hub's model, or on a real hub the scenario's `embedded:` model, such as a
    /// preset calibrated to that hub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_knee: Option<u32>,
    /// The model the prediction is for (a preset's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_for: Option<String>,
}

/// One step of a ramp.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RampStep {
    /// Clusters on the hub after the step's adoption.
    pub clusters: u32,
    /// Modeled seconds from the step's start until every pair had applied (absent when they
    /// had not within the step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_seconds: Option<f64>,
    /// The probe: a new generation of one set, followed to every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ChangeFanout>,
    /// Modeled seconds by which 99% of the clusters had the probe (absent when they had not
    /// when the runner stopped waiting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_p99_seconds: Option<f64>,
    /// The hub's API call latency SLO over the step (`passed`, `failed`), when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_slo: Option<SloStatus>,
    /// Whether the step was healthy.
    pub healthy: bool,
    /// Why not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl RampResult {
    /// "This hub and HiveConfig hold N clusters under these targets", in one line.
    pub fn verdict(&self) -> String {
        let targets = format!(
            "a change on 99% of the clusters within {:.0} s, each step of {} synced within {:.0} s",
            self.target_fanout_seconds, self.step, self.every_seconds
        );
        if !self.completed {
            format!(
                "The ramp stopped at {} clusters before it found the knee ({targets})",
                self.steps.last().map_or(0, |s| s.clusters)
            )
        } else if self.found {
            format!(
                "This hub and HiveConfig hold {} clusters under these targets ({targets})",
                self.knee
            )
        } else {
            format!(
                "This hub and HiveConfig held all {} clusters offered under these targets ({targets}): the knee is beyond",
                self.knee
            )
        }
    }
}

/// The modeled seconds by which 99% of `clusters` had a change, from its completion curve;
/// `None` when fewer than that many had it.
fn p99_of_all(probe: &ChangeFanout) -> Option<f64> {
    if probe.clusters == 0 {
        // No cluster held the set when it changed: nothing was measured.
        return None;
    }
    let needed = ((0.99 * probe.clusters as f64).ceil() as usize).max(1);
    if probe.reached < needed {
        return None;
    }
    probe
        .curve
        .iter()
        .find(|p| p.share >= 0.99)
        .map(|p| p.seconds)
}

impl Run<'_> {
    /// Runs a ramp phase: see [`crate::scenario::Phase::Ramp`].
    pub(super) async fn ramp(
        &mut self,
        (start, end, step): (u32, u32, u32),
        every_seconds: f64,
        target_fanout_seconds: f64,
    ) -> Result<(), PhaseError> {
        if self.created_sets.is_empty() {
            return Err(PhaseError::Incomplete(
                "a ramp needs sets this run created (a selectorsyncsets phase before it)".into(),
            ));
        }
        let scale = self.target.time_scale;
        let every = Duration::from_secs_f64(every_seconds / scale);
        let target = Duration::from_secs_f64(target_fanout_seconds / scale);
        let poll = self.target.observer.poll_interval();
        let mut result = RampResult {
            step,
            every_seconds,
            target_fanout_seconds,
            ..RampResult::default()
        };
        let mut first = start;
        let mut probe_set = 0usize;
        while first <= end {
            let last = (first + step - 1).min(end);
            let t0 = Instant::now();
            let slo_from = self.api_now();
            self.adopt(first, last).await?;
            self.target.observer.catch_up().await?;
            let mut row = RampStep {
                clusters: last - start + 1,
                ..RampStep::default()
            };
            // The step's clusters synced within the step: the hub keeps up with arrivals. A
            // count may not know of the newest clusters yet: every one of them has every set.
            let deadline = t0 + every;
            let pairs = row.clusters as usize * self.created_sets.len();
            let mut failures = 0;
            loop {
                let mut now = match self.target.observer.pairs().await {
                    Ok(now) => {
                        failures = 0;
                        now
                    }
                    Err(e) if failures < super::phases::MAX_POLL_FAILURES => {
                        failures += 1;
                        tracing::warn!(error = %crate::error::chain(&e), failures, "cannot read progress; trying again");
                        tokio::time::sleep(poll).await;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                now.expected = now.expected.max(pairs);
                if now.applied >= now.expected {
                    row.synced_seconds = Some(t0.elapsed().as_secs_f64() * scale);
                    break;
                }
                if Instant::now() >= deadline {
                    row.why = Some(format!(
                        "{} of {} pairs applied within the step",
                        now.applied, now.expected
                    ));
                    break;
                }
                tokio::time::sleep(poll).await;
            }
            if row.why.is_none() {
                let index = self.created_sets[probe_set % self.created_sets.len()];
                probe_set += 1;
                let run = self.settings.run_id.clone();
                let probe = self
                    .probe(index, &format!("{run}-ramp-{}", row.clusters), target)
                    .await?;
                row.probe_p99_seconds = p99_of_all(&probe);
                match row.probe_p99_seconds {
                    Some(p) if p <= target_fanout_seconds => {}
                    Some(p) => {
                        row.why = Some(format!(
                            "a change reached 99% of the clusters in {p:.0} s, past {target_fanout_seconds:.0} s"
                        ));
                    }
                    None if probe.clusters == 0 => {
                        row.why = Some(
                            "no cluster held the set when it changed: nothing to measure".into(),
                        );
                    }
                    None => {
                        row.why = Some(format!(
                            "a change reached {} of {} clusters within {target_fanout_seconds:.0} s",
                            probe.reached, probe.clusters
                        ));
                    }
                }
                row.probe = Some(probe);
            }
            // The hub's API server within its SLO over the step.
            if let Some(r) = self.step_slo(slo_from).await {
                row.api_slo = Some(r.status);
                if r.status == SloStatus::Failed && row.why.is_none() {
                    let worst: Vec<String> = r.failed().map(|g| g.label()).collect();
                    row.why = Some(format!(
                        "the API call latency SLO failed over the step ({})",
                        worst.join(", ")
                    ));
                }
            }
            row.healthy = row.why.is_none();
            let healthy = row.healthy;
            if healthy {
                result.knee = row.clusters;
            }
            result.steps.push(row);
            self.summary.ramp = Some(result.clone());
            self.save();
            if !healthy {
                result.found = true;
                break;
            }
            first = last + 1;
            if first <= end {
                tokio::time::sleep(every.saturating_sub(t0.elapsed())).await;
            }
        }
        result.completed = true;
        self.summary.ramp = Some(result);
        Ok(())
    }

    /// Where a step's API SLO starts: now, and the in-process histogram when there is one.
    fn api_now(&self) -> (f64, Option<DurationSample>) {
        let now = crate::metrics::now_unix();
        match &self.target.api_latency {
            ApiLatency::Direct(read) => (now, Some(read(now))),
            _ => (now, None),
        }
    }

    /// The API call latency SLO from `from` to now, when the hub's API server can be read.
    async fn step_slo(&self, from: (f64, Option<DurationSample>)) -> Option<SloReport> {
        let factor = self.settings.api_slo_factor;
        let now = crate::metrics::now_unix();
        match (&self.target.api_latency, from) {
            (ApiLatency::Direct(read), (_, Some(start))) => {
                Some(slo::check(&[start, read(now)], factor))
            }
            (ApiLatency::Prometheus(p), (start, _)) => {
                let step = Duration::from_secs_f64(((now - start) / 20.0).clamp(5.0, 60.0));
                match p.query_range(slo::PROMQL, start, now, step).await {
                    Ok(crate::metrics::QueryValue::Matrix { series }) => {
                        Some(slo::check(&DurationSample::from_range(&series), factor))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Changes set `index` and follows the change until it lands or `limit` passes (then as
    /// far as it got, the clusters it had not reached counted as not reached).
    async fn probe(
        &mut self,
        index: u32,
        value: &str,
        limit: Duration,
    ) -> Result<ChangeFanout, PhaseError> {
        let phase = "ramp probe".to_string();
        let landed_before = self.summary.changes.len();
        self.change_set(&phase, index, value).await?;
        // Past the target the step has failed whatever comes after: wait a poll more.
        let deadline = Instant::now() + limit + self.target.observer.poll_interval();
        let poll = self.target.observer.poll_interval();
        let mut failures = 0;
        loop {
            self.track_changes_tolerant(&mut failures).await?;
            if self.changes.is_empty() || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(poll).await;
        }
        for c in std::mem::take(&mut self.changes) {
            self.summary.changes.push(c.finish());
        }
        Ok(self.summary.changes[landed_before..]
            .iter()
            .rev()
            .find(|c| c.phase == phase)
            .cloned()
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::runner::CurvePoint;

    fn probe(clusters: usize, reached: usize, p99: f64) -> ChangeFanout {
        ChangeFanout {
            clusters,
            reached,
            curve: vec![
                CurvePoint {
                    share: 0.9,
                    seconds: p99 / 2.0,
                },
                CurvePoint {
                    share: 0.99,
                    seconds: p99,
                },
            ],
            ..ChangeFanout::default()
        }
    }

    #[test]
    fn the_p99_counts_the_clusters_not_reached() {
        assert_eq!(p99_of_all(&probe(100, 100, 30.0)), Some(30.0));
        assert_eq!(p99_of_all(&probe(100, 99, 30.0)), Some(30.0));
        assert_eq!(p99_of_all(&probe(100, 98, 30.0)), None);
        // A probe no cluster held measures nothing: never a pass.
        assert_eq!(p99_of_all(&probe(0, 0, 0.0)), None);
    }

    #[test]
    fn the_verdict_says_what_the_hub_holds() {
        let mut r = RampResult {
            step: 100,
            every_seconds: 600.0,
            target_fanout_seconds: 300.0,
            knee: 400,
            found: true,
            completed: true,
            steps: vec![RampStep {
                clusters: 500,
                ..RampStep::default()
            }],
            ..RampResult::default()
        };
        assert!(
            r.verdict()
                .starts_with("This hub and HiveConfig hold 400 clusters under these targets"),
            "{}",
            r.verdict()
        );
        r.found = false;
        assert!(r.verdict().contains("held all 400"), "{}", r.verdict());
        // Interrupted: no claim about what the hub holds.
        r.completed = false;
        assert!(
            r.verdict()
                .starts_with("The ramp stopped at 500 clusters before it found the knee"),
            "{}",
            r.verdict()
        );
    }
}
