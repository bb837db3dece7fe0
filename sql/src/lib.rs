//! SQL in Stemma: assets written as `.sql` files and run by DataFusion, their column-level
//! lineage, and ad-hoc queries over the current materializations.
//!
//! A code location adds a folder of SQL files to its definitions:
//!
//! ```no_run
//! # fn rust_assets() -> stemma::Definitions { stemma::Definitions::new() }
//! let definitions = stemma_sql::with_sql_assets(
//!     rust_assets(),
//!     concat!(env!("CARGO_MANIFEST_DIR"), "/models"),
//! );
//! ```
//!
//! * `models/silver/orders.sql` is the asset `silver/orders`: folders are key prefixes.
//! * Its dependencies are the tables its query reads, found by DataFusion's SQL parser:
//!   `FROM bronze.orders` reads the asset `bronze/orders` (a quoted `"raw/orders"` works too;
//!   CTEs are not tables). An unknown table is a definition error at `file:line:col`.
//! * An optional header of comment lines sets the description, group, owners, tags, kinds,
//!   IO manager, partitions and checks ([`header`]).
//! * The code version is a hash of the query's tokens: whitespace, comments and keyword case
//!   do not change it.
//! * When it runs, every upstream is registered as a table (its current value, or for a
//!   partitioned upstream the partitions the mapping selects) and DataFusion runs the query;
//!   the result is stored like any table, with the lineage of every output column recorded as
//!   the `column_lineage` metadata of the materialization ([`lineage`]).

pub mod file;
pub mod header;
pub mod lineage;
mod located;
pub mod query;
pub mod run;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt;
use stemma::spec::PartitionsDefinition;
use stemma::{AssetDef, CheckDef, CheckResult, Definitions, MetadataValue, Table, Value};

pub use file::{FileError, SqlFile};
pub use header::{Header, Partitioning, SqlCheck};
pub use lineage::{ColumnLineage, Source, Transform, column_lineage};
pub use query::{QueryResult, query};

/// The metadata key a SQL asset's materialization records its column lineage under.
pub const COLUMN_LINEAGE: &str = "column_lineage";

/// `definitions` plus one asset for every `.sql` file under `dir` (recursively). Problems —
/// a file that does not parse, an unknown table, a bad header — are reported with every other
/// problem when the definitions are loaded, each at its `file:line:col`.
pub fn with_sql_assets(definitions: Definitions, dir: impl AsRef<Path>) -> Definitions {
    let dir = dir.as_ref();
    let paths = match sql_files(dir) {
        Ok(p) => p,
        Err(e) => return definitions.problem(format!("SQL folder {}: {e}", dir.display())),
    };
    let mut files = Vec::new();
    let mut definitions = definitions;
    for path in paths {
        match SqlFile::load(dir, &path) {
            Ok(f) => files.push(f),
            Err(e) => definitions = definitions.problem(e.to_string()),
        }
    }
    add_files(definitions, files)
}

/// Every `.sql` file under `dir`, in a stable order.
fn sql_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "sql") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// How a key is written in SQL: `bronze/orders` as `bronze.orders`.
pub fn sql_name(key: &str) -> String {
    let parts: Vec<&str> = key.split('/').collect();
    if parts.len() <= 3 && parts.iter().all(|p| is_plain_identifier(p)) {
        parts.join(".")
    } else {
        format!("\"{key}\"")
    }
}

fn is_plain_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn add_files(definitions: Definitions, files: Vec<SqlFile>) -> Definitions {
    let rust_partitions: BTreeMap<String, Option<PartitionsDefinition>> = definitions
        .asset_defs()
        .iter()
        .map(|a| (a.key().as_str().to_owned(), a.spec().partitions.clone()))
        .collect();
    let mut known: BTreeSet<String> = rust_partitions.keys().cloned().collect();
    known.extend(files.iter().map(|f| f.key.as_str().to_owned()));

    let mut problems = Vec::new();
    for f in &files {
        for t in &f.tables {
            if !known.contains(&t.key) {
                let hint = stemma::error::did_you_mean(&t.key, known.iter().map(String::as_str))
                    .map(|k| format!("; did you mean {}?", sql_name(k)))
                    .unwrap_or_default();
                problems.push(format!(
                    "{}: unknown table {} (no asset {}){hint}",
                    f.at(t.position),
                    t.reference,
                    t.key
                ));
            }
        }
    }

    // `partitions: same as X`, followed through other SQL assets.
    let by_key: BTreeMap<&str, &SqlFile> = files.iter().map(|f| (f.key.as_str(), f)).collect();
    let partitions_of = |f: &SqlFile, problems: &mut Vec<String>| -> Option<PartitionsDefinition> {
        let mut current = f;
        for _ in 0..=files.len() {
            match &current.header.partitions {
                None => return None,
                Some(Partitioning::Static(keys)) => {
                    return Some(PartitionsDefinition::static_keys(
                        keys.iter().map(String::as_str),
                    ));
                }
                Some(Partitioning::SameAs { key, line, column }) => {
                    if let Some(p) = rust_partitions.get(key.as_str()) {
                        if p.is_none() {
                            problems.push(format!(
                                "{}:{line}:{column}: partitions: {key} is not partitioned",
                                current.path.display()
                            ));
                        }
                        return p.clone();
                    }
                    match by_key.get(key.as_str()) {
                        Some(next) => current = next,
                        None => {
                            problems.push(format!(
                                "{}:{line}:{column}: partitions: no asset {key}",
                                current.path.display()
                            ));
                            return None;
                        }
                    }
                }
            }
        }
        problems.push(format!(
            "{}: partitions: `same as` goes round in a circle",
            f.path.display()
        ));
        None
    };

    let partitions: Vec<Option<PartitionsDefinition>> = files
        .iter()
        .map(|f| partitions_of(f, &mut problems))
        .collect();
    let mut assets = Vec::with_capacity(files.len());
    let mut checks = Vec::new();
    for (f, partitions) in files.into_iter().zip(partitions) {
        let f = Arc::new(f);
        let mut b = AssetDef::builder(f.key.as_str())
            .kind("sql")
            .code_version(f.code_version.clone())
            .metadata(
                "sql_file",
                MetadataValue::Path(f.path.display().to_string()),
            );
        let mut seen = BTreeSet::new();
        for t in &f.tables {
            // An unknown table is reported above, at its position, not again as a bad dep.
            if known.contains(&t.key) && seen.insert(t.key.clone()) {
                b = b.input(&t.key);
            }
        }
        let h = &f.header;
        if let Some(d) = &h.description {
            b = b.description(d.clone());
        }
        if let Some(g) = &h.group {
            b = b.group(g.clone());
        }
        for o in &h.owners {
            b = b.owner(o.clone());
        }
        for (k, v) in &h.tags {
            b = b.tag(k.clone(), v.clone());
        }
        for k in &h.kinds {
            b = b.kind(k.clone());
        }
        if let Some(io) = &h.io_manager {
            b = b.io_manager(io.clone());
        }
        if let Some(p) = partitions {
            b = b.partitions(p);
        }
        for check in &h.checks {
            let c = check.clone();
            let key = f.key.clone();
            // A check's version is what it runs: editing a header check re-evaluates that check
            // (the asset's own version covers the query only, not its header).
            let version =
                blake3::hash(format!("stemma.sql.check.v1\0{}", check.violations).as_bytes())
                    .to_hex()[..16]
                    .to_owned();
            checks.push(
                CheckDef::builder(&check.name, f.key.as_str())
                    .description(check.description.clone())
                    .code_version(version)
                    .run(true, move |_ctx, inputs| {
                        let c = c.clone();
                        let key = key.clone();
                        async move {
                            let value = inputs
                                .value(key.as_str())
                                .ok_or_else(|| format!("{key} was not loaded for its check"))?;
                            let table = run::as_table(value, key.as_str())?;
                            let n = run::count_violations(table, &c.violations).await?;
                            let result = if n == 0 {
                                CheckResult::pass()
                            } else {
                                CheckResult::fail(format!("{n} row(s) violate {}", c.description))
                            };
                            Ok::<_, stemma::BoxError>(result.metadata("violations", n))
                        }
                        .boxed()
                    })
                    .build(),
            );
        }
        let file = Arc::clone(&f);
        assets.push(
            b.compute(move |ctx, inputs| {
                let file = Arc::clone(&file);
                async move {
                    let (table, lineage) = execute(&file, &inputs).await?;
                    ctx.add_metadata(
                        COLUMN_LINEAGE,
                        MetadataValue::Json(serde_json::to_value(&lineage)?),
                    );
                    Ok::<_, stemma::BoxError>(Value::Table(table))
                }
            })
            .build(),
        );
    }
    let mut definitions = definitions.assets(assets).checks(checks);
    for p in problems {
        definitions = definitions.problem(p);
    }
    definitions
}

/// Runs a SQL asset's query over its loaded inputs.
async fn execute(
    file: &SqlFile,
    inputs: &stemma::Inputs,
) -> Result<(Table, Vec<ColumnLineage>), stemma::BoxError> {
    let ctx = run::session();
    for t in &file.tables {
        let value = inputs
            .value(&t.key)
            .ok_or_else(|| format!("input {} was not loaded", t.key))?;
        let table = run::as_table(value, &format!("input {}", t.key))?;
        run::register(&ctx, &t.reference, table)?;
    }
    run::run_sql(&ctx, &file.text).await.map_err(|e| {
        let (at, text) = run::describe_error(&e);
        let at = at.map(|(line, column)| file::Position { line, column });
        format!("{}: {text}", file.at(at)).into()
    })
}
