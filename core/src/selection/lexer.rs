//! Tokens of the selection grammar, each with its byte span.
//!
//! Words are runs of `[A-Za-z0-9_/*]`, as Dagster's unquoted strings; a lone `*` is the "all"
//! star, while a longer run containing `*` (`raw/*`, `**`) is a wildcard word — the same
//! longest-match rule as Dagster's ANTLR lexer. Keywords (`and`, `or`, `not`) are words the
//! parser recognises by position, so a key may still be called `and` (`key:and`).

use super::SelectionError;
use super::ast::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Word(String),
    Quoted(String),
    Null,
    LParen,
    RParen,
    Colon,
    Equals,
    Plus,
    Star,
    At,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Quoted(q) => format!("\"{q}\""),
            Tok::Null => "`<null>`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Equals => "`=`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Star => "`*`".into(),
            Tok::At => "`@`".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Span,
}

pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '*'
}

pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, SelectionError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = input[i..].chars().next().unwrap_or(' ');
        let start = i;
        let single = |tok: Tok| Token {
            tok,
            span: start..start + 1,
        };
        match c {
            c if c.is_whitespace() => {
                i += c.len_utf8();
            }
            '(' => {
                out.push(single(Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push(single(Tok::RParen));
                i += 1;
            }
            ':' => {
                out.push(single(Tok::Colon));
                i += 1;
            }
            '=' => {
                out.push(single(Tok::Equals));
                i += 1;
            }
            '+' => {
                out.push(single(Tok::Plus));
                i += 1;
            }
            '@' => {
                out.push(single(Tok::At));
                i += 1;
            }
            '"' => {
                let rest = &input[i + 1..];
                let end = rest.find(['"', '\n', '\r', '\\']);
                match end.map(|e| (e, rest.as_bytes()[e])) {
                    Some((e, b'"')) => {
                        out.push(Token {
                            tok: Tok::Quoted(rest[..e].to_owned()),
                            span: start..i + 1 + e + 1,
                        });
                        i += e + 2;
                    }
                    Some((e, b'\\')) => {
                        return Err(SelectionError::new(
                            input,
                            i + 1 + e..i + 2 + e,
                            "a quoted value cannot contain a backslash".into(),
                            None,
                        ));
                    }
                    _ => {
                        return Err(SelectionError::new(
                            input,
                            start..input.len(),
                            "this quoted value is never closed".into(),
                            Some("add the closing `\"`".into()),
                        ));
                    }
                }
            }
            '<' => {
                if input[i..].starts_with("<null>") {
                    out.push(Token {
                        tok: Tok::Null,
                        span: start..start + 6,
                    });
                    i += 6;
                } else {
                    return Err(SelectionError::new(
                        input,
                        start..start + 1,
                        "unexpected `<`".into(),
                        Some("`<null>` is the only value in angle brackets".into()),
                    ));
                }
            }
            c if is_word_char(c) => {
                let mut end = i;
                for ch in input[i..].chars() {
                    if !is_word_char(ch) {
                        break;
                    }
                    end += ch.len_utf8();
                }
                let word = &input[i..end];
                let tok = if word == "*" {
                    Tok::Star
                } else {
                    Tok::Word(word.to_owned())
                };
                out.push(Token {
                    tok,
                    span: start..end,
                });
                i = end;
            }
            other => {
                let help = match other {
                    '&' => Some("combine selections with `and`".to_owned()),
                    '|' => Some("combine selections with `or`".to_owned()),
                    '!' => Some("negate a selection with `not`".to_owned()),
                    ',' => Some("a comma separates whole clauses; inside one, use `or`".to_owned()),
                    '-' | '.' | '\'' => Some(
                        "quote values with other characters than letters, digits, _ and /: \
                         tag:env=\"prod-1\""
                            .to_owned(),
                    ),
                    _ => None,
                };
                return Err(SelectionError::new(
                    input,
                    start..start + other.len_utf8(),
                    format!("unexpected character {other:?}"),
                    help,
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_stars_and_strings() {
        assert_eq!(
            toks(r#"2+key:raw/* and tag:"a b"=<null>"#),
            [
                Tok::Word("2".into()),
                Tok::Plus,
                Tok::Word("key".into()),
                Tok::Colon,
                Tok::Word("raw/*".into()),
                Tok::Word("and".into()),
                Tok::Word("tag".into()),
                Tok::Colon,
                Tok::Quoted("a b".into()),
                Tok::Equals,
                Tok::Null,
            ]
        );
        assert_eq!(
            toks("* ** *a"),
            [Tok::Star, Tok::Word("**".into()), Tok::Word("*a".into())]
        );
        assert_eq!(
            toks("@(x)"),
            [Tok::At, Tok::LParen, Tok::Word("x".into()), Tok::RParen]
        );
    }

    #[test]
    fn errors_say_what_to_write() {
        let e = tokenize("key:a && key:b").unwrap_err();
        assert_eq!(e.span(), 6..7);
        assert!(e.to_string().contains("`and`"), "{e}");
        let e = tokenize(r#"tag:"open"#).unwrap_err();
        assert!(e.to_string().contains("never closed"), "{e}");
        let e = tokenize("owner:a@b.com").unwrap_err();
        assert_eq!(e.span(), 9..10);
    }
}
