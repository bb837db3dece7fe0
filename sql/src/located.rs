//! Where in a `.sql` file a parser error is: sqlparser's messages end with `at Line: L,
//! Column: C`, which becomes a [`Position`].

/// A position in a file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

/// A message and, when known, where it points.
pub(crate) type Located = (Option<Position>, String);

/// sqlparser ends its messages with `at Line: L, Column: C`; split that off into a position.
pub(crate) fn located(message: &str) -> Located {
    let message = message.trim_start_matches("sql parser error: ").to_owned();
    if let Some(at) = message.rfind(" at Line: ") {
        let tail = &message[at + " at Line: ".len()..];
        let mut numbers = tail
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse::<u64>().ok());
        if let (Some(line), Some(column)) = (numbers.next(), numbers.next()) {
            return (Some(Position { line, column }), message[..at].to_owned());
        }
    }
    (None, message)
}
