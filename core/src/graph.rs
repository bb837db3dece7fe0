//! The asset graph: definitions validated and linked into a petgraph DAG.
//!
//! Loading is the only place definitions are checked, and it reports every problem at once:
//! invalid attributes, duplicate keys, unknown dependencies (with a "did you mean"), checks on
//! unknown assets, and cycles (the whole cycle, not one of its nodes).
//!
//! Nodes are numbered in definition order; node `i` of the petgraph graph is asset `i`.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use fixedbitset::FixedBitSet;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::config::ConfigSpec;
use crate::model::definitions::{AssetDef, CheckDef, Definitions};
use crate::model::error::{Error, Result, did_you_mean};
use crate::model::ids::{IxVec, NodeIx};
use crate::model::key::AssetKey;
use crate::model::spec::PartitionMapping;
use crate::model::spec::{AssetSpec, DepKind};

/// Validated definitions, linked into a DAG.
#[derive(Debug)]
pub struct AssetGraph {
    assets: IxVec<NodeIx, AssetDef>,
    index: HashMap<AssetKey, NodeIx>,
    /// Per asset, its dependencies as node ids, in spec order.
    deps: IxVec<NodeIx, Vec<(NodeIx, DepKind)>>,
    /// Per asset, the assets that depend on it.
    children: IxVec<NodeIx, Vec<NodeIx>>,
    materializable: FixedBitSet,
    external: FixedBitSet,
    attrs: AttrIndex,
    topo: Vec<NodeIx>,
    layer: IxVec<NodeIx, u32>,
    checks: Vec<CheckDef>,
    /// Per asset, its checks as positions in `checks`.
    checks_of: IxVec<NodeIx, Vec<usize>>,
    config: Arc<ConfigSpec>,
    pub(crate) schedules: Vec<crate::model::schedule::ScheduleDef>,
    /// Per schedule, the time windows its ticks are cut from.
    pub(crate) schedule_windows: Vec<Option<crate::model::spec::TimeWindows>>,
    /// IO managers the code location registered, by key.
    io_managers: crate::model::io::IoManagers,
    /// URL schemes the code location builds IO managers for.
    io_schemes: crate::model::io::IoSchemes,
}

impl AssetGraph {
    /// Validates `definitions` and links them into a graph; its schedules are kept as given
    /// (`AssetGraph::new`, on the selection floor, checks them against the graph).
    pub(crate) fn build(definitions: Definitions) -> Result<Self> {
        let Definitions {
            mut assets,
            checks,
            config,
            schedules,
            problems: def_problems,
            default_retry,
            io_managers,
            io_schemes,
        } = definitions;
        let mut problems: Vec<String> = def_problems;

        // Time windows that end at the present all end at the same present: the moment the
        // graph is built (or the instant a replaying process acts at, `STEMMA_NOW`), so that
        // assets sharing a definition share its partitions exactly.
        let now = crate::model::clock::replayed_now().unwrap_or_else(chrono::Utc::now);
        for def in &mut assets {
            if let Some(p) = &mut def.spec.partitions {
                p.set_as_of(now);
            }
            if def.spec.retry.is_none() {
                def.spec.retry.clone_from(&default_retry);
            }
        }
        let assets: IxVec<NodeIx, AssetDef> = IxVec::from_raw(assets);

        let mut index = HashMap::with_capacity(assets.len());
        let mut attrs = AttrIndex::default();
        for (i, def) in assets.iter_enumerated() {
            attrs.add(i, &def.spec);
            for p in def.problems.iter().chain(def.spec.problems().iter()) {
                problems.push(format!("asset {}: {p}", def.spec.key));
            }
            if index.insert(def.spec.key.clone(), i).is_some() {
                problems.push(format!("asset {} is defined twice", def.spec.key));
            }
        }

        let mut graph = DiGraph::<(), DepKind, u32>::with_capacity(assets.len(), assets.len() * 2);
        for _ in &assets {
            graph.add_node(());
        }
        let mut deps: IxVec<NodeIx, _> = IxVec::with_capacity(assets.len());
        for (i, def) in assets.iter_enumerated() {
            let mut mine = Vec::with_capacity(def.spec.deps.len());
            for dep in &def.spec.deps {
                match index.get(&dep.key) {
                    // An asset reading its own earlier partitions (checked below) is no
                    // edge of the DAG: its steps are ordered partition by partition.
                    Some(&j) => {
                        if j != i {
                            graph.add_edge(
                                NodeIndex::new(j.index()),
                                NodeIndex::new(i.index()),
                                dep.kind,
                            );
                        }
                        mine.push((j, dep.kind));
                    }
                    None => {
                        let hint = did_you_mean(
                            dep.key.as_str(),
                            assets.iter().map(|a| a.spec.key.as_str()),
                        )
                        .map(|s| format!("; did you mean \"{s}\"?"))
                        .unwrap_or_default();
                        problems.push(format!(
                            "asset {}: depends on \"{}\", which is not defined{hint}",
                            def.spec.key, dep.key
                        ));
                    }
                }
            }
            deps.push(mine);
        }

        let mut checks_of = IxVec::from_elem(Vec::new(), assets.len());
        for (c, check) in checks.iter().enumerate() {
            let label = format!("check {}:{}", check.spec.asset, check.spec.name);
            for p in &check.problems {
                problems.push(format!("{label}: {p}"));
            }
            match index.get(&check.spec.asset) {
                Some(&i) => {
                    if checks_of[i]
                        .iter()
                        .any(|&o: &usize| checks[o].spec.name == check.spec.name)
                    {
                        problems.push(format!("{label} is defined twice"));
                    }
                    checks_of[i].push(c);
                }
                None => {
                    let hint = did_you_mean(
                        check.spec.asset.as_str(),
                        assets.iter().map(|a| a.spec.key.as_str()),
                    )
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                    problems.push(format!(
                        "{label}: checks \"{}\", which is not defined{hint}",
                        check.spec.asset
                    ));
                }
            }
        }

        for (i, def) in assets.iter_enumerated() {
            for &(j, kind) in &deps[i] {
                let declared = def
                    .spec
                    .deps
                    .iter()
                    .find(|d| d.key == assets[j].spec.key)
                    .and_then(|d| d.mapping.as_ref());
                if let Some(p) = partition_problem(&def.spec, &assets[j].spec, kind, declared) {
                    problems.push(format!("asset {}: {p}", def.spec.key));
                }
            }
        }

        let topo = match petgraph::algo::toposort(&graph, None) {
            Ok(order) => order.into_iter().map(|n| NodeIx::new(n.index())).collect(),
            Err(cycle) => {
                let path = find_cycle(&graph, cycle.node_id());
                let names: Vec<&str> = path.iter().map(|&i| assets[i].spec.key.as_str()).collect();
                problems.push(format!("dependency cycle: {}", names.join(" → ")));
                Vec::new()
            }
        };

        if !problems.is_empty() {
            let n = problems.len();
            let list = problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n");
            let noun = if n == 1 { "problem" } else { "problems" };
            return Err(Error::Definition(format!(
                "the definitions have {n} {noun}:\n{list}"
            )));
        }

        let mut layer = IxVec::from_elem(0u32, assets.len());
        for &i in &topo {
            layer[i] = deps[i]
                .iter()
                .filter(|&&(j, _)| j != i)
                .map(|&(j, _)| layer[j] + 1)
                .max()
                .unwrap_or(0);
        }
        let mut children = IxVec::from_elem(Vec::new(), assets.len());
        let mut materializable = FixedBitSet::with_capacity(assets.len());
        let mut external = FixedBitSet::with_capacity(assets.len());
        for (i, def) in assets.iter_enumerated() {
            for &(j, _) in &deps[i] {
                if j != i {
                    children[j].push(i);
                }
            }
            if def.is_external() {
                external.insert(i.index());
            } else {
                materializable.insert(i.index());
            }
        }

        let graph = AssetGraph {
            assets,
            index,
            deps,
            children,
            materializable,
            external,
            attrs,
            topo,
            layer,
            checks,
            checks_of,
            config: Arc::new(config),
            schedules,
            schedule_windows: Vec::new(),
            io_managers,
            io_schemes,
        };
        Ok(graph)
    }

    /// The schedules the code location defines.
    pub fn schedules(&self) -> &[crate::model::schedule::ScheduleDef] {
        &self.schedules
    }

    /// The schedule named `name`.
    pub fn schedule(&self, name: &str) -> Result<&crate::model::schedule::ScheduleDef> {
        self.schedules
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.schedules.iter().map(|s| s.name()).collect();
                Error::not_found(
                    "schedule",
                    name,
                    format!(
                        "no schedule named {name:?} (defined: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
            })
    }

    /// The partitions definition a partitioned schedule's ticks are cut from (resolved once,
    /// when the graph is built).
    pub fn schedule_windows(
        &self,
        schedule: &crate::model::schedule::ScheduleDef,
    ) -> Option<&crate::model::spec::TimeWindows> {
        let i = self
            .schedules
            .iter()
            .position(|s| s.name() == schedule.name())?;
        self.schedule_windows[i].as_ref()
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// Every node id, in definition order.
    pub fn nodes(&self) -> impl DoubleEndedIterator<Item = NodeIx> + ExactSizeIterator + use<> {
        self.assets.indices()
    }

    /// The node id of `key`.
    pub fn node(&self, key: &AssetKey) -> Option<NodeIx> {
        self.index.get(key).copied()
    }

    /// The IO managers the code location registered ([`Definitions::io_manager`]).
    pub fn io_managers(&self) -> &crate::model::io::IoManagers {
        &self.io_managers
    }

    /// The URL schemes the code location builds IO managers for
    /// ([`Definitions::io_manager_scheme`]).
    pub fn io_schemes(&self) -> &crate::model::io::IoSchemes {
        &self.io_schemes
    }

    /// The definition of asset `key`, if the graph has it.
    pub fn spec_of(&self, key: &AssetKey) -> Option<&AssetSpec> {
        self.node(key).map(|n| self.spec(n))
    }

    /// The node id of the asset written `key` (no allocation).
    pub fn node_by_str(&self, key: &str) -> Option<NodeIx> {
        self.index.get(key).copied()
    }

    /// The node id of the asset a user named, or an error that suggests a close key.
    pub fn lookup(&self, key: &str) -> Result<NodeIx> {
        self.node_by_str(key).ok_or_else(|| {
            let hint = did_you_mean(key, self.assets.iter().map(|a| a.spec.key.as_str()))
                .map(|k| format!("; did you mean \"{k}\"?"))
                .unwrap_or_default();
            Error::not_found("asset", key, format!("no asset \"{key}\" is defined{hint}"))
        })
    }

    /// The position of partition `key` of `node`: 0 for an unpartitioned asset without one; an
    /// error naming the asset when the partition does not fit it.
    pub fn partition_index(&self, node: NodeIx, key: Option<&str>) -> Result<usize> {
        let asset = self.key(node);
        match (&self.spec(node).partitions, key) {
            (None, None) => Ok(0),
            (None, Some(_)) => Err(Error::Plan(format!("asset {asset} is not partitioned"))
                .with_hint(crate::model::error::Hint::NoPartition)),
            (Some(def), None) => Err(Error::PartitionRequired {
                asset: asset.to_string(),
                message: format!("asset {asset} is partitioned ({})", def.describe()),
            }
            .with_hint(crate::model::error::Hint::ChoosePartition)),
            (Some(def), Some(k)) => {
                def.validate_key(k).map_err(|e| of_asset(asset, e))?;
                def.index_of(k).ok_or_else(|| {
                    Error::Internal(format!("partition {k} of {asset} validated but not found"))
                })
            }
        }
    }

    pub fn asset(&self, node: NodeIx) -> &AssetDef {
        &self.assets[node]
    }

    pub fn spec(&self, node: NodeIx) -> &AssetSpec {
        &self.assets[node].spec
    }

    pub fn key(&self, node: NodeIx) -> &AssetKey {
        &self.assets[node].spec.key
    }

    pub fn assets(&self) -> impl Iterator<Item = (NodeIx, &AssetDef)> {
        self.assets.iter_enumerated()
    }

    /// Dependencies of `node` in spec order (data deps in parameter order first), including
    /// `node` itself when it reads its own earlier partitions.
    pub fn deps(&self, node: NodeIx) -> &[(NodeIx, DepKind)] {
        &self.deps[node]
    }

    /// How `node` reads the partitions of its upstream `up`: the mapping its dep declares, or
    /// the one both definitions imply.
    pub fn mapping(&self, node: NodeIx, up: NodeIx) -> PartitionMapping {
        let spec = self.spec(node);
        let up_key = self.key(up);
        spec.deps
            .iter()
            .find(|d| &d.key == up_key)
            .and_then(|d| d.mapping.clone())
            .unwrap_or_else(|| {
                PartitionMapping::between(
                    self.spec(up).partitions.as_ref(),
                    spec.partitions.as_ref(),
                )
            })
    }

    /// Direct upstream assets of `node` (not itself).
    pub fn parents(&self, node: NodeIx) -> impl Iterator<Item = NodeIx> + '_ {
        self.deps[node]
            .iter()
            .map(|&(p, _)| p)
            .filter(move |&p| p != node)
    }

    /// Whether `node` reads its own earlier partitions (a cumulative asset).
    pub fn reads_itself(&self, node: NodeIx) -> bool {
        self.deps[node].iter().any(|&(p, _)| p == node)
    }

    /// Direct downstream assets of `node`.
    pub fn children(&self, node: NodeIx) -> impl Iterator<Item = NodeIx> + '_ {
        self.children[node].iter().copied()
    }

    /// Assets Stemma materializes (every asset that is not external).
    pub fn materializable(&self) -> &FixedBitSet {
        &self.materializable
    }

    /// Assets declared here but computed elsewhere.
    pub fn external(&self) -> &FixedBitSet {
        &self.external
    }

    /// Assets by tag, group, kind and owner.
    pub fn attrs(&self) -> &AttrIndex {
        &self.attrs
    }

    /// Every asset, upstream before downstream.
    pub fn topo_order(&self) -> &[NodeIx] {
        &self.topo
    }

    /// The longest path from a root to `node` (roots are layer 0).
    pub fn layer(&self, node: NodeIx) -> u32 {
        self.layer[node]
    }

    /// Assets grouped by layer.
    pub fn layers(&self) -> Vec<Vec<NodeIx>> {
        let depth = self.layer.iter().max().map_or(0, |&d| d as usize + 1);
        let mut out = vec![Vec::new(); depth];
        for &i in &self.topo {
            out[self.layer[i] as usize].push(i);
        }
        out
    }

    pub fn checks(&self) -> &[CheckDef] {
        &self.checks
    }

    /// The checks on `node`.
    pub fn checks_of(&self, node: NodeIx) -> impl Iterator<Item = &CheckDef> {
        self.checks_of[node].iter().map(|&c| &self.checks[c])
    }

    pub fn config_spec(&self) -> &Arc<ConfigSpec> {
        &self.config
    }

    /// The defined key closest to `key`, for "did you mean" hints.
    pub fn suggest(&self, key: &str) -> Option<&str> {
        did_you_mean(key, self.assets.iter().map(|a| a.spec.key.as_str()))
    }
}

/// Assets by one attribute's values. Only distinct values are allocated.
pub type AttrMap = FxHashMap<String, Vec<u32>>;

/// Assets by tag, group, kind and owner, built while the definitions are validated (when each
/// spec is already in cache), so that attribute selections never scan specs.
#[derive(Debug, Default)]
pub struct AttrIndex {
    /// tag name → tag value → assets.
    pub tags: FxHashMap<String, AttrMap>,
    pub groups: AttrMap,
    pub kinds: AttrMap,
    pub owners: AttrMap,
}

impl AttrIndex {
    fn add(&mut self, node: NodeIx, spec: &AssetSpec) {
        fn add(map: &mut AttrMap, key: &str, node: u32) {
            match map.get_mut(key) {
                Some(nodes) => nodes.push(node),
                None => {
                    map.insert(key.to_owned(), vec![node]);
                }
            }
        }
        let node = node.index() as u32;
        for (k, v) in &spec.tags {
            let values = match self.tags.get_mut(k.as_str()) {
                Some(values) => values,
                None => self.tags.entry(k.clone()).or_default(),
            };
            add(values, v, node);
        }
        add(&mut self.groups, &spec.group, node);
        for kind in &spec.kinds {
            add(&mut self.kinds, kind, node);
        }
        for owner in &spec.owners {
            add(&mut self.owners, owner, node);
        }
    }
}

/// Whether `down` can read `up` given their partitions and the mapping declared, if any.
/// Without one, the mapping both definitions imply (identity between assets that share their
/// partitions, time windows between cadences, the matching dimension of a multi-dimensional
/// asset); an asset may read itself only through a negative offset.
fn partition_problem(
    down: &AssetSpec,
    up: &AssetSpec,
    kind: DepKind,
    declared: Option<&PartitionMapping>,
) -> Option<String> {
    if down.key == up.key {
        return match (kind, declared, &down.partitions) {
            (DepKind::Data, Some(PartitionMapping::Offset(n)), Some(_)) if *n < 0 => None,
            _ => Some(
                "depends on itself; an asset may read only its own earlier partitions, \
                 through a negative offset (input_mapped(itself, PartitionMapping::Offset(-1)))"
                    .into(),
            ),
        };
    }
    let dep = match kind {
        DepKind::Data => "reads",
        DepKind::Order => "depends (ordering) on",
    };
    let derived;
    let mapping = match declared {
        Some(m) => m,
        None => {
            derived = PartitionMapping::between(up.partitions.as_ref(), down.partitions.as_ref());
            &derived
        }
    };
    mapping
        .problem(
            up.key.as_str(),
            up.partitions.as_ref(),
            down.partitions.as_ref(),
        )
        .map(|p| format!("{dep} {} {p}", up.key))
}

/// A cycle through `start`: the shortest path back to it, first node repeated at the end.
fn find_cycle(graph: &DiGraph<(), DepKind, u32>, start: NodeIndex) -> Vec<NodeIx> {
    let mut previous: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for next in graph.neighbors_directed(n, Direction::Outgoing) {
            if next == start {
                let mut path = vec![n];
                let mut cur = n;
                while let Some(&p) = previous.get(&cur) {
                    path.push(p);
                    cur = p;
                }
                path.reverse();
                let mut out: Vec<NodeIx> =
                    path.into_iter().map(|n| NodeIx::new(n.index())).collect();
                out.push(NodeIx::new(start.index()));
                return out;
            }
            if next != start && !previous.contains_key(&next) {
                previous.insert(next, n);
                queue.push_back(next);
            }
        }
    }
    vec![NodeIx::new(start.index())]
}

/// A partition key's error, said of the asset it was given for (its hint kept).
fn of_asset(asset: &AssetKey, e: Error) -> Error {
    e.map_keeping_hint(|e| match e {
        Error::NotFound { what, id, message } => Error::NotFound {
            what,
            id,
            message: format!("asset {asset}: {message}"),
        },
        e => Error::Plan(format!("asset {asset}: {e}")),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::check::CheckResult;
    use crate::model::definitions::CheckDef;

    /// A test asset with data deps `inputs`.
    pub(crate) fn asset(key: &str, inputs: &[&str]) -> AssetDef {
        let mut b = AssetDef::builder(key);
        for i in inputs {
            b = b.input(i);
        }
        b.compute_blocking(|_, _| Ok::<_, std::io::Error>(()))
            .build()
    }

    pub(crate) fn graph(defs: Vec<AssetDef>) -> AssetGraph {
        AssetGraph::new(Definitions::new().assets(defs)).unwrap()
    }

    fn error(defs: Definitions) -> String {
        AssetGraph::new(defs).unwrap_err().to_string()
    }

    #[test]
    fn orders_topologically_and_layers() {
        let g = graph(vec![
            asset("c", &["b", "a"]),
            asset("b", &["a"]),
            asset("a", &[]),
            asset("d", &[]),
        ]);
        let pos = |k: &str| {
            let n = g.node_by_str(k).unwrap();
            g.topo_order().iter().position(|&x| x == n).unwrap()
        };
        assert!(pos("a") < pos("b") && pos("b") < pos("c"));
        assert_eq!(g.layer(g.node_by_str("c").unwrap()), 2);
        assert_eq!(g.layers().len(), 3);
        assert_eq!(g.layers()[0].len(), 2);
        let c = g.node_by_str("c").unwrap();
        let deps: Vec<&str> = g.deps(c).iter().map(|&(n, _)| g.key(n).as_str()).collect();
        assert_eq!(deps, ["b", "a"]);
    }

    #[test]
    fn a_cycle_is_named_whole() {
        let err = error(Definitions::new().assets([
            asset("a", &["c"]),
            asset("b", &["a"]),
            asset("c", &["b"]),
            asset("x", &[]),
        ]));
        assert!(err.contains("dependency cycle:"), "{err}");
        let cycle = err.split("cycle: ").nth(1).unwrap();
        let nodes: Vec<&str> = cycle.trim().split(" → ").collect();
        assert_eq!(nodes.len(), 4, "{err}");
        assert_eq!(nodes.first(), nodes.last());
        for k in ["a", "b", "c"] {
            assert!(nodes.contains(&k), "{err}");
        }
    }

    #[test]
    fn unknown_deps_duplicates_and_bad_checks_are_all_reported() {
        let check = CheckDef::builder("ok", "embedings")
            .run_blocking(false, |_, _| Ok::<_, std::io::Error>(CheckResult::pass()))
            .build();
        let err = error(
            Definitions::new()
                .assets([
                    asset("chunks", &[]),
                    asset("embeddings", &["chunk"]),
                    asset("chunks", &[]),
                    asset("bad key", &[]),
                ])
                .check(check),
        );
        assert!(err.contains("4 problems"), "{err}");
        assert!(
            err.contains("asset embeddings: depends on \"chunk\", which is not defined; did you mean \"chunks\"?"),
            "{err}"
        );
        assert!(err.contains("asset chunks is defined twice"), "{err}");
        assert!(err.contains("\"bad key\""), "{err}");
        assert!(err.contains("did you mean \"embeddings\"?"), "{err}");
    }

    #[test]
    fn builds_ten_thousand_assets() {
        let defs: Vec<AssetDef> = (0..10_000)
            .map(|i| {
                let key = format!("a{i}");
                let deps: Vec<String> = if i < 100 {
                    vec![]
                } else {
                    vec![format!("a{}", i - 100), format!("a{}", i - 37)]
                };
                let refs: Vec<&str> = deps.iter().map(String::as_str).collect();
                asset(&key, &refs)
            })
            .collect();
        let g = graph(defs);
        assert_eq!(g.len(), 10_000);
        assert_eq!(g.topo_order().len(), 10_000);
    }
}
