//! One step: load inputs, run the body (with retries), hash, store, commit, check.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tracing::Instrument;

use super::logs::SinkGuard;
use super::slots::PoolSlot;
use super::{Produced, Run, StepOutcome};
use crate::decision::StepFacts;
use crate::hash::{DataVersion, data_version};
use crate::model::check::{CheckResult, Severity};
use crate::model::context::{AssetContext, LogSink, StepLogger};
use crate::model::definitions::{Inputs, panic_message};
use crate::model::error::BoxError;
use crate::model::event::{
    CheckEvaluation, EventKind, InputVersion, Materialization, Provenance, StepPhases,
};
use crate::model::ids::{IxVec, StepIx};
use crate::model::io::{InputContext, OutputContext, PartitionsContext, StoredPart};
use crate::model::key::AssetKey;
use crate::model::spec::{ColumnInfo, Metadata, MetadataValue, PartitionKey};
use crate::model::value::Value;
use crate::plan::{InputPart, Previous, Step};

/// Tables with more rows than this are hashed on a blocking thread.
const HASH_INLINE_ROWS: usize = 16_384;

/// One part of one input, resolved at launch time.
pub(crate) enum ResolvedPart {
    InRun {
        partition: Option<PartitionKey>,
        produced: Produced,
    },
    Stored(crate::instance::LatestMaterialization),
}

impl ResolvedPart {
    fn version(&self, asset: &AssetKey) -> InputVersion {
        match self {
            ResolvedPart::InRun {
                partition,
                produced,
            } => InputVersion {
                asset: asset.clone(),
                partition: partition.clone(),
                data_version: produced.data_version().clone(),
            },
            ResolvedPart::Stored(m) => InputVersion {
                asset: m.asset.clone(),
                partition: m.partition.clone(),
                data_version: m.data_version.clone(),
            },
        }
    }
}

/// A step's inputs at launch: data inputs (loaded if it runs) and ordering-only ones (versions).
pub(crate) struct ResolvedInputs {
    data: Vec<Vec<ResolvedPart>>,
    order: Vec<Vec<ResolvedPart>>,
}

pub(crate) fn resolve_inputs(
    steps: &IxVec<StepIx, Step>,
    s: StepIx,
    produced: &IxVec<StepIx, Option<Produced>>,
) -> ResolvedInputs {
    let resolve = |inputs: &[crate::plan::PlannedInput]| -> Vec<Vec<ResolvedPart>> {
        inputs
            .iter()
            .map(|input| {
                input
                    .parts
                    .iter()
                    .filter_map(|part| match part {
                        InputPart::Step(u) => produced[*u].clone().map(|p| ResolvedPart::InRun {
                            partition: steps[*u].partition.clone(),
                            produced: p,
                        }),
                        InputPart::Stored(m) => Some(ResolvedPart::Stored(m.clone())),
                    })
                    .collect()
            })
            .collect()
    };
    ResolvedInputs {
        data: resolve(&steps[s].inputs),
        order: resolve(&steps[s].order_inputs),
    }
}

/// The version of every input the step would read now, data and ordering-only.
fn input_versions(step: &Step, inputs: &ResolvedInputs) -> Vec<InputVersion> {
    let planned = step.inputs.iter().chain(&step.order_inputs);
    let parts = inputs.data.iter().chain(&inputs.order);
    planned
        .zip(parts)
        .flat_map(|(p, parts)| parts.iter().map(|part| part.version(&p.asset)))
        .collect()
}

/// The committed materialization a step can reuse instead of running, if it is up to date
/// (see [`crate::decision`]).
fn up_to_date<'s>(run: &Run, step: &'s Step, versions: &[InputVersion]) -> Option<&'s Previous> {
    let facts = StepFacts {
        graph: &run.graph,
        step,
        config: &run.config,
        force: run.force,
        unobserved: &run.unobserved,
    };
    match facts.reason(versions) {
        Some(_) => None,
        None => step.previous.as_ref(),
    }
}

enum Failure {
    /// The attempt failed; another may succeed.
    Retryable(String),
    /// The attempt ran past the asset's timeout and was cancelled; another may succeed.
    TimedOut(String),
    /// Retrying cannot help (the body said so, or the instance cannot be written).
    Fatal(String),
    Canceled,
}

pub(crate) async fn run_step(run: Arc<Run>, s: StepIx, inputs: ResolvedInputs) -> StepOutcome {
    let step = &run.plan.steps[s];
    let spec = run.graph.spec(step.node);
    let started = Instant::now();
    let versions = input_versions(step, &inputs);
    if let Some(previous) = up_to_date(&run, step, &versions) {
        return reuse(&run, step, previous).await;
    }
    let mut attempt = 1u32;
    loop {
        // A pooled step holds a slot for each attempt, not while it waits to retry.
        let slot = match &spec.pool {
            Some(pool) => match take_slot(&run, step, pool).await {
                Ok(slot) => Some(slot),
                Err(Ended::Canceled) => return StepOutcome::Canceled,
                Err(Ended::Failed(error)) => return StepOutcome::Failed(error),
            },
            None => None,
        };
        run.emit(
            run.event(EventKind::StepStarted { attempt })
                .asset(&step.asset, step.partition.as_ref()),
        );
        let result = attempt_once(&run, s, &inputs, &versions, attempt, started).await;
        if let Some(slot) = slot {
            slot.release().await;
        }
        let failure = match result {
            Ok(outcome) => return outcome,
            Err(f) => f,
        };
        match failed_attempt(&run, step, failure, attempt, started) {
            Err(Ended::Canceled) => return StepOutcome::Canceled,
            Err(Ended::Failed(error)) => return StepOutcome::Failed(error),
            Ok(delay) => {
                attempt += 1;
                tokio::select! {
                    () = run.clock.sleep(delay) => {}
                    () = run.cancel.cancelled() => return StepOutcome::Canceled,
                }
            }
        }
    }
}

/// A step that is up to date: its committed materialization stands, and only the checks edited
/// since they last ran are evaluated again on the value it keeps.
async fn reuse(run: &Arc<Run>, step: &Step, previous: &Previous) -> StepOutcome {
    run.emit(
        run.event(EventKind::StepUpToDate {
            materialization: previous.latest.event_id,
            data_version: previous.latest.data_version.clone(),
        })
        .asset(&step.asset, step.partition.as_ref()),
    );
    let checked = match run_changed_checks(run, step, previous).await {
        Ok(Some(checked)) => match run.commit(checked.events.clone()).await {
            Ok(()) => checked,
            Err(e) => return StepOutcome::Failed(e.to_string()),
        },
        Ok(None) => Checked::default(),
        Err(e) => return StepOutcome::Failed(run.redacted(&e)),
    };
    StepOutcome::Succeeded {
        produced: Produced::Stored(previous.latest.clone()),
        up_to_date: true,
        checks_passed: checked.passed,
        checks_failed: checked.failed,
        blocked_by: checked.blocked_by,
    }
}

/// How a step ends without a value.
enum Ended {
    Failed(String),
    Canceled,
}

/// A slot of the step's pool for one attempt (saying in the step's log that it waits).
async fn take_slot(run: &Arc<Run>, step: &Step, pool: &str) -> Result<PoolSlot, Ended> {
    let holder = format!(
        "run {} step {} pid {}",
        run.run_id.short(),
        step.label(),
        std::process::id()
    );
    let waiting = || {
        run.emit(
            run.event(EventKind::Log {
                level: crate::model::event::LogLevel::Info,
                message: format!("waiting for a slot of pool {pool}"),
            })
            .asset(&step.asset, step.partition.as_ref()),
        );
    };
    let taken = PoolSlot::acquire(
        &run.instance,
        pool,
        &holder,
        run.pool_lease,
        &run.cancel,
        waiting,
    )
    .await;
    match taken {
        Ok(Some(slot)) => Ok(slot),
        Ok(None) => Err(Ended::Canceled),
        Err(e) => Err(Ended::Failed(e.to_string())),
    }
}

/// Records a failed attempt; the delay before the next one, or how the step ends.
fn failed_attempt(
    run: &Run,
    step: &Step,
    failure: Failure,
    attempt: u32,
    started: Instant,
) -> Result<Duration, Ended> {
    let (error, retryable, timed_out) = match failure {
        Failure::Canceled => return Err(Ended::Canceled),
        Failure::Retryable(e) => (e, true, false),
        Failure::TimedOut(e) => (e, true, true),
        Failure::Fatal(e) => (e, false, false),
    };
    // The run's outcome (printed, sent to alerts) never carries a secret either.
    let error = run.redacted(&error);
    let policy = run.graph.spec(step.node).retry_policy();
    let retrying = retryable && attempt <= policy.max_retries && !run.cancel.is_cancelled();
    let delay = retrying.then(|| policy.jittered_delay_before(attempt + 1, fastrand::f64()));
    run.emit(
        run.event(EventKind::StepFailed {
            error: error.clone(),
            attempt,
            duration_ms: millis(started),
            retrying,
            timed_out,
            retry_in_ms: delay.map(|d| d.as_millis() as u64),
        })
        .asset(&step.asset, step.partition.as_ref()),
    );
    delay.ok_or(Ended::Failed(error))
}

/// How long each phase of an attempt took.
struct Laps {
    phases: StepPhases,
    mark: Instant,
}

impl Laps {
    fn start() -> Self {
        Laps {
            phases: StepPhases::default(),
            mark: Instant::now(),
        }
    }

    /// Milliseconds since the last lap.
    fn lap(&mut self) -> f64 {
        let ms = millis(self.mark);
        self.mark = Instant::now();
        ms
    }
}

/// One attempt: load → compute → hash → store → commit → checks.
async fn attempt_once(
    run: &Arc<Run>,
    s: StepIx,
    inputs: &ResolvedInputs,
    versions: &[InputVersion],
    attempt: u32,
    started: Instant,
) -> Result<StepOutcome, Failure> {
    let step = &run.plan.steps[s];
    let spec = run.graph.spec(step.node);
    let mut laps = Laps::start();
    let loaded = load_inputs(run, step, &inputs.data)
        .await
        .map_err(Failure::Retryable)?;
    laps.phases.load_ms = laps.lap();

    let (value, body) = compute(run, step, loaded).await?;
    laps.phases.compute_ms = laps.lap();

    // The declared schema, before anything is stored.
    if let (Some(expected), Value::Table(table)) = (&spec.schema, &value)
        && let Some(mismatch) = crate::model::spec::schema_mismatch(expected, table)
    {
        return Err(Failure::Fatal(mismatch));
    }
    let value = Arc::new(value);
    let (data_version, mut metadata) = hash_and_describe(&value)
        .await
        .map_err(Failure::Retryable)?;
    metadata.extend(body.ctx.take_metadata());
    laps.phases.hash_ms = laps.lap();

    let stored = store(run, step, &value, &data_version, &metadata).await?;
    if let Some(bytes) = stored.bytes {
        metadata.insert("bytes".into(), MetadataValue::from(bytes));
    }
    laps.phases.store_ms = laps.lap();
    if run.cancel.is_cancelled() {
        return Err(Failure::Canceled);
    }
    // About to be committed: its asset's current objects are published when the run ends.
    if stored.location.is_some()
        && let Ok(mut s) = run.stored.lock()
    {
        s.insert(step.node);
    }

    let materialization = Materialization {
        data_version: data_version.clone(),
        value_kind: value.kind(),
        io_manager: spec.io_manager.clone(),
        location: stored.location,
        rows: value.num_rows().map(|r| r as u64),
        bytes: stored.bytes,
        provenance: Provenance {
            code_version: spec.code_version.clone(),
            inputs: versions.to_vec(),
            deps: spec.deps.iter().map(|d| d.key.clone()).collect(),
            config: body.ctx.config_reads(),
        },
        metadata,
    };
    // Stamped when it is committed (after the checks, if any), so that a run's log reads in
    // time order; its duration is the step's own.
    let duration_ms = millis(started);
    let succeeded = || {
        run.event(EventKind::StepSucceeded {
            duration_ms,
            attempts: attempt,
            phases: Some(laps.phases),
        })
        .asset(&step.asset, step.partition.as_ref())
    };
    let checked = commit(run, step, materialization, succeeded, &value, &body).await?;
    Ok(StepOutcome::Succeeded {
        produced: Produced::Value {
            value,
            data_version,
        },
        up_to_date: false,
        checks_passed: checked.passed,
        checks_failed: checked.failed,
        blocked_by: checked.blocked_by,
    })
}

/// What a body ran with: its context (metadata, config reads, logger) and the span that
/// captures its logs (and its checks'), registered for as long as this lives.
struct BodyScope {
    ctx: AssetContext,
    span: tracing::Span,
    _sink: SinkGuard,
}

/// Runs the asset's body on its inputs, inside the step's span, until it returns, the run is
/// canceled or the asset's timeout passes.
async fn compute(
    run: &Arc<Run>,
    step: &Step,
    loaded: Vec<(AssetKey, Arc<Value>)>,
) -> Result<(Value, BodyScope), Failure> {
    let def = run.graph.asset(step.node);
    let spec = def.spec();
    let Some(compute) = def.compute.clone() else {
        return Err(Failure::Fatal(format!(
            "{} is external and cannot be materialized",
            step.asset
        )));
    };
    let sink = log_sink(run, &step.asset, step.partition.as_ref());
    let guard = SinkGuard::register(Arc::clone(&sink));
    let span = tracing::info_span!("stemma_step", token = guard.token());
    let ctx = AssetContext::new(
        step.asset.clone(),
        step.partition.clone(),
        run.run_id.clone(),
        run.config.clone(),
        StepLogger::new(sink),
    );
    let body = AssertUnwindSafe(compute(ctx.clone(), Inputs::new(loaded)).instrument(span.clone()))
        .catch_unwind();
    // Past the timeout the body is dropped (a blocking body's thread finishes on its own, and
    // whatever it returns is discarded).
    let timeout = async {
        match spec.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let value = tokio::select! {
        r = body => match r {
            Ok(Ok(v)) => v,
            Ok(Err(e)) if crate::model::error::NoRetry::is_in(&*e) => {
                return Err(Failure::Fatal(error_chain(&*e)));
            }
            Ok(Err(e)) => return Err(Failure::Retryable(error_chain(&*e))),
            Err(panic) => return Err(Failure::Retryable(panic_message(panic))),
        },
        () = run.cancel.cancelled() => return Err(Failure::Canceled),
        () = timeout => {
            let t = spec.timeout.unwrap_or_default();
            return Err(Failure::TimedOut(format!("timed out after {}", humantime(t))));
        }
    };
    let scope = BodyScope {
        ctx,
        span,
        _sink: guard,
    };
    Ok((value, scope))
}

/// Stores the value as a new object through the asset's IO manager.
async fn store(
    run: &Run,
    step: &Step,
    value: &Value,
    data_version: &DataVersion,
    metadata: &Metadata,
) -> Result<crate::model::io::StoredObject, Failure> {
    let spec = run.graph.spec(step.node);
    let io = run
        .io
        .get(&spec.io_manager)
        .map_err(|e| Failure::Fatal(e.to_string()))?;
    let stored = io
        .handle_output(
            &OutputContext {
                asset: &step.asset,
                partition: step.partition.as_ref(),
                spec,
                run_id: &run.run_id,
                data_version,
                metadata,
            },
            value,
        )
        .await
        .map_err(|e| Failure::Retryable(format!("storing the value failed: {e}")))?;
    Ok(stored)
}

/// Commits the materialization (the event and the asset's pointer in one transaction), then
/// runs the asset's checks on the committed value and commits them with `succeeded`.
async fn commit(
    run: &Run,
    step: &Step,
    materialization: Materialization,
    succeeded: impl Fn() -> crate::model::event::Event,
    value: &Arc<Value>,
    body: &BodyScope,
) -> Result<Checked, Failure> {
    let materialization = run
        .event(EventKind::Materialization(materialization))
        .asset(&step.asset, step.partition.as_ref());
    let fatal = |e: crate::model::error::Error| Failure::Fatal(e.to_string());
    let mut checks = run.graph.checks_of(step.node).peekable();
    if checks.peek().is_none() {
        run.commit(vec![materialization, succeeded()])
            .await
            .map_err(fatal)?;
        return Ok(Checked::default());
    }
    run.commit(vec![materialization]).await.map_err(fatal)?;
    let mut checked = run_checks(run, step, checks, value, &body.ctx.log, &body.span).await;
    let mut events = std::mem::take(&mut checked.events);
    events.push(succeeded());
    run.commit(events).await.map_err(fatal)?;
    Ok(checked)
}

/// What running some checks of a step gave.
#[derive(Default)]
struct Checked {
    events: Vec<crate::model::event::Event>,
    passed: usize,
    failed: Vec<super::CheckFailure>,
    blocked_by: Option<String>,
}

/// Runs `checks` on the step's `value`, inside the step's span (their logs are the step's).
async fn run_checks<'c>(
    run: &Run,
    step: &Step,
    checks: impl Iterator<Item = &'c crate::model::definitions::CheckDef>,
    value: &Arc<Value>,
    log: &StepLogger,
    span: &tracing::Span,
) -> Checked {
    let mut out = Checked::default();
    for check in checks {
        let cspec = check.spec();
        let check_ctx = AssetContext::new(
            step.asset.clone(),
            step.partition.clone(),
            run.run_id.clone(),
            run.config.clone(),
            log.clone(),
        );
        let inputs = if cspec.reads_asset {
            Inputs::new(vec![(step.asset.clone(), Arc::clone(value))])
        } else {
            Inputs::default()
        };
        let result =
            AssertUnwindSafe((check.run)(check_ctx.clone(), inputs).instrument(span.clone()))
                .catch_unwind()
                .await;
        let mut result = match result {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                CheckResult::fail(format!("the check failed to run: {}", error_chain(&*e)))
            }
            Err(panic) => CheckResult::fail(format!("the check {}", panic_message(panic))),
        };
        result.metadata.extend(check_ctx.take_metadata());
        let label = format!("{}:{}", step.label(), cspec.name);
        if result.passed {
            out.passed += 1;
        } else {
            out.failed.push(super::CheckFailure {
                check: label.clone(),
                description: run.redacted(result.description.as_deref().unwrap_or_default()),
            });
            if cspec.blocking && result.severity == Severity::Error && out.blocked_by.is_none() {
                out.blocked_by = Some(label);
            }
        }
        out.events.push(
            run.event(EventKind::CheckEvaluation(CheckEvaluation {
                check: cspec.name.clone(),
                passed: result.passed,
                severity: result.severity,
                blocking: cspec.blocking,
                description: result.description,
                metadata: result.metadata,
                code_version: cspec.code_version.clone(),
            }))
            .asset(&step.asset, step.partition.as_ref()),
        );
    }
    out
}

/// For a step that is up to date: the checks of its asset whose version differs from the one
/// that last evaluated them on this partition (a check that was edited, or never run), run on
/// the committed value. `None` when there are none (nothing is loaded).
async fn run_changed_checks(
    run: &Arc<Run>,
    step: &Step,
    previous: &Previous,
) -> Result<Option<Checked>, String> {
    let mut changed = Vec::new();
    for check in run.graph.checks_of(step.node) {
        let recorded = run
            .instance
            .check_code_version(&step.asset, step.partition.as_ref(), &check.spec().name)
            .map_err(|e| e.to_string())?;
        if recorded.as_ref() != Some(&check.spec().code_version) {
            changed.push(check);
        }
    }
    if changed.is_empty() {
        return Ok(None);
    }
    let io = run
        .io
        .get(&previous.latest.io_manager)
        .map_err(|e| e.to_string())?;
    let value = io
        .load_input(&crate::model::io::InputContext::of(
            &previous.latest,
            run.graph.spec_of(&previous.latest.asset),
            None,
        ))
        .await
        .map_err(|e| format!("loading {} to run its changed checks: {e}", step.label()))?;
    let sink = log_sink(run, &step.asset, step.partition.as_ref());
    let guard = SinkGuard::register(Arc::clone(&sink));
    let span = tracing::info_span!("stemma_step", token = guard.token());
    let checked = run_checks(
        run,
        step,
        changed.into_iter(),
        &Arc::new(value),
        &StepLogger::new(sink),
        &span,
    )
    .await;
    Ok(Some(checked))
}

async fn load_inputs(
    run: &Run,
    step: &Step,
    inputs: &[Vec<ResolvedPart>],
) -> Result<Vec<(AssetKey, Arc<Value>)>, String> {
    let mut loaded = Vec::with_capacity(step.inputs.len());
    for (planned, parts) in step.inputs.iter().zip(inputs) {
        if planned.combine
            && let Some(value) = load_stored_partitions(run, step, &planned.asset, parts).await?
        {
            loaded.push((planned.asset.clone(), Arc::new(value)));
            continue;
        }
        let mut values: Vec<(Option<PartitionKey>, Arc<Value>)> = Vec::with_capacity(parts.len());
        for part in parts {
            let (partition, stored) = match part {
                ResolvedPart::InRun {
                    partition,
                    produced: Produced::Value { value, .. },
                } => {
                    values.push((partition.clone(), Arc::clone(value)));
                    continue;
                }
                ResolvedPart::InRun {
                    partition,
                    produced: Produced::Stored(m),
                } => (partition.clone(), m),
                ResolvedPart::Stored(m) => (m.partition.clone(), m),
            };
            values.push((partition, Arc::new(load_stored(run, step, stored).await?)));
        }
        let value = if planned.combine {
            let parts = values
                .into_iter()
                .map(|(p, v)| {
                    (
                        p.map(|p| p.to_string()).unwrap_or_default(),
                        Arc::unwrap_or_clone(v),
                    )
                })
                .collect();
            Arc::new(
                Value::combine_partitions(parts)
                    .map_err(|e| format!("input {}: {e}", planned.asset))?,
            )
        } else {
            // No part: a declared offset before the first partition reads nothing.
            values
                .pop()
                .map_or_else(|| Arc::new(Value::Nothing), |(_, v)| v)
        };
        loaded.push((planned.asset.clone(), value));
    }
    Ok(loaded)
}

/// Loads every part of a combined input with one `load_partitions` call, when all of them are
/// stored through the same IO manager (`None` otherwise: some were produced in this run).
async fn load_stored_partitions(
    run: &Run,
    step: &Step,
    asset: &AssetKey,
    parts: &[ResolvedPart],
) -> Result<Option<Value>, String> {
    let mut stored = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            ResolvedPart::Stored(m)
            | ResolvedPart::InRun {
                produced: Produced::Stored(m),
                ..
            } if m.partition.is_some() => stored.push(m),
            _ => return Ok(None),
        }
    }
    let Some(first) = stored.first() else {
        return Ok(None);
    };
    if stored
        .iter()
        .any(|m| m.io_manager != first.io_manager || m.value_kind != first.value_kind)
    {
        return Ok(None);
    }
    let io = run.io.get(&first.io_manager).map_err(|e| e.to_string())?;
    let refs: Vec<StoredPart<'_>> = stored
        .iter()
        .filter_map(|m| {
            Some(StoredPart {
                partition: m.partition.as_ref()?,
                data_version: &m.data_version,
                location: m.location.as_deref(),
            })
        })
        .collect();
    io.load_partitions(&PartitionsContext {
        asset,
        kind: first.value_kind,
        parts: &refs,
        downstream: Some(&step.asset),
        spec: run.graph.node(asset).map(|n| run.graph.spec(n)),
    })
    .await
    .map(Some)
    .map_err(|e| {
        format!(
            "loading input {asset} ({} partitions) failed: {e}",
            refs.len()
        )
    })
}

/// Loads a committed value through the IO manager that stored it.
async fn load_stored(
    run: &Run,
    step: &Step,
    m: &crate::instance::LatestMaterialization,
) -> Result<Value, String> {
    let io = run.io.get(&m.io_manager).map_err(|e| e.to_string())?;
    io.load_input(&InputContext::of(
        m,
        run.graph.spec_of(&m.asset),
        Some(&step.asset),
    ))
    .await
    .map_err(|e| {
        format!(
            "loading input {} (materialized by run {}) failed: {e}",
            crate::model::event::step_label(&m.asset, m.partition.as_ref()),
            m.run_id.as_ref().map_or("?", |r| r.short())
        )
    })
}

async fn hash_and_describe(value: &Arc<Value>) -> Result<(DataVersion, Metadata), String> {
    let big = value.num_rows().is_some_and(|r| r > HASH_INLINE_ROWS)
        || matches!(&**value, Value::Bytes(b) if b.len() > 1 << 20);
    let work = |value: &Value| -> Result<(DataVersion, Metadata), BoxError> {
        let dv = data_version(value)?;
        Ok((dv, describe(value)))
    };
    let result = if big {
        let value = Arc::clone(value);
        crate::model::definitions::run_blocking(move || work(&value)).await
    } else {
        work(value)
    };
    result.map_err(|e| format!("hashing the value failed: {e}"))
}

/// Automatic metadata: for tables, row count and columns with their null counts.
fn describe(value: &Value) -> Metadata {
    let mut m = Metadata::new();
    if let Value::Table(t) = value {
        m.insert("row_count".into(), MetadataValue::from(t.num_rows()));
        let columns = t
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| ColumnInfo {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                nullable: f.is_nullable(),
                null_count: Some(
                    t.batches()
                        .iter()
                        .map(|b| b.column(i).null_count() as u64)
                        .sum(),
                ),
            })
            .collect();
        m.insert("columns".into(), MetadataValue::TableSchema(columns));
    }
    m
}

fn log_sink(run: &Arc<Run>, asset: &AssetKey, partition: Option<&PartitionKey>) -> LogSink {
    let run = Arc::clone(run);
    let asset = asset.clone();
    let partition = partition.cloned();
    Arc::new(move |level, message| {
        run.emit(
            run.event(EventKind::Log { level, message })
                .asset(&asset, partition.as_ref()),
        );
    })
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// An error with its causes: `outer: cause: root cause`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// `1.5 s`, `200 ms`: a duration as people read it.
fn humantime(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", (d.as_secs_f64() * 10.0).round() / 10.0)
    }
}
