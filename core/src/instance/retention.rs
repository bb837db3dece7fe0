//! Retention: pruning the event log, so that it does not grow without bound.
//!
//! The policy keeps, for every asset partition, its latest `keep_last` materializations (and
//! observations) and every one younger than the cutoff; a run is kept while it is younger than
//! the cutoff or made a materialization that is kept (so `runs show` works for the run behind
//! any retained value). Wiped materializations (those before their asset's last wipe) are
//! nobody's history: they are kept only while younger than the cutoff, and their objects are
//! never referenced. Everything else — older materializations, and old runs with their step
//! events and logs — is deleted in one transaction. The current-state tables are never touched:
//! what is current is always retained.

use std::collections::HashSet;

use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

use super::{SqliteStore, open_connection};
use crate::model::clock::Timestamp;
use crate::model::error::{Error, Result};

/// What to keep.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// The latest N materializations of each asset partition (at least 1).
    pub keep_last: usize,
    /// Everything at or after this moment.
    pub keep_since: Timestamp,
}

/// What a prune deleted (or, in a dry run, would delete).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub runs: u64,
    pub materializations: u64,
    pub observations: u64,
    /// Every event deleted, the above included.
    pub events: u64,
    /// The events left.
    pub events_kept: u64,
}

/// The objects the retained materializations point to, by location (relative to their IO
/// manager's root).
#[derive(Debug, Clone, Default)]
pub struct Referenced {
    pub locations: HashSet<String>,
}

impl SqliteStore {
    /// Prunes the event log by `policy`; with `dry_run` nothing is deleted. Returns what was
    /// (or would be) deleted and the object locations the remaining materializations use.
    pub fn prune(&self, policy: Retention, dry_run: bool) -> Result<(PruneReport, Referenced)> {
        self.with_connection(|conn| prune(conn, policy, dry_run))
    }

    /// The object locations referenced now, read without writing anything (what `prune`
    /// returns when it cannot write: a superset of what it would keep).
    pub fn referenced(&self) -> Result<Referenced> {
        self.read(referenced)
    }

    /// Runs that have started and not ended (dead ones are ended when an instance opens).
    pub fn live_runs(&self) -> Result<u64> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM runs WHERE status = 'started'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }

    /// Rebuilds the database file to return the space of deleted rows to the file system.
    /// Returns whether the write-ahead log could be folded back into it (another process
    /// reading the instance at that moment keeps the rebuilt pages in the log until the next
    /// checkpoint, when the file shrinks).
    pub fn vacuum(&self) -> Result<bool> {
        let conn = if self.mode == super::OpenMode::Shared {
            open_connection(&self.db)?
        } else {
            return Err(Error::instance(
                &self.db,
                "VACUUM needs the instance opened as usual",
            ));
        };
        conn.execute_batch("VACUUM;")
            .map_err(|e| Error::instance(&self.db, format!("VACUUM failed: {e}")))?;
        // In WAL mode the rebuilt pages pass through the log: checkpoint it back to empty,
        // waiting a little for readers of other processes to move on.
        for attempt in 0..20 {
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(|e| Error::instance(&self.db, format!("checkpoint failed: {e}")))?;
            if busy == 0 {
                return Ok(true);
            }
            std::thread::sleep(std::time::Duration::from_millis(10 * (attempt + 1)));
        }
        Ok(false)
    }

    /// The size of the database file and its write-ahead log, in bytes.
    pub fn db_size(&self) -> u64 {
        let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.db.clone().into_os_string();
        wal.push("-wal");
        size(&self.db) + size(std::path::Path::new(&wal))
    }
}

/// The object locations that retained, unwiped materializations and the current state point to.
fn referenced(conn: &Connection) -> rusqlite::Result<Referenced> {
    let mut stmt = conn.prepare(
        "WITH wiped AS (
             SELECT asset_key, MAX(id) AS id FROM event_log
             WHERE kind = 'asset_wiped' AND asset_key IS NOT NULL GROUP BY asset_key
         )
         SELECT DISTINCT json_extract(e.body, '$.location') FROM event_log e
         LEFT JOIN wiped w ON w.asset_key = e.asset_key
         WHERE e.kind = 'materialization' AND e.id > COALESCE(w.id, 0)
           AND json_extract(e.body, '$.location') IS NOT NULL
         UNION SELECT location FROM asset_latest WHERE location IS NOT NULL",
    )?;
    let locations = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<HashSet<String>>>()?;
    Ok(Referenced { locations })
}

fn prune(
    conn: &mut Connection,
    policy: Retention,
    dry_run: bool,
) -> rusqlite::Result<(PruneReport, Referenced)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS doomed_events (id INTEGER PRIMARY KEY);
         CREATE TEMP TABLE IF NOT EXISTS doomed_runs (run_id TEXT PRIMARY KEY);
         CREATE TEMP TABLE IF NOT EXISTS wiped_before (asset_key TEXT PRIMARY KEY, id INTEGER);
         DELETE FROM doomed_events;
         DELETE FROM doomed_runs;
         DELETE FROM wiped_before;
         -- Every materialization of an asset before its last wipe is wiped: it is no longer
         -- any asset partition's history to keep, and its object is not referenced.
         INSERT INTO wiped_before (asset_key, id)
             SELECT asset_key, MAX(id) FROM event_log
             WHERE kind = 'asset_wiped' AND asset_key IS NOT NULL GROUP BY asset_key;",
    )?;
    // Materializations and observations past the latest N of their asset partition, or wiped,
    // and older than the cutoff — never the one current state points at.
    tx.execute(
        "INSERT INTO doomed_events (id)
         SELECT e.id FROM (
             SELECT id, ts, asset_key, ROW_NUMBER() OVER (
                 PARTITION BY kind, asset_key, COALESCE(partition, '') ORDER BY id DESC
             ) AS rn
             FROM event_log WHERE kind IN ('materialization', 'observation')
         ) e LEFT JOIN wiped_before w ON w.asset_key = e.asset_key
         WHERE (e.rn > ?1 OR e.id < COALESCE(w.id, 0)) AND e.ts < ?2
           AND e.id NOT IN (SELECT event_id FROM asset_latest)",
        params![policy.keep_last.max(1) as i64, policy.keep_since],
    )?;
    // Ended runs older than the cutoff that made no retained materialization.
    tx.execute(
        "INSERT INTO doomed_runs (run_id)
         SELECT run_id FROM runs
         WHERE status != 'started' AND COALESCE(ended_at, started_at) < ?1
           AND run_id NOT IN (
               SELECT DISTINCT run_id FROM event_log
               WHERE kind = 'materialization' AND run_id IS NOT NULL
                 AND id NOT IN (SELECT id FROM doomed_events)
           )",
        params![policy.keep_since],
    )?;
    // Their events, except what current state points at.
    tx.execute(
        "INSERT OR IGNORE INTO doomed_events (id)
         SELECT id FROM event_log
         WHERE run_id IN (SELECT run_id FROM doomed_runs)
           AND id NOT IN (SELECT event_id FROM asset_latest)
           AND id NOT IN (SELECT event_id FROM check_latest)",
        [],
    )?;
    let count = |sql: &str| -> rusqlite::Result<u64> {
        tx.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    let kind_count = |kind: &str| -> rusqlite::Result<u64> {
        tx.query_row(
            "SELECT COUNT(*) FROM event_log e JOIN doomed_events d ON d.id = e.id WHERE e.kind = ?1",
            [kind],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
    };
    let mut report = PruneReport {
        runs: count("SELECT COUNT(*) FROM doomed_runs")?,
        materializations: kind_count("materialization")?,
        observations: kind_count("observation")?,
        events: count("SELECT COUNT(*) FROM doomed_events")?,
        events_kept: 0,
    };
    tx.execute_batch(
        "DELETE FROM event_log WHERE id IN (SELECT id FROM doomed_events);
         DELETE FROM runs WHERE run_id IN (SELECT run_id FROM doomed_runs);",
    )?;
    report.events_kept = count("SELECT COUNT(*) FROM event_log")?;
    let referenced = referenced(&tx)?;
    tx.execute_batch("DELETE FROM doomed_events; DELETE FROM doomed_runs;")?;
    if dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    Ok((report, referenced))
}
