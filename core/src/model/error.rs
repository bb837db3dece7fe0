//! The engine's error type.
//!
//! Variants say what went wrong in terms a caller can act on: the user's definitions or input
//! (`Definition`, `Selection`, `Config`, `Plan`, `PartitionRequired`, `MissingUpstream`),
//! something named that does not exist (`NotFound`), a state that forbids the request
//! (`Conflict`), a request given up (`Canceled`), the environment (`Instance`, `Storage`, `Io`),
//! or us (`Internal`). [`Error::kind`] sorts them for front ends: the CLI maps kinds to exit
//! codes in one place, an HTTP API to statuses (400, 404, 409, 503).

use std::ops::Range;
use std::path::PathBuf;

/// An error from anything an asset body returns: any `std::error::Error`, or `anyhow::Error`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Wraps any error an asset body returns to say that retrying cannot help:
/// `Err(NoRetry::new(e))?` fails the step at once, whatever its retry policy.
#[derive(Debug)]
pub struct NoRetry(BoxError);

impl NoRetry {
    pub fn new(error: impl Into<BoxError>) -> Self {
        NoRetry(error.into())
    }

    /// Whether `error`, or any error in its source chain, says not to retry.
    pub fn is_in(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(e) = next {
            if e.is::<NoRetry>() || matches!(e.downcast_ref::<Error>(), Some(Error::NoRetry(_))) {
                return true;
            }
            next = e.source();
        }
        false
    }
}

impl std::fmt::Display for NoRetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for NoRetry {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The asset definitions are invalid (bad key, cycle, unknown dependency, ...).
    #[error("{0}")]
    Definition(String),

    /// A selection expression did not parse or names something that does not exist.
    #[error(transparent)]
    Selection(#[from] SelectionError),

    /// A run configuration value is malformed or unknown.
    #[error("{0}")]
    Config(String),

    /// The selection cannot be planned (an upstream input was never materialized, ...).
    #[error("{0}")]
    Plan(String),

    /// Something named does not exist: a run, backfill, schedule, asset, partition, dynamic
    /// partitions definition. `what` names the kind, `id` what was asked for.
    #[error("{message}")]
    NotFound {
        what: &'static str,
        id: String,
        message: String,
    },

    /// The request conflicts with the state of what it names (a run that has ended or is still
    /// running, a backfill already canceled).
    #[error("{0}")]
    Conflict(String),

    /// The request was given up before it started (canceled while waiting for a slot).
    #[error("{0}")]
    Canceled(String),

    /// A partitioned asset was asked for without a partition.
    #[error("{message}")]
    PartitionRequired { asset: String, message: String },

    /// Selected steps read upstreams that were never materialized; `suggestion` is a selection
    /// that includes them, when one plans.
    #[error("{message}")]
    MissingUpstream {
        upstreams: Vec<String>,
        suggestion: Option<String>,
        message: String,
    },

    /// The instance database cannot be opened, read or written.
    #[error("instance {}: {message}", path.display())]
    Instance { path: PathBuf, message: String },

    /// An IO manager could not store or load a value; `source` keeps the cause's chain (its
    /// text is part of `message` already).
    #[error("{message}")]
    Storage {
        message: String,
        #[source]
        source: Option<BoxError>,
    },

    /// A value could not be converted between an asset's Rust type and its stored form.
    #[error("{0}")]
    Value(String),

    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// Returned by an asset body: the step failed and retrying cannot help (a bad request, a
    /// missing file), whatever the retry policy says.
    #[error("{0}")]
    NoRetry(String),

    /// Something that should not happen: a bug in Stemma.
    #[error("internal error (this is a bug in Stemma, please report it): {0}")]
    Internal(String),

    /// An error and what the person who hit it can do about it. Its text is the error's; each
    /// front end says the hint in its own terms (the command line as a flag or a command, an
    /// HTTP API as a parameter), so that core never speaks one front end's language.
    #[error("{error}")]
    Hinted { error: Box<Error>, hint: Hint },
}

/// What can be done about an error, for a front end to say in its own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// Choose one partition of the asset.
    ChoosePartition,
    /// Choose partitions of the selected partitioned assets (several may be given, or all).
    ChoosePartitions,
    /// Name no partition: the asset is not partitioned.
    NoPartition,
    /// A backfill needs partitions: a range, or keys (or all).
    BackfillPartitions,
    /// Where the recent runs (their ids) are listed.
    ListRuns,
    /// Where the recent backfills (their ids) are listed.
    ListBackfills,
    /// Add `key` to the dynamic partitions definition `definition` first.
    AddDynamicPartition { definition: String, key: String },
    /// Select this instead: it includes what is missing; `everything_upstream` takes all of it.
    WidenSelection {
        selection: String,
        everything_upstream: Option<String>,
    },
    /// The run works for a backfill: resume the backfill.
    ResumeBackfill { backfill: String },
    /// Where every asset (its key) is listed.
    ListAssets,
    /// Where the selection language is described.
    SelectionSyntax,
}

/// What kind of failure an [`Error`] is, for a front end choosing an exit code or an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad definitions, selection, config or request: fix the input (400, exit 2).
    InvalidInput,
    /// Something named does not exist (404, exit 2).
    NotFound,
    /// The state of what is named forbids the request (409, exit 2).
    Conflict,
    /// Given up before it started (exit 130).
    Canceled,
    /// The instance or the storage cannot be reached, read or written (503, exit 3).
    Unavailable,
    /// An asset body failed and said retrying cannot help (exit 4).
    Failed,
    /// A bug in Stemma (500, exit 4).
    Internal,
}

impl Error {
    /// The kind of failure, for exit codes and HTTP statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Definition(_)
            | Error::Selection(_)
            | Error::Config(_)
            | Error::Plan(_)
            | Error::PartitionRequired { .. }
            | Error::MissingUpstream { .. }
            | Error::Value(_) => ErrorKind::InvalidInput,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Canceled(_) => ErrorKind::Canceled,
            Error::Instance { .. } | Error::Storage { .. } | Error::Io { .. } => {
                ErrorKind::Unavailable
            }
            Error::NoRetry(_) => ErrorKind::Failed,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Hinted { error, .. } => error.kind(),
        }
    }

    /// This error with what can be done about it.
    pub fn with_hint(self, hint: Hint) -> Self {
        Error::Hinted {
            error: Box::new(self),
            hint,
        }
    }

    /// The error restated by `f` (which asset a partition key was given for, ...), its hint
    /// kept: what can be done about it does not change with how it is said.
    pub(crate) fn map_keeping_hint(self, f: impl FnOnce(Error) -> Error) -> Self {
        match self {
            Error::Hinted { error, hint } => error.map_keeping_hint(f).with_hint(hint),
            e => f(e),
        }
    }

    /// What can be done about this error, if anything is said.
    pub fn hint(&self) -> Option<&Hint> {
        match self {
            Error::Hinted { hint, .. } => Some(hint),
            Error::Selection(s) => s.hint.as_deref(),
            _ => None,
        }
    }

    /// The error without its hint: the variant to match on.
    pub fn inner(&self) -> &Error {
        match self {
            Error::Hinted { error, .. } => error.inner(),
            e => e,
        }
    }

    /// A storage error whose message says it all.
    pub fn storage(message: impl Into<String>) -> Self {
        Error::Storage {
            message: message.into(),
            source: None,
        }
    }

    /// A storage error caused by `source`: the message reads `{context}: {source}`, and the
    /// source stays in the chain.
    pub fn storage_from(
        context: impl std::fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Storage {
            message: format!("{context}: {source}"),
            source: Some(Box::new(source)),
        }
    }

    /// `what` named `id` does not exist; `message` says so in full.
    pub fn not_found(
        what: &'static str,
        id: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
            message: message.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether this says the disk is full (SQLite's `database or disk is full`, the file
    /// system's ENOSPC), so that a command can say so and do what needs no space.
    pub fn is_disk_full(&self) -> bool {
        let text = self.to_string();
        text.contains("disk is full")
            || text.contains("No space left on device")
            || text.contains("disk full")
            || matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull)
    }

    pub(crate) fn instance(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Instance {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// The candidate close enough to `input` to suggest (`did you mean "x"?`), if any.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    // The same but for case (`CHUNKS`, `Chunks`): that one.
    if let Some(same) = candidates.iter().find(|c| c.eq_ignore_ascii_case(input)) {
        return Some(same);
    }
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(input, candidate);
        let close = score > 0.8 || strsim::levenshtein(input, candidate) <= 2;
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// A parse or resolve error, with the position in the selection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionError {
    input: String,
    span: Range<usize>,
    message: String,
    help: Option<String>,
    /// Where to look next, for a front end to say in its own terms (after the help).
    hint: Option<Box<Hint>>,
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
            hint: None,
        }
    }

    /// The same error, pointing to `hint` (where every asset, or the syntax, is listed).
    pub(crate) fn pointing_to(mut self, hint: Hint) -> Self {
        self.hint = Some(Box::new(hint));
        self
    }

    /// The same error, placed at `offset` within the larger string `input`.
    pub(crate) fn shifted(self, input: &str, offset: usize) -> Self {
        SelectionError {
            input: input.to_owned(),
            span: self.span.start + offset..self.span.end + offset,
            ..self
        }
    }

    /// The selection as it was given.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The column (1-based, in characters) the caret of the message points at.
    pub fn column(&self) -> usize {
        let start = self.span.start.min(self.input.len());
        self.input.get(..start).map_or(0, |p| p.chars().count()) + 1
    }

    /// Byte range of the offending part of the input.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }
}

impl std::fmt::Display for SelectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let col = self.column() - 1;
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
        // A long selection (a generated one) is shown around the caret, not whole.
        let chars: Vec<char> = self.input.chars().collect();
        let (from, to) = if chars.len() <= SHOWN {
            (0, chars.len())
        } else {
            let from = col.saturating_sub(SHOWN / 2).min(chars.len() - SHOWN);
            (from, from + SHOWN)
        };
        let lead = if from > 0 { "…" } else { "" };
        let tail = if to < chars.len() { "…" } else { "" };
        let shown: String = chars[from..to].iter().collect();
        writeln!(f, "  {lead}{shown}{tail}")?;
        let width = width.min(to.saturating_sub(col)).max(1);
        write!(
            f,
            "  {}{}{}",
            lead.replace('…', " "),
            " ".repeat(col - from),
            "^".repeat(width)
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SelectionError {}

/// The most characters of a selection an error shows (around its caret).
pub(crate) const SHOWN: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_candidate() {
        let keys = ["embeddings", "chunks", "raw_documents"];
        assert_eq!(did_you_mean("embedings", keys), Some("embeddings"));
        assert_eq!(did_you_mean("chunk", keys), Some("chunks"));
        assert_eq!(did_you_mean("CHUNKS", keys), Some("chunks"));
        assert_eq!(did_you_mean("Raw_Documents", keys), Some("raw_documents"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
