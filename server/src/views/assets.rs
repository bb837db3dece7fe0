//! Asset definitions (`assets list --json`) and the lineage graph (`assets graph --json`).

use serde::Serialize;
use stemma::AssetGraph;
use stemma::ids::NodeIx;
use stemma::spec::{AssetDep, RetryPolicy};

/// One asset as its code defines it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetDefinition {
    pub key: String,
    pub group: String,
    pub description: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub deps: Vec<AssetDep>,
    pub owners: Vec<String>,
    pub tags: std::collections::BTreeMap<String, String>,
    pub kinds: Vec<String>,
    pub code_version: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: stemma::spec::Metadata,
    pub io_manager: String,
    pub pool: Option<String>,
    pub partitions: Option<Partitioning>,
    #[schema(value_type = Object)]
    pub retry: RetryPolicy,
    pub external: bool,
    /// The names of its checks.
    pub checks: Vec<String>,
}

/// How an asset is partitioned: its kind, how many partitions, the first 1,000 keys.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Partitioning {
    pub kind: &'static str,
    pub count: usize,
    pub keys: Vec<String>,
}

/// Keys listed in a definition at most.
const KEYS_SHOWN: usize = 1000;

impl AssetDefinition {
    pub fn of(graph: &AssetGraph, node: NodeIx) -> Self {
        let spec = graph.spec(node);
        AssetDefinition {
            key: spec.key.to_string(),
            group: spec.group.clone(),
            description: spec.description.clone(),
            deps: spec.deps.clone(),
            owners: spec.owners.clone(),
            tags: spec.tags.clone(),
            kinds: spec.kinds.iter().cloned().collect(),
            code_version: spec.code_version.clone(),
            metadata: spec.metadata.clone(),
            io_manager: spec.io_manager.clone(),
            pool: spec.pool.clone(),
            partitions: spec.partitions.as_ref().map(|p| Partitioning {
                kind: p.kind(),
                count: p.len(),
                keys: p.keys().take(KEYS_SHOWN).map(|k| k.to_string()).collect(),
            }),
            retry: spec.retry_policy().clone(),
            external: graph.asset(node).is_external(),
            checks: graph
                .checks_of(node)
                .map(|c| c.spec().name.clone())
                .collect(),
        }
    }
}

/// The lineage graph of some assets: each with its layer and its deps.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineageGraph {
    pub assets: Vec<GraphNode>,
}

/// One asset in the lineage graph.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GraphNode {
    pub key: String,
    pub group: String,
    pub kinds: Vec<String>,
    pub external: bool,
    /// Its depth from the roots: 0 for an asset with no deps.
    pub layer: u32,
    /// `{key, kind}`: the assets it reads (`data`) or waits for (`order`).
    #[schema(value_type = Vec<Object>)]
    pub deps: Vec<AssetDep>,
}

impl LineageGraph {
    /// The graph of `nodes` (in the order given).
    pub fn of(graph: &AssetGraph, nodes: &[NodeIx]) -> Self {
        let assets = nodes
            .iter()
            .map(|&n| {
                let spec = graph.spec(n);
                GraphNode {
                    key: spec.key.to_string(),
                    group: spec.group.clone(),
                    kinds: spec.kinds.iter().cloned().collect(),
                    external: graph.asset(n).is_external(),
                    layer: graph.layer(n),
                    deps: spec.deps.clone(),
                }
            })
            .collect();
        LineageGraph { assets }
    }
}

/// Which way to walk the graph from an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upstream,
    Downstream,
}

/// Every asset up- or downstream of `node` (external sources included), breadth first, with
/// its distance; at most `depth` edges away when given.
pub fn walk(
    graph: &AssetGraph,
    node: NodeIx,
    direction: Direction,
    depth: Option<usize>,
) -> Vec<(usize, NodeIx)> {
    let mut seen = std::collections::HashSet::from([node]);
    let mut out = Vec::new();
    let mut frontier = vec![node];
    let mut distance = 0;
    while !frontier.is_empty() && depth.is_none_or(|d| distance < d) {
        distance += 1;
        let mut next = Vec::new();
        for n in frontier {
            let neighbours: Vec<NodeIx> = match direction {
                Direction::Upstream => graph.parents(n).collect(),
                Direction::Downstream => graph.children(n).collect(),
            };
            for m in neighbours {
                if seen.insert(m) {
                    out.push((distance, m));
                    next.push(m);
                }
            }
        }
        frontier = next;
    }
    out
}
