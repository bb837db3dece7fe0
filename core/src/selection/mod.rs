//! The asset selection language.
//!
//! `lexer` → `parser` (an [`Expr`]) → [`Selection::resolve`] against an [`AssetGraph`]. This
//! first cut accepts Dagster's legacy clause forms — `NAME`, `NAME+`, `+NAME`, `NAME++`,
//! `*NAME`, `NAME*`, `+NAME+`, `*` and commas as union — with Dagster's meaning: each `+` is one
//! hop, `*` is unlimited, and a lone `*` is every materializable asset.
//!
//! Resolution is pure: a function of the expression and the graph.

mod lexer;
mod parser;

use std::fmt;
use std::ops::Range;

use fixedbitset::FixedBitSet;

pub use parser::{Depth, Expr};

use crate::graph::AssetGraph;
use crate::key::AssetKey;

/// A parse or resolve error, with the position in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionError {
    input: String,
    span: Range<usize>,
    message: String,
    help: Option<String>,
}

impl SelectionError {
    pub(crate) fn new(
        input: &str,
        span: Range<usize>,
        message: String,
        help: Option<String>,
    ) -> Self {
        SelectionError {
            input: input.to_owned(),
            span,
            message,
            help,
        }
    }

    /// Byte range of the offending part of the input.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let col = self.input[..self.span.start.min(self.input.len())]
            .chars()
            .count();
        let width = self
            .input
            .get(self.span.clone())
            .map_or(1, |s| s.chars().count().max(1));
        writeln!(
            f,
            "invalid selection at column {}: {}",
            col + 1,
            self.message
        )?;
        writeln!(f, "  {}", self.input)?;
        write!(f, "  {}{}", " ".repeat(col), "^".repeat(width))?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SelectionError {}

/// A parsed selection expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    text: String,
    expr: Expr,
}

impl Selection {
    pub fn parse(text: &str) -> Result<Self, SelectionError> {
        let tokens = lexer::tokenize(text)?;
        let expr = parser::parse(text, &tokens)?;
        Ok(Selection {
            text: text.to_owned(),
            expr,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The assets the selection names, as a set of node ids. External assets are included when
    /// named or reached by a traversal; `*` alone covers materializable assets only.
    pub fn resolve(&self, graph: &AssetGraph) -> Result<FixedBitSet, SelectionError> {
        self.eval(&self.expr, graph)
    }

    fn eval(&self, expr: &Expr, graph: &AssetGraph) -> Result<FixedBitSet, SelectionError> {
        let mut set = FixedBitSet::with_capacity(graph.len());
        match expr {
            Expr::All { .. } => {
                for (i, def) in graph.assets() {
                    if !def.is_external() {
                        set.insert(i);
                    }
                }
            }
            Expr::Key { key, span } => set.insert(self.lookup(graph, key, span)?),
            Expr::Traverse { inner, up, down } => {
                let base = self.eval(inner, graph)?;
                set.union_with(&base);
                if let Some(d) = up {
                    set.union_with(&walk(graph, &base, *d, Walk::Up));
                }
                if let Some(d) = down {
                    set.union_with(&walk(graph, &base, *d, Walk::Down));
                }
            }
            Expr::Union(parts) => {
                for part in parts {
                    set.union_with(&self.eval(part, graph)?);
                }
            }
        }
        Ok(set)
    }

    fn lookup(
        &self,
        graph: &AssetGraph,
        key: &str,
        span: &Range<usize>,
    ) -> Result<usize, SelectionError> {
        let parsed = AssetKey::parse(key)
            .map_err(|e| SelectionError::new(&self.text, span.clone(), e.to_string(), None))?;
        graph.node(&parsed).ok_or_else(|| {
            let help = graph
                .suggest(key)
                .map(|s| format!("did you mean \"{s}\"?"))
                .or_else(|| Some("`assets list` shows every asset".into()));
            SelectionError::new(
                &self.text,
                span.clone(),
                format!("unknown asset \"{key}\""),
                help,
            )
        })
    }

    /// For a single `up? KEY down?` clause: the same clause with `hops` levels of upstream, as
    /// text (`++embeddings+`). `None` for other shapes.
    pub fn with_upstream(&self, hops: Depth) -> Option<String> {
        let (key, down) = match &self.expr {
            Expr::Key { key, .. } => (key, None),
            Expr::Traverse { inner, down, .. } => match inner.as_ref() {
                Expr::Key { key, .. } => (key, *down),
                _ => return None,
            },
            _ => return None,
        };
        let side = |d: Option<Depth>| match d {
            None => String::new(),
            Some(Depth::Unlimited) => "*".into(),
            Some(Depth::Hops(n)) => "+".repeat(n as usize),
        };
        Some(format!("{}{key}{}", side(Some(hops)), side(down)))
    }

    /// The upstream depth of a single clause (0 when it has none).
    pub fn upstream_depth(&self) -> Option<Depth> {
        match &self.expr {
            Expr::Key { .. } => Some(Depth::Hops(0)),
            Expr::Traverse { up, .. } => Some(up.unwrap_or(Depth::Hops(0))),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Walk {
    Up,
    Down,
}

/// Nodes reachable from `from` within `depth` hops in one direction (excluding `from` itself
/// unless reached again).
fn walk(graph: &AssetGraph, from: &FixedBitSet, depth: Depth, dir: Walk) -> FixedBitSet {
    let mut seen = FixedBitSet::with_capacity(graph.len());
    let mut frontier: Vec<usize> = from.ones().collect();
    let max = match depth {
        Depth::Hops(n) => n,
        Depth::Unlimited => u32::MAX,
    };
    let mut level = 0;
    while !frontier.is_empty() && level < max {
        let mut next = Vec::new();
        for n in frontier {
            let neighbours: Box<dyn Iterator<Item = usize>> = match dir {
                Walk::Up => Box::new(graph.parents(n)),
                Walk::Down => Box::new(graph.children(n)),
            };
            for m in neighbours {
                if !seen.put(m) {
                    next.push(m);
                }
            }
        }
        frontier = next;
        level += 1;
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::AssetDef;
    use crate::graph::tests::{asset, graph};

    /// raw → chunks → embeddings → eval → model → predictions, embeddings → predictions,
    /// plus an external `vendor` feeding `raw`.
    fn rag() -> AssetGraph {
        graph(vec![
            AssetDef::external("vendor").build(),
            asset("raw", &["vendor"]),
            asset("chunks", &["raw"]),
            asset("embeddings", &["chunks"]),
            asset("eval", &["embeddings", "chunks"]),
            asset("model", &["embeddings"]),
            asset("predictions", &["model", "embeddings"]),
            asset("other/thing", &[]),
        ])
    }

    fn sel(g: &AssetGraph, s: &str) -> Vec<String> {
        let set = Selection::parse(s).unwrap().resolve(g).unwrap();
        let mut keys: Vec<String> = set.ones().map(|i| g.key(i).to_string()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn legacy_forms_mean_what_they_mean_in_dagster() {
        let g = rag();
        assert_eq!(sel(&g, "embeddings"), ["embeddings"]);
        assert_eq!(
            sel(&g, "embeddings+"),
            ["embeddings", "eval", "model", "predictions"]
        );
        assert_eq!(sel(&g, "model+"), ["model", "predictions"]);
        assert_eq!(sel(&g, "raw++"), ["chunks", "embeddings", "eval", "raw"]);
        // Two hops from chunks: eval reads chunks directly, predictions reads embeddings.
        assert_eq!(
            sel(&g, "chunks++"),
            ["chunks", "embeddings", "eval", "model", "predictions"]
        );
        assert_eq!(sel(&g, "+embeddings"), ["chunks", "embeddings"]);
        assert_eq!(
            sel(&g, "*embeddings"),
            ["chunks", "embeddings", "raw", "vendor"]
        );
        assert_eq!(sel(&g, "model*"), ["model", "predictions"]);
        assert_eq!(sel(&g, "+model+"), ["embeddings", "model", "predictions"]);
        assert_eq!(sel(&g, "other/thing, model"), ["model", "other/thing"]);
        // `*` is every materializable asset: the external one is not in it.
        assert_eq!(sel(&g, "*").len(), 7);
        assert!(!sel(&g, "*").contains(&"vendor".to_string()));
    }

    #[test]
    fn unknown_keys_get_a_caret_and_a_suggestion() {
        let g = rag();
        let err = Selection::parse("chunks, embedings+")
            .unwrap()
            .resolve(&g)
            .unwrap_err();
        assert_eq!(err.span(), 8..17);
        let text = err.to_string();
        assert!(text.contains("unknown asset \"embedings\""), "{text}");
        assert!(text.contains("did you mean \"embeddings\"?"), "{text}");
        assert!(text.contains("\n          ^^^^^^^^^\n"), "{text}");
    }

    #[test]
    fn widening_upstream_rewrites_a_single_clause() {
        let s = Selection::parse("embeddings+").unwrap();
        assert_eq!(s.upstream_depth(), Some(Depth::Hops(0)));
        assert_eq!(s.with_upstream(Depth::Hops(1)).unwrap(), "+embeddings+");
        assert_eq!(s.with_upstream(Depth::Unlimited).unwrap(), "*embeddings+");
        assert!(
            Selection::parse("a,b")
                .unwrap()
                .with_upstream(Depth::Hops(1))
                .is_none()
        );
    }
}
