//! Tokens of a selection expression, each with its byte span in the input.

use std::ops::Range;

use super::SelectionError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// An asset key path: `raw/documents`.
    Key(String),
    Plus,
    Star,
    Comma,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Range<usize>,
}

pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, SelectionError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let tok = match c {
            c if c.is_whitespace() => continue,
            '+' => Tok::Plus,
            '*' => Tok::Star,
            ',' => Tok::Comma,
            c if is_key_char(c) => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, n)) = chars.peek() {
                    if !is_key_char(n) {
                        break;
                    }
                    end = i + n.len_utf8();
                    chars.next();
                }
                out.push(Token {
                    tok: Tok::Key(input[start..end].to_owned()),
                    span: start..end,
                });
                continue;
            }
            other => {
                let span = start..start + other.len_utf8();
                let help = match other {
                    ':' | '(' | ')' | '"' => Some(
                        "this build understands the clause forms NAME, +NAME, NAME+, *NAME, NAME*, \
                         +NAME+, * and commas between clauses"
                            .to_owned(),
                    ),
                    _ => None,
                };
                return Err(SelectionError::new(
                    input,
                    span,
                    format!("unexpected character {other:?}"),
                    help,
                ));
            }
        };
        out.push(Token {
            tok,
            span: start..start + c.len_utf8(),
        });
    }
    Ok(out)
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '/' || c == '-' || c == '.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_with_spans() {
        let toks = tokenize("+raw/docs+, *x").unwrap();
        let kinds: Vec<&Tok> = toks.iter().map(|t| &t.tok).collect();
        assert_eq!(
            kinds,
            [
                &Tok::Plus,
                &Tok::Key("raw/docs".into()),
                &Tok::Plus,
                &Tok::Comma,
                &Tok::Star,
                &Tok::Key("x".into())
            ]
        );
        assert_eq!(toks[1].span, 1..9);
        assert_eq!(toks[5].span, 13..14);
    }

    #[test]
    fn rejects_unknown_characters_at_their_position() {
        let err = tokenize("a, b:c").unwrap_err();
        assert_eq!(err.span(), 4..5);
    }
}
