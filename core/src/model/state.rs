//! Each asset's state as plain data: the counts and cause flags the staleness pass produces per
//! asset, and the snapshot of every asset that selections (`status:stale`, `changed:code`) and
//! the status views read. The instance floor fills it ([`StatusSnapshot::load`]).

use crate::model::clock::Timestamp;
use crate::model::error::{Error, Result};
use crate::model::ids::NodeIx;

/// Why an asset partition is stale: a small set of causes (one byte, as the staleness pass
/// keeps one per asset partition).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Causes(u8);

impl Causes {
    /// No cause: fresh.
    pub const NONE: Causes = Causes(0);

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every cause of `other` is among these.
    pub fn contains(self, other: Causes) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any cause of `other` is among these.
    pub fn intersects(self, other: Causes) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for Causes {
    type Output = Causes;

    fn bitor(self, other: Causes) -> Causes {
        Causes(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for Causes {
    fn bitor_assign(&mut self, other: Causes) {
        self.0 |= other.0;
    }
}

impl std::ops::BitAnd for Causes {
    type Output = Causes;

    fn bitand(self, other: Causes) -> Causes {
        Causes(self.0 & other.0)
    }
}

/// The causes a stale asset partition can have.
pub mod cause {
    use super::Causes;

    pub const CODE_CHANGED: Causes = Causes(1);
    pub const INPUTS_CHANGED: Causes = Causes(1 << 1);
    pub const DEPS_CHANGED: Causes = Causes(1 << 2);
    pub const UPSTREAM_STALE: Causes = Causes(1 << 3);
    pub const UPSTREAM_MISSING: Causes = Causes(1 << 4);
    pub const CONFIG_CHANGED: Causes = Causes(1 << 5);

    /// The causes in words, most important first.
    pub fn describe(causes: Causes) -> Vec<&'static str> {
        [
            (CODE_CHANGED, "code changed"),
            (DEPS_CHANGED, "dependencies changed"),
            (CONFIG_CHANGED, "config changed"),
            (INPUTS_CHANGED, "an input changed"),
            (UPSTREAM_MISSING, "an upstream partition is missing"),
            (UPSTREAM_STALE, "an upstream is stale"),
        ]
        .into_iter()
        .filter(|(c, _)| causes.contains(*c))
        .map(|(_, words)| words)
        .collect()
    }
}

/// An asset's partitions by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub fresh: usize,
    pub stale: usize,
    pub missing: usize,
    pub causes: Causes,
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
    pub fn get(&self, n: NodeIx) -> Result<&AssetStatus> {
        self.assets
            .as_ref()
            .and_then(|a| a.get(n.index()))
            .ok_or_else(|| Error::Internal("asset status was not loaded for this selection".into()))
    }

    pub fn is_available(&self) -> bool {
        self.assets.is_some()
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }
}
