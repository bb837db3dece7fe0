//! The planner: from selected assets to steps.
//!
//! A step is one (asset, partition) to materialize. Each of its data inputs comes either from
//! another step of the same run or from the latest committed materialization of the upstream
//! (partition). An input that is neither — never materialized and not selected — makes the
//! plan fail before anything runs, naming the upstream.

use std::collections::HashMap;

use fixedbitset::FixedBitSet;

use crate::error::{Error, Result};
use crate::graph::AssetGraph;
use crate::instance::LatestMaterialization;
use crate::key::AssetKey;
use crate::spec::{DepKind, PartitionKey, PartitionsDefinition};

/// Latest materializations by (asset, partition), as the planner needs them.
pub type StoredIndex = HashMap<(AssetKey, Option<PartitionKey>), LatestMaterialization>;

/// One (asset, partition) to materialize.
#[derive(Debug, Clone)]
pub struct Step {
    pub node: usize,
    pub asset: AssetKey,
    pub partition: Option<PartitionKey>,
    /// One entry per data dependency, in the order the function takes them.
    pub inputs: Vec<PlannedInput>,
    /// Steps that must finish first (data and ordering deps), without repeats.
    pub upstream: Vec<usize>,
    /// Steps that wait for this one.
    pub downstream: Vec<usize>,
}

impl Step {
    /// `asset` or `asset[partition]`.
    pub fn label(&self) -> String {
        crate::event::step_label(&self.asset, self.partition.as_ref())
    }
}

/// Where one input's value comes from.
#[derive(Debug, Clone)]
pub struct PlannedInput {
    pub asset: AssetKey,
    pub node: usize,
    pub parts: Vec<InputPart>,
    /// The downstream is unpartitioned and reads every partition of a partitioned upstream:
    /// the parts are combined into one value.
    pub combine: bool,
}

#[derive(Debug, Clone)]
pub enum InputPart {
    /// Produced by this step of the run.
    Step(usize),
    /// Already committed.
    Stored(LatestMaterialization),
}

/// Steps in dependency order (a step's upstream steps come before it).
#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// An upstream (partition) that a selected step reads but that has never been materialized.
#[derive(Debug, Clone)]
pub struct MissingInput {
    pub node: usize,
    pub partition: Option<PartitionKey>,
    pub readers: Vec<AssetKey>,
}

/// Why a selection cannot be planned.
#[derive(Debug)]
pub enum PlanError {
    Missing(Vec<MissingInput>),
    Other(Error),
}

impl From<Error> for PlanError {
    fn from(e: Error) -> Self {
        PlanError::Other(e)
    }
}

/// Plans `selected` (node ids) for `partition`.
pub fn plan(
    graph: &AssetGraph,
    selected: &FixedBitSet,
    partition: Option<&str>,
    stored: &StoredIndex,
) -> Result<Plan, PlanError> {
    let nodes: Vec<usize> = graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&n| selected.contains(n) && !graph.asset(n).is_external())
        .collect();
    if nodes.is_empty() {
        let externals: Vec<&str> = selected.ones().map(|n| graph.key(n).as_str()).collect();
        return Err(Error::Plan(if externals.is_empty() {
            "the selection matches no assets".into()
        } else {
            format!(
                "the selection matches only external assets ({}), which are computed elsewhere \
                 and cannot be materialized by Stemma",
                externals.join(", ")
            )
        })
        .into());
    }

    let step_partition = |n: usize| -> Result<Option<PartitionKey>> {
        match (&graph.spec(n).partitions, partition) {
            (None, _) => Ok(None),
            (Some(def), Some(p)) => def
                .validate_key(p)
                .map(Some)
                .map_err(|e| Error::Plan(format!("asset {}: {e}", graph.key(n)))),
            (Some(def), None) => Err(Error::Plan(format!(
                "asset {} is partitioned ({}); choose a partition with --partition KEY",
                graph.key(n),
                def.describe()
            ))),
        }
    };
    if partition.is_some() && nodes.iter().all(|&n| graph.spec(n).partitions.is_none()) {
        return Err(Error::Plan(
            "--partition was given but none of the selected assets is partitioned".into(),
        )
        .into());
    }

    let mut steps: Vec<Step> = Vec::with_capacity(nodes.len());
    let mut step_of: HashMap<(usize, Option<PartitionKey>), usize> =
        HashMap::with_capacity(nodes.len());
    for &n in &nodes {
        let p = step_partition(n)?;
        step_of.insert((n, p.clone()), steps.len());
        steps.push(Step {
            node: n,
            asset: graph.key(n).clone(),
            partition: p,
            inputs: Vec::new(),
            upstream: Vec::new(),
            downstream: Vec::new(),
        });
    }

    let mut missing: Vec<MissingInput> = Vec::new();
    for step in &mut steps {
        let mut inputs = Vec::new();
        let mut upstream = Vec::new();
        for &(up, kind) in graph.deps(step.node) {
            let (wanted, combine) =
                upstream_partitions(graph.spec(up).partitions.as_ref(), &step.partition);
            let mut parts = Vec::with_capacity(wanted.len());
            for q in wanted {
                if let Some(&u) = step_of.get(&(up, q.clone())) {
                    upstream.push(u);
                    parts.push(InputPart::Step(u));
                } else if kind == DepKind::Data {
                    match stored.get(&(graph.key(up).clone(), q.clone())) {
                        Some(m) => parts.push(InputPart::Stored(m.clone())),
                        None => note_missing(&mut missing, up, q, &step.asset),
                    }
                }
            }
            if kind == DepKind::Data {
                inputs.push(PlannedInput {
                    asset: graph.key(up).clone(),
                    node: up,
                    parts,
                    combine,
                });
            }
        }
        upstream.sort_unstable();
        upstream.dedup();
        step.inputs = inputs;
        step.upstream = upstream;
    }
    if !missing.is_empty() {
        return Err(PlanError::Missing(missing));
    }
    for s in 0..steps.len() {
        for u in steps[s].upstream.clone() {
            steps[u].downstream.push(s);
        }
    }
    Ok(Plan { steps })
}

/// Which partitions of an upstream a step reads, and whether they are combined.
fn upstream_partitions(
    up: Option<&PartitionsDefinition>,
    down: &Option<PartitionKey>,
) -> (Vec<Option<PartitionKey>>, bool) {
    match (up, down) {
        (None, _) => (vec![None], false),
        // Identity: the graph guarantees both share their partitions definition.
        (Some(_), Some(p)) => (vec![Some(p.clone())], false),
        (Some(def), None) => (def.keys().cloned().map(Some).collect(), true),
    }
}

fn note_missing(
    missing: &mut Vec<MissingInput>,
    node: usize,
    partition: Option<PartitionKey>,
    reader: &AssetKey,
) {
    match missing
        .iter_mut()
        .find(|m| m.node == node && m.partition == partition)
    {
        Some(m) => {
            if !m.readers.contains(reader) {
                m.readers.push(reader.clone());
            }
        }
        None => missing.push(MissingInput {
            node,
            partition,
            readers: vec![reader.clone()],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::AssetDef;
    use crate::graph::tests::{asset, graph};
    use crate::selection::Selection;

    fn resolve(g: &AssetGraph, s: &str) -> FixedBitSet {
        Selection::parse(s)
            .unwrap()
            .resolve(g, &crate::status::StatusSnapshot::unavailable())
            .unwrap()
    }

    #[test]
    fn steps_follow_dependencies() {
        let g = graph(vec![
            asset("b", &["a"]),
            asset("a", &[]),
            asset("c", &["a", "b"]),
        ]);
        let p = plan(&g, &resolve(&g, "*"), None, &StoredIndex::new()).unwrap();
        let labels: Vec<String> = p.steps.iter().map(Step::label).collect();
        assert_eq!(labels, ["a", "b", "c"]);
        assert_eq!(p.steps[2].upstream, [0, 1]);
        assert_eq!(p.steps[0].downstream, [1, 2]);
        assert!(matches!(p.steps[2].inputs[1].parts[0], InputPart::Step(1)));
    }

    #[test]
    fn an_unmaterialized_upstream_outside_the_selection_fails_the_plan() {
        let g = graph(vec![
            asset("a", &[]),
            asset("b", &["a"]),
            asset("c", &["b"]),
        ]);
        let Err(PlanError::Missing(missing)) =
            plan(&g, &resolve(&g, "b+"), None, &StoredIndex::new())
        else {
            panic!("expected a missing input")
        };
        assert_eq!(missing.len(), 1);
        assert_eq!(g.key(missing[0].node).as_str(), "a");
        assert_eq!(missing[0].readers[0].as_str(), "b");
    }

    #[test]
    fn partitions_are_required_validated_and_combined() {
        let parts = PartitionsDefinition::static_keys(["eu", "us"]);
        let g = graph(vec![
            AssetDef::builder("daily")
                .partitions(parts.clone())
                .compute_blocking(|_, _| Ok::<_, std::io::Error>(()))
                .build(),
            AssetDef::builder("per_region")
                .input("daily")
                .partitions(parts)
                .compute_blocking(|_, _| Ok::<_, std::io::Error>(()))
                .build(),
            asset("summary", &["daily"]),
        ]);
        let err = match plan(&g, &resolve(&g, "daily"), None, &StoredIndex::new()) {
            Err(PlanError::Other(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert!(err.contains("--partition KEY"), "{err}");
        let err = match plan(&g, &resolve(&g, "daily"), Some("mars"), &StoredIndex::new()) {
            Err(PlanError::Other(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert!(err.contains("partition \"mars\" does not exist"), "{err}");
        let p = plan(&g, &resolve(&g, "daily+"), Some("eu"), &StoredIndex::new());
        // summary is unpartitioned and reads every partition of daily: us is missing.
        let Err(PlanError::Missing(m)) = p else {
            panic!()
        };
        assert_eq!(
            m[0].partition.as_ref().map(PartitionKey::as_str),
            Some("us")
        );
        let p = plan(
            &g,
            &resolve(&g, "daily, per_region"),
            Some("eu"),
            &StoredIndex::new(),
        )
        .unwrap();
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].label(), "per_region[eu]");
        assert!(matches!(
            p.steps[1].inputs[0].parts[..],
            [InputPart::Step(0)]
        ));
    }
}
