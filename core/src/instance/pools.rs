//! Concurrency pools: named limits on how many steps run at once across every run and process
//! sharing the instance.
//!
//! A slot is a lease: a row in `pool_leases` with an expiry. The holder renews it while its step
//! runs and deletes it when the step ends. Acquiring happens in one `BEGIN IMMEDIATE`
//! transaction — expired leases are taken back, the live ones counted, one more inserted if
//! the limit allows — so two processes asking at once cannot both take the last slot, and a
//! process killed while holding a slot blocks the others for at most one lease. Leases run on
//! the system clock: they are about real processes, not the engine's (possibly manual) time.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::SqliteStore;
use crate::model::error::{Error, Result};
use crate::model::spec::validate_pool_name;

/// A slot taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The pool has no limit: nothing was leased.
    Unlimited,
    /// A leased slot, by lease id: renew it while running, release it after.
    Leased(String),
}

/// A pool, its limit and who holds its slots now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRecord {
    pub name: String,
    /// `None`: no limit is set (the pool is unlimited).
    pub slots: Option<u32>,
    /// Live leases: `(holder, expires_at)`.
    pub holders: Vec<(String, i64)>,
}

/// The pool every run takes a slot of before it starts: its limit is the most runs at once
/// on the instance (`assets pools max-runs N`).
pub const RUNS_POOL: &str = "@runs";

/// The lease every run holds from before it writes its first object until its end is
/// committed; garbage collection takes no objects while one is live.
pub const STORAGE_RUNS_POOL: &str = "@storage:runs";

/// The lease garbage collection holds while it finds and deletes unreferenced objects; no run
/// starts writing while it is live.
pub const STORAGE_GC_POOL: &str = "@storage:gc";

/// Who asks for a storage lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageUse {
    /// A run, which writes objects (and may reuse an unreferenced one by content).
    Run,
    /// Garbage collection, which deletes unreferenced objects.
    Gc,
}

/// Records a new lease of `pool` for `holder`; returns its id.
fn insert_lease(
    tx: &rusqlite::Transaction<'_>,
    pool: &str,
    holder: &str,
    now: i64,
    expires: i64,
) -> rusqlite::Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    tx.execute(
        "INSERT INTO pool_leases (lease, pool, holder, acquired_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, pool, holder, now, expires],
    )?;
    Ok(id)
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl SqliteStore {
    /// Runs `f` in an immediate transaction on the pools connection (opened on first use).
    fn with_pools<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let run = |conn: &mut Connection| -> rusqlite::Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        if self.mode != super::OpenMode::Shared {
            return self.with_connection(run);
        }
        let mut guard = self
            .pools
            .lock()
            .map_err(|_| Error::Internal("instance pools lock poisoned".into()))?;
        if guard.is_none() {
            *guard = Some(super::open_connection(&self.db)?);
        }
        let conn: &mut Connection = guard.as_mut().expect("opened above");
        run(conn).map_err(|e| Error::instance(&self.db, super::describe(&e.to_string())))
    }

    /// Sets the limit of `pool` (`None` removes it: unlimited).
    pub fn set_pool_limit(&self, pool: &str, slots: Option<u32>) -> Result<()> {
        if pool != RUNS_POOL {
            validate_pool_name(pool)?;
        }
        self.with_pools(|tx| {
            match slots {
                Some(n) => tx.execute(
                    "INSERT INTO pools (name, slots, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET slots = excluded.slots,
                         updated_at = excluded.updated_at",
                    params![pool, n, now_micros()],
                )?,
                None => tx.execute("DELETE FROM pools WHERE name = ?1", params![pool])?,
            };
            Ok(())
        })
    }

    /// The limit of `pool`, if one is set.
    pub fn pool_limit(&self, pool: &str) -> Result<Option<u32>> {
        self.read(|c| {
            c.query_row("SELECT slots FROM pools WHERE name = ?1", [pool], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Every pool with a limit or a live lease.
    pub fn pools(&self) -> Result<Vec<PoolRecord>> {
        let now = now_micros();
        self.read(|c| {
            let mut out: std::collections::BTreeMap<String, PoolRecord> = Default::default();
            let mut limits = c.prepare("SELECT name, slots FROM pools")?;
            for row in limits.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
                let (name, slots) = row?;
                out.insert(
                    name.clone(),
                    PoolRecord {
                        name,
                        slots: Some(slots),
                        holders: Vec::new(),
                    },
                );
            }
            let mut leases = c.prepare(
                "SELECT pool, holder, expires_at FROM pool_leases WHERE expires_at >= ?1
                 ORDER BY pool, acquired_at",
            )?;
            for row in leases.query_map([now], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })? {
                let (pool, holder, expires) = row?;
                // The storage leases are how runs and gc keep out of each other's way, not
                // limits anyone sets.
                if pool == STORAGE_RUNS_POOL || pool == STORAGE_GC_POOL {
                    continue;
                }
                out.entry(pool.clone())
                    .or_insert(PoolRecord {
                        name: pool,
                        slots: None,
                        holders: Vec::new(),
                    })
                    .holders
                    .push((holder, expires));
            }
            Ok(out.into_values().collect())
        })
    }

    /// Takes a slot of `pool` for `holder` for `lease`, if one is free; `None` when every slot
    /// is held. A pool without a limit always has a slot (and no lease is written).
    pub fn try_acquire_slot(
        &self,
        pool: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<Slot>> {
        // Most pools (and the runs pool) have no limit: say so without taking the write lock.
        if self.pool_limit(pool)?.is_none() {
            return Ok(Some(Slot::Unlimited));
        }
        let now = now_micros();
        let expires = now + lease.as_micros() as i64;
        self.with_pools(|tx| {
            let limit: Option<i64> = tx
                .query_row("SELECT slots FROM pools WHERE name = ?1", [pool], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(limit) = limit else {
                return Ok(Some(Slot::Unlimited));
            };
            tx.execute(
                "DELETE FROM pool_leases WHERE pool = ?1 AND expires_at < ?2",
                params![pool, now],
            )?;
            let held: i64 = tx.query_row(
                "SELECT count(*) FROM pool_leases WHERE pool = ?1",
                [pool],
                |r| r.get(0),
            )?;
            if held >= limit {
                return Ok(None);
            }
            Ok(Some(Slot::Leased(insert_lease(
                tx, pool, holder, now, expires,
            )?)))
        })
    }

    /// Takes a storage lease for `holder`, unless the other side holds one: a run is refused
    /// while garbage collection deletes objects, and garbage collection while any run is in
    /// progress (one that holds a lease, or an older process's run still marked started). The
    /// two are decided in one `BEGIN IMMEDIATE` transaction, so a run that starts inside gc's
    /// window between listing objects and deleting them waits for gc instead of reusing an
    /// object gc is about to delete. `None`: refused.
    pub fn try_acquire_storage(
        &self,
        who: StorageUse,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<String>> {
        let now = now_micros();
        let expires = now + lease.as_micros() as i64;
        self.with_pools(|tx| {
            tx.execute(
                "DELETE FROM pool_leases WHERE pool IN (?1, ?2) AND expires_at < ?3",
                params![STORAGE_RUNS_POOL, STORAGE_GC_POOL, now],
            )?;
            let (mine, theirs) = match who {
                StorageUse::Run => (STORAGE_RUNS_POOL, STORAGE_GC_POOL),
                StorageUse::Gc => (STORAGE_GC_POOL, STORAGE_RUNS_POOL),
            };
            let mut blocked: i64 = tx.query_row(
                "SELECT count(*) FROM pool_leases WHERE pool = ?1",
                [theirs],
                |r| r.get(0),
            )?;
            if who == StorageUse::Gc {
                blocked += tx.query_row(
                    "SELECT count(*) FROM runs WHERE status = 'started'",
                    [],
                    |r| r.get::<_, i64>(0),
                )?;
            }
            if blocked > 0 {
                return Ok(None);
            }
            Ok(Some(insert_lease(tx, mine, holder, now, expires)?))
        })
    }

    /// Extends a lease by `lease` from now; false if it was lost (it expired and was taken
    /// back).
    pub fn renew_slot(&self, lease_id: &str, lease: Duration) -> Result<bool> {
        let expires = now_micros() + lease.as_micros() as i64;
        self.with_pools(|tx| {
            Ok(tx.execute(
                "UPDATE pool_leases SET expires_at = ?2 WHERE lease = ?1",
                params![lease_id, expires],
            )? == 1)
        })
    }

    /// Gives a slot back.
    pub fn release_slot(&self, lease_id: &str) -> Result<()> {
        self.with_pools(|tx| {
            tx.execute("DELETE FROM pool_leases WHERE lease = ?1", [lease_id])?;
            Ok(())
        })
    }
}
