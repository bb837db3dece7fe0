//! Why an asset (partition) is stale (`assets why-stale --json`, `GET …/why-stale`): the tree of
//! causes down to its root causes.

use serde::Serialize;
use stemma::ids::NodeIx;
use stemma::spec::PartitionsDefinition;
use stemma::staleness::{Freshness, Staleness, WhyNode, why_stale as explain_tree};
use stemma::{Engine, Result};
use utoipa::ToSchema;

/// The explanation of one asset partition, or, for a partitioned asset asked about without a
/// partition and with none stale, that none is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WhyStale {
    pub asset: String,
    /// The partition explained (for a partitioned asset: the one asked for, else the first
    /// stale one).
    pub partition: Option<String>,
    /// The stale partitions of a partitioned asset asked about without a partition: how many,
    /// and the first few keys.
    pub stale_partitions: Option<StalePartitions>,
    /// The tree of causes; absent when a partitioned asset has no stale partition.
    #[schema(value_type = Option<Object>)]
    pub tree: Option<WhyNode>,
    /// The nodes of the tree where something is wrong other than a stale upstream.
    #[schema(value_type = Vec<Object>)]
    pub root_causes: Vec<WhyNode>,
}

/// How many partitions are stale, of how many, and the first keys.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StalePartitions {
    pub stale: usize,
    pub fresh: usize,
    pub missing: usize,
    pub of: usize,
    pub first: Vec<String>,
}

/// Stale partition keys a note names at most.
const NAMED: usize = 5;

impl WhyStale {
    /// Why `key` (`partition`) is stale, observing the external sources first (the CLI).
    pub fn gather(engine: &Engine, key: &str, partition: Option<&str>) -> Result<WhyStale> {
        let (versions, staleness) = engine.staleness()?;
        Self::explain(engine, key, partition, &versions, &staleness)
    }

    /// Why `key` (`partition`) is stale, as `judged` found every asset (the HTTP API, which
    /// judges on the recorded observations, once per committed event).
    pub fn gather_judged(
        engine: &Engine,
        key: &str,
        partition: Option<&str>,
        judged: &super::status::Judged,
    ) -> Result<WhyStale> {
        Self::explain(
            engine,
            key,
            partition,
            judged.versions(),
            judged.staleness(),
        )
    }

    fn explain(
        engine: &Engine,
        key: &str,
        partition: Option<&str>,
        versions: &stemma::staleness::VersionState,
        staleness: &Staleness,
    ) -> Result<WhyStale> {
        let graph = engine.graph();
        let node = graph.lookup(key)?;
        let asset = graph.key(node).to_string();
        let (index, stale_partitions) = match (&graph.spec(node).partitions, partition) {
            (Some(def), None) => {
                let (first, stale) = stale_partitions(def, staleness, node);
                match first {
                    Some(i) => (i, Some(stale)),
                    None => {
                        return Ok(WhyStale {
                            asset,
                            partition: None,
                            stale_partitions: Some(stale),
                            tree: None,
                            root_causes: Vec::new(),
                        });
                    }
                }
            }
            _ => (graph.partition_index(node, partition)?, None),
        };
        let tree = explain_tree(
            graph,
            versions,
            staleness,
            engine.instance(),
            engine.config(),
            node,
            index,
        )?;
        Ok(WhyStale {
            asset,
            partition: tree.partition.as_ref().map(|p| p.to_string()),
            stale_partitions,
            root_causes: tree.roots().into_iter().cloned().collect(),
            tree: Some(tree),
        })
    }
}

/// The first stale partition of `node`, and what is stale of it.
fn stale_partitions(
    def: &PartitionsDefinition,
    staleness: &Staleness,
    node: NodeIx,
) -> (Option<usize>, StalePartitions) {
    let states = staleness.states_of(node);
    let stale: Vec<usize> = (0..states.len())
        .filter(|&i| states[i].freshness == Freshness::Stale)
        .collect();
    let summary = staleness.summary(node);
    let first = stale
        .iter()
        .take(NAMED)
        .filter_map(|&i| def.key_at(i).map(|k| k.to_string()))
        .collect();
    (
        stale.first().copied(),
        StalePartitions {
            stale: stale.len(),
            fresh: summary.fresh,
            missing: summary.missing,
            of: def.len(),
            first,
        },
    )
}
