//! Staleness per asset and per partition.
//!
//! An asset partition is **missing** without a committed materialization, **stale** when its
//! materialization would come out differently today, and **fresh** otherwise. The causes:
//!
//! * its code version changed;
//! * a config value it read differs from the config it is judged under (the `--config` given,
//!   else the declared defaults) — the same rule the planner applies before running a step;
//! * an input it read now has another data version (or an input appeared);
//! * a dependency was added or removed;
//! * an upstream (partition) it reads is itself stale — which traces to a root cause upstream;
//! * an upstream partition it reads is missing.
//!
//! Every materialization stored a digest of the inputs it read ([`crate::hash::inputs_digest`]).
//! The pass recomputes, for each asset partition, the digest of the inputs it *would* read now —
//! through the same partition mapping as the planner — and compares. That is one small hash and
//! a few array lookups per asset partition, flags in one byte, and no JSON: a million asset
//! partitions take a fraction of a second. Detailed causes for one asset partition (which input,
//! which versions) come from its recorded provenance on demand ([`explain`]).

use std::collections::{HashMap, HashSet};
use std::fmt;

use rayon::prelude::*;
use serde::Serialize;

use crate::graph::AssetGraph;
use crate::hash::{DataVersion, InputsHasher, VersionBytes, deps_digest};
use crate::model::clock::Timestamp;
use crate::model::config::{ConfigReads, RunConfig};
use crate::model::error::Result;
use crate::model::event::{Provenance, step_label};
use crate::model::ids::{IxVec, NodeIx};
use crate::model::key::AssetKey;
use crate::model::spec::{PartitionKey, PartitionMapping};

pub use crate::model::state::{Causes, cause};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    Fresh,
    Stale,
    Missing,
}

/// The state of one asset partition: freshness and, when stale, its cause flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionState {
    pub freshness: Freshness,
    pub causes: Causes,
}

const MISSING: PartitionState = PartitionState {
    freshness: Freshness::Missing,
    causes: Causes::NONE,
};

/// The latest committed version of one asset partition, as the pass needs it.
#[derive(Clone, Debug)]
pub struct VersionRow {
    pub event_id: i64,
    pub timestamp: Timestamp,
    /// The data version, decoded for hashing.
    version: StoredVersion,
    /// Whether the recorded code version equals the current one.
    pub code_matches: bool,
    /// Whether every config value it read equals that value in the config it is judged under.
    pub config_matches: bool,
    pub inputs_digest: Option<[u8; 32]>,
    pub deps_digest: Option<[u8; 32]>,
}

/// A data version: the bytes of a hex digest, or (rarely) text kept in the state's arena.
#[derive(Clone, Copy, Debug)]
enum StoredVersion {
    Hash([u8; 32]),
    Text(u32, u16),
}

/// The latest committed version of every asset partition of a graph, indexed by node and
/// partition position. Assets and partitions the graph no longer has are ignored.
#[derive(Debug)]
pub struct VersionState {
    rows: IxVec<NodeIx, Vec<Option<VersionRow>>>,
    /// Data versions that are not hex digests, concatenated.
    arena: String,
}

/// What the staleness pass reads: every latest version, the provenance a materialization
/// recorded, and what a code version was computed from. The instance implements it; nothing
/// here knows how they are stored.
pub trait VersionSource: Sync {
    /// Calls `f` with every latest version (materialization or observation), grouped by asset.
    fn for_each_version(&self, f: &mut dyn FnMut(RowRef<'_>)) -> Result<()>;

    /// [`for_each_version`](Self::for_each_version) for the assets whose key is in `[from, to)`
    /// (either bound open when `None`); several threads may each sweep a range at once.
    fn for_each_version_in(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        f: &mut dyn FnMut(RowRef<'_>),
    ) -> Result<()>;

    /// The provenance event `event_id` recorded, if it is a materialization.
    fn provenance(&self, event_id: i64) -> Result<Option<Provenance>>;

    /// What `code_version` of `asset` was computed from, item by item, if a run recorded it.
    fn code_version_items(
        &self,
        asset: &AssetKey,
        code_version: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>>;
}

/// One row as read from the instance (borrowed; nothing is allocated per row).
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    pub asset: &'a str,
    /// `""` for an unpartitioned asset.
    pub partition: &'a str,
    pub event_id: i64,
    pub timestamp: Timestamp,
    pub data_version: &'a str,
    pub code_version: Option<&'a str>,
    pub inputs_digest: Option<&'a [u8]>,
    pub deps_digest: Option<&'a [u8]>,
    /// The config values it read, as JSON (`None` when it read none).
    pub config: Option<&'a str>,
}

impl VersionState {
    /// A state with no versions.
    pub fn new(graph: &AssetGraph) -> Self {
        VersionState {
            rows: graph
                .nodes()
                .map(|n| vec![None; partition_count(graph, n)])
                .collect(),
            arena: String::new(),
        }
    }

    /// Reads every latest version from the instance, judging the config values each one read
    /// against `config`. Above [`PARALLEL_LOAD`] asset partitions, ranges of assets are read on
    /// several connections at once.
    pub fn load(
        graph: &AssetGraph,
        instance: &dyn VersionSource,
        config: &RunConfig,
    ) -> Result<Self> {
        let total: usize = graph.nodes().map(|n| partition_count(graph, n)).sum();
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(8);
        if total < PARALLEL_LOAD {
            return Self::load_in_ranges(graph, instance, config, 1);
        }
        Self::load_in_ranges(graph, instance, config, threads)
    }

    /// Reads every latest version in `threads` ranges of assets at once, each on its own
    /// connection and filling the rows of its own assets.
    pub fn load_in_ranges(
        graph: &AssetGraph,
        instance: &dyn VersionSource,
        config: &RunConfig,
        threads: usize,
    ) -> Result<Self> {
        let mut state = Self::new(graph);
        if threads <= 1 {
            let mut sweep = Sweep::take(&mut state, graph, config, graph.nodes().collect());
            instance.for_each_version(&mut |row| sweep.add(graph, row))?;
            sweep.give_back(&mut state);
            return Ok(state);
        }
        // Ranges of asset keys holding about equal numbers of partitions.
        let mut keyed: Vec<(&str, NodeIx)> =
            graph.nodes().map(|n| (graph.key(n).as_str(), n)).collect();
        keyed.sort_unstable();
        let total: usize = graph.nodes().map(|n| partition_count(graph, n)).sum();
        let share = total.div_ceil(threads);
        let mut bounds: Vec<&str> = Vec::new();
        let mut groups: Vec<Vec<NodeIx>> = vec![Vec::new()];
        let mut seen = 0;
        for (key, n) in keyed {
            if seen >= share * (bounds.len() + 1) {
                bounds.push(key);
                groups.push(Vec::new());
            }
            groups.last_mut().expect("one group at least").push(n);
            seen += partition_count(graph, n);
        }
        let lows = std::iter::once(None).chain(bounds.iter().copied().map(Some));
        let highs = bounds
            .iter()
            .copied()
            .map(Some)
            .chain(std::iter::once(None));
        let sweeps: Vec<Sweep> = groups
            .into_iter()
            .map(|nodes| Sweep::take(&mut state, graph, config, nodes))
            .collect();
        let done: Vec<Result<Sweep>> = std::thread::scope(|scope| {
            let handles: Vec<_> = sweeps
                .into_iter()
                .zip(lows.zip(highs))
                .map(|(mut sweep, (from, to))| {
                    scope.spawn(move || {
                        instance.for_each_version_in(from, to, &mut |row| sweep.add(graph, row))?;
                        Ok(sweep)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        for sweep in done {
            sweep?.give_back(&mut state);
        }
        Ok(state)
    }

    /// Records one row (its config judged against `config`); rows of unknown assets or
    /// partitions are ignored.
    pub fn insert(&mut self, graph: &AssetGraph, config: &RunConfig, row: RowRef<'_>) {
        let Some(node) = graph.node_by_str(row.asset) else {
            return;
        };
        let mut sweep = Sweep::take(self, graph, config, vec![node]);
        sweep.add(graph, row);
        sweep.give_back(self);
    }

    pub fn row(&self, node: NodeIx, partition: usize) -> Option<&VersionRow> {
        self.rows.get(node)?.get(partition)?.as_ref()
    }

    /// The data version of a row, as text.
    pub fn version(&self, row: &VersionRow) -> DataVersion {
        match self.version_bytes(row) {
            VersionBytes::Hash(bytes) => {
                let mut text = String::with_capacity(64);
                for b in bytes {
                    text.push_str(&format!("{b:02x}"));
                }
                DataVersion::from_hex(&text)
            }
            VersionBytes::Text(text) => DataVersion::from_hex(text),
        }
    }

    /// The data version of a row, as the inputs digest encodes it.
    pub fn version_bytes(&self, row: &VersionRow) -> VersionBytes<'_> {
        match row.version {
            StoredVersion::Hash(bytes) => VersionBytes::Hash(bytes),
            StoredVersion::Text(start, len) => {
                VersionBytes::Text(&self.arena[start as usize..start as usize + len as usize])
            }
        }
    }

    /// The rows of one asset, by partition position.
    pub fn rows_of(&self, node: NodeIx) -> &[Option<VersionRow>] {
        &self.rows[node]
    }
}

/// Above this many asset partitions, [`VersionState::load`] reads in parallel.
pub const PARALLEL_LOAD: usize = 100_000;

/// One sweep over the instance's rows: it owns the rows of its assets (taken out of a state and
/// given back), so that sweeps over disjoint ranges of assets can run on several threads.
struct Sweep {
    /// Per node of the graph, its position in `nodes`, or `u32::MAX` when not this sweep's.
    slot: IxVec<NodeIx, u32>,
    nodes: Vec<NodeIx>,
    rows: Vec<Vec<Option<VersionRow>>>,
    /// Text versions of this sweep's rows, and which rows hold one (by slot and partition).
    arena: String,
    text_rows: Vec<(u32, u32)>,
    /// Rows arrive grouped by asset: the last asset looked up.
    last: Option<(String, Option<NodeIx>)>,
    /// The config rows are judged under, and the verdict on each recorded config text seen
    /// (the partitions of an asset almost always read the same values).
    config: RunConfig,
    config_verdicts: HashMap<String, bool>,
}

impl Sweep {
    fn take(
        state: &mut VersionState,
        graph: &AssetGraph,
        config: &RunConfig,
        nodes: Vec<NodeIx>,
    ) -> Self {
        let mut slot = IxVec::from_elem(u32::MAX, graph.len());
        let rows = nodes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                slot[n] = i as u32;
                std::mem::take(&mut state.rows[n])
            })
            .collect();
        Sweep {
            slot,
            nodes,
            rows,
            arena: String::new(),
            text_rows: Vec::new(),
            last: None,
            config: config.clone(),
            config_verdicts: HashMap::new(),
        }
    }

    /// Whether the config values recorded as `text` are those of the sweep's config.
    fn config_matches(&mut self, text: Option<&str>) -> bool {
        let Some(text) = text else {
            return true;
        };
        if let Some(&verdict) = self.config_verdicts.get(text) {
            return verdict;
        }
        let verdict = match serde_json::from_str::<ConfigReads>(text) {
            Ok(reads) => self.config.changes_from(&reads).is_empty(),
            // Unreadable: it cannot be shown to match.
            Err(_) => false,
        };
        self.config_verdicts.insert(text.to_owned(), verdict);
        verdict
    }

    fn add(&mut self, graph: &AssetGraph, row: RowRef<'_>) {
        let node = match &self.last {
            Some((asset, node)) if asset == row.asset => *node,
            _ => {
                let node = graph.node_by_str(row.asset);
                self.last = Some((row.asset.to_owned(), node));
                node
            }
        };
        let Some(node) = node else {
            return;
        };
        let Some(&slot) = self.slot.get(node).filter(|s| **s != u32::MAX) else {
            return;
        };
        let spec = graph.spec(node);
        let index = match (&spec.partitions, row.partition) {
            (None, "") => 0,
            (Some(def), p) if !p.is_empty() => match def.index_of(p) {
                Some(i) => i,
                None => return,
            },
            _ => return,
        };
        let version = match VersionBytes::parse(row.data_version) {
            VersionBytes::Hash(bytes) => StoredVersion::Hash(bytes),
            VersionBytes::Text(text) => {
                let start = self.arena.len() as u32;
                self.arena.push_str(text);
                self.text_rows.push((slot, index as u32));
                StoredVersion::Text(start, text.len() as u16)
            }
        };
        let digest = |d: Option<&[u8]>| d.and_then(|d| <[u8; 32]>::try_from(d).ok());
        let config_matches = self.config_matches(row.config);
        self.rows[slot as usize][index] = Some(VersionRow {
            event_id: row.event_id,
            timestamp: row.timestamp,
            version,
            code_matches: row.code_version == spec.code_version.as_deref(),
            config_matches,
            inputs_digest: digest(row.inputs_digest),
            deps_digest: digest(row.deps_digest),
        });
    }

    /// Puts the rows back, re-basing text versions onto the state's arena.
    fn give_back(mut self, state: &mut VersionState) {
        let base = state.arena.len() as u32;
        state.arena.push_str(&self.arena);
        // A row written twice is listed twice: re-base it once.
        self.text_rows.sort_unstable();
        self.text_rows.dedup();
        for (slot, index) in self.text_rows {
            if let Some(row) = self.rows[slot as usize][index as usize].as_mut()
                && let StoredVersion::Text(start, len) = row.version
            {
                row.version = StoredVersion::Text(start + base, len);
            }
        }
        for (n, rows) in self.nodes.into_iter().zip(self.rows) {
            state.rows[n] = rows;
        }
    }
}

fn partition_count(graph: &AssetGraph, node: NodeIx) -> usize {
    graph.spec(node).partitions.as_ref().map_or(1, |p| p.len())
}

/// The partition key at position `i` of an asset (`None` when unpartitioned).
fn key_at(graph: &AssetGraph, node: NodeIx, i: usize) -> Option<PartitionKey> {
    graph
        .spec(node)
        .partitions
        .as_ref()
        .and_then(|p| p.key_at(i))
}

/// The state of every asset partition.
#[derive(Debug, Clone)]
pub struct Staleness {
    states: IxVec<NodeIx, Vec<PartitionState>>,
}

/// Partitions of one asset are independent given their upstream: above this many, check them
/// in parallel.
const PARALLEL_PARTITIONS: usize = 512;

impl Staleness {
    /// Computes every asset partition's state, upstream first.
    pub fn compute(graph: &AssetGraph, versions: &VersionState) -> Self {
        let mut states: IxVec<NodeIx, Vec<PartitionState>> =
            IxVec::from_elem(Vec::new(), graph.len());
        // Each asset's upstream partitions in canonical (key) order, for the digest.
        let by_key: IxVec<NodeIx, Option<Vec<usize>>> = graph
            .nodes()
            .map(|n| {
                graph
                    .spec(n)
                    .partitions
                    .as_ref()
                    .map(|p| p.indices_by_key())
            })
            .collect();
        for &node in graph.topo_order() {
            let count = partition_count(graph, node);
            if graph.asset(node).is_external() {
                states[node] = (0..count)
                    .map(|i| match versions.row(node, i) {
                        Some(_) => PartitionState {
                            freshness: Freshness::Fresh,
                            causes: Causes::NONE,
                        },
                        None => MISSING,
                    })
                    .collect();
                continue;
            }
            let spec = graph.spec(node);
            let mut deps: Vec<NodeIx> = graph.deps(node).iter().map(|&(u, _)| u).collect();
            deps.sort_by(|&a, &b| graph.key(a).cmp(graph.key(b)));
            let current_deps = *deps_digest(deps.iter().map(|&u| graph.key(u))).as_bytes();
            let mappings: Vec<PartitionMapping> =
                deps.iter().map(|&u| graph.mapping(node, u)).collect();
            let done = &states;
            // `own`: this asset's partitions checked so far, for one that reads its own earlier
            // partitions (those are checked in order).
            let check = |hasher: &mut InputsHasher, own: &[PartitionState], i: usize| {
                let Some(row) = versions.row(node, i) else {
                    return MISSING;
                };
                let mut causes = Causes::NONE;
                if !row.code_matches {
                    causes |= cause::CODE_CHANGED;
                }
                if !row.config_matches {
                    causes |= cause::CONFIG_CHANGED;
                }
                if row.deps_digest.is_some_and(|d| d != current_deps) {
                    causes |= cause::DEPS_CHANGED;
                }
                hasher.reset();
                let mut visit = |up: NodeIx, q: usize, causes: &mut Causes| {
                    match versions.row(up, q) {
                        Some(r) => hasher.add_bytes(
                            graph.key(up).as_str(),
                            key_at(graph, up, q).as_ref().map(PartitionKey::as_str),
                            versions.version_bytes(r),
                        ),
                        // An external asset nobody has observed has no version to read.
                        None if graph.asset(up).is_external() => {}
                        None => *causes |= cause::UPSTREAM_MISSING,
                    }
                    let state = if up == node {
                        own.get(q)
                    } else {
                        done[up].get(q)
                    };
                    if state.is_some_and(|s| s.freshness == Freshness::Stale) {
                        *causes |= cause::UPSTREAM_STALE;
                    }
                };
                for (&up, mapping) in deps.iter().zip(&mappings) {
                    if matches!(mapping, PartitionMapping::All) {
                        // In key order, as the digest was recorded.
                        for &q in by_key[up].as_deref().unwrap_or(&[]) {
                            visit(up, q, &mut causes);
                        }
                    } else {
                        let down = spec.partitions.is_some().then_some(i);
                        for q in mapping.positions(
                            graph.spec(up).partitions.as_ref(),
                            spec.partitions.as_ref(),
                            down,
                        ) {
                            visit(up, q, &mut causes);
                        }
                    }
                }
                let expected = *hasher.digest().as_bytes();
                if !causes.contains(cause::UPSTREAM_MISSING) && row.inputs_digest != Some(expected)
                {
                    causes |= cause::INPUTS_CHANGED;
                }
                PartitionState {
                    freshness: if causes.is_empty() {
                        Freshness::Fresh
                    } else {
                        Freshness::Stale
                    },
                    causes,
                }
            };
            let computed: Vec<PartitionState> = if graph.reads_itself(node) {
                let mut h = InputsHasher::new();
                let mut own = Vec::with_capacity(count);
                for i in 0..count {
                    let state = check(&mut h, &own, i);
                    own.push(state);
                }
                own
            } else if count >= PARALLEL_PARTITIONS {
                (0..count)
                    .into_par_iter()
                    .map_init(InputsHasher::new, |h, i| check(h, &[], i))
                    .collect()
            } else {
                let mut h = InputsHasher::new();
                (0..count).map(|i| check(&mut h, &[], i)).collect()
            };
            states[node] = computed;
        }
        Staleness { states }
    }

    /// The state of partition position `i` of `node` (0 for an unpartitioned asset).
    pub fn state(&self, node: NodeIx, i: usize) -> PartitionState {
        self.states[node].get(i).copied().unwrap_or(MISSING)
    }

    /// The states of every partition of `node`.
    pub fn states_of(&self, node: NodeIx) -> &[PartitionState] {
        &self.states[node]
    }

    /// Counts and the union of cause flags over an asset's partitions.
    pub fn summary(&self, node: NodeIx) -> Summary {
        let mut s = Summary::default();
        for st in &self.states[node] {
            match st.freshness {
                Freshness::Fresh => s.fresh += 1,
                Freshness::Stale => s.stale += 1,
                Freshness::Missing => s.missing += 1,
            }
            s.causes |= st.causes;
        }
        s
    }
}

pub use crate::model::state::Summary;

/// One reason an asset partition is stale, in detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    CodeChanged {
        recorded: Option<String>,
        current: Option<String>,
        /// The items of the asset's closure that changed (`fn embed (assets/src/embed.rs)`),
        /// when both versions' items are known.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        items: Vec<String>,
    },
    DepsChanged {
        added: Vec<AssetKey>,
        removed: Vec<AssetKey>,
    },
    /// A config value it read is another one under the config it is judged with.
    ConfigChanged {
        name: String,
        recorded: Option<String>,
        current: Option<String>,
    },
    /// An input it read has another version now.
    InputChanged {
        asset: AssetKey,
        partition: Option<PartitionKey>,
        read: DataVersion,
        now: DataVersion,
    },
    /// An input it did not read (none existed) has a version now.
    InputAppeared {
        asset: AssetKey,
        partition: Option<PartitionKey>,
    },
    UpstreamMissing {
        asset: AssetKey,
        partition: Option<PartitionKey>,
    },
    UpstreamStale {
        asset: AssetKey,
        partition: Option<PartitionKey>,
    },
    /// The materialization recorded no provenance to compare with.
    ProvenanceUnknown,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = |a: &AssetKey, p: &Option<PartitionKey>| step_label(a, p.as_ref());
        match self {
            Cause::CodeChanged { items, .. } if !items.is_empty() => {
                write!(f, "code changed: {}", crate::model::event::and_list(items))
            }
            Cause::CodeChanged {
                recorded, current, ..
            } => write!(
                f,
                "code changed ({} → {})",
                recorded.as_deref().unwrap_or("none"),
                current.as_deref().unwrap_or("none")
            ),
            Cause::DepsChanged { added, removed } => {
                f.write_str(&crate::model::event::describe_deps_change(added, removed))
            }
            Cause::ConfigChanged {
                name,
                recorded,
                current,
            } => write!(
                f,
                "config {name} changed ({} → {})",
                recorded.as_deref().unwrap_or("none"),
                current.as_deref().unwrap_or("none")
            ),
            Cause::InputChanged {
                asset,
                partition,
                read,
                now,
            } => write!(
                f,
                "input {} changed ({} → {})",
                label(asset, partition),
                read.short(),
                now.short()
            ),
            Cause::InputAppeared { asset, partition } => {
                write!(f, "input {} appeared", label(asset, partition))
            }
            Cause::UpstreamMissing { asset, partition } => {
                write!(f, "upstream {} is missing", label(asset, partition))
            }
            Cause::UpstreamStale { asset, partition } => {
                write!(f, "upstream {} is stale", label(asset, partition))
            }
            Cause::ProvenanceUnknown => write!(f, "no provenance was recorded"),
        }
    }
}

/// Why one asset partition is in its state.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub asset: AssetKey,
    pub partition: Option<PartitionKey>,
    pub freshness: Freshness,
    pub causes: Vec<Cause>,
}

/// Explains the state of asset `node`, partition position `i`, in detail: compares its recorded
/// provenance with the current versions and with `config`.
pub fn explain(
    graph: &AssetGraph,
    versions: &VersionState,
    staleness: &Staleness,
    instance: &dyn VersionSource,
    config: &RunConfig,
    node: NodeIx,
    i: usize,
) -> Result<Explanation> {
    let spec = graph.spec(node);
    let state = staleness.state(node, i);
    let mut out = Explanation {
        asset: spec.key.clone(),
        partition: key_at(graph, node, i),
        freshness: state.freshness,
        causes: Vec::new(),
    };
    if state.freshness != Freshness::Stale {
        return Ok(out);
    }
    let Some(row) = versions.row(node, i) else {
        return Ok(out);
    };
    let provenance = match instance.provenance(row.event_id)? {
        Some(provenance) => provenance,
        None => {
            out.causes.push(Cause::ProvenanceUnknown);
            return Ok(out);
        }
    };
    if state.causes.contains(cause::CODE_CHANGED) {
        out.causes.push(Cause::CodeChanged {
            items: changed_code_items(instance, spec, provenance.code_version.as_deref())?,
            recorded: provenance.code_version.clone(),
            current: spec.code_version.clone(),
        });
    }
    if state.causes.contains(cause::DEPS_CHANGED) {
        let (added, removed) =
            provenance.deps_change(graph.deps(node).iter().map(|&(u, _)| graph.key(u)));
        out.causes.push(Cause::DepsChanged { added, removed });
    }
    if state.causes.contains(cause::CONFIG_CHANGED) {
        for (name, recorded, current) in config.changes_from(&provenance.config) {
            out.causes.push(Cause::ConfigChanged {
                name,
                recorded,
                current,
            });
        }
    }
    let read: HashMap<(&str, Option<&str>), &DataVersion> = provenance
        .inputs
        .iter()
        .map(|inp| {
            (
                (
                    inp.asset.as_str(),
                    inp.partition.as_ref().map(PartitionKey::as_str),
                ),
                &inp.data_version,
            )
        })
        .collect();
    // Compare every input it would read now with what it read.
    for &(up, _) in graph.deps(node) {
        let down = spec.partitions.is_some().then_some(i);
        let positions = graph.mapping(node, up).positions(
            graph.spec(up).partitions.as_ref(),
            spec.partitions.as_ref(),
            down,
        );
        for q in positions {
            let partition = key_at(graph, up, q);
            let was = read
                .get(&(
                    graph.key(up).as_str(),
                    partition.as_ref().map(PartitionKey::as_str),
                ))
                .copied();
            let label = || (graph.key(up).clone(), partition.clone());
            match (versions.row(up, q), was) {
                (Some(r), Some(was)) if versions.version(r) != *was => {
                    let (asset, partition) = label();
                    out.causes.push(Cause::InputChanged {
                        asset,
                        partition,
                        read: was.clone(),
                        now: versions.version(r),
                    });
                }
                (Some(_), None) => {
                    let (asset, partition) = label();
                    out.causes.push(Cause::InputAppeared { asset, partition });
                }
                (None, _) if !graph.asset(up).is_external() => {
                    let (asset, partition) = label();
                    out.causes.push(Cause::UpstreamMissing { asset, partition });
                }
                _ => {}
            }
            if staleness.state(up, q).freshness == Freshness::Stale {
                let (asset, partition) = label();
                out.causes.push(Cause::UpstreamStale { asset, partition });
            }
        }
    }
    Ok(out)
}

/// The items of `spec`'s code that differ from those of the recorded code version, when the
/// instance knows what that version was computed from (empty otherwise).
pub fn changed_code_items(
    instance: &dyn VersionSource,
    spec: &crate::model::spec::AssetSpec,
    recorded: Option<&str>,
) -> Result<Vec<String>> {
    let (Some(recorded), Some(current)) = (recorded, &spec.code_items) else {
        return Ok(Vec::new());
    };
    Ok(match instance.code_version_items(&spec.key, recorded)? {
        Some(old) => crate::model::event::code_changes(&old, current),
        None => Vec::new(),
    })
}

/// A stale asset partition and, recursively, the stale upstream partitions it traces back to.
#[derive(Debug, Clone, Serialize)]
pub struct WhyNode {
    pub asset: AssetKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionKey>,
    pub state: Freshness,
    /// What is wrong here, apart from stale upstreams. Non-empty at a root cause.
    pub causes: Vec<Cause>,
    /// The stale upstream partitions, explained.
    pub upstream: Vec<WhyNode>,
    /// Stale upstream partitions left out (past the first few of one asset).
    #[serde(skip_serializing_if = "is_zero")]
    pub more: usize,
    /// Explained earlier in the tree.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub repeated: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl WhyNode {
    /// The nodes with causes of their own (the root causes), each once, depth first.
    pub fn roots(&self) -> Vec<&WhyNode> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            if !n.causes.is_empty() && !n.repeated {
                out.push(n);
            }
            stack.extend(n.upstream.iter().rev());
        }
        out
    }
}

/// Upstream partitions of one asset expanded in a why-stale tree; the rest are counted.
const EXPAND_PARTITIONS: usize = 3;

/// Explains why asset `node`, partition position `i`, is stale, as a tree down to the root
/// causes. Shared upstreams are explained once (later occurrences are marked `repeated`).
pub fn why_stale(
    graph: &AssetGraph,
    versions: &VersionState,
    staleness: &Staleness,
    instance: &dyn VersionSource,
    config: &RunConfig,
    node: NodeIx,
    i: usize,
) -> Result<WhyNode> {
    let judged = Judged {
        graph,
        versions,
        staleness,
        instance,
        config,
    };
    let mut seen = HashSet::new();
    why_node(&judged, node, i, &mut seen)
}

/// What a why-stale tree is explained against.
struct Judged<'a> {
    graph: &'a AssetGraph,
    versions: &'a VersionState,
    staleness: &'a Staleness,
    instance: &'a dyn VersionSource,
    config: &'a RunConfig,
}

fn why_node(
    j: &Judged<'_>,
    node: NodeIx,
    i: usize,
    seen: &mut HashSet<(NodeIx, usize)>,
) -> Result<WhyNode> {
    let graph = j.graph;
    let explanation = explain(
        graph,
        j.versions,
        j.staleness,
        j.instance,
        j.config,
        node,
        i,
    )?;
    let mut out = WhyNode {
        asset: explanation.asset,
        partition: explanation.partition,
        state: explanation.freshness,
        causes: Vec::new(),
        upstream: Vec::new(),
        more: 0,
        repeated: false,
    };
    seen.insert((node, i));
    let mut expanded: HashMap<NodeIx, usize> = HashMap::new();
    for c in explanation.causes {
        let Cause::UpstreamStale { asset, partition } = c else {
            out.causes.push(c);
            continue;
        };
        let Some(up) = graph.node_by_str(asset.as_str()) else {
            continue;
        };
        let q = match (&graph.spec(up).partitions, &partition) {
            (Some(def), Some(p)) => def.index_of(p.as_str()).unwrap_or(0),
            _ => 0,
        };
        let count = expanded.entry(up).or_default();
        *count += 1;
        if *count > EXPAND_PARTITIONS {
            out.more += 1;
            continue;
        }
        if seen.contains(&(up, q)) {
            out.upstream.push(WhyNode {
                asset,
                partition,
                state: Freshness::Stale,
                causes: Vec::new(),
                upstream: Vec::new(),
                more: 0,
                repeated: true,
            });
        } else {
            out.upstream.push(why_node(j, up, q, seen)?);
        }
    }
    Ok(out)
}

/// Causes in a few words each, one line per kind and asset (partitions of one upstream are
/// counted, not listed): `upstream chunks is stale`, `input daily changed (3 partitions)`.
pub fn brief(causes: &[Cause]) -> Vec<String> {
    let mut lines: Vec<(String, usize)> = Vec::new();
    let mut add = |text: String| match lines.iter_mut().find(|(t, _)| *t == text) {
        Some((_, n)) => *n += 1,
        None => lines.push((text, 1)),
    };
    for c in causes {
        match c {
            Cause::InputChanged { asset, .. } => add(format!("input {asset} changed")),
            Cause::InputAppeared { asset, .. } => add(format!("input {asset} appeared")),
            Cause::UpstreamMissing { asset, .. } => add(format!("upstream {asset} missing")),
            Cause::UpstreamStale { asset, .. } => add(format!("upstream {asset} stale")),
            Cause::CodeChanged { items, .. } if !items.is_empty() => {
                add(format!(
                    "code changed: {}",
                    crate::model::event::and_list(items)
                ));
            }
            Cause::CodeChanged { .. } => add("code changed".into()),
            other => add(other.to_string()),
        }
    }
    lines
        .into_iter()
        .map(|(text, n)| {
            if n > 1 {
                format!("{text} ({n} partitions)")
            } else {
                text
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::tests::graph;
    use crate::hash::provenance_digests;
    use crate::model::definitions::AssetDef;
    use crate::model::event::{InputVersion, Provenance};
    use crate::model::spec::PartitionsDefinition;

    /// An asset with code version "1" reading `inputs`.
    fn versioned(key: &str, inputs: &[&str]) -> AssetDef {
        let mut b = AssetDef::builder(key).code_version("1");
        for i in inputs {
            b = b.input(i);
        }
        b.compute_blocking(|_, _| Ok::<_, std::io::Error>(()))
            .build()
    }

    fn partitioned(key: &str, inputs: &[&str], parts: &PartitionsDefinition) -> AssetDef {
        let mut b = AssetDef::builder(key)
            .code_version("1")
            .partitions(parts.clone());
        for i in inputs {
            b = b.input(i);
        }
        b.compute_blocking(|_, _| Ok::<_, std::io::Error>(()))
            .build()
    }

    /// Records in memory, as the instance would, materializations with their provenance.
    struct World<'g> {
        graph: &'g AssetGraph,
        state: VersionState,
        next_id: i64,
        /// Current data version by (asset, partition).
        current: HashMap<(String, String), String>,
        /// The config rows are judged under.
        config: RunConfig,
    }

    impl<'g> World<'g> {
        fn new(graph: &'g AssetGraph) -> Self {
            World {
                graph,
                state: VersionState::new(graph),
                next_id: 1,
                current: HashMap::new(),
                config: RunConfig::defaults(graph.config_spec().clone()),
            }
        }

        /// Materializes `asset[partition]` with data version `dv`, reading the current versions
        /// of `inputs` (asset, partition) and recording `deps` and code version `code`.
        fn materialize(
            &mut self,
            asset: &str,
            partition: &str,
            dv: &str,
            code: &str,
            inputs: &[(&str, &str)],
            deps: &[&str],
        ) {
            let provenance = Provenance {
                code_version: Some(code.into()),
                inputs: inputs
                    .iter()
                    .map(|(a, p)| InputVersion {
                        asset: AssetKey::parse(a).unwrap(),
                        partition: (!p.is_empty()).then(|| PartitionKey::new(p).unwrap()),
                        data_version: DataVersion::from_hex(
                            &self.current[&((*a).to_owned(), (*p).to_owned())],
                        ),
                    })
                    .collect(),
                deps: deps.iter().map(|d| AssetKey::parse(d).unwrap()).collect(),
                config: Default::default(),
            };
            self.record(asset, partition, dv, code, &provenance);
        }

        fn record(
            &mut self,
            asset: &str,
            partition: &str,
            dv: &str,
            code: &str,
            provenance: &Provenance,
        ) {
            let (inputs_digest, deps_digest) = provenance_digests(provenance);
            let config = (!provenance.config.is_empty())
                .then(|| serde_json::to_string(&provenance.config).unwrap());
            self.state.insert(
                self.graph,
                &self.config,
                RowRef {
                    asset,
                    partition,
                    event_id: self.next_id,
                    timestamp: self.next_id,
                    data_version: dv,
                    code_version: Some(code),
                    inputs_digest: Some(inputs_digest.as_bytes()),
                    deps_digest: Some(deps_digest.as_bytes()),
                    config: config.as_deref(),
                },
            );
            self.next_id += 1;
            self.current
                .insert((asset.to_owned(), partition.to_owned()), dv.to_owned());
        }

        /// An observation of an external asset.
        fn observe(&mut self, asset: &str, dv: &str) {
            self.state.insert(
                self.graph,
                &self.config,
                RowRef {
                    asset,
                    partition: "",
                    event_id: self.next_id,
                    timestamp: self.next_id,
                    data_version: dv,
                    code_version: None,
                    inputs_digest: None,
                    deps_digest: None,
                    config: None,
                },
            );
            self.next_id += 1;
            self.current
                .insert((asset.to_owned(), String::new()), dv.to_owned());
        }

        fn staleness(&self) -> Staleness {
            Staleness::compute(self.graph, &self.state)
        }

        fn state(&self, asset: &str, partition: usize) -> PartitionState {
            self.staleness()
                .state(self.graph.node_by_str(asset).unwrap(), partition)
        }
    }

    fn fresh() -> PartitionState {
        PartitionState {
            freshness: Freshness::Fresh,
            causes: Causes::NONE,
        }
    }

    fn stale(causes: Causes) -> PartitionState {
        PartitionState {
            freshness: Freshness::Stale,
            causes,
        }
    }

    fn chain(w: &mut World<'_>) {
        w.materialize("a", "", "a1", "1", &[], &[]);
        w.materialize("b", "", "b1", "1", &[("a", "")], &["a"]);
        w.materialize("c", "", "c1", "1", &[("b", "")], &["b"]);
    }

    #[test]
    fn a_new_input_version_makes_the_reader_stale_and_its_downstream_upstream_stale() {
        let g = graph(vec![
            versioned("a", &[]),
            versioned("b", &["a"]),
            versioned("c", &["b"]),
        ]);
        let mut w = World::new(&g);
        assert_eq!(w.state("a", 0).freshness, Freshness::Missing);
        chain(&mut w);
        for k in ["a", "b", "c"] {
            assert_eq!(w.state(k, 0), fresh(), "{k}");
        }
        w.materialize("a", "", "a2", "1", &[], &[]);
        assert_eq!(w.state("a", 0), fresh());
        assert_eq!(w.state("b", 0), stale(cause::INPUTS_CHANGED));
        assert_eq!(w.state("c", 0), stale(cause::UPSTREAM_STALE));
        // Recomputing b brings c's staleness down to its own input.
        w.materialize("b", "", "b2", "1", &[("a", "")], &["a"]);
        assert_eq!(w.state("b", 0), fresh());
        assert_eq!(w.state("c", 0), stale(cause::INPUTS_CHANGED));
    }

    #[test]
    fn a_recompute_with_identical_output_leaves_downstream_fresh() {
        let g = graph(vec![
            versioned("a", &[]),
            versioned("b", &["a"]),
            versioned("c", &["b"]),
        ]);
        let mut w = World::new(&g);
        chain(&mut w);
        // a is recomputed (a new materialization) but its content is the same.
        w.materialize("a", "", "a1", "1", &[], &[]);
        for k in ["a", "b", "c"] {
            assert_eq!(w.state(k, 0), fresh(), "{k}");
        }
    }

    #[test]
    fn code_and_dependency_changes_are_causes() {
        // b's code is now version 2 and it also reads x, which it did not when materialized.
        let g = graph(vec![
            versioned("a", &[]),
            versioned("x", &[]),
            AssetDef::builder("b")
                .code_version("2")
                .input("a")
                .input("x")
                .compute_blocking(|_, _| Ok::<_, std::io::Error>(()))
                .build(),
            versioned("c", &["b"]),
        ]);
        let mut w = World::new(&g);
        w.materialize("x", "", "x1", "1", &[], &[]);
        chain(&mut w);
        let b = w.state("b", 0);
        assert_eq!(b.freshness, Freshness::Stale);
        assert_eq!(
            b.causes & (cause::CODE_CHANGED | cause::DEPS_CHANGED),
            cause::CODE_CHANGED | cause::DEPS_CHANGED
        );
        assert_eq!(w.state("c", 0), stale(cause::UPSTREAM_STALE));
        assert_eq!(w.state("a", 0), fresh());
        assert_eq!(
            cause::describe(b.causes)[..2],
            ["code changed", "dependencies changed"]
        );
    }

    #[test]
    fn config_values_read_are_judged_under_the_config_given() {
        use crate::model::config::ConfigField;
        let g = AssetGraph::new(
            crate::model::definitions::Definitions::new()
                .assets([versioned("a", &[]), versioned("model", &["a"])])
                .config(ConfigField::int("epochs", 30))
                .config(ConfigField::int("unread", 1)),
        )
        .unwrap();
        let spec = g.config_spec().clone();
        let mut w = World::new(&g);
        w.materialize("a", "", "a1", "1", &[], &[]);
        let provenance = Provenance {
            code_version: Some("1".into()),
            inputs: vec![InputVersion {
                asset: AssetKey::parse("a").unwrap(),
                partition: None,
                data_version: DataVersion::from_hex("a1"),
            }],
            deps: vec![AssetKey::parse("a").unwrap()],
            config: [("epochs".to_owned(), Some("30".to_owned()))].into(),
        };
        w.record("model", "", "m1", "1", &provenance);
        assert_eq!(w.state("model", 0), fresh());
        // Judged under epochs=5, what it read differs; a field it did not read changes nothing.
        for (pairs, expected) in [
            (vec!["epochs=5"], stale(cause::CONFIG_CHANGED)),
            (vec!["unread=7"], fresh()),
            (vec!["epochs=30"], fresh()),
        ] {
            let mut judged = World::new(&g);
            judged.config = spec.parse_pairs(&pairs).unwrap();
            judged.materialize("a", "", "a1", "1", &[], &[]);
            judged.record("model", "", "m1", "1", &provenance);
            assert_eq!(judged.state("model", 0), expected, "{pairs:?}");
        }
        let reads: ConfigReads = provenance.config.clone();
        assert_eq!(
            spec.parse_pairs(&["epochs=5"])
                .unwrap()
                .changes_from(&reads),
            [("epochs".into(), Some("30".into()), Some("5".into()))]
        );
        assert_eq!(cause::describe(cause::CONFIG_CHANGED), ["config changed"]);
    }

    #[test]
    fn a_wiped_upstream_is_missing_for_its_readers() {
        let g = graph(vec![
            versioned("a", &[]),
            versioned("b", &["a"]),
            versioned("c", &["b"]),
        ]);
        let mut w = World::new(&g);
        chain(&mut w);
        // A state without a's row: as after `assets wipe --select a`.
        let mut wiped = World::new(&g);
        wiped.current = w.current.clone();
        wiped.materialize("b", "", "b1", "1", &[("a", "")], &["a"]);
        wiped.materialize("c", "", "c1", "1", &[("b", "")], &["b"]);
        assert_eq!(wiped.state("a", 0).freshness, Freshness::Missing);
        assert_eq!(wiped.state("b", 0), stale(cause::UPSTREAM_MISSING));
        assert_eq!(wiped.state("c", 0), stale(cause::UPSTREAM_STALE));
    }

    #[test]
    fn identity_partitions_are_judged_one_by_one() {
        let parts = PartitionsDefinition::static_keys(["eu", "us"]);
        let g = graph(vec![
            partitioned("daily", &[], &parts),
            partitioned("per_region", &["daily"], &parts),
        ]);
        let mut w = World::new(&g);
        for p in ["eu", "us"] {
            w.materialize("daily", p, &format!("d-{p}-1"), "1", &[], &[]);
            w.materialize(
                "per_region",
                p,
                &format!("r-{p}"),
                "1",
                &[("daily", p)],
                &["daily"],
            );
        }
        w.materialize("daily", "eu", "d-eu-2", "1", &[], &[]);
        let eu = parts.index_of("eu").unwrap();
        let us = parts.index_of("us").unwrap();
        assert_eq!(w.state("per_region", eu), stale(cause::INPUTS_CHANGED));
        assert_eq!(w.state("per_region", us), fresh());
        let s = w.staleness().summary(g.node_by_str("per_region").unwrap());
        assert_eq!((s.fresh, s.stale, s.missing), (1, 1, 0));
    }

    #[test]
    fn an_unpartitioned_reader_of_a_thousand_partitions_sees_each_one() {
        let keys: Vec<String> = (0..1000).map(|i| format!("p{i:04}")).collect();
        let parts = PartitionsDefinition::static_keys(keys.iter().map(String::as_str));
        let g = graph(vec![
            partitioned("daily", &[], &parts),
            versioned("summary", &["daily"]),
        ]);
        let mut w = World::new(&g);
        for k in &keys {
            w.materialize("daily", k, &format!("v-{k}"), "1", &[], &[]);
        }
        let inputs: Vec<(&str, &str)> = keys.iter().map(|k| ("daily", k.as_str())).collect();
        w.materialize("summary", "", "s1", "1", &inputs, &["daily"]);
        assert_eq!(w.state("summary", 0), fresh());
        // One partition out of a thousand changes.
        w.materialize("daily", "p0567", "v-new", "1", &[], &[]);
        assert_eq!(w.state("summary", 0), stale(cause::INPUTS_CHANGED));
        // One partition is missing (a state where it never was materialized).
        let mut partial = World::new(&g);
        partial.current = w.current.clone();
        for k in keys.iter().filter(|k| *k != "p0001") {
            partial.materialize("daily", k, &format!("v-{k}"), "1", &[], &[]);
        }
        partial.materialize("summary", "", "s1", "1", &inputs[2..], &["daily"]);
        let s = partial.state("summary", 0);
        assert_eq!(s.causes & cause::UPSTREAM_MISSING, cause::UPSTREAM_MISSING);
        let daily = partial.staleness().summary(g.node_by_str("daily").unwrap());
        assert_eq!((daily.fresh, daily.missing), (999, 1));
    }

    #[test]
    fn externals_are_fresh_when_observed_and_their_readers_follow_them() {
        // An unobserved external has no version: its reader is not stale for it.
        let g2 = graph(vec![
            AssetDef::external("source").build(),
            AssetDef::builder("reader")
                .code_version("1")
                .dep("source")
                .compute_blocking(|_, _| Ok::<_, std::io::Error>(()))
                .build(),
        ]);
        let mut w = World::new(&g2);
        w.materialize("reader", "", "r1", "1", &[], &["source"]);
        assert_eq!(w.state("source", 0).freshness, Freshness::Missing);
        assert_eq!(w.state("reader", 0), fresh());
        // Observed: the reader did not read that version.
        w.observe("source", "o1");
        assert_eq!(w.state("source", 0), fresh());
        assert_eq!(w.state("reader", 0), stale(cause::INPUTS_CHANGED));
        w.materialize("reader", "", "r1", "1", &[("source", "")], &["source"]);
        assert_eq!(w.state("reader", 0), fresh());
        // The same version observed again changes nothing; a new one makes it stale.
        w.observe("source", "o1");
        assert_eq!(w.state("reader", 0), fresh());
        w.observe("source", "o2");
        assert_eq!(w.state("reader", 0), stale(cause::INPUTS_CHANGED));
    }

    #[test]
    fn brief_causes_count_partitions_of_one_upstream() {
        let key = AssetKey::parse("daily").unwrap();
        let causes: Vec<Cause> = ["a", "b", "c"]
            .iter()
            .map(|p| Cause::UpstreamStale {
                asset: key.clone(),
                partition: Some(PartitionKey::new(p).unwrap()),
            })
            .chain([Cause::CodeChanged {
                recorded: Some("1".into()),
                current: Some("2".into()),
                items: Vec::new(),
            }])
            .collect();
        assert_eq!(
            brief(&causes),
            ["upstream daily stale (3 partitions)", "code changed"]
        );
    }
}
