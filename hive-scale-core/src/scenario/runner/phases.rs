//! Running one phase of a scenario.

use super::changes::Pending;
use super::{ObserveProgress, PhaseError, Run};
use crate::adopt::{self, EngineOptions};
use crate::api::SelectorSyncSet;
use crate::fixtures::{self, ConfigMapFixture};
use crate::guarded;
use crate::scenario::Phase;
use kube::api::Api;
use std::time::{Duration, Instant};

/// Consecutive failed polls an observe phase rides out before it fails.
pub(super) const MAX_POLL_FAILURES: u32 = 5;

impl Run<'_> {
    /// Runs one phase.
    pub(super) async fn phase(&mut self, phase: &Phase) -> Result<(), PhaseError> {
        match phase {
            Phase::Selectorsyncsets { start, count } => self.create_sets(*start, *count).await,
            Phase::Adopt { start, end } => self.adopt(*start, *end).await,
            Phase::Trickle {
                start,
                count,
                every_seconds,
            } => self.trickle(*start, *count, *every_seconds).await,
            Phase::AddResource { set } => self.add_resource(*set).await,
            Phase::Churn {
                sets,
                every_seconds,
                duration_seconds,
            } => {
                self.churn(phase.name(), *sets, *every_seconds, *duration_seconds)
                    .await
            }
            Phase::Ramp {
                start,
                end,
                step,
                every_seconds,
                target_fanout_seconds,
            } => {
                self.ramp(
                    (*start, *end, *step),
                    *every_seconds,
                    *target_fanout_seconds,
                )
                .await
            }
            Phase::Observe { timeout_seconds } => {
                let timeout = timeout_seconds
                    .map(Duration::from_secs_f64)
                    .unwrap_or(self.settings.timeout);
                self.observe(timeout).await
            }
        }
    }

    async fn create_sets(&mut self, start: u32, count: u32) -> Result<(), PhaseError> {
        let sets = self
            .fixture()
            .render_range(start as usize, count as usize)?;
        let s = fixtures::apply_selector_syncsets(&self.target.hub, &sets, 16, &None).await?;
        self.summary.errors += s.counts.failed as u64;
        s.into_result()?;
        self.created_sets.extend(start..start + count);
        Ok(())
    }

    pub(super) async fn adopt(&mut self, start: u32, end: u32) -> Result<(), PhaseError> {
        let opts = EngineOptions::default()
            .with_concurrency(self.settings.concurrency)
            .with_borrow_namespaces(self.settings.borrow_namespaces);
        let s = adopt::adopt(&self.target.hub, &self.clones, start..=end, &opts, &None).await?;
        self.adopted(&s)?;
        self.summary.errors += s.failures.len() as u64;
        Ok(())
    }

    /// A phase error if any clone failed or was refused (each refusal an event of its own).
    fn adopted(&self, s: &adopt::AdoptSummary) -> Result<(), PhaseError> {
        for (i, r) in &s.refused {
            self.emit(super::RunEvent::CloneRefused {
                index: *i,
                refusal: r.clone(),
            });
        }
        if let Some((i, why)) = s.failures.first() {
            return Err(PhaseError::Incomplete(format!(
                "{} clones failed (first: clone {i}: {why})",
                s.failures.len()
            )));
        }
        if let Some((i, r)) = s.refused.first() {
            return Err(PhaseError::Incomplete(format!(
                "{} clones refused (first: clone {i}: {r})",
                s.refused.len()
            )));
        }
        Ok(())
    }

    async fn trickle(
        &mut self,
        start: u32,
        count: u32,
        every_seconds: f64,
    ) -> Result<(), PhaseError> {
        let every = Duration::from_secs_f64(every_seconds / self.target.time_scale);
        for i in start..start + count {
            let tick = Instant::now();
            let s = adopt::adopt(
                &self.target.hub,
                &self.clones,
                i..=i,
                &EngineOptions::default().with_borrow_namespaces(self.settings.borrow_namespaces),
                &None,
            )
            .await?;
            self.summary.errors += s.failures.len() as u64;
            self.adopted(&s)?;
            tokio::time::sleep(every.saturating_sub(tick.elapsed())).await;
        }
        Ok(())
    }

    /// Adds a ConfigMap to one of the run's sets, through the same ownership check as every
    /// write: a set of that name that is not this run's is refused, never changed.
    async fn add_resource(&mut self, set: u32) -> Result<(), PhaseError> {
        let hub = &self.target.hub;
        let api: Api<SelectorSyncSet> = Api::all(hub.client());
        let run = self.settings.run_id.clone();
        let name = self.set_name(set)?;
        let before = self.target.observer.applied_marks(&name).await?;
        // Named once, from the set as first read, so a re-read after a lost response finds
        // the resource it added instead of adding another.
        let mut added: Option<serde_json::Value> = None;
        let at = Instant::now();
        guarded::modify(hub, &api, &name, &run, |s: &mut SelectorSyncSet| {
            let resources = &mut s.spec.common.resources;
            let resource = added.get_or_insert_with(|| {
                ConfigMapFixture::new(format!("{name}-{}-{run}", resources.len()))
                    .data("added", "true")
                    .build_resource()
            });
            let added_name = resource.pointer("/metadata/name").cloned();
            if resources
                .iter()
                .any(|r| r.pointer("/metadata/name").cloned() == added_name)
            {
                return false;
            }
            resources.push(resource.clone());
            true
        })
        .await?;
        let generation = self.generation_of(&api, &name).await;
        self.changes.push(Pending::new(
            format!("add-resource to set {set}"),
            name,
            generation,
            before,
            at,
        ));
        Ok(())
    }

    /// The name of the run's set `index`, as its fixture renders it.
    fn set_name(&self, index: u32) -> Result<String, PhaseError> {
        Ok(self
            .fixture()
            .render_range(index as usize, 1)?
            .remove(0)
            .metadata
            .name
            .unwrap_or_default())
    }

    /// The generation a set of ours has now (`None` when the hub does not say or the read
    /// fails: the change is then known by each cluster's mark moving).
    async fn generation_of(&self, api: &Api<SelectorSyncSet>, name: &str) -> Option<i64> {
        let hub = &self.target.hub;
        hub.call("get", "selectorsyncsets", || api.get(name))
            .await
            .ok()?
            .metadata
            .generation
    }

    /// At 0, `every_seconds`, 2 x `every_seconds`, ... (modeled) while under
    /// `duration_seconds`, changes `per_step` of the run's sets in turn (a new value in the
    /// first resource's data: a new generation), each through the ownership check of every
    /// write, and follows each change until it lands (the observe phase after waits for the
    /// last ones).
    async fn churn(
        &mut self,
        phase: String,
        per_step: u32,
        every_seconds: f64,
        duration_seconds: f64,
    ) -> Result<(), PhaseError> {
        if self.created_sets.is_empty() {
            return Err(PhaseError::Incomplete(
                "a churn needs sets this run created (a selectorsyncsets phase before it)".into(),
            ));
        }
        let run = self.settings.run_id.clone();
        let every = Duration::from_secs_f64(every_seconds / self.target.time_scale);
        let steps = (duration_seconds / every_seconds).floor().max(1.0) as u64;
        let poll = self.target.observer.poll_interval();
        let mut next = 0usize;
        let mut failures = 0;
        for step in 0..steps {
            let tick = Instant::now();
            for _ in 0..per_step {
                let index = self.created_sets[next % self.created_sets.len()];
                next += 1;
                // Unique per change: a set changed twice in a step gets two generations.
                self.change_set(&phase, index, &format!("{run}-{step}-{next}"))
                    .await?;
            }
            // Follow the changes until the next step is due.
            loop {
                self.track_changes_tolerant(&mut failures).await?;
                let left = every.saturating_sub(tick.elapsed());
                if left.is_zero() || step + 1 == steps {
                    break;
                }
                tokio::time::sleep(left.min(poll)).await;
            }
        }
        Ok(())
    }

    /// Changes set `index` of the run (`value` in its first resource's data: a new
    /// generation), through the ownership check of every write, and follows the change.
    pub(super) async fn change_set(
        &mut self,
        phase: &str,
        index: u32,
        value: &str,
    ) -> Result<(), PhaseError> {
        let api: Api<SelectorSyncSet> = Api::all(self.target.hub.client());
        let run = self.settings.run_id.clone();
        let name = self.set_name(index)?;
        let before = self.target.observer.applied_marks(&name).await?;
        let at = Instant::now();
        let written = guarded::modify(
            &self.target.hub,
            &api,
            &name,
            &run,
            |s: &mut SelectorSyncSet| {
                let Some(first) = s.spec.common.resources.first_mut() else {
                    return false;
                };
                let data = first
                    .as_object_mut()
                    .map(|o| o.entry("data").or_insert_with(|| serde_json::json!({})));
                match data.and_then(|d| d.as_object_mut()) {
                    Some(d) if d.get("churn").and_then(|v| v.as_str()) != Some(value) => {
                        d.insert("churn".into(), value.into());
                        true
                    }
                    _ => false,
                }
            },
        )
        .await?;
        if written == guarded::Modified::Unchanged {
            // Nothing written is no change to time (it would "land" at once): a set with no
            // resource, or one whose first resource has no data map to change.
            return Err(PhaseError::Incomplete(format!(
                "{name} could not be changed: its first resource has no data to change (a set needs at least one ConfigMap)"
            )));
        }
        let generation = self.generation_of(&api, &name).await;
        self.changes.push(Pending::new(
            phase.to_string(),
            name,
            generation,
            before,
            at,
        ));
        Ok(())
    }

    /// [`Run::track_changes`], riding out a few consecutive failed reads (a Prometheus or API
    /// server that fails once must not end a run of hours), as an observe phase does.
    pub(super) async fn track_changes_tolerant(
        &mut self,
        failures: &mut u32,
    ) -> Result<(), PhaseError> {
        match self.track_changes().await {
            Ok(()) => {
                *failures = 0;
                Ok(())
            }
            Err(e) if *failures < MAX_POLL_FAILURES => {
                *failures += 1;
                tracing::warn!(error = %crate::error::chain(&e), failures = *failures, "cannot read the changes' progress; trying again");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Reads what each cluster has applied of the sets with changes landing, notes the
    /// clusters each change has reached, and records the changes that have landed.
    pub(super) async fn track_changes(&mut self) -> Result<(), PhaseError> {
        if self.changes.is_empty() {
            return Ok(());
        }
        let mut sets: Vec<String> = self.changes.iter().map(|c| c.set.clone()).collect();
        sets.sort();
        sets.dedup();
        let marks = self.target.observer.applied_marks_of(&sets).await?;
        let scale = self.target.time_scale;
        for change in &mut self.changes {
            if let Some(m) = marks.get(&change.set) {
                change.see(m, scale);
            }
        }
        let (landed, pending): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.changes)
            .into_iter()
            .partition(Pending::landed);
        self.changes = pending;
        for change in landed {
            self.change_fanout.extend(change.samples());
            self.summary.changes.push(change.finish());
        }
        Ok(())
    }

    /// Waits until every expected pair has applied once (and a pending change has reached every
    /// cluster), then gives the sync queue a moment to empty.
    async fn observe(&mut self, timeout: Duration) -> Result<(), PhaseError> {
        let deadline = Instant::now() + timeout;
        let poll = self.target.observer.poll_interval();
        self.publish(|p| {
            *p = ObserveProgress {
                phase: "observe".into(),
                ..ObserveProgress::default()
            }
        });
        let result = match self.target.observer.catch_up().await {
            Ok(()) => self.settle(deadline, timeout, poll).await,
            Err(e) => Err(e.into()),
        };
        self.publish(|p| p.finished = true);
        result
    }

    fn publish(&self, update: impl FnOnce(&mut ObserveProgress)) {
        if let Some(tx) = &self.settings.progress {
            tx.send_modify(update);
        }
    }

    async fn settle(
        &mut self,
        deadline: Instant,
        timeout: Duration,
        poll: Duration,
    ) -> Result<(), PhaseError> {
        let mut failures = 0;
        loop {
            // A Prometheus that times out once, or a token being refreshed, must not end a
            // run of hours: only failures that persist do.
            let now = match self.target.observer.pairs().await {
                Ok(now) => {
                    failures = 0;
                    now
                }
                Err(e) if failures < MAX_POLL_FAILURES && Instant::now() < deadline => {
                    failures += 1;
                    tracing::warn!(error = %crate::error::chain(&e), failures, "cannot read progress; trying again");
                    tokio::time::sleep(poll).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            self.publish(|p| (p.applied, p.expected) = (now.applied, now.expected));
            if now.applied >= now.expected && self.change_landed(deadline, poll).await? {
                let grace = Instant::now() + Duration::from_secs(5);
                while self.target.observer.queue_depth().is_some_and(|q| q > 0)
                    && Instant::now() < grace
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(PhaseError::Timeout(format!(
                    "{} of {} pairs applied after {:.0}s",
                    now.applied,
                    now.expected,
                    timeout.as_secs_f64()
                )));
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// With changes landing, whether every cluster has applied each (recording when each was
    /// first seen to); without any, true. Reads until then or the deadline.
    async fn change_landed(
        &mut self,
        deadline: Instant,
        poll: Duration,
    ) -> Result<bool, PhaseError> {
        let mut failures = 0;
        loop {
            self.track_changes_tolerant(&mut failures).await?;
            if self.changes.is_empty() {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                let first = &self.changes[0].finish();
                let (phase, set) = (first.phase.clone(), first.set.clone());
                let (reached, clusters) = (first.reached, first.clusters);
                // What did land is kept, with the ones that did not.
                for change in std::mem::take(&mut self.changes) {
                    self.summary.changes.push(change.finish());
                }
                return Err(PhaseError::Timeout(format!(
                    "{reached} of {clusters} clusters applied the change to {set} ({phase})"
                )));
            }
            tokio::time::sleep(poll).await;
        }
    }
}
