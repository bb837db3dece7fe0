//! The asset selection language: Dagster's two syntaxes with Dagster's semantics, plus a few
//! things Dagster resolves only in its UI.
//!
//! A selection is one or more **clauses** joined by commas (a union, as Dagster's command line
//! splits on commas first). Each clause is read with the current grammar ([`parser`]) and, when
//! that fails, as a legacy clause ([`legacy`]) — the same order as Dagster's
//! `AssetSelection.from_string`:
//!
//! | form | meaning |
//! |---|---|
//! | `NAME`, `raw/docs` | one asset (legacy clause); an unknown name is an error |
//! | `NAME+`, `+NAME`, `NAME++` | one hop per `+` (legacy) |
//! | `*NAME`, `NAME*`, `*NAME*` | all ancestors / descendants (legacy) |
//! | `*` | every materializable asset |
//! | `key:PATTERN` | anchored; `*` matches any run of characters including `/` |
//! | `tag:K`, `tag:K=V` | `tag:K` matches only an empty value, as in Dagster |
//! | `owner:`, `group:`, `kind:`, `is:external\|materializable`, `partitions:none\|static\|time\|dynamic\|multi` | |
//! | `and`, `or`, `not` (or upper case), `( )` | precedence not > and > or |
//! | `+X`, `X+`, `N+X`, `X+N`, `N+X+M` | unlimited without N (`key:a+` is unlimited, `a+` one hop) |
//! | `roots(X)`, `sinks(X)` | |
//! | `status:materialized\|missing\|stale\|fresh\|failed` | resolved against the instance |
//! | `changed:code\|deps\|any`, `not_materialized_in_hours:N` | against the instance |
//! | `@X` | dbt: X, its descendants, and every ancestor of those |
//!
//! Resolution is pure: a function of the expression, the graph and a [`StatusSnapshot`].

mod ast;
mod legacy;
mod lexer;
mod parser;
mod resolve;
mod schedules;

use fixedbitset::FixedBitSet;

pub use ast::{
    Attr, ChangedValue, Depth, Expr, IsValue, PartitionsValue, Span, StatusValue, Value,
};

use crate::graph::AssetGraph;
use crate::model::ids::NodeIx;
use crate::model::key::AssetKey;
use crate::model::state::StatusSnapshot;

pub use crate::model::error::SelectionError;

/// One comma-separated clause.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    expr: Expr,
    span: Span,
    legacy: bool,
}

/// A parsed selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    text: String,
    clauses: Vec<Clause>,
}

impl Selection {
    pub fn parse(text: &str) -> Result<Self, SelectionError> {
        let spans = split_clauses(text)?;
        let mut clauses = Vec::with_capacity(spans.len());
        for span in spans {
            let clause = match parser::parse(text, span.clone()) {
                Ok(expr) => Clause {
                    expr,
                    span,
                    legacy: false,
                },
                Err(grammar_error) => match legacy::parse(text, span.clone()) {
                    Some(expr) => Clause {
                        expr,
                        span,
                        legacy: true,
                    },
                    None if prefers_grammar_error(&text[span.clone()]) => {
                        return Err(grammar_error);
                    }
                    None => return Err(legacy::explain(text, span)),
                },
            };
            clauses.push(clause);
        }
        Ok(Selection {
            text: text.to_owned(),
            clauses,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The expression of each clause.
    pub fn clauses(&self) -> impl Iterator<Item = &Expr> {
        self.clauses.iter().map(|c| &c.expr)
    }

    /// Whether resolving needs the instance's status (`status:`, `changed:`, ...).
    pub fn needs_status(&self) -> bool {
        self.clauses.iter().any(|c| c.expr.needs_status())
    }

    /// The assets selected, as node ids of `graph`.
    pub fn resolve(
        &self,
        graph: &AssetGraph,
        status: &StatusSnapshot,
    ) -> Result<FixedBitSet, SelectionError> {
        let resolver = resolve::Resolver {
            input: &self.text,
            graph,
            status,
        };
        let mut set = FixedBitSet::with_capacity(graph.len());
        for clause in &self.clauses {
            set.union_with(&resolver.eval(&clause.expr)?);
        }
        Ok(set)
    }

    /// The keys selected, sorted.
    pub fn resolve_keys(
        &self,
        graph: &AssetGraph,
        status: &StatusSnapshot,
    ) -> Result<Vec<AssetKey>, SelectionError> {
        let set = self.resolve(graph, status)?;
        let mut keys: Vec<AssetKey> = set
            .ones()
            .map(|n| graph.key(NodeIx::new(n)).clone())
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// For a selection of one clause of the shape `[up]X[down]`: its upstream depth (`Some(0)`
    /// when it has none, `None` when unlimited). `None` for other shapes.
    pub fn upstream_depth(&self) -> Option<Depth> {
        let [clause] = self.clauses.as_slice() else {
            return None;
        };
        match &clause.expr {
            Expr::Up { depth, .. } => Some(*depth),
            Expr::UpDown { up, .. } => Some(*up),
            Expr::Down { .. } => Some(Some(0)),
            e if is_primary(e) => Some(Some(0)),
            _ => None,
        }
    }

    /// The same single clause with `depth` levels upstream (unlimited for `None`), written in
    /// the clause's own syntax: `++embeddings+`, `*embeddings+`, `2+key:embeddings+`.
    pub fn with_upstream(&self, depth: Depth) -> Option<String> {
        let [clause] = self.clauses.as_slice() else {
            return None;
        };
        let (inner, down) = match &clause.expr {
            Expr::Up { inner, .. } => (inner.as_ref(), None),
            Expr::Down { inner, depth } => (inner.as_ref(), Some(*depth)),
            Expr::UpDown { inner, down, .. } => (inner.as_ref(), Some(*down)),
            e if is_primary(e) => (e, None),
            _ => return None,
        };
        let primary = self.primary_text(inner)?;
        Some(if clause.legacy {
            let up = match depth {
                None => "*".to_owned(),
                Some(n) => "+".repeat(n as usize),
            };
            let down = match down {
                None => String::new(),
                Some(None) => "*".to_owned(),
                Some(Some(n)) => "+".repeat(n as usize),
            };
            format!("{up}{primary}{down}")
        } else {
            let up = match depth {
                None => "+".to_owned(),
                Some(0) => String::new(),
                Some(n) => format!("{n}+"),
            };
            let down = match down {
                None => String::new(),
                Some(None) => "+".to_owned(),
                Some(Some(n)) => format!("+{n}"),
            };
            format!("{up}{primary}{down}")
        })
    }

    fn primary_text(&self, e: &Expr) -> Option<String> {
        match e {
            Expr::Name { span, .. } | Expr::Attr { span, .. } => {
                Some(self.text[span.clone()].to_owned())
            }
            _ => None,
        }
    }
}

fn is_primary(e: &Expr) -> bool {
    matches!(e, Expr::Name { .. } | Expr::Attr { .. })
}

/// Splits at commas outside quotes and parentheses; an empty clause is an error.
fn split_clauses(text: &str) -> Result<Vec<Span>, SelectionError> {
    let mut spans = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                spans.push(start..i);
                start = i + 1;
            }
            _ => {}
        }
    }
    spans.push(start..text.len());
    if spans.len() == 1 && text.trim().is_empty() {
        return Err(SelectionError::new(
            text,
            0..text.len().max(1),
            "empty selection".into(),
            Some("select assets with NAME, key:NAME, tag:K=V, group:G, `*`, ...".into()),
        )
        .pointing_to(crate::model::error::Hint::SelectionSyntax));
    }
    for (i, span) in spans.iter().enumerate() {
        if text[span.clone()].trim().is_empty() {
            // Point at the comma before the empty clause (or after it, for a leading one).
            let at = if i == 0 { span.end } else { span.start - 1 };
            return Err(SelectionError::new(
                text,
                at..at + 1,
                "empty clause between commas".into(),
                None,
            ));
        }
    }
    Ok(spans)
}

/// Whether a clause that fits neither syntax is better explained by the grammar's error
/// (it uses attributes, operators or parentheses) than by the legacy form's.
fn prefers_grammar_error(clause: &str) -> bool {
    let t = clause.trim();
    t.contains([':', '(', ')', '"', '=', '<', '@'])
        || t.split_whitespace()
            .any(|w| matches!(w, "and" | "or" | "not" | "AND" | "OR" | "NOT"))
        || !t.chars().any(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::tests::{asset, graph};
    use crate::model::definitions::AssetDef;

    fn sel(g: &AssetGraph, s: &str) -> Vec<String> {
        Selection::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .resolve_keys(g, &StatusSnapshot::unavailable())
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .into_iter()
            .map(|k| k.to_string())
            .collect()
    }

    fn rag() -> AssetGraph {
        graph(vec![
            AssetDef::external("vendor").build(),
            asset("raw", &["vendor"]),
            asset("chunks", &["raw"]),
            asset("embeddings", &["chunks"]),
            asset("eval", &["embeddings", "chunks"]),
            asset("model", &["embeddings"]),
            asset("predictions", &["model", "embeddings"]),
        ])
    }

    #[test]
    fn the_two_syntaxes_disagree_where_dagster_does() {
        let g = rag();
        assert_eq!(
            sel(&g, "embeddings+"),
            ["embeddings", "eval", "model", "predictions"]
        );
        assert_eq!(sel(&g, "chunks+"), ["chunks", "embeddings", "eval"]);
        assert_eq!(
            sel(&g, "key:chunks+"),
            ["chunks", "embeddings", "eval", "model", "predictions"]
        );
        assert_eq!(sel(&g, "key:chunks+1"), ["chunks", "embeddings", "eval"]);
        // Upward traversals drop external assets in both syntaxes.
        assert_eq!(sel(&g, "*chunks"), ["chunks", "raw"]);
        assert_eq!(sel(&g, "+key:chunks"), ["chunks", "raw"]);
        // Commas are unions of clauses of either syntax.
        assert_eq!(
            sel(&g, "model, key:raw or key:vendor"),
            ["model", "raw", "vendor"]
        );
    }

    #[test]
    fn splitting_respects_quotes_and_parentheses() {
        assert_eq!(
            split_clauses(r#"a, key:"x,y", (key:b or key:c)"#)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(split_clauses("a,,b").unwrap_err().span(), 1..2);
        assert_eq!(split_clauses(",a").unwrap_err().span(), 0..1);
        assert_eq!(split_clauses("a,").unwrap_err().span(), 1..2);
        assert!(
            split_clauses("  ")
                .unwrap_err()
                .message()
                .contains("empty selection")
        );
    }

    #[test]
    fn a_long_selection_is_shown_around_the_caret() {
        let s = format!("{}key:chunks{}", "(".repeat(5000), ")".repeat(5000));
        let text = Selection::parse(&s).unwrap_err().to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("invalid selection at column 101: nested too deeply (limit 100)"),
            "{text}"
        );
        assert!(
            lines[1].chars().count() <= crate::model::error::SHOWN + 4,
            "{}",
            lines[1]
        );
        assert!(lines[1].starts_with("  …") && lines[1].ends_with('…'));
        let caret = lines[2].find('^').unwrap();
        assert_eq!(lines[1].chars().nth(caret), Some('('));
        assert_eq!(lines[2].trim(), "^");
    }

    #[test]
    fn widening_upstream_keeps_the_clause_syntax() {
        let s = Selection::parse("embeddings+").unwrap();
        assert_eq!(s.upstream_depth(), Some(Some(0)));
        assert_eq!(s.with_upstream(Some(2)).unwrap(), "++embeddings+");
        assert_eq!(s.with_upstream(None).unwrap(), "*embeddings+");
        let s = Selection::parse("key:embeddings+2").unwrap();
        assert_eq!(s.with_upstream(Some(1)).unwrap(), "1+key:embeddings+2");
        assert_eq!(s.with_upstream(None).unwrap(), "+key:embeddings+2");
        assert!(
            Selection::parse("a, b")
                .unwrap()
                .with_upstream(Some(1))
                .is_none()
        );
    }

    #[test]
    fn a_clause_that_fits_neither_syntax_gets_the_more_useful_error() {
        let e = Selection::parse("chunks embeddings").unwrap_err();
        assert!(
            e.message()
                .contains("unexpected `embeddings` after the asset name"),
            "{e}"
        );
        let e = Selection::parse("chunks and embeddings").unwrap_err();
        assert!(e.help().unwrap().contains("key:chunks"), "{e}");
        let e = Selection::parse("*+").unwrap_err();
        assert!(e.message().contains("cannot carry a traversal"), "{e}");
    }
}
