//! Scale-test scenarios as data: what to create, in which phases, and which thresholds must hold.
//! Three are built in (`2020-adoption`, `2019-incremental`, `starvation`); a user passes a YAML
//! file of the same shape.

pub mod compare;
pub mod fleet;
pub mod output;
pub mod progress;
pub mod runner;

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// One line for humans.
    #[serde(default)]
    pub description: String,
    /// Clusters adopted in all.
    pub clusters: u32,
    /// SelectorSyncSets created in all.
    pub selectorsyncsets: u32,
    /// ConfigMaps per set.
    pub configmaps: u32,
    /// How the embedded hub models Hive: read by the embedded hub (`hive-scale-sim`'s
    /// `ModelConfig`), ignored against a real hub, so this crate keeps it as it was written.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub embedded: serde_json::Map<String, serde_json::Value>,
    /// The phases, in order.
    pub phases: Vec<Phase>,
    /// Limits that fail the run.
    #[serde(default)]
    pub thresholds: Thresholds,
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Phase {
    /// Create SelectorSyncSets `start..start+count`.
    Selectorsyncsets {
        /// First index.
        #[serde(default)]
        start: u32,
        /// How many.
        count: u32,
    },
    /// Adopt clones `start..=end`.
    Adopt {
        /// First index (1 or more).
        start: u32,
        /// Last index.
        end: u32,
    },
    /// Adopt `count` clones from `start`, one every `every_seconds` modeled seconds.
    Trickle {
        /// First index.
        start: u32,
        /// How many.
        count: u32,
        /// Modeled seconds between two clones.
        every_seconds: f64,
    },
    /// Add one ConfigMap to an existing set.
    AddResource {
        /// Index of the set.
        set: u32,
    },
    /// The steady day-two load: every `every_seconds` modeled seconds for `duration_seconds`,
    /// change `sets` of the run's SelectorSyncSets (in turn, from set 0), each change a new
    /// generation whose fan-out to every cluster is measured.
    Churn {
        /// Sets changed at each step.
        sets: u32,
        /// Modeled seconds between two steps.
        every_seconds: f64,
        /// Modeled seconds the churn lasts (the first step is at its start).
        duration_seconds: f64,
    },
    /// The knee of a hub: adopt clones `step` at a time from `start` (up to clone `end`),
    /// one step every `every_seconds` modeled seconds; after each step check the fleet's
    /// health (the step's clusters synced within the step, a new generation of one of the
    /// run's sets on every cluster within `target_fanout_seconds` at P99) and stop adding at
    /// the first step that fails. The clusters of the last healthy step are the knee.
    Ramp {
        /// First clone (1 or more).
        start: u32,
        /// Last clone at most.
        end: u32,
        /// Clones added per step.
        step: u32,
        /// Modeled seconds per step.
        every_seconds: f64,
        /// Longest acceptable P99 fan-out of a change, modeled seconds.
        target_fanout_seconds: f64,
    },
    /// Wait until every (set, cluster) pair has applied once and the sync queue is empty.
    Observe {
        /// Give up after this many wall seconds (default: the run's --timeout).
        #[serde(default)]
        timeout_seconds: Option<f64>,
    },
}

impl Phase {
    /// The phase's name in recordings and summaries.
    pub fn name(&self) -> String {
        match self {
            Phase::Selectorsyncsets { start, count } => {
                format!("selectorsyncsets {start}..{}", start + count)
            }
            Phase::Adopt { start, end } => format!("adopt {start}..={end}"),
            Phase::Trickle {
                start,
                count,
                every_seconds,
            } => format!("trickle {count} from {start} every {every_seconds}s"),
            Phase::AddResource { set } => format!("add-resource to set {set}"),
            Phase::Churn {
                sets,
                every_seconds,
                duration_seconds,
            } => format!("churn {sets} sets every {every_seconds}s for {duration_seconds}s"),
            Phase::Ramp {
                start, end, step, ..
            } => format!("ramp {start}..={end} by {step}"),
            Phase::Observe { .. } => "observe".into(),
        }
    }
}

/// Limits that fail a run, each with its own exit code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Thresholds {
    /// Longest acceptable observe phase (modeled seconds).
    pub max_drain_seconds: Option<f64>,
    /// Longest acceptable P99 fan-out latency (modeled seconds).
    pub max_p99_fanout_seconds: Option<f64>,
    /// Most acceptable failed writes.
    pub max_errors: Option<u64>,
}

const BUILTIN: [(&str, &str); 3] = [
    (
        "2020-adoption",
        include_str!("../../../config/scenarios/2020-adoption.yaml"),
    ),
    (
        "2019-incremental",
        include_str!("../../../config/scenarios/2019-incremental.yaml"),
    ),
    (
        "starvation",
        include_str!("../../../config/scenarios/starvation.yaml"),
    ),
];

impl Scenario {
    /// Names of the built-in scenarios.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in scenario, or the YAML file at `name_or_path`.
    pub fn load(name_or_path: &str) -> Result<Self> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::from_yaml(text, name_or_path);
        }
        let path = std::path::Path::new(name_or_path);
        if !path.exists() {
            return Err(Error::Invalid(format!(
                "no scenario {name_or_path:?}: not a built-in one ({}) and no such file",
                Self::builtin_names().join(", ")
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
        Self::from_yaml(&text, name_or_path)
    }

    /// Parses and checks a scenario.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self> {
        let s: Scenario = serde_saphyr::from_str(text).map_err(|e| {
            Error::Invalid(format!("scenario {}", crate::error::yaml_line(origin, &e)))
        })?;
        s.validate()
            .map_err(|why| Error::Invalid(format!("scenario {origin}: {why}")))?;
        Ok(s)
    }

    /// Checks ranges and that phases stay within the declared counts.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.phases.is_empty() {
            return Err("it has no phases".into());
        }
        for p in &self.phases {
            match p {
                Phase::Selectorsyncsets { start, count }
                    if *count == 0 || start + count > self.selectorsyncsets =>
                {
                    return Err(format!(
                        "phase {:?} goes beyond selectorsyncsets: {}",
                        p.name(),
                        self.selectorsyncsets
                    ));
                }
                Phase::Adopt { start, end } => {
                    if let Err(e) = crate::adopt::CloneRange::new(*start, *end) {
                        return Err(format!("phase {:?}: {e}", p.name()));
                    }
                    // One past the clusters is the "one more cluster" of an incremental run.
                    if *end > self.clusters + 1 {
                        return Err(format!(
                            "phase {:?} goes beyond clusters: {}",
                            p.name(),
                            self.clusters
                        ));
                    }
                }
                Phase::Trickle {
                    start,
                    count,
                    every_seconds,
                } if *start == 0
                    || *count == 0
                    || *every_seconds <= 0.0
                    || start + count - 1 > self.clusters =>
                {
                    return Err(format!("phase {:?} is out of range", p.name()));
                }
                Phase::AddResource { set } if *set >= self.selectorsyncsets => {
                    return Err(format!(
                        "phase {:?} names a set beyond selectorsyncsets",
                        p.name()
                    ));
                }
                Phase::Ramp {
                    start,
                    end,
                    step,
                    every_seconds,
                    target_fanout_seconds,
                } => {
                    if let Err(e) = crate::adopt::CloneRange::new(*start, *end) {
                        return Err(format!("phase {:?}: {e}", p.name()));
                    }
                    if *end > self.clusters {
                        return Err(format!(
                            "phase {:?} goes beyond clusters: {}",
                            p.name(),
                            self.clusters
                        ));
                    }
                    let finite = |v: f64| v.is_finite() && v > 0.0;
                    if *step == 0 || !finite(*every_seconds) || !finite(*target_fanout_seconds) {
                        return Err(format!(
                            "phase {:?}: step, every_seconds and target_fanout_seconds must be above 0",
                            p.name()
                        ));
                    }
                }
                Phase::Churn {
                    sets,
                    every_seconds,
                    duration_seconds,
                } => {
                    if *sets == 0 || *sets > self.selectorsyncsets {
                        return Err(format!(
                            "phase {:?} changes between 1 and selectorsyncsets ({}) sets a step",
                            p.name(),
                            self.selectorsyncsets
                        ));
                    }
                    let finite = |v: f64| v.is_finite() && v > 0.0;
                    if !finite(*every_seconds)
                        || !finite(*duration_seconds)
                        || duration_seconds < every_seconds
                    {
                        return Err(format!(
                            "phase {:?}: every_seconds and duration_seconds must be above 0, the duration at least one step",
                            p.name()
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Shrinks the scenario to `clusters` and `sets`, scaling every phase (for quick runs).
    pub fn scaled(&self, clusters: u32, sets: u32) -> Self {
        let mut s = self.clone();
        let fc = |v: u32| {
            ((u64::from(v) * u64::from(clusters)).div_ceil(u64::from(self.clusters.max(1)))) as u32
        };
        let fs = |v: u32| {
            ((u64::from(v) * u64::from(sets)).div_ceil(u64::from(self.selectorsyncsets.max(1))))
                as u32
        };
        s.clusters = clusters;
        s.selectorsyncsets = sets;
        // Consecutive set phases stay consecutive and disjoint after scaling: each keeps at
        // least one set, and one that began where the last ended still does.
        let mut last_sets: Option<(u32, u32)> = None;
        for p in &mut s.phases {
            *p = match p.clone() {
                Phase::Selectorsyncsets { start, count } => {
                    let from = match last_sets {
                        Some((orig_end, scaled_end)) if orig_end == start => scaled_end,
                        _ => fs(start),
                    };
                    let to = fs(start + count).max(from + 1);
                    last_sets = Some((start + count, to));
                    Phase::Selectorsyncsets {
                        start: from,
                        count: to - from,
                    }
                }
                Phase::Adopt { start, end } => {
                    let (a, b) = (fc(start).max(1), fc(end).max(1));
                    // "One more cluster" stays one more.
                    if end == start && start > self.clusters {
                        Phase::Adopt {
                            start: clusters + 1,
                            end: clusters + 1,
                        }
                    } else {
                        Phase::Adopt {
                            start: a,
                            end: b.max(a),
                        }
                    }
                }
                Phase::Trickle {
                    start,
                    count,
                    every_seconds,
                } => Phase::Trickle {
                    start: fc(start).max(1),
                    count: fc(count).max(1).min(clusters),
                    every_seconds,
                },
                Phase::AddResource { set } => Phase::AddResource {
                    set: fs(set).min(sets.saturating_sub(1)),
                },
                Phase::Ramp {
                    start,
                    end,
                    step,
                    every_seconds,
                    target_fanout_seconds,
                } => {
                    let (a, b) = (fc(start).max(1), fc(end).max(1));
                    Phase::Ramp {
                        start: a,
                        end: b.max(a),
                        step: fc(step).max(1),
                        every_seconds,
                        target_fanout_seconds,
                    }
                }
                Phase::Churn {
                    sets: n,
                    every_seconds,
                    duration_seconds,
                } => Phase::Churn {
                    sets: fs(n).clamp(1, sets.max(1)),
                    every_seconds,
                    duration_seconds,
                },
                other => other,
            };
        }
        if (clusters, sets) != (self.clusters, self.selectorsyncsets) {
            s.description = s.describe();
        }
        s
    }

    /// `self`'s fleet as a ramp (see [`Phase::Ramp`]): its sets created, then its clusters
    /// added `step` at a time, one step every `every_seconds`, until a change no longer
    /// reaches 99% of them within `target_fanout_seconds`. Its model, thresholds and shape
    /// are kept; its phases are replaced.
    pub fn ramp(&self, step: u32, every_seconds: f64, target_fanout_seconds: f64) -> Self {
        let mut s = self.clone();
        s.phases = vec![
            Phase::Selectorsyncsets {
                start: 0,
                count: self.selectorsyncsets,
            },
            Phase::Ramp {
                start: 1,
                end: self.clusters,
                step,
                every_seconds,
                target_fanout_seconds,
            },
        ];
        s.description = s.describe();
        s
    }

    /// What the scenario does, in one line, read off its phases: what a scaled or customised
    /// scenario says of itself (its file's description is of the shape it was written for).
    pub fn describe(&self) -> String {
        let steps: Vec<String> = (self.phases.iter())
            .filter_map(|p| match p {
                Phase::Selectorsyncsets { count, .. } => Some(format!(
                    "{count} SelectorSyncSets x {} ConfigMaps",
                    self.configmaps
                )),
                Phase::Adopt { start, end } => Some(format!(
                    "{} adopted copies of one spoke",
                    end.saturating_sub(*start) + 1
                )),
                Phase::Trickle {
                    count,
                    every_seconds,
                    ..
                } => Some(format!(
                    "{count} more copies, one every {every_seconds} modeled s"
                )),
                Phase::AddResource { set } => Some(format!("one more ConfigMap in set {set}")),
                Phase::Churn {
                    sets,
                    every_seconds,
                    duration_seconds,
                } => Some(format!(
                    "{sets} sets changed every {every_seconds} modeled s for {duration_seconds} s"
                )),
                Phase::Ramp {
                    start,
                    end,
                    step,
                    every_seconds,
                    target_fanout_seconds,
                } => Some(format!(
                    "up to {} copies, {step} every {every_seconds} modeled s until a change's P99 fan-out passes {target_fanout_seconds} s",
                    end.saturating_sub(*start) + 1
                )),
                Phase::Observe { .. } => None,
            })
            .collect();
        format!("{} (from {})", steps.join(", then "), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_scenario_says_what_it_will_do() {
        let s = Scenario::load("2020-adoption").unwrap();
        assert!(
            s.description.contains("60 SelectorSyncSets"),
            "{}",
            s.description
        );
        let mut small = s.scaled(20, 3);
        assert_eq!(
            small.description,
            "3 SelectorSyncSets x 10 ConfigMaps, then 20 adopted copies of one spoke (from 2020-adoption)"
        );
        small.configmaps = 2;
        assert!(
            small
                .describe()
                .starts_with("3 SelectorSyncSets x 2 ConfigMaps")
        );
        // Unchanged, it keeps its own words.
        assert_eq!(s.scaled(1000, 60).description, s.description);
    }

    #[test]
    fn builtins_parse_and_validate() {
        for name in Scenario::builtin_names() {
            let s = Scenario::load(name).unwrap();
            assert_eq!(s.name, name);
            s.validate().unwrap();
        }
        let s = Scenario::load("2020-adoption").unwrap();
        assert_eq!(
            (s.clusters, s.selectorsyncsets, s.configmaps),
            (1000, 60, 10)
        );
        assert_eq!(s.embedded["pipeline"], "syncsetinstance");
    }

    #[test]
    fn scaled_set_phases_stay_disjoint() {
        let s = Scenario::load("2019-incremental").unwrap().scaled(50, 6);
        let ranges: Vec<(u32, u32)> = s
            .phases
            .iter()
            .filter_map(|p| match p {
                Phase::Selectorsyncsets { start, count } => Some((*start, *count)),
                _ => None,
            })
            .collect();
        assert_eq!(ranges, vec![(0, 1), (1, 1), (2, 4)]);
        let two = Scenario::load("2019-incremental").unwrap().scaled(5, 2);
        let mut next = 0;
        for p in &two.phases {
            if let Phase::Selectorsyncsets { start, count } = p {
                assert_eq!(*start, next);
                assert!(*count >= 1);
                next = start + count;
            }
        }
    }

    #[test]
    fn bad_scenarios_say_why() {
        let e = Scenario::load("nope").unwrap_err().to_string();
        assert!(
            e.contains("2020-adoption") && e.contains("no such file"),
            "{e}"
        );
        let e = Scenario::from_yaml("name: x\nclusters: 5\nselectorsyncsets: 1\nconfigmaps: 1\nphases: [{adopt: {start: 0, end: 3}}]\n", "t").unwrap_err().to_string();
        assert!(e.contains("adopt 0..=3") && e.contains("start at 1"), "{e}");
        let e = Scenario::from_yaml("name: x\nclusters: 5\nselectorsyncsets: 1\nconfigmaps: 1\nphases: [{adopt: {start: 4, end: 2}}]\n", "t").unwrap_err().to_string();
        assert!(
            e.contains("adopt 4..=2") && e.contains("greater than the last"),
            "{e}"
        );
        let e = Scenario::from_yaml(
            "name: x\nclusters: 5\nselectorsyncsets: 1\nconfigmaps: 1\nphases: [{teleport: {}}]\n",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "scenario t:5:11: unknown variant `teleport`, expected one of selectorsyncsets, adopt, trickle, add-resource, churn, ramp, observe"
        );
        // A typo in a key: where, and the keys there are, in one line.
        let e = Scenario::from_yaml(
            "name: x\nclusters: 5\nselectorsyncsets: 1\nconfigmpas: 1\nphases: []\n",
            "my.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "scenario my.yaml:4:1: unknown field `configmpas`, expected one of name,"
            ) && !e.contains('\n')
                && !e.contains(" | "),
            "{e}"
        );
        let e = Scenario::from_yaml(
            "name: x\nclusters: 5\nselectorsyncsets: 1\nconfigmaps: 1\nphases: []\n",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no phases"), "{e}");
    }

    #[test]
    fn scaling_keeps_the_shape() {
        let s = Scenario::load("2019-incremental").unwrap().scaled(50, 6);
        s.validate().unwrap();
        assert_eq!(s.phases[0], Phase::Adopt { start: 1, end: 50 });
        assert_eq!(s.phases[2], Phase::Selectorsyncsets { start: 0, count: 1 });
        assert_eq!(
            s.phases[10],
            Phase::Adopt { start: 51, end: 51 },
            "one more cluster stays one more"
        );
    }
}
