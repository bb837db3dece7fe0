//! Whether a planned step has to run: the one rule the executor applies before running a step
//! and that `assets plan` previews without running anything.
//!
//! A step is **up to date** — skipped, its committed materialization reused — when that
//! materialization was computed by the same code version, from the same dependencies, from
//! inputs with the same data versions and with the same config values. Because inputs are
//! compared by the *content hash* of what upstream produced, a recomputed upstream that comes
//! out identical leaves its downstream up to date (early cutoff).

use std::collections::HashMap;

use serde::Serialize;

use crate::graph::AssetGraph;
use crate::hash::provenance_digests;
use crate::hash::{DataVersion, deps_digest, inputs_digest};
use crate::model::config::RunConfig;
use crate::model::event::InputVersion;
use crate::model::ids::{IxVec, NodeIx, StepIx};
use crate::model::key::AssetKey;
use crate::model::spec::PartitionKey;
use crate::plan::{InputPart, Plan, Step};

/// Why a step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// `--force`.
    Forced,
    /// The asset is declared volatile: its output depends on the world.
    Volatile,
    /// The asset has no code version, so a change to it cannot be seen.
    NoCodeVersion,
    /// Never materialized (or wiped).
    Missing,
    CodeChanged {
        recorded: Option<String>,
        current: Option<String>,
        /// The items of the asset's closure that changed, when known (filled in by the engine,
        /// which can look up what the recorded version was computed from).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        items: Vec<String>,
    },
    DepsChanged {
        added: Vec<AssetKey>,
        removed: Vec<AssetKey>,
    },
    ConfigChanged {
        name: String,
        recorded: Option<String>,
        current: Option<String>,
    },
    /// An input has another version than the one read last time (or appeared, or is gone).
    InputChanged {
        asset: AssetKey,
        partition: Option<PartitionKey>,
        recorded: Option<DataVersion>,
        current: Option<DataVersion>,
    },
    /// A source it depends on could not be observed, so its version is unknown.
    SourceUnobserved { asset: AssetKey },
    /// The inputs were recorded in a way this version cannot compare (an older recipe).
    InputsRecordedDifferently,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |v: &Option<String>| v.as_deref().unwrap_or("none").to_owned();
        match self {
            Reason::Forced => write!(f, "--force"),
            Reason::Volatile => write!(f, "volatile: always recomputed"),
            Reason::NoCodeVersion => write!(f, "no code version to compare"),
            Reason::Missing => write!(f, "never materialized"),
            Reason::CodeChanged { items, .. } if !items.is_empty() => {
                write!(f, "code changed: {}", crate::model::event::and_list(items))
            }
            Reason::CodeChanged {
                recorded, current, ..
            } => {
                write!(f, "code changed ({} → {})", short(recorded), short(current))
            }
            Reason::DepsChanged { added, removed } => {
                f.write_str(&crate::model::event::describe_deps_change(added, removed))
            }
            Reason::ConfigChanged {
                name,
                recorded,
                current,
            } => write!(
                f,
                "config {name} changed ({} → {})",
                short(recorded),
                short(current)
            ),
            Reason::InputChanged {
                asset,
                partition,
                recorded,
                current,
            } => {
                let label = crate::model::event::step_label(asset, partition.as_ref());
                match (recorded, current) {
                    (Some(r), Some(c)) => {
                        write!(f, "input {label} changed ({} → {})", r.short(), c.short())
                    }
                    (None, Some(_)) => write!(f, "input {label} appeared"),
                    (Some(_), None) => write!(f, "input {label} is gone"),
                    (None, None) => write!(f, "input {label} changed"),
                }
            }
            Reason::SourceUnobserved { asset } => {
                write!(f, "source {asset} could not be observed")
            }
            Reason::InputsRecordedDifferently => {
                write!(f, "its inputs were recorded by an older version of Stemma")
            }
        }
    }
}

/// What a step would see now, against what its previous materialization recorded.
pub struct StepFacts<'a> {
    pub graph: &'a AssetGraph,
    pub step: &'a Step,
    pub config: &'a RunConfig,
    pub force: bool,
    /// External assets whose observation failed.
    pub unobserved: &'a [NodeIx],
}

impl StepFacts<'_> {
    /// Why the step must run regardless of its inputs' versions, if it must.
    pub fn static_reason(&self) -> Option<Reason> {
        let spec = self.graph.spec(self.step.node);
        if self.force {
            return Some(Reason::Forced);
        }
        if spec.volatile {
            return Some(Reason::Volatile);
        }
        if spec.code_version.is_none() {
            return Some(Reason::NoCodeVersion);
        }
        if let Some(&(u, _)) = self
            .graph
            .deps(self.step.node)
            .iter()
            .find(|(u, _)| self.unobserved.contains(u))
        {
            return Some(Reason::SourceUnobserved {
                asset: self.graph.key(u).clone(),
            });
        }
        let Some(previous) = &self.step.previous else {
            return Some(Reason::Missing);
        };
        let p = &previous.provenance;
        if p.code_version != spec.code_version {
            return Some(Reason::CodeChanged {
                recorded: p.code_version.clone(),
                current: spec.code_version.clone(),
                items: Vec::new(),
            });
        }
        let (_, recorded_deps) = provenance_digests(p);
        if deps_digest(spec.deps.iter().map(|d| &d.key)) != recorded_deps {
            let (added, removed) = p.deps_change(spec.deps.iter().map(|d| &d.key));
            return Some(Reason::DepsChanged { added, removed });
        }
        if let Some((name, recorded, current)) =
            self.config.changes_from(&p.config).into_iter().next()
        {
            return Some(Reason::ConfigChanged {
                name,
                recorded,
                current,
            });
        }
        None
    }

    /// Why the step must run given the versions of the inputs it would read; `None` when it is
    /// up to date.
    pub fn reason(&self, versions: &[InputVersion]) -> Option<Reason> {
        if let Some(r) = self.static_reason() {
            return Some(r);
        }
        let previous = self.step.previous.as_ref()?;
        let (recorded, _) = provenance_digests(&previous.provenance);
        let now = inputs_digest(
            versions
                .iter()
                .map(|i| (&i.asset, i.partition.as_ref(), &i.data_version)),
        );
        if now == recorded {
            return None;
        }
        Some(first_input_change(&previous.provenance.inputs, versions))
    }
}

type InputKey<'a> = (&'a AssetKey, Option<&'a PartitionKey>);

fn version_index(vs: &[InputVersion]) -> HashMap<InputKey<'_>, &DataVersion> {
    vs.iter()
        .map(|i| ((&i.asset, i.partition.as_ref()), &i.data_version))
        .collect()
}

/// The first input (in key order) whose version differs between what was read and what would
/// be read now.
fn first_input_change(recorded: &[InputVersion], now: &[InputVersion]) -> Reason {
    let (before, after) = (version_index(recorded), version_index(now));
    let mut keys: Vec<InputKey<'_>> = before.keys().chain(after.keys()).copied().collect();
    keys.sort_unstable_by(|a, b| {
        a.0.as_str().cmp(b.0.as_str()).then_with(|| {
            a.1.map(PartitionKey::as_str)
                .cmp(&b.1.map(PartitionKey::as_str))
        })
    });
    for key in keys {
        let (r, c) = (before.get(&key).copied(), after.get(&key).copied());
        if r != c {
            return Reason::InputChanged {
                asset: key.0.clone(),
                partition: key.1.cloned(),
                recorded: r.cloned(),
                current: c.cloned(),
            };
        }
    }
    // The same inputs and versions under another digest: recorded by an older recipe.
    Reason::InputsRecordedDifferently
}

/// What a step of a plan would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Run {
        #[serde(flatten)]
        reason: Reason,
    },
    /// Runs only if one of these upstream steps produces new data.
    RunIfUpstreamChanges { upstream: Vec<String> },
    /// Up to date: its committed materialization is reused.
    Skip { data_version: DataVersion },
}

/// One step of a previewed plan.
#[derive(Debug, Clone, Serialize)]
pub struct StepPreview {
    pub step: String,
    pub asset: AssetKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionKey>,
    #[serde(flatten)]
    pub action: Action,
}

/// What a materialization would do, without running it.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub steps: Vec<StepPreview>,
    /// Partitioned assets the selection holds that would be left out (no partition asked for).
    pub left_out: Vec<AssetKey>,
}

/// Decides every step of `plan` without running anything. A step whose upstream step would be
/// skipped sees that step's committed version; one whose upstream step would (or might) run
/// can only be known after it has, unless it runs for a reason of its own.
pub fn preview(
    graph: &AssetGraph,
    plan: &Plan,
    config: &RunConfig,
    force: bool,
    unobserved: &[NodeIx],
) -> Vec<StepPreview> {
    let mut out: IxVec<StepIx, StepPreview> = IxVec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let facts = StepFacts {
            graph,
            step,
            config,
            force,
            unobserved,
        };
        let action = match facts.static_reason() {
            Some(reason) => Action::Run { reason },
            None => {
                let mut versions = Vec::new();
                let mut pending = Vec::new();
                for input in step.inputs.iter().chain(&step.order_inputs) {
                    for part in &input.parts {
                        match part {
                            InputPart::Stored(m) => versions.push(InputVersion {
                                asset: m.asset.clone(),
                                partition: m.partition.clone(),
                                data_version: m.data_version.clone(),
                            }),
                            InputPart::Step(u) => match &out[*u].action {
                                Action::Skip { data_version } => versions.push(InputVersion {
                                    asset: plan.steps[*u].asset.clone(),
                                    partition: plan.steps[*u].partition.clone(),
                                    data_version: data_version.clone(),
                                }),
                                _ => pending.push(plan.steps[*u].label()),
                            },
                        }
                    }
                }
                if pending.is_empty() {
                    match facts.reason(&versions) {
                        Some(reason) => Action::Run { reason },
                        None => Action::Skip {
                            data_version: step
                                .previous
                                .as_ref()
                                .map(|p| p.latest.data_version.clone())
                                .expect("an up-to-date step has a previous materialization"),
                        },
                    }
                } else {
                    Action::RunIfUpstreamChanges { upstream: pending }
                }
            }
        };
        out.push(StepPreview {
            step: step.label(),
            asset: step.asset.clone(),
            partition: step.partition.clone(),
            action,
        });
    }
    out.into_raw()
}
