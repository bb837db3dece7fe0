//! Scrubbing secrets recorded before their field was declared secret.
//!
//! A value given with `--config` for a field the definitions did not (yet) call secret was
//! recorded as it was: in the run's record and its `run_started` event, in the provenance of
//! what it materialized, and in whatever its steps logged. Once the definitions declare the
//! field secret, the next process that opens the instance for writing replaces every such value
//! with `<secret>` — in one transaction with `secure_delete` on, then folds the write-ahead
//! log back so that no copy stays in it — and remembers the field as scrubbed.

use rusqlite::{Connection, TransactionBehavior, params};

use super::SqliteStore;
use crate::model::config::SECRET;
use crate::model::error::Result;

/// Values shorter than this are not searched for in free text.
const MIN_SCRUBBED_LEN: usize = 4;

impl SqliteStore {
    /// Replaces the recorded values of the config fields `names` (declared secret) with
    /// `<secret>` wherever the instance holds them, once per field. Returns how many values
    /// were found. Nothing is done on an instance opened read-only.
    pub fn scrub_secrets(&self, names: &[&str]) -> Result<usize> {
        if names.is_empty() || self.is_read_only() {
            return Ok(0);
        }
        let pending: Vec<&str> = self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT 1 FROM scrubbed_secrets WHERE name = ?1")?;
            let mut out = Vec::new();
            for &name in names {
                if !stmt.exists([name])? {
                    out.push(name);
                }
            }
            Ok(out)
        })?;
        if pending.is_empty() {
            return Ok(0);
        }
        let found = self.with_connection(|conn| scrub(conn, &pending))?;
        Ok(found)
    }
}

fn scrub(conn: &mut Connection, names: &[&str]) -> rusqlite::Result<usize> {
    conn.pragma_update(None, "secure_delete", "ON")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut values: Vec<String> = Vec::new();
    for &name in names {
        let path = format!("$.\"{}\"", name.replace('"', ""));
        // The plain values runs were given, to find them in free text as well.
        {
            let mut stmt = tx.prepare(
                "SELECT DISTINCT json_extract(config, ?1) FROM runs
                 WHERE json_extract(config, ?1) IS NOT NULL",
            )?;
            for v in stmt.query_map([&path], |r| r.get::<_, String>(0))? {
                let v = v?;
                if v != SECRET {
                    values.push(v);
                }
            }
        }
        tx.execute(
            "UPDATE runs SET config = json_set(config, ?1, ?2)
             WHERE json_extract(config, ?1) IS NOT NULL",
            params![path, SECRET],
        )?;
        for (kind, at) in [
            ("run_started", "$.config"),
            ("materialization", "$.provenance.config"),
        ] {
            let path = format!("{at}.\"{}\"", name.replace('"', ""));
            tx.execute(
                "UPDATE event_log SET body = json_set(body, ?1, ?2)
                 WHERE kind = ?3 AND json_extract(body, ?1) IS NOT NULL",
                params![path, SECRET, kind],
            )?;
        }
        tx.execute(
            "UPDATE asset_latest SET config = json_set(config, ?1, ?2)
             WHERE config IS NOT NULL AND json_extract(config, ?1) IS NOT NULL",
            params![path, SECRET],
        )?;
    }
    values.sort();
    values.dedup();
    for v in values.iter().filter(|v| v.len() >= MIN_SCRUBBED_LEN) {
        tx.execute(
            "UPDATE event_log SET body = replace(body, ?1, ?2) WHERE instr(body, ?1) > 0",
            params![v, SECRET],
        )?;
        tx.execute(
            "UPDATE runs SET message = replace(message, ?1, ?2) WHERE instr(message, ?1) > 0",
            params![v, SECRET],
        )?;
        tx.execute(
            "UPDATE asset_failures SET error = replace(error, ?1, ?2) WHERE instr(error, ?1) > 0",
            params![v, SECRET],
        )?;
        tx.execute(
            "UPDATE check_latest SET description = replace(description, ?1, ?2)
             WHERE instr(description, ?1) > 0",
            params![v, SECRET],
        )?;
    }
    let now = chrono::Utc::now().timestamp_micros();
    for &name in names {
        tx.execute(
            "INSERT OR REPLACE INTO scrubbed_secrets (name, at) VALUES (?1, ?2)",
            params![name, now],
        )?;
    }
    tx.commit()?;
    // The old pages live on in the write-ahead log until it is folded back and emptied.
    let _: (i64, i64, i64) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    conn.pragma_update(None, "secure_delete", "OFF")?;
    Ok(values.len())
}
