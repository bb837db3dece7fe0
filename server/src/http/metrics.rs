//! `/metrics`: what a monitoring system scrapes, in the OpenMetrics text format Prometheus
//! reads (prometheus-client). Request latency, step durations and the event feed's lag are
//! observed as they happen; runs by status, the queue and pool slots are read from the
//! instance at each scrape.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use stemma::{Event, EventKind};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    pool: String,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Counter,
    request_seconds: Histogram,
    step_seconds: Family<StatusLabel, Histogram>,
    feed_lag_seconds: Histogram,
    runs: Family<StatusLabel, Gauge>,
    queued_runs: Gauge,
    launched_alive: Gauge,
    pool_slots_in_use: Family<PoolLabel, Gauge>,
    pool_slots_limit: Family<PoolLabel, Gauge<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("stemma");
        let requests = Counter::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        let request_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 16));
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to the start of the body, for streams)",
            request_seconds.clone(),
        );
        let step_seconds = Family::<StatusLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 4.0, 12))
        });
        registry.register(
            "step_duration_seconds",
            "Duration of finished step attempts, by outcome (succeeded, failed)",
            step_seconds.clone(),
        );
        let feed_lag_seconds = Histogram::new(exponential_buckets(0.000_5, 2.0, 14));
        registry.register(
            "event_feed_lag_seconds",
            "From an event's timestamp to its broadcast on the SSE feed",
            feed_lag_seconds.clone(),
        );
        let runs = Family::<StatusLabel, Gauge>::default();
        registry.register("runs", "Runs on the instance, by status", runs.clone());
        let queued_runs = Gauge::default();
        registry.register(
            "queued_runs",
            "Runs launched by this server that wait for a slot of the instance's run limit",
            queued_runs.clone(),
        );
        let launched_alive = Gauge::default();
        registry.register(
            "launched_processes",
            "Run processes launched by this server that are still alive",
            launched_alive.clone(),
        );
        let pool_slots_in_use = Family::<PoolLabel, Gauge>::default();
        registry.register(
            "pool_slots_in_use",
            "Leased slots of each concurrency pool (@runs: the instance's run limit)",
            pool_slots_in_use.clone(),
        );
        let pool_slots_limit = Family::<PoolLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "pool_slots_limit",
            "Each pool's limit (+Inf: unlimited)",
            pool_slots_limit.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            step_seconds,
            feed_lag_seconds,
            runs,
            queued_runs,
            launched_alive,
            pool_slots_in_use,
            pool_slots_limit,
        }
    }

    pub fn observe_request(&self, took: Duration) {
        self.requests.inc();
        self.request_seconds.observe(took.as_secs_f64());
    }

    /// An event the feed broadcast `lag_seconds` after it happened.
    pub fn observe_feed(&self, event: &Event, lag_seconds: f64) {
        self.feed_lag_seconds.observe(lag_seconds.max(0.0));
        let (status, ms) = match &event.kind {
            EventKind::StepSucceeded { duration_ms, .. } => ("succeeded", *duration_ms),
            EventKind::StepFailed { duration_ms, .. } => ("failed", *duration_ms),
            _ => return,
        };
        self.step_seconds
            .get_or_create(&StatusLabel {
                status: status.into(),
            })
            .observe(ms / 1000.0);
    }

    /// The instance's state, read at a scrape.
    pub fn set_state(&self, state: &ScrapeState) {
        self.runs.clear();
        for (status, n) in &state.runs_by_status {
            self.runs
                .get_or_create(&StatusLabel {
                    status: status.clone(),
                })
                .set(*n as i64);
        }
        self.queued_runs.set(state.queued as i64);
        self.launched_alive.set(state.alive as i64);
        self.pool_slots_in_use.clear();
        self.pool_slots_limit.clear();
        for pool in &state.pools {
            let label = PoolLabel {
                pool: pool.name.clone(),
            };
            self.pool_slots_in_use
                .get_or_create(&label)
                .set(pool.holders.len() as i64);
            self.pool_slots_limit
                .get_or_create(&label)
                .set(pool.slots.map_or(f64::INFINITY, f64::from));
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!("cannot encode the metrics: {e}");
        }
        out
    }
}

/// What a scrape reads from the instance and the launcher.
#[derive(Debug, Default)]
pub struct ScrapeState {
    pub runs_by_status: Vec<(String, u64)>,
    pub queued: usize,
    pub alive: usize,
    pub pools: Vec<stemma::instance::PoolRecord>,
}
