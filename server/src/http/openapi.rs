//! The routes of `/api/v1`, grouped by the role they need, and the OpenAPI 3.1 document
//! generated from the handlers' annotations and types (utoipa): one list, so the document
//! cannot miss a route.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppState, assets, backfills, events, graph, ops, report, runs};

/// The document's frame: title, version, tags; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stemma",
        description = "The HTTP API of a Stemma code location: assets, lineage, runs, the event \
                       stream. Errors are application/problem+json (RFC 9457). Lists are paged \
                       with opaque cursors (`next`). With tokens configured, send \
                       `Authorization: Bearer <token>`: reads need the role viewer, launches \
                       operator, administration admin."
    ),
    tags(
        (name = "assets", description = "The catalog, one asset, its history, partitions, staleness and lineage"),
        (name = "runs", description = "Runs: list, show, events, logs; launch, cancel, resume; plan"),
        (name = "events", description = "The event log as Server-Sent Events"),
        (name = "backfills", description = "Backfills: list, show; launch, cancel, resume"),
        (name = "operations", description = "Schedules, pools, dynamic partitions, wipe"),
        (name = "report", description = "Observations, materializations and check results reported from outside"),
    ),
    components(schemas(super::problem::Problem))
)]
pub struct ApiDoc;

/// What the role `viewer` may call.
pub fn viewer_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(assets::list))
        .routes(routes!(assets::one))
        .routes(routes!(assets::history))
        .routes(routes!(assets::partitions))
        .routes(routes!(assets::why_stale))
        .routes(routes!(assets::lineage))
        .routes(routes!(assets::graph))
        .routes(routes!(graph::layout))
        .routes(routes!(graph::states))
        .routes(routes!(runs::list))
        .routes(routes!(runs::one))
        .routes(routes!(runs::events))
        .routes(routes!(runs::logs))
        .routes(routes!(runs::plan))
        .routes(routes!(backfills::list))
        .routes(routes!(backfills::one))
        .routes(routes!(events::events))
        .routes(routes!(ops::schedules))
        .routes(routes!(ops::ticks))
        .routes(routes!(assets::columns))
        .routes(routes!(ops::pools))
        .routes(routes!(ops::dynamic_partitions))
}

/// What the role `operator` may call (and `admin`).
pub fn operator_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(runs::launch))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::resume))
        .routes(routes!(backfills::launch))
        .routes(routes!(backfills::cancel))
        .routes(routes!(backfills::resume))
        .routes(routes!(report::observation))
        .routes(routes!(report::materialization))
        .routes(routes!(report::check))
}

/// What only the role `admin` may call.
pub fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ops::start_schedule))
        .routes(routes!(ops::stop_schedule))
        .routes(routes!(ops::set_pool))
        .routes(routes!(ops::add_dynamic_partitions))
        .routes(routes!(ops::remove_dynamic_partitions))
        .routes(routes!(ops::wipe))
}
