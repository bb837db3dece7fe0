//! Column lineage (`assets lineage KEY --columns --json`, `GET /api/v1/assets/{key}/columns`):
//! where each column of a SQL asset comes from, followed upstream through other SQL assets.

use serde::Serialize;
use stemma::{AssetKey, Engine, Error, MetadataValue};
use stemma_sql::{COLUMN_LINEAGE, ColumnLineage, Transform};

/// One column's lineage, followed upstream through other SQL assets.
#[derive(Debug, Serialize)]
pub struct ColumnTree {
    pub asset: String,
    pub column: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    pub from: Vec<ColumnTree>,
}

impl ColumnTree {
    /// Where each column of `asset` comes from.
    pub fn gather(engine: &Engine, asset: &AssetKey) -> Result<Vec<ColumnTree>, Error> {
        column_trees(engine, asset)
    }
}

/// Where each column of `asset` comes from, followed to the columns nothing derives (what
/// `lineage --columns` shows and `GET /api/v1/assets/{key}/columns` returns).
fn column_trees(engine: &Engine, asset: &AssetKey) -> Result<Vec<ColumnTree>, Error> {
    let asset = asset.clone();
    let direct = recorded_lineage(engine, &asset)?.ok_or_else(|| {
        Error::Plan(format!(
            "{asset} has no recorded column lineage: SQL assets record it when they are \
             materialized (run `assets materialize --select {asset}`); Rust assets do not"
        ))
    })?;
    let mut cache = std::collections::BTreeMap::new();
    let trees: Vec<ColumnTree> = direct
        .iter()
        .map(|c| ColumnTree {
            asset: asset.to_string(),
            column: c.column.clone(),
            transform: Some(c.transform),
            from: c
                .from
                .iter()
                .map(|s| follow(engine, &s.asset, &s.column, &mut cache, 0))
                .collect(),
        })
        .collect();
    Ok(trees)
}

/// Each asset's recorded lineage, read once per command however often it is followed.
type LineageCache = std::collections::BTreeMap<String, Option<std::rc::Rc<[ColumnLineage]>>>;

fn follow(
    engine: &Engine,
    asset: &str,
    column: &str,
    cache: &mut LineageCache,
    depth: usize,
) -> ColumnTree {
    let lineage = match cache.get(asset) {
        Some(l) => l.clone(),
        None => {
            let l: Option<std::rc::Rc<[ColumnLineage]>> = AssetKey::parse(asset)
                .ok()
                .and_then(|k| recorded_lineage(engine, &k).ok().flatten())
                .map(Into::into);
            cache.insert(asset.to_owned(), l.clone());
            l
        }
    };
    let entry = lineage
        .as_ref()
        .and_then(|l| l.iter().find(|c| c.column == column))
        .filter(|_| depth < 64);
    ColumnTree {
        asset: asset.to_owned(),
        column: column.to_owned(),
        transform: entry.map(|c| c.transform),
        from: entry
            .map(|c| {
                c.from
                    .iter()
                    .map(|s| follow(engine, &s.asset, &s.column, cache, depth + 1))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The column lineage the latest materialization of `asset` (any partition) recorded.
fn recorded_lineage(
    engine: &Engine,
    asset: &AssetKey,
) -> Result<Option<Vec<ColumnLineage>>, Error> {
    let only = [asset.clone()].into();
    let latest = engine
        .instance()
        .latest_materializations(Some(&only))?
        .into_iter()
        .max_by_key(|m| (m.timestamp, m.event_id));
    let Some(latest) = latest else {
        return Ok(None);
    };
    let Some(m) = engine.instance().materialization(latest.event_id)? else {
        return Ok(None);
    };
    match m.metadata.get(COLUMN_LINEAGE) {
        Some(MetadataValue::Json(v)) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            Error::Internal(format!("the column lineage of {asset} cannot be read: {e}"))
        }),
        _ => Ok(None),
    }
}
