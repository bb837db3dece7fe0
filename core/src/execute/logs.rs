//! Capturing `tracing` events emitted inside an asset body into the step's log.
//!
//! The executor runs every body inside a `stemma_step` span carrying a token; [`StepLogLayer`]
//! (installed by the binary into its `tracing` subscriber) finds that span above each event and
//! hands the formatted event to the sink registered for the token. Bodies that run on blocking
//! threads enter the span there too, so their events are captured as well.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::model::context::LogSink;
use crate::model::event::LogLevel;

/// Stemma's own crates: their events are diagnostics, never a step's log.
const OWN_CRATES: &[&str] = &["stemma", "stemma_io", "stemma_server", "stemma_macros"];

/// The span name the executor uses for steps.
pub(crate) const STEP_SPAN: &str = "stemma_step";

fn sinks() -> &'static RwLock<HashMap<u64, LogSink>> {
    static SINKS: OnceLock<RwLock<HashMap<u64, LogSink>>> = OnceLock::new();
    SINKS.get_or_init(Default::default)
}

/// A registered sink; unregistered when dropped.
pub(crate) struct SinkGuard(u64);

impl SinkGuard {
    pub(crate) fn register(sink: LogSink) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let token = NEXT.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = sinks().write() {
            s.insert(token, sink);
        }
        SinkGuard(token)
    }

    pub(crate) fn token(&self) -> u64 {
        self.0
    }
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = sinks().write() {
            s.remove(&self.0);
        }
    }
}

struct StepToken(u64);

/// A `tracing` layer that routes events inside a step's span to that step's log.
#[derive(Debug, Default, Clone, Copy)]
pub struct StepLogLayer;

impl StepLogLayer {
    pub fn new() -> Self {
        StepLogLayer
    }
}

impl<S> Layer<S> for StepLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != STEP_SPAN {
            return;
        }
        let mut visitor = TokenVisitor(None);
        attrs.record(&mut visitor);
        if let (Some(token), Some(span)) = (visitor.0, ctx.span(id)) {
            span.extensions_mut().insert(StepToken(token));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // The engine's own diagnostics are not the user's step logs.
        let crate_name = event.metadata().target().split("::").next().unwrap_or("");
        if OWN_CRATES.contains(&crate_name) {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let token = scope
            .into_iter()
            .find_map(|span| span.extensions().get::<StepToken>().map(|t| t.0));
        let Some(token) = token else { return };
        let Some(sink) = sinks().read().ok().and_then(|s| s.get(&token).cloned()) else {
            return;
        };
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        let level = match *event.metadata().level() {
            Level::TRACE => LogLevel::Trace,
            Level::DEBUG => LogLevel::Debug,
            Level::INFO => LogLevel::Info,
            Level::WARN => LogLevel::Warn,
            Level::ERROR => LogLevel::Error,
        };
        sink(level, visitor.finish());
    }
}

struct TokenVisitor(Option<u64>);

impl Visit for TokenVisitor {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "token" {
            self.0 = Some(value);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// Formats an event as its message followed by `key=value` fields.
#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl MessageVisitor {
    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.push_field(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.push_field(field, value);
        }
    }
}

impl MessageVisitor {
    fn push_field(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{}={value:?}", field.name());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn events_inside_a_step_span_reach_its_sink_only() {
        let lines: Arc<Mutex<Vec<(LogLevel, String)>>> = Arc::default();
        let captured = Arc::clone(&lines);
        let guard = SinkGuard::register(Arc::new(move |level, msg| {
            captured.lock().unwrap().push((level, msg));
        }));
        let subscriber = tracing_subscriber::registry().with(StepLogLayer::new());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "user", "outside any step");
            let span = tracing::info_span!(STEP_SPAN, token = guard.token());
            span.in_scope(|| {
                tracing::warn!(target: "user", rows = 3, "split documents");
                tracing::info!(target: "stemma::execute", "engine internals");
                tracing::info!(target: "stemma_demo::assets", "a user crate that starts with stemma");
                let inner = tracing::info_span!("inner");
                inner.in_scope(|| tracing::debug!(target: "user", "nested"));
            });
        });
        let lines = lines.lock().unwrap();
        assert_eq!(
            *lines,
            [
                (LogLevel::Warn, "split documents rows=3".to_owned()),
                (
                    LogLevel::Info,
                    "a user crate that starts with stemma".to_owned()
                ),
                (LogLevel::Debug, "nested".to_owned()),
            ]
        );
    }
}
