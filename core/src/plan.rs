//! The planner: from selected assets to steps.
//!
//! A step is one (asset, partition) to materialize. Each of its data inputs comes either from
//! another step of the same run or from the latest committed materialization of the upstream
//! (partition). An input that is neither — never materialized and not selected — makes the
//! plan fail before anything runs, naming the upstream. Ordering-only dependencies are tracked
//! the same way for their versions (they count in provenance), but nothing is loaded and a
//! missing one is no error. Each step also carries the committed materialization it would
//! replace, so the executor can tell when it is already up to date.

use std::collections::HashMap;

use fixedbitset::FixedBitSet;

use crate::graph::AssetGraph;
use crate::model::error::{Error, Result};
use crate::model::event::Provenance;
use crate::model::ids::{IxVec, NodeIx, StepIx};
use crate::model::key::AssetKey;
use crate::model::record::LatestMaterialization;
use crate::model::spec::{DepKind, PartitionKey};

/// Latest materializations by (asset, partition), as the planner needs them.
pub type StoredIndex = HashMap<(AssetKey, Option<PartitionKey>), LatestMaterialization>;

/// The committed materialization a step would replace, with what it was computed from.
#[derive(Debug, Clone)]
pub struct Previous {
    pub latest: LatestMaterialization,
    pub provenance: Provenance,
}

/// Previous materializations of the selected assets, by (asset, partition).
pub type PreviousIndex = HashMap<(AssetKey, Option<PartitionKey>), Previous>;

/// One (asset, partition) to materialize.
#[derive(Debug, Clone)]
pub struct Step {
    pub node: NodeIx,
    pub asset: AssetKey,
    pub partition: Option<PartitionKey>,
    /// The partition's place among the asset's planned partitions (0 when unpartitioned).
    pub position: usize,
    /// One entry per data dependency, in the order the function takes them.
    pub inputs: Vec<PlannedInput>,
    /// One entry per ordering-only dependency: versions only, never loaded.
    pub order_inputs: Vec<PlannedInput>,
    /// The committed materialization this step would replace.
    pub previous: Option<Previous>,
    /// Steps that must finish first (data and ordering deps), without repeats.
    pub upstream: Vec<StepIx>,
    /// Steps that wait for this one.
    pub downstream: Vec<StepIx>,
}

impl Step {
    /// `asset` or `asset[partition]`.
    pub fn label(&self) -> String {
        crate::model::event::step_label(&self.asset, self.partition.as_ref())
    }
}

/// Where one input's value comes from.
#[derive(Debug, Clone)]
pub struct PlannedInput {
    pub asset: AssetKey,
    pub node: NodeIx,
    pub parts: Vec<InputPart>,
    /// The downstream is unpartitioned and reads every partition of a partitioned upstream:
    /// the parts are combined into one value.
    pub combine: bool,
}

#[derive(Debug, Clone)]
pub enum InputPart {
    /// Produced by this step of the run.
    Step(StepIx),
    /// Already committed.
    Stored(LatestMaterialization),
}

/// Steps in dependency order (a step's upstream steps come before it).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: IxVec<StepIx, Step>,
    /// Selected partitioned assets left out because no partition was asked for while the
    /// selection also holds unpartitioned assets (`materialize --select '*'` runs the
    /// unpartitioned pipeline; partitions come from `--partition`, a backfill or a schedule).
    pub left_out: Vec<NodeIx>,
}

/// Steps ready to start: in plan order, or the newest partitions first (then plan order, so a
/// partition's downstream steps follow it before older partitions start). It lives with the
/// plan, not the executor, because it is the plan's start-order rule: the dry run's order
/// ([`Plan::start_order`]) and the executor's are the same by construction.
pub struct ReadyQueue {
    heap: std::collections::BinaryHeap<(usize, std::cmp::Reverse<StepIx>)>,
    positions: Option<IxVec<StepIx, usize>>,
}

impl ReadyQueue {
    pub fn new(newest_first: bool, steps: &IxVec<StepIx, Step>) -> Self {
        ReadyQueue {
            heap: std::collections::BinaryHeap::with_capacity(steps.len()),
            positions: newest_first.then(|| steps.iter().map(|s| s.position).collect()),
        }
    }

    pub fn push(&mut self, s: StepIx) {
        let priority = self.positions.as_ref().map_or(0, |p| p[s]);
        self.heap.push((priority, std::cmp::Reverse(s)));
    }

    pub fn pop(&mut self) -> Option<StepIx> {
        self.heap.pop().map(|(_, std::cmp::Reverse(s))| s)
    }
}

impl Plan {
    /// Step indices in the order they start when one runs at a time and every step succeeds
    /// (what a dry run shows).
    pub fn start_order(&self, newest_first: bool) -> Vec<StepIx> {
        let mut waiting: IxVec<StepIx, usize> =
            self.steps.iter().map(|s| s.upstream.len()).collect();
        let mut ready = ReadyQueue::new(newest_first, &self.steps);
        for (i, &w) in waiting.iter_enumerated() {
            if w == 0 {
                ready.push(i);
            }
        }
        let mut out = Vec::with_capacity(self.steps.len());
        while let Some(i) = ready.pop() {
            out.push(i);
            for &d in &self.steps[i].downstream {
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    ready.push(d);
                }
            }
        }
        out
    }
}

/// An upstream (partition) that a selected step reads but that has never been materialized.
#[derive(Debug, Clone)]
pub struct MissingInput {
    pub node: NodeIx,
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

/// Steps of a selection to leave out, by (node, partition): a backfill leaves out what it
/// need not reprocess. Readers of a left-out step read its committed materialization.
pub type StepFilter = std::collections::HashSet<(NodeIx, Option<PartitionKey>)>;

/// Separates the ends of a partition range, `2026-01-01...2026-01-31` (as Dagster writes it).
pub const RANGE_SEPARATOR: &str = "...";

/// Plans `selected` (node ids) for `partitions` (each selected partitioned asset gets one step
/// per key, `*` meaning all of its keys and `FROM...TO` the keys from one to the other,
/// inclusive; unpartitioned assets one step).
pub fn plan(
    graph: &AssetGraph,
    selected: &FixedBitSet,
    partitions: &[String],
    stored: &StoredIndex,
    previous: &PreviousIndex,
) -> Result<Plan, PlanError> {
    plan_excluding(graph, selected, partitions, stored, previous, None)
}

/// The (node, partition) steps a selection covers, in plan order, before anything is checked
/// against the instance.
pub fn targets(
    graph: &AssetGraph,
    selected: &FixedBitSet,
    partitions: &[String],
) -> Result<Vec<(NodeIx, Option<PartitionKey>)>> {
    let (nodes, _) = planned_nodes(graph, selected, partitions)?;
    let mut out = Vec::new();
    for &n in &nodes {
        for p in step_partitions(graph, &nodes, n, partitions)? {
            out.push((n, p));
        }
    }
    Ok(out)
}

/// The selected assets to plan, in topological order, and the partitioned ones left out (see
/// [`Plan::left_out`]).
fn planned_nodes(
    graph: &AssetGraph,
    selected: &FixedBitSet,
    partitions: &[String],
) -> Result<(Vec<NodeIx>, Vec<NodeIx>)> {
    let nodes: Vec<NodeIx> = graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&n| selected.contains(n.index()) && !graph.asset(n).is_external())
        .collect();
    if nodes.is_empty() {
        let externals: Vec<&str> = selected
            .ones()
            .map(|n| graph.key(NodeIx::new(n)).as_str())
            .collect();
        return Err(Error::Plan(if externals.is_empty() {
            "the selection matches no assets".into()
        } else {
            format!(
                "the selection matches only external assets ({}), which are computed elsewhere \
                 and cannot be materialized by Stemma",
                externals.join(", ")
            )
        }));
    }
    if !partitions.is_empty() && nodes.iter().all(|&n| graph.spec(n).partitions.is_none()) {
        let keys: Vec<&str> = nodes
            .iter()
            .take(5)
            .map(|&n| graph.key(n).as_str())
            .collect();
        return Err(Error::Plan(format!(
            "partitions were asked for ({}) but none of the selected assets is partitioned ({}{})",
            partitions.join(", "),
            keys.join(", "),
            if nodes.len() > keys.len() {
                ", …"
            } else {
                ""
            }
        )));
    }
    if partitions.is_empty() && nodes.iter().any(|&n| graph.spec(n).partitions.is_none()) {
        let (partitioned, unpartitioned): (Vec<NodeIx>, Vec<NodeIx>) = nodes
            .into_iter()
            .partition(|&n| graph.spec(n).partitions.is_some());
        return Ok((unpartitioned, partitioned));
    }
    Ok((nodes, Vec::new()))
}

/// The partitions of node `n` that `partitions` (the request's arguments) name.
fn step_partitions(
    graph: &AssetGraph,
    nodes: &[NodeIx],
    n: NodeIx,
    partitions: &[String],
) -> Result<Vec<Option<PartitionKey>>> {
    match &graph.spec(n).partitions {
        None => Ok(vec![None]),
        Some(def) if partitions.is_empty() => Err(Error::PartitionRequired {
            asset: graph.key(n).to_string(),
            message: format!("asset {} is partitioned ({})", graph.key(n), def.describe()),
        }
        .with_hint(crate::model::error::Hint::ChoosePartitions)),
        // `*`: every partition of the asset.
        Some(def) if partitions.iter().any(|p| p == "*") => Ok(def.keys().map(Some).collect()),
        Some(def) => {
            let mut seen = std::collections::HashSet::with_capacity(partitions.len());
            let mut out = Vec::with_capacity(partitions.len());
            let mut add = |key: PartitionKey| {
                if seen.insert(key.clone()) {
                    out.push(Some(key));
                }
            };
            for p in partitions {
                let in_asset = |e: Error| {
                    e.map_keeping_hint(|e| Error::Plan(format!("asset {}: {e}", graph.key(n))))
                };
                match p.split_once(RANGE_SEPARATOR) {
                    // `FROM...TO`, unless that is itself a key.
                    Some((from, to)) if def.index_of(p).is_none() => {
                        let range = match (def.index_of(from), def.index_of(to)) {
                            (Some(a), Some(b)) if a > b => {
                                return Err(Error::Plan(format!(
                                    "asset {}: the partition range {p} ends before it starts",
                                    graph.key(n)
                                )));
                            }
                            (Some(a), Some(b)) => a..b + 1,
                            // A range in another time-window definition of the selection
                            // (days, for a weekly asset): the windows wholly inside it.
                            (a, _) => match windows_within(graph, nodes, def, from, to) {
                                Some(range) => range,
                                None => {
                                    let missing = if a.is_none() { from } else { to };
                                    return Err(in_asset(
                                        def.validate_key(missing).err().unwrap_or_else(|| {
                                            Error::Plan(format!(
                                                "partition {missing:?} does not exist"
                                            ))
                                        }),
                                    ));
                                }
                            },
                        };
                        range.filter_map(|i| def.key_at(i)).for_each(&mut add);
                    }
                    _ => add(def.validate_key(p).map_err(in_asset)?),
                }
            }
            Ok(out)
        }
    }
}

/// The positions of `def`'s windows lying wholly inside the span from window `from` to window
/// `to` of another time-window definition among `nodes` (the one both keys belong to).
fn windows_within(
    graph: &AssetGraph,
    nodes: &[NodeIx],
    def: &crate::model::spec::PartitionsDefinition,
    from: &str,
    to: &str,
) -> Option<std::ops::Range<usize>> {
    use crate::model::spec::PartitionsDefinition::TimeWindow;
    let TimeWindow(mine) = def else { return None };
    let (start, end) = nodes
        .iter()
        .find_map(|&m| match &graph.spec(m).partitions {
            Some(TimeWindow(other)) if other != mine => {
                let (a, b) = (other.index_of(from)?, other.index_of(to)?);
                (a <= b).then(|| (other.window(a).0, other.window(b).1))
            }
            _ => None,
        })?;
    let (mut first, mut last) = mine.overlapping(start, end)?;
    if first >= 0 && mine.window(first as usize).0 < start {
        first += 1;
    }
    if last >= 0 && mine.window(last as usize).1 > end {
        last -= 1;
    }
    let first = first.max(0) as usize;
    let last = last.min(mine.len() as i64 - 1);
    Some(if last < first as i64 {
        first..first
    } else {
        first..last as usize + 1
    })
}

/// [`plan`], leaving out the steps in `exclude`.
pub fn plan_excluding(
    graph: &AssetGraph,
    selected: &FixedBitSet,
    partitions: &[String],
    stored: &StoredIndex,
    previous: &PreviousIndex,
    exclude: Option<&StepFilter>,
) -> Result<Plan, PlanError> {
    let (nodes, left_out) = planned_nodes(graph, selected, partitions)?;

    let mut steps: IxVec<StepIx, Step> = IxVec::with_capacity(nodes.len());
    let mut step_of: HashMap<(NodeIx, Option<PartitionKey>), StepIx> =
        HashMap::with_capacity(nodes.len());
    for &n in &nodes {
        for (position, p) in step_partitions(graph, &nodes, n, partitions)?
            .into_iter()
            .enumerate()
        {
            if exclude.is_some_and(|e| e.contains(&(n, p.clone()))) {
                continue;
            }
            step_of.insert((n, p.clone()), StepIx::new(steps.len()));
            steps.push(Step {
                node: n,
                asset: graph.key(n).clone(),
                previous: previous.get(&(graph.key(n).clone(), p.clone())).cloned(),
                partition: p,
                position,
                inputs: Vec::new(),
                order_inputs: Vec::new(),
                upstream: Vec::new(),
                downstream: Vec::new(),
            });
        }
    }

    let mut missing: Vec<MissingInput> = Vec::new();
    for step in &mut steps {
        let mut inputs = Vec::new();
        let mut order_inputs = Vec::new();
        let mut upstream = Vec::new();
        for &(up, kind) in graph.deps(step.node) {
            let up_parts = graph.spec(up).partitions.as_ref();
            let mapping = graph.mapping(step.node, up);
            let wanted = mapping.upstream_keys(
                up_parts,
                graph.spec(step.node).partitions.as_ref(),
                step.partition.as_ref(),
            );
            let combine = mapping.combines(up_parts, graph.spec(step.node).partitions.as_ref());
            let mut parts = Vec::with_capacity(wanted.len());
            for q in wanted {
                if let Some(&u) = step_of.get(&(up, q.clone())) {
                    upstream.push(u);
                    parts.push(InputPart::Step(u));
                } else {
                    match stored.get(&(graph.key(up).clone(), q.clone())) {
                        Some(m) => parts.push(InputPart::Stored(m.clone())),
                        None if kind == DepKind::Data => {
                            note_missing(&mut missing, up, q, &step.asset)
                        }
                        None => {}
                    }
                }
            }
            let planned = PlannedInput {
                asset: graph.key(up).clone(),
                node: up,
                parts,
                combine,
            };
            match kind {
                DepKind::Data => inputs.push(planned),
                DepKind::Order => order_inputs.push(planned),
            }
        }
        upstream.sort_unstable();
        upstream.dedup();
        step.inputs = inputs;
        step.order_inputs = order_inputs;
        step.upstream = upstream;
    }
    if !missing.is_empty() {
        return Err(PlanError::Missing(missing));
    }
    for s in steps.indices() {
        for u in steps[s].upstream.clone() {
            steps[u].downstream.push(s);
        }
    }
    Ok(Plan { steps, left_out })
}

fn note_missing(
    missing: &mut Vec<MissingInput>,
    node: NodeIx,
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
    use crate::graph::tests::{asset, graph};
    use crate::model::definitions::AssetDef;
    use crate::model::spec::PartitionsDefinition;
    use crate::selection::Selection;

    fn resolve(g: &AssetGraph, s: &str) -> FixedBitSet {
        Selection::parse(s)
            .unwrap()
            .resolve(g, &crate::model::state::StatusSnapshot::unavailable())
            .unwrap()
    }

    #[test]
    fn steps_follow_dependencies() {
        let g = graph(vec![
            asset("b", &["a"]),
            asset("a", &[]),
            asset("c", &["a", "b"]),
        ]);
        let p = plan(
            &g,
            &resolve(&g, "*"),
            &[],
            &StoredIndex::new(),
            &PreviousIndex::new(),
        )
        .unwrap();
        let labels: Vec<String> = p.steps.iter().map(Step::label).collect();
        assert_eq!(labels, ["a", "b", "c"]);
        let s = StepIx::new;
        assert_eq!(p.steps[s(2)].upstream, [s(0), s(1)]);
        assert_eq!(p.steps[s(0)].downstream, [s(1), s(2)]);
        assert!(matches!(p.steps[s(2)].inputs[1].parts[0], InputPart::Step(u) if u == s(1)));
    }

    #[test]
    fn an_unmaterialized_upstream_outside_the_selection_fails_the_plan() {
        let g = graph(vec![
            asset("a", &[]),
            asset("b", &["a"]),
            asset("c", &["b"]),
        ]);
        let Err(PlanError::Missing(missing)) = plan(
            &g,
            &resolve(&g, "b+"),
            &[],
            &StoredIndex::new(),
            &PreviousIndex::new(),
        ) else {
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
        let none = PreviousIndex::new();
        let err = match plan(&g, &resolve(&g, "daily"), &[], &StoredIndex::new(), &none) {
            Err(PlanError::Other(e)) => e,
            other => panic!("{other:?}"),
        };
        assert!(err.to_string().contains("daily is partitioned"), "{err}");
        assert_eq!(
            err.hint(),
            Some(&crate::model::error::Hint::ChoosePartitions),
            "{err}"
        );
        let err = match plan(
            &g,
            &resolve(&g, "daily"),
            &["mars".into()],
            &StoredIndex::new(),
            &none,
        ) {
            Err(PlanError::Other(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert!(err.contains("partition \"mars\" does not exist"), "{err}");
        let p = plan(
            &g,
            &resolve(&g, "daily+"),
            &["eu".into()],
            &StoredIndex::new(),
            &none,
        );
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
            &["eu".into()],
            &StoredIndex::new(),
            &none,
        )
        .unwrap();
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[StepIx::new(1)].label(), "per_region[eu]");
        assert!(matches!(
            p.steps[StepIx::new(1)].inputs[0].parts[..],
            [InputPart::Step(u)] if u == StepIx::new(0)
        ));
        // Repeats collapse; `*` means every partition.
        let p = plan(
            &g,
            &resolve(&g, "daily"),
            &["us".into(), "us".into()],
            &StoredIndex::new(),
            &none,
        )
        .unwrap();
        assert_eq!(p.steps.len(), 1);
        let p = plan(
            &g,
            &resolve(&g, "*"),
            &["*".into()],
            &StoredIndex::new(),
            &none,
        )
        .unwrap();
        let labels: Vec<String> = p.steps.iter().map(Step::label).collect();
        assert_eq!(
            labels,
            [
                "daily[eu]",
                "daily[us]",
                "summary",
                "per_region[eu]",
                "per_region[us]"
            ]
        );
    }
}
