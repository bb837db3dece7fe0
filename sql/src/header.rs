//! The header of a `.sql` asset: the comment lines before the query.
//!
//! ```sql
//! -- Orders with their customer, one row per order.
//! -- group: silver
//! -- owners: team:analytics, ana@example.com
//! -- tags: tier=silver, pii
//! -- partitions: same as raw/orders
//! -- checks: not_null(order_id), unique(order_id), expect(amount >= 0) AS non_negative
//! SELECT …
//! ```
//!
//! `key: value` lines set attributes (keys are lowercase); other comment lines make up the
//! description. Checks are SQL expressions, parsed by the SQL parser: `not_null(col)`,
//! `unique(col, …)`, `accepted_values(col, 'a', 'b', …)` and `expect(<condition every row
//! meets>)`, each optionally named with `AS name`.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem, SetExpr, Statement,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// `(line, column, message)`.
pub type HeaderError = (u64, u64, String);

/// How a SQL asset is partitioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// Like another asset (`partitions: same as raw/orders`), reading the same partition of it.
    SameAs { key: String, line: u64, column: u64 },
    /// Its own static keys (`partitions: eu, us, apac`).
    Static(Vec<String>),
}

/// A check declared in the header, as the SQL that counts the rows violating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlCheck {
    pub name: String,
    /// What it asserts, for people (`not_null(order_id)`).
    pub description: String,
    /// `SELECT count(*) …` over the table `this`; the check passes when it is 0.
    pub violations: String,
}

/// The attributes a header sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub description: Option<String>,
    pub group: Option<String>,
    pub owners: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub kinds: Vec<String>,
    pub io_manager: Option<String>,
    pub partitions: Option<Partitioning>,
    pub checks: Vec<SqlCheck>,
}

const KEYS: &str = "description, group, owners, tags, kinds, io_manager, partitions, checks";

impl Header {
    pub fn parse(text: &str) -> Result<Header, HeaderError> {
        let mut header = Header::default();
        let mut description = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i as u64 + 1;
            let trimmed = line.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            let Some(comment) = trimmed.strip_prefix("--") else {
                break;
            };
            let body = comment.trim();
            let column = (line.len() - comment.trim_start().len()) as u64 + 1;
            let attribute = body.split_once(':').filter(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            });
            let Some((key, value)) = attribute else {
                if !body.is_empty() {
                    description.push(body.to_owned());
                }
                continue;
            };
            let value = value.trim();
            let value_column =
                column + (body.len() - body[key.len() + 1..].trim_start().len()) as u64;
            let list = || -> Vec<String> {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            match key {
                "description" => description.push(value.to_owned()),
                "group" => header.group = Some(value.to_owned()),
                "owners" => header.owners.extend(list()),
                "kinds" => header.kinds.extend(list()),
                "io_manager" => header.io_manager = Some(value.to_owned()),
                "tags" => {
                    for tag in list() {
                        let (k, v) = tag.split_once('=').unwrap_or((&tag, ""));
                        header.tags.insert(k.trim().to_owned(), v.trim().to_owned());
                    }
                }
                "partitions" => {
                    header.partitions = Some(match value.strip_prefix("same as ") {
                        Some(key) => Partitioning::SameAs {
                            key: key.trim().to_owned(),
                            line: n,
                            column: value_column + "same as ".len() as u64,
                        },
                        None if !list().is_empty() => Partitioning::Static(list()),
                        None => {
                            return Err((
                                n,
                                value_column,
                                "partitions: write `same as <asset>` or the keys, `eu, us`".into(),
                            ));
                        }
                    })
                }
                "checks" => {
                    let first = header.checks.len();
                    header.checks.extend(
                        parse_checks(value, first)
                            .map_err(|m| (n, value_column, format!("checks: {m}")))?,
                    );
                }
                other => {
                    return Err((
                        n,
                        column,
                        format!("unknown header attribute {other:?} (known: {KEYS})"),
                    ));
                }
            }
        }
        header.description = (!description.is_empty()).then(|| description.join("\n"));
        Ok(header)
    }
}

/// Parses `not_null(a), expect(b > 0) AS positive_b` as the select list it looks like.
fn parse_checks(text: &str, first: usize) -> Result<Vec<SqlCheck>, String> {
    let statement = Parser::new(&GenericDialect {})
        .try_with_sql(&format!("SELECT {text}"))
        .and_then(|mut p| p.parse_statement())
        .map_err(|e| crate::located::located(&e.to_string()).1)?;
    let Statement::Query(query) = statement else {
        return Err("expected check expressions".into());
    };
    let SetExpr::Select(select) = *query.body else {
        return Err("expected check expressions".into());
    };
    let mut checks = Vec::new();
    for (i, item) in select.projection.into_iter().enumerate() {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value)),
            other => return Err(format!("{other} is not a check")),
        };
        let Expr::Function(f) = &expr else {
            return Err(format!(
                "{expr} is not a check; use not_null(col), unique(col), \
                 accepted_values(col, 'a', …) or expect(condition)"
            ));
        };
        let name = f.name.to_string().to_ascii_lowercase();
        let FunctionArguments::List(list) = &f.args else {
            return Err(format!("{expr}: give the check its arguments"));
        };
        let args: Vec<String> = list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e.to_string()),
                other => Err(format!("{expr}: {other} is not a valid argument")),
            })
            .collect::<Result<_, _>>()?;
        let Some(first_arg) = args.first() else {
            return Err(format!("{expr}: give the check its arguments"));
        };
        let slug = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
                .trim_matches('_')
                .to_owned()
        };
        let (default_name, violations) = match name.as_str() {
            "not_null" if args.len() == 1 => (
                format!("not_null_{}", slug(first_arg)),
                format!("SELECT count(*) FROM this WHERE {first_arg} IS NULL"),
            ),
            "unique" => {
                let cols = args.join(", ");
                (
                    format!("unique_{}", slug(&args.join("_"))),
                    format!(
                        "SELECT count(*) FROM (SELECT {cols} FROM this GROUP BY {cols} \
                         HAVING count(*) > 1)"
                    ),
                )
            }
            "accepted_values" if args.len() >= 2 => (
                format!("accepted_values_{}", slug(first_arg)),
                format!(
                    "SELECT count(*) FROM this WHERE {first_arg} NOT IN ({})",
                    args[1..].join(", ")
                ),
            ),
            "expect" if args.len() == 1 => (
                format!("expect_{}", first + i + 1),
                format!("SELECT count(*) FROM this WHERE NOT ({first_arg})"),
            ),
            "not_null" | "accepted_values" | "expect" => {
                return Err(format!("{expr} has the wrong number of arguments"));
            }
            other => {
                return Err(format!(
                    "unknown check {other:?} (known: not_null, unique, accepted_values, expect)"
                ));
            }
        };
        checks.push(SqlCheck {
            name: alias.unwrap_or(default_name),
            description: expr.to_string(),
            violations,
        });
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_description_and_checks() {
        let h = Header::parse(
            "-- Orders, cleaned.\n\
             -- One row per order.\n\
             -- group: silver\n\
             -- owners: team:analytics, ana@example.com\n\
             -- tags: tier=silver, pii\n\
             -- partitions: same as raw/orders\n\
             -- checks: not_null(order_id), unique(order_id)\n\
             -- checks: accepted_values(status, 'paid', 'refunded'), expect(amount >= 0) AS non_negative\n\
             SELECT 1\n\
             -- not: header\n",
        )
        .unwrap();
        assert_eq!(
            h.description.as_deref(),
            Some("Orders, cleaned.\nOne row per order.")
        );
        assert_eq!(h.group.as_deref(), Some("silver"));
        assert_eq!(h.owners, ["team:analytics", "ana@example.com"]);
        assert_eq!(h.tags["tier"], "silver");
        assert_eq!(h.tags["pii"], "");
        assert!(
            matches!(
                &h.partitions,
                Some(Partitioning::SameAs { key, line: 6, column: 24 }) if key == "raw/orders"
            ),
            "{:?}",
            h.partitions
        );
        let names: Vec<&str> = h.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "not_null_order_id",
                "unique_order_id",
                "accepted_values_status",
                "non_negative"
            ]
        );
        assert_eq!(
            h.checks[3].violations,
            "SELECT count(*) FROM this WHERE NOT (amount >= 0)"
        );
    }

    #[test]
    fn mistakes_point_at_the_line() {
        let err = Header::parse("-- group: a\n-- ownr: x\nSELECT 1").unwrap_err();
        assert_eq!((err.0, err.1), (2, 4));
        assert!(
            err.2.contains("unknown header attribute \"ownr\""),
            "{err:?}"
        );
        let err = Header::parse("-- checks: not_nul(a)\nSELECT 1").unwrap_err();
        assert!(err.2.contains("unknown check \"not_nul\""), "{err:?}");
        let err = Header::parse("-- checks: not_null(a, b)").unwrap_err();
        assert!(err.2.contains("wrong number of arguments"), "{err:?}");
    }

    /// A check nested thousands of levels deep is refused by the parser's own depth limit,
    /// not a stack overflow.
    #[test]
    fn deeply_nested_checks_are_an_error() {
        let deep = format!(
            "-- checks: expect({}a > 0{})\nSELECT 1",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let err = Header::parse(&deep).unwrap_err();
        assert_eq!(err.0, 1, "{err:?}");
        assert!(err.2.contains("recursion limit"), "{err:?}");
    }
}
