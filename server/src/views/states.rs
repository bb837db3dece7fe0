//! What each node of the lineage graph shows besides its place (`GET /api/v1/lineage/states`):
//! state, last materialization, checks, partition health and kinds, in columns aligned with
//! `keys`. The browser draws the layout once and repaints from this and the event stream.

use std::collections::HashMap;

use serde::Serialize;
use stemma::ids::NodeIx;
use stemma::{Engine, Result};
use utoipa::ToSchema;

use super::status::Judged;

/// The state of a set of assets, in columns.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GraphStates {
    /// The newest event these states reflect (resume the event stream after it).
    pub event_id: i64,
    pub keys: Vec<String>,
    /// fresh, stale, partial, missing or failed.
    pub state: Vec<String>,
    /// When each was last materialized (microseconds since the epoch), if ever.
    pub materialized_at: Vec<Option<i64>>,
    /// How many checks each defines, and how many failed in their latest evaluation.
    pub checks: Vec<u32>,
    pub checks_failed: Vec<u32>,
    /// `[fresh, stale, missing]` partitions of a partitioned asset.
    pub partitions: Vec<Option<[usize; 3]>>,
    pub kinds: Vec<Vec<String>>,
}

impl GraphStates {
    /// The states of `nodes`, as `judged` found them.
    pub fn gather(engine: &Engine, nodes: &[NodeIx], judged: &Judged) -> Result<GraphStates> {
        let event_id = engine.instance().last_event_id()?;
        let graph = engine.graph();
        let mut failed: HashMap<String, u32> = HashMap::new();
        for c in engine.instance().latest_checks()? {
            if !c.passed {
                *failed.entry(c.asset.to_string()).or_default() += 1;
            }
        }
        let mut out = GraphStates {
            event_id,
            keys: Vec::with_capacity(nodes.len()),
            state: Vec::with_capacity(nodes.len()),
            materialized_at: Vec::with_capacity(nodes.len()),
            checks: Vec::with_capacity(nodes.len()),
            checks_failed: Vec::with_capacity(nodes.len()),
            partitions: Vec::with_capacity(nodes.len()),
            kinds: Vec::with_capacity(nodes.len()),
        };
        for &n in nodes {
            let key = graph.key(n).to_string();
            let status = judged.snapshot.get(n).ok();
            out.state
                .push(status.map_or("missing", |s| s.state().as_str()).to_owned());
            out.materialized_at
                .push(status.and_then(|s| s.last_materialized));
            out.checks.push(graph.checks_of(n).count() as u32);
            out.checks_failed
                .push(failed.get(&key).copied().unwrap_or(0));
            out.partitions.push(
                graph
                    .spec(n)
                    .partitions
                    .as_ref()
                    .and(status)
                    .map(|s| [s.partitions.fresh, s.partitions.stale, s.partitions.missing]),
            );
            out.kinds
                .push(graph.spec(n).kinds.iter().cloned().collect());
            out.keys.push(key);
        }
        Ok(out)
    }
}
