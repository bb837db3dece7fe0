//! `GET /api/v1/events`: the event log as Server-Sent Events.
//!
//! One task tails the instance (a range read of the event log by id, every few milliseconds,
//! whatever the number of clients) and broadcasts each new event, serialized once, to every
//! stream. A client that names where it stopped (`Last-Event-ID`, or `?after=`) is first caught
//! up from the instance in pages, then follows the broadcast; one that falls behind the
//! broadcast is caught up the same way. Every event is sent once, in id order: the instance's
//! ids follow commit order, and a stream skips any id it has already passed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::extract::State;

use super::extract::Params;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use stemma::{Engine, Event};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;

use super::AppState;
use super::problem::{ApiError, ApiResult};

/// Events read from the instance in one query (catching up, or one tick of the tail).
const PAGE: usize = 1000;

/// The longest wait between two reads of a quiet event log.
const QUIET_WAIT: Duration = Duration::from_millis(40);

/// One committed event, as every stream sends it.
#[derive(Debug)]
pub struct Fed {
    pub id: i64,
    pub kind: &'static str,
    pub run_id: Option<String>,
    pub asset: Option<String>,
    /// The event as JSON, serialized once for all streams.
    pub json: String,
}

impl Fed {
    fn of(event: &Event) -> Option<Fed> {
        let id = event.id?;
        let json = serde_json::to_string(event).ok()?;
        Some(Fed {
            id,
            kind: event.kind.name(),
            run_id: event.run_id.as_ref().map(|r| r.to_string()),
            asset: event.asset.as_ref().map(|a| a.to_string()),
            json,
        })
    }
}

/// The tail of the event log, shared by every stream.
pub struct EventFeed {
    engine: Engine,
    sender: broadcast::Sender<Arc<Fed>>,
    /// The id of the newest event broadcast.
    last: AtomicI64,
    shutdown: CancellationToken,
    metrics: Arc<super::metrics::Metrics>,
}

impl EventFeed {
    /// Starts tailing the instance from its newest event, every `every`, until `shutdown`.
    pub async fn start(
        engine: Engine,
        every: Duration,
        shutdown: CancellationToken,
        metrics: Arc<super::metrics::Metrics>,
    ) -> stemma::Result<Arc<EventFeed>> {
        let last = engine.read(|e| e.instance().last_event_id()).await?;
        let (sender, _) = broadcast::channel(4096);
        let feed = Arc::new(EventFeed {
            engine,
            sender,
            last: AtomicI64::new(last),
            shutdown,
            metrics,
        });
        tokio::spawn(Arc::clone(&feed).tail(every));
        Ok(feed)
    }

    /// Every event broadcast from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Fed>> {
        self.sender.subscribe()
    }

    /// The id of the newest event broadcast.
    pub fn last_id(&self) -> i64 {
        self.last.load(Ordering::Acquire)
    }

    /// Reads new events every `every` while they flow; when the log is quiet the wait doubles
    /// up to [`QUIET_WAIT`], so an idle server costs little and the first event after a quiet
    /// spell still arrives within it.
    async fn tail(self: Arc<Self>, every: Duration) {
        let mut wait = every;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let sent = self.drain().await;
            wait = if sent > 0 {
                every
            } else {
                (wait * 2).min(QUIET_WAIT.max(every))
            };
        }
    }

    /// Sends every event committed since the last one sent (a burst in pages, without waiting
    /// between them); how many.
    async fn drain(&self) -> usize {
        let mut sent = 0;
        loop {
            let after = self.last_id();
            let page = match self.page(after).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!("the event stream cannot read the instance: {e}");
                    return sent;
                }
            };
            let full = page.len() >= PAGE;
            let now = self.engine.now();
            for (event, fed) in page {
                let lag = now - event.timestamp;
                self.metrics.observe_feed(&event, lag as f64 / 1e6);
                self.last.store(fed.id, Ordering::Release);
                let _ = self.sender.send(fed);
                sent += 1;
            }
            if !full {
                return sent;
            }
        }
    }

    /// Up to [`PAGE`] events after `after`, from the instance.
    async fn page(&self, after: i64) -> stemma::Result<Vec<(Event, Arc<Fed>)>> {
        let events = self
            .engine
            .read(move |e| {
                e.instance().events(&stemma::instance::EventQuery {
                    after: Some(after),
                    limit: PAGE,
                    ..Default::default()
                })
            })
            .await?;
        Ok(events
            .into_iter()
            .filter_map(|e| {
                let fed = Fed::of(&e)?;
                Some((e, Arc::new(fed)))
            })
            .collect())
    }
}

/// Which events a stream wants.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Only this run's events (its full id).
    pub run: Option<String>,
    /// Only this asset's events (its key).
    pub asset: Option<String>,
    /// Only these event types, comma-separated (`run_started,materialization`).
    #[serde(rename = "type")]
    pub types: Option<String>,
    /// Start after this event id (as `Last-Event-ID` does; the header wins).
    pub after: Option<i64>,
}

impl EventFilter {
    fn wants(&self, fed: &Fed) -> bool {
        self.run
            .as_deref()
            .is_none_or(|r| fed.run_id.as_deref() == Some(r))
            && self
                .asset
                .as_deref()
                .is_none_or(|a| fed.asset.as_deref() == Some(a))
            && self
                .types
                .as_deref()
                .is_none_or(|t| t.split(',').any(|t| t.trim() == fed.kind))
    }
}

/// One client's stream.
struct Client {
    feed: Arc<EventFeed>,
    receiver: broadcast::Receiver<Arc<Fed>>,
    filter: EventFilter,
    /// The id of the newest event this stream has passed (sent or filtered out).
    passed: i64,
    /// Read from the instance until `passed` reaches this id.
    catch_up_to: Option<i64>,
    ready: VecDeque<Arc<Fed>>,
}

impl Client {
    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Client)> {
        loop {
            if let Some(fed) = self.ready.pop_front() {
                if fed.id <= self.passed {
                    continue;
                }
                self.passed = fed.id;
                if self.filter.wants(&fed) {
                    let event = SseEvent::default()
                        .id(fed.id.to_string())
                        .event(fed.kind)
                        .data(&fed.json);
                    return Some((Ok(event), self));
                }
                continue;
            }
            if let Some(target) = self.catch_up_to {
                let page = if self.passed < target {
                    self.feed.page(self.passed).await.ok()?
                } else {
                    Vec::new()
                };
                if page.is_empty() {
                    self.catch_up_to = None;
                }
                self.ready.extend(page.into_iter().map(|(_, fed)| fed));
                continue;
            }
            tokio::select! {
                _ = self.feed.shutdown.cancelled() => return None,
                received = self.receiver.recv() => match received {
                    Ok(fed) => self.ready.push_back(fed),
                    // Fell behind the broadcast: what it dropped is in the instance.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.catch_up_to = Some(self.feed.last_id());
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// The event log as Server-Sent Events.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(EventFilter, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses(
        (status = 200, description = "A stream of events: `id` is the event id, `event` its type, `data` the event as JSON", content_type = "text/event-stream", body = String),
        super::problem::BadInput,
    )
)]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(filter): Params<EventFilter>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let from_header = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be an event id"))?,
        ),
        None => None,
    };
    let feed = Arc::clone(&state.feed);
    // Subscribe first: whatever is broadcast from now on reaches this stream, and what was
    // broadcast before is in the instance.
    let receiver = feed.subscribe();
    let live = feed.last_id();
    let start = from_header.or(filter.after);
    let client = Client {
        receiver,
        passed: start.unwrap_or(live),
        catch_up_to: start.map(|_| live),
        ready: VecDeque::new(),
        filter,
        feed,
    };
    let stream = futures::stream::unfold(client, Client::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// An event of the event log as the API sends it (the schema of core's `Event`): the fields
/// every event has, then the fields of its `type`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Event)]
pub struct EventDoc {
    /// The event's id: its place in the log (commit order).
    pub id: i64,
    pub run_id: Option<String>,
    /// When it happened, µs since the epoch.
    pub timestamp: i64,
    pub asset: Option<String>,
    pub partition: Option<String>,
    /// run_started, run_ended, step_started, step_succeeded, step_failed, step_skipped,
    /// step_up_to_date, materialization, observation, check_evaluation, log, …
    #[serde(rename = "type")]
    pub kind: String,
}
