//! The instance's SQLite schema, as numbered migrations.
//!
//! `PRAGMA user_version` holds the schema version. Migrations run inside one `BEGIN IMMEDIATE`
//! transaction that re-reads the version first, so two processes opening a new instance at the
//! same moment migrate it once.

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::hash::provenance_digests;
use crate::model::event::Provenance;

/// One step of the schema: SQL, or code for what SQL cannot compute (digests).
pub(crate) enum Migration {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> rusqlite::Result<()>),
}

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    // v1: the event log and its projections.
    Migration::Sql(
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
    ),
    // v2: what staleness and `status:` selections need without reading the whole log — the
    // provenance of each latest materialization, and the last final failure of each asset
    // partition. Both are backfilled from the event log, which stays the truth.
    Migration::Sql(
        r"
    ALTER TABLE asset_latest ADD COLUMN provenance TEXT;
    UPDATE asset_latest SET provenance = (
        SELECT json_extract(e.body, '$.provenance') FROM event_log e WHERE e.id = asset_latest.event_id
    );

    CREATE TABLE asset_failures (
        asset_key  TEXT    NOT NULL,
        partition  TEXT    NOT NULL,
        event_id   INTEGER NOT NULL,
        run_id     TEXT,
        ts         INTEGER NOT NULL,
        error      TEXT    NOT NULL,
        PRIMARY KEY (asset_key, partition)
    ) WITHOUT ROWID;
    INSERT INTO asset_failures (asset_key, partition, event_id, run_id, ts, error)
        SELECT e.asset_key, COALESCE(e.partition, ''), e.id, e.run_id, e.ts,
               json_extract(e.body, '$.error')
        FROM event_log e
        WHERE e.kind = 'step_failed' AND json_extract(e.body, '$.retrying') = 0
          AND e.asset_key IS NOT NULL
          AND e.id = (SELECT MAX(f.id) FROM event_log f
                      WHERE f.kind = 'step_failed' AND f.asset_key = e.asset_key
                        AND COALESCE(f.partition, '') = COALESCE(e.partition, '')
                        AND json_extract(f.body, '$.retrying') = 0);
    ",
    ),
    // v3: the digests staleness compares — of the inputs a materialization read and of the
    // assets it depended on — so that a staleness pass never parses provenance JSON.
    Migration::Code(digests_v3),
    // v4: the provenance JSON leaves `asset_latest` (the event log keeps it, one join away):
    // a staleness pass scans this table, and inline provenance made its rows many times larger
    // than what the pass reads. The inputs digests move to recipe v2 (keyed, raw version
    // bytes), a third of the hashing per asset partition.
    Migration::Code(compact_v4),
    // v5: partitions at scale, backfills, dynamic partitions and schedules.
    Migration::Sql(
        r"
    -- What changed for an asset since a given event, for the partition status kept as ranges.
    CREATE INDEX asset_latest_by_event   ON asset_latest (asset_key, event_id);
    CREATE INDEX asset_failures_by_event ON asset_failures (asset_key, event_id);

    -- Partition status as ranges of positions, as of an event id, for one definition
    -- (fingerprint). A cache of asset_latest and asset_failures, brought up to date on read.
    CREATE TABLE partition_status_cache (
        asset_key      TEXT    PRIMARY KEY,
        fingerprint    TEXT    NOT NULL,
        through_event  INTEGER NOT NULL,
        materialized   BLOB    NOT NULL,
        failed         BLOB    NOT NULL
    ) WITHOUT ROWID;

    ALTER TABLE runs ADD COLUMN backfill_id TEXT;
    CREATE INDEX runs_by_backfill ON runs (backfill_id);

    CREATE TABLE backfills (
        backfill_id   TEXT    PRIMARY KEY,
        status        TEXT    NOT NULL,
        selection     TEXT    NOT NULL,
        partitions    TEXT    NOT NULL,
        reprocess     TEXT    NOT NULL,
        newest_first  INTEGER NOT NULL,
        concurrency   INTEGER,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        message       TEXT
    ) WITHOUT ROWID;

    -- Keys of dynamic partitions definitions; `added` (the event id) orders them.
    CREATE TABLE dynamic_partitions (
        definition  TEXT    NOT NULL,
        key         TEXT    NOT NULL,
        added       INTEGER NOT NULL,
        PRIMARY KEY (definition, key)
    ) WITHOUT ROWID;

    CREATE TABLE schedules (
        name        TEXT    PRIMARY KEY,
        running     INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- One row per (schedule, tick): the first daemon to claim a tick owns it.
    CREATE TABLE schedule_ticks (
        schedule    TEXT    NOT NULL,
        tick        INTEGER NOT NULL,
        daemon      TEXT    NOT NULL,
        state       TEXT    NOT NULL,
        run_id      TEXT,
        partition   TEXT,
        message     TEXT,
        event_id    INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (schedule, tick)
    ) WITHOUT ROWID;

    CREATE TABLE daemon_heartbeats (
        daemon          TEXT    PRIMARY KEY,
        pid             INTEGER NOT NULL,
        host            TEXT    NOT NULL,
        started_at      INTEGER NOT NULL,
        last_heartbeat  INTEGER NOT NULL,
        stopped_at      INTEGER
    ) WITHOUT ROWID;
    ",
    ),
    // v6: concurrency pools across runs and processes, with leased slots.
    Migration::Sql(
        r"
    CREATE TABLE pools (
        name        TEXT PRIMARY KEY,
        slots       INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- A held slot. A holder renews its lease while it runs; a lease past its expiry belongs to
    -- a holder that died and is taken back by the next one to ask.
    CREATE TABLE pool_leases (
        lease       TEXT PRIMARY KEY,
        pool        TEXT    NOT NULL,
        holder      TEXT    NOT NULL,
        acquired_at INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX pool_leases_by_pool ON pool_leases (pool, expires_at);
    -- `assets runs cancel` from another process: the running one polls for it.
    ALTER TABLE runs ADD COLUMN cancel_requested_at INTEGER;
    ",
    ),
    // v7: the config values each latest materialization read (JSON, NULL when it read none),
    // so that staleness is judged under the config a command is given, as plans are.
    Migration::Sql(
        r"
    ALTER TABLE asset_latest ADD COLUMN config TEXT;
    UPDATE asset_latest SET config = (
        SELECT json_extract(e.body, '$.provenance.config') FROM event_log e
        WHERE e.id = asset_latest.event_id AND e.kind = 'materialization'
          AND json_extract(e.body, '$.provenance.config') NOT IN ('{}', 'null')
    );
    ",
    ),
    // v8: the config fields whose values were scrubbed from the log once they were declared
    // secret (see `Instance::scrub_secrets`).
    Migration::Sql(
        r"
    CREATE TABLE scrubbed_secrets (
        name  TEXT    PRIMARY KEY,
        at    INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    ),
    // v9: what each code version of an asset was computed from, item by item (recorded once per
    // version, from `code_version` events), so that staleness can name the items that changed;
    // and the version of the check each latest check evaluation ran.
    Migration::Sql(
        r"
    CREATE TABLE code_versions (
        asset_key     TEXT NOT NULL,
        code_version  TEXT NOT NULL,
        items         TEXT NOT NULL,
        PRIMARY KEY (asset_key, code_version)
    ) WITHOUT ROWID;
    ALTER TABLE check_latest ADD COLUMN code_version TEXT;
    ",
    ),
];

fn digests_v3(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE asset_latest ADD COLUMN inputs_digest BLOB;
         ALTER TABLE asset_latest ADD COLUMN deps_digest BLOB;",
    )?;
    recompute_digests(
        tx,
        "SELECT asset_key, partition, provenance FROM asset_latest WHERE provenance IS NOT NULL",
    )
}

fn compact_v4(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE asset_latest_v4 (
            asset_key      TEXT    NOT NULL,
            partition      TEXT    NOT NULL,
            event_id       INTEGER NOT NULL,
            run_id         TEXT,
            ts             INTEGER NOT NULL,
            data_version   TEXT    NOT NULL,
            code_version   TEXT,
            value_kind     TEXT    NOT NULL,
            io_manager     TEXT    NOT NULL,
            location       TEXT,
            rows           INTEGER,
            bytes          INTEGER,
            inputs_digest  BLOB,
            deps_digest    BLOB,
            PRIMARY KEY (asset_key, partition)
        ) WITHOUT ROWID;
        INSERT INTO asset_latest_v4
            SELECT asset_key, partition, event_id, run_id, ts, data_version, code_version,
                   value_kind, io_manager, location, rows, bytes, inputs_digest, deps_digest
            FROM asset_latest;
        DROP TABLE asset_latest;
        ALTER TABLE asset_latest_v4 RENAME TO asset_latest;",
    )?;
    recompute_digests(
        tx,
        "SELECT a.asset_key, a.partition, json_extract(e.body, '$.provenance')
         FROM asset_latest a JOIN event_log e ON e.id = a.event_id
         WHERE e.kind = 'materialization'",
    )
}

/// Sets the digests of every row `select` yields as (asset, partition, provenance JSON).
fn recompute_digests(tx: &Transaction<'_>, select: &str) -> rusqlite::Result<()> {
    let rows: Vec<(String, String, Option<String>)> = {
        let mut stmt = tx.prepare(select)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut update = tx.prepare(
        "UPDATE asset_latest SET inputs_digest = ?3, deps_digest = ?4
         WHERE asset_key = ?1 AND partition = ?2",
    )?;
    for (asset, partition, provenance) in rows {
        let Some(Ok(p)) = provenance.map(|p| serde_json::from_str::<Provenance>(&p)) else {
            continue;
        };
        let (inputs, deps) = provenance_digests(&p);
        update.execute(params![
            asset,
            partition,
            inputs.as_bytes(),
            deps.as_bytes()
        ])?;
    }
    Ok(())
}

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
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        match migration {
            Migration::Sql(sql) => tx.execute_batch(sql),
            Migration::Code(f) => f(&tx),
        }
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
    use crate::hash::{deps_digest, inputs_digest};

    #[test]
    fn migrates_from_every_earlier_version() {
        for start in 0..VERSION {
            let mut conn = Connection::open_in_memory().unwrap();
            let tx = conn.transaction().unwrap();
            for migration in &MIGRATIONS[..start as usize] {
                match migration {
                    Migration::Sql(sql) => tx.execute_batch(sql).unwrap(),
                    Migration::Code(f) => f(&tx).unwrap(),
                }
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
    }

    #[test]
    fn v2_backfills_provenance_and_failures_from_the_log() {
        let mut conn = Connection::open_in_memory().unwrap();
        let Migration::Sql(v1) = MIGRATIONS[0] else {
            unreachable!()
        };
        conn.execute_batch(v1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let materialization = r#"{"type":"materialization","data_version":"aa","value_kind":"table","io_manager":"default","provenance":{"code_version":"c1","inputs":[{"asset":"up","data_version":"bb"}]}}"#;
        conn.execute(
            "INSERT INTO event_log (id, run_id, ts, kind, asset_key, partition, body) VALUES
             (1, 'r', 1, 'materialization', 'a', NULL, ?1),
             (2, 'r', 2, 'step_failed', 'a', NULL, '{\"type\":\"step_failed\",\"error\":\"first\",\"attempt\":1,\"duration_ms\":1.0,\"retrying\":true}'),
             (3, 'r', 3, 'step_failed', 'a', NULL, '{\"type\":\"step_failed\",\"error\":\"final\",\"attempt\":2,\"duration_ms\":1.0,\"retrying\":false}')",
            [materialization],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO asset_latest (asset_key, partition, event_id, ts, data_version, value_kind, io_manager)
             VALUES ('a', '', 1, 1, 'aa', 'table', 'default')",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let (event, error): (i64, String) = conn
            .query_row(
                "SELECT event_id, error FROM asset_failures WHERE asset_key = 'a'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((event, error.as_str()), (3, "final"));
        // v3 computed the digests from the provenance v2 backfilled (v4 then dropped the
        // copy, which the event log keeps).
        let (inputs, deps): (Vec<u8>, Vec<u8>) = conn
            .query_row(
                "SELECT inputs_digest, deps_digest FROM asset_latest WHERE asset_key = 'a'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let up = crate::model::key::AssetKey::parse("up").unwrap();
        let bb = crate::hash::DataVersion::from_hex("bb");
        assert_eq!(inputs, inputs_digest([(&up, None, &bb)]).as_bytes());
        assert_eq!(deps, deps_digest([&up]).as_bytes());
    }

    #[test]
    fn v7_keeps_the_config_each_latest_materialization_read() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        for migration in &MIGRATIONS[..6] {
            match migration {
                Migration::Sql(sql) => tx.execute_batch(sql).unwrap(),
                Migration::Code(f) => f(&tx).unwrap(),
            }
        }
        tx.pragma_update(None, "user_version", 6).unwrap();
        tx.commit().unwrap();
        let read = r#"{"type":"materialization","data_version":"aa","value_kind":"table","io_manager":"default","provenance":{"code_version":"c1","inputs":[],"config":{"train_epochs":"30"}}}"#;
        let none = r#"{"type":"materialization","data_version":"bb","value_kind":"table","io_manager":"default","provenance":{"code_version":"c1","inputs":[]}}"#;
        conn.execute(
            "INSERT INTO event_log (id, run_id, ts, kind, asset_key, partition, body) VALUES
             (1, 'r', 1, 'materialization', 'model', NULL, ?1),
             (2, 'r', 2, 'materialization', 'chunks', NULL, ?2)",
            [read, none],
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO asset_latest (asset_key, partition, event_id, ts, data_version, value_kind, io_manager)
             VALUES ('model', '', 1, 1, 'aa', 'table', 'default'),
                    ('chunks', '', 2, 2, 'bb', 'table', 'default')",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let config = |asset: &str| -> Option<String> {
            conn.query_row(
                "SELECT config FROM asset_latest WHERE asset_key = ?1",
                [asset],
                |r| r.get(0),
            )
            .unwrap()
        };
        let model: crate::model::config::ConfigReads =
            serde_json::from_str(&config("model").unwrap()).unwrap();
        assert_eq!(model["train_epochs"].as_deref(), Some("30"));
        assert_eq!(config("chunks"), None, "read no config");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut newer = Connection::open_in_memory().unwrap();
        newer
            .pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        let err = migrate(&mut newer).unwrap_err();
        assert!(err.contains("newer Stemma"), "{err}");
    }
}
