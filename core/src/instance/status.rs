//! Each asset's state in one word or flag, as selections (`status:stale`, `changed:code`,
//! `not_materialized_in_hours:24`) and `assets status` need it: a per-asset summary of the
//! per-partition [`staleness`](crate::staleness) pass, plus the last failures.
//!
//! An asset is
//! * **materialized** when every partition (or the asset itself) has a committed value;
//! * **missing** when some partition (or the asset) has none;
//! * **stale** when some partition is stale (see [`crate::staleness`] for the causes);
//! * **fresh** when materialized and not stale;
//! * **failed** when its last attempt failed after its last materialization.

use std::collections::HashMap;

use crate::graph::AssetGraph;
use crate::instance::{FailureRecord, Instance};
use crate::model::clock::Timestamp;
use crate::model::config::RunConfig;
use crate::model::error::Result;
use crate::staleness::{Staleness, VersionState, cause};

pub use crate::model::state::{AssetStatus, StatusSnapshot};

impl StatusSnapshot {
    /// Reads the instance and computes every asset's status, judged under `config`.
    pub fn load(
        graph: &AssetGraph,
        instance: &Instance,
        config: &RunConfig,
        now: Timestamp,
    ) -> Result<Self> {
        let versions = VersionState::load(graph, instance, config)?;
        let staleness = Staleness::compute(graph, &versions);
        let failures = instance.latest_failures()?;
        Ok(Self::from_state(
            graph, &versions, &staleness, &failures, now,
        ))
    }

    /// Summarizes a staleness pass per asset.
    pub fn from_state(
        graph: &AssetGraph,
        versions: &VersionState,
        staleness: &Staleness,
        failures: &[FailureRecord],
        now: Timestamp,
    ) -> Self {
        let mut failures_of: HashMap<&str, Vec<&FailureRecord>> = HashMap::new();
        for f in failures {
            failures_of.entry(f.asset.as_str()).or_default().push(f);
        }
        let assets = graph
            .nodes()
            .map(|n| {
                let summary = staleness.summary(n);
                let rows = versions.rows_of(n);
                let spec = graph.spec(n);
                let failed = failures_of.get(spec.key.as_str()).is_some_and(|fs| {
                    fs.iter().any(|f| {
                        let position = match (&spec.partitions, &f.partition) {
                            (None, None) => Some(0),
                            (Some(def), Some(p)) => def.index_of(p.as_str()),
                            _ => None,
                        };
                        position.is_some_and(|i| {
                            rows.get(i)
                                .and_then(Option::as_ref)
                                .is_none_or(|row| f.event_id > row.event_id)
                        })
                    })
                });
                AssetStatus {
                    materialized: summary.missing == 0 && !rows.is_empty(),
                    missing: summary.missing > 0,
                    stale: summary.stale > 0,
                    failed,
                    code_changed: summary.causes.contains(cause::CODE_CHANGED),
                    deps_changed: summary.causes.contains(cause::DEPS_CHANGED),
                    last_materialized: rows.iter().flatten().map(|r| r.timestamp).max(),
                    partitions: summary,
                }
            })
            .collect();
        StatusSnapshot::from_statuses(assets, now)
    }
}
