//! `/api/v1/backfills…`: backfills listed and shown (`viewer`), launched, canceled and resumed
//! (`operator`) — launched and resumed in child processes, like runs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use stemma::{Backfill, BackfillId, Reprocess};
use utoipa::ToSchema;

use super::AppState;
use super::extract::{Body, Params};
use super::page::{Page, PageParams};
use super::problem::{ApiError, ApiResult};
use super::runs::PartitionRange;
use crate::views::backfills::BackfillView;

/// Backfills, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/backfills", tag = "backfills",
    params(PageParams),
    responses(
        (status = 200, description = "One page of backfills", body = Page<BackfillView>),
        super::problem::BadInput,
    ))]
pub async fn list(
    State(state): State<AppState>,
    Params(page): Params<PageParams>,
) -> ApiResult<Json<Page<BackfillView>>> {
    let limit = page.limit()?;
    let skip: usize = page.after()?.unwrap_or(0);
    let records = state
        .read(move |e| e.instance().backfills(skip + limit + 1))
        .await?;
    // The store lists backfills newest first without a key to start after: the cursor is
    // how many were listed before.
    let mut items: Vec<BackfillView> = records.iter().skip(skip).map(BackfillView::from).collect();
    let next = (items.len() > limit).then(|| super::page::encode(&(skip + limit)));
    items.truncate(limit);
    Ok(Json(Page { items, next }))
}

/// One backfill with its runs.
#[utoipa::path(get, path = "/api/v1/backfills/{id}", tag = "backfills",
    params(("id" = String, Path, description = "A backfill id, a unique prefix of one, or `latest`")),
    responses(
        (status = 200, description = "The backfill and its runs", body = BackfillView),
        super::problem::NotFound,
    ))]
pub async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<BackfillView>> {
    let view = state
        .read(move |e| {
            let record = e.instance().find_backfill(&id)?;
            let runs = e.instance().backfill_runs(&record.id)?;
            Ok(BackfillView::with_runs(&record, &runs))
        })
        .await?;
    Ok(Json(view))
}

/// What to backfill: the body of `POST /api/v1/backfills`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// A selection, as `--select` takes it.
    pub selection: String,
    /// Partitions (`*` for all).
    #[serde(default)]
    pub partitions: Vec<String>,
    /// A range of partitions.
    #[serde(default)]
    pub range: Option<PartitionRange>,
    /// missing (default): targets not materialized; failed: those whose last attempt failed;
    /// all: every target.
    #[serde(default)]
    pub reprocess: Option<String>,
    /// Oldest partitions first (default: newest first).
    #[serde(default)]
    pub oldest_first: bool,
    /// At most this many steps at once.
    #[serde(default)]
    pub concurrency: Option<u32>,
}

impl BackfillRequest {
    fn backfill(&self) -> Result<Backfill, ApiError> {
        let reprocess = Reprocess::parse(self.reprocess.as_deref().unwrap_or("missing"))?;
        let mut backfill = Backfill::new(self.selection.clone())
            .partitions(self.partitions.iter().cloned())
            .reprocess(reprocess)
            .newest_first(!self.oldest_first);
        if let Some(r) = &self.range {
            backfill = backfill.range(&r.from, &r.to);
        }
        if let Some(n) = self.concurrency {
            backfill = backfill.concurrency(n.max(1) as usize);
        }
        Ok(backfill)
    }

    /// The child's arguments: `backfill` with the same request.
    fn args(&self, id: &BackfillId) -> Vec<String> {
        let mut args = vec![
            "backfill".to_owned(),
            "--select".to_owned(),
            self.selection.clone(),
            format!("--backfill-id={id}"),
            format!(
                "--reprocess={}",
                self.reprocess.as_deref().unwrap_or("missing")
            ),
        ];
        for p in &self.partitions {
            args.push(format!("--partition={p}"));
        }
        if let Some(r) = &self.range {
            args.push(format!("--from={}", r.from));
            args.push(format!("--to={}", r.to));
        }
        if self.oldest_first {
            args.push("--oldest-first".to_owned());
        }
        if let Some(n) = self.concurrency {
            args.push(format!("--concurrency={}", n.max(1)));
        }
        args
    }
}

/// What a backfill launch answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackfillLaunched {
    pub backfill: String,
    /// Every (asset, partition) the request covers.
    pub targets: usize,
    /// Targets left out (already materialized).
    pub left_out: usize,
    /// Steps it will run.
    pub steps: usize,
    pub pid: u32,
}

/// Launches a backfill in a child process; answers with its id at once.
#[utoipa::path(post, path = "/api/v1/backfills", tag = "backfills",
    request_body = BackfillRequest,
    responses(
        (status = 202, description = "Launched", body = BackfillLaunched),
        super::problem::BadInput,
    ))]
pub async fn launch(
    State(state): State<AppState>,
    Body(body): Body<BackfillRequest>,
) -> ApiResult<(StatusCode, Json<BackfillLaunched>)> {
    let backfill = body.backfill()?;
    let plan = state.read(move |e| e.plan_backfill(&backfill)).await?;
    let id = BackfillId::new();
    // The child is named after the backfill's first run; its log is the backfill's.
    let pid = state.launcher.launch_as(&id.to_string(), body.args(&id))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(BackfillLaunched {
            backfill: id.to_string(),
            targets: plan.targets,
            left_out: plan.left_out,
            steps: plan.plan.steps.len(),
            pid,
        }),
    ))
}

/// Asks a backfill to stop.
#[utoipa::path(post, path = "/api/v1/backfills/{id}/cancel", tag = "backfills",
    params(("id" = String, Path, description = "A backfill id, a unique prefix of one, or `latest`")),
    responses(
        (status = 202, description = "Cancel requested", body = BackfillView),
        super::problem::NotFound,
        super::problem::Conflict,
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<BackfillView>)> {
    let record = state.engine.cancel_backfill(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(BackfillView::from(&record))))
}

/// Runs a backfill again in a child process, leaving out what it committed.
#[utoipa::path(post, path = "/api/v1/backfills/{id}/resume", tag = "backfills",
    params(("id" = String, Path, description = "A backfill id, a unique prefix of one, or `latest`")),
    responses(
        (status = 202, description = "Resumed", body = BackfillView),
        super::problem::NotFound,
        super::problem::Conflict,
    ))]
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<BackfillView>)> {
    let record = state.read(move |e| e.resumable_backfill(&id)).await?;
    let args = vec![
        "backfill".to_owned(),
        "resume".to_owned(),
        record.id.to_string(),
    ];
    state.launcher.launch_as(
        &format!("{}-resume-{}", record.id, uuid::Uuid::new_v4()),
        args,
    )?;
    Ok((StatusCode::ACCEPTED, Json(BackfillView::from(&record))))
}
