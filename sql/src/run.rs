//! Running SQL with DataFusion over Stemma values: a SQL asset's query over its inputs, a SQL
//! check over the asset's table, and ad-hoc queries.

use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider};
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use stemma::{BoxError, Table, Value};

use crate::lineage::{ColumnLineage, column_lineage};

/// A session that plans with spans, so errors can point into the query text.
pub fn session() -> SessionContext {
    let mut config = SessionConfig::new().with_information_schema(false);
    config.options_mut().sql_parser.collect_spans = true;
    SessionContext::new_with_config(config)
}

/// Only queries: no DDL, DML or `SET`.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Registers `table` under `reference`, creating the schema (and catalog) a qualified
/// reference names.
pub fn register(
    ctx: &SessionContext,
    reference: &TableReference,
    table: &Table,
) -> Result<(), DataFusionError> {
    let state = ctx.state();
    let defaults = &state.config_options().catalog;
    let catalog_name = reference
        .catalog()
        .unwrap_or(&defaults.default_catalog)
        .to_owned();
    let catalog = match ctx.catalog(&catalog_name) {
        Some(c) => c,
        None => {
            let c: Arc<dyn CatalogProvider> = Arc::new(MemoryCatalogProvider::new());
            ctx.register_catalog(&catalog_name, Arc::clone(&c));
            c
        }
    };
    let schema_name = reference.schema().unwrap_or(&defaults.default_schema);
    if catalog.schema(schema_name).is_none() {
        catalog.register_schema(schema_name, Arc::new(MemorySchemaProvider::new()))?;
    }
    let provider = MemTable::try_new(Arc::clone(table.schema()), vec![table.batches().to_vec()])?;
    ctx.register_table(reference.clone(), Arc::new(provider))?;
    Ok(())
}

/// A DataFusion error as one line, with `line:col` in front when DataFusion located it.
pub fn describe_error(e: &DataFusionError) -> (Option<(u64, u64)>, String) {
    let at = e
        .diagnostic()
        .and_then(|d| d.span)
        .map(|s| (s.start.line, s.start.column));
    let text = e.strip_backtrace();
    let text = text
        .strip_prefix("Error during planning: ")
        .or_else(|| text.strip_prefix("Schema error: "))
        .unwrap_or(&text)
        .to_owned();
    (at, text)
}

/// Runs `sql` (read-only) and collects the result as one table, with the lineage of its
/// columns.
pub async fn run_sql(
    ctx: &SessionContext,
    sql: &str,
) -> Result<(Table, Vec<ColumnLineage>), DataFusionError> {
    let df = ctx.sql_with_options(sql, read_only()).await?;
    let lineage = column_lineage(df.logical_plan(), &|r| crate::file::reference_key(r));
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let table =
        Table::new(schema, batches).map_err(|e| DataFusionError::Execution(e.to_string()))?;
    Ok((table, lineage))
}

/// The table in `value`, or an error naming the input that is not one.
pub fn as_table<'a>(value: &'a Value, what: &str) -> Result<&'a Table, BoxError> {
    match value {
        Value::Table(t) => Ok(t),
        other => Err(format!("{what} is {}, not a table; SQL reads tables", other.kind()).into()),
    }
}

/// How many rows violate a check: the `count(*)` its query returns.
pub async fn count_violations(table: &Table, violations: &str) -> Result<i64, BoxError> {
    let ctx = session();
    register(&ctx, &TableReference::bare("this"), table)?;
    let batches = ctx
        .sql_with_options(violations, read_only())
        .await?
        .collect()
        .await?;
    let count = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| b.column(0).as_any().downcast_ref::<Int64Array>().cloned())
        .filter(|a| !a.is_null(0))
        .map_or(0, |a| a.value(0));
    Ok(count)
}
