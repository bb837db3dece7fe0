//! Backfills: many partitions of a selection in one run, recorded in the instance so that a
//! crashed or canceled backfill can be resumed without running any partition twice.
//!
//! A backfill is a [`Materialize`] request with three differences:
//!
//! * **What to reprocess.** `missing` (the default) runs the targets that are not
//!   materialized — never materialized, or whose last attempt failed; `failed` only those
//!   whose last attempt failed; `all` every target, forced. Targets left out stay readable
//!   for the steps that run (their committed materializations are loaded).
//! * **Newest first.** Among steps ready to start, the newest partitions go first (then plan
//!   order, so a partition's downstream steps follow it before older partitions start).
//! * **Recorded.** `backfill_requested` is appended before the run, the run carries the
//!   backfill's id, and `backfill_updated` records how it ended. Resuming plans the same
//!   targets again and also leaves out every step a run of this backfill already committed.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::execute::{Materialize, RunObserver, RunOutcome};
use crate::instance::{BackfillRecord, BackfillStatus, PartitionState};
use crate::model::error::{Error, Result};
use crate::model::event::{BackfillId, BackfillRequest, Event, EventKind, RunStatus};
use crate::model::ids::NodeIx;
use crate::model::spec::PartitionKey;
use crate::plan::{Plan, StepFilter, targets};

/// Which targets a backfill runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reprocess {
    /// Targets not materialized: never materialized, or last attempt failed.
    #[default]
    Missing,
    /// Targets whose last attempt failed.
    Failed,
    /// Every target, recomputed even when up to date.
    All,
}

impl Reprocess {
    pub fn as_str(self) -> &'static str {
        match self {
            Reprocess::Missing => "missing",
            Reprocess::Failed => "failed",
            Reprocess::All => "all",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "missing" => Ok(Reprocess::Missing),
            "failed" => Ok(Reprocess::Failed),
            "all" => Ok(Reprocess::All),
            other => Err(Error::Plan(format!(
                "--reprocess {other:?}: expected missing, failed or all"
            ))),
        }
    }
}

/// A request to backfill a selection over partitions: a [`Materialize`] request (selection,
/// partitions, concurrency, cancel token; newest partitions first) and what to reprocess.
#[derive(Debug, Clone)]
pub struct Backfill {
    request: Materialize,
    reprocess: Reprocess,
    /// The id it is recorded with (a new one when `None`).
    id: Option<BackfillId>,
}

impl Backfill {
    pub fn new(selection: impl Into<String>) -> Self {
        Backfill {
            request: Materialize::new(selection).newest_first(true),
            reprocess: Reprocess::Missing,
            id: None,
        }
    }

    /// The id the backfill is recorded with, chosen by whoever launches it (an API answers
    /// with it before the backfill's process starts).
    pub fn id(mut self, id: BackfillId) -> Self {
        self.id = Some(id);
        self
    }

    /// Partition arguments as `materialize` takes them: keys, `FROM...TO`, `*`.
    pub fn partitions<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.request = self.request.partitions(keys);
        self
    }

    /// The partitions from `from` to `to`, inclusive.
    pub fn range(mut self, from: &str, to: &str) -> Self {
        self.request = self.request.partition_range(from, to);
        self
    }

    pub fn reprocess(mut self, reprocess: Reprocess) -> Self {
        self.reprocess = reprocess;
        self
    }

    /// Newest partitions first (the default); `false`: oldest first.
    pub fn newest_first(mut self, yes: bool) -> Self {
        self.request = self.request.newest_first(yes);
        self
    }

    /// At most `n` steps at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.request = self.request.concurrency(n);
        self
    }

    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.request = self.request.cancel_token(token);
        self
    }

    pub fn is_newest_first(&self) -> bool {
        self.request.newest_first
    }

    fn from_record(record: &BackfillRecord) -> Result<Self> {
        let mut backfill = Backfill::new(record.selection.clone())
            .partitions(record.partitions.clone())
            .reprocess(Reprocess::parse(&record.reprocess)?)
            .newest_first(record.newest_first);
        if let Some(n) = record.concurrency {
            backfill = backfill.concurrency(n as usize);
        }
        Ok(backfill)
    }

    /// The run request, leaving out `exclude`, on behalf of backfill `id`.
    fn request(&self, exclude: StepFilter, id: Option<&str>) -> Materialize {
        self.request
            .clone()
            .force(self.reprocess == Reprocess::All)
            .excluding(exclude)
            .for_backfill(id)
    }
}

/// What a backfill would run.
#[derive(Debug, Clone)]
pub struct BackfillPlan {
    /// Every (asset, partition) the selection and partitions cover.
    pub targets: usize,
    /// Targets left out: already materialized (or, resuming, done by this backfill).
    pub left_out: usize,
    /// The steps to run, in plan order.
    pub plan: Plan,
}

/// How a backfill (or one resumption of it) went.
#[derive(Debug, Clone)]
pub struct BackfillOutcome {
    pub backfill: BackfillId,
    pub targets: usize,
    pub left_out: usize,
    pub run: RunOutcome,
}

impl Engine {
    /// What `backfill` would run, without running or recording anything (`--dry-run`).
    pub fn plan_backfill(&self, backfill: &Backfill) -> Result<BackfillPlan> {
        let (exclude, targets) = self.left_out(backfill, None)?;
        let left_out = exclude.len();
        let plan = self.plan(&backfill.request(exclude, None))?;
        Ok(BackfillPlan {
            targets,
            left_out,
            plan,
        })
    }

    /// Records a backfill and runs it.
    pub async fn backfill(
        &self,
        backfill: Backfill,
        observer: Arc<dyn RunObserver>,
    ) -> Result<BackfillOutcome> {
        // Plan first: a backfill that cannot be planned is not recorded.
        let (exclude, targets) = self.left_out(&backfill, None)?;
        self.plan(&backfill.request(exclude.clone(), None))?;
        let id = backfill.id.clone().unwrap_or_default();
        let request = BackfillRequest {
            backfill: id.clone(),
            selection: backfill.request.selection.clone(),
            partitions: backfill.request.partitions.clone(),
            reprocess: backfill.reprocess.as_str().into(),
            newest_first: backfill.request.newest_first,
            concurrency: backfill.request.concurrency.map(|c| c as u32),
        };
        self.instance()
            .append(vec![Event::new(
                self.now(),
                EventKind::BackfillRequested(request),
            )])
            .await?;
        self.run_backfill(&id, backfill, (exclude, targets), observer)
            .await
    }

    /// Runs a recorded backfill again (after a crash, a failure or a cancel): the same targets,
    /// leaving out everything its earlier runs committed.
    pub async fn resume_backfill(
        &self,
        id: &str,
        cancel: CancellationToken,
        observer: Arc<dyn RunObserver>,
    ) -> Result<BackfillOutcome> {
        let record = self.resumable_backfill(id)?;
        let backfill = Backfill::from_record(&record)?.cancel_token(cancel);
        let left_out = self.left_out(&backfill, Some(&record.id))?;
        self.run_backfill(&record.id, backfill, left_out, observer)
            .await
    }

    /// The backfill `id` names, if it can be resumed: not running, not completed.
    pub fn resumable_backfill(&self, id: &str) -> Result<BackfillRecord> {
        let record = self.instance().find_backfill(id)?;
        if self.instance().backfill_is_live(&record.id)? {
            return Err(Error::Conflict(format!(
                "backfill {} is running (run {}); cancel it first",
                short(&record.id),
                self.instance()
                    .backfill_runs(&record.id)?
                    .first()
                    .map_or("?", |r| r.run_id.short())
            )));
        }
        if record.status == BackfillStatus::Completed {
            return Err(Error::Conflict(format!(
                "backfill {} has completed; start a new one to reprocess",
                short(&record.id)
            )));
        }
        Ok(record)
    }

    /// Asks a backfill to stop: its running process cancels the run (within a quarter of a
    /// second); a backfill with no live run is marked canceled at once.
    pub async fn cancel_backfill(&self, id: &str) -> Result<BackfillRecord> {
        let record = self.instance().find_backfill(id)?;
        if matches!(
            record.status,
            BackfillStatus::Completed | BackfillStatus::Canceled
        ) {
            return Err(Error::Conflict(format!(
                "backfill {} has already {}",
                short(&record.id),
                if record.status == BackfillStatus::Completed {
                    "completed"
                } else {
                    "been canceled"
                }
            )));
        }
        let status = if self.instance().backfill_is_live(&record.id)? {
            BackfillStatus::Canceling
        } else {
            BackfillStatus::Canceled
        };
        self.update_backfill(&record.id, status, Some("canceled by request".into()))
            .await?;
        self.instance().find_backfill(&record.id)
    }

    async fn run_backfill(
        &self,
        id: &str,
        backfill: Backfill,
        (exclude, targets): (StepFilter, usize),
        observer: Arc<dyn RunObserver>,
    ) -> Result<BackfillOutcome> {
        let left_out = exclude.len();
        self.update_backfill(id, BackfillStatus::Running, None)
            .await?;
        // A cancel asked from another process reaches the run through the instance: the run
        // watches for its backfill being canceled as it watches for its own cancel.
        let request = backfill.request(exclude, Some(id));
        let result = if targets == left_out {
            // Nothing left to do: record an empty success without a run.
            None
        } else {
            Some(self.materialize(request, observer).await)
        };
        let run = match result {
            None => {
                self.update_backfill(
                    id,
                    BackfillStatus::Completed,
                    Some("nothing left to run".into()),
                )
                .await?;
                return Ok(BackfillOutcome {
                    backfill: BackfillId::from_string(id),
                    targets,
                    left_out,
                    run: RunOutcome::empty(),
                });
            }
            Some(Err(e)) => {
                self.update_backfill(id, BackfillStatus::Failed, Some(e.to_string()))
                    .await?;
                return Err(e);
            }
            Some(Ok(run)) => run,
        };
        let (status, message) = match run.status {
            RunStatus::Success => (BackfillStatus::Completed, None),
            RunStatus::Canceled => (BackfillStatus::Canceled, Some("canceled".to_owned())),
            _ => (
                BackfillStatus::Failed,
                Some(format!(
                    "{} step(s) failed, {} skipped",
                    run.failed.len(),
                    run.skipped
                )),
            ),
        };
        self.update_backfill(id, status, message).await?;
        Ok(BackfillOutcome {
            backfill: BackfillId::from_string(id),
            targets,
            left_out,
            run,
        })
    }

    async fn update_backfill(
        &self,
        id: &str,
        status: BackfillStatus,
        message: Option<String>,
    ) -> Result<()> {
        self.instance()
            .append(vec![Event::new(
                self.now(),
                EventKind::BackfillUpdated {
                    backfill: BackfillId::from_string(id),
                    status: status.as_str().to_owned(),
                    message,
                },
            )])
            .await?;
        Ok(())
    }

    /// The targets to leave out, and how many targets there are.
    fn left_out(&self, backfill: &Backfill, resuming: Option<&str>) -> Result<(StepFilter, usize)> {
        let graph = self.graph();
        let (_, selected) = self.select(&backfill.request.selection)?;
        if backfill.request.partitions.is_empty() {
            return Err(Error::Plan("a backfill needs partitions".into())
                .with_hint(crate::model::error::Hint::BackfillPartitions));
        }
        let all = targets(graph, &selected, &backfill.request.partitions)?;
        let count = all.len();
        let done = match resuming {
            Some(id) => self.instance().backfill_done(id)?,
            None => Default::default(),
        };
        let mut status: HashMap<NodeIx, crate::instance::PartitionStatus> = HashMap::new();
        let mut exclude = StepFilter::new();
        for (n, p) in all {
            let key = graph.key(n);
            if done.contains(&(key.as_str().to_owned(), p.clone())) {
                exclude.insert((n, p));
                continue;
            }
            if backfill.reprocess == Reprocess::All {
                continue;
            }
            let state = self.target_state(n, p.as_ref(), &mut status)?;
            let keep = match backfill.reprocess {
                Reprocess::Missing => state != PartitionState::Materialized,
                Reprocess::Failed => state == PartitionState::Failed,
                Reprocess::All => true,
            };
            if !keep {
                exclude.insert((n, p));
            }
        }
        Ok((exclude, count))
    }

    fn target_state(
        &self,
        n: NodeIx,
        partition: Option<&PartitionKey>,
        cache: &mut HashMap<NodeIx, crate::instance::PartitionStatus>,
    ) -> Result<PartitionState> {
        let graph = self.graph();
        let key = graph.key(n);
        let (Some(def), Some(p)) = (graph.spec(n).partitions.as_ref(), partition) else {
            let latest = self.instance().latest(key, None)?;
            let failed = self
                .instance()
                .latest_failure(key, None)?
                .is_some_and(|f| latest.as_ref().is_none_or(|m| f.event_id > m.event_id));
            return Ok(match (failed, latest) {
                (true, _) => PartitionState::Failed,
                (false, Some(_)) => PartitionState::Materialized,
                (false, None) => PartitionState::Missing,
            });
        };
        if let std::collections::hash_map::Entry::Vacant(e) = cache.entry(n) {
            e.insert(self.instance().partition_status(key, def)?);
        }
        Ok(match def.index_of(p.as_str()) {
            Some(i) => cache[&n].state(i as u64),
            None => PartitionState::Missing,
        })
    }
}

/// The first 8 characters of a backfill id, as the CLI shows and accepts it.
pub use crate::model::event::short_id as short;
