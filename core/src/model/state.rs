//! Each asset's state as plain data: the counts and cause flags the staleness pass produces per
//! asset, and the snapshot of every asset that selections (`status:stale`, `changed:code`) and
//! the status views read. The instance floor fills it ([`StatusSnapshot::load`]).

use crate::model::clock::Timestamp;
use crate::model::error::{Error, Result};

/// Cause flags of a stale asset partition.
pub mod cause {
    pub const CODE_CHANGED: u8 = 1;
    pub const INPUTS_CHANGED: u8 = 1 << 1;
    pub const DEPS_CHANGED: u8 = 1 << 2;
    pub const UPSTREAM_STALE: u8 = 1 << 3;
    pub const UPSTREAM_MISSING: u8 = 1 << 4;
    pub const CONFIG_CHANGED: u8 = 1 << 5;

    /// The flags in words, most important first.
    pub fn describe(flags: u8) -> Vec<&'static str> {
        let mut out = Vec::new();
        if flags & CODE_CHANGED != 0 {
            out.push("code changed");
        }
        if flags & DEPS_CHANGED != 0 {
            out.push("dependencies changed");
        }
        if flags & CONFIG_CHANGED != 0 {
            out.push("config changed");
        }
        if flags & INPUTS_CHANGED != 0 {
            out.push("an input changed");
        }
        if flags & UPSTREAM_MISSING != 0 {
            out.push("an upstream partition is missing");
        }
        if flags & UPSTREAM_STALE != 0 {
            out.push("an upstream is stale");
        }
        out
    }
}

/// An asset's partitions by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub fresh: usize,
    pub stale: usize,
    pub missing: usize,
    pub causes: u8,
}

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
