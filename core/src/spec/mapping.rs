//! Which partitions of an upstream a downstream partition reads.
//!
//! The planner (which steps feed which) and the staleness pass (which versions a partition
//! depends on) both ask this one question, so they can never disagree.

use super::{PartitionKey, PartitionsDefinition};

/// How a downstream (partition) reads an upstream asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionMapping {
    /// The upstream is unpartitioned: its one value.
    Single,
    /// Both share their partitions: the same partition.
    Identity,
    /// The downstream is unpartitioned and the upstream is not: every partition, combined.
    All,
    /// Declared: partition `i` of the downstream reads partition `i + n` of an upstream with
    /// the same partitions (`-1`: today reads yesterday; `-6..=0` is written as seven deps or
    /// a weekly asset reading all). The first partitions read nothing when `n` is negative.
    Offset(i64),
    /// Declared: every downstream partition (or the unpartitioned downstream) reads the
    /// upstream's last partition.
    Last,
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
            (PartitionMapping::Offset(_) | PartitionMapping::Last, Some(def)) => {
                let at = down.and_then(|k| def.index_of(k.as_str()));
                self.positions(def.len(), at)
                    .into_iter()
                    .map(|q| def.key_at(q))
                    .collect()
            }
        }
    }

    /// The upstream positions read by the downstream partition at position `down` (`None`:
    /// unpartitioned), for an upstream with `up_len` partitions.
    pub fn positions(self, up_len: usize, down: Option<usize>) -> Vec<usize> {
        match self {
            PartitionMapping::Single => vec![0],
            PartitionMapping::Identity => down.into_iter().collect(),
            PartitionMapping::All => (0..up_len).collect(),
            PartitionMapping::Offset(n) => down
                .and_then(|i| i.checked_add_signed(n as isize))
                .filter(|&q| q < up_len)
                .into_iter()
                .collect(),
            PartitionMapping::Last => up_len.checked_sub(1).into_iter().collect(),
        }
    }

    /// Whether the parts read are combined into one value (rather than one part, or none).
    pub fn combines(self) -> bool {
        self == PartitionMapping::All
    }
}
