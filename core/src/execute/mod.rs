//! The executor: runs a [`Plan`]'s steps on tokio.
//!
//! Independent steps run in parallel, at most `concurrency` at a time. Blocking bodies run on
//! tokio's blocking pool, so CPU-heavy work never stalls the scheduler. A failed step skips
//! everything downstream of it and the rest of the run continues; so does a failed blocking
//! check. A value produced in the run is handed to its consumers in memory and dropped as soon
//! as the last consumer has it; values from earlier runs are loaded by their IO manager.
//!
//! Events of concurrent steps are committed together by the instance's single writer (group
//! commit); a step counts as done only once its materialization is committed.

pub(crate) mod launch;
mod logs;
pub mod notify;
pub(crate) mod publish;
pub(crate) mod slots;
mod step;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use crate::model::context::{AssetContext, StepLogger};
pub use logs::StepLogLayer;

use crate::graph::AssetGraph;
use crate::hash::DataVersion;
use crate::instance::Instance;
use crate::model::clock::Clock;
use crate::model::config::RunConfig;
use crate::model::error::Result;
use crate::model::event::{BackfillId, Event, EventKind, RunId, RunStatus};
use crate::model::ids::{IxVec, NodeIx, StepIx};
use crate::model::io::IoManagers;
use crate::model::value::Value;
use crate::plan::{InputPart, Plan};

/// Sees every event of a run as it happens (the CLI's live view).
pub trait RunObserver: Send + Sync {
    fn on_event(&self, event: &Event);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl RunObserver for NoObserver {
    fn on_event(&self, _: &Event) {}
}

/// A request to materialize a selection.
#[derive(Debug, Clone)]
pub struct Materialize {
    pub(crate) selection: String,
    pub(crate) partitions: Vec<String>,
    pub(crate) force: bool,
    pub(crate) concurrency: Option<usize>,
    pub(crate) config: Vec<String>,
    pub(crate) cancel: CancellationToken,
    /// The backfill this run works for.
    pub(crate) backfill: Option<BackfillId>,
    /// Steps of the selection left out (a backfill's already done); their readers load them.
    pub(crate) exclude: Option<Arc<crate::plan::StepFilter>>,
    /// The run this one resumes.
    pub(crate) resumes: Option<String>,
    /// Start the newest partitions first.
    pub(crate) newest_first: bool,
    /// Labels recorded with the run.
    pub(crate) tags: BTreeMap<String, String>,
    /// The id the run gets (a new one when `None`).
    pub(crate) run_id: Option<RunId>,
}

impl Materialize {
    /// Materialize the assets `selection` names.
    pub fn new(selection: impl Into<String>) -> Self {
        Materialize {
            selection: selection.into(),
            partitions: Vec::new(),
            force: false,
            concurrency: None,
            config: Vec::new(),
            cancel: CancellationToken::new(),
            backfill: None,
            exclude: None,
            resumes: None,
            newest_first: false,
            tags: BTreeMap::new(),
            run_id: None,
        }
    }

    /// A partition of the selected partitioned assets (call again to add more).
    pub fn partition(mut self, key: impl Into<String>) -> Self {
        self.partitions.push(key.into());
        self
    }

    /// The partitions from `from` to `to` (inclusive, in the definition's order) of the selected
    /// partitioned assets.
    pub fn partition_range(mut self, from: &str, to: &str) -> Self {
        self.partitions
            .push(format!("{from}{}{to}", crate::plan::RANGE_SEPARATOR));
        self
    }

    /// Several partitions of the selected partitioned assets, one step each, in one run.
    pub fn partitions<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.partitions.extend(keys.into_iter().map(Into::into));
        self
    }

    /// Recompute every selected step, even those already up to date.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// At most `n` steps at once (default: the number of cores).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n.max(1));
        self
    }

    /// `key=value` config pairs, validated against the code location's declared fields.
    pub fn config<I, S>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.extend(pairs.into_iter().map(Into::into));
        self
    }

    /// Cancelling this token stops the run: no new steps start, running ones are abandoned
    /// before they commit, and the run ends `canceled`.
    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Among ready steps, start those of the newest partitions first (a backfill's default:
    /// recent data is usually wanted soonest).
    pub fn newest_first(mut self, yes: bool) -> Self {
        self.newest_first = yes;
        self
    }

    /// Leaves out these steps (a resumed run's or backfill's committed ones); their readers
    /// load them.
    pub(crate) fn excluding(mut self, steps: crate::plan::StepFilter) -> Self {
        self.exclude = Some(Arc::new(steps));
        self
    }

    /// Records the run as resuming `run`.
    pub(crate) fn resuming(mut self, run: &RunId) -> Self {
        self.resumes = Some(run.to_string());
        self
    }

    /// Records the run as working for backfill `id`.
    pub(crate) fn for_backfill(mut self, id: Option<&str>) -> Self {
        self.backfill = id.map(BackfillId::from_string);
        self
    }

    /// Labels recorded with the run (`team=ml`), to find it by.
    pub fn tags(mut self, tags: BTreeMap<String, String>) -> Self {
        self.tags.extend(tags);
        self
    }

    /// The id the run gets, chosen by whoever launches it (an API answers with it before the
    /// run's process starts). An id already used is refused when the run starts.
    pub fn run_id(mut self, id: RunId) -> Self {
        self.run_id = Some(id);
        self
    }

    pub fn selection(&self) -> &str {
        &self.selection
    }
}

/// A step that failed in a run (`asset` or `asset[partition]`), and its error.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct StepFailure {
    pub step: String,
    pub error: String,
}

/// A check that failed in a run (`asset:check`), and what it said.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct CheckFailure {
    pub check: String,
    pub description: String,
}

impl StepFailure {
    pub fn new(step: impl Into<String>, error: impl Into<String>) -> Self {
        StepFailure {
            step: step.into(),
            error: error.into(),
        }
    }
}

/// How a run went.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_id: RunId,
    pub status: RunStatus,
    pub steps: usize,
    /// Steps that ran and committed a materialization.
    pub succeeded: usize,
    /// Steps skipped because their committed materialization was already up to date.
    pub up_to_date: usize,
    /// Failed steps and their errors.
    pub failed: Vec<StepFailure>,
    pub skipped: usize,
    pub checks_passed: usize,
    /// Failed checks (`asset:check`) and their descriptions.
    pub checks_failed: Vec<CheckFailure>,
    pub duration: Duration,
    /// Partitioned assets the selection held that were left out, no partition being asked
    /// for ([`Plan::left_out`](crate::plan::Plan::left_out)).
    pub left_out: Vec<crate::model::key::AssetKey>,
    /// The selection depends on the instance's state (`status:stale+`) and matched nothing:
    /// no run was started.
    pub nothing_to_do: bool,
}

impl RunOutcome {
    /// The outcome of a run that had nothing to do.
    pub fn empty() -> Self {
        RunOutcome {
            run_id: RunId::default(),
            status: RunStatus::Success,
            steps: 0,
            succeeded: 0,
            up_to_date: 0,
            failed: Vec::new(),
            skipped: 0,
            checks_passed: 0,
            checks_failed: Vec::new(),
            duration: Duration::ZERO,
            left_out: Vec::new(),
            nothing_to_do: false,
        }
    }
}

/// Everything the steps of one run share.
pub(crate) struct Run {
    pub(crate) graph: Arc<AssetGraph>,
    pub(crate) instance: Arc<Instance>,
    pub(crate) io: Arc<IoManagers>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) plan: Plan,
    pub(crate) run_id: RunId,
    pub(crate) config: RunConfig,
    pub(crate) force: bool,
    /// External assets whose observation failed before the run: their readers always run.
    pub(crate) unobserved: Vec<NodeIx>,
    pub(crate) observer: Arc<dyn RunObserver>,
    pub(crate) cancel: CancellationToken,
    /// Among ready steps, the newest partitions go first.
    pub(crate) newest_first: bool,
    /// How long a pool slot is leased between renewals.
    pub(crate) pool_lease: std::time::Duration,
    /// Assets (nodes) for which this run committed a stored object: their current objects are
    /// published when it ends.
    pub(crate) stored: std::sync::Mutex<std::collections::BTreeSet<NodeIx>>,
    /// The values of the secret config fields, redacted from everything the run records.
    pub(crate) secrets: Vec<String>,
}

fn redact_with(secrets: &[String], text: &str) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), crate::model::config::SECRET);
        }
    }
    out
}

impl Run {
    /// Takes the values of secret config fields out of an event's text before it is recorded
    /// or shown (an error message quoting a URL with its key, a log line).
    fn redact(&self, event: &mut Event) {
        if self.secrets.is_empty() {
            return;
        }
        event.kind.redact(&|text| redact_with(&self.secrets, text));
    }

    /// `text` without secret values.
    pub(crate) fn redacted(&self, text: &str) -> String {
        redact_with(&self.secrets, text)
    }

    pub(crate) fn event(&self, kind: EventKind) -> Event {
        Event::new(self.clock.now(), kind).run(&self.run_id)
    }

    /// Records an event without waiting for the commit.
    pub(crate) fn emit(&self, mut event: Event) {
        self.redact(&mut event);
        self.observer.on_event(&event);
        self.instance.append_nowait(vec![event]);
    }

    /// Records events and waits until they are committed.
    pub(crate) async fn commit(&self, mut events: Vec<Event>) -> Result<()> {
        for e in &mut events {
            self.redact(e);
        }
        let seen = events.clone();
        self.instance.append(events).await?;
        for e in &seen {
            self.observer.on_event(e);
        }
        Ok(())
    }
}

/// What a step of this run produced: a value in memory, or — when it was up to date — the
/// committed materialization it reused, loaded by a consumer only if that consumer runs.
#[derive(Clone)]
pub(crate) enum Produced {
    Value {
        value: Arc<Value>,
        data_version: DataVersion,
    },
    Stored(crate::instance::LatestMaterialization),
}

impl Produced {
    pub(crate) fn data_version(&self) -> &DataVersion {
        match self {
            Produced::Value { data_version, .. } => data_version,
            Produced::Stored(m) => &m.data_version,
        }
    }
}

// Moved once per step, from its task to the executor: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum StepOutcome {
    Succeeded {
        produced: Produced,
        /// The body did not run: the committed materialization stands as up to date (its
        /// checks ran again only where they changed).
        up_to_date: bool,
        checks_passed: usize,
        checks_failed: Vec<CheckFailure>,
        /// A failed blocking check: downstream must not run.
        blocked_by: Option<String>,
    },
    Failed(String),
    Canceled,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

/// Runs every step of `run.plan`; returns the outcome (the caller records the run's end).
pub(crate) async fn execute(run: Arc<Run>, concurrency: usize) -> RunOutcome {
    let started = Instant::now();
    let mut schedule = Schedule::new(&run);
    let mut running: JoinSet<(StepIx, StepOutcome)> = JoinSet::new();
    let mut task_step: std::collections::HashMap<tokio::task::Id, StepIx> = Default::default();
    let mut canceled = false;
    loop {
        while !canceled && running.len() < concurrency {
            let Some((s, inputs)) = schedule.next(&run) else {
                break;
            };
            let run = Arc::clone(&run);
            let task = running.spawn(async move { (s, step::run_step(run, s, inputs).await) });
            task_step.insert(task.id(), s);
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            () = run.cancel.cancelled(), if !canceled => {
                canceled = true;
            }
            joined = running.join_next_with_id() => {
                let Some(joined) = joined else { continue };
                let (s, result) = match joined {
                    Ok((id, r)) => {
                        task_step.remove(&id);
                        r
                    }
                    Err(e) => {
                        // The step task itself died (not the body: its panics are caught), so
                        // this is a bug in Stemma; the step still fails like any other.
                        let Some(s) = task_step.remove(&e.id()) else { continue };
                        let message = format!("internal error (a bug in Stemma): the step's task failed: {e}");
                        tracing::error!(target: "stemma::execute", "{message}");
                        (s, StepOutcome::Failed(message))
                    }
                };
                schedule.finished(&run, s, result);
            }
        }
    }
    let mut outcome = schedule.end(&run, canceled);
    outcome.duration = started.elapsed();
    outcome
}

/// Where every step of a run stands: which may start, which values are still needed, and the
/// outcome so far.
struct Schedule {
    state: IxVec<StepIx, State>,
    /// How many upstream steps each step still waits for.
    waiting: IxVec<StepIx, usize>,
    /// How many in-run consumers still need each step's value.
    consumers: IxVec<StepIx, usize>,
    produced: IxVec<StepIx, Option<Produced>>,
    ready: crate::plan::ReadyQueue,
    outcome: RunOutcome,
}

impl Schedule {
    fn new(run: &Run) -> Self {
        let steps = &run.plan.steps;
        let n = steps.len();
        let mut consumers = IxVec::from_elem(0usize, n);
        for step in steps {
            for input in step.inputs.iter().chain(&step.order_inputs) {
                for part in &input.parts {
                    if let InputPart::Step(u) = part {
                        consumers[*u] += 1;
                    }
                }
            }
        }
        let waiting: IxVec<StepIx, usize> = steps.iter().map(|s| s.upstream.len()).collect();
        let mut ready = crate::plan::ReadyQueue::new(run.newest_first, steps);
        for s in steps.indices().filter(|&s| waiting[s] == 0) {
            ready.push(s);
        }
        Schedule {
            state: IxVec::from_elem(State::Pending, n),
            waiting,
            consumers,
            produced: IxVec::from_elem(None, n),
            ready,
            outcome: RunOutcome {
                run_id: run.run_id.clone(),
                steps: n,
                ..RunOutcome::empty()
            },
        }
    }

    /// The next step to start, with its inputs; values no other step needs are dropped.
    fn next(&mut self, run: &Run) -> Option<(StepIx, step::ResolvedInputs)> {
        let steps = &run.plan.steps;
        let s = loop {
            let s = self.ready.pop()?;
            if self.state[s] == State::Pending {
                break s;
            }
        };
        self.state[s] = State::Running;
        let inputs = step::resolve_inputs(steps, s, &self.produced);
        for input in steps[s].inputs.iter().chain(&steps[s].order_inputs) {
            for part in &input.parts {
                if let InputPart::Step(u) = part {
                    self.consumers[*u] -= 1;
                    if self.consumers[*u] == 0 {
                        self.produced[*u] = None;
                    }
                }
            }
        }
        Some((s, inputs))
    }

    /// A step ended: count it and release (or skip) what waited for it.
    fn finished(&mut self, run: &Run, s: StepIx, result: StepOutcome) {
        let steps = &run.plan.steps;
        match result {
            StepOutcome::Succeeded {
                produced,
                up_to_date,
                checks_passed,
                checks_failed,
                blocked_by,
            } => {
                self.state[s] = State::Done;
                if up_to_date {
                    self.outcome.up_to_date += 1;
                } else {
                    self.outcome.succeeded += 1;
                }
                self.outcome.checks_passed += checks_passed;
                self.outcome.checks_failed.extend(checks_failed);
                if self.consumers[s] > 0 {
                    self.produced[s] = Some(produced);
                }
                if let Some(check) = blocked_by {
                    let reason = format!("blocking check {check} failed");
                    self.outcome.skipped += skip_downstream(run, s, &reason, &mut self.state);
                    return;
                }
                for &d in &steps[s].downstream {
                    self.waiting[d] -= 1;
                    if self.waiting[d] == 0 && self.state[d] == State::Pending {
                        self.ready.push(d);
                    }
                }
            }
            StepOutcome::Failed(error) => {
                self.state[s] = State::Failed;
                self.outcome.failed.push(StepFailure {
                    step: steps[s].label(),
                    error,
                });
                let reason = format!("upstream {} failed", steps[s].label());
                self.outcome.skipped += skip_downstream(run, s, &reason, &mut self.state);
            }
            StepOutcome::Canceled => {
                self.state[s] = State::Skipped;
                self.outcome.skipped += 1;
                // Said in the log (and the live view), not just counted.
                run.emit(
                    run.event(EventKind::StepSkipped {
                        reason: "interrupted: the run was canceled while it ran".into(),
                    })
                    .asset(&steps[s].asset, steps[s].partition.as_ref()),
                );
            }
        }
    }

    /// The outcome once nothing runs: on a cancel, every step not started is skipped.
    fn end(mut self, run: &Run, canceled: bool) -> RunOutcome {
        let steps = &run.plan.steps;
        let outcome = &mut self.outcome;
        if canceled {
            for (s, st) in self.state.iter_enumerated_mut() {
                if *st == State::Pending {
                    *st = State::Skipped;
                    outcome.skipped += 1;
                    run.emit(
                        run.event(EventKind::StepSkipped {
                            reason: "the run was canceled".into(),
                        })
                        .asset(&steps[s].asset, steps[s].partition.as_ref()),
                    );
                }
            }
            outcome.status = RunStatus::Canceled;
        } else if !outcome.failed.is_empty() || outcome.skipped > 0 {
            outcome.status = RunStatus::Failure;
        }
        self.outcome
    }
}

/// Marks everything downstream of `s` skipped (recording why); returns how many.
fn skip_downstream(run: &Run, s: StepIx, reason: &str, state: &mut IxVec<StepIx, State>) -> usize {
    let steps = &run.plan.steps;
    let mut queue: VecDeque<StepIx> = steps[s].downstream.iter().copied().collect();
    let mut count = 0;
    while let Some(d) = queue.pop_front() {
        if state[d] != State::Pending {
            continue;
        }
        state[d] = State::Skipped;
        count += 1;
        run.emit(
            run.event(EventKind::StepSkipped {
                reason: reason.to_owned(),
            })
            .asset(&steps[d].asset, steps[d].partition.as_ref()),
        );
        queue.extend(steps[d].downstream.iter().copied());
    }
    count
}
