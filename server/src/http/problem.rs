//! Errors as `application/problem+json` (RFC 9457): the status from the error's kind (the one
//! place, as `cli::Failure` is for exit codes), and the message, position and suggestion the
//! command line prints.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stemma::{Error, ErrorKind, Hint};
use utoipa::ToSchema;

/// A problem report (RFC 9457).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:stemma:problem:not-found`, `…:invalid-input`,
    /// `…:conflict`, `…:canceled`, `…:unavailable`, `…:unauthorized`, `…:forbidden`,
    /// `…:failed`, `…:internal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong, as the command line says it.
    pub detail: String,
    /// Where in the request's selection the problem is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// A selection that would work (a missing upstream included), or the selection language's
    /// help for the mistake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// What to do about it, in this API's terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// A span of a selection string: bytes `start..end`, and the column (1-based, in characters)
/// where the caret of the command line's message points.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Position {
    pub start: usize,
    pub end: usize,
    pub column: usize,
}

/// A failed request: an engine error, or one the HTTP layer found (bad parameter, no token).
#[derive(Debug)]
pub struct ApiError(Box<Problem>);

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Self {
        ApiError(Box::new(Problem {
            kind: format!("urn:stemma:problem:{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            position: None,
            suggestion: None,
            hint: None,
        }))
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid-input", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn problem(&self) -> &Problem {
        &self.0
    }
}

/// The status an error kind answers with.
fn status_of(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "invalid-input"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not-found"),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
        ErrorKind::Canceled => (StatusCode::CONFLICT, "canceled"),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        ErrorKind::Failed => (StatusCode::INTERNAL_SERVER_ERROR, "failed"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, kind) = status_of(e.kind());
        let mut problem = ApiError::new(status, kind, e.to_string()).0;
        match e.inner() {
            Error::Selection(s) => {
                let span = s.span();
                problem.position = Some(Position {
                    start: span.start,
                    end: span.end,
                    column: s.column(),
                });
                problem.suggestion = s.help().map(str::to_owned);
            }
            Error::MissingUpstream { suggestion, .. } => {
                problem.suggestion = suggestion.clone();
            }
            _ => {}
        }
        problem.hint = e.hint().and_then(api_hint);
        ApiError(problem)
    }
}

/// A hint in the API's words: request fields and routes, not flags and commands.
fn api_hint(hint: &Hint) -> Option<String> {
    Some(match hint {
        Hint::ChoosePartition => "choose one partition: the `partitions` field".to_owned(),
        Hint::ChoosePartitions => {
            "choose partitions: the `partitions` field (keys), or `range`".to_owned()
        }
        Hint::NoPartition => "leave out `partitions`: the asset is not partitioned".to_owned(),
        Hint::BackfillPartitions => {
            "name partitions: `range` {from, to}, or `partitions` (`*` for all)".to_owned()
        }
        Hint::ListRuns => "GET /api/v1/runs lists the recent runs".to_owned(),
        Hint::ListBackfills => "GET /api/v1/backfills lists the recent backfills".to_owned(),
        Hint::AddDynamicPartition { definition, key } => format!(
            "add it first: POST /api/v1/dynamic-partitions/{definition} with keys [\"{key}\"]"
        ),
        Hint::WidenSelection {
            selection,
            everything_upstream,
        } => match everything_upstream {
            Some(all) => format!(
                "include them in the selection: `{selection}` (or `{all}` for everything upstream)"
            ),
            None => format!("include them in the selection: `{selection}`"),
        },
        Hint::ListAssets => "GET /api/v1/assets lists every asset".to_owned(),
        Hint::SelectionSyntax => {
            "the selection language is described with the `select` parameter in \
             GET /api/v1/openapi.json"
                .to_owned()
        }
        Hint::ResumeBackfill { backfill } => {
            format!("the run works for a backfill: POST /api/v1/backfills/{backfill}/resume")
        }
        _ => return None,
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(*self.0)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// What a handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

/// 400 in the OpenAPI document: bad input — the problem says what, where and what to do.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 400,
    description = "Bad input (a selection, partition, config, cursor or body): the problem says what, where and what to do; nothing was done",
    content_type = "application/problem+json"
)]
pub struct BadInput(#[to_schema] pub Problem);

/// 404 in the OpenAPI document: what the request names does not exist.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 404,
    description = "What the request names does not exist (the problem names it, and the nearest match)",
    content_type = "application/problem+json"
)]
pub struct NotFound(#[to_schema] pub Problem);

/// 409 in the OpenAPI document: the state of what is named forbids the request.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 409,
    description = "The state of what the request names forbids it (a run that has ended or still runs, an asset Stemma computes)",
    content_type = "application/problem+json"
)]
pub struct Conflict(#[to_schema] pub Problem);
