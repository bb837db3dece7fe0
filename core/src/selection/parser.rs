//! Parses tokens into an [`Expr`].
//!
//! Grammar of this first cut (Dagster's legacy clause forms):
//!
//! ```text
//! selection := clause ("," clause)*
//! clause    := "*"                       all materializable assets
//!            | up? KEY down?
//! up        := "*" | "+"+                 all ancestors | one hop per "+"
//! down      := "*" | "+"+                 all descendants | one hop per "+"
//! ```

use std::ops::Range;

use super::SelectionError;
use super::lexer::{Tok, Token};

/// How far a traversal goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Hops(u32),
    Unlimited,
}

/// A parsed selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Every materializable asset.
    All { span: Range<usize> },
    /// One asset by key.
    Key { key: String, span: Range<usize> },
    /// `inner` plus its ancestors up to `up` and its descendants down to `down`.
    Traverse {
        inner: Box<Expr>,
        up: Option<Depth>,
        down: Option<Depth>,
    },
    /// Any of the alternatives.
    Union(Vec<Expr>),
}

pub(crate) fn parse(input: &str, tokens: &[Token]) -> Result<Expr, SelectionError> {
    if tokens.is_empty() {
        return Err(SelectionError::new(
            input,
            0..input.len().max(1),
            "empty selection".into(),
            Some("select assets with NAME, NAME+, +NAME, *NAME, NAME* or *".into()),
        ));
    }
    let mut clauses = Vec::new();
    for part in tokens.split(|t| t.tok == Tok::Comma) {
        if part.is_empty() {
            let at = comma_gap(input, tokens, &clauses);
            return Err(SelectionError::new(
                input,
                at,
                "empty clause between commas".into(),
                None,
            ));
        }
        clauses.push(clause(input, part)?);
    }
    Ok(if clauses.len() == 1 {
        clauses.remove(0)
    } else {
        Expr::Union(clauses)
    })
}

fn comma_gap(input: &str, tokens: &[Token], done: &[Expr]) -> Range<usize> {
    // Point at the comma just before the empty clause (the first one for a leading comma).
    let commas: Vec<&Token> = tokens.iter().filter(|t| t.tok == Tok::Comma).collect();
    commas
        .get(done.len().saturating_sub(1))
        .map_or(0..input.len(), |t| t.span.clone())
}

fn clause(input: &str, toks: &[Token]) -> Result<Expr, SelectionError> {
    let key_pos = toks.iter().position(|t| matches!(t.tok, Tok::Key(_)));
    let Some(k) = key_pos else {
        if toks.len() == 1 && toks[0].tok == Tok::Star {
            return Ok(Expr::All {
                span: toks[0].span.clone(),
            });
        }
        let span = toks[0].span.start..toks[toks.len() - 1].span.end;
        return Err(SelectionError::new(
            input,
            span,
            "expected an asset key".into(),
            Some("a clause is `*`, or a key with optional + or * on either side".into()),
        ));
    };
    let Tok::Key(key) = &toks[k].tok else {
        unreachable!("position found a key")
    };
    if let Some(extra) = toks[k + 1..].iter().find(|t| matches!(t.tok, Tok::Key(_))) {
        return Err(SelectionError::new(
            input,
            extra.span.clone(),
            "expected `,` between two keys".into(),
            None,
        ));
    }
    let up = depth(input, &toks[..k], "before")?;
    let down = depth(input, &toks[k + 1..], "after")?;
    let inner = Expr::Key {
        key: key.clone(),
        span: toks[k].span.clone(),
    };
    Ok(if up.is_none() && down.is_none() {
        inner
    } else {
        Expr::Traverse {
            inner: Box::new(inner),
            up,
            down,
        }
    })
}

fn depth(input: &str, toks: &[Token], side: &str) -> Result<Option<Depth>, SelectionError> {
    if toks.is_empty() {
        return Ok(None);
    }
    if toks.len() == 1 && toks[0].tok == Tok::Star {
        return Ok(Some(Depth::Unlimited));
    }
    if toks.iter().all(|t| t.tok == Tok::Plus) {
        return Ok(Some(Depth::Hops(toks.len() as u32)));
    }
    let span = toks[0].span.start..toks[toks.len() - 1].span.end;
    Err(SelectionError::new(
        input,
        span,
        format!("cannot mix `*` and `+` {side} a key"),
        Some("use `*` for all levels or one `+` per level".into()),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s, &tokenize(s).unwrap()).unwrap()
    }

    fn err(s: &str) -> SelectionError {
        match tokenize(s) {
            Ok(t) => parse(s, &t).unwrap_err(),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_the_legacy_forms() {
        assert!(matches!(p("*"), Expr::All { .. }));
        assert!(matches!(p("a"), Expr::Key { .. }));
        let Expr::Traverse { up, down, .. } = p("++a*") else {
            panic!()
        };
        assert_eq!(up, Some(Depth::Hops(2)));
        assert_eq!(down, Some(Depth::Unlimited));
        let Expr::Union(parts) = p("a+, *b") else {
            panic!()
        };
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert_eq!(err("a,,b").span(), 1..2);
        assert_eq!(err("a b").span(), 2..3);
        assert_eq!(err("+*a").span(), 0..2);
        assert_eq!(err("a,+").span(), 2..3);
        assert!(err("  ").to_string().contains("empty selection"));
    }
}
