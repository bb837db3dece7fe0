//! The engine against a real instance and real files: definitions made with the builder API,
//! run through `Engine::materialize`, checked through the instance.

mod alerts;
mod checks;
mod engine;
mod faults;
mod mappings;
mod partitions;
mod schedules;
mod secrets;
mod storage;
mod versions;

use std::sync::{Arc, Mutex, Once};

use stemma::event::{Event, EventKind, Materialization};
use stemma::{AssetGraph, Definitions, Engine, Materialize, RunObserver, RunOutcome, StepLogLayer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// An engine over a fresh temporary instance.
pub struct Fixture {
    pub engine: Engine,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(definitions: Definitions) -> Self {
        init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let graph = AssetGraph::new(definitions).unwrap();
        let engine = stemma_server::open_engine(graph, dir.path()).unwrap();
        Fixture { engine, _dir: dir }
    }

    /// The instance directory.
    pub fn home(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The file of a stored object.
    pub fn object(&self, location: &str) -> std::path::PathBuf {
        self.home().join("storage").join(location)
    }

    /// Materializes `selection`, collecting every event.
    pub async fn run(&self, request: Materialize) -> (RunOutcome, Vec<Event>) {
        let observer = Arc::new(Collect::default());
        let outcome = self
            .engine
            .materialize(request, observer.clone())
            .await
            .unwrap();
        let events = observer.0.lock().unwrap().clone();
        (outcome, events)
    }

    /// The committed materialization of `asset` (partition `p`).
    pub fn latest(&self, asset: &str, partition: Option<&str>) -> Option<Materialization> {
        let key = stemma::AssetKey::parse(asset).unwrap();
        let p = partition.map(|p| stemma::PartitionKey::new(p).unwrap());
        let latest = self.engine.instance().latest(&key, p.as_ref()).unwrap()?;
        self.engine
            .instance()
            .materialization(latest.event_id)
            .unwrap()
    }
}

#[derive(Default)]
pub struct Collect(Mutex<Vec<Event>>);

impl RunObserver for Collect {
    fn on_event(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// Events of `kind` for `asset`.
pub fn of<'a>(events: &'a [Event], asset: &str, kind: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.asset.as_ref().is_some_and(|a| a.as_str() == asset) && e.kind.name() == kind)
        .collect()
}

/// The step log layer, as the CLI installs it.
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::registry()
            .with(StepLogLayer::new())
            .try_init();
    });
}

/// A log event's message.
pub fn message(e: &Event) -> Option<&str> {
    match &e.kind {
        EventKind::Log { message, .. } => Some(message),
        _ => None,
    }
}

/// Waits (polling, up to 30 s, then fails) until `ready` holds: a barrier, not a sleep.
pub async fn until(what: &str, ready: impl Fn() -> bool) {
    use std::time::Duration;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited 30 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
