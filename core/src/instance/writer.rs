//! The single writer: one thread owns the write connection and commits whatever has queued up
//! in one transaction (group commit).
//!
//! Every append carries the events of one logical change (a materialization and its step
//! event, say); the writer applies each event and its projection (the `runs`, `asset_latest`
//! and `check_latest` tables) in the same transaction, so a reader never sees an event without
//! its projection or the other way round.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::model::event::{Event, EventKind};

/// Called with the ids assigned to an append's events, or the error that lost them.
pub(crate) type Ack = Box<dyn FnOnce(Result<Vec<i64>, String>) + Send>;

pub(crate) struct Request {
    pub(crate) events: Vec<Event>,
    pub(crate) ack: Option<Ack>,
}

/// The most requests folded into one transaction.
const MAX_BATCH: usize = 4096;

pub(crate) struct Writer {
    tx: Mutex<Option<Sender<Request>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The last error of an append nobody waited for; reported by the next flush.
    pub(crate) failed: Arc<Mutex<Option<String>>>,
    /// Why every append is refused (an instance opened read-only or on a full disk).
    refusal: Option<String>,
}

impl Writer {
    pub(crate) fn spawn(conn: Connection) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let failed = Arc::new(Mutex::new(None));
        let failed_in_thread = Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("stemma-instance-writer".into())
            .spawn(move || run(conn, rx, failed_in_thread))?;
        Ok(Writer {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            failed,
            refusal: None,
        })
    }

    /// A writer that refuses every append, saying `why` (an instance that cannot be written).
    pub(crate) fn refusing(why: String) -> Self {
        Writer {
            tx: Mutex::new(None),
            thread: Mutex::new(None),
            failed: Arc::new(Mutex::new(None)),
            refusal: Some(why),
        }
    }

    pub(crate) fn send(&self, request: Request) -> Result<(), String> {
        if let Some(why) = &self.refusal {
            return Err(format!("nothing can be recorded: {why}"));
        }
        let guard = self
            .tx
            .lock()
            .map_err(|_| "writer lock poisoned".to_owned())?;
        let Some(tx) = guard.as_ref() else {
            return Err("the instance is closed".into());
        };
        tx.send(request)
            .map_err(|_| "the instance writer has stopped".to_owned())
    }

    /// Stops the thread after it has committed everything queued.
    pub(crate) fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(handle) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = handle.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(mut conn: Connection, rx: Receiver<Request>, failed: Arc<Mutex<Option<String>>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let result = write(&mut conn, &mut batch);
        match result {
            Ok(ids) => {
                for (request, ids) in batch.into_iter().zip(ids) {
                    if let Some(ack) = request.ack {
                        ack(Ok(ids));
                    }
                }
            }
            Err(e) => {
                let message = format!("writing events to the instance failed: {e}");
                let mut unacked = false;
                for request in batch {
                    match request.ack {
                        Some(ack) => ack(Err(message.clone())),
                        None => unacked = true,
                    }
                }
                if unacked && let Ok(mut f) = failed.lock() {
                    *f = Some(message);
                }
            }
        }
    }
}

/// Writes every request's events in one transaction; returns the ids per request.
pub(crate) fn write(
    conn: &mut Connection,
    batch: &mut [Request],
) -> rusqlite::Result<Vec<Vec<i64>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut all = Vec::with_capacity(batch.len());
    for request in batch.iter_mut() {
        let mut ids = Vec::with_capacity(request.events.len());
        for event in &mut request.events {
            let id = append(&tx, event)?;
            event.id = Some(id);
            ids.push(id);
        }
        all.push(ids);
    }
    tx.commit()?;
    Ok(all)
}

fn append(tx: &Transaction<'_>, event: &Event) -> rusqlite::Result<i64> {
    let body = serde_json::to_string(&event.kind)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let run_id = event.run_id.as_ref().map(|r| r.as_str());
    let asset = event.asset.as_ref().map(|a| a.as_str());
    let partition = event.partition.as_ref().map(|p| p.as_str());
    tx.prepare_cached(
        "INSERT INTO event_log (run_id, ts, kind, asset_key, partition, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        run_id,
        event.timestamp,
        event.kind.name(),
        asset,
        partition,
        body
    ])?;
    let id = tx.last_insert_rowid();
    project(tx, id, event)?;
    Ok(id)
}

/// Keeps the current-state tables in step with the event just appended.
fn project(tx: &Transaction<'_>, id: i64, event: &Event) -> rusqlite::Result<()> {
    let run_id = event.run_id.as_ref().map(|r| r.as_str());
    let asset = event.asset.as_ref().map(|a| a.as_str());
    let partition = event.partition.as_ref().map_or("", |p| p.as_str());
    match &event.kind {
        EventKind::RunStarted {
            selection,
            partition,
            steps,
            config,
            pid,
            host,
            process_start,
            backfill,
            ..
        } => {
            let config = serde_json::to_string(config).unwrap_or_else(|_| "{}".into());
            tx.prepare_cached(
                "INSERT INTO runs (run_id, status, selection, partition, config, steps, started_at,
                                   pid, host, process_start, backfill_id)
                 VALUES (?1, 'started', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                run_id,
                selection,
                partition,
                config,
                steps,
                event.timestamp,
                pid,
                host,
                process_start.map(|s| s as i64),
                backfill.as_ref().map(|b| b.as_str())
            ])?;
        }
        EventKind::RunCancelRequested => {
            tx.prepare_cached(
                "UPDATE runs SET cancel_requested_at = ?2
                 WHERE run_id = ?1 AND cancel_requested_at IS NULL",
            )?
            .execute(params![run_id, event.timestamp])?;
        }
        EventKind::RunEnded { status, message } => {
            tx.prepare_cached(
                "UPDATE runs SET status = ?2, ended_at = ?3, message = ?4 WHERE run_id = ?1",
            )?
            .execute(params![run_id, status.as_str(), event.timestamp, message])?;
        }
        EventKind::Materialization(m) => {
            let (inputs_digest, deps_digest) = crate::hash::provenance_digests(&m.provenance);
            let config = (!m.provenance.config.is_empty())
                .then(|| serde_json::to_string(&m.provenance.config))
                .transpose()
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            tx.prepare_cached(
                "INSERT INTO asset_latest (asset_key, partition, event_id, run_id, ts, data_version,
                     code_version, value_kind, io_manager, location, rows, bytes,
                     inputs_digest, deps_digest, config)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (asset_key, partition) DO UPDATE SET
                     event_id = excluded.event_id, run_id = excluded.run_id, ts = excluded.ts,
                     data_version = excluded.data_version, code_version = excluded.code_version,
                     value_kind = excluded.value_kind, io_manager = excluded.io_manager,
                     location = excluded.location, rows = excluded.rows, bytes = excluded.bytes,
                     inputs_digest = excluded.inputs_digest,
                     deps_digest = excluded.deps_digest, config = excluded.config",
            )?
            .execute(params![
                asset,
                partition,
                id,
                run_id,
                event.timestamp,
                m.data_version.as_str(),
                m.provenance.code_version,
                m.value_kind.to_string(),
                m.io_manager,
                m.location,
                m.rows.map(|r| r as i64),
                m.bytes.map(|b| b as i64),
                inputs_digest.as_bytes().as_slice(),
                deps_digest.as_bytes().as_slice(),
                config
            ])?;
        }
        EventKind::Observation { data_version, .. } => {
            tx.prepare_cached(
                "INSERT INTO asset_latest (asset_key, partition, event_id, run_id, ts, data_version,
                     value_kind, io_manager)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'nothing', '')
                 ON CONFLICT (asset_key, partition) DO UPDATE SET
                     event_id = excluded.event_id, run_id = excluded.run_id, ts = excluded.ts,
                     data_version = excluded.data_version, value_kind = 'nothing', io_manager = '',
                     location = NULL, rows = NULL, bytes = NULL,
                     inputs_digest = NULL, deps_digest = NULL, config = NULL",
            )?
            .execute(params![asset, partition, id, run_id, event.timestamp, data_version.as_str()])?;
        }
        EventKind::StepFailed {
            error,
            retrying: false,
            ..
        } => {
            tx.prepare_cached(
                "INSERT INTO asset_failures (asset_key, partition, event_id, run_id, ts, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (asset_key, partition) DO UPDATE SET
                     event_id = excluded.event_id, run_id = excluded.run_id, ts = excluded.ts,
                     error = excluded.error",
            )?
            .execute(params![
                asset,
                partition,
                id,
                run_id,
                event.timestamp,
                error
            ])?;
        }
        EventKind::CheckEvaluation(c) => {
            tx.prepare_cached(
                "INSERT INTO check_latest (asset_key, check_name, partition, event_id, run_id, ts,
                     passed, severity, description, code_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (asset_key, check_name, partition) DO UPDATE SET
                     event_id = excluded.event_id, run_id = excluded.run_id, ts = excluded.ts,
                     passed = excluded.passed, severity = excluded.severity,
                     description = excluded.description, code_version = excluded.code_version",
            )?
            .execute(params![
                asset,
                c.check,
                partition,
                id,
                run_id,
                event.timestamp,
                c.passed,
                c.severity.to_string(),
                c.description,
                c.code_version
            ])?;
        }
        EventKind::CodeVersion {
            code_version,
            items,
        } => {
            let items = serde_json::to_string(items)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO code_versions (asset_key, code_version, items)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![asset, code_version, items])?;
        }
        EventKind::AssetWiped => {
            tx.prepare_cached("DELETE FROM asset_latest WHERE asset_key = ?1")?
                .execute(params![asset])?;
            tx.prepare_cached("DELETE FROM check_latest WHERE asset_key = ?1")?
                .execute(params![asset])?;
            tx.prepare_cached("DELETE FROM asset_failures WHERE asset_key = ?1")?
                .execute(params![asset])?;
            tx.prepare_cached("DELETE FROM partition_status_cache WHERE asset_key = ?1")?
                .execute(params![asset])?;
        }
        EventKind::BackfillRequested(b) => {
            let partitions = serde_json::to_string(&b.partitions).unwrap_or_else(|_| "[]".into());
            tx.prepare_cached(
                "INSERT INTO backfills (backfill_id, status, selection, partitions, reprocess,
                     newest_first, concurrency, created_at, updated_at)
                 VALUES (?1, 'requested', ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?
            .execute(params![
                b.backfill.as_str(),
                b.selection,
                partitions,
                b.reprocess,
                b.newest_first,
                b.concurrency,
                event.timestamp
            ])?;
        }
        EventKind::BackfillUpdated {
            backfill,
            status,
            message,
        } => {
            tx.prepare_cached(
                "UPDATE backfills SET status = ?2, message = ?3, updated_at = ?4
                 WHERE backfill_id = ?1",
            )?
            .execute(params![backfill.as_str(), status, message, event.timestamp])?;
        }
        EventKind::DynamicPartitionsChanged {
            definition,
            added,
            removed,
        } => {
            let mut add = tx.prepare_cached(
                "INSERT INTO dynamic_partitions (definition, key, added) VALUES (?1, ?2, ?3)
                 ON CONFLICT (definition, key) DO NOTHING",
            )?;
            for key in added {
                add.execute(params![definition, key, id])?;
            }
            let mut remove = tx.prepare_cached(
                "DELETE FROM dynamic_partitions WHERE definition = ?1 AND key = ?2",
            )?;
            for key in removed {
                remove.execute(params![definition, key])?;
            }
        }
        EventKind::ScheduleStateChanged { schedule, running } => {
            tx.prepare_cached(
                "INSERT INTO schedules (name, running, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET running = excluded.running,
                     updated_at = excluded.updated_at",
            )?
            .execute(params![schedule, running, event.timestamp])?;
        }
        EventKind::ScheduleTick(t) => {
            // The first claim of a tick wins; later events about it count only from the daemon
            // that owns it.
            tx.prepare_cached(
                "INSERT INTO schedule_ticks (schedule, tick, daemon, state, run_id, partition,
                     message, event_id, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (schedule, tick) DO UPDATE SET
                     state = excluded.state, run_id = COALESCE(excluded.run_id, run_id),
                     partition = COALESCE(excluded.partition, partition),
                     message = excluded.message, event_id = excluded.event_id,
                     updated_at = excluded.updated_at
                 WHERE schedule_ticks.daemon = excluded.daemon AND excluded.state <> 'claimed'",
            )?
            .execute(params![
                t.schedule,
                t.tick,
                t.daemon,
                t.state,
                t.run_id,
                t.partition,
                t.message,
                id,
                event.timestamp
            ])?;
        }
        EventKind::DaemonHeartbeat {
            daemon,
            pid,
            host,
            stopping,
        } => {
            tx.prepare_cached(
                "INSERT INTO daemon_heartbeats (daemon, pid, host, started_at, last_heartbeat,
                     stopped_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, CASE WHEN ?5 THEN ?4 END)
                 ON CONFLICT (daemon) DO UPDATE SET last_heartbeat = excluded.last_heartbeat,
                     stopped_at = excluded.stopped_at",
            )?
            .execute(params![daemon, pid, host, event.timestamp, stopping])?;
        }
        _ => {}
    }
    Ok(())
}
