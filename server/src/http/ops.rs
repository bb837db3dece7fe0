//! Operating the instance: schedules (list, start, stop), pools (list, set), dynamic
//! partitions (list, add, remove) and wipe. Reads need `viewer`; changes need `admin`.

use axum::Json;
use axum::extract::{Path, State};

use super::extract::Body;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::page::PageParams;
use super::problem::ApiResult;

/// A schedule and whether it runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    pub name: String,
    /// Its cron expression and time zone.
    pub cron: String,
    pub timezone: String,
    pub selection: String,
    pub description: Option<String>,
    pub running: bool,
    /// When it fires next (UTC; `timezone` says the wall clock it follows).
    pub next_tick: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every schedule of the code location.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "operations",
    responses((status = 200, description = "The schedules", body = Vec<ScheduleView>)))]
pub async fn schedules(State(state): State<AppState>) -> ApiResult<Json<Vec<ScheduleView>>> {
    let views = state
        .read(|engine| {
            engine
                .graph()
                .schedules()
                .iter()
                .map(|s| {
                    let (cron, timezone) = s
                        .cron()
                        .map(|c| (c.expression().to_owned(), c.tz().to_string()))
                        .unwrap_or_default();
                    let now =
                        chrono::DateTime::from_timestamp_micros(engine.now()).unwrap_or_default();
                    let next_tick = s.cron().ok().and_then(|c| c.next_after(now));
                    let running = engine
                        .instance()
                        .schedule_running(s.name(), s.is_running_by_default())?;
                    Ok(ScheduleView {
                        name: s.name().to_owned(),
                        cron,
                        timezone,
                        selection: s.selection().to_owned(),
                        description: s.description_text().map(str::to_owned),
                        running,
                        next_tick,
                    })
                })
                .collect::<stemma::Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(views))
}

/// Starts a schedule: the daemon launches its ticks from now on.
#[utoipa::path(post, path = "/api/v1/schedules/{name}/start", tag = "operations",
    params(("name" = String, Path, description = "The schedule")),
    responses(
        (status = 200, description = "Started", body = ScheduleView),
        super::problem::NotFound,
    ))]
pub async fn start_schedule(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<ScheduleView>> {
    set_schedule(state, name, true).await
}

/// Stops a schedule.
#[utoipa::path(post, path = "/api/v1/schedules/{name}/stop", tag = "operations",
    params(("name" = String, Path, description = "The schedule")),
    responses(
        (status = 200, description = "Stopped", body = ScheduleView),
        super::problem::NotFound,
    ))]
pub async fn stop_schedule(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<ScheduleView>> {
    set_schedule(state, name, false).await
}

async fn set_schedule(
    state: AppState,
    name: String,
    running: bool,
) -> ApiResult<Json<ScheduleView>> {
    state.engine.set_schedule_running(&name, running).await?;
    let Json(all) = schedules(State(state)).await?;
    all.into_iter()
        .find(|s| s.name == name)
        .map(Json)
        .ok_or_else(|| super::problem::ApiError::not_found(format!("no schedule {name:?}")))
}

/// A concurrency pool: its limit and who holds its slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolView {
    pub name: String,
    /// Absent: unlimited.
    pub slots: Option<u32>,
    /// Who holds a slot (a run's step, a process).
    pub holders: Vec<String>,
}

/// Every pool with a limit or a held slot.
#[utoipa::path(get, path = "/api/v1/pools", tag = "operations",
    responses((status = 200, description = "The pools", body = Vec<PoolView>)))]
pub async fn pools(State(state): State<AppState>) -> ApiResult<Json<Vec<PoolView>>> {
    let pools = state.read(|e| e.instance().pools()).await?;
    Ok(Json(
        pools
            .into_iter()
            .map(|p| PoolView {
                name: p.name,
                slots: p.slots,
                holders: p.holders.into_iter().map(|(h, _)| h).collect(),
            })
            .collect(),
    ))
}

/// A pool's new limit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolLimit {
    /// At most this many slots at once; absent or null: unlimited.
    #[serde(default)]
    pub slots: Option<u32>,
}

/// Sets a pool's limit (a pool named in stemma.toml's `[pools]` is set there instead: the file
/// is written to the instance whenever a process opens it).
#[utoipa::path(put, path = "/api/v1/pools/{name}", tag = "operations",
    params(("name" = String, Path, description = "The pool")),
    request_body = PoolLimit,
    responses(
        (status = 200, description = "The pool as it is now", body = PoolView),
        super::problem::BadInput,
    ))]
pub async fn set_pool(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(limit): Body<PoolLimit>,
) -> ApiResult<Json<PoolView>> {
    let pool = name.clone();
    state
        .read(move |e| e.instance().set_pool_limit(&pool, limit.slots))
        .await?;
    let Json(all) = pools(State(state)).await?;
    let view = all
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or(PoolView {
            name,
            slots: None,
            holders: Vec::new(),
        });
    Ok(Json(view))
}

/// Keys to add to or remove from a dynamic partitions definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionKeys {
    pub keys: Vec<String>,
}

/// The keys of a dynamic partitions definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct DynamicPartitions {
    pub definition: String,
    pub keys: Vec<String>,
}

async fn dynamic_keys(state: &AppState, definition: String) -> ApiResult<Json<DynamicPartitions>> {
    let name = definition.clone();
    let keys = state.read(move |e| e.dynamic_partitions(&name)).await?;
    Ok(Json(DynamicPartitions { definition, keys }))
}

/// The keys of a dynamic partitions definition.
#[utoipa::path(get, path = "/api/v1/dynamic-partitions/{definition}", tag = "operations",
    params(("definition" = String, Path, description = "The dynamic partitions definition")),
    responses(
        (status = 200, description = "Its keys", body = DynamicPartitions),
        super::problem::NotFound,
    ))]
pub async fn dynamic_partitions(
    State(state): State<AppState>,
    Path(definition): Path<String>,
) -> ApiResult<Json<DynamicPartitions>> {
    dynamic_keys(&state, definition).await
}

/// Adds keys to a dynamic partitions definition.
#[utoipa::path(post, path = "/api/v1/dynamic-partitions/{definition}", tag = "operations",
    params(("definition" = String, Path, description = "The dynamic partitions definition")),
    request_body = PartitionKeys,
    responses(
        (status = 200, description = "Its keys now", body = DynamicPartitions),
        super::problem::BadInput,
        super::problem::NotFound,
    ))]
pub async fn add_dynamic_partitions(
    State(state): State<AppState>,
    Path(definition): Path<String>,
    Body(body): Body<PartitionKeys>,
) -> ApiResult<Json<DynamicPartitions>> {
    state
        .engine
        .add_dynamic_partitions(&definition, &body.keys)
        .await?;
    dynamic_keys(&state, definition).await
}

/// Removes keys from a dynamic partitions definition.
#[utoipa::path(post, path = "/api/v1/dynamic-partitions/{definition}/remove", tag = "operations",
    params(("definition" = String, Path, description = "The dynamic partitions definition")),
    request_body = PartitionKeys,
    responses(
        (status = 200, description = "Its keys now", body = DynamicPartitions),
        super::problem::NotFound,
    ))]
pub async fn remove_dynamic_partitions(
    State(state): State<AppState>,
    Path(definition): Path<String>,
    Body(body): Body<PartitionKeys>,
) -> ApiResult<Json<DynamicPartitions>> {
    state
        .engine
        .remove_dynamic_partitions(&definition, &body.keys)
        .await?;
    dynamic_keys(&state, definition).await
}

/// What to wipe.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WipeRequest {
    /// A selection, as `--select` takes it.
    pub selection: String,
}

/// The assets wiped.
#[derive(Debug, Serialize, ToSchema)]
pub struct Wiped {
    pub wiped: Vec<String>,
}

/// Wipes the selected assets' materializations: they count as never materialized (the event
/// log keeps their history; objects stay until `assets gc`).
#[utoipa::path(post, path = "/api/v1/wipe", tag = "operations",
    request_body = WipeRequest,
    responses(
        (status = 200, description = "What was wiped", body = Wiped),
        super::problem::BadInput,
    ))]
pub async fn wipe(
    State(state): State<AppState>,
    Body(body): Body<WipeRequest>,
) -> ApiResult<Json<Wiped>> {
    let keys = state.engine.wipe(&body.selection).await?;
    Ok(Json(Wiped {
        wiped: keys.iter().map(|k| k.to_string()).collect(),
    }))
}

/// One tick of a schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct TickView {
    pub schedule: String,
    /// The instant it ticked for (RFC 3339).
    pub tick: Option<String>,
    /// claimed, launched, succeeded, failed or skipped.
    pub state: String,
    pub run_id: Option<String>,
    pub partition: Option<String>,
    pub daemon: String,
    pub message: Option<String>,
}

impl From<&stemma::instance::TickRecord> for TickView {
    fn from(t: &stemma::instance::TickRecord) -> Self {
        TickView {
            schedule: t.schedule.clone(),
            tick: chrono::DateTime::from_timestamp_micros(t.tick).map(|d| d.to_rfc3339()),
            state: t.state.clone(),
            run_id: t.run_id.clone(),
            partition: t.partition.clone(),
            daemon: t.daemon.clone(),
            message: t.message.clone(),
        }
    }
}

/// A schedule's recent ticks, newest first (at most `limit`, default 100).
#[utoipa::path(get, path = "/api/v1/schedules/{name}/ticks", tag = "operations",
    params(("name" = String, Path, description = "The schedule"), PageParams),
    responses(
        (status = 200, description = "Its ticks, newest first", body = Vec<TickView>),
        super::problem::NotFound,
    ))]
pub async fn ticks(
    State(state): State<AppState>,
    Path(name): Path<String>,
    super::extract::Params(page): super::extract::Params<PageParams>,
) -> ApiResult<Json<Vec<TickView>>> {
    let limit = page.limit()?;
    let ticks = state
        .read(move |e| {
            e.graph().schedule(&name)?;
            e.instance().ticks(Some(&name), limit)
        })
        .await?;
    Ok(Json(ticks.iter().map(TickView::from).collect()))
}
