//! The parsed form of a selection.

use std::fmt;
use std::ops::Range;

/// A byte range in the selection string.
pub type Span = Range<usize>;

/// A value after an attribute's colon: a string, or `<null>` ("has none").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Null,
}

/// `is:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsValue {
    External,
    Materializable,
}

/// `partitions:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionsValue {
    None,
    Static,
    Time,
    Dynamic,
    Multi,
}

/// `status:` values, resolved against the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusValue {
    /// Every partition (or the asset) has a committed materialization.
    Materialized,
    /// Some partition (or the asset) has none.
    Missing,
    /// Materialized, but would come out differently today.
    Stale,
    /// Materialized and not stale.
    Fresh,
    /// The last attempt to materialize it failed.
    Failed,
}

/// `changed:` values: what differs from the last materialization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedValue {
    /// The code version.
    Code,
    /// The set of upstream assets it reads.
    Deps,
    /// Either.
    Any,
}

/// An attribute filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    /// `key:PATTERN`: anchored, `*` matches any run of characters including `/`. Includes
    /// external assets.
    Key(String),
    /// `tag:K` (value "") or `tag:K=V`. Materializable assets only.
    Tag {
        key: String,
        value: String,
    },
    /// `owner:O` or `owner:<null>`. Includes external assets.
    Owner(Value),
    /// `group:G`, `group:"pat*"` or `group:<null>`. Materializable assets only.
    Group(Value),
    /// `kind:K` or `kind:<null>`. Materializable assets only.
    Kind(Value),
    Is(IsValue),
    Partitions(PartitionsValue),
    Status(StatusValue),
    Changed(ChangedValue),
    /// Not materialized in the last N hours (or never).
    NotMaterializedInHours(u32),
}

/// How far a traversal goes: `None` is unlimited.
pub type Depth = Option<u32>;

/// A selection expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `*`: every materializable asset.
    All {
        span: Span,
    },
    /// A legacy bare name (`raw/documents`): exactly that key, which must exist.
    Name {
        name: String,
        span: Span,
    },
    /// An attribute filter.
    Attr {
        attr: Attr,
        span: Span,
    },
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// `N+X` / `+X`: X and its ancestors, materializable ones only (as Dagster).
    Up {
        inner: Box<Expr>,
        depth: Depth,
    },
    /// `X+N` / `X+`: X and its descendants.
    Down {
        inner: Box<Expr>,
        depth: Depth,
    },
    /// `N+X+M`: the union of both traversals.
    UpDown {
        inner: Box<Expr>,
        up: Depth,
        down: Depth,
    },
    /// `roots(X)`: members of X with no ancestor in X (looking through nodes outside X).
    Roots(Box<Expr>),
    /// `sinks(X)`: members of X with no descendant in X.
    Sinks(Box<Expr>),
    /// dbt's `@X`: X, its descendants, and every ancestor of those.
    At(Box<Expr>),
}

impl Expr {
    /// Whether resolving needs the instance (status, changes, recency).
    pub fn needs_status(&self) -> bool {
        match self {
            Expr::Attr { attr, .. } => matches!(
                attr,
                Attr::Status(_) | Attr::Changed(_) | Attr::NotMaterializedInHours(_)
            ),
            Expr::All { .. } | Expr::Name { .. } => false,
            Expr::Not(e) | Expr::Roots(e) | Expr::Sinks(e) | Expr::At(e) => e.needs_status(),
            Expr::Up { inner, .. } | Expr::Down { inner, .. } | Expr::UpDown { inner, .. } => {
                inner.needs_status()
            }
            Expr::And(es) | Expr::Or(es) => es.iter().any(Expr::needs_status),
        }
    }
}

impl fmt::Display for StatusValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatusValue::Materialized => "materialized",
            StatusValue::Missing => "missing",
            StatusValue::Stale => "stale",
            StatusValue::Fresh => "fresh",
            StatusValue::Failed => "failed",
        })
    }
}
