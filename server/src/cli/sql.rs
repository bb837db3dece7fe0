//! `assets query` (read-only SQL over the current materializations) and `assets lineage
//! --columns` (column lineage): built with the `sql` feature (DataFusion).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use stemma::{AssetKey, Engine, Error};
use stemma_sql::QueryResult;

use super::printer::Printer;
use super::{CliResult, QueryFormat};
use crate::views::columns::ColumnTree;

pub(crate) async fn query(
    engine: &Engine,
    sql: &str,
    format: QueryFormat,
    output: Option<&Path>,
    printer: Printer,
) -> CliResult {
    let result = stemma_sql::query(engine, sql).await?;
    let format = if printer.json && format == QueryFormat::Table {
        QueryFormat::Json
    } else {
        format
    };
    if format == QueryFormat::Parquet && output.is_none() && std::io::stdout().is_terminal() {
        return Err(Error::Config(
            "Parquet is binary: write it to a file with --output FILE (or pipe stdout)".into(),
        )
        .into());
    }
    let bytes = encode(&result, format, printer)?;
    match output {
        Some(path) => {
            write_atomically(path, &bytes)?;
            printer.err(format!(
                "{} rows written to {}",
                result.num_rows(),
                path.display()
            ));
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| Error::io("writing the result to stdout", e))?;
            if format == QueryFormat::Table {
                let n = result.num_rows();
                printer.err(format!("({n} row{})", if n == 1 { "" } else { "s" }));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn encode(result: &QueryResult, format: QueryFormat, printer: Printer) -> Result<Vec<u8>, Error> {
    let fail = |e: &dyn std::fmt::Display| Error::Internal(format!("formatting the result: {e}"));
    let mut out = Vec::new();
    match format {
        QueryFormat::Table => {
            let names: Vec<&str> = result
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            let mut table = printer.table(&names);
            let options = FormatOptions::default().with_null("NULL");
            for batch in &result.batches {
                let formatters = batch
                    .columns()
                    .iter()
                    .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| fail(&e))?;
                for row in 0..batch.num_rows() {
                    table.add_row(formatters.iter().map(|f| f.value(row).to_string()));
                }
            }
            writeln!(out, "{table}").map_err(|e| fail(&e))?;
        }
        QueryFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            result
                .batches
                .iter()
                .try_for_each(|b| writer.write(b))
                .map_err(|e| fail(&e))?;
        }
        QueryFormat::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut out);
            result
                .batches
                .iter()
                .try_for_each(|b| writer.write(b))
                .map_err(|e| fail(&e))?;
            writer.finish().map_err(|e| fail(&e))?;
            drop(writer);
            if out.is_empty() {
                out.extend_from_slice(b"[]");
            }
            out.push(b'\n');
        }
        QueryFormat::Parquet => {
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(&mut out, result.schema.clone(), None)
                    .map_err(|e| fail(&e))?;
            for batch in &result.batches {
                writer.write(batch).map_err(|e| fail(&e))?;
            }
            writer.close().map_err(|e| fail(&e))?;
        }
    }
    Ok(out)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place: a failure
/// leaves no partial file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut tmp = PathBuf::from(path);
    tmp.set_file_name(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("writing {}", path.display()), e)
        })
}

/// `assets lineage KEY --columns`: where each column of `asset` comes from, column by column.
pub(crate) fn column_lineage(engine: &Engine, asset: &AssetKey, printer: Printer) -> CliResult {
    let trees = ColumnTree::gather(engine, asset)?;
    if printer.json {
        printer.json_pretty(&serde_json::json!({ "asset": asset.as_str(), "columns": trees }));
        return Ok(ExitCode::SUCCESS);
    }
    for tree in &trees {
        print_tree(&printer, tree, 0);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_tree(printer: &Printer, tree: &ColumnTree, depth: usize) {
    let how = tree
        .transform
        .map(|t| {
            format!(
                "  ({})",
                serde_json::to_value(t)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    if depth == 0 {
        printer.out(format!("{}{how}", tree.column));
    } else {
        printer.out(format!(
            "{}← {}.{}{how}",
            "  ".repeat(depth),
            tree.asset,
            tree.column
        ));
    }
    for child in &tree.from {
        print_tree(printer, child, depth + 1);
    }
}
