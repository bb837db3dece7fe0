//! The instance's SQLite schema, as numbered migrations.
//!
//! `PRAGMA user_version` holds the schema version. Migrations run inside one `BEGIN IMMEDIATE`
//! transaction that re-reads the version first, so two processes opening a new instance at the
//! same moment migrate it once.

use rusqlite::{Connection, TransactionBehavior};

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // v1: the event log and its projections.
    r"
    CREATE TABLE event_log (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id     TEXT,
        ts         INTEGER NOT NULL,
        kind       TEXT    NOT NULL,
        asset_key  TEXT,
        partition  TEXT,
        body       TEXT    NOT NULL
    );
    CREATE INDEX event_log_by_run   ON event_log (run_id, id);
    CREATE INDEX event_log_by_asset ON event_log (asset_key, kind, id);

    CREATE TABLE runs (
        run_id         TEXT PRIMARY KEY,
        status         TEXT    NOT NULL,
        selection      TEXT    NOT NULL,
        partition      TEXT,
        config         TEXT    NOT NULL,
        steps          INTEGER NOT NULL,
        started_at     INTEGER NOT NULL,
        ended_at       INTEGER,
        message        TEXT,
        pid            INTEGER,
        host           TEXT,
        process_start  INTEGER
    );
    CREATE INDEX runs_by_status  ON runs (status);
    CREATE INDEX runs_by_started ON runs (started_at);

    -- The latest materialization of each asset partition ('' = unpartitioned).
    CREATE TABLE asset_latest (
        asset_key     TEXT    NOT NULL,
        partition     TEXT    NOT NULL,
        event_id      INTEGER NOT NULL,
        run_id        TEXT,
        ts            INTEGER NOT NULL,
        data_version  TEXT    NOT NULL,
        code_version  TEXT,
        value_kind    TEXT    NOT NULL,
        io_manager    TEXT    NOT NULL,
        location      TEXT,
        rows          INTEGER,
        bytes         INTEGER,
        PRIMARY KEY (asset_key, partition)
    ) WITHOUT ROWID;

    -- The latest evaluation of each check of each asset partition.
    CREATE TABLE check_latest (
        asset_key    TEXT    NOT NULL,
        check_name   TEXT    NOT NULL,
        partition    TEXT    NOT NULL,
        event_id     INTEGER NOT NULL,
        run_id       TEXT,
        ts           INTEGER NOT NULL,
        passed       INTEGER NOT NULL,
        severity     TEXT    NOT NULL,
        description  TEXT,
        PRIMARY KEY (asset_key, check_name, partition)
    ) WITHOUT ROWID;
    ",
];

/// The schema version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`VERSION`]. Errors on a database from a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), String> {
    let current = user_version(conn)?;
    if current == VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    let current: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if current > VERSION {
        return Err(format!(
            "its schema is version {current}, written by a newer Stemma; this build knows up to {VERSION}"
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)
            .map_err(|e| format!("migration to schema v{} failed: {e}", i + 1))?;
    }
    tx.pragma_update(None, "user_version", VERSION)
        .map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())
}

pub(crate) fn user_version(conn: &Connection) -> Result<i64, String> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_from_every_earlier_version_and_refuses_newer() {
        for start in 0..VERSION {
            let mut conn = Connection::open_in_memory().unwrap();
            let tx = conn.transaction().unwrap();
            for sql in &MIGRATIONS[..start as usize] {
                tx.execute_batch(sql).unwrap();
            }
            tx.pragma_update(None, "user_version", start).unwrap();
            tx.commit().unwrap();
            migrate(&mut conn).unwrap();
            assert_eq!(user_version(&conn).unwrap(), VERSION);
            // Idempotent.
            migrate(&mut conn).unwrap();
            let n: i64 = conn
                .query_row("SELECT count(*) FROM asset_latest", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0);
        }
        let mut newer = Connection::open_in_memory().unwrap();
        newer
            .pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        let err = migrate(&mut newer).unwrap_err();
        assert!(err.contains("newer Stemma"), "{err}");
    }
}
