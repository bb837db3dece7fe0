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
    /// Between time windows of different cadences (the default for them): a downstream
    /// window reads every upstream window overlapping it — a weekly asset its seven days, a
    /// daily asset the week it falls in — widened by `start_offset` and `end_offset` upstream
    /// windows (`start_offset: -1`: also the window before).
    TimeWindow { start_offset: i64, end_offset: i64 },
}

impl PartitionMapping {
    pub fn between(up: Option<&PartitionsDefinition>, down: Option<&PartitionsDefinition>) -> Self {
        match (up, down) {
            (None, _) => PartitionMapping::Single,
            (
                Some(PartitionsDefinition::TimeWindow(u)),
                Some(PartitionsDefinition::TimeWindow(d)),
            ) if u != d => PartitionMapping::TimeWindow {
                start_offset: 0,
                end_offset: 0,
            },
            // The graph guarantees both definitions are equal.
            (Some(_), Some(_)) => PartitionMapping::Identity,
            (Some(_), None) => PartitionMapping::All,
        }
    }

    /// The upstream partitions read by downstream partition `down` (of `down_def`), by key.
    pub fn upstream_keys(
        self,
        up: Option<&PartitionsDefinition>,
        down_def: Option<&PartitionsDefinition>,
        down: Option<&PartitionKey>,
    ) -> Vec<Option<PartitionKey>> {
        match (self, up) {
            (PartitionMapping::Single, _) | (_, None) => vec![None],
            (PartitionMapping::Identity, Some(_)) => vec![down.cloned()],
            (PartitionMapping::All, Some(def)) => def.keys().map(Some).collect(),
            (
                PartitionMapping::Offset(_)
                | PartitionMapping::Last
                | PartitionMapping::TimeWindow { .. },
                Some(def),
            ) => {
                let at = match (down_def, down) {
                    (Some(d), Some(k)) => d.index_of(k.as_str()),
                    _ => None,
                };
                self.positions(Some(def), down_def, at)
                    .into_iter()
                    .map(|q| def.key_at(q))
                    .collect()
            }
        }
    }

    /// The upstream positions read by the downstream partition at position `down` (`None`:
    /// unpartitioned) of `down_def`, for upstream partitions `up` (`None`: unpartitioned).
    pub fn positions(
        self,
        up: Option<&PartitionsDefinition>,
        down_def: Option<&PartitionsDefinition>,
        down: Option<usize>,
    ) -> Vec<usize> {
        let up_len = up.map_or(1, PartitionsDefinition::len);
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
            PartitionMapping::TimeWindow {
                start_offset,
                end_offset,
            } => {
                let (
                    Some(PartitionsDefinition::TimeWindow(u)),
                    Some(PartitionsDefinition::TimeWindow(d)),
                    Some(i),
                ) = (up, down_def, down)
                else {
                    return Vec::new();
                };
                let (start, end) = d.window(i);
                let Some((a, b)) = u.overlapping(start, end) else {
                    return Vec::new();
                };
                let a = (a + start_offset).max(0);
                let b = (b + end_offset).min(up_len as i64 - 1);
                if a > b {
                    return Vec::new();
                }
                (a as usize..=b as usize).collect()
            }
        }
    }

    /// Whether the parts read are combined into one value (rather than one part, or none).
    pub fn combines(self) -> bool {
        matches!(
            self,
            PartitionMapping::All | PartitionMapping::TimeWindow { .. }
        )
    }
}
