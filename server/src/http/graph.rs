//! The lineage graph as the browser draws it: its layout (cached by the graph's fingerprint,
//! revalidated by ETag, so a status change never lays anything out again) and its nodes'
//! states, in columns.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stemma::ids::NodeIx;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::assets::selected;
use super::extract::Params;
use super::problem::ApiResult;
use crate::views::layout::{GROUPS_ABOVE, GraphLayout};
use crate::views::states::GraphStates;

/// Layouts kept, newest first (each the JSON it answers with).
const KEPT: usize = 16;

/// The layouts drawn lately, by fingerprint.
#[derive(Default)]
pub struct LayoutCache {
    entries: Mutex<VecDeque<(String, Arc<String>)>>,
}

impl LayoutCache {
    fn get(&self, fingerprint: &str) -> Option<Arc<String>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|(f, _)| f == fingerprint)
            .map(|(_, body)| Arc::clone(body))
    }

    fn put(&self, fingerprint: String, body: Arc<String>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(f, _)| *f != fingerprint);
        entries.push_front((fingerprint, body));
        entries.truncate(KEPT);
    }
}

/// Which level of the graph to draw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Groups above 1,500 assets, assets otherwise.
    #[default]
    Auto,
    Assets,
    Groups,
}

/// `?select=&level=&group=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphParams {
    /// A selection in the language of `--select`; all assets when absent.
    pub select: Option<String>,
    /// `auto` (default), `assets` or `groups`.
    pub level: Option<Level>,
    /// Only the assets of this group (the interior of a group's super-node).
    pub group: Option<String>,
}

/// The nodes of a selection, narrowed to a group.
fn nodes_of(engine: &stemma::Engine, params: &GraphParams) -> stemma::Result<Vec<NodeIx>> {
    let mut nodes = selected(engine, params.select.as_deref())?;
    if let Some(group) = &params.group {
        let graph = engine.graph();
        nodes.retain(|&n| graph.spec(n).group == *group);
        if nodes.is_empty() {
            return Err(stemma::Error::not_found(
                "group",
                group.clone(),
                format!("no asset of group {group:?} is selected"),
            ));
        }
    }
    Ok(nodes)
}

/// The laid-out lineage graph of a selection, in columns (ETag: the graph's fingerprint).
#[utoipa::path(
    get,
    path = "/api/v1/layout",
    tag = "assets",
    params(GraphParams),
    responses(
        (status = 200, description = "Positions of the nodes and waypoints of the edges", body = GraphLayout),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        super::problem::BadInput,
        super::problem::NotFound,
    )
)]
pub async fn layout(
    State(state): State<AppState>,
    Params(params): Params<GraphParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let known = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_owned()
        });
    let cache = Arc::clone(&state.layouts);
    let (fingerprint, body) = state
        .read(move |engine| {
            let graph = engine.graph();
            let nodes = nodes_of(engine, &params)?;
            let groups = match params.level.unwrap_or_default() {
                Level::Auto => params.group.is_none() && nodes.len() > GROUPS_ABOVE,
                Level::Assets => false,
                Level::Groups => true,
            };
            let unlaid = if groups {
                GraphLayout::groups(graph, &nodes)
            } else {
                GraphLayout::assets(graph, &nodes)
            };
            let fingerprint = unlaid.fingerprint.clone();
            if known.as_deref() == Some(fingerprint.as_str()) {
                return Ok((fingerprint, None));
            }
            if let Some(body) = cache.get(&fingerprint) {
                return Ok((fingerprint, Some(body)));
            }
            let body = Arc::new(
                serde_json::to_string(&unlaid.draw())
                    .map_err(|e| stemma::Error::Plan(format!("serializing a layout: {e}")))?,
            );
            cache.put(fingerprint.clone(), Arc::clone(&body));
            Ok((fingerprint, Some(body)))
        })
        .await?;
    let etag = HeaderValue::from_str(&format!("\"{fingerprint}\""))
        .unwrap_or(HeaderValue::from_static("\"\""));
    let caching = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    Ok(match body {
        None => (StatusCode::NOT_MODIFIED, caching).into_response(),
        Some(body) => (
            caching,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            (*body).clone(),
        )
            .into_response(),
    })
}

/// What each node of a selection's graph shows: state, last materialization, checks,
/// partitions and kinds, in columns aligned with `keys`.
#[utoipa::path(
    get,
    path = "/api/v1/lineage/states",
    tag = "assets",
    params(GraphParams),
    responses(
        (status = 200, description = "The state of each asset", body = GraphStates),
        super::problem::BadInput,
        super::problem::NotFound,
    )
)]
pub async fn states(
    State(state): State<AppState>,
    Params(params): Params<GraphParams>,
) -> ApiResult<axum::Json<GraphStates>> {
    let judging = Arc::clone(&state.judged);
    let states = state
        .read(move |engine| {
            let nodes = nodes_of(engine, &params)?;
            let judged = judging.get(engine)?;
            GraphStates::gather(engine, &nodes, &judged)
        })
        .await?;
    Ok(axum::Json(states))
}
