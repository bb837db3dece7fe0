//! Runs (`assets runs list --json`) and one run with its steps (`assets runs show --json`).

use serde::Serialize;
use stemma::event::{Event, EventKind, StepPhases};
use stemma::instance::RunRecord;
use stemma::{RunId, RunStatus};

/// A run as it was recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunView {
    #[schema(value_type = String)]
    pub run_id: RunId,
    /// started, success, failure, canceled.
    #[schema(value_type = String)]
    pub status: RunStatus,
    pub selection: String,
    pub partition: Option<String>,
    pub config: std::collections::BTreeMap<String, String>,
    pub planned_steps: u32,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    pub message: Option<String>,
    pub pid: Option<u32>,
    pub host: Option<String>,
}

impl From<&RunRecord> for RunView {
    fn from(r: &RunRecord) -> Self {
        RunView {
            run_id: r.run_id.clone(),
            status: r.status,
            selection: r.selection.clone(),
            partition: r.partition.clone(),
            config: r.config.clone(),
            planned_steps: r.steps,
            started_at: chrono::DateTime::from_timestamp_micros(r.started_at),
            ended_at: r.ended_at.and_then(chrono::DateTime::from_timestamp_micros),
            message: r.message.clone(),
            pid: r.pid,
            host: r.host.clone(),
        }
    }
}

/// A run and what happened to each of its steps.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunView,
    pub steps: Vec<StepView>,
}

impl RunDetail {
    /// The run and its steps, rebuilt from its events.
    pub fn of(record: &RunRecord, events: &[Event]) -> Self {
        RunDetail {
            run: RunView::from(record),
            steps: step_views(events, record.status != RunStatus::Started),
        }
    }
}

/// What happened to one step, rebuilt from the run's events.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct StepView {
    /// `asset` or `asset[partition]`.
    pub step: String,
    /// running, succeeded, failed, skipped, up_to_date, or interrupted (the run ended while
    /// it ran: a crash).
    pub status: &'static str,
    pub attempts: u32,
    pub duration_ms: Option<f64>,
    /// Where a succeeded step's time went.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub phases: Option<StepPhases>,
    pub rows: Option<u64>,
    pub data_version: Option<String>,
    /// The error of a failed step, or why it was skipped.
    pub error: Option<String>,
    /// `name passed` or `name failed (severity)`.
    pub checks: Vec<String>,
}

fn step_views(events: &[Event], run_ended: bool) -> Vec<StepView> {
    let mut views: Vec<StepView> = Vec::new();
    for e in events {
        let Some(label) = e.step_label() else {
            continue;
        };
        let i = match views.iter().position(|v| v.step == label) {
            Some(i) => i,
            None if opens_step(&e.kind) => {
                views.push(StepView {
                    step: label,
                    status: "running",
                    ..StepView::default()
                });
                views.len() - 1
            }
            None => continue,
        };
        views[i].apply(&e.kind);
    }
    if run_ended {
        for v in &mut views {
            if v.status == "running" {
                v.status = "interrupted";
            }
        }
    }
    views
}

/// The events with which a step first appears in a run.
fn opens_step(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::StepStarted { .. }
            | EventKind::StepSkipped { .. }
            | EventKind::StepUpToDate { .. }
    )
}

impl StepView {
    fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::StepStarted { attempt } => {
                self.attempts = *attempt;
                self.status = "running";
            }
            EventKind::StepSucceeded {
                duration_ms,
                phases,
                ..
            } => {
                self.status = "succeeded";
                self.duration_ms = Some(*duration_ms);
                self.phases = *phases;
            }
            EventKind::StepFailed {
                error,
                duration_ms,
                retrying,
                ..
            } => {
                self.error = Some(error.clone());
                if !retrying {
                    self.status = "failed";
                    self.duration_ms = Some(*duration_ms);
                }
            }
            EventKind::StepSkipped { reason } => {
                self.status = "skipped";
                self.error = Some(reason.clone());
            }
            EventKind::StepUpToDate { data_version, .. } => {
                self.status = "up_to_date";
                self.data_version = Some(data_version.short().to_owned());
            }
            EventKind::Materialization(m) => {
                self.rows = m.rows;
                self.data_version = Some(m.data_version.short().to_owned());
            }
            EventKind::CheckEvaluation(c) => {
                let outcome = if c.passed {
                    "passed".to_owned()
                } else {
                    format!("failed ({})", c.severity)
                };
                self.checks.push(format!("{} {outcome}", c.check));
            }
            _ => {}
        }
    }
}
