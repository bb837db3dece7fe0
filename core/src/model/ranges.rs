//! [`RangeSet`]: a set of partition positions held as sorted, disjoint ranges.
//!
//! Partition status is mostly long runs of one state (a year materialized, a week missing),
//! so a million hourly partitions usually take a handful of ranges. Every operation works on
//! the ranges, never on the positions inside them.

use std::ops::RangeInclusive;

/// Positions as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    pub fn new() -> Self {
        RangeSet::default()
    }

    /// All of `0..n`.
    pub fn full(n: u64) -> Self {
        RangeSet {
            ranges: if n == 0 { Vec::new() } else { vec![(0, n - 1)] },
        }
    }

    /// The ranges, in order.
    pub fn ranges(&self) -> impl Iterator<Item = RangeInclusive<u64>> + '_ {
        self.ranges.iter().map(|&(a, b)| a..=b)
    }

    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// How many positions the set holds.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|&(a, b)| b - a + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The index of the first range ending at or after `i`.
    fn find(&self, i: u64) -> usize {
        self.ranges.partition_point(|&(_, b)| b < i)
    }

    pub fn contains(&self, i: u64) -> bool {
        self.ranges.get(self.find(i)).is_some_and(|&(a, _)| a <= i)
    }

    /// Adds `i`, merging with the neighbouring ranges.
    pub fn insert(&mut self, i: u64) {
        self.insert_range(i, i);
    }

    /// Adds `a..=b`.
    pub fn insert_range(&mut self, a: u64, b: u64) {
        if a > b {
            return;
        }
        // Ranges touching or overlapping [a, b] (adjacent ones merge too).
        let first = self
            .ranges
            .partition_point(|&(_, e)| e.saturating_add(1) < a);
        let last = self
            .ranges
            .partition_point(|&(s, _)| s <= b.saturating_add(1));
        if first == last {
            self.ranges.insert(first, (a, b));
            return;
        }
        let start = a.min(self.ranges[first].0);
        let end = b.max(self.ranges[last - 1].1);
        self.ranges.splice(first..last, [(start, end)]);
    }

    /// Removes `i`, splitting its range if needed.
    pub fn remove(&mut self, i: u64) {
        self.remove_range(i, i);
    }

    /// Removes `a..=b`.
    pub fn remove_range(&mut self, a: u64, b: u64) {
        if a > b {
            return;
        }
        let first = self.ranges.partition_point(|&(_, e)| e < a);
        let last = self.ranges.partition_point(|&(s, _)| s <= b);
        if first >= last {
            return;
        }
        let mut kept = Vec::with_capacity(2);
        let (s, _) = self.ranges[first];
        if s < a {
            kept.push((s, a - 1));
        }
        let (_, e) = self.ranges[last - 1];
        if e > b {
            kept.push((b + 1, e));
        }
        self.ranges.splice(first..last, kept);
    }

    /// Everything in `self` and not in `other`.
    pub fn difference(&self, other: &RangeSet) -> RangeSet {
        let mut out = self.clone();
        for &(a, b) in &other.ranges {
            out.remove_range(a, b);
        }
        out
    }

    /// Everything in either.
    pub fn union(&self, other: &RangeSet) -> RangeSet {
        let mut out = self.clone();
        for &(a, b) in &other.ranges {
            out.insert_range(a, b);
        }
        out
    }

    /// Everything in `0..n` that is not in the set.
    pub fn complement(&self, n: u64) -> RangeSet {
        RangeSet::full(n).difference(self)
    }

    /// Only what lies in `0..n`.
    pub fn truncate(&mut self, n: u64) {
        self.remove_range(n, u64::MAX);
    }

    /// The positions, in order (enumerates: for small sets and tests).
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(a, b)| a..=b)
    }

    /// The positions, newest (highest) first.
    pub fn iter_rev(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().rev().flat_map(|&(a, b)| (a..=b).rev())
    }

    /// How many positions of `a..=b` the set holds.
    pub fn count_in(&self, a: u64, b: u64) -> u64 {
        let first = self.ranges.partition_point(|&(_, e)| e < a);
        self.ranges[first..]
            .iter()
            .take_while(|&&(s, _)| s <= b)
            .map(|&(s, e)| e.min(b) - s.max(a) + 1)
            .sum()
    }

    /// Little-endian `(first, last)` pairs: what the instance stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ranges.len() * 16);
        for &(a, b) in &self.ranges {
            out.extend_from_slice(&a.to_le_bytes());
            out.extend_from_slice(&b.to_le_bytes());
        }
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes); `None` when the bytes are not a valid set.
    pub fn from_bytes(bytes: &[u8]) -> Option<RangeSet> {
        if !bytes.len().is_multiple_of(16) {
            return None;
        }
        let ranges: Vec<(u64, u64)> = bytes
            .chunks_exact(16)
            .map(|c| {
                let a = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
                let b = u64::from_le_bytes(c[8..].try_into().expect("8 bytes"));
                (a, b)
            })
            .collect();
        let valid = ranges.iter().all(|&(a, b)| a <= b)
            && ranges.windows(2).all(|w| w[0].1.saturating_add(1) < w[1].0);
        valid.then_some(RangeSet { ranges })
    }
}

impl FromIterator<u64> for RangeSet {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut set = RangeSet::new();
        for i in iter {
            set.insert(i);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(s: &RangeSet) -> Vec<(u64, u64)> {
        s.ranges().map(|r| (*r.start(), *r.end())).collect()
    }

    #[test]
    fn inserts_merge_neighbours_and_removes_split() {
        let mut s = RangeSet::new();
        for i in [5, 7, 6, 1, 2, 10] {
            s.insert(i);
        }
        assert_eq!(ranges(&s), [(1, 2), (5, 7), (10, 10)]);
        s.insert_range(3, 4);
        assert_eq!(ranges(&s), [(1, 7), (10, 10)]);
        s.remove(4);
        assert_eq!(ranges(&s), [(1, 3), (5, 7), (10, 10)]);
        s.remove_range(0, 5);
        assert_eq!(ranges(&s), [(6, 7), (10, 10)]);
        assert_eq!(s.len(), 3);
        assert!(s.contains(10) && !s.contains(8) && !s.contains(0));
        assert_eq!(ranges(&s.complement(12)), [(0, 5), (8, 9), (11, 11)]);
        assert_eq!(s.count_in(7, 10), 2);
        assert_eq!(s.iter_rev().collect::<Vec<_>>(), [10, 7, 6]);
    }

    #[test]
    fn agrees_with_a_plain_set() {
        // A deterministic walk of inserts and removes against a BTreeSet.
        let mut s = RangeSet::new();
        let mut plain = std::collections::BTreeSet::new();
        let mut x: u64 = 12345;
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (x >> 33) % 200;
            if (x >> 20).is_multiple_of(3) {
                s.remove(i);
                plain.remove(&i);
            } else {
                s.insert(i);
                plain.insert(i);
            }
        }
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            plain.iter().copied().collect::<Vec<_>>()
        );
        assert_eq!(RangeSet::from_bytes(&s.to_bytes()), Some(s.clone()));
        assert_eq!(RangeSet::from_bytes(&[1, 2, 3]), None);
    }
}
