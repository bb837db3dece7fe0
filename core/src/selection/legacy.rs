//! Dagster's legacy clause form, what `dagster asset materialize --select` has always taken:
//! `NAME`, `+NAME`, `NAME++`, `*NAME`, `NAME*`, `*NAME*`, with `*` unlimited and one hop per
//! `+`. Dagster's regex is `^(\*?\+*)?([./\w\d\[\]?_-]+)(\+*\*?)?$`; a prefix like `*+` reads as
//! unlimited, as there. dbt's `@NAME` is accepted too.

use super::SelectionError;
use super::ast::{Depth, Expr, Span};

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '[' | ']' | '?' | '-')
}

/// Parses `input[range]` as a legacy clause, or `None` if it does not have that shape.
pub(crate) fn parse(input: &str, range: Span) -> Option<Expr> {
    let raw = &input[range.clone()];
    let lead = raw.len() - raw.trim_start().len();
    let text = raw.trim();
    let base = range.start + lead;

    if let Some(rest) = text.strip_prefix('@') {
        let name_len = rest
            .chars()
            .take_while(|c| is_name_char(*c))
            .map(char::len_utf8)
            .sum::<usize>();
        if name_len == 0 || name_len != rest.len() {
            return None;
        }
        return Some(Expr::At(Box::new(Expr::Name {
            name: rest.to_owned(),
            span: base + 1..base + 1 + name_len,
        })));
    }

    // Prefix: `*`? then `+`*.
    let mut i = 0;
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b'*') {
        i += 1;
    }
    while bytes.get(i) == Some(&b'+') {
        i += 1;
    }
    let prefix = &text[..i];
    let name_start = i;
    let name_len = text[i..]
        .chars()
        .take_while(|c| is_name_char(*c))
        .map(char::len_utf8)
        .sum::<usize>();
    if name_len == 0 {
        return None;
    }
    let name_end = name_start + name_len;
    // Suffix: `+`* then `*`?.
    let mut j = name_end;
    while bytes.get(j) == Some(&b'+') {
        j += 1;
    }
    if bytes.get(j) == Some(&b'*') {
        j += 1;
    }
    if j != text.len() {
        return None;
    }
    let suffix = &text[name_end..];
    let name = Expr::Name {
        name: text[name_start..name_end].to_owned(),
        span: base + name_start..base + name_end,
    };
    let inner = Box::new(name);
    Some(match (depth(prefix), depth(suffix)) {
        (None, None) => *inner,
        (Some(up), None) => Expr::Up { inner, depth: up },
        (None, Some(down)) => Expr::Down { inner, depth: down },
        (Some(up), Some(down)) => Expr::UpDown { inner, up, down },
    })
}

/// `""` → no traversal; anything with `*` → unlimited; `+…` → one hop each.
fn depth(part: &str) -> Option<Depth> {
    if part.is_empty() {
        None
    } else if part.contains('*') {
        Some(None)
    } else {
        Some(Some(part.len() as u32))
    }
}

/// Why a clause without attributes is not a legacy clause either: the first character that
/// cannot continue `[*][+…]NAME[+…][*]`.
pub(crate) fn explain(input: &str, range: Span) -> SelectionError {
    let raw = &input[range.clone()];
    let lead = raw.len() - raw.trim_start().len();
    let text = raw.trim();
    let base = range.start + lead;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    let span_of = |k: usize| {
        let (i, c) = chars[k];
        base + i..base + i + c.len_utf8()
    };
    let mut k = 0;
    if at(k) == Some('*') {
        k += 1;
    }
    while at(k) == Some('+') {
        k += 1;
    }
    if at(k) == Some('*') {
        return SelectionError::new(
            input,
            span_of(k),
            "`*` must come first, before any `+`".into(),
            Some("write *NAME for every ancestor, or +NAME for one level".into()),
        );
    }
    let name_start = k;
    while at(k).is_some_and(is_name_char) {
        k += 1;
    }
    if k == name_start {
        return match at(k) {
            None => SelectionError::new(
                input,
                base..base + text.len().max(1),
                "expected an asset name".into(),
                Some("a clause is `*`, NAME with optional + or * around it, or an attribute like key:NAME".into()),
            ),
            Some(c) => SelectionError::new(input, span_of(k), format!("unexpected character {c:?}"), None),
        };
    }
    let name_end = k;
    while at(k) == Some('+') {
        k += 1;
    }
    if at(k) == Some('*') {
        k += 1;
    }
    let Some(c) = at(k) else {
        return SelectionError::new(
            input,
            base..base + text.len(),
            "invalid clause".into(),
            None,
        );
    };
    let after_space = c.is_whitespace();
    if after_space {
        while at(k).is_some_and(char::is_whitespace) {
            k += 1;
        }
    }
    match at(k) {
        Some(c) if is_name_char(c) => {
            let start = k;
            while at(k).is_some_and(is_name_char) {
                k += 1;
            }
            let word: String = chars[start..k].iter().map(|&(_, c)| c).collect();
            let span = span_of(start).start..span_of(k - 1).end;
            SelectionError::new(
                input,
                span,
                format!("unexpected `{word}` after the asset name"),
                Some("one clause names one asset; separate clauses with commas, or combine attributes: key:a or key:b".into()),
            )
        }
        Some('+' | '*') if after_space => {
            let name: String = chars[name_start..name_end]
                .iter()
                .map(|&(_, c)| c)
                .collect();
            SelectionError::new(
                input,
                span_of(k),
                "`+` and `*` go right after the asset name, without a space".into(),
                Some(format!(
                    "write {name}+ for one level down, or {name}* for everything downstream"
                )),
            )
        }
        Some('+') => SelectionError::new(
            input,
            span_of(k),
            "`+` after `*`: `*` already means every level".into(),
            None,
        ),
        Some(c) => SelectionError::new(
            input,
            span_of(k),
            format!("unexpected character {c:?}"),
            None,
        ),
        None => SelectionError::new(
            input,
            base..base + text.len(),
            "invalid clause".into(),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(s: &str) -> Option<(String, Option<Depth>, Option<Depth>)> {
        let e = parse(s, 0..s.len())?;
        let (inner, up, down) = match e {
            Expr::Up { inner, depth } => (inner, Some(depth), None),
            Expr::Down { inner, depth } => (inner, None, Some(depth)),
            Expr::UpDown { inner, up, down } => (inner, Some(up), Some(down)),
            other => (Box::new(other), None, None),
        };
        let Expr::Name { name, .. } = *inner else {
            panic!()
        };
        Some((name, up, down))
    }

    #[test]
    fn dagster_legacy_forms() {
        assert_eq!(shape("a"), Some(("a".into(), None, None)));
        assert_eq!(shape(" raw/docs "), Some(("raw/docs".into(), None, None)));
        assert_eq!(shape("a+"), Some(("a".into(), None, Some(Some(1)))));
        assert_eq!(shape("++a"), Some(("a".into(), Some(Some(2)), None)));
        assert_eq!(shape("*a*"), Some(("a".into(), Some(None), Some(None))));
        assert_eq!(shape("*+a"), Some(("a".into(), Some(None), None)));
        assert_eq!(shape("a++*"), Some(("a".into(), None, Some(None))));
        assert_eq!(
            shape("+a+"),
            Some(("a".into(), Some(Some(1)), Some(Some(1))))
        );
        for bad in ["+*a", "a*+", "a b", "key:a", "", "*", "+", "a**"] {
            assert_eq!(shape(bad), None, "{bad}");
        }
        assert!(matches!(parse("@a", 0..2), Some(Expr::At(_))));
    }

    #[test]
    fn explanations_point_at_the_problem() {
        let e = explain("a b", 0..3);
        assert_eq!(e.span(), 2..3);
        let e = explain("+*a", 0..3);
        assert_eq!(e.span(), 1..2);
        let e = explain("a;b", 0..3);
        assert_eq!(e.span(), 1..2);
        let e = explain("a*+", 0..3);
        assert_eq!(e.span(), 2..3);
        let e = explain("  ", 0..2);
        assert!(e.message().contains("expected an asset name"));
    }
}
