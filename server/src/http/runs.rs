//! `/api/v1/runs…` and `/api/v1/plan`: runs listed and shown, their events and logs, and
//! launching, canceling and resuming them (in child processes, see [`super::launch`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};

use super::extract::{Body, Params};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use stemma::instance::{EventQuery, RunQuery};
use stemma::{Event, Materialize, RunId, RunStatus};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::page::{Page, PageParams};
use super::problem::{ApiError, ApiResult};
use crate::views::runs::{RunDetail, RunView};

/// Filters of the run list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunFilter {
    /// started, success, failure, canceled.
    pub status: Option<String>,
    /// Only runs with a step of this asset.
    pub asset: Option<String>,
    /// Only runs started at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// Only runs started before this instant (RFC 3339).
    pub until: Option<String>,
    /// Only runs with this tag, `KEY=VALUE`.
    pub tag: Option<String>,
}

fn instant(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp_micros())
            .map_err(|e| {
                ApiError::bad_request(format!("{name} {t:?}: not an RFC 3339 instant ({e})"))
            })
    })
    .transpose()
}

impl RunFilter {
    fn query(self, page: &PageParams, limit: usize) -> Result<RunQuery, ApiError> {
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(RunStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status {s:?}: give started, success, failure or canceled"
                ))
            })?),
        };
        let tag = match self.tag.as_deref() {
            None => None,
            Some(t) => {
                let (k, v) = t
                    .split_once('=')
                    .ok_or_else(|| ApiError::bad_request(format!("tag {t:?}: write KEY=VALUE")))?;
                Some((k.to_owned(), v.to_owned()))
            }
        };
        Ok(RunQuery {
            status,
            asset: self.asset,
            since: instant("since", self.since.as_deref())?,
            until: instant("until", self.until.as_deref())?,
            tag,
            before: page.after()?,
            limit: limit + 1,
        })
    }
}

/// Runs, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "runs",
    params(RunFilter, PageParams),
    responses(
        (status = 200, description = "One page of runs", body = Page<RunView>),
        super::problem::BadInput,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Params(filter): Params<RunFilter>,
    Params(page): Params<PageParams>,
) -> ApiResult<Json<Page<RunView>>> {
    let limit = page.limit()?;
    let query = filter.query(&page, limit)?;
    let runs = state
        .read(move |engine| engine.instance().runs_page(&query))
        .await?;
    let views: Vec<RunView> = runs.iter().map(RunView::from).collect();
    Ok(Json(Page::of(views, limit, |r| {
        (
            r.started_at.map_or(0, |t| t.timestamp_micros()),
            r.run_id.to_string(),
        )
    })))
}

/// One run with its steps (what `assets runs show --json` prints).
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "A run id, a unique prefix of one, or `latest`")),
    responses(
        (status = 200, description = "The run and each step's outcome, phases and checks", body = RunDetail),
        super::problem::NotFound,
    )
)]
pub async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RunDetail>> {
    let detail = state
        .read(move |engine| {
            let record = engine.instance().find_run(&id)?;
            let events = engine.instance().run_events(&record.run_id)?;
            Ok(RunDetail::of(&record, &events))
        })
        .await?;
    Ok(Json(detail))
}

/// `?type=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TypeFilter {
    /// Only these event types, comma-separated (`step_failed,log`).
    #[serde(rename = "type")]
    pub types: Option<String>,
}

/// A run's events, oldest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/events",
    tag = "runs",
    params(("id" = String, Path, description = "A run id, a unique prefix of one, or `latest`"), TypeFilter, PageParams),
    responses(
        (status = 200, description = "Events in commit order", body = Page<super::events::EventDoc>),
        super::problem::NotFound,
    )
)]
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(filter): Params<TypeFilter>,
    Params(page): Params<PageParams>,
) -> ApiResult<Json<Page<Event>>> {
    let kinds = filter
        .types
        .map(|t| t.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default();
    run_events(state, id, kinds, page).await
}

/// A run's log lines (its `log` events), oldest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/logs",
    tag = "runs",
    params(("id" = String, Path, description = "A run id, a unique prefix of one, or `latest`"), PageParams),
    responses(
        (status = 200, description = "Log events in order", body = Page<super::events::EventDoc>),
        super::problem::NotFound,
    )
)]
pub async fn logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(page): Params<PageParams>,
) -> ApiResult<Json<Page<Event>>> {
    run_events(state, id, vec!["log".into()], page).await
}

async fn run_events(
    state: AppState,
    id: String,
    kinds: Vec<String>,
    page: PageParams,
) -> ApiResult<Json<Page<Event>>> {
    let limit = page.limit()?;
    let after: Option<i64> = page.after()?;
    let events = state
        .read(move |engine| {
            let record = engine.instance().find_run(&id)?;
            engine.instance().events(&EventQuery {
                after,
                run: Some(record.run_id),
                kinds,
                limit: limit + 1,
                ..EventQuery::default()
            })
        })
        .await?;
    Ok(Json(Page::of(events, limit, |e| e.id.unwrap_or_default())))
}

/// A range of partitions, both ends included, in the definition's order.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionRange {
    pub from: String,
    pub to: String,
}

/// What to materialize: the body of `POST /api/v1/runs` and `POST /api/v1/plan`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    /// A selection, as `--select` takes it.
    pub selection: String,
    /// Partitions of the selected partitioned assets (`*` for all).
    #[serde(default)]
    pub partitions: Vec<String>,
    /// A range of partitions.
    #[serde(default)]
    pub range: Option<PartitionRange>,
    /// Run configuration, as `--config KEY=VALUE` takes it.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Recompute every selected step, even those up to date.
    #[serde(default)]
    pub force: bool,
    /// Tags recorded with the run (filter runs by them).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl LaunchRequest {
    fn materialize(&self) -> Materialize {
        let mut request = Materialize::new(self.selection.clone())
            .partitions(self.partitions.iter().cloned())
            .config(self.config.iter().map(|(k, v)| format!("{k}={v}")))
            .tags(self.tags.clone())
            .force(self.force);
        if let Some(r) = &self.range {
            request = request.partition_range(&r.from, &r.to);
        }
        request
    }

    /// The child's arguments: `materialize` with the same request.
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "materialize".to_owned(),
            "--select".to_owned(),
            self.selection.clone(),
        ];
        for p in &self.partitions {
            args.push(format!("--partition={p}"));
        }
        if let Some(r) = &self.range {
            args.push(format!(
                "--partition-range={}{}{}",
                r.from,
                stemma::plan::RANGE_SEPARATOR,
                r.to
            ));
        }
        for (k, v) in &self.config {
            args.push(format!("--config={k}={v}"));
        }
        for (k, v) in &self.tags {
            args.push(format!("--tag={k}={v}"));
        }
        if self.force {
            args.push("--force".to_owned());
        }
        args
    }
}

/// What a launch answers: the run's id at once (the run goes on in its own process).
#[derive(Debug, Serialize, ToSchema)]
pub struct Launched {
    /// The new run's id; absent when there was nothing to do.
    pub run_id: Option<String>,
    /// `launched`, or `nothing_to_do` (the selection matched no assets now).
    pub status: String,
    /// How many steps were planned.
    pub steps: usize,
    /// The run's process.
    pub pid: Option<u32>,
}

/// Launches a run in a child process; answers with its id before it starts.
#[utoipa::path(
    post,
    path = "/api/v1/runs",
    tag = "runs",
    request_body = LaunchRequest,
    responses(
        (status = 202, description = "Launched: follow it on /api/v1/events?run=ID", body = Launched),
        (status = 200, description = "Nothing to do", body = Launched),
        super::problem::BadInput,
    )
)]
pub async fn launch(
    State(state): State<AppState>,
    Body(body): Body<LaunchRequest>,
) -> ApiResult<(StatusCode, Json<Launched>)> {
    // Plan here first: bad input is a 400 now, not a failed child later.
    let request = body.materialize();
    let steps = state
        .read(move |engine| Ok(engine.plan(&request)?.steps.len()))
        .await?;
    if steps == 0 {
        let nothing = Launched {
            run_id: None,
            status: "nothing_to_do".into(),
            steps,
            pid: None,
        };
        return Ok((StatusCode::OK, Json(nothing)));
    }
    let run = RunId::new();
    let pid = state.launcher.launch(&run, body.args())?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Launched {
            run_id: Some(run.to_string()),
            status: "launched".into(),
            steps,
            pid: Some(pid),
        }),
    ))
}

/// Asks a running run to stop: no new steps start, running ones are abandoned before they
/// commit, and it ends `canceled`.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/cancel",
    tag = "runs",
    params(("id" = String, Path, description = "A run id, a unique prefix of one, or `latest`")),
    responses(
        (status = 202, description = "Cancel requested: the run's process stops it", body = RunView),
        super::problem::NotFound,
        super::problem::Conflict,
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let record = state.engine.cancel_run(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(RunView::from(&record))))
}

/// Runs an ended run again in a new run (child process), leaving out the steps it completed.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/resume",
    tag = "runs",
    params(("id" = String, Path, description = "A run id, a unique prefix of one, or `latest`")),
    responses(
        (status = 202, description = "The resuming run was launched", body = Launched),
        super::problem::NotFound,
        super::problem::Conflict,
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Launched>)> {
    let record = state.read(move |engine| engine.resumable(&id)).await?;
    let run = RunId::new();
    let args = vec![
        "runs".to_owned(),
        "resume".to_owned(),
        record.run_id.to_string(),
    ];
    let pid = state.launcher.launch(&run, args)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Launched {
            run_id: Some(run.to_string()),
            status: "launched".into(),
            steps: record.steps as usize,
            pid: Some(pid),
        }),
    ))
}

/// One step a run would take.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedStep {
    /// `asset` or `asset[partition]`.
    pub step: String,
    /// run (it would compute), up_to_date (it would be reused), or why it would run.
    pub reason: String,
}

/// A dry run: the steps a launch of this request would take, and which are up to date.
#[utoipa::path(
    post,
    path = "/api/v1/plan",
    tag = "runs",
    request_body = LaunchRequest,
    responses(
        (status = 200, description = "The plan", body = Object),
        super::problem::BadInput,
    )
)]
pub async fn plan(
    State(state): State<AppState>,
    Body(body): Body<LaunchRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let request = body.materialize();
    let preview = state
        .read(move |engine| engine.preview_plan(&request))
        .await?;
    Ok(Json(crate::views::json(&preview)))
}
