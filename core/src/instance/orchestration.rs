//! What the instance records about orchestration beyond runs: backfills, dynamic partitions,
//! schedules and their ticks, daemon heartbeats. All projections of events.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Row, params};

use super::{RUN_COLUMNS, RunRecord, SqliteStore, only_match, run_from_row};
use crate::model::clock::Timestamp;
use crate::model::error::{Error, Result};
use crate::model::event::{BackfillId, EventKind, RunId};
use crate::model::spec::PartitionKey;

/// Where a backfill stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackfillStatus {
    Requested,
    Running,
    Completed,
    Failed,
    /// Asked to stop while its run was live; the run ends it.
    Canceling,
    Canceled,
}

impl BackfillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BackfillStatus::Requested => "requested",
            BackfillStatus::Running => "running",
            BackfillStatus::Completed => "completed",
            BackfillStatus::Failed => "failed",
            BackfillStatus::Canceling => "canceling",
            BackfillStatus::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "requested" => BackfillStatus::Requested,
            "running" => BackfillStatus::Running,
            "completed" => BackfillStatus::Completed,
            "failed" => BackfillStatus::Failed,
            "canceling" => BackfillStatus::Canceling,
            "canceled" => BackfillStatus::Canceled,
            _ => return None,
        })
    }
}

impl std::fmt::Display for BackfillStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One backfill as the `backfills` table records it.
#[derive(Clone, Debug, PartialEq)]
pub struct BackfillRecord {
    pub id: BackfillId,
    pub status: BackfillStatus,
    pub selection: String,
    pub partitions: Vec<String>,
    pub reprocess: String,
    pub newest_first: bool,
    pub concurrency: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub message: Option<String>,
}

/// One tick of a schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct TickRecord {
    pub schedule: String,
    pub tick: Timestamp,
    pub daemon: String,
    /// `claimed`, `launched`, `succeeded`, `failed` or `skipped`.
    pub state: String,
    pub run_id: Option<String>,
    pub partition: Option<String>,
    pub message: Option<String>,
    pub updated_at: Timestamp,
}

/// A daemon's last sign of life.
#[derive(Clone, Debug, PartialEq)]
pub struct HeartbeatRecord {
    pub daemon: String,
    pub pid: u32,
    pub host: String,
    pub started_at: Timestamp,
    pub last_heartbeat: Timestamp,
    pub stopped_at: Option<Timestamp>,
}

const BACKFILL_COLUMNS: &str = "backfill_id, status, selection, partitions, reprocess, \
     newest_first, concurrency, created_at, updated_at, message";

fn backfill_from_row(r: &Row<'_>) -> rusqlite::Result<BackfillRecord> {
    let partitions: String = r.get(3)?;
    Ok(BackfillRecord {
        id: BackfillId::from_string(&r.get::<_, String>(0)?),
        status: {
            let text: String = r.get(1)?;
            BackfillStatus::parse(&text).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    1,
                    rusqlite::types::Type::Text,
                    format!("unknown backfill status {text:?}").into(),
                )
            })?
        },
        selection: r.get(2)?,
        partitions: serde_json::from_str(&partitions).unwrap_or_default(),
        reprocess: r.get(4)?,
        newest_first: r.get(5)?,
        concurrency: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        message: r.get(9)?,
    })
}

fn tick_from_row(r: &Row<'_>) -> rusqlite::Result<TickRecord> {
    Ok(TickRecord {
        schedule: r.get(0)?,
        tick: r.get(1)?,
        daemon: r.get(2)?,
        state: r.get(3)?,
        run_id: r.get(4)?,
        partition: r.get(5)?,
        message: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

const TICK_COLUMNS: &str = "schedule, tick, daemon, state, run_id, partition, message, updated_at";

impl SqliteStore {
    /// Recent backfills, newest first.
    pub fn backfills(&self, limit: usize) -> Result<Vec<BackfillRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {BACKFILL_COLUMNS} FROM backfills ORDER BY created_at DESC LIMIT ?1"
            ))?;
            stmt.query_map([limit as i64], backfill_from_row)?.collect()
        })
    }

    /// The backfill whose id starts with `prefix`; an error when none or several match.
    pub fn find_backfill(&self, prefix: &str) -> Result<BackfillRecord> {
        if prefix == super::LATEST {
            return self.backfills(1)?.pop().ok_or_else(|| {
                crate::model::error::Error::Config(
                    "there are no backfills yet, so no latest one".into(),
                )
            });
        }
        let (from, to) =
            super::id_prefix_range(prefix, "backfill", crate::model::error::Hint::ListBackfills)?;
        let found: Vec<BackfillRecord> = self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {BACKFILL_COLUMNS} FROM backfills
                 WHERE backfill_id >= ?1 AND backfill_id < ?2 LIMIT 5"
            ))?;
            stmt.query_map([&from, &to], backfill_from_row)?.collect()
        })?;
        only_match(
            found,
            "backfill",
            crate::model::error::Hint::ListBackfills,
            prefix,
            |b| b.id.as_str(),
        )
    }

    /// The runs of a backfill, newest first.
    pub fn backfill_runs(&self, id: &str) -> Result<Vec<RunRecord>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE backfill_id = ?1 ORDER BY started_at DESC"
            ))?;
            stmt.query_map([id], run_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|r| r.map_err(|e| Error::instance(&self.db, e)))
            .collect()
    }

    /// Whether a run of the backfill is still going (runs of dead processes are reaped when an
    /// instance opens).
    pub fn backfill_is_live(&self, id: &str) -> Result<bool> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE backfill_id = ?1 AND status = 'started')",
            )?
            .query_row([id], |r| r.get(0))
        })
    }

    /// The (asset, partition) pairs whose latest materialization a run of the backfill made.
    pub fn backfill_done(&self, id: &str) -> Result<HashSet<(String, Option<PartitionKey>)>> {
        let rows: Vec<(String, String)> = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT a.asset_key, a.partition FROM asset_latest a
                 WHERE a.run_id IN (SELECT run_id FROM runs WHERE backfill_id = ?1)",
            )?;
            stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })?;
        rows.into_iter()
            .map(|(asset, partition)| Ok((asset, self.partition(&partition)?)))
            .collect()
    }

    /// The steps `run` completed — committed, or found up to date — as (asset, partition).
    pub fn run_completed_steps(
        &self,
        run: &RunId,
    ) -> Result<HashSet<(String, Option<PartitionKey>)>> {
        let rows: Vec<(String, String)> = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT asset_key, partition FROM event_log
                 WHERE run_id = ?1 AND kind IN ('step_succeeded', 'step_up_to_date')",
            )?;
            stmt.query_map([run.as_str()], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })?
            .collect()
        })?;
        rows.into_iter()
            .map(|(asset, partition)| Ok((asset, self.partition(&partition)?)))
            .collect()
    }

    /// Whether another process asked `run` to stop: the run itself, or the backfill it works
    /// for.
    pub fn run_cancel_requested(&self, run: &RunId) -> Result<bool> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT r.cancel_requested_at IS NOT NULL OR EXISTS (
                     SELECT 1 FROM backfills b WHERE b.backfill_id = r.backfill_id
                         AND b.status IN ('canceling', 'canceled'))
                 FROM runs r WHERE r.run_id = ?1",
            )?
            .query_row([run.as_str()], |r| r.get(0))
            .optional()
            .map(|r| r.unwrap_or(false))
        })
    }

    /// The `run_started` event of `run` (one indexed row, not the run's whole log).
    pub fn run_started(&self, run: &RunId) -> Result<Option<EventKind>> {
        let body: Option<String> = self.read(|c| {
            c.prepare_cached(
                "SELECT body FROM event_log WHERE run_id = ?1 AND kind = 'run_started'
                 ORDER BY id LIMIT 1",
            )?
            .query_row([run.as_str()], |r| r.get(0))
            .optional()
        })?;
        body.map(|b| {
            serde_json::from_str(&b)
                .map_err(|e| Error::instance(&self.db, format!("run {run} cannot be read: {e}")))
        })
        .transpose()
    }

    /// The keys of a dynamic partitions definition, in the order they were added.
    pub fn dynamic_partitions(&self, definition: &str) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT key FROM dynamic_partitions WHERE definition = ?1 ORDER BY added, key",
            )?;
            stmt.query_map([definition], |r| r.get(0))?.collect()
        })
    }

    /// Whether a schedule is running: as last started or stopped, else `default`.
    pub fn schedule_running(&self, schedule: &str, default: bool) -> Result<bool> {
        let stored: Option<bool> = self.read(|c| {
            c.prepare_cached("SELECT running FROM schedules WHERE name = ?1")?
                .query_row([schedule], |r| r.get(0))
                .optional()
        })?;
        Ok(stored.unwrap_or(default))
    }

    /// When a running schedule was last started (`None`: stopped, or never recorded).
    pub fn schedule_state_since(&self, schedule: &str) -> Result<Option<Timestamp>> {
        self.read(|c| {
            c.prepare_cached("SELECT updated_at FROM schedules WHERE name = ?1 AND running = 1")?
                .query_row([schedule], |r| r.get(0))
                .optional()
        })
    }

    /// One tick, if any daemon claimed it.
    pub fn tick(&self, schedule: &str, tick: Timestamp) -> Result<Option<TickRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {TICK_COLUMNS} FROM schedule_ticks WHERE schedule = ?1 AND tick = ?2"
            ))?
            .query_row(params![schedule, tick], tick_from_row)
            .optional()
        })
    }

    /// The most recent ticks of a schedule (all schedules when `None`), newest first.
    pub fn ticks(&self, schedule: Option<&str>, limit: usize) -> Result<Vec<TickRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {TICK_COLUMNS} FROM schedule_ticks
                 WHERE ?1 IS NULL OR schedule = ?1 ORDER BY tick DESC, schedule LIMIT ?2"
            ))?;
            stmt.query_map(params![schedule, limit as i64], tick_from_row)?
                .collect()
        })
    }

    /// Daemons that ever beat, most recent first.
    pub fn heartbeats(&self) -> Result<Vec<HeartbeatRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT daemon, pid, host, started_at, last_heartbeat, stopped_at
                 FROM daemon_heartbeats ORDER BY last_heartbeat DESC",
            )?;
            stmt.query_map([], |r| {
                Ok(HeartbeatRecord {
                    daemon: r.get(0)?,
                    pid: r.get(1)?,
                    host: r.get(2)?,
                    started_at: r.get(3)?,
                    last_heartbeat: r.get(4)?,
                    stopped_at: r.get(5)?,
                })
            })?
            .collect()
        })
    }
}
