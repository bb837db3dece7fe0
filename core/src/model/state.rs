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

    /// The asset's state in one word; see [`AssetState`].
    pub fn state(&self) -> AssetState {
        match (self.failed, self.stale, self.materialized, self.missing) {
            (true, ..) => AssetState::Failed,
            (_, true, ..) => AssetState::Stale,
            (_, _, false, true) if self.last_materialized.is_some() => AssetState::Partial,
            (_, _, false, _) => AssetState::Missing,
            _ => AssetState::Fresh,
        }
    }
}

/// An asset's state in one word, as `assets status` and the views show it. The first that
/// applies wins: failed (its last attempt failed), stale, partial (some partitions missing),
/// missing, fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetState {
    Failed,
    Stale,
    Partial,
    Missing,
    Fresh,
}

impl AssetState {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetState::Failed => "failed",
            AssetState::Stale => "stale",
            AssetState::Partial => "partial",
            AssetState::Missing => "missing",
            AssetState::Fresh => "fresh",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_word_follows_the_precedence() {
        let fresh = AssetStatus {
            materialized: true,
            last_materialized: Some(1),
            ..AssetStatus::default()
        };
        assert_eq!(fresh.state(), AssetState::Fresh);
        let partial = AssetStatus {
            materialized: false,
            missing: true,
            ..fresh.clone()
        };
        assert_eq!(partial.state(), AssetState::Partial);
        let never = AssetStatus {
            last_materialized: None,
            ..partial.clone()
        };
        assert_eq!(never.state(), AssetState::Missing);
        let stale = AssetStatus {
            stale: true,
            ..partial.clone()
        };
        assert_eq!(stale.state(), AssetState::Stale);
        let failed = AssetStatus {
            failed: true,
            ..stale
        };
        assert_eq!(failed.state(), AssetState::Failed);
        assert_eq!(AssetState::Partial.as_str(), "partial");
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
