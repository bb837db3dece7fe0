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

use crate::clock::Timestamp;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::graph::AssetGraph;
use crate::instance::{FailureRecord, Instance};
use crate::staleness::{Staleness, Summary, VersionState, cause};

/// The state of one asset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetStatus {
    pub materialized: bool,
    pub missing: bool,
    pub stale: bool,
    pub failed: bool,
    /// The code version differs from the one its materialization recorded.
    pub code_changed: bool,
    /// The assets it depends on differ from the ones its materialization depended on.
    pub deps_changed: bool,
    pub last_materialized: Option<Timestamp>,
    /// Its partitions by state (one "partition" for an unpartitioned asset).
    pub partitions: Summary,
}

impl AssetStatus {
    pub fn fresh(&self) -> bool {
        self.materialized && !self.stale
    }
}

/// The status of every asset of a graph at one moment.
#[derive(Debug, Clone)]
pub struct StatusSnapshot {
    assets: Option<Vec<AssetStatus>>,
    now: Timestamp,
}

impl StatusSnapshot {
    /// No instance was consulted; selections that need one fail with a clear error.
    pub fn unavailable() -> Self {
        StatusSnapshot {
            assets: None,
            now: 0,
        }
    }

    /// A snapshot from statuses computed elsewhere, one per node (for tests and tools).
    pub fn from_statuses(assets: Vec<AssetStatus>, now: Timestamp) -> Self {
        StatusSnapshot {
            assets: Some(assets),
            now,
        }
    }

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
        let assets = (0..graph.len())
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
                    code_changed: summary.causes & cause::CODE_CHANGED != 0,
                    deps_changed: summary.causes & cause::DEPS_CHANGED != 0,
                    last_materialized: rows.iter().flatten().map(|r| r.timestamp).max(),
                    partitions: summary,
                }
            })
            .collect();
        StatusSnapshot {
            assets: Some(assets),
            now,
        }
    }

    /// The status of node `n`; an error when no instance was consulted.
    pub fn get(&self, n: usize) -> Result<&AssetStatus> {
        self.assets
            .as_ref()
            .and_then(|a| a.get(n))
            .ok_or_else(|| Error::Internal("asset status was not loaded for this selection".into()))
    }

    pub fn is_available(&self) -> bool {
        self.assets.is_some()
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }
}
