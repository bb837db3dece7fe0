//! Reporting from outside (`operator`): another system tells Stemma that an asset was
//! observed, materialized (an external asset) or checked, with a version and metadata, so
//! Stemma's lineage and staleness follow it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use stemma::report::{Report, Reported};
use stemma::spec::Metadata;
use stemma::{Event, Severity};
use utoipa::ToSchema;

use super::AppState;
use super::extract::Body;
use super::problem::ApiResult;

/// An observation or a materialization: the asset's version now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportedVersion {
    /// The version as the reporting system knows it (an ETag, a date, a hash): a different
    /// value makes the asset's readers stale.
    pub version: String,
    /// The partition, for a partitioned asset.
    #[serde(default)]
    pub partition: Option<String>,
    /// Rows, for a materialization.
    #[serde(default)]
    pub rows: Option<u64>,
    /// Typed metadata: `{"rows": {"type": "int", "value": 3}}` (int, float, bool, text,
    /// markdown, json, url, path).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Metadata,
}

/// A check's result.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportedCheck {
    pub check: String,
    pub passed: bool,
    /// `warn` or `error` (default).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Metadata,
}

impl ReportedVersion {
    /// The report of `asset` this body makes; `what` from the version (and rows).
    fn report(self, asset: String, what: impl FnOnce(String, Option<u64>) -> Reported) -> Report {
        Report {
            asset,
            partition: self.partition,
            what: what(self.version, self.rows),
            metadata: self.metadata,
        }
    }
}

async fn record(state: AppState, report: Report) -> ApiResult<(StatusCode, Json<Event>)> {
    let event = state.engine.report(report).await?;
    Ok((StatusCode::CREATED, Json(event)))
}

/// Reports that an asset is at a version now (an observation).
#[utoipa::path(post, path = "/api/v1/assets/{key}/observations", tag = "report",
    params(("key" = String, Path, description = "The asset key")),
    request_body = ReportedVersion,
    responses(
        (status = 201, description = "Recorded: the event", body = super::events::EventDoc),
        super::problem::BadInput,
        super::problem::NotFound,
    ))]
pub async fn observation(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Body(body): Body<ReportedVersion>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    let report = body.report(key, |version, _| Reported::Observation { version });
    record(state, report).await
}

/// Reports that an external asset was materialized by the system reporting it.
#[utoipa::path(post, path = "/api/v1/assets/{key}/materializations", tag = "report",
    params(("key" = String, Path, description = "The asset key")),
    request_body = ReportedVersion,
    responses(
        (status = 201, description = "Recorded: the event", body = super::events::EventDoc),
        super::problem::BadInput,
        super::problem::NotFound,
        super::problem::Conflict,
    ))]
pub async fn materialization(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Body(body): Body<ReportedVersion>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    let report = body.report(key, |version, rows| Reported::Materialization {
        version,
        rows,
    });
    record(state, report).await
}

/// Reports a check's result for an asset.
#[utoipa::path(post, path = "/api/v1/assets/{key}/checks", tag = "report",
    params(("key" = String, Path, description = "The asset key")),
    request_body = ReportedCheck,
    responses(
        (status = 201, description = "Recorded: the event", body = super::events::EventDoc),
        super::problem::BadInput,
        super::problem::NotFound,
    ))]
pub async fn check(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Body(body): Body<ReportedCheck>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    let report = Report {
        asset: key,
        partition: body.partition,
        what: Reported::Check {
            check: body.check,
            passed: body.passed,
            severity: body.severity.unwrap_or_default(),
            description: body.description,
        },
        metadata: body.metadata,
    };
    record(state, report).await
}
