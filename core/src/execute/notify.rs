//! Telling the outside world how runs end: the engine hands a [`RunReport`] to every
//! [`RunNotifier`] it has (webhooks and commands live in the server crate) after the run is
//! recorded. A notifier handles its own retries and never fails the run.

use std::fmt;

use futures::future::BoxFuture;
use serde::Serialize;

use crate::model::event::{RunId, RunStatus};

/// How a run ended, for alerts.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: RunId,
    pub status: RunStatus,
    pub selection: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Every failed step; sent as `[step, error]` pairs, as alert receivers have read it.
    #[serde(serialize_with = "as_pairs")]
    pub failed: Vec<super::StepFailure>,
    /// Every failed check; sent as `[check, description]` pairs.
    #[serde(serialize_with = "checks_as_pairs")]
    pub checks_failed: Vec<super::CheckFailure>,
    pub steps: usize,
    pub succeeded: usize,
    pub duration_ms: f64,
    pub host: String,
}

impl RunReport {
    /// One line for a person: `Stemma run 1a2b3c4d failed (raw/documents): 2 of 5 steps failed:
    /// chunks — timed out after 30 s; …`.
    pub fn summary(&self) -> String {
        let what = match self.status {
            RunStatus::Success => "succeeded",
            RunStatus::Failure => "failed",
            RunStatus::Canceled => "was canceled",
            RunStatus::Started => "is running",
        };
        let mut text = format!(
            "Stemma run {} {what} ({}{})",
            self.run_id.short(),
            self.selection,
            self.partition
                .as_deref()
                .map(|p| format!(" [{p}]"))
                .unwrap_or_default()
        );
        if !self.failed.is_empty() {
            let first: Vec<String> = self
                .failed
                .iter()
                .take(3)
                .map(|f| {
                    format!(
                        "{} — {}",
                        f.step,
                        f.error.lines().next().unwrap_or_default()
                    )
                })
                .collect();
            text.push_str(&format!(
                ": {} of {} steps failed: {}",
                self.failed.len(),
                self.steps,
                first.join("; ")
            ));
            if self.failed.len() > 3 {
                text.push_str("; …");
            }
        }
        if !self.checks_failed.is_empty() {
            let names: Vec<&str> = self
                .checks_failed
                .iter()
                .map(|c| c.check.as_str())
                .collect();
            text.push_str(&format!("; checks failed: {}", names.join(", ")));
        }
        text
    }
}

/// Receives every run's report once the run is recorded.
pub trait RunNotifier: Send + Sync + fmt::Debug {
    fn run_ended<'a>(&'a self, report: &'a RunReport) -> BoxFuture<'a, ()>;

    /// Every event of a run, as it is recorded (what follows steps, as OpenLineage does).
    /// Called on the run's own tasks: it must not block; the default ignores them.
    fn on_event(&self, _event: &crate::model::event::Event) {}
}

/// The run's observer, then every notifier: what a run tells as it goes.
pub(crate) struct Tee {
    pub(crate) observer: std::sync::Arc<dyn super::RunObserver>,
    pub(crate) notifiers: std::sync::Arc<[std::sync::Arc<dyn RunNotifier>]>,
}

impl super::RunObserver for Tee {
    fn on_event(&self, event: &crate::model::event::Event) {
        self.observer.on_event(event);
        for n in self.notifiers.iter() {
            n.on_event(event);
        }
    }
}

/// `[[step, error], …]`: the alert payload's form of the failed steps.
fn as_pairs<S: serde::Serializer>(
    failed: &[super::StepFailure],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(failed.iter().map(|f| (&f.step, &f.error)))
}

/// `[[check, description], …]`: the alert payload's form of the failed checks.
fn checks_as_pairs<S: serde::Serializer>(
    failed: &[super::CheckFailure],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(failed.iter().map(|c| (&c.check, &c.description)))
}
