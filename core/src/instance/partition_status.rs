//! Partition status as ranges: which partitions of an asset are materialized, failed, in
//! progress or missing, without one row per key in the answer.
//!
//! The truth is `asset_latest` and `asset_failures` (projections of the event log). For a
//! definition with a fingerprint (time windows), the status as ranges of positions is cached
//! in `partition_status_cache` together with the event id it is current to; a read applies
//! only the rows committed since, in event order, and stores the result back. A definition
//! change (another fingerprint) or a wipe drops the cache, and the next read rebuilds it.

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::key::AssetKey;
use crate::model::ranges::RangeSet;
use crate::model::spec::PartitionsDefinition;

/// The state of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartitionState {
    Missing,
    Materialized,
    /// Its last attempt failed (it may hold an older materialization).
    Failed,
    /// A live run has started it and not finished it.
    InProgress,
}

impl PartitionState {
    pub fn name(self) -> &'static str {
        match self {
            PartitionState::Missing => "missing",
            PartitionState::Materialized => "materialized",
            PartitionState::Failed => "failed",
            PartitionState::InProgress => "in_progress",
        }
    }
}

/// Which positions of an asset's partitions are in which state. The sets are disjoint; a
/// position in none of them is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionStatus {
    pub total: u64,
    pub materialized: RangeSet,
    pub failed: RangeSet,
    pub in_progress: RangeSet,
}

impl PartitionStatus {
    /// Positions never materialized, not failed and not in progress.
    pub fn missing(&self) -> RangeSet {
        self.materialized
            .union(&self.failed)
            .union(&self.in_progress)
            .complement(self.total)
    }

    pub fn state(&self, i: u64) -> PartitionState {
        if self.in_progress.contains(i) {
            PartitionState::InProgress
        } else if self.failed.contains(i) {
            PartitionState::Failed
        } else if self.materialized.contains(i) {
            PartitionState::Materialized
        } else {
            PartitionState::Missing
        }
    }

    /// The set of a state.
    pub fn of(&self, state: PartitionState) -> RangeSet {
        match state {
            PartitionState::Missing => self.missing(),
            PartitionState::Materialized => self.materialized.clone(),
            PartitionState::Failed => self.failed.clone(),
            PartitionState::InProgress => self.in_progress.clone(),
        }
    }
}

/// A status to store: (fingerprint, through event, materialized, failed) as bytes.
pub(super) type CacheRow = (String, i64, Vec<u8>, Vec<u8>);

/// Materialized and last-attempt-failed positions as of an event id.
struct Folded {
    through: i64,
    materialized: RangeSet,
    failed: RangeSet,
}

/// Reads the status of `asset` under `def`; returns it and, when it should be stored, the
/// cache row to write back (fingerprint and folded sets).
pub(super) fn read(
    conn: &Connection,
    asset: &AssetKey,
    def: &PartitionsDefinition,
) -> rusqlite::Result<(PartitionStatus, Option<CacheRow>)> {
    let fingerprint = def.fingerprint();
    let through: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM event_log", [], |r| {
        r.get(0)
    })?;
    let cached = match &fingerprint {
        Some(f) => cached(conn, asset, f)?,
        None => None,
    };
    let from_cache = cached.is_some();
    let mut folded = cached.unwrap_or(Folded {
        through: 0,
        materialized: RangeSet::new(),
        failed: RangeSet::new(),
    });
    let since = folded.through;
    if since == 0 && through > 0 {
        build(conn, asset, def, through, &mut folded)?;
    } else if through > since {
        let mut stmt = conn.prepare_cached(
            "SELECT partition, event_id, 0 FROM asset_latest
               WHERE asset_key = ?1 AND event_id > ?2 AND event_id <= ?3
             UNION ALL
             SELECT partition, event_id, 1 FROM asset_failures
               WHERE asset_key = ?1 AND event_id > ?2 AND event_id <= ?3
             ORDER BY 2",
        )?;
        let mut rows = stmt.query(params![asset.as_str(), since, through])?;
        while let Some(row) = rows.next()? {
            let partition = row.get_ref(0)?.as_str().unwrap_or_default();
            let Some(i) = def.status_position(partition) else {
                continue;
            };
            if row.get::<_, i64>(2)? == 0 {
                folded.materialized.insert(i);
                folded.failed.remove(i);
            } else {
                folded.failed.insert(i);
            }
        }
    }
    folded.through = through;
    let write_back = match fingerprint {
        Some(f) if !from_cache || through > since => Some((
            f,
            through,
            folded.materialized.to_bytes(),
            folded.failed.to_bytes(),
        )),
        _ => None,
    };

    let total = def.len() as u64;
    let mut failed = folded.failed;
    failed.truncate(total);
    let mut materialized = folded.materialized.difference(&failed);
    materialized.truncate(total);
    let in_progress = in_progress(conn, asset, def)?;
    let status = PartitionStatus {
        total,
        materialized: materialized.difference(&in_progress),
        failed: failed.difference(&in_progress),
        in_progress,
    };
    Ok((status, write_back))
}

/// Folds everything up to `through` at once: what folding the rows in event order gives,
/// without sorting a million of them. Every latest materialization counts; a failure counts
/// when it is newer than its partition's latest materialization. Rows come in key order,
/// which for time windows is mostly position order, so the ranges grow at their end.
fn build(
    conn: &Connection,
    asset: &AssetKey,
    def: &PartitionsDefinition,
    through: i64,
    folded: &mut Folded,
) -> rusqlite::Result<()> {
    // Each query answers partition keys; their positions go into one set.
    let place = |sql: &str, set: &mut RangeSet| -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params![asset.as_str(), through])?;
        while let Some(row) = rows.next()? {
            if let Some(i) = def.status_position(row.get_ref(0)?.as_str().unwrap_or_default()) {
                set.insert(i);
            }
        }
        Ok(())
    };
    place(
        "SELECT partition FROM asset_latest
         WHERE asset_key = ?1 AND event_id <= ?2 ORDER BY partition",
        &mut folded.materialized,
    )?;
    place(
        "SELECT f.partition FROM asset_failures f
           LEFT JOIN asset_latest l ON l.asset_key = f.asset_key AND l.partition = f.partition
         WHERE f.asset_key = ?1 AND f.event_id <= ?2
           AND (l.event_id IS NULL OR l.event_id > ?2 OR l.event_id < f.event_id)",
        &mut folded.failed,
    )
}

fn cached(
    conn: &Connection,
    asset: &AssetKey,
    fingerprint: &str,
) -> rusqlite::Result<Option<Folded>> {
    let row: Option<(String, i64, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT fingerprint, through_event, materialized, failed
             FROM partition_status_cache WHERE asset_key = ?1",
        )?
        .query_row([asset.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    Ok(row.and_then(|(f, through, m, x)| {
        if f != fingerprint {
            return None;
        }
        Some(Folded {
            through,
            materialized: RangeSet::from_bytes(&m)?,
            failed: RangeSet::from_bytes(&x)?,
        })
    }))
}

/// Stores a folded status, unless a newer one is already there.
pub(super) fn write_back(
    conn: &Connection,
    asset: &AssetKey,
    (fingerprint, through, materialized, failed): CacheRow,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO partition_status_cache (asset_key, fingerprint, through_event, materialized,
             failed)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (asset_key) DO UPDATE SET fingerprint = excluded.fingerprint,
             through_event = excluded.through_event, materialized = excluded.materialized,
             failed = excluded.failed
         WHERE excluded.through_event > partition_status_cache.through_event
            OR excluded.fingerprint <> partition_status_cache.fingerprint",
    )?
    .execute(params![
        asset.as_str(),
        fingerprint,
        through,
        materialized,
        failed
    ])?;
    Ok(())
}

/// Partitions a live run has started and not yet finished.
fn in_progress(
    conn: &Connection,
    asset: &AssetKey,
    def: &PartitionsDefinition,
) -> rusqlite::Result<RangeSet> {
    let live: Vec<String> = {
        let mut stmt = conn.prepare_cached("SELECT run_id FROM runs WHERE status = 'started'")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut set = RangeSet::new();
    let mut stmt = conn.prepare_cached(
        "SELECT partition, kind FROM event_log
         WHERE run_id = ?1 AND asset_key = ?2
           AND kind IN ('step_started', 'step_succeeded', 'step_failed', 'step_skipped',
                        'step_up_to_date')
         ORDER BY id",
    )?;
    for run in live {
        let mut rows = stmt.query(params![run, asset.as_str()])?;
        while let Some(row) = rows.next()? {
            let partition = row.get_ref(0)?.as_str().unwrap_or_default();
            let Some(i) = def.index_of(partition) else {
                continue;
            };
            match row.get_ref(1)?.as_str().unwrap_or_default() {
                // A retried failure is followed by the next attempt's start.
                "step_started" => set.insert(i as u64),
                _ => set.remove(i as u64),
            }
        }
    }
    Ok(set)
}
