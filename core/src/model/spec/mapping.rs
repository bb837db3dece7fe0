//! Which partitions of an upstream a downstream partition reads.
//!
//! The planner (which steps feed which) and the staleness pass (which versions a partition
//! depends on) both ask this one question, so they can never disagree. The graph asks
//! [`PartitionMapping::problem`] once, when the definitions load, so a mapping that cannot
//! work is an error naming both assets before anything runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::multi::MultiPartitions;
use super::{PartitionKey, PartitionsDefinition};

/// How a downstream (partition) reads an upstream asset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionMapping {
    /// The upstream is unpartitioned: its one value.
    Single,
    /// Both share their partitions: the same partition.
    Identity,
    /// The downstream is unpartitioned and the upstream is not: every partition, combined.
    All,
    /// Declared: partition `i` of the downstream reads partition `i + n` of an upstream with
    /// the same partitions (`-1`: today reads yesterday). The first partitions read nothing
    /// when `n` is negative. An asset may read *itself* through a negative offset (a
    /// cumulative asset: today's total is yesterday's plus today's events).
    Offset(i64),
    /// Declared: every downstream partition (or the unpartitioned downstream) reads the
    /// upstream's last partition.
    Last,
    /// Between time windows of different cadences (the default for them): a downstream
    /// window reads every upstream window overlapping it — a weekly asset its seven days, a
    /// daily asset the week it falls in — widened by `start_offset` and `end_offset` upstream
    /// windows (`start_offset: -1`: also the window before).
    TimeWindow { start_offset: i64, end_offset: i64 },
    /// Declared: named upstream keys feed named downstream keys
    /// ([`PartitionMapping::static_map`]).
    Static(Arc<StaticMapping>),
    /// Declared (or the default between a multi-dimensional asset and an asset partitioned
    /// like one of its dimensions): dimension by dimension
    /// ([`PartitionMapping::dimensions`], [`PartitionMapping::dimension`]).
    Dimensions(Arc<DimensionMappings>),
}

/// Upstream keys to the downstream keys they feed, as declared.
#[derive(Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct StaticMapping {
    /// `(upstream, downstream)` pairs in declaration order.
    pairs: Vec<(String, String)>,
    /// Downstream key → the upstream keys it reads, in declaration order.
    #[serde(skip)]
    reads: BTreeMap<String, Vec<String>>,
}

/// How each upstream dimension follows the downstream.
#[derive(Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DimensionMappings {
    rules: Vec<DimensionRule>,
}

/// Upstream dimension `up` follows downstream dimension `down` through `mapping`. A name on
/// a side that is not multi-dimensional means that whole side; no mapping means the one both
/// dimensions imply (identity, or time windows between cadences).
#[derive(Debug, PartialEq, Eq, Hash, serde::Serialize)]
struct DimensionRule {
    up: String,
    down: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    mapping: Option<PartitionMapping>,
}

/// One side's dimensions: a multi-dimensional definition's named ones, or the whole of any
/// other as one unnamed dimension.
fn dims_of(def: &PartitionsDefinition) -> Vec<(Option<&str>, &PartitionsDefinition)> {
    match def {
        PartitionsDefinition::Multi(m) => m.dimensions().map(|(n, d)| (Some(n), d)).collect(),
        other => vec![(None, other)],
    }
}

impl PartitionMapping {
    /// Named upstream keys feed named downstream keys: `[("eu-west", "eu"), ("eu-central",
    /// "eu"), ("us-east", "us")]`. A downstream key reading several upstream keys gets them
    /// combined; one nobody feeds reads nothing.
    pub fn static_map<I, U, D>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (U, D)>,
        U: Into<String>,
        D: Into<String>,
    {
        let pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(u, d)| (u.into(), d.into()))
            .collect();
        let mut reads: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (u, d) in &pairs {
            reads.entry(d.clone()).or_default().push(u.clone());
        }
        PartitionMapping::Static(Arc::new(StaticMapping { pairs, reads }))
    }

    /// Per-dimension mappings for multi-dimensional partitions: `(upstream dimension,
    /// downstream dimension, mapping)`, e.g. `[("day", "day", Offset(-1)), ("region",
    /// "region", Identity)]`. An upstream dimension not named is read whole (every key).
    pub fn dimensions<I, U, D>(rules: I) -> Self
    where
        I: IntoIterator<Item = (U, D, PartitionMapping)>,
        U: Into<String>,
        D: Into<String>,
    {
        let rules = rules
            .into_iter()
            .map(|(up, down, mapping)| DimensionRule {
                up: up.into(),
                down: down.into(),
                mapping: Some(mapping),
            })
            .collect();
        PartitionMapping::Dimensions(Arc::new(DimensionMappings { rules }))
    }

    /// Between a multi-dimensional asset and one partitioned like its dimension `name`: a
    /// `day|region` asset reading a daily one reads its day; a daily asset reading a
    /// `day|region` one reads every region of its day. The default when exactly one dimension
    /// matches.
    pub fn dimension(name: impl Into<String>) -> Self {
        let name = name.into();
        PartitionMapping::Dimensions(Arc::new(DimensionMappings {
            rules: vec![DimensionRule {
                up: name.clone(),
                down: name,
                mapping: None,
            }],
        }))
    }

    /// The mapping both definitions imply when none is declared.
    pub fn between(up: Option<&PartitionsDefinition>, down: Option<&PartitionsDefinition>) -> Self {
        match (up, down) {
            (None, _) => PartitionMapping::Single,
            (Some(_), None) => PartitionMapping::All,
            (Some(u), Some(d)) if u == d => PartitionMapping::Identity,
            (
                Some(PartitionsDefinition::TimeWindow(_)),
                Some(PartitionsDefinition::TimeWindow(_)),
            ) => PartitionMapping::TimeWindow {
                start_offset: 0,
                end_offset: 0,
            },
            (Some(PartitionsDefinition::Multi(m)), Some(other))
            | (Some(other), Some(PartitionsDefinition::Multi(m))) => {
                match shared_dimension(m, other) {
                    Some(name) => PartitionMapping::dimension(name),
                    None => PartitionMapping::Identity,
                }
            }
            // Identity between different definitions: `problem` names it.
            (Some(_), Some(_)) => PartitionMapping::Identity,
        }
    }

    /// Why this mapping cannot read `up` (named `name`) from `down` (`None` for
    /// unpartitioned), if it cannot: a sentence to follow "asset X reads `name` …".
    pub fn problem(
        &self,
        name: &str,
        up: Option<&PartitionsDefinition>,
        down: Option<&PartitionsDefinition>,
    ) -> Option<String> {
        let describe = |d: Option<&PartitionsDefinition>| {
            d.map_or_else(
                || "unpartitioned".to_owned(),
                PartitionsDefinition::describe,
            )
        };
        match (self, up, down) {
            (PartitionMapping::Single, None, _) => None,
            (PartitionMapping::Single, Some(_), _) => {
                Some(format!("as a single value, but {name} is partitioned"))
            }
            (_, None, _) => Some(format!(
                "through the {} mapping, but {name} is not partitioned",
                self.name()
            )),
            (PartitionMapping::All | PartitionMapping::Last, Some(_), _) => None,
            (PartitionMapping::Identity | PartitionMapping::Offset(_), Some(u), Some(d))
                if u == d =>
            {
                None
            }
            (PartitionMapping::Identity, Some(u), d) => Some(format!(
                "but is partitioned {} while {name} is partitioned {}; assets that depend on each \
                 other must share their partitions, or declare how to read them \
                 (PartitionMapping::Last, ::All, ::Offset, ::TimeWindow, ::static_map, \
                 ::dimensions)",
                describe(d),
                u.describe()
            )),
            (PartitionMapping::Offset(n), _, _) => Some(format!(
                "through an offset of {n} partitions, which needs both assets to share their \
                 partitions"
            )),
            (
                PartitionMapping::TimeWindow { .. },
                Some(PartitionsDefinition::TimeWindow(_)),
                Some(PartitionsDefinition::TimeWindow(_)),
            ) => None,
            (PartitionMapping::TimeWindow { .. }, _, _) => Some(
                "through a time-window mapping, which needs both assets partitioned by time \
                 windows"
                    .into(),
            ),
            (PartitionMapping::Static(_), _, None) => {
                Some("through a static mapping, but is not partitioned itself".into())
            }
            (PartitionMapping::Static(s), Some(u), Some(d)) => s.problem(u, d),
            (PartitionMapping::Dimensions(m), Some(u), d) => m.problem(u, d),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            PartitionMapping::Single => "single",
            PartitionMapping::Identity => "identity",
            PartitionMapping::All => "all-partitions",
            PartitionMapping::Offset(_) => "offset",
            PartitionMapping::Last => "last-partition",
            PartitionMapping::TimeWindow { .. } => "time-window",
            PartitionMapping::Static(_) => "static",
            PartitionMapping::Dimensions(_) => "per-dimension",
        }
    }

    /// The upstream partitions read by downstream partition `down` (of `down_def`), by key.
    pub fn upstream_keys(
        &self,
        up: Option<&PartitionsDefinition>,
        down_def: Option<&PartitionsDefinition>,
        down: Option<&PartitionKey>,
    ) -> Vec<Option<PartitionKey>> {
        match (self, up) {
            (PartitionMapping::Single, _) | (_, None) => vec![None],
            (PartitionMapping::Identity, Some(_)) => vec![down.cloned()],
            (PartitionMapping::All, Some(def)) => def.keys().map(Some).collect(),
            (_, Some(def)) => {
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
        &self,
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
                .and_then(|i| i.checked_add_signed(*n as isize))
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
            PartitionMapping::Static(s) => {
                let (Some(u), Some(d), Some(i)) = (up, down_def, down) else {
                    return Vec::new();
                };
                let Some(key) = d.key_at(i) else {
                    return Vec::new();
                };
                s.reads
                    .get(key.as_str())
                    .into_iter()
                    .flatten()
                    .filter_map(|k| u.index_of(k))
                    .collect()
            }
            PartitionMapping::Dimensions(m) => match (up, down_def, down) {
                (Some(u), Some(d), Some(i)) => m.positions(u, d, i),
                _ => Vec::new(),
            },
        }
    }

    /// Whether the parts read are combined into one value (rather than one part, or none).
    pub fn combines(
        &self,
        up: Option<&PartitionsDefinition>,
        down: Option<&PartitionsDefinition>,
    ) -> bool {
        match self {
            PartitionMapping::All | PartitionMapping::TimeWindow { .. } => true,
            PartitionMapping::Static(s) => s.reads.values().any(|ups| ups.len() > 1),
            PartitionMapping::Dimensions(m) => match (up, down) {
                (Some(u), Some(d)) => m.combines(u, d),
                _ => false,
            },
            PartitionMapping::Single
            | PartitionMapping::Identity
            | PartitionMapping::Offset(_)
            | PartitionMapping::Last => false,
        }
    }
}

/// The one dimension of `multi` partitioned exactly like `other`, if exactly one is.
fn shared_dimension(multi: &MultiPartitions, other: &PartitionsDefinition) -> Option<String> {
    let mut same = multi.dimensions().filter(|(_, d)| *d == other);
    match (same.next(), same.next()) {
        (Some((name, _)), None) => Some(name.to_owned()),
        _ => None,
    }
}

impl StaticMapping {
    fn problem(&self, up: &PartitionsDefinition, down: &PartitionsDefinition) -> Option<String> {
        // Dynamic keys come and go; they are checked when a run reads them.
        let unknown = |def: &PartitionsDefinition, key: &str| {
            !matches!(def, PartitionsDefinition::Dynamic(_)) && def.validate_key(key).is_err()
        };
        let mut bad: Vec<String> = Vec::new();
        for (u, d) in &self.pairs {
            if unknown(up, u) {
                bad.push(format!("upstream key {u:?} is not one of its partitions"));
            }
            if unknown(down, d) {
                bad.push(format!(
                    "downstream key {d:?} is not one of its own partitions"
                ));
            }
        }
        (!bad.is_empty()).then(|| format!("through a static mapping where {}", bad.join(", ")))
    }
}

impl DimensionMappings {
    /// The rule an upstream dimension follows: by name, or the first rule when the upstream
    /// is not multi-dimensional (it is the dimension).
    fn rule_for(&self, up_dim: Option<&str>) -> Option<&DimensionRule> {
        match up_dim {
            Some(name) => self.rules.iter().find(|r| r.up == name),
            None => self.rules.first(),
        }
    }

    /// The downstream dimension a rule follows: its position among `down`'s dimensions.
    fn down_index(
        rule: &DimensionRule,
        down: &[(Option<&str>, &PartitionsDefinition)],
    ) -> Option<usize> {
        match down {
            [(None, _)] => Some(0),
            _ => down
                .iter()
                .position(|(n, _)| *n == Some(rule.down.as_str())),
        }
    }

    fn mapping_of(
        rule: &DimensionRule,
        up: &PartitionsDefinition,
        down: &PartitionsDefinition,
    ) -> PartitionMapping {
        rule.mapping
            .clone()
            .unwrap_or_else(|| PartitionMapping::between(Some(up), Some(down)))
    }

    fn problem(
        &self,
        up: &PartitionsDefinition,
        down: Option<&PartitionsDefinition>,
    ) -> Option<String> {
        let Some(down) = down else {
            return Some("through a per-dimension mapping, but is not partitioned itself".into());
        };
        let (ups, downs) = (dims_of(up), dims_of(down));
        if ups.len() == 1 && downs.len() == 1 {
            return Some(
                "through a per-dimension mapping, but neither asset is multi-dimensional".into(),
            );
        }
        let mut bad = Vec::new();
        for rule in &self.rules {
            let u = match &ups[..] {
                [(None, d)] => Some(*d),
                _ => ups
                    .iter()
                    .find(|(n, _)| *n == Some(rule.up.as_str()))
                    .map(|(_, d)| *d),
            };
            let Some(u) = u else {
                bad.push(format!("it has no dimension {:?}", rule.up));
                continue;
            };
            let Some(k) = Self::down_index(rule, &downs) else {
                bad.push(format!("it has no downstream dimension {:?}", rule.down));
                continue;
            };
            let d = downs[k].1;
            let mapping = Self::mapping_of(rule, u, d);
            if matches!(mapping, PartitionMapping::Dimensions(_)) {
                bad.push(format!(
                    "dimension {} cannot be mapped per dimension again",
                    rule.up
                ));
            } else if let Some(p) = mapping.problem(&rule.up, Some(u), Some(d)) {
                bad.push(format!("dimension {} reads {} {p}", rule.up, rule.down));
            }
        }
        if self.rules.is_empty() {
            bad.push("no dimension is mapped".into());
        }
        (!bad.is_empty())
            .then(|| format!("through a per-dimension mapping where {}", bad.join("; ")))
    }

    fn positions(
        &self,
        up: &PartitionsDefinition,
        down: &PartitionsDefinition,
        i: usize,
    ) -> Vec<usize> {
        let (ups, downs) = (dims_of(up), dims_of(down));
        // The downstream position, dimension by dimension (the last varies fastest).
        let mut down_parts = vec![0usize; downs.len()];
        let mut rest = i;
        for (slot, (_, d)) in down_parts.iter_mut().zip(&downs).rev() {
            let n = d.len().max(1);
            *slot = rest % n;
            rest /= n;
        }
        // Each upstream dimension's positions, then their product in mixed radix.
        let mut out = vec![0usize];
        for (name, u) in &ups {
            let along: Vec<usize> = match self.rule_for(*name) {
                None => (0..u.len()).collect(),
                Some(rule) => match Self::down_index(rule, &downs) {
                    Some(k) => Self::mapping_of(rule, u, downs[k].1).positions(
                        Some(u),
                        Some(downs[k].1),
                        Some(down_parts[k]),
                    ),
                    None => Vec::new(),
                },
            };
            let n = u.len();
            out = out
                .iter()
                .flat_map(|&base| along.iter().map(move |&q| base * n + q))
                .collect();
        }
        out
    }

    fn combines(&self, up: &PartitionsDefinition, down: &PartitionsDefinition) -> bool {
        let (ups, downs) = (dims_of(up), dims_of(down));
        ups.iter().any(|(name, u)| match self.rule_for(*name) {
            None => true,
            Some(rule) => Self::down_index(rule, &downs).is_some_and(|k| {
                Self::mapping_of(rule, u, downs[k].1).combines(Some(u), Some(downs[k].1))
            }),
        })
    }
}
