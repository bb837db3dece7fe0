//! Evaluating an [`Expr`] against a graph and the instance's status.
//!
//! The rules are Dagster's (`asset_selection.py`, with `include_sources=False` as its command
//! line uses): `*`, `not X`, `tag:`, `kind:` and `group:` range over materializable assets;
//! `key:`, `owner:`, `is:` and `partitions:` over every asset; an upward traversal keeps
//! materializable assets only, a downward one keeps everything; `roots`/`sinks` look for
//! ancestors/descendants inside X transitively through assets outside X.
//!
//! Beyond Dagster, a name, tag, group, kind or owner that matches nothing is an error with a
//! suggestion instead of an empty selection.

use fixedbitset::FixedBitSet;

use super::SelectionError;
use super::ast::{
    Attr, ChangedValue, Depth, Expr, IsValue, PartitionsValue, Span, StatusValue, Value,
};
use crate::graph::{AssetGraph, AttrMap};
use crate::model::error::did_you_mean;
use crate::model::ids::{IxVec, NodeIx};
use crate::model::key::AssetKey;
use crate::model::spec::PartitionsDefinition;
use crate::model::state::{AssetStatus, StatusSnapshot};

pub(crate) struct Resolver<'a> {
    pub(crate) input: &'a str,
    pub(crate) graph: &'a AssetGraph,
    pub(crate) status: &'a StatusSnapshot,
}

impl Resolver<'_> {
    fn empty(&self) -> FixedBitSet {
        FixedBitSet::with_capacity(self.graph.len())
    }

    fn of(&self, nodes: impl IntoIterator<Item = NodeIx>) -> FixedBitSet {
        let mut set = self.empty();
        for n in nodes {
            set.insert(n.index());
        }
        set
    }

    /// The set of the index entries `nodes` (node ids kept as `u32`).
    fn of_entries(&self, nodes: &[u32]) -> FixedBitSet {
        let mut set = self.empty();
        for &n in nodes {
            set.insert(n as usize);
        }
        set
    }

    fn error(&self, span: &Span, message: String, help: Option<String>) -> SelectionError {
        SelectionError::new(self.input, span.clone(), message, help)
    }

    pub(crate) fn eval(&self, expr: &Expr) -> Result<FixedBitSet, SelectionError> {
        Ok(match expr {
            Expr::All { .. } => self.graph.materializable().clone(),
            Expr::Name { name, span } => self.of([self.exact_key(name, span)?]),
            Expr::Attr { attr, span } => self.attr(attr, span)?,
            Expr::Not(inner) => {
                let mut all = self.graph.materializable().clone();
                all.difference_with(&self.eval(inner)?);
                all
            }
            Expr::And(parts) => {
                let mut it = parts.iter();
                let mut acc = match it.next() {
                    Some(first) => self.eval(first)?,
                    None => self.empty(),
                };
                for p in it {
                    acc.intersect_with(&self.eval(p)?);
                }
                acc
            }
            Expr::Or(parts) => {
                let mut acc = self.empty();
                for p in parts {
                    acc.union_with(&self.eval(p)?);
                }
                acc
            }
            Expr::Up { inner, depth } => self.up(&self.eval(inner)?, *depth),
            Expr::Down { inner, depth } => self.down(&self.eval(inner)?, *depth),
            Expr::UpDown { inner, up, down } => {
                let base = self.eval(inner)?;
                let mut set = self.up(&base, *up);
                set.union_with(&self.down(&base, *down));
                set
            }
            Expr::Roots(inner) => self.roots(&self.eval(inner)?),
            Expr::Sinks(inner) => self.sinks(&self.eval(inner)?),
            Expr::At(inner) => {
                let base = self.eval(inner)?;
                let down = self.down(&base, None);
                let mut set = down.clone();
                set.union_with(&walk(self.graph, &down, None, Dir::Up));
                set
            }
        })
    }

    /// `upstream(depth)`: the set and its ancestors, materializable ones only.
    fn up(&self, base: &FixedBitSet, depth: Depth) -> FixedBitSet {
        let mut set = base.clone();
        set.union_with(&walk(self.graph, base, depth, Dir::Up));
        set.intersect_with(self.graph.materializable());
        set
    }

    /// `downstream(depth)`: the set and its descendants.
    fn down(&self, base: &FixedBitSet, depth: Depth) -> FixedBitSet {
        let mut set = base.clone();
        set.union_with(&walk(self.graph, base, depth, Dir::Down));
        set
    }

    /// Members of `set` with no ancestor in `set`, looking through assets outside it.
    fn roots(&self, set: &FixedBitSet) -> FixedBitSet {
        let g = self.graph;
        let mut has_ancestor_in: IxVec<NodeIx, bool> = IxVec::from_elem(false, g.len());
        for &n in g.topo_order() {
            has_ancestor_in[n] = g
                .parents(n)
                .any(|p| set.contains(p.index()) || has_ancestor_in[p]);
        }
        self.of(set.ones().map(NodeIx::new).filter(|&n| !has_ancestor_in[n]))
    }

    /// Members of `set` with no descendant in `set`, looking through assets outside it.
    fn sinks(&self, set: &FixedBitSet) -> FixedBitSet {
        let g = self.graph;
        let mut has_descendant_in: IxVec<NodeIx, bool> = IxVec::from_elem(false, g.len());
        for &n in g.topo_order().iter().rev() {
            has_descendant_in[n] = g
                .children(n)
                .any(|c| set.contains(c.index()) || has_descendant_in[c]);
        }
        self.of(set
            .ones()
            .map(NodeIx::new)
            .filter(|&n| !has_descendant_in[n]))
    }

    fn exact_key(&self, name: &str, span: &Span) -> Result<NodeIx, SelectionError> {
        if let Some(n) = AssetKey::parse(name).ok().and_then(|k| self.graph.node(&k)) {
            return Ok(n);
        }
        let help = match (self.graph.suggest(name), name.to_ascii_lowercase().as_str()) {
            (Some(s), _) => Some(format!("did you mean \"{s}\"?")),
            (None, op @ ("not" | "and" | "or")) => Some(format!(
                "`{op}` is an operator (lower or upper case): it needs a selection beside \
                     it, e.g. not key:a"
            )),
            (None, "roots" | "sinks") => Some(format!("`{name}` is a function: {name}(SELECTION)")),
            (None, _) => None,
        };
        let error = self.error(span, format!("unknown asset \"{name}\""), help.clone());
        Err(match help {
            Some(_) => error,
            None => error.pointing_to(crate::model::error::Hint::ListAssets),
        })
    }

    /// The assets an attribute value has, or an error naming the value and its near misses.
    fn lookup<'m>(
        &self,
        map: &'m AttrMap,
        value: &str,
        span: &Span,
        message: String,
        what: &str,
    ) -> Result<&'m [u32], SelectionError> {
        map.get(value)
            .map(Vec::as_slice)
            .ok_or_else(|| self.error(span, message, suggest(value, map.keys(), what)))
    }

    /// The materializable members of an index entry.
    fn materializable_of(&self, nodes: &[u32]) -> FixedBitSet {
        let mut set = self.of_entries(nodes);
        set.intersect_with(self.graph.materializable());
        set
    }

    fn attr(&self, attr: &Attr, span: &Span) -> Result<FixedBitSet, SelectionError> {
        let g = self.graph;
        Ok(match attr {
            Attr::Key(pattern) => {
                if pattern.contains('*') {
                    self.of(g
                        .assets()
                        .filter(|(_, d)| glob(pattern, d.key().as_str()))
                        .map(|(n, _)| n))
                } else {
                    self.of([self.exact_key(pattern, span)?])
                }
            }
            Attr::Tag { key, value } => {
                let tags = &g.attrs().tags;
                let Some(values) = tags.get(key) else {
                    return Err(self.error(
                        span,
                        format!("no asset has a tag named `{key}`"),
                        suggest(key, tags.keys(), "tag names"),
                    ));
                };
                match values.get(value) {
                    Some(nodes) => self.materializable_of(nodes),
                    None => return Err(self.tag_value_error(key, value, values.keys(), span)),
                }
            }
            Attr::Owner(Value::Null) => self.of(g
                .assets()
                .filter(|(_, d)| d.spec().owners.is_empty())
                .map(|(n, _)| n)),
            Attr::Owner(Value::Text(owner)) => {
                let nodes = self.lookup(
                    &g.attrs().owners,
                    owner,
                    span,
                    format!("no asset is owned by `{owner}`"),
                    "owners",
                )?;
                self.of_entries(nodes)
            }
            Attr::Group(Value::Null) => self.empty(),
            Attr::Group(Value::Text(group)) => {
                let groups = &g.attrs().groups;
                if group.contains('*') {
                    let mut set = self.empty();
                    for (name, nodes) in groups {
                        if glob(group, name) {
                            set.extend(nodes.iter().map(|&n| n as usize));
                        }
                    }
                    set.intersect_with(g.materializable());
                    set
                } else {
                    let nodes =
                        self.lookup(groups, group, span, format!("no group `{group}`"), "groups")?;
                    self.materializable_of(nodes)
                }
            }
            Attr::Kind(Value::Null) => {
                let mut set = self.of(g
                    .assets()
                    .filter(|(_, d)| d.spec().kinds.is_empty())
                    .map(|(n, _)| n));
                set.intersect_with(g.materializable());
                set
            }
            Attr::Kind(Value::Text(kind)) => {
                let nodes = self.lookup(
                    &g.attrs().kinds,
                    kind,
                    span,
                    format!("no asset has kind `{kind}`"),
                    "kinds",
                )?;
                self.materializable_of(nodes)
            }
            Attr::Is(IsValue::External) => g.external().clone(),
            Attr::Is(IsValue::Materializable) => g.materializable().clone(),
            Attr::Partitions(which) => self.of(g
                .assets()
                .filter(|(_, d)| partitions_kind(d.spec().partitions.as_ref()) == *which)
                .map(|(n, _)| n)),
            Attr::Status(status) => self.by_status(span, |s| match status {
                StatusValue::Materialized => s.materialized,
                StatusValue::Missing => s.missing,
                StatusValue::Stale => s.stale,
                StatusValue::Fresh => s.fresh(),
                StatusValue::Failed => s.failed,
            })?,
            Attr::Changed(what) => self.by_status(span, |s| match what {
                ChangedValue::Code => s.code_changed,
                ChangedValue::Deps => s.deps_changed,
                ChangedValue::Any => s.code_changed || s.deps_changed,
            })?,
            Attr::NotMaterializedInHours(hours) => {
                let cutoff = self.status.now() - i64::from(*hours) * 3_600_000_000;
                let mut set =
                    self.by_status(span, |s| s.last_materialized.is_none_or(|t| t < cutoff))?;
                set.intersect_with(g.materializable());
                set
            }
        })
    }

    /// `tag:key=value` where the tag exists but never with that value.
    fn tag_value_error<'v>(
        &self,
        key: &str,
        value: &str,
        values: impl Iterator<Item = &'v String>,
        span: &Span,
    ) -> SelectionError {
        let mut known: Vec<&str> = values.map(String::as_str).collect();
        known.sort_unstable();
        let message = if value.is_empty() {
            format!(
                "no asset has tag `{key}` with an empty value (`tag:{key}` matches only an empty \
                 value, as in Dagster)"
            )
        } else {
            format!("no asset has tag `{key}={value}`")
        };
        let help = did_you_mean(value, known.iter().copied())
            .filter(|_| !value.is_empty())
            .map(|v| format!("did you mean tag:{key}={v}?"))
            .unwrap_or_else(|| format!("values of `{key}`: {}", known.join(", ")));
        self.error(span, message, Some(help))
    }

    fn by_status(
        &self,
        span: &Span,
        keep: impl Fn(&AssetStatus) -> bool,
    ) -> Result<FixedBitSet, SelectionError> {
        if !self.status.is_available() {
            return Err(self.error(
                span,
                "this attribute needs the instance's status, which was not loaded".into(),
                None,
            ));
        }
        let mut set = self.empty();
        for n in self.graph.nodes() {
            if self.status.get(n).is_ok_and(&keep) {
                set.insert(n.index());
            }
        }
        Ok(set)
    }
}

fn suggest<'k>(input: &str, known: impl Iterator<Item = &'k String>, what: &str) -> Option<String> {
    let mut known: Vec<&str> = known.map(String::as_str).collect();
    known.sort_unstable();
    if known.is_empty() {
        return Some(format!("no asset declares any {what}"));
    }
    Some(match did_you_mean(input, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => {
            let shown: Vec<&str> = known.iter().take(8).copied().collect();
            let more = if known.len() > 8 { ", …" } else { "" };
            format!("{what}: {}{more}", shown.join(", "))
        }
    })
}

fn partitions_kind(def: Option<&PartitionsDefinition>) -> PartitionsValue {
    match def {
        None => PartitionsValue::None,
        Some(PartitionsDefinition::Static(_)) => PartitionsValue::Static,
        Some(PartitionsDefinition::TimeWindow(_)) => PartitionsValue::Time,
        Some(PartitionsDefinition::Multi(_)) => PartitionsValue::Multi,
        Some(PartitionsDefinition::Dynamic(_)) => PartitionsValue::Dynamic,
    }
}

#[derive(Clone, Copy)]
enum Dir {
    Up,
    Down,
}

/// Nodes within `depth` hops of `from` in one direction (not counting `from` itself unless it
/// is reached again). Breadth-first, so a depth limit counts the shortest distance.
fn walk(graph: &AssetGraph, from: &FixedBitSet, depth: Depth, dir: Dir) -> FixedBitSet {
    let mut seen = FixedBitSet::with_capacity(graph.len());
    let mut frontier: Vec<NodeIx> = from.ones().map(NodeIx::new).collect();
    let max = depth.unwrap_or(u32::MAX);
    let mut level = 0;
    let mut next = Vec::new();
    while !frontier.is_empty() && level < max {
        for &n in &frontier {
            match dir {
                Dir::Up => {
                    for p in graph.parents(n) {
                        if !seen.put(p.index()) {
                            next.push(p);
                        }
                    }
                }
                Dir::Down => {
                    for c in graph.children(n) {
                        if !seen.put(c.index()) {
                            next.push(c);
                        }
                    }
                }
            }
        }
        std::mem::swap(&mut frontier, &mut next);
        next.clear();
        level += 1;
    }
    seen
}

/// Anchored wildcard match: `*` matches any run of characters (including `/`).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_is_anchored_and_crosses_slashes() {
        assert!(glob("a*", "abc"));
        assert!(glob("raw/*", "raw/docs/x"));
        assert!(glob("*docs*", "raw/docs/x"));
        assert!(glob("**", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(!glob("a*c", "abcd"));
        assert!(!glob("b", "abc"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
    }
}
