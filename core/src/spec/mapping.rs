//! Which partitions of an upstream a downstream partition reads.
//!
//! The planner (which steps feed which) and the staleness pass (which versions a partition
//! depends on) both ask this one question, so they can never disagree.

use super::{PartitionKey, PartitionsDefinition};

/// How a downstream (partition) reads an upstream asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionMapping {
    /// The upstream is unpartitioned: its one value.
    Single,
    /// Both share their partitions: the same partition.
    Identity,
    /// The downstream is unpartitioned and the upstream is not: every partition, combined.
    All,
}

impl PartitionMapping {
    pub fn between(up: Option<&PartitionsDefinition>, down: Option<&PartitionsDefinition>) -> Self {
        match (up, down) {
            (None, _) => PartitionMapping::Single,
            // The graph guarantees both definitions are equal.
            (Some(_), Some(_)) => PartitionMapping::Identity,
            (Some(_), None) => PartitionMapping::All,
        }
    }

    /// The upstream partitions read by downstream partition `down`, by key.
    pub fn upstream_keys(
        self,
        up: Option<&PartitionsDefinition>,
        down: Option<&PartitionKey>,
    ) -> Vec<Option<PartitionKey>> {
        match (self, up) {
            (PartitionMapping::Single, _) | (_, None) => vec![None],
            (PartitionMapping::Identity, Some(_)) => vec![down.cloned()],
            (PartitionMapping::All, Some(def)) => def.keys().map(Some).collect(),
        }
    }
}
