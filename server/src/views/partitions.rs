//! Which partitions of an asset are materialized, in progress, failed or missing, as ranges
//! of keys (`assets partitions KEY --json`).

use serde::Serialize;
use stemma::instance::{PartitionState, PartitionStatus};
use stemma::ranges::RangeSet;
use stemma::spec::PartitionsDefinition;

/// The states in the order they are shown.
pub const STATES: [PartitionState; 4] = [
    PartitionState::Materialized,
    PartitionState::InProgress,
    PartitionState::Failed,
    PartitionState::Missing,
];

/// An asset's partitions by state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartitionsView {
    pub asset: String,
    /// The partitions definition, in words.
    pub definition: String,
    pub total: u64,
    pub materialized: StateRanges,
    pub in_progress: StateRanges,
    pub failed: StateRanges,
    pub missing: StateRanges,
}

/// The partitions in one state: how many, and as inclusive ranges of keys.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StateRanges {
    pub count: u64,
    /// `[first, last]` keys of each range.
    #[schema(value_type = Vec<Vec<String>>)]
    pub ranges: Vec<(String, String)>,
    /// The same ranges as `[first, last]` positions (0 is the first partition), for drawing.
    pub positions: Vec<[u64; 2]>,
}

impl PartitionsView {
    pub fn of(asset: &str, def: &PartitionsDefinition, status: &PartitionStatus) -> Self {
        let of = |state: PartitionState| StateRanges::of(def, &status.of(state));
        PartitionsView {
            asset: asset.to_owned(),
            definition: def.describe(),
            total: status.total,
            materialized: of(PartitionState::Materialized),
            in_progress: of(PartitionState::InProgress),
            failed: of(PartitionState::Failed),
            missing: of(PartitionState::Missing),
        }
    }
}

impl StateRanges {
    fn of(def: &PartitionsDefinition, set: &RangeSet) -> Self {
        let key_of = |i: u64| {
            def.key_at(i as usize)
                .map(|k| k.to_string())
                .unwrap_or_default()
        };
        StateRanges {
            count: set.len(),
            ranges: set
                .ranges()
                .map(|r| (key_of(*r.start()), key_of(*r.end())))
                .collect(),
            positions: set.ranges().map(|r| [*r.start(), *r.end()]).collect(),
        }
    }
}
