//! Ad-hoc, read-only SQL over the current materializations of any assets (`assets query`).
//!
//! Only the tables the query names are loaded, through the IO manager that stored them. A
//! partitioned asset is read as all its current partitions together, with a `partition`
//! column (as a Hive-partitioned dataset reads) unless the table has one already.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use futures::StreamExt;
use stemma::instance::LatestMaterialization;
use stemma::io::InputContext;
use stemma::{AssetKey, Engine, Error, Result, Table, Value};

use crate::file::reference_key;
use crate::lineage::ColumnLineage;
use crate::located::located;
use crate::run;

/// What a query returned.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub lineage: Vec<ColumnLineage>,
}

impl QueryResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

fn query_error(at: Option<(u64, u64)>, message: &str) -> Error {
    match at {
        Some((line, column)) => Error::Plan(format!("query:{line}:{column}: {message}")),
        None => Error::Plan(format!("query: {message}")),
    }
}

/// The parser's own words, without DataFusion's wrapping (`SQL error: ParserError("…")`).
fn parser_message(e: &datafusion::error::DataFusionError) -> String {
    use datafusion::sql::sqlparser::parser::ParserError;
    match e {
        datafusion::error::DataFusionError::SQL(inner, _) => match inner.as_ref() {
            ParserError::ParserError(m) | ParserError::TokenizerError(m) => m.clone(),
            ParserError::RecursionLimitExceeded => "the query is nested too deeply to parse".into(),
        },
        other => other.strip_backtrace(),
    }
}

/// The line and column just past the end of `text`.
fn end_of(text: &str) -> (u64, u64) {
    let trimmed = text.trim_end();
    let line = trimmed.lines().count().max(1) as u64;
    let column = trimmed.lines().last().map_or(0, |l| l.chars().count()) as u64 + 1;
    (line, column)
}

/// Runs `sql` over the current materializations of the assets it names.
pub async fn query(engine: &Engine, sql: &str) -> Result<QueryResult> {
    let mut statements =
        DFParser::parse_sql_with_dialect(sql, &GenericDialect {}).map_err(|e| {
            let (at, message) = located(&parser_message(&e));
            let at = at.map(|p| (p.line, p.column)).or_else(|| {
                // An error at the end of the text (`found: EOF`) comes without a position.
                message.contains("EOF").then(|| end_of(sql))
            });
            query_error(at, &message)
        })?;
    let statement = match (statements.pop_front(), statements.len()) {
        (Some(s), 0) => s,
        (None, _) => return Err(query_error(None, "give one query (SELECT …)")),
        (Some(_), n) => {
            return Err(query_error(
                None,
                &format!("give exactly one query, not {}", n + 1),
            ));
        }
    };
    // Only a query reads; anything else (CREATE, INSERT, COPY, SET …) is refused before any
    // table it names is looked up.
    let is_query = matches!(
        &statement,
        datafusion::sql::parser::Statement::Statement(s)
            if matches!(s.as_ref(), datafusion::sql::sqlparser::ast::Statement::Query(q)
                if matches!(*q.body, datafusion::sql::sqlparser::ast::SetExpr::Select(_)
                    | datafusion::sql::sqlparser::ast::SetExpr::Query(_)
                    | datafusion::sql::sqlparser::ast::SetExpr::SetOperation { .. }
                    | datafusion::sql::sqlparser::ast::SetExpr::Values(_)))
    );
    if !is_query {
        let first = sql.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        return Err(query_error(
            None,
            &format!(
                "queries are read-only: give one SELECT (or WITH … SELECT); {first:?} … changes \
                 something"
            ),
        ));
    }
    let (references, _) = resolve_table_references(&statement, true)
        .map_err(|e| query_error(None, &e.strip_backtrace()))?;

    let ctx = run::session();
    let graph = engine.graph();
    for reference in &references {
        let key = reference_key(reference);
        let node = graph.node_by_str(&key).ok_or_else(|| {
            let hint =
                stemma::error::did_you_mean(&key, graph.assets().map(|(_, a)| a.key().as_str()))
                    .map(|k| format!("; did you mean {}?", crate::sql_name(k)))
                    .unwrap_or_default();
            query_error(
                None,
                &format!("unknown table {reference} (no asset {key}){hint}"),
            )
        })?;
        let asset = graph.key(node).clone();
        if graph.asset(node).is_external() {
            return Err(query_error(
                None,
                &format!(
                    "{asset} is an external asset: Stemma records its observed version, not its \
                     data, so there is nothing stored to query"
                ),
            ));
        }
        let table = current_table(engine, &asset).await?;
        run::register(&ctx, reference, &table).map_err(|e| Error::Internal(e.strip_backtrace()))?;
    }
    let (table, lineage) = run::run_sql(&ctx, sql).await.map_err(|e| {
        let (at, message) = run::describe_error(&e);
        if message.contains("not supported") {
            query_error(
                at,
                &format!("queries are read-only (SELECT, WITH … SELECT): {message}"),
            )
        } else {
            query_error(at, &message)
        }
    })?;
    Ok(QueryResult {
        schema: Arc::clone(table.schema()),
        batches: table.batches().to_vec(),
        lineage,
    })
}

/// The current value of `asset` as one table.
async fn current_table(engine: &Engine, asset: &AssetKey) -> Result<Table> {
    let only: HashSet<AssetKey> = [asset.clone()].into();
    let mut current = engine.instance().latest_materializations(Some(&only))?;
    if current.is_empty() {
        return Err(Error::Plan(format!(
            "{asset} has not been materialized yet; run `assets materialize --select {asset}` first"
        )));
    }
    let partitioned = current.iter().any(|m| m.partition.is_some());
    if let Some(def) = engine
        .graph()
        .node(asset)
        .and_then(|n| engine.graph().spec(n).partitions.as_ref())
    {
        current.sort_by_key(|m| {
            m.partition
                .as_ref()
                .and_then(|p| def.index_of(p.as_str()))
                .unwrap_or(usize::MAX)
        });
    }
    let loaded: Vec<Result<(Option<String>, Value)>> = futures::stream::iter(current.iter())
        .map(|m| async move {
            Ok((
                m.partition.as_ref().map(|p| p.to_string()),
                load(engine, m).await?,
            ))
        })
        .buffered(8)
        .collect()
        .await;
    let mut tables = Vec::with_capacity(loaded.len());
    for part in loaded {
        let (partition, value) = part?;
        let Value::Table(t) = value else {
            return Err(Error::Plan(format!(
                "{asset} is {}, not a table; only tables can be queried",
                value.kind()
            )));
        };
        tables.push((partition, t));
    }
    if !partitioned {
        return Ok(tables.pop().map(|(_, t)| t).expect("one materialization"));
    }
    with_partition_column(asset, tables)
}

async fn load(engine: &Engine, m: &LatestMaterialization) -> Result<Value> {
    let io = engine.io().get(&m.io_manager)?;
    io.load_input(&InputContext::of(m, engine.graph().spec_of(&m.asset), None))
        .await
}

/// The partitions' tables concatenated, each row tagged with its partition.
fn with_partition_column(asset: &AssetKey, parts: Vec<(Option<String>, Table)>) -> Result<Table> {
    let Some((_, first)) = parts.first() else {
        return Err(Error::Internal(format!(
            "{asset}: no partitions to combine"
        )));
    };
    let base = Arc::clone(first.schema());
    let add = base.column_with_name("partition").is_none();
    let schema = if add {
        let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("partition", DataType::Utf8, false));
        Arc::new(Schema::new_with_metadata(fields, base.metadata().clone()))
    } else {
        Arc::clone(&base)
    };
    let mut batches = Vec::new();
    for (partition, table) in parts {
        if table.schema().fields() != base.fields() {
            return Err(Error::Plan(format!(
                "partition {} of {asset} has a different schema from the others",
                partition.unwrap_or_default()
            )));
        }
        for batch in table.batches() {
            if !add {
                batches.push(batch.clone());
                continue;
            }
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            let key = partition.clone().unwrap_or_default();
            columns.push(Arc::new(StringArray::from(vec![key; batch.num_rows()])));
            batches.push(
                RecordBatch::try_new(Arc::clone(&schema), columns)
                    .map_err(|e| Error::Internal(e.to_string()))?,
            );
        }
    }
    Table::new(schema, batches)
}
