//! The asset catalog (`GET /api/v1/assets`) and one asset's page (`GET /api/v1/assets/{key}`).
//!
//! A catalog row carries what a list or a graph node shows and nothing that grows with an
//! asset's partitions, so 10,000 rows answer in milliseconds; the asset's page adds why it is
//! stale, its newest materializations, its checks and its partitions as ranges.

use std::collections::BTreeMap;

use serde::Serialize;
use stemma::model::ids::NodeIx;
use stemma::{AssetKey, Engine, Result};
use utoipa::ToSchema;

use super::assets::AssetDefinition;
use super::partitions::PartitionsView;
use super::status::{AssetStatusRow, Judged, PartitionCounts};

/// One asset in the catalog.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssetSummary {
    pub key: String,
    pub group: String,
    pub description: Option<String>,
    pub kinds: Vec<String>,
    pub owners: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub external: bool,
    /// failed > stale > partial > missing > fresh (running is told by the event stream).
    pub state: String,
    /// How many partitions are fresh, stale and missing, for a partitioned asset.
    pub partitions: Option<PartitionCounts>,
    /// How many partitions it has, if partitioned.
    pub partition_count: Option<usize>,
    /// The keys of the assets it reads.
    pub deps: Vec<String>,
    /// How many checks it defines.
    pub checks: usize,
}

impl AssetSummary {
    /// The rows of `nodes`, in that order, as `judged` found them.
    pub fn gather(engine: &Engine, nodes: &[NodeIx], judged: &Judged) -> Vec<AssetSummary> {
        let graph = engine.graph();
        nodes
            .iter()
            .map(|&n| {
                let spec = graph.spec(n);
                let status = judged.snapshot.get(n).ok();
                let partitioned = spec.partitions.as_ref();
                AssetSummary {
                    key: spec.key.to_string(),
                    group: spec.group.clone(),
                    description: spec.description.clone(),
                    kinds: spec.kinds.iter().cloned().collect(),
                    owners: spec.owners.clone(),
                    tags: spec.tags.clone(),
                    external: graph.asset(n).is_external(),
                    state: status.map_or("unknown", |s| s.state().as_str()).to_owned(),
                    partitions: partitioned.and(status).map(PartitionCounts::from),
                    partition_count: partitioned.map(|p| p.len()),
                    deps: graph.parents(n).map(|p| graph.key(p).to_string()).collect(),
                    checks: graph.checks_of(n).count(),
                }
            })
            .collect()
    }
}

/// Materializations an asset's page lists at most (the newest; its history has the rest).
pub const NEWEST_SHOWN: usize = 20;

/// One asset: its definition, state and why, newest materializations, checks, partitions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssetDetail {
    pub definition: AssetDefinition,
    pub status: AssetStatusRow,
    /// Its partitions as ranges of keys by state, if partitioned.
    pub partitions: Option<PartitionsView>,
}

impl AssetDetail {
    pub fn gather(engine: &Engine, node: NodeIx, judged: &Judged) -> Result<AssetDetail> {
        let graph = engine.graph();
        let key: &AssetKey = graph.key(node);
        let status = AssetStatusRow::gather_newest(engine, node, judged, NEWEST_SHOWN)?;
        let partitions = match graph.spec(node).partitions.as_ref() {
            Some(def) => {
                let state = engine.instance().partition_status(key, def)?;
                Some(PartitionsView::of(key.as_str(), def, &state))
            }
            None => None,
        };
        Ok(AssetDetail {
            definition: AssetDefinition::of(graph, node),
            status,
            partitions,
        })
    }
}
