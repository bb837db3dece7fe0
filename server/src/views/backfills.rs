//! Backfills (`assets backfill list|show --json`, `GET /api/v1/backfills…`).

use serde::Serialize;
use stemma::instance::{BackfillRecord, BackfillStatus, RunRecord};
use stemma::{RunId, RunStatus};
use utoipa::ToSchema;

/// A backfill as it was recorded, and (shown one at a time) its runs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackfillView {
    #[schema(value_type = String)]
    pub backfill: stemma::BackfillId,
    /// requested, running, completed, failed, canceling, canceled.
    #[schema(value_type = String)]
    pub status: BackfillStatus,
    pub selection: String,
    /// Partition arguments: keys, `FROM...TO`, `*`.
    pub partitions: Vec<String>,
    /// missing, failed or all.
    pub reprocess: String,
    pub newest_first: bool,
    pub concurrency: Option<u32>,
    /// µs since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<Vec<BackfillRun>>,
}

/// One run of a backfill.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackfillRun {
    #[schema(value_type = String)]
    pub run_id: RunId,
    #[schema(value_type = String)]
    pub status: RunStatus,
    pub steps: u32,
}

impl From<&BackfillRecord> for BackfillView {
    fn from(b: &BackfillRecord) -> Self {
        BackfillView {
            backfill: b.id.clone(),
            status: b.status,
            selection: b.selection.clone(),
            partitions: b.partitions.clone(),
            reprocess: b.reprocess.clone(),
            newest_first: b.newest_first,
            concurrency: b.concurrency,
            created_at: b.created_at,
            updated_at: b.updated_at,
            message: b.message.clone(),
            runs: None,
        }
    }
}

impl BackfillView {
    /// The backfill with its runs.
    pub fn with_runs(record: &BackfillRecord, runs: &[RunRecord]) -> Self {
        BackfillView {
            runs: Some(
                runs.iter()
                    .map(|r| BackfillRun {
                        run_id: r.run_id.clone(),
                        status: r.status,
                        steps: r.steps,
                    })
                    .collect(),
            ),
            ..BackfillView::from(record)
        }
    }
}
