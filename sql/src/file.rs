//! One `.sql` file: its key, header, parsed query, the tables it reads (with positions) and its
//! code version.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use datafusion::common::TableReference;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::{SetExpr, Spanned, Statement, visit_relations};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
use stemma::AssetKey;

use crate::header::Header;
pub use crate::located::Position;
use crate::located::{Located, located};

/// A problem in a `.sql` file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub position: Option<Position>,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                p.line,
                p.column,
                self.message
            ),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// A table the query reads, as written, and the asset key it names.
#[derive(Debug, Clone)]
pub struct TableRef {
    pub reference: TableReference,
    /// `bronze.orders` names `bronze/orders`; a quoted `"raw/documents"` names itself.
    pub key: String,
    /// Where it is first written.
    pub position: Option<Position>,
}

/// A parsed `.sql` asset file.
#[derive(Debug, Clone)]
pub struct SqlFile {
    pub path: PathBuf,
    pub key: AssetKey,
    pub header: Header,
    /// The whole file; DataFusion runs it as is (comments included), so positions in its
    /// errors are positions in the file.
    pub text: String,
    pub tables: Vec<TableRef>,
    /// 16 hex digits of blake3 over the query's tokens without whitespace and comments.
    pub code_version: String,
}

/// The key a table reference names: its parts joined by `/`.
pub fn reference_key(reference: &TableReference) -> String {
    match reference {
        TableReference::Bare { table } => table.to_string(),
        TableReference::Partial { schema, table } => format!("{schema}/{table}"),
        TableReference::Full {
            catalog,
            schema,
            table,
        } => format!("{catalog}/{schema}/{table}"),
    }
}

impl SqlFile {
    /// Reads `path`, an asset named by its place under `root` (`root/silver/orders.sql` is
    /// `silver/orders`).
    pub fn load(root: &Path, path: &Path) -> Result<SqlFile, FileError> {
        let error = |position: Option<Position>, message: String| FileError {
            path: path.to_owned(),
            position,
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| error(None, format!("cannot be read: {e}")))?;
        let relative = path.strip_prefix(root).unwrap_or(path).with_extension("");
        let key_text: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let key = AssetKey::parse(&key_text.join("/"))
            .map_err(|e| error(None, format!("its path is not a valid asset key: {e}")))?;
        Self::parse(path, key, text)
    }

    /// Parses the text of a `.sql` asset file.
    pub fn parse(path: &Path, key: AssetKey, text: String) -> Result<SqlFile, FileError> {
        let error = |position: Option<Position>, message: String| FileError {
            path: path.to_owned(),
            position,
            message,
        };
        let header = Header::parse(&text)
            .map_err(|(line, column, message)| error(Some(Position { line, column }), message))?;
        let statement =
            parse_query(&text).map_err(|(position, message)| error(position, message))?;

        let (references, _ctes) =
            resolve_table_references(&DFStatement::Statement(Box::new(statement.clone())), true)
                .map_err(|e| error(None, e.strip_backtrace()))?;
        let mut positions: BTreeMap<TableReference, Position> = BTreeMap::new();
        let _ = visit_relations(&statement, |name| {
            if let Ok(reference) = object_name_to_table_reference(name.clone(), true) {
                let start = name.span().start;
                positions.entry(reference).or_insert(Position {
                    line: start.line,
                    column: start.column,
                });
            }
            ControlFlow::<()>::Continue(())
        });
        let tables = references
            .into_iter()
            .map(|reference| TableRef {
                key: reference_key(&reference),
                position: positions.get(&reference).copied(),
                reference,
            })
            .collect();
        let code_version = code_version(&text).map_err(|(p, m)| error(p, m))?;
        Ok(SqlFile {
            path: path.to_owned(),
            key,
            header,
            text,
            tables,
            code_version,
        })
    }

    /// `path:line:col` of a table reference, for messages.
    pub fn at(&self, position: Option<Position>) -> String {
        match position {
            Some(p) => format!("{}:{}:{}", self.path.display(), p.line, p.column),
            None => self.path.display().to_string(),
        }
    }
}

/// The one query in the file.
fn parse_query(text: &str) -> Result<Statement, Located> {
    let mut statements = Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| at_end_if_unlocated(text, located(&e.to_string())))?;
    let statement = match statements.len() {
        1 => statements.remove(0),
        0 => return Err((None, "holds no query; a SQL asset is one SELECT".into())),
        n => {
            let second = statements[1].span().start;
            return Err((
                Some(Position {
                    line: second.line,
                    column: second.column,
                }),
                format!("holds {n} statements; a SQL asset is exactly one query"),
            ));
        }
    };
    match &statement {
        Statement::Query(q)
            if !matches!(
                *q.body,
                SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_)
            ) =>
        {
            Ok(statement)
        }
        other => {
            let start = other.span().start;
            Err((
                Some(Position {
                    line: start.line.max(1),
                    column: start.column.max(1),
                }),
                "is not a query; a SQL asset is one SELECT (or WITH … SELECT, VALUES)".into(),
            ))
        }
    }
}

/// An error at the end of the input (`found: EOF`) comes without a position: the end of the
/// text is where it is.
fn at_end_if_unlocated(text: &str, (position, message): Located) -> Located {
    if position.is_some() || !message.contains("EOF") {
        return (position, message);
    }
    let trimmed = text.trim_end();
    let line = trimmed.lines().count().max(1) as u64;
    let column = trimmed.lines().last().map_or(0, |l| l.chars().count()) as u64 + 1;
    (Some(Position { line, column }), message)
}

/// blake3 over the query's tokens, whitespace and comments dropped, so reformatting or
/// re-commenting a query keeps its version. Keywords are compared case-insensitively.
fn code_version(text: &str) -> Result<String, Located> {
    let tokens = Tokenizer::new(&GenericDialect {}, text)
        .tokenize()
        .map_err(|e| located(&e.to_string()))?;
    let mut hasher = blake3::Hasher::new_derive_key("stemma.sql.code_version.v1");
    for token in tokens {
        let normalized = match token {
            Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
            | Token::Whitespace(Whitespace::SingleLineComment { .. })
            | Token::Whitespace(Whitespace::MultiLineComment(_)) => continue,
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_lowercase(),
            Token::SemiColon => continue,
            other => other.to_string(),
        };
        hasher.update(&(normalized.len() as u64).to_le_bytes());
        hasher.update(normalized.as_bytes());
    }
    Ok(hasher.finalize().to_hex()[..16].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SqlFile, FileError> {
        SqlFile::parse(
            Path::new("models/gold/revenue.sql"),
            AssetKey::parse("gold/revenue").unwrap(),
            text.to_owned(),
        )
    }

    #[test]
    fn tables_are_read_from_the_query_not_from_ctes_or_comments() {
        let f = parse(
            "-- Not a table: FROM fake.table\n\
             WITH recent AS (SELECT * FROM silver.orders WHERE day > '2026')\n\
             SELECT r.*, c.name FROM recent r JOIN \"raw/customers\" c USING (customer_id)\n\
             WHERE r.id IN (SELECT id FROM silver.refunds)",
        )
        .unwrap();
        let keys: Vec<&str> = f.tables.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["raw/customers", "silver/orders", "silver/refunds"]);
        let orders = f.tables.iter().find(|t| t.key == "silver/orders").unwrap();
        assert_eq!(
            orders.position,
            Some(Position {
                line: 2,
                column: 31
            })
        );
    }

    #[test]
    fn the_code_version_ignores_whitespace_comments_and_keyword_case() {
        let a = parse("SELECT a, b FROM t WHERE a > 1").unwrap();
        let b =
            parse("-- a comment\nselect a,\n    b  /* inline */\nfrom t\nwhere a > 1;").unwrap();
        let c = parse("SELECT a, b FROM t WHERE a > 2").unwrap();
        let d = parse("SELECT a, b FROM t WHERE a > '1'").unwrap();
        assert_eq!(a.code_version, b.code_version);
        assert_ne!(a.code_version, c.code_version);
        assert_ne!(a.code_version, d.code_version);
    }

    #[test]
    fn syntax_errors_point_into_the_file() {
        let err = parse("-- group: gold\nSELECT a,\n  FROM t WHERE").unwrap_err();
        assert_eq!(err.path, Path::new("models/gold/revenue.sql"));
        let at = err.position.expect("a position");
        assert_eq!(at.line, 3, "{err}");
        assert!(
            err.to_string().starts_with("models/gold/revenue.sql:3:"),
            "{err}"
        );
    }

    #[test]
    fn only_one_query_is_accepted() {
        let err = parse("SELECT 1;\nSELECT 2").unwrap_err();
        assert!(err.message.contains("2 statements"), "{err}");
        assert_eq!(err.position.map(|p| p.line), Some(2));
        let err = parse("DROP TABLE t").unwrap_err();
        assert!(err.message.contains("is not a query"), "{err}");
        let err = parse("-- just a comment\n").unwrap_err();
        assert!(err.message.contains("holds no query"), "{err}");
    }
}
