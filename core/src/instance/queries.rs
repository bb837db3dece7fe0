//! Paged reads of the event log and the runs, with filters: what an API's lists, a history
//! page and an event stream ask for. Each is one indexed range query.

use rusqlite::types::Value;

use super::{RUN_COLUMNS, RunRecord, SqliteStore, event_columns, run_from_row};
use crate::model::error::{Error, Result};
use crate::model::event::{Event, RunId, RunStatus};
use crate::model::key::AssetKey;

/// Which events to read, a page at a time (ids are the event log's order: commit order).
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events with a greater id.
    pub after: Option<i64>,
    /// Only events with a smaller id.
    pub before: Option<i64>,
    /// Only this run's events.
    pub run: Option<RunId>,
    /// Only this asset's events.
    pub asset: Option<AssetKey>,
    /// Only this partition's events (with `asset`).
    pub partition: Option<String>,
    /// Only events of these types (`materialization`, `log`, …); all when empty.
    pub kinds: Vec<String>,
    /// Newest first (else oldest first).
    pub newest_first: bool,
    /// At most this many events.
    pub limit: usize,
}

/// Which runs to list, newest first, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub status: Option<RunStatus>,
    /// Only runs with an event of this asset (a step, a materialization).
    pub asset: Option<String>,
    /// Started at or after (µs since the epoch).
    pub since: Option<i64>,
    /// Started before (µs since the epoch).
    pub until: Option<i64>,
    /// Only runs started with this tag (key, value).
    pub tag: Option<(String, String)>,
    /// Only runs listed after this one: its start (µs) and id, from the previous page.
    pub before: Option<(i64, String)>,
    /// At most this many runs.
    pub limit: usize,
}

impl SqliteStore {
    /// A page of events, as `query` asks.
    pub fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let mut sql = String::from(
            "SELECT id, run_id, ts, asset_key, partition, body FROM event_log WHERE 1 = 1",
        );
        let mut args: Vec<Value> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, value: Value| {
            args.push(value);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(after) = query.after {
            arg(&mut sql, " AND id > ?", after.into());
        }
        if let Some(before) = query.before {
            arg(&mut sql, " AND id < ?", before.into());
        }
        if let Some(run) = &query.run {
            arg(&mut sql, " AND run_id = ?", run.as_str().to_owned().into());
        }
        if let Some(asset) = &query.asset {
            arg(
                &mut sql,
                " AND asset_key = ?",
                asset.as_str().to_owned().into(),
            );
        }
        if let Some(partition) = &query.partition {
            arg(&mut sql, " AND partition = ?", partition.clone().into());
        }
        if !query.kinds.is_empty() {
            sql.push_str(" AND kind IN (");
            for (i, kind) in query.kinds.iter().enumerate() {
                let sep = if i == 0 { "?" } else { ", ?" };
                arg(&mut sql, sep, kind.clone().into());
            }
            sql.push(')');
        }
        let order = if query.newest_first { "DESC" } else { "ASC" };
        arg(
            &mut sql,
            &format!(" ORDER BY id {order} LIMIT ?"),
            (query.limit as i64).into(),
        );
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), event_columns)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|r| self.event_from_columns(r))
            .collect()
    }

    /// The id of the newest event (0 on an empty instance).
    pub fn last_event_id(&self) -> Result<i64> {
        self.read(|c| {
            c.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM event_log")?
                .query_row([], |r| r.get(0))
        })
    }

    /// A page of runs, newest first, as `query` asks.
    pub fn runs_page(&self, query: &RunQuery) -> Result<Vec<RunRecord>> {
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        // Each `?` of a clause becomes the number of its value.
        let mut arg = |sql: &mut String, clause: &str, values: Vec<Value>| {
            let mut parts = clause.split('?');
            sql.push_str(parts.next().unwrap_or_default());
            for (part, v) in parts.zip(values) {
                args.push(v);
                sql.push_str(&format!("?{}{part}", args.len()));
            }
        };
        if let Some(status) = query.status {
            arg(
                &mut sql,
                " AND status = ?",
                vec![status.as_str().to_owned().into()],
            );
        }
        if let Some(since) = query.since {
            arg(&mut sql, " AND started_at >= ?", vec![since.into()]);
        }
        if let Some(until) = query.until {
            arg(&mut sql, " AND started_at < ?", vec![until.into()]);
        }
        if let Some(asset) = &query.asset {
            arg(
                &mut sql,
                " AND run_id IN (SELECT run_id FROM event_log WHERE asset_key = ? \
                 AND run_id IS NOT NULL)",
                vec![asset.clone().into()],
            );
        }
        if let Some((key, value)) = &query.tag {
            arg(
                &mut sql,
                " AND run_id IN (SELECT run_id FROM event_log WHERE kind = 'run_started' \
                 AND json_extract(body, '$.tags.' || json_quote(?)) = ?)",
                vec![key.clone().into(), value.clone().into()],
            );
        }
        if let Some((started, id)) = &query.before {
            arg(
                &mut sql,
                " AND (started_at < ? OR (started_at = ? AND run_id < ?))",
                vec![(*started).into(), (*started).into(), id.clone().into()],
            );
        }
        arg(
            &mut sql,
            " ORDER BY started_at DESC, run_id DESC LIMIT ?",
            vec![(query.limit as i64).into()],
        );
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), run_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|r| r.map_err(|e| Error::instance(&self.db, e)))
            .collect()
    }

    /// How many runs the instance holds in each status.
    pub fn run_status_counts(&self) -> Result<Vec<(String, u64)>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY 1")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            rows.collect()
        })
    }
}
