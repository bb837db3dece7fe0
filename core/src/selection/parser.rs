//! Recursive-descent parser of one clause of the selection grammar (Dagster's
//! `AssetSelection.g4`, plus `status:`, `changed:` and dbt's `@`):
//!
//! ```text
//! clause    := or
//! or        := and (("or" | "OR") and)*
//! and       := not (("and" | "AND") not)*
//! not       := ("not" | "NOT") not | traversal
//! traversal := "*"                              every materializable asset; no traversal
//!            | "@" primary                      dbt: X, descendants, their ancestors
//!            | (DIGITS? "+")? primary ("+" DIGITS?)?
//! primary   := NAME ":" value ("=" value)?       attribute
//!            | ("roots" | "sinks") "(" or ")"
//!            | "(" or ")"
//! ```

use super::SelectionError;
use super::ast::{
    Attr, ChangedValue, Depth, Expr, IsValue, PartitionsValue, Span, StatusValue, Value,
};
use super::lexer::{Tok, Token, tokenize};
use crate::model::error::did_you_mean;

/// Attribute names this grammar resolves.
pub(crate) const ATTRIBUTES: &[&str] = &[
    "key",
    "tag",
    "owner",
    "group",
    "kind",
    "is",
    "partitions",
    "status",
    "changed",
    "not_materialized_in_hours",
];

/// Dagster attributes that only its UI resolves; named so the error can say so.
const UNSUPPORTED: &[&str] = &[
    "column",
    "table_name",
    "column_tag",
    "code_location",
    "changed_in_branch",
    "automation_type",
    "sensor",
    "schedule",
    "job",
];

const FUNCTIONS: &[&str] = &["roots", "sinks"];

/// How deeply parentheses, functions, `not` and `@` may nest. The parser and the resolver
/// recurse once per level; a limit keeps a hostile string (`((((…` ten thousand deep) from
/// overflowing the stack, far above anything written by hand.
pub const MAX_NESTING: usize = 100;

/// Parses `input[range]` as one clause of the grammar.
pub(crate) fn parse(input: &str, range: Span) -> Result<Expr, SelectionError> {
    let tokens = tokenize(&input[range.clone()])
        .map_err(|e| e.shifted(input, range.start))?
        .into_iter()
        .map(|t| Token {
            tok: t.tok,
            span: t.span.start + range.start..t.span.end + range.start,
        })
        .collect();
    let mut p = Parser {
        input,
        end: range.end,
        tokens,
        pos: 0,
        nesting: 0,
    };
    if p.tokens.is_empty() {
        return Err(p.error_at(range.clone(), "empty clause".into(), None));
    }
    let expr = p.or()?;
    if let Some(t) = p.peek() {
        let help = match &t.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") => Some(
                format!("write `{}` in lower or upper case", w.to_lowercase()),
            ),
            Tok::Word(_) | Tok::Quoted(_) => {
                Some("combine selections with `and` / `or`, or separate clauses with commas".into())
            }
            Tok::Colon => Some("quote a value that contains `:`, e.g. owner:\"team:ml\"".into()),
            _ => None,
        };
        return Err(p.error_at(
            t.span.clone(),
            format!(
                "unexpected {}: expected `and`, `or` or the end of the clause",
                t.tok.describe()
            ),
            help,
        ));
    }
    Ok(expr)
}

struct Parser<'a> {
    input: &'a str,
    end: usize,
    tokens: Vec<Token>,
    pos: usize,
    /// Levels of nesting entered so far (see [`MAX_NESTING`]).
    nesting: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, n: usize) -> Option<&Token> {
        self.tokens.get(self.pos + n)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn error_at(&self, span: Span, message: String, help: Option<String>) -> SelectionError {
        SelectionError::new(self.input, span, message, help)
    }

    /// Enters one level of nesting opened at `span`; an error past [`MAX_NESTING`].
    fn enter(&mut self, span: &Span) -> Result<(), SelectionError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.error_at(
                span.clone(),
                format!("nested too deeply (limit {MAX_NESTING})"),
                Some(
                    "write the selection with fewer levels of `(`, `not`, `@`, roots() or sinks()"
                        .into(),
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    /// An error at the next token, or at the end of the clause.
    fn expected(&self, what: &str) -> SelectionError {
        match self.peek() {
            Some(t) => self.error_at(
                t.span.clone(),
                format!("expected {what}, found {}", t.tok.describe()),
                None,
            ),
            None => self.error_at(
                self.end..self.end,
                format!("expected {what}, found the end of the clause"),
                None,
            ),
        }
    }

    fn is_keyword(&self, words: [&str; 2]) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if words.contains(&w.as_str()))
    }

    fn or(&mut self) -> Result<Expr, SelectionError> {
        let mut parts = vec![self.and()?];
        while self.is_keyword(["or", "OR"]) {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, SelectionError> {
        let mut parts = vec![self.not()?];
        while self.is_keyword(["and", "AND"]) {
            self.next();
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn not(&mut self) -> Result<Expr, SelectionError> {
        if self.is_keyword(["not", "NOT"])
            && !matches!(self.peek_at(1).map(|t| &t.tok), Some(Tok::Colon))
        {
            let not = self.next().map(|t| t.span).unwrap_or_default();
            self.enter(&not)?;
            let inner = self.not()?;
            self.leave();
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.traversal()
    }

    fn traversal(&mut self) -> Result<Expr, SelectionError> {
        let Some(first) = self.peek().cloned() else {
            return Err(self.expected("a selection"));
        };
        match &first.tok {
            Tok::Star => {
                self.next();
                if let Some(t) = self.peek().filter(|t| t.tok == Tok::Plus) {
                    return Err(self.lone_star(t.span.clone()));
                }
                return Ok(Expr::All { span: first.span });
            }
            Tok::At => {
                self.next();
                if matches!(self.peek().map(|t| &t.tok), Some(Tok::Star)) {
                    return Err(self.lone_star(first.span.start..first.span.end + 1));
                }
                self.enter(&first.span)?;
                let inner = self.primary()?;
                self.leave();
                if let Some(t) = self.peek().filter(|t| t.tok == Tok::Plus) {
                    return Err(self.error_at(
                        t.span.clone(),
                        "`@` cannot be combined with `+`".into(),
                        Some("`@X` already holds every descendant of X".into()),
                    ));
                }
                return Ok(Expr::At(Box::new(inner)));
            }
            _ => {}
        }
        // Upward traversal: `+X` or `N+X`.
        let mut up: Option<Depth> = None;
        match (&first.tok, self.peek_at(1).map(|t| &t.tok)) {
            (Tok::Plus, _) => {
                self.next();
                up = Some(None);
            }
            (Tok::Word(w), Some(Tok::Plus)) if is_digits(w) => {
                let depth = self.depth(w, &first.span)?;
                self.next();
                self.next();
                up = Some(Some(depth));
            }
            _ => {}
        }
        if up.is_some() && matches!(self.peek().map(|t| &t.tok), Some(Tok::Star)) {
            let span = self.peek().map_or(first.span.clone(), |t| t.span.clone());
            return Err(self.lone_star(span));
        }
        let inner = self.primary()?;
        // Downward traversal: `X+` or `X+N`.
        let mut down: Option<Depth> = None;
        if self.peek().is_some_and(|t| t.tok == Tok::Plus) {
            self.next();
            down = Some(None);
            if let Some(Token {
                tok: Tok::Word(w),
                span,
            }) = self.peek().cloned()
                && is_digits(&w)
            {
                down = Some(Some(self.depth(&w, &span)?));
                self.next();
            }
        }
        let inner = Box::new(inner);
        Ok(match (up, down) {
            (None, None) => *inner,
            (Some(depth), None) => Expr::Up { inner, depth },
            (None, Some(depth)) => Expr::Down { inner, depth },
            (Some(up), Some(down)) => Expr::UpDown { inner, up, down },
        })
    }

    fn lone_star(&self, span: Span) -> SelectionError {
        self.error_at(
            span,
            "`*` (every asset) cannot carry a traversal".into(),
            Some(
                "`*` already holds every asset; to match keys write key:\"*\" or key:\"prefix/*\""
                    .into(),
            ),
        )
    }

    fn depth(&self, digits: &str, span: &Span) -> Result<u32, SelectionError> {
        digits.parse::<u32>().map_err(|_| {
            self.error_at(
                span.clone(),
                format!("traversal depth {digits} is too large"),
                None,
            )
        })
    }

    fn primary(&mut self) -> Result<Expr, SelectionError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.expected("an attribute such as key:NAME, a function, or `(`"));
        };
        match &t.tok {
            Tok::LParen => {
                self.next();
                self.enter(&t.span)?;
                let inner = self.or()?;
                self.leave();
                self.close_paren(&t.span)?;
                Ok(inner)
            }
            Tok::Word(name) => {
                let next = self.peek_at(1).map(|n| n.tok.clone());
                match next {
                    Some(Tok::Colon) => self.attribute(name, &t.span),
                    Some(Tok::LParen) if FUNCTIONS.contains(&name.as_str()) => {
                        self.next();
                        let open = self.next().map(|o| o.span).unwrap_or(t.span.clone());
                        self.enter(&t.span)?;
                        let inner = self.or()?;
                        self.leave();
                        self.close_paren(&open)?;
                        Ok(if name == "roots" {
                            Expr::Roots(Box::new(inner))
                        } else {
                            Expr::Sinks(Box::new(inner))
                        })
                    }
                    Some(Tok::LParen) => {
                        let hint = did_you_mean(name, FUNCTIONS.iter().copied())
                            .map(|f| format!("did you mean `{f}(`?"))
                            .or_else(|| Some("the functions are roots(...) and sinks(...)".into()));
                        Err(self.error_at(
                            t.span.clone(),
                            format!("unknown function `{name}`"),
                            hint,
                        ))
                    }
                    _ if FUNCTIONS.contains(&name.as_str()) => Err(self.error_at(
                        t.span.clone(),
                        format!("expected `(` after `{name}`"),
                        Some(format!("write {name}(SELECTION)")),
                    )),
                    _ => Err(self.bare_word(name, &t.span)),
                }
            }
            Tok::Quoted(q) => Err(self.error_at(
                t.span.clone(),
                format!(
                    "expected an attribute such as key:NAME, a function, or `(`, found \"{q}\""
                ),
                Some(format!("to select by key write key:\"{q}\"")),
            )),
            _ => Err(self.expected("an attribute such as key:NAME, a function, or `(`")),
        }
    }

    fn close_paren(&mut self, open: &Span) -> Result<(), SelectionError> {
        match self.peek() {
            Some(t) if t.tok == Tok::RParen => {
                self.next();
                Ok(())
            }
            Some(t) => Err(self.error_at(
                t.span.clone(),
                format!(
                    "expected `)` to close the `(` at column {}, found {}",
                    open.start + 1,
                    t.tok.describe()
                ),
                None,
            )),
            None => Err(self.error_at(
                open.clone(),
                "this `(` is never closed".into(),
                Some("add the matching `)`".into()),
            )),
        }
    }

    /// A word where an attribute or `(` was expected.
    fn bare_word(&self, word: &str, span: &Span) -> SelectionError {
        let lower = word.to_ascii_lowercase();
        if matches!(lower.as_str(), "and" | "or") {
            return self.error_at(
                span.clone(),
                format!("expected a selection, found the operator `{word}`"),
                Some(format!("`{lower}` needs a selection on each side")),
            );
        }
        if matches!(lower.as_str(), "not" | "and" | "or") {
            return self.error_at(
                span.clone(),
                format!("`{word}` is not an operator: operators are all lower or all upper case"),
                Some(format!("write `{lower}` or `{}`", lower.to_uppercase())),
            );
        }
        let help = if let Some(attr) = ATTRIBUTES.iter().find(|a| **a == lower) {
            Some(format!("attributes are written `{attr}:VALUE`"))
        } else if let Some(attr) = did_you_mean(&lower, ATTRIBUTES.iter().copied()) {
            Some(format!("did you mean `{attr}:`?"))
        } else {
            Some(format!(
                "to select an asset by key write key:{word}; a bare name works only as a whole clause"
            ))
        };
        self.error_at(
            span.clone(),
            format!("expected an attribute such as key:NAME, a function, or `(`, found `{word}`"),
            help,
        )
    }

    fn attribute(&mut self, name: &str, span: &Span) -> Result<Expr, SelectionError> {
        if !ATTRIBUTES.contains(&name) {
            if UNSUPPORTED.contains(&name) {
                return Err(self.error_at(
                    span.clone(),
                    format!("`{name}:` is a Dagster UI attribute that Stemma does not resolve"),
                    Some(format!("supported attributes: {}", ATTRIBUTES.join(", "))),
                ));
            }
            let lower = name.to_ascii_lowercase();
            let help = if ATTRIBUTES.contains(&lower.as_str()) {
                format!("attribute names are lower case: `{lower}:`")
            } else if let Some(a) = did_you_mean(&lower, ATTRIBUTES.iter().copied()) {
                format!("did you mean `{a}:`?")
            } else {
                format!("attributes are {}", ATTRIBUTES.join(", "))
            };
            return Err(self.error_at(
                span.clone(),
                format!("unknown attribute `{name}:`"),
                Some(help),
            ));
        }
        self.next(); // name
        self.next(); // colon
        let (value, value_span) = self.value(&format!("{name}:"), name == "key")?;
        let start = span.start;
        let attr = match name {
            "key" => {
                let Value::Text(pattern) = value else {
                    return Err(self.error_at(
                        value_span,
                        "`key:` needs a key or a pattern, not <null>".into(),
                        None,
                    ));
                };
                Attr::Key(pattern)
            }
            "tag" => {
                let Value::Text(key) = value else {
                    return Err(self.error_at(
                        value_span,
                        "`tag:` needs a tag name, not <null>".into(),
                        None,
                    ));
                };
                self.no_wildcard(&key, &value_span, name)?;
                let tag_value = if self.peek().is_some_and(|t| t.tok == Tok::Equals) {
                    self.next();
                    let (v, vspan) = self.value(&format!("tag:{key}="), false)?;
                    match v {
                        Value::Text(v) => {
                            self.no_wildcard(&v, &vspan, name)?;
                            v
                        }
                        Value::Null => String::new(),
                    }
                } else {
                    String::new()
                };
                Attr::Tag {
                    key,
                    value: tag_value,
                }
            }
            "owner" | "kind" => {
                if let Value::Text(v) = &value {
                    self.no_wildcard(v, &value_span, name)?;
                }
                if name == "owner" {
                    Attr::Owner(value)
                } else {
                    Attr::Kind(value)
                }
            }
            "group" => {
                if let Value::Text(v) = &value
                    && v.contains('*')
                    && !self.was_quoted(&value_span)
                {
                    return Err(self.error_at(
                        value_span,
                        "a group pattern must be quoted".into(),
                        Some(format!("write group:\"{v}\"")),
                    ));
                }
                Attr::Group(value)
            }
            "is" => Attr::Is(self.choice(
                &value,
                &value_span,
                name,
                &[
                    ("external", IsValue::External),
                    ("materializable", IsValue::Materializable),
                ],
            )?),
            "partitions" => {
                if value == Value::Null {
                    Attr::Partitions(PartitionsValue::None)
                } else {
                    Attr::Partitions(self.choice(
                        &value,
                        &value_span,
                        name,
                        &[
                            ("none", PartitionsValue::None),
                            ("static", PartitionsValue::Static),
                            ("time", PartitionsValue::Time),
                            ("dynamic", PartitionsValue::Dynamic),
                            ("multi", PartitionsValue::Multi),
                            ("multipartitions", PartitionsValue::Multi),
                        ],
                    )?)
                }
            }
            "status" => Attr::Status(self.choice(
                &value,
                &value_span,
                name,
                &[
                    ("materialized", StatusValue::Materialized),
                    ("missing", StatusValue::Missing),
                    ("stale", StatusValue::Stale),
                    ("fresh", StatusValue::Fresh),
                    ("failed", StatusValue::Failed),
                ],
            )?),
            "changed" => Attr::Changed(self.choice(
                &value,
                &value_span,
                name,
                &[
                    ("code", ChangedValue::Code),
                    ("deps", ChangedValue::Deps),
                    ("any", ChangedValue::Any),
                ],
            )?),
            "not_materialized_in_hours" => {
                let hours = match &value {
                    Value::Text(v) if is_digits(v) => v.parse::<u32>().ok(),
                    _ => None,
                };
                let Some(hours) = hours else {
                    return Err(self.error_at(
                        value_span,
                        "`not_materialized_in_hours:` takes a whole number of hours".into(),
                        Some("e.g. not_materialized_in_hours:24".into()),
                    ));
                };
                Attr::NotMaterializedInHours(hours)
            }
            _ => unreachable!("attribute names were checked"),
        };
        let end = self
            .tokens
            .get(self.pos.saturating_sub(1))
            .map_or(self.end, |t| t.span.end);
        Ok(Expr::Attr {
            attr,
            span: start..end,
        })
    }

    /// The value after `label` (`attr:` or `tag:K=`).
    fn value(&mut self, label: &str, is_key: bool) -> Result<(Value, Span), SelectionError> {
        match self.peek().cloned() {
            Some(Token {
                tok: Tok::Word(w),
                span,
            }) => {
                self.next();
                Ok((Value::Text(w), span))
            }
            Some(Token {
                tok: Tok::Quoted(q),
                span,
            }) => {
                self.next();
                Ok((Value::Text(q), span))
            }
            Some(Token {
                tok: Tok::Null,
                span,
            }) => {
                self.next();
                Ok((Value::Null, span))
            }
            Some(Token {
                tok: Tok::Star,
                span,
            }) if is_key => Err(self.error_at(
                span,
                "`key:*` is not a pattern: a lone `*` means every asset".into(),
                Some("write key:\"*\" to match every key (external ones too), or `*` alone".into()),
            )),
            _ => Err(self.expected(&format!(
                "a value after `{label}` (a name, or a \"quoted string\")"
            ))),
        }
    }

    fn was_quoted(&self, span: &Span) -> bool {
        self.input[span.clone()].starts_with('"')
    }

    fn no_wildcard(&self, value: &str, span: &Span, attr: &str) -> Result<(), SelectionError> {
        if value.contains('*') && !self.was_quoted(span) {
            return Err(self.error_at(
                span.clone(),
                format!("`{attr}:` does not take a wildcard"),
                Some("wildcards work in key: and in quoted group: values".into()),
            ));
        }
        Ok(())
    }

    fn choice<T: Copy>(
        &self,
        value: &Value,
        span: &Span,
        attr: &str,
        options: &[(&str, T)],
    ) -> Result<T, SelectionError> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        if let Value::Text(v) = value
            && let Some((_, t)) = options.iter().find(|(n, _)| *n == v.as_str())
        {
            return Ok(*t);
        }
        let shown = match value {
            Value::Text(v) => v.clone(),
            Value::Null => "<null>".into(),
        };
        let help = match value {
            Value::Text(v) => did_you_mean(v, names.iter().copied())
                .map(|s| format!("did you mean `{attr}:{s}`?")),
            Value::Null => None,
        }
        .or_else(|| Some(format!("`{attr}:` takes {}", names.join(", "))));
        Err(self.error_at(
            span.clone(),
            format!("`{attr}:{shown}` is not a valid value"),
            help,
        ))
    }
}

pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s, 0..s.len()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> SelectionError {
        parse(s, 0..s.len()).unwrap_err()
    }

    fn key(k: &str) -> Expr {
        Expr::Attr {
            attr: Attr::Key(k.into()),
            span: 0..0,
        }
    }

    /// Structure without spans, for comparisons.
    fn shape(e: &Expr) -> String {
        match e {
            Expr::All { .. } => "*".into(),
            Expr::Name { name, .. } => name.clone(),
            Expr::Attr { attr, .. } => format!("{attr:?}"),
            Expr::Not(x) => format!("not({})", shape(x)),
            Expr::And(xs) => format!(
                "and({})",
                xs.iter().map(shape).collect::<Vec<_>>().join(",")
            ),
            Expr::Or(xs) => format!("or({})", xs.iter().map(shape).collect::<Vec<_>>().join(",")),
            Expr::Up { inner, depth } => format!("up{depth:?}({})", shape(inner)),
            Expr::Down { inner, depth } => format!("down{depth:?}({})", shape(inner)),
            Expr::UpDown { inner, up, down } => format!("updown{up:?}{down:?}({})", shape(inner)),
            Expr::Roots(x) => format!("roots({})", shape(x)),
            Expr::Sinks(x) => format!("sinks({})", shape(x)),
            Expr::At(x) => format!("at({})", shape(x)),
        }
    }

    #[test]
    fn precedence_is_not_and_or() {
        assert_eq!(
            shape(&p("not key:a and key:b or key:c")),
            format!(
                "or(and(not({}),{}),{})",
                shape(&key("a")),
                shape(&key("b")),
                shape(&key("c"))
            )
        );
        assert_eq!(
            shape(&p("key:a OR (key:b AND NOT key:c)")),
            format!(
                "or({},and({},not({})))",
                shape(&key("a")),
                shape(&key("b")),
                shape(&key("c"))
            )
        );
    }

    #[test]
    fn traversals_bind_to_their_operand() {
        assert_eq!(
            shape(&p("2+key:a+3")),
            format!("updownSome(2)Some(3)({})", shape(&key("a")))
        );
        assert_eq!(shape(&p("+key:a")), format!("upNone({})", shape(&key("a"))));
        assert_eq!(
            shape(&p("key:a+ and +key:b")),
            format!(
                "and(downNone({}),upNone({}))",
                shape(&key("a")),
                shape(&key("b"))
            )
        );
        assert_eq!(
            shape(&p("not key:a+")),
            format!("not(downNone({}))", shape(&key("a")))
        );
        assert_eq!(
            shape(&p("+(key:a or key:b)")),
            format!("upNone(or({},{}))", shape(&key("a")), shape(&key("b")))
        );
        assert_eq!(shape(&p("sinks(roots(*))")), "sinks(roots(*))");
        assert_eq!(shape(&p("@key:a")), format!("at({})", shape(&key("a"))));
    }

    #[test]
    fn attribute_values() {
        assert!(
            matches!(p("tag:foo"), Expr::Attr { attr: Attr::Tag { ref key, ref value }, .. } if key == "foo" && value.is_empty())
        );
        assert!(
            matches!(p(r#"tag:"a b"="c d""#), Expr::Attr { attr: Attr::Tag { ref key, ref value }, .. } if key == "a b" && value == "c d")
        );
        assert!(matches!(
            p("owner:<null>"),
            Expr::Attr {
                attr: Attr::Owner(Value::Null),
                ..
            }
        ));
        assert!(
            matches!(p(r#"group:"mark*""#), Expr::Attr { attr: Attr::Group(Value::Text(ref g)), .. } if g == "mark*")
        );
        assert!(matches!(p("key:**"), Expr::Attr { attr: Attr::Key(ref k), .. } if k == "**"));
        assert!(matches!(p("key:and"), Expr::Attr { attr: Attr::Key(ref k), .. } if k == "and"));
        assert!(matches!(
            p("partitions:multipartitions"),
            Expr::Attr {
                attr: Attr::Partitions(PartitionsValue::Multi),
                ..
            }
        ));
        assert!(matches!(
            p("not_materialized_in_hours:24"),
            Expr::Attr {
                attr: Attr::NotMaterializedInHours(24),
                ..
            }
        ));
    }

    #[test]
    fn dagster_invalid_strings_are_errors() {
        for s in [
            "+",
            "*+",
            "**key:a",
            "not",
            "key:a key:b",
            "key:a and and",
            "key:a and",
            "sinks",
            "owner",
            "tag:foo=",
            "owner:owner@owner.com",
            "owner:<none>",
            "key:<fake>",
            "is:nonsense",
            "is:observable",
            "key:*",
            "+*",
            "(key:a",
            "key:a)",
            "roots()",
            "@*",
        ] {
            assert!(parse(s, 0..s.len()).is_err(), "{s} should not parse");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_at_the_level_where_it_stopped() {
        let deep = |open: &str, close: &str, n: usize| {
            format!("{}key:chunks{}", open.repeat(n), close.repeat(n))
        };
        // At the limit it parses; one more level is refused, not a stack overflow.
        p(&deep("(", ")", MAX_NESTING));
        for (s, opener) in [
            (deep("(", ")", 5000), "("),
            (deep("not ", "", 30000), "not"),
            (deep("roots(", ")", 5000), "roots"),
            (deep("@(", ")", 20000), "@"),
            (deep("sinks(not (", "))", 3000), "not"),
        ] {
            let e = err(&s);
            assert!(e.message().contains("nested too deeply (limit 100)"), "{e}");
            assert_eq!(&s[e.span()], opener, "{}", e.message());
            // The caret is under the first level past the limit.
            let before = &s[..e.span().start];
            let levels = before.matches('(').count()
                + before.matches("not").count()
                + before.matches('@').count();
            assert_eq!(levels, MAX_NESTING, "{}", e.message());
        }
    }

    #[test]
    fn errors_suggest_attributes_and_values() {
        let e = err("Key:a");
        assert!(e.to_string().contains("lower case: `key:`"), "{e}");
        let e = err("tags:pii");
        assert!(e.to_string().contains("did you mean `tag:`?"), "{e}");
        let e = err("gruop:rag");
        assert!(e.to_string().contains("did you mean `group:`?"), "{e}");
        let e = err("status:stael");
        assert!(
            e.to_string().contains("did you mean `status:stale`?"),
            "{e}"
        );
        let e = err("key:a And key:b");
        assert_eq!(e.span(), 6..9);
        let e = err("Not key:chunks");
        assert!(e.help().unwrap().contains("write `not` or `NOT`"), "{e}");
        assert!(!e.to_string().contains("key:Not"), "{e}");
        let e = err("key:a or chunks");
        assert!(e.to_string().contains("write key:chunks"), "{e}");
        let e = err("column:id");
        assert!(e.to_string().contains("Dagster UI attribute"), "{e}");
        let e = err("(key:a or key:b");
        assert!(e.to_string().contains("never closed"), "{e}");
        assert_eq!(e.span(), 0..1);
    }
}
