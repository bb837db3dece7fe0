//! `/api/v1/assets…` and `/api/v1/lineage`: what the catalog, an asset's page, its history,
//! partitions, staleness and lineage show.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};

use super::extract::Params;
use serde::Deserialize;
use stemma::Event;
use stemma::instance::EventQuery;
use stemma::model::ids::NodeIx;
use utoipa::IntoParams;

use super::AppState;
use super::page::{Page, PageParams};
use super::problem::{ApiError, ApiResult};
use crate::views::assets::{Direction, LineageGraph, walk};
use crate::views::catalog::{AssetDetail, AssetSummary};
use crate::views::why::WhyStale;

/// `?select=`: a selection in the same language as `--select`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SelectParams {
    /// A selection (`embeddings+`, `tag:team=ml`, `group:rag and not kind:sql`); all assets
    /// when absent.
    pub select: Option<String>,
}

/// The nodes a selection names (all when none is given), in key order.
pub(super) fn selected(
    engine: &stemma::Engine,
    select: Option<&str>,
) -> stemma::Result<Vec<NodeIx>> {
    let graph = engine.graph();
    let mut nodes: Vec<NodeIx> = match select.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => {
            let (_, set) = engine.select(text)?;
            set.ones().map(NodeIx::new).collect()
        }
        None => graph.assets().map(|(n, _)| n).collect(),
    };
    nodes.sort_by(|a, b| graph.key(*a).cmp(graph.key(*b)));
    Ok(nodes)
}

/// The asset catalog, in key order, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/assets",
    tag = "assets",
    params(SelectParams, PageParams),
    responses(
        (status = 200, description = "One page of the catalog", body = Page<AssetSummary>),
        super::problem::BadInput,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Params(select): Params<SelectParams>,
    Params(page): Params<PageParams>,
) -> ApiResult<Json<Page<AssetSummary>>> {
    let limit = page.limit()?;
    let after: Option<String> = page.after()?;
    let judging = Arc::clone(&state.judged);
    let rows = state
        .read(move |engine| {
            let nodes = selected(engine, select.select.as_deref())?;
            let graph = engine.graph();
            let start = after.map_or(0, |last| {
                nodes.partition_point(|n| graph.key(*n).as_str() <= last.as_str())
            });
            let end = (start + limit + 1).min(nodes.len());
            let judged = judging.get(engine)?;
            Ok(AssetSummary::gather(engine, &nodes[start..end], &judged))
        })
        .await?;
    Ok(Json(Page::of(rows, limit, |row| row.key.clone())))
}

/// The node of `key`, or a 404 that says which asset was meant.
fn node_of(engine: &stemma::Engine, key: &str) -> stemma::Result<NodeIx> {
    engine.graph().lookup(key)
}

/// One asset: definition, state and why, newest materializations, checks, partitions.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{key}",
    tag = "assets",
    params(("key" = String, Path, description = "The asset key (`/` in it as %2F)")),
    responses(
        (status = 200, description = "The asset", body = AssetDetail),
        super::problem::NotFound,
    )
)]
pub async fn one(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<AssetDetail>> {
    let judging = Arc::clone(&state.judged);
    let detail = state
        .read(move |engine| {
            let node = node_of(engine, &key)?;
            let judged = judging.get(engine)?;
            AssetDetail::gather(engine, node, &judged)
        })
        .await?;
    Ok(Json(detail))
}

/// `?kind=`: which history.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// `materialization` (default), `observation`, `check_evaluation`, or `all` of them.
    pub kind: Option<String>,
    /// Only this partition's events.
    pub partition: Option<String>,
}

/// An asset's materializations (or observations, check evaluations) with their metadata,
/// newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{key}/history",
    tag = "assets",
    params(("key" = String, Path, description = "The asset key"), HistoryParams, PageParams),
    responses(
        (status = 200, description = "Events newest first: each as the event log holds it", body = Page<super::events::EventDoc>),
        super::problem::BadInput,
        super::problem::NotFound,
    )
)]
pub async fn history(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Params(params): Params<HistoryParams>,
    Params(page): Params<PageParams>,
) -> ApiResult<Json<Page<Event>>> {
    let limit = page.limit()?;
    let before: Option<i64> = page.after()?;
    let kinds: Vec<String> = match params.kind.as_deref().unwrap_or("materialization") {
        "all" => vec![
            "materialization".into(),
            "observation".into(),
            "check_evaluation".into(),
        ],
        k @ ("materialization" | "observation" | "check_evaluation") => vec![k.to_owned()],
        other => {
            return Err(ApiError::bad_request(format!(
                "kind {other:?}: give materialization, observation, check_evaluation or all"
            )));
        }
    };
    let events = state
        .read(move |engine| {
            let node = node_of(engine, &key)?;
            let query = EventQuery {
                before,
                asset: Some(engine.graph().key(node).clone()),
                partition: params.partition,
                kinds,
                newest_first: true,
                limit: limit + 1,
                ..EventQuery::default()
            };
            engine.instance().events(&query)
        })
        .await?;
    Ok(Json(Page::of(events, limit, |e| e.id.unwrap_or_default())))
}

/// An asset's partitions as ranges of keys by state (never one row per partition).
#[utoipa::path(
    get,
    path = "/api/v1/assets/{key}/partitions",
    tag = "assets",
    params(("key" = String, Path, description = "The asset key")),
    responses(
        (status = 200, description = "Ranges of partition keys by state", body = crate::views::partitions::PartitionsView),
        super::problem::BadInput,
        super::problem::NotFound,
    )
)]
pub async fn partitions(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<crate::views::partitions::PartitionsView>> {
    let view = state
        .read(move |engine| {
            let graph = engine.graph();
            let node = node_of(engine, &key)?;
            let asset = graph.key(node);
            let Some(def) = graph.spec(node).partitions.as_ref() else {
                return Err(stemma::Error::Plan(format!("{asset} is not partitioned")));
            };
            let status = engine.instance().partition_status(asset, def)?;
            Ok(crate::views::partitions::PartitionsView::of(
                asset.as_str(),
                def,
                &status,
            ))
        })
        .await?;
    Ok(Json(view))
}

/// `?partition=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PartitionParam {
    /// The partition to explain (default: the first stale one).
    pub partition: Option<String>,
}

/// Why an asset (partition) is stale: the tree of causes down to its root causes.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{key}/why-stale",
    tag = "assets",
    params(("key" = String, Path, description = "The asset key"), PartitionParam),
    responses(
        (status = 200, description = "The tree of causes", body = WhyStale),
        super::problem::BadInput,
        super::problem::NotFound,
    )
)]
pub async fn why_stale(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Params(param): Params<PartitionParam>,
) -> ApiResult<Json<WhyStale>> {
    let judging = Arc::clone(&state.judged);
    let view = state
        .read(move |engine| {
            let judged = judging.get(engine)?;
            WhyStale::gather_judged(engine, &key, param.partition.as_deref(), &judged)
        })
        .await?;
    Ok(Json(view))
}

/// `?depth=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DepthParam {
    /// How many levels up and down (default 2): the selection `depth+KEY+depth`.
    #[param(minimum = 0, maximum = 1000)]
    pub depth: Option<u32>,
}

/// The lineage around an asset: `depth` levels up and down.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{key}/lineage",
    tag = "assets",
    params(("key" = String, Path, description = "The asset key"), DepthParam),
    responses(
        (status = 200, description = "The neighbourhood's assets with their layers and deps", body = LineageGraph),
        super::problem::NotFound,
    )
)]
pub async fn lineage(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Params(param): Params<DepthParam>,
) -> ApiResult<Json<LineageGraph>> {
    let depth = param.depth.unwrap_or(2).min(1000);
    let graph = state
        .read(move |engine| {
            let node = node_of(engine, &key)?;
            let graph = engine.graph();
            let mut near = fixedbitset::FixedBitSet::with_capacity(graph.len());
            near.insert(node.index());
            for direction in [Direction::Upstream, Direction::Downstream] {
                for (_, n) in walk(graph, node, direction, Some(depth as usize)) {
                    near.insert(n.index());
                }
            }
            let nodes: Vec<NodeIx> = graph
                .topo_order()
                .iter()
                .copied()
                .filter(|n| near.contains(n.index()))
                .collect();
            Ok(LineageGraph::of(engine.graph(), &nodes))
        })
        .await?;
    Ok(Json(graph))
}

/// The lineage graph of a selection (all assets when none), in topological order.
#[utoipa::path(
    get,
    path = "/api/v1/lineage",
    tag = "assets",
    params(SelectParams),
    responses(
        (status = 200, description = "Assets with their layers and deps", body = LineageGraph),
        super::problem::BadInput,
    )
)]
pub async fn graph(
    State(state): State<AppState>,
    Params(select): Params<SelectParams>,
) -> ApiResult<Json<LineageGraph>> {
    let graph = state
        .read(move |engine| {
            let set = match select
                .select
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                Some(text) => Some(engine.select(text)?.1),
                None => None,
            };
            let nodes: Vec<NodeIx> = engine
                .graph()
                .topo_order()
                .iter()
                .copied()
                .filter(|n| set.as_ref().is_none_or(|s| s.contains(n.index())))
                .collect();
            Ok(LineageGraph::of(engine.graph(), &nodes))
        })
        .await?;
    Ok(Json(graph))
}

/// Where each column of a SQL asset comes from, followed upstream through other SQL assets.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{key}/columns",
    tag = "assets",
    params(("key" = String, Path, description = "The asset key")),
    responses(
        (status = 200, description = "Each column with the columns it is derived from", body = Object),
        super::problem::BadInput,
        super::problem::NotFound,
    )
)]
pub async fn columns(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let view = state
        .read(move |engine| {
            let node = node_of(engine, &key)?;
            let asset = engine.graph().key(node).clone();
            #[cfg(feature = "sql")]
            {
                let trees = crate::views::columns::ColumnTree::gather(engine, &asset)?;
                Ok(serde_json::json!({ "asset": asset.as_str(), "columns": trees }))
            }
            #[cfg(not(feature = "sql"))]
            {
                Err(stemma::Error::Config(format!(
                    "the column lineage of {asset} needs SQL (DataFusion), which this code \
                     location was built without"
                )))
            }
        })
        .await?;
    Ok(Json(view))
}
