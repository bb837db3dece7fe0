//! `assets serve`: the HTTP API under `/api/v1`, its event stream, `/metrics`, `/healthz` and
//! `/readyz`, with the scheduler daemon in the same process.
//!
//! ```text
//! request ─► auth::guard (Host, cross-site, token role; access log, latency) ─► handler
//!              handler ─► Engine::read (the instance's reader pool, off the runtime)
//!                      └─► views/ (the read models --json prints) ─► JSON
//!              errors ──► problem::ApiError (application/problem+json, status by ErrorKind)
//! POST /runs ─► launch::Launcher ─► a child process of this binary (`materialize --run-id`)
//! instance ─► events::EventFeed (one tail of the event log) ─► every SSE stream
//! ```
//!
//! Nothing is reloaded at run time: the definitions are compiled into the binary. SIGINT or
//! SIGTERM stops accepting, finishes requests in flight, ends event streams, stops the daemon
//! after its runs in flight; runs launched as child processes keep running.

pub mod assets;
pub mod auth;
pub mod backfills;
pub mod events;
pub mod extract;
pub mod graph;
pub mod launch;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod page;
pub mod partitions;
pub mod problem;
pub mod reads;
pub mod report;
pub mod runs;
pub mod ui;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use stemma::Engine;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use auth::{Guard, Role, Tokens};
use events::EventFeed;
use launch::Launcher;
use metrics::Metrics;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub feed: Arc<EventFeed>,
    pub metrics: Arc<Metrics>,
    pub launcher: Arc<Launcher>,
    /// The threads reads of the instance run on: few, and at a low priority, so that requests
    /// queue rather than starve the runs it launched (`--read-threads`).
    pub reads: Arc<reads::Reads>,
    /// Whether the partition status of every time-window asset has been folded once since
    /// start (until then `/readyz` answers 503).
    pub partitions_kept: Arc<std::sync::atomic::AtomicBool>,
    /// Lineage layouts drawn lately, by the graph's fingerprint.
    pub layouts: Arc<graph::LayoutCache>,
    /// Every asset judged, kept while no event has been committed since.
    pub judged: Arc<JudgedCache>,
}

/// The assets judged on the recorded observations, kept until the next event is committed (or
/// [`JUDGED_FOR`] has passed): at a million partitions judging takes about a second, and the
/// catalog, an asset's page and the graph's states all ask for it.
#[derive(Default)]
pub struct JudgedCache {
    kept: std::sync::Mutex<Option<(i64, std::time::Instant, Arc<crate::views::status::Judged>)>>,
}

/// The longest a judgement is kept, events or not (the clock moves on).
const JUDGED_FOR: Duration = Duration::from_secs(10);

impl JudgedCache {
    /// The judgement current to the instance's newest event.
    pub fn get(&self, engine: &Engine) -> stemma::Result<Arc<crate::views::status::Judged>> {
        let newest = engine.instance().last_event_id()?;
        {
            let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((id, at, judged)) = kept.as_ref()
                && *id == newest
                && at.elapsed() < JUDGED_FOR
            {
                return Ok(Arc::clone(judged));
            }
        }
        let judged = Arc::new(crate::views::status::Judged::recorded(engine)?);
        *self.kept.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((newest, std::time::Instant::now(), Arc::clone(&judged)));
        Ok(judged)
    }
}

impl AppState {
    /// Runs a read of the instance on the server's read threads.
    pub async fn read<T, F>(&self, read: F) -> stemma::Result<T>
    where
        F: FnOnce(&Engine) -> stemma::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.reads.run(read).await
    }
}

/// How `assets serve` was asked to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub tokens: Tokens,
    /// Serve without tokens on a non-loopback address.
    pub insecure: bool,
    /// Run the scheduler daemon in this process.
    pub daemon: bool,
    /// How often the daemon evaluates schedules.
    pub daemon_interval: Duration,
    /// How often the event feed reads new events.
    pub feed_interval: Duration,
    /// Reads of the instance at once (default: one less than the cores, at least one).
    pub read_threads: usize,
    /// How a child run process is started: this binary and the global arguments it was given.
    pub child: launch::ChildCommand,
}

/// The router: `/api/v1` behind the guard (reads need `viewer`, launches `operator`,
/// administration `admin`), and the unguarded probes.
pub fn router(state: AppState, tokens: Arc<Tokens>, loopback: bool) -> Router {
    let guard = |role| Guard {
        tokens: Arc::clone(&tokens),
        role,
        loopback,
        metrics: Arc::clone(&state.metrics),
    };
    let layer = |role| axum::middleware::from_fn_with_state(guard(role), auth::guard);
    let (api, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(openapi::viewer_routes().route_layer(layer(Role::Viewer)))
        .merge(openapi::operator_routes().route_layer(layer(Role::Operator)))
        .merge(openapi::admin_routes().route_layer(layer(Role::Admin)))
        .split_for_parts();
    let document = Arc::new(document.to_json().unwrap_or_default());
    api.route(
        "/api/v1/openapi.json",
        get(move || {
            let document = Arc::clone(&document);
            async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    (*document).clone(),
                )
            }
        }),
    )
    .route(
        "/metrics",
        get(metrics_text).route_layer(layer(Role::Viewer)),
    )
    .route("/", get(ui::page))
    .route("/assets", get(ui::page))
    .route("/assets/{*key}", get(ui::page))
    .route("/runs", get(ui::page))
    .route("/runs/{id}", get(ui::page))
    .route("/schedules", get(ui::page))
    .route("/ui/{*path}", get(ui::asset))
    .route("/healthz", get(healthz))
    .route("/readyz", get(readyz))
    .fallback(not_found)
    .with_state(state)
}

/// Serves until SIGINT or SIGTERM.
pub async fn serve(engine: Engine, options: ServeOptions) -> stemma::Result<()> {
    auth::check_bind(options.addr.ip(), &options.tokens, options.insecure)?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| stemma::Error::io(format!("listening on {}", options.addr), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| stemma::Error::io("reading the listening address", e))?;
    let shutdown = CancellationToken::new();
    spawn_signal_watch(shutdown.clone());
    let metrics = Arc::new(Metrics::new());
    let feed = EventFeed::start(
        engine.clone(),
        options.feed_interval,
        shutdown.clone(),
        Arc::clone(&metrics),
    )
    .await?;
    let launcher = Arc::new(Launcher::new(
        options.child.clone(),
        engine.instance().home(),
    ));
    let state = AppState {
        engine: engine.clone(),
        feed,
        metrics,
        launcher,
        reads: reads::Reads::new(&engine, options.read_threads),
        partitions_kept: Arc::default(),
        layouts: Arc::default(),
        judged: Arc::default(),
    };
    spawn_observer(engine.clone(), options.daemon_interval, shutdown.clone());
    partitions::spawn_keeper(&state, shutdown.clone());
    let daemon = options.daemon.then(|| {
        let daemon = stemma::daemon::Daemon::new(engine.clone());
        let stop = shutdown.clone();
        let every = options.daemon_interval;
        tokio::spawn(async move {
            if let Err(e) = daemon.run(every, stop).await {
                tracing::error!("the scheduler daemon stopped: {e}");
            }
        })
    });
    let open = if options.tokens.is_open() {
        "open, no tokens"
    } else {
        "tokens required"
    };
    // The line scripts and tests wait for: the address actually bound (port 0 picks one).
    eprintln!(
        "Serving {} assets on http://{addr} — {open}, daemon {}, OpenAPI at /api/v1/openapi.json; \
         Ctrl-C stops it",
        engine.graph().len(),
        if daemon.is_some() { "on" } else { "off" }
    );
    let app = router(state, Arc::new(options.tokens), addr.ip().is_loopback());
    let stop = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .map_err(|e| stemma::Error::io("serving HTTP", e))?;
    if let Some(daemon) = daemon {
        let _ = daemon.await;
    }
    eprintln!("Stopped; runs launched from the API keep running.");
    Ok(())
}

/// Observes the external sources every `every` (and at once), so that the API's reads, which
/// run no observer, judge on recent observations.
fn spawn_observer(engine: Engine, every: Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let observed = engine
                .read(|e| e.observe_sources(e.config()).map(|_| ()))
                .await;
            if let Err(e) = observed {
                tracing::warn!("observing the external sources: {e}");
            }
        }
    });
}

/// SIGINT and SIGTERM cancel `shutdown`.
fn spawn_signal_watch(shutdown: CancellationToken) {
    let ctrl_c = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        ctrl_c.cancel();
    });
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::spawn(async move {
            term.recv().await;
            shutdown.cancel();
        });
    }
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the instance answers a read, and the partition status of time-window assets is
/// folded (so no request pays for folding a history).
async fn readyz(State(state): State<AppState>) -> Response {
    if !state
        .partitions_kept
        .load(std::sync::atomic::Ordering::Acquire)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "folding the partition status of time-window assets\n",
        )
            .into_response();
    }
    match state.read(|e| e.instance().last_event_id()).await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => problem::ApiError::from(e).into_response(),
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let alive = state.launcher.alive();
    let scrape = state
        .read(move |e| {
            let instance = e.instance();
            let queued = alive
                .iter()
                .filter(|name| uuid::Uuid::parse_str(name).is_ok())
                .filter(|run| {
                    matches!(
                        instance.run_started(&stemma::RunId::from_string(run)),
                        Ok(None)
                    )
                })
                .count();
            Ok(metrics::ScrapeState {
                runs_by_status: instance.run_status_counts()?,
                queued,
                alive: alive.len(),
                pools: instance.pools()?,
            })
        })
        .await;
    match scrape {
        Ok(scrape) => state.metrics.set_state(&scrape),
        Err(e) => return problem::ApiError::from(e).into_response(),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn not_found() -> problem::ApiError {
    problem::ApiError::not_found("no such route (GET /api/v1/openapi.json lists them)")
}
