//! A run's lifecycle around its steps: a slot of the instance's run limit and the storage
//! lease, the start and end events, the watcher that hears a cancel from another process, the
//! current objects published to the IO managers, and the notifiers told how it ended.
//!
//! ```text
//! take slots → RunStarted (+ new code versions) → watch cancels ─┐
//!                                                                ├→ execute the steps
//! notify ← publish current objects ← give slots back ← RunEnded ─┘
//! ```

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::notify::{RunNotifier, RunReport};
use super::slots::PoolSlot;
use super::{Materialize, Run, RunObserver, RunOutcome, execute};
use crate::graph::AssetGraph;
use crate::instance::{Instance, ProcessIdentity};
use crate::model::clock::Clock;
use crate::model::config::RunConfig;
use crate::model::error::{Error, Result};
use crate::model::event::{Event, EventKind, LogLevel, RunId, RunStatus};
use crate::model::ids::NodeIx;
use crate::model::io::IoManagers;
use crate::model::key::AssetKey;
use crate::plan::Plan;

/// How often a run checks whether another process asked to cancel it.
const CANCEL_POLL: Duration = Duration::from_millis(250);

/// What every run of one engine shares.
pub(crate) struct Launcher<'e> {
    pub(crate) graph: &'e Arc<AssetGraph>,
    pub(crate) instance: &'e Arc<Instance>,
    pub(crate) io: &'e Arc<IoManagers>,
    pub(crate) clock: &'e Arc<dyn Clock>,
    pub(crate) pool_lease: Duration,
    pub(crate) notifiers: &'e [Arc<dyn RunNotifier>],
    /// Runs of this engine started and not yet ended (ended as canceled on a hard exit).
    pub(crate) live: &'e Mutex<Vec<RunId>>,
}

/// One run to launch: a plan with at least one step, and what it was planned under.
pub(crate) struct Launch {
    pub(crate) request: Materialize,
    pub(crate) config: RunConfig,
    /// External assets whose observation failed before the run: their readers always run.
    pub(crate) unobserved: Vec<NodeIx>,
    pub(crate) plan: Plan,
    /// Recorded with the run's start (`code_version` events the instance has not seen).
    pub(crate) code_versions: Vec<Event>,
    pub(crate) observer: Arc<dyn RunObserver>,
}

/// The slots a run holds from before it starts until after it has ended.
struct Slots {
    run: PoolSlot,
    storage: PoolSlot,
}

impl Launcher<'_> {
    /// Runs `launch` from its first event to its last; the outcome (`left_out` is the
    /// caller's).
    pub(crate) async fn launch(&self, launch: Launch) -> Result<RunOutcome> {
        let Launch {
            request,
            config,
            unobserved,
            plan,
            code_versions,
            observer,
        } = launch;
        let concurrency = request.concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        });
        let run_id = request.run_id.clone().unwrap_or_else(RunId::new);
        let slots = self
            .take_slots(&run_id, &request.cancel, &*observer)
            .await?;
        let run = Arc::new(Run {
            graph: Arc::clone(self.graph),
            instance: Arc::clone(self.instance),
            io: Arc::clone(self.io),
            clock: Arc::clone(self.clock),
            run_id,
            secrets: config.secret_values(),
            config,
            force: request.force,
            unobserved,
            observer,
            cancel: request.cancel.clone(),
            newest_first: request.newest_first,
            pool_lease: self.pool_lease,
            plan,
            stored: Default::default(),
        });
        let mut started = vec![self.started(&run, &request)];
        started.extend(code_versions);
        if let Err(e) = run.commit(started).await {
            self.give_back(slots).await;
            return Err(e);
        }
        if let Ok(mut live) = self.live.lock() {
            live.push(run.run_id.clone());
        }
        let watch = self.watch_cancel(&run.run_id, &request.cancel);
        let outcome = execute(Arc::clone(&run), concurrency).await;
        watch.abort();
        let (outcome, message) = self.end(&run, outcome, slots).await?;
        // Only assets whose current objects changed (none for a run that was all up to date).
        let touched: HashSet<AssetKey> = run
            .stored
            .lock()
            .map(|s| stored_keys(self.graph, &s))
            .unwrap_or_default();
        if !touched.is_empty() {
            super::publish::publish_current(self.graph, self.instance, self.io, &touched).await;
        }
        self.notify(&request, &outcome, message).await;
        Ok(outcome)
    }

    /// A slot of the instance's run limit (`assets pools max-runs N`), then the storage lease:
    /// no object is written while garbage collection deletes unreferenced ones (a run that
    /// reuses an old object by content would otherwise lose it to gc).
    async fn take_slots(
        &self,
        run_id: &RunId,
        cancel: &CancellationToken,
        observer: &dyn RunObserver,
    ) -> Result<Slots> {
        let holder = format!("run {} pid {}", run_id.short(), std::process::id());
        let say = |message: &str| {
            let kind = EventKind::Log {
                level: LogLevel::Info,
                message: message.into(),
            };
            observer.on_event(&Event::new(self.clock.now(), kind));
        };
        let run = PoolSlot::acquire(
            self.instance,
            crate::instance::RUNS_POOL,
            &holder,
            self.pool_lease,
            cancel,
            || say("waiting: the instance runs as many runs as it may at once"),
        )
        .await?
        .ok_or_else(|| Error::Canceled("canceled while waiting for a run slot".into()))?;
        let storage =
            PoolSlot::acquire_storage(self.instance, &holder, self.pool_lease, cancel, || {
                say("waiting: garbage collection is deleting unreferenced objects")
            })
            .await;
        match storage {
            Ok(Some(storage)) => Ok(Slots { run, storage }),
            Ok(None) => {
                run.release().await;
                Err(Error::Canceled(
                    "canceled while waiting for garbage collection".into(),
                ))
            }
            Err(e) => {
                run.release().await;
                Err(e)
            }
        }
    }

    async fn give_back(&self, slots: Slots) {
        slots.storage.release().await;
        slots.run.release().await;
    }

    fn started(&self, run: &Run, request: &Materialize) -> Event {
        let me = ProcessIdentity::current();
        run.event(EventKind::RunStarted {
            selection: request.selection.clone(),
            partition: partition_text(request),
            steps: run.plan.steps.len() as u32,
            config: run.config.recorded(),
            pid: me.pid,
            host: me.host,
            process_start: me.start,
            backfill: request.backfill.clone(),
            resumes: request.resumes.clone(),
            tags: request.tags.clone(),
        })
    }

    /// `assets runs cancel` from another process reaches this one through the instance; a
    /// cancel from this process (Ctrl-C) is recorded there, so that the run ends `canceled`
    /// even if the process is made to exit before it ends the run itself.
    fn watch_cancel(
        &self,
        run_id: &RunId,
        cancel: &CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let (instance, run_id, cancel, clock) = (
            Arc::clone(self.instance),
            run_id.clone(),
            cancel.clone(),
            Arc::clone(self.clock),
        );
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(CANCEL_POLL) => {}
                    () = cancel.cancelled() => {
                        let requested = Event::new(clock.now(), EventKind::RunCancelRequested);
                        let _ = instance.append(vec![requested.run(&run_id)]).await;
                        return;
                    }
                }
                match instance.run_cancel_requested(&run_id) {
                    Ok(true) => {
                        cancel.cancel();
                        return;
                    }
                    Ok(false) => {}
                    Err(_) => return,
                }
            }
        })
    }

    /// Records how the run ended (a failure if its events could not all be written), then
    /// gives the slots back; the outcome and the message the end recorded.
    async fn end(
        &self,
        run: &Run,
        outcome: RunOutcome,
        slots: Slots,
    ) -> Result<(RunOutcome, Option<String>)> {
        let flushed = self.instance.flush().await;
        let message = match (&flushed, outcome.status) {
            (Err(e), _) => Some(format!("events were lost: {e}")),
            (Ok(()), RunStatus::Failure) => Some(failure_summary(&outcome)),
            (Ok(()), RunStatus::Canceled) => Some("canceled".into()),
            _ => None,
        };
        let status = if flushed.is_err() {
            RunStatus::Failure
        } else {
            outcome.status
        };
        let ended = run
            .commit(vec![run.event(EventKind::RunEnded {
                status,
                message: message.clone(),
            })])
            .await;
        if let Ok(mut live) = self.live.lock() {
            live.retain(|r| *r != run.run_id);
        }
        // The slots go back once the run has ended in the instance, so that the runs the
        // instance shows as running never exceed the limit (not even for a moment).
        self.give_back(slots).await;
        ended?;
        flushed?;
        Ok((RunOutcome { status, ..outcome }, message))
    }

    /// Tells every notifier how the run ended.
    async fn notify(&self, request: &Materialize, outcome: &RunOutcome, message: Option<String>) {
        if self.notifiers.is_empty() {
            return;
        }
        let report = RunReport {
            run_id: outcome.run_id.clone(),
            status: outcome.status,
            selection: request.selection.clone(),
            partition: partition_text(request),
            message,
            failed: outcome.failed.clone(),
            checks_failed: outcome.checks_failed.clone(),
            steps: outcome.steps,
            succeeded: outcome.succeeded,
            duration_ms: outcome.duration.as_secs_f64() * 1000.0,
            host: ProcessIdentity::current().host,
        };
        for n in self.notifiers {
            n.run_ended(&report).await;
        }
    }
}

/// The partitions a request names, as the run records them (`KEY1,KEY2`).
fn partition_text(request: &Materialize) -> Option<String> {
    (!request.partitions.is_empty()).then(|| request.partitions.join(","))
}

fn stored_keys(graph: &AssetGraph, nodes: &BTreeSet<NodeIx>) -> HashSet<AssetKey> {
    nodes.iter().map(|&n| graph.key(n).clone()).collect()
}

/// The message a failed run ends with: what failed, how many were skipped, which checks.
fn failure_summary(outcome: &RunOutcome) -> String {
    let mut parts = Vec::new();
    if !outcome.failed.is_empty() {
        let names: Vec<&str> = outcome.failed.iter().map(|f| f.step.as_str()).collect();
        parts.push(format!("failed: {}", names.join(", ")));
    }
    if outcome.skipped > 0 {
        parts.push(format!("{} skipped", outcome.skipped));
    }
    let checks: Vec<&str> = outcome
        .checks_failed
        .iter()
        .map(|c| c.check.as_str())
        .collect();
    if !checks.is_empty() {
        parts.push(format!("failed checks: {}", checks.join(", ")));
    }
    parts.join("; ")
}
