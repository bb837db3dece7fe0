//! The daemon: evaluates schedules on the engine's clock and launches their runs.
//!
//! Each evaluation:
//!
//! 1. records a heartbeat;
//! 2. for each running schedule, finds the ticks due since its last recorded tick (or since it
//!    was started) under its catch-up policy;
//! 3. claims each tick with a `schedule_tick` event. The instance keeps the first claim of a
//!    (schedule, tick) and ignores later ones, so when two daemons share an instance exactly
//!    one of them owns each tick — the one whose claim the instance kept — and only the owner
//!    launches its run;
//! 4. launches the run in the background and records the tick `launched` (with the run id),
//!    then `succeeded` or `failed`. Missed ticks the policy does not fire are recorded
//!    `skipped`.
//!
//! Time comes from the engine's [`Clock`](crate::model::clock::Clock), so tests move it instead of
//! sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::execute::{Materialize, RunObserver};
use crate::instance::ProcessIdentity;
use crate::model::error::{Error, Result};
use crate::model::event::{Event, EventKind, RunStatus, ScheduleTick};
use crate::model::schedule::{ScheduleDef, TickPartitions, partition_for_tick};

/// What one evaluation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// (schedule, tick, partition) of every run this daemon launched.
    pub launched: Vec<(String, DateTime<Utc>, Option<String>)>,
    /// Ticks another daemon had claimed first.
    pub lost: Vec<(String, DateTime<Utc>)>,
    /// Missed ticks recorded as skipped.
    pub skipped: Vec<(String, DateTime<Utc>)>,
}

/// A daemon over one engine.
pub struct Daemon {
    engine: Engine,
    id: String,
    runs: Mutex<JoinSet<()>>,
}

impl Daemon {
    pub fn new(engine: Engine) -> Self {
        let me = ProcessIdentity::current();
        Daemon {
            engine,
            id: format!(
                "{}:{}:{}",
                me.host,
                me.pid,
                &uuid::Uuid::new_v4().to_string()[..8]
            ),
            runs: Mutex::new(JoinSet::new()),
        }
    }

    /// This daemon's id, as its heartbeats and tick claims carry it.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.engine.now()).unwrap_or_default()
    }

    /// Evaluates every schedule once at the clock's current time, launching what is due.
    pub async fn evaluate(&self) -> Result<Evaluation> {
        self.heartbeat(false).await?;
        let mut report = Evaluation::default();
        for schedule in self.engine.graph().schedules() {
            self.evaluate_schedule(schedule, &mut report).await?;
        }
        Ok(report)
    }

    async fn evaluate_schedule(
        &self,
        schedule: &ScheduleDef,
        report: &mut Evaluation,
    ) -> Result<()> {
        let instance = self.engine.instance();
        let name = schedule.name();
        if !instance.schedule_running(name, schedule.is_running_by_default())? {
            return Ok(());
        }
        let now = self.now();
        // The last tick handled, or when the schedule started running.
        let last_tick = instance
            .ticks(Some(name), 1)?
            .first()
            .and_then(|t| DateTime::from_timestamp_micros(t.tick));
        let started = instance
            .schedule_state_since(name)?
            .and_then(DateTime::from_timestamp_micros);
        let last = match (last_tick, started) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let Some(last) = last else {
            // Running by default and never evaluated: owe nothing before now.
            self.engine
                .instance()
                .append(vec![Event::new(
                    self.engine.now(),
                    EventKind::ScheduleStateChanged {
                        schedule: name.to_owned(),
                        running: true,
                    },
                )])
                .await?;
            return Ok(());
        };
        let due = schedule
            .cron()?
            .due(Some(last), now, schedule.catch_up_policy());
        for tick in due.skipped {
            let mut skipped = self.tick(name, tick, "skipped");
            skipped.message = Some("missed; the catch-up policy skips it".into());
            if self.claim(skipped).await? {
                report.skipped.push((name.to_owned(), tick));
            }
        }
        for tick in due.fire {
            if !self.claim(self.tick(name, tick, "claimed")).await? {
                report.lost.push((name.to_owned(), tick));
                continue;
            }
            let partition = match schedule.partitions() {
                TickPartitions::None => None,
                TickPartitions::LatestCompleted => {
                    let windows = self.engine.graph().schedule_windows(schedule);
                    match windows.and_then(|w| partition_for_tick(w, tick)) {
                        Some(p) => Some(p.to_string()),
                        None => {
                            let mut skipped = self.tick(name, tick, "skipped");
                            skipped.message =
                                Some("no partition completed yet at this tick".into());
                            self.record(skipped).await?;
                            report.skipped.push((name.to_owned(), tick));
                            continue;
                        }
                    }
                }
            };
            self.launch(schedule, tick, partition.clone());
            report.launched.push((name.to_owned(), tick, partition));
        }
        Ok(())
    }

    /// A record of `tick` of `schedule` in `state`, by this daemon.
    fn tick(&self, schedule: &str, tick: DateTime<Utc>, state: &str) -> ScheduleTick {
        ScheduleTick::new(schedule, tick.timestamp_micros(), &self.id, state)
    }

    /// Appends a claim of a tick; true when this daemon owns it.
    async fn claim(&self, claim: ScheduleTick) -> Result<bool> {
        let (schedule, tick) = (claim.schedule.clone(), claim.tick);
        self.record(claim).await?;
        let owner = self
            .engine
            .instance()
            .tick(&schedule, tick)?
            .ok_or_else(|| Error::Internal(format!("the claim of {schedule} at {tick} is lost")))?;
        Ok(owner.daemon == self.id)
    }

    async fn record(&self, tick: ScheduleTick) -> Result<()> {
        self.engine
            .instance()
            .append(vec![tick_event(&self.engine, tick)])
            .await?;
        Ok(())
    }

    fn launch(&self, schedule: &ScheduleDef, tick: DateTime<Utc>, partition: Option<String>) {
        let engine = self.engine.clone();
        let mut request = Materialize::new(schedule.selection());
        if let Some(p) = &partition {
            request = request.partition(p.clone());
        }
        let mut launched = self.tick(schedule.name(), tick, "launched");
        launched.partition = partition;
        let observer = Arc::new(Launched {
            engine: engine.clone(),
            tick: launched.clone(),
        });
        let task = async move {
            let result = engine.materialize(request, observer).await;
            let mut ended = launched;
            match result {
                Ok(o) => {
                    ended.run_id = Some(o.run_id.to_string());
                    if o.status == RunStatus::Success {
                        ended.state = "succeeded".into();
                    } else {
                        ended.state = "failed".into();
                        ended.message = Some(format!(
                            "run {} ended {}",
                            o.run_id.short(),
                            o.status.as_str()
                        ));
                    }
                }
                Err(e) => {
                    ended.state = "failed".into();
                    ended.message = Some(e.to_string());
                }
            }
            let name = ended.schedule.clone();
            if let Err(e) = engine
                .instance()
                .append(vec![tick_event(&engine, ended)])
                .await
            {
                tracing::error!(target: "stemma::daemon", "recording the tick of {name}: {e}");
            }
        };
        if let Ok(mut runs) = self.runs.lock() {
            runs.spawn(task);
        }
    }

    /// Waits until every run this daemon launched has ended.
    pub async fn wait_runs(&self) {
        let mut runs = match self.runs.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(_) => return,
        };
        while runs.join_next().await.is_some() {}
    }

    async fn heartbeat(&self, stopping: bool) -> Result<()> {
        let me = ProcessIdentity::current();
        self.engine
            .instance()
            .append(vec![Event::new(
                self.engine.now(),
                EventKind::DaemonHeartbeat {
                    daemon: self.id.clone(),
                    pid: me.pid,
                    host: me.host,
                    stopping,
                },
            )])
            .await?;
        Ok(())
    }

    /// Evaluates every `interval` until `shutdown` is cancelled, then lets the runs it
    /// launched finish and records a last heartbeat. A failed evaluation is logged and tried
    /// again at the next interval.
    pub async fn run(&self, interval: Duration, shutdown: CancellationToken) -> Result<()> {
        loop {
            if let Err(e) = self.evaluate().await {
                tracing::error!(target: "stemma::daemon", "evaluating schedules failed: {e}");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = shutdown.cancelled() => break,
            }
        }
        self.wait_runs().await;
        self.heartbeat(true).await
    }
}

fn tick_event(engine: &Engine, tick: ScheduleTick) -> Event {
    Event::new(engine.now(), EventKind::ScheduleTick(tick))
}

/// Records the tick `launched` with its run id as soon as the run starts.
struct Launched {
    engine: Engine,
    tick: ScheduleTick,
}

impl RunObserver for Launched {
    fn on_event(&self, event: &Event) {
        if let EventKind::RunStarted { .. } = event.kind {
            let mut tick = self.tick.clone();
            tick.run_id = event.run_id.as_ref().map(|r| r.to_string());
            self.engine
                .instance()
                .append_nowait(vec![tick_event(&self.engine, tick)]);
        }
    }
}

impl Engine {
    /// Starts or stops a schedule (recorded in the instance; daemons read it at every
    /// evaluation). A started schedule owes nothing for the time it was stopped.
    pub async fn set_schedule_running(&self, name: &str, running: bool) -> Result<()> {
        self.graph().schedule(name)?;
        self.instance()
            .append(vec![Event::new(
                self.now(),
                EventKind::ScheduleStateChanged {
                    schedule: name.to_owned(),
                    running,
                },
            )])
            .await?;
        Ok(())
    }
}
