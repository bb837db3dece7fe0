//! The instance: an embedded SQLite database under `$STEMMA_HOME` holding the event log and
//! its projections.
//!
//! * WAL mode, so readers never block the writer and the writer never blocks readers.
//! * One writer thread per process with group commit ([`writer`]); `synchronous=NORMAL`, so a
//!   commit survives a crash of the process without an fsync per transaction.
//! * Write transactions are `BEGIN IMMEDIATE` with a 30 s busy timeout, so two processes
//!   writing at once queue for the lock instead of failing with `database is locked`.
//! * Versioned migrations ([`schema`]).
//! * On open, runs left `started` by a process that no longer exists (killed, machine
//!   rebooted) are ended as failures, so the instance never shows a ghost run.

mod orchestration;
mod partition_status;
mod pools;
mod process;
mod queries;
mod readers;
mod retention;
mod schema;
mod secrets;
pub mod status;
mod store;
mod writer;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

pub use orchestration::{BackfillRecord, BackfillStatus, HeartbeatRecord, TickRecord};
pub use partition_status::{PartitionState, PartitionStatus};
pub use pools::{PoolRecord, RUNS_POOL, STORAGE_GC_POOL, STORAGE_RUNS_POOL, Slot, StorageUse};
pub use process::ProcessIdentity;
pub use queries::{EventQuery, RunQuery};
pub use retention::{PruneReport, Referenced, Retention};
pub use store::InstanceStore;

use crate::hash::DataVersion;
use crate::model::check::Severity;
use crate::model::clock::Timestamp;
use crate::model::error::{Error, Hint, Result};
use crate::model::event::{Event, EventKind, RunId, RunStatus};
use crate::model::key::AssetKey;
use crate::model::spec::PartitionKey;
use crate::model::value::ValueKind;
use crate::staleness::{RowRef, VersionSource};
use writer::{Request, Writer};

/// The file name of the database inside the instance directory.
pub const DB_FILE: &str = "stemma.db";

pub use crate::model::record::{CheckStatus, FailureRecord, LatestMaterialization};

/// One run as the `runs` table records it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub run_id: RunId,
    pub status: RunStatus,
    pub selection: String,
    pub partition: Option<String>,
    pub config: BTreeMap<String, String>,
    pub steps: u32,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub message: Option<String>,
    pub pid: Option<u32>,
    pub host: Option<String>,
}

/// What a command needs of the instance, which decides how it may be opened when it cannot be
/// opened as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading and writing; a new instance is created.
    ReadWrite,
    /// Only reading: when the instance cannot be written (a read-only directory or mount,
    /// or a full disk), it is opened read-only.
    Read,
    /// Reclaiming space (garbage collection): on a full disk, the instance is opened on one
    /// connection that holds it exclusively, which can read the log without the shared-memory
    /// file a full disk cannot hold, and write once space is freed.
    Reclaim,
}

/// How an instance was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenMode {
    /// As usual: shared with other processes, a writer thread, connections as needed.
    Shared,
    /// Read-only, on one connection, because the instance cannot be written (the reason).
    ReadOnly(String),
    /// On one connection held exclusively, because the disk is full (the reason).
    Exclusive(String),
}

impl RunRecord {
    /// Whether its process died without ending it (killed, crashed, the machine rebooted):
    /// the instance ended it when it found the process gone.
    pub fn crashed(&self) -> bool {
        self.status == RunStatus::Failure
            && self.message.as_deref().is_some_and(|m| m.contains(CRASHED))
    }
}

/// What the message of a run ended for its dead process says.
const CRASHED: &str = "exited without ending the run (killed or crashed)";

/// An open instance: the handle the engine, the command line and the server hold. It reaches
/// the storage through [`InstanceStore`] (dereferencing to it, so `instance.runs(20)` reads
/// through whatever backend it was opened on); [`Instance::open`] opens SQLite.
pub struct Instance {
    store: Box<dyn InstanceStore>,
}

impl Instance {
    /// Opens (creating if needed) the SQLite instance in directory `home`, to read and write.
    pub fn open(home: impl AsRef<Path>) -> Result<Self> {
        Ok(Instance::from_store(SqliteStore::open(home)?))
    }

    /// Opens the SQLite instance in directory `home` for what `access` needs (see
    /// [`SqliteStore::open_for`]).
    pub fn open_for(home: impl AsRef<Path>, access: Access) -> Result<Self> {
        Ok(Instance::from_store(SqliteStore::open_for(home, access)?))
    }

    /// An instance kept by another backend.
    pub fn from_store(store: impl InstanceStore + 'static) -> Self {
        Instance {
            store: Box::new(store),
        }
    }
}

impl std::ops::Deref for Instance {
    type Target = dyn InstanceStore;

    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.store.fmt(f)
    }
}

impl VersionSource for Instance {
    fn for_each_version(&self, f: &mut dyn FnMut(RowRef<'_>)) -> Result<()> {
        self.store.for_each_version(f)
    }

    fn for_each_version_in(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        f: &mut dyn FnMut(RowRef<'_>),
    ) -> Result<()> {
        self.store.for_each_version_in(from, to, f)
    }

    fn provenance(&self, event_id: i64) -> Result<Option<crate::model::event::Provenance>> {
        self.store.provenance(event_id)
    }

    fn code_version_items(
        &self,
        asset: &AssetKey,
        code_version: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        VersionSource::code_version_items(&*self.store, asset, code_version)
    }
}

/// The SQLite instance: one file (`stemma.db`, in WAL mode) in the instance directory, a pool
/// of read connections, and one writer thread that commits appends in groups.
pub struct SqliteStore {
    home: PathBuf,
    db: PathBuf,
    readers: readers::Readers,
    writer: Writer,
    /// For pool slots, which are taken in their own transactions (opened on first use).
    pools: Mutex<Option<Connection>>,
    mode: OpenMode,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("db", &self.db).finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the instance in directory `home`, to read and write.
    pub fn open(home: impl AsRef<Path>) -> Result<Self> {
        Self::open_for(home, Access::ReadWrite)
    }

    /// Opens the instance in directory `home` for what `access` needs. A new instance is
    /// created whole or not at all (so an empty `stemma.db` is never a valid instance); one
    /// that cannot be written is opened read-only when only reading, and one on a full disk
    /// exclusively when reclaiming space.
    pub fn open_for(home: impl AsRef<Path>, access: Access) -> Result<Self> {
        let home = home.as_ref().to_path_buf();
        if home.exists() && !home.is_dir() {
            return Err(Error::instance(
                &home,
                "cannot create the instance directory: a file of that name is in the way",
            ));
        }
        let db = home.join(DB_FILE);
        match std::fs::metadata(&db) {
            Ok(meta) if meta.is_dir() => {
                return Err(Error::instance(
                    &db,
                    "this is a directory, not a Stemma instance database; move it away, or \
                     point STEMMA_HOME at another directory",
                ));
            }
            Ok(meta) if meta.len() == 0 && !has_wal(&db) => {
                return Err(Error::instance(
                    &db,
                    "the file is empty (0 bytes), so it is not a Stemma instance (a copy cut \
                     short?); move it away to start a new instance, or restore it",
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&home, &db)?,
            Err(e) => return Err(Error::instance(&db, describe(&e.to_string()))),
        }
        match Self::open_shared(&home, &db) {
            Ok(instance) => Ok(instance),
            Err(e) => {
                let Some(why) = unwritable(&home) else {
                    return Err(e);
                };
                let full = why.contains("full");
                let cause = match &e {
                    Error::Instance { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                match access {
                    Access::Read if full => Self::open_single(home, db, OpenMode::Exclusive(why)),
                    Access::Read => Self::open_single(home, db, OpenMode::ReadOnly(why)),
                    Access::Reclaim if full => {
                        Self::open_single(home, db, OpenMode::Exclusive(why))
                    }
                    _ if full => Err(Error::instance(
                        &db,
                        format!(
                            "{why} ({cause}); free space (garbage collection still deletes unreferenced objects on a full disk) and try again"
                        ),
                    )),
                    _ => Err(Error::instance(&db, format!("{why} ({cause})"))),
                }
            }
        }
    }

    fn open_shared(home: &Path, db: &Path) -> Result<Self> {
        let mut write_conn = open_connection(db)?;
        // SQLite opens a file it cannot write read-only without a word: find out now, not at
        // the first write.
        if write_conn
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(|e| Error::instance(db, e))?
        {
            return Err(Error::instance(db, "the database file cannot be written"));
        }
        schema::migrate(&mut write_conn).map_err(|e| Error::instance(db, describe(&e)))?;
        reap_dead_runs(&mut write_conn).map_err(|e| Error::instance(db, e))?;
        let readers =
            readers::Readers::new(db, open_connection(db)?, readers::Readers::default_max());
        let writer = Writer::spawn(write_conn)
            .map_err(|e| Error::instance(db, format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            home: home.to_path_buf(),
            db: db.to_path_buf(),
            readers,
            writer,
            pools: Mutex::new(None),
            mode: OpenMode::Shared,
        })
    }

    /// One connection for everything, in exclusive locking mode: SQLite then keeps the
    /// write-ahead log's index in memory instead of the shared-memory file (which a read-only
    /// directory or a full disk cannot hold), and still reads every committed event.
    fn open_single(home: PathBuf, db: PathBuf, mode: OpenMode) -> Result<Self> {
        let (flags, why) = match &mode {
            OpenMode::ReadOnly(why) => (OpenFlags::SQLITE_OPEN_READ_ONLY, why.clone()),
            OpenMode::Exclusive(why) => (OpenFlags::SQLITE_OPEN_READ_WRITE, why.clone()),
            OpenMode::Shared => {
                return Err(Error::Internal("open_single of a shared instance".into()));
            }
        };
        let fail = |e: &dyn std::fmt::Display| {
            Error::instance(&db, format!("{why}, and it cannot be read either: {e}"))
        };
        let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let exclusive = || -> rusqlite::Result<(Connection, i64)> {
            let conn = Connection::open_with_flags(&db, flags)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
            // Temporary tables (a dry-run prune's) in memory: the disk may have no room.
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            Ok((conn, version))
        };
        // A read-only directory without a write-ahead log (no process has the instance open,
        // every commit is in the file): the file is the whole truth, read as immutable.
        let immutable = || -> rusqlite::Result<(Connection, i64)> {
            let path = db
                .to_string_lossy()
                .replace('%', "%25")
                .replace('?', "%3f")
                .replace('#', "%23");
            let conn = Connection::open_with_flags(
                format!("file:{path}?immutable=1"),
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            Ok((conn, version))
        };
        // Read-only, with the log's files already there (left by a process that did not close
        // the instance): SQLite reads them as they are.
        let shared_read_only = || -> rusqlite::Result<(Connection, i64)> {
            let conn = Connection::open_with_flags(&db, flags)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            Ok((conn, version))
        };
        let read_only = matches!(mode, OpenMode::ReadOnly(_));
        let (conn, version) = match exclusive() {
            Ok(opened) => opened,
            Err(e) if read_only => match shared_read_only() {
                Ok(opened) => opened,
                Err(_) if !has_wal(&db) => immutable().map_err(|e| fail(&e))?,
                Err(_) => return Err(fail(&e)),
            },
            Err(e) => return Err(fail(&e)),
        };
        if version != schema::VERSION {
            return Err(Error::instance(
                &db,
                format!(
                    "{why}, and its schema (version {version}) is not this build's ({}), so it \
                     cannot be read without being migrated",
                    schema::VERSION
                ),
            ));
        }
        Ok(SqliteStore {
            home,
            readers: readers::Readers::new(&db, conn, 1),
            writer: Writer::refusing(format!("{}: {why}", db.display())),
            pools: Mutex::new(None),
            db,
            mode,
        })
    }

    /// How this instance was opened.
    pub fn mode(&self) -> &OpenMode {
        &self.mode
    }

    /// Whether events cannot be appended (opened read-only, or on a full disk).
    pub fn is_read_only(&self) -> bool {
        self.mode != OpenMode::Shared
    }

    /// Runs `f` on a connection of its own, or on the one connection of an instance not
    /// opened [`Shared`](OpenMode::Shared).
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let run = |conn: &mut Connection| {
            f(conn).map_err(|e| Error::instance(&self.db, describe(&e.to_string())))
        };
        if self.mode == OpenMode::Shared {
            run(&mut open_connection(&self.db)?)
        } else {
            run(&mut *self.readers.get()?)
        }
    }

    /// How many times a read waited for a connection another reader held (all were lent).
    pub fn reader_waits(&self) -> u64 {
        self.readers.waits()
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn db_path(&self) -> &Path {
        &self.db
    }

    /// Appends events in one transaction (possibly grouped with others) and waits until they
    /// are committed. Returns the events with their ids.
    pub async fn append(&self, events: Vec<Event>) -> Result<Vec<i64>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.writer
            .send(Request {
                events,
                ack: Some(Box::new(move |r| {
                    let _ = tx.send(r);
                })),
            })
            .map_err(|e| Error::instance(&self.db, e))?;
        match rx.await {
            Ok(Ok(ids)) => Ok(ids),
            Ok(Err(e)) => Err(Error::instance(&self.db, e)),
            Err(_) => Err(Error::instance(&self.db, "the instance writer stopped")),
        }
    }

    /// Like [`append`](Self::append), for callers outside an async runtime.
    pub fn append_blocking(&self, events: Vec<Event>) -> Result<Vec<i64>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.writer
            .send(Request {
                events,
                ack: Some(Box::new(move |r| {
                    let _ = tx.send(r);
                })),
            })
            .map_err(|e| Error::instance(&self.db, e))?;
        match rx.recv() {
            Ok(Ok(ids)) => Ok(ids),
            Ok(Err(e)) => Err(Error::instance(&self.db, e)),
            Err(_) => Err(Error::instance(&self.db, "the instance writer stopped")),
        }
    }

    /// Queues events without waiting; a failure is reported by the next [`flush`](Self::flush).
    pub fn append_nowait(&self, events: Vec<Event>) {
        if let Err(e) = self.writer.send(Request { events, ack: None })
            && let Ok(mut f) = self.writer.failed.lock()
        {
            *f = Some(e);
        }
    }

    /// Waits until everything queued so far is committed; reports a lost unacknowledged append.
    pub async fn flush(&self) -> Result<()> {
        self.append(Vec::new()).await?;
        if let Some(e) = self.writer.failed.lock().ok().and_then(|mut f| f.take()) {
            return Err(Error::instance(&self.db, e));
        }
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.readers.get()?;
        f(&conn).map_err(|e| Error::instance(&self.db, describe(&e.to_string())))
    }

    /// The latest materialization of every asset partition, or of those whose key is in
    /// `only`.
    pub fn latest_materializations(
        &self,
        only: Option<&HashSet<AssetKey>>,
    ) -> Result<Vec<LatestMaterialization>> {
        const COLUMNS: &str = "asset_key, partition, event_id, run_id, ts, data_version,
            code_version, value_kind, io_manager, location, rows, bytes";
        let rows = self.read(|c| match only {
            // A few assets: each one's rows through the primary key, not a scan of them all.
            Some(keys) if keys.len() <= 64 => {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM asset_latest WHERE asset_key = ?1"
                ))?;
                let mut out = Vec::new();
                for key in keys {
                    for row in stmt.query_map([key.as_str()], latest_from_row)? {
                        out.push(row?);
                    }
                }
                Ok(out)
            }
            _ => {
                let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM asset_latest"))?;
                let rows = stmt.query_map([], latest_from_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            }
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let row = row.map_err(|e| Error::instance(&self.db, e))?;
            if only.is_none_or(|o| o.contains(&row.asset)) {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// The `limit` most recent of an asset's latest materializations (one per partition),
    /// newest first, through the `(asset_key, event_id)` index.
    pub fn newest_materializations(
        &self,
        asset: &AssetKey,
        limit: usize,
    ) -> Result<Vec<LatestMaterialization>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT asset_key, partition, event_id, run_id, ts, data_version, code_version,
                        value_kind, io_manager, location, rows, bytes
                 FROM asset_latest WHERE asset_key = ?1 ORDER BY event_id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![asset.as_str(), limit as i64], latest_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?
        .into_iter()
        .map(|row| row.map_err(|e| Error::instance(&self.db, e)))
        .collect()
    }

    /// Every materialization the event log still holds and that was not wiped since (of the
    /// assets in `only`, if given), oldest first.
    pub fn materializations(
        &self,
        only: Option<&HashSet<AssetKey>>,
    ) -> Result<Vec<LatestMaterialization>> {
        let rows = self.read(|c| {
            // Not those wiped since (their objects are garbage).
            let mut stmt = c.prepare_cached(
                "SELECT e.id, e.run_id, e.ts, e.asset_key, e.partition, e.body FROM event_log e
                 WHERE e.kind = 'materialization'
                   AND e.id > COALESCE((SELECT MAX(w.id) FROM event_log w
                                        WHERE w.kind = 'asset_wiped'
                                          AND w.asset_key = e.asset_key), 0)
                 ORDER BY e.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, run_id, ts, asset, partition, body) in rows {
            let asset = self.key(asset.as_deref().unwrap_or_default())?;
            if only.is_some_and(|o| !o.contains(&asset)) {
                continue;
            }
            let EventKind::Materialization(m) = serde_json::from_str(&body).map_err(|e| {
                Error::instance(&self.db, format!("event {id} cannot be read: {e}"))
            })?
            else {
                continue;
            };
            out.push(LatestMaterialization {
                asset,
                partition: self.partition(partition.as_deref().unwrap_or_default())?,
                event_id: id,
                run_id: run_id.as_deref().map(RunId::from_string),
                timestamp: ts,
                data_version: m.data_version,
                code_version: m.provenance.code_version,
                value_kind: m.value_kind,
                io_manager: m.io_manager,
                location: m.location,
                rows: m.rows,
                bytes: m.bytes,
            });
        }
        Ok(out)
    }

    /// Every latest materialization (of the assets in `only`, if given) with the provenance it
    /// recorded.
    pub fn latest_with_provenance(
        &self,
        only: Option<&HashSet<AssetKey>>,
    ) -> Result<
        Vec<(
            LatestMaterialization,
            Option<crate::model::event::Provenance>,
        )>,
    > {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT a.asset_key, a.partition, a.event_id, a.run_id, a.ts, a.data_version,
                        a.code_version, a.value_kind, a.io_manager, a.location, a.rows, a.bytes,
                        CASE e.kind WHEN 'materialization'
                             THEN json_extract(e.body, '$.provenance') END
                 FROM asset_latest a LEFT JOIN event_log e ON e.id = a.event_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((latest_from_row(r)?, r.get::<_, Option<String>>(12)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .filter_map(|(row, provenance)| match row {
                Ok(row) if only.is_some_and(|o| !o.contains(&row.asset)) => None,
                other => Some((other, provenance)),
            })
            .map(|(row, provenance)| {
                let row = row.map_err(|e| Error::instance(&self.db, e))?;
                let provenance = provenance
                    .map(|p| serde_json::from_str(&p))
                    .transpose()
                    .map_err(|e| {
                        Error::instance(
                            &self.db,
                            format!("provenance of {} cannot be read: {e}", row.asset),
                        )
                    })?;
                Ok((row, provenance))
            })
            .collect()
    }

    /// Which partitions of `asset` (partitioned by `def`) are materialized, failed, in
    /// progress or missing, as ranges of positions in `def`. For time windows the answer is
    /// kept between reads (see [`partition_status`]), so asking again costs only what changed.
    pub fn partition_status(
        &self,
        asset: &AssetKey,
        def: &crate::model::spec::PartitionsDefinition,
    ) -> Result<PartitionStatus> {
        let (status, write_back) = self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let out = partition_status::read(&tx, asset, def)?;
            tx.commit()?;
            Ok(out)
        })?;
        if let Some(row) = write_back {
            // Only a cache: a busy database or a read-only file costs the next read time, not
            // correctness.
            if let Err(e) = self.read(|c| partition_status::write_back(c, asset, row)) {
                tracing::debug!(target: "stemma::instance", "partition status not cached: {e}");
            }
        }
        Ok(status)
    }

    /// The last final failure of one asset partition, if it ever failed.
    pub fn latest_failure(
        &self,
        asset: &AssetKey,
        partition: Option<&PartitionKey>,
    ) -> Result<Option<FailureRecord>> {
        let row: Option<(i64, Option<String>, i64, String)> = self.read(|c| {
            c.prepare_cached(
                "SELECT event_id, run_id, ts, error FROM asset_failures
                 WHERE asset_key = ?1 AND partition = ?2",
            )?
            .query_row(
                params![asset.as_str(), partition.map_or("", |p| p.as_str())],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
        })?;
        Ok(row.map(|(event_id, run_id, ts, error)| FailureRecord {
            asset: asset.clone(),
            partition: partition.cloned(),
            event_id,
            run_id: run_id.as_deref().map(RunId::from_string),
            timestamp: ts,
            error,
        }))
    }

    /// The last final failure of every asset partition that ever failed.
    pub fn latest_failures(&self) -> Result<Vec<FailureRecord>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT asset_key, partition, event_id, run_id, ts, error FROM asset_failures",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|(asset, partition, event_id, run_id, ts, error)| {
                Ok(FailureRecord {
                    asset: self.key(&asset)?,
                    partition: self.partition(&partition)?,
                    event_id,
                    run_id: run_id.as_deref().map(RunId::from_string),
                    timestamp: ts,
                    error,
                })
            })
            .collect()
    }

    /// The latest materialization of one asset partition.
    pub fn latest(
        &self,
        asset: &AssetKey,
        partition: Option<&PartitionKey>,
    ) -> Result<Option<LatestMaterialization>> {
        let row = self.read(|c| {
            c.prepare_cached(
                "SELECT asset_key, partition, event_id, run_id, ts, data_version, code_version,
                        value_kind, io_manager, location, rows, bytes
                 FROM asset_latest WHERE asset_key = ?1 AND partition = ?2",
            )?
            .query_row(
                params![asset.as_str(), partition.map_or("", |p| p.as_str())],
                latest_from_row,
            )
            .optional()
        })?;
        row.transpose().map_err(|e| Error::instance(&self.db, e))
    }

    /// The latest evaluation of every check.
    pub fn latest_checks(&self) -> Result<Vec<CheckStatus>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT asset_key, check_name, partition, event_id, run_id, ts, passed, severity,
                        description
                 FROM check_latest ORDER BY asset_key, check_name, partition",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, bool>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(
                |(asset, check, partition, event_id, run_id, ts, passed, severity, description)| {
                    Ok(CheckStatus {
                        asset: self.key(&asset)?,
                        check,
                        partition: self.partition(&partition)?,
                        event_id,
                        run_id: run_id.as_deref().map(RunId::from_string),
                        timestamp: ts,
                        passed,
                        severity: if severity == "warn" {
                            Severity::Warn
                        } else {
                            Severity::Error
                        },
                        description,
                    })
                },
            )
            .collect()
    }

    /// The most recent runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?1"
            ))?;
            let rows = stmt.query_map([limit as i64], run_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|r| r.map_err(|e| Error::instance(&self.db, e)))
            .collect()
    }

    /// The version of check `check` that last evaluated `asset` (`partition`): `None` when it
    /// was never evaluated there, `Some(None)` when that evaluation recorded no version.
    pub fn check_code_version(
        &self,
        asset: &AssetKey,
        partition: Option<&PartitionKey>,
        check: &str,
    ) -> Result<Option<Option<String>>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT code_version FROM check_latest
                 WHERE asset_key = ?1 AND check_name = ?2 AND partition = ?3",
            )?
            .query_row(
                params![
                    asset.as_str(),
                    check,
                    partition.map_or("", PartitionKey::as_str)
                ],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
        })
    }

    /// What code version `code_version` of `asset` was computed from, item by item, if a run
    /// recorded it.
    pub fn code_version_items(
        &self,
        asset: &AssetKey,
        code_version: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let text: Option<String> = self.read(|c| {
            c.prepare_cached(
                "SELECT items FROM code_versions WHERE asset_key = ?1 AND code_version = ?2",
            )?
            .query_row(params![asset.as_str(), code_version], |r| r.get(0))
            .optional()
        })?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                Error::instance(
                    &self.db,
                    format!("code version {code_version} of {asset}: {e}"),
                )
            })
        })
        .transpose()
    }

    /// Whether a run recorded what `code_version` of `asset` was computed from.
    pub fn has_code_version(&self, asset: &AssetKey, code_version: &str) -> Result<bool> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT 1 FROM code_versions WHERE asset_key = ?1 AND code_version = ?2",
            )?
            .exists(params![asset.as_str(), code_version])
        })
    }

    /// The run whose id starts with `prefix`; an error when none or several match.
    pub fn find_run(&self, prefix: &str) -> Result<RunRecord> {
        if prefix == LATEST {
            return self
                .runs(1)?
                .pop()
                .ok_or_else(|| Error::Config("there are no runs yet, so no latest one".into()));
        }
        let (from, to) = id_prefix_range(prefix, "run", Hint::ListRuns)?;
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE run_id >= ?1 AND run_id < ?2
                 ORDER BY started_at DESC LIMIT 5"
            ))?;
            let rows = stmt.query_map([&from, &to], run_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let runs: Vec<RunRecord> = rows
            .into_iter()
            .map(|r| r.map_err(|e| Error::instance(&self.db, e)))
            .collect::<Result<_>>()?;
        only_match(runs, "run", Hint::ListRuns, prefix, |r| r.run_id.as_str())
    }

    /// A run's events in order.
    pub fn run_events(&self, run_id: &RunId) -> Result<Vec<Event>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, run_id, ts, asset_key, partition, body FROM event_log
                 WHERE run_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([run_id.as_str()], event_columns)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|r| self.event_from_columns(r))
            .collect()
    }

    /// The event with id `event_id`.
    pub fn event(&self, event_id: i64) -> Result<Option<Event>> {
        let row = self.read(|c| {
            c.prepare_cached(
                "SELECT id, run_id, ts, asset_key, partition, body FROM event_log WHERE id = ?1",
            )?
            .query_row([event_id], event_columns)
            .optional()
        })?;
        row.map(|cols| self.event_from_columns(cols)).transpose()
    }

    /// The materialization recorded by event `event_id`.
    pub fn materialization(
        &self,
        event_id: i64,
    ) -> Result<Option<crate::model::event::Materialization>> {
        Ok(match self.event(event_id)?.map(|e| e.kind) {
            Some(EventKind::Materialization(m)) => Some(m),
            _ => None,
        })
    }

    /// Calls `f` with every latest version (materialization or observation), borrowing each
    /// row's text so that nothing is allocated per row: a staleness pass over a million
    /// partitions reads them in one sweep. Rows come grouped by asset.
    pub fn for_each_version(&self, f: impl FnMut(RowRef<'_>)) -> Result<()> {
        self.read(|c| scan_versions(c, None, None, f))
    }

    /// [`for_each_version`](Self::for_each_version) for the assets whose key is in
    /// `[from, to)` (either bound open when `None`), on a connection of its own: several
    /// threads can each sweep a range at once.
    pub fn for_each_version_in(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        f: impl FnMut(RowRef<'_>),
    ) -> Result<()> {
        self.with_connection(|conn| scan_versions(conn, from, to, f))
    }

    fn event_from_columns(&self, cols: EventColumns) -> Result<Event> {
        let (id, run_id, ts, asset, partition, body) = cols;
        let kind: EventKind = serde_json::from_str(&body)
            .map_err(|e| Error::instance(&self.db, format!("event {id} cannot be read: {e}")))?;
        Ok(Event {
            id: Some(id),
            run_id: run_id.as_deref().map(RunId::from_string),
            timestamp: ts,
            asset: asset.as_deref().map(|a| self.key(a)).transpose()?,
            partition: match partition {
                Some(p) => self.partition(&p)?,
                None => None,
            },
            kind,
        })
    }

    fn key(&self, text: &str) -> Result<AssetKey> {
        AssetKey::parse(text).map_err(|e| Error::instance(&self.db, e))
    }

    fn partition(&self, text: &str) -> Result<Option<PartitionKey>> {
        if text.is_empty() {
            return Ok(None);
        }
        PartitionKey::new(text)
            .map(Some)
            .map_err(|e| Error::instance(&self.db, e))
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.writer.close();
    }
}

type EventColumns = (
    i64,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    String,
);

fn event_columns(r: &Row<'_>) -> rusqlite::Result<EventColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

const RUN_COLUMNS: &str =
    "run_id, status, selection, partition, config, steps, started_at, ended_at, message, pid, host";

/// The one record an id prefix matched; an error naming the prefix when none or several did.
/// What names the newest run (or backfill) wherever an id is taken.
pub const LATEST: &str = "latest";

/// The ids an id prefix matches, as a range `[from, to)`: ids are lowercase hexadecimal
/// with dashes (UUIDs), and a prefix is matched literally. An empty prefix, or one that cannot
/// begin an id, is bad input.
pub(crate) fn id_prefix_range(prefix: &str, what: &str, list: Hint) -> Result<(String, String)> {
    if prefix.is_empty() {
        return Err(Error::Config(format!(
            "an empty {what} id matches nothing: give an id or the first characters of one"
        ))
        .with_hint(list));
    }
    let shown: String = prefix.chars().take(40).collect();
    let shown = if shown.len() < prefix.len() {
        format!("{shown}…")
    } else {
        shown
    };
    if prefix.len() > 36 {
        return Err(Error::Config(format!(
            "{what} id {shown:?} is longer than any id (36 characters)"
        )));
    }
    if let Some((i, c)) = prefix
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_hexdigit() || *c == '-'))
    {
        return Err(Error::Config(format!(
            "{what} id {shown:?} cannot match any id: {c:?} at position {} is not a hexadecimal \
             digit or '-' (ids look like 3f2a9c1e-…)",
            i + 1
        ))
        .with_hint(list));
    }
    let from = prefix.to_ascii_lowercase();
    // '~' sorts after every character an id holds.
    let to = format!("{from}~");
    Ok((from, to))
}

fn only_match<T>(
    mut found: Vec<T>,
    what: &'static str,
    list: Hint,
    prefix: &str,
    id: impl Fn(&T) -> &str,
) -> Result<T> {
    match found.len() {
        0 => Err(
            Error::not_found(what, prefix, format!("no {what} with id {prefix:?}")).with_hint(list),
        ),
        1 => Ok(found.remove(0)),
        _ => Err(Error::Config(format!(
            "{what} id {prefix:?} is ambiguous: it matches {}",
            found.iter().map(&id).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<std::result::Result<RunRecord, String>> {
    let status: String = r.get(1)?;
    let config: String = r.get(4)?;
    let Some(status) = RunStatus::parse(&status) else {
        return Ok(Err(format!("unknown run status {status:?}")));
    };
    let config = match serde_json::from_str(&config) {
        Ok(c) => c,
        Err(e) => return Ok(Err(format!("run config cannot be read: {e}"))),
    };
    Ok(Ok(RunRecord {
        run_id: RunId::from_string(&r.get::<_, String>(0)?),
        status,
        selection: r.get(2)?,
        partition: r.get(3)?,
        config,
        steps: r.get(5)?,
        started_at: r.get(6)?,
        ended_at: r.get(7)?,
        message: r.get(8)?,
        pid: r.get(9)?,
        host: r.get(10)?,
    }))
}

fn latest_from_row(
    r: &Row<'_>,
) -> rusqlite::Result<std::result::Result<LatestMaterialization, String>> {
    let asset: String = r.get(0)?;
    let partition: String = r.get(1)?;
    let kind: String = r.get(7)?;
    let asset = match AssetKey::parse(&asset) {
        Ok(a) => a,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let partition = if partition.is_empty() {
        None
    } else {
        match PartitionKey::new(&partition) {
            Ok(p) => Some(p),
            Err(e) => return Ok(Err(e.to_string())),
        }
    };
    let value_kind = match kind.as_str() {
        "table" => ValueKind::Table,
        "json" => ValueKind::Json,
        "bytes" => ValueKind::Bytes,
        "nothing" => ValueKind::Nothing,
        other => return Ok(Err(format!("unknown value kind {other:?}"))),
    };
    Ok(Ok(LatestMaterialization {
        asset,
        partition,
        event_id: r.get(2)?,
        run_id: r
            .get::<_, Option<String>>(3)?
            .as_deref()
            .map(RunId::from_string),
        timestamp: r.get(4)?,
        data_version: DataVersion::from_hex(&r.get::<_, String>(5)?),
        code_version: r.get(6)?,
        value_kind,
        io_manager: r.get(8)?,
        location: r.get(9)?,
        rows: r.get::<_, Option<i64>>(10)?.map(|v| v as u64),
        bytes: r.get::<_, Option<i64>>(11)?.map(|v| v as u64),
    }))
}

/// The sweep behind [`SqliteStore::for_each_version`], over asset keys in `[from, to)`.
fn scan_versions(
    c: &Connection,
    from: Option<&str>,
    to: Option<&str>,
    mut f: impl FnMut(RowRef<'_>),
) -> rusqlite::Result<()> {
    let mut sql = String::from(
        "SELECT asset_key, partition, event_id, ts, data_version, code_version,
                inputs_digest, deps_digest, config
         FROM asset_latest",
    );
    let mut bounds: Vec<&str> = Vec::new();
    let mut clauses = Vec::new();
    if let Some(from) = from {
        bounds.push(from);
        clauses.push(format!("asset_key >= ?{}", bounds.len()));
    }
    if let Some(to) = to {
        bounds.push(to);
        clauses.push(format!("asset_key < ?{}", bounds.len()));
    }
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(bounds))?;
    let conversion = |i: usize, ty: rusqlite::types::Type, e: rusqlite::types::FromSqlError| {
        rusqlite::Error::FromSqlConversionFailure(i, ty, Box::new(e))
    };
    while let Some(r) = rows.next()? {
        let text = |i: usize| -> rusqlite::Result<&str> {
            r.get_ref(i)?
                .as_str()
                .map_err(|e| conversion(i, rusqlite::types::Type::Text, e))
        };
        let opt_text = |i: usize| -> rusqlite::Result<Option<&str>> {
            r.get_ref(i)?
                .as_str_or_null()
                .map_err(|e| conversion(i, rusqlite::types::Type::Text, e))
        };
        let opt_blob = |i: usize| -> rusqlite::Result<Option<&[u8]>> {
            r.get_ref(i)?
                .as_blob_or_null()
                .map_err(|e| conversion(i, rusqlite::types::Type::Blob, e))
        };
        f(crate::staleness::RowRef {
            asset: text(0)?,
            partition: text(1)?,
            event_id: r.get(2)?,
            timestamp: r.get(3)?,
            data_version: text(4)?,
            code_version: opt_text(5)?,
            inputs_digest: opt_blob(6)?,
            deps_digest: opt_blob(7)?,
            config: opt_text(8)?,
        });
    }
    Ok(())
}

/// Whether `db` has a write-ahead log with content (commits not yet folded into the file).
fn has_wal(db: &Path) -> bool {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(Path::new(&wal)).is_ok_and(|m| m.len() > 0)
}

/// Creates a new instance database whole: built under a temporary name, then linked into
/// place, so no process ever sees a half-made (or empty) `stemma.db`. When two processes
/// create the same instance at once, the first link wins and the other uses it.
fn create(home: &Path, db: &Path) -> Result<()> {
    std::fs::create_dir_all(home)
        .map_err(|e| Error::instance(home, format!("cannot create the instance directory: {e}")))?;
    let tmp = home.join(format!(
        ".{DB_FILE}.new-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let built = (|| {
        let mut conn = open_connection(&tmp)?;
        schema::migrate(&mut conn).map_err(|e| Error::instance(&tmp, describe(&e)))?;
        // Closing the last connection folds the log into the file and removes it.
        conn.close()
            .map_err(|(_, e)| Error::instance(&tmp, describe(&e.to_string())))
    })();
    let linked = built.and_then(|()| match std::fs::hard_link(&tmp, db) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::instance(db, describe(&e.to_string()))),
    });
    for suffix in ["", "-wal", "-shm"] {
        let mut path = tmp.as_os_str().to_owned();
        path.push(suffix);
        let _ = std::fs::remove_file(Path::new(&path));
    }
    linked.map_err(|e| match unwritable(home) {
        Some(why) => Error::instance(db, format!("{why}, so no instance can be created here")),
        None => e,
    })
}

/// Why nothing can be written in `home` (a full disk, a read-only directory), if that is so:
/// found by writing a small file and seeing how it fails.
fn unwritable(home: &Path) -> Option<String> {
    let probe = home.join(format!(".stemma-probe-{}", std::process::id()));
    let written = std::fs::write(&probe, [0u8; 8192]);
    let _ = std::fs::remove_file(&probe);
    match written.err()?.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            Some("the disk holding the instance is full".into())
        }
        std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied => {
            Some("the instance directory cannot be written (read-only)".into())
        }
        _ => None,
    }
}

fn open_connection(db: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(db, flags)
        .map_err(|e| Error::instance(db, describe(&e.to_string())))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(|e| Error::instance(db, e))?;
    // Switching to WAL needs a brief exclusive lock. While another process is creating the
    // same database, SQLite reports it busy without consulting the busy timeout, so the switch
    // is retried here for as long as the timeout would have waited.
    let mode: String =
        retry_while_busy(|| conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)))
            .map_err(|e| Error::instance(db, describe(&e.to_string())))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::instance(
            db,
            format!("cannot switch the database to WAL mode (it is in {mode} mode)"),
        ));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| Error::instance(db, e))?;
    Ok(conn)
}

/// Runs `f` again while SQLite says the database is busy, for up to 30 s (what the busy
/// timeout allows where SQLite applies it).
fn retry_while_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut pause = Duration::from_millis(5);
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Turns SQLite's terse messages into ones that say what to do.
fn describe(message: &str) -> String {
    if message.contains("not a database") {
        format!(
            "this file is not a Stemma instance ({message}); point STEMMA_HOME at another \
             directory or move the file away"
        )
    } else if message.contains("unable to open") || message.contains("readonly") {
        format!("{message}; check that the directory exists and is writable")
    } else {
        message.to_owned()
    }
}

/// Ends runs whose process is gone, recording why.
fn reap_dead_runs(conn: &mut Connection) -> std::result::Result<(), String> {
    let me = ProcessIdentity::current();
    // (run id, pid, host, process start, cancel asked) of every run still marked started.
    type Started = (String, Option<u32>, Option<String>, Option<i64>, bool);
    let candidates: Vec<Started> = {
        let mut stmt = conn
            .prepare(
                "SELECT run_id, pid, host, process_start, cancel_requested_at IS NOT NULL
                 FROM runs WHERE status = 'started'",
            )
            .map_err(|e| describe(&e.to_string()))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| e.to_string())?
    };
    let mut events = Vec::new();
    for (run_id, pid, host, start, cancel_asked) in candidates {
        let (Some(pid), Some(host)) = (pid, host) else {
            continue;
        };
        if host != me.host {
            continue;
        }
        let identity = ProcessIdentity {
            pid,
            host,
            start: start.map(|s| s as u64),
        };
        if identity.is_alive() == Some(false) {
            // A run asked to stop whose process then exited was canceled, not failed.
            let (status, message) = if cancel_asked {
                (
                    RunStatus::Canceled,
                    format!(
                        "canceled; process {pid} exited before it ended the run; nothing it \
                         had not committed was kept"
                    ),
                )
            } else {
                (
                    RunStatus::Failure,
                    format!("process {pid} {CRASHED}; nothing it had not committed was kept"),
                )
            };
            events.push(
                Event::new(
                    chrono::Utc::now().timestamp_micros(),
                    EventKind::RunEnded {
                        status,
                        message: Some(message),
                    },
                )
                .run(&RunId::from_string(&run_id)),
            );
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    writer::write(conn, &mut [Request { events, ack: None }])
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl VersionSource for SqliteStore {
    fn for_each_version(&self, f: &mut dyn FnMut(RowRef<'_>)) -> Result<()> {
        SqliteStore::for_each_version(self, f)
    }

    fn for_each_version_in(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        f: &mut dyn FnMut(RowRef<'_>),
    ) -> Result<()> {
        SqliteStore::for_each_version_in(self, from, to, f)
    }

    fn provenance(&self, event_id: i64) -> Result<Option<crate::model::event::Provenance>> {
        Ok(match self.event(event_id)?.map(|e| e.kind) {
            Some(EventKind::Materialization(m)) => Some(m.provenance),
            _ => None,
        })
    }

    fn code_version_items(
        &self,
        asset: &AssetKey,
        code_version: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        SqliteStore::code_version_items(self, asset, code_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::Materialization;

    fn materialization(dv: &str) -> EventKind {
        EventKind::Materialization(Materialization {
            data_version: DataVersion::from_hex(dv),
            value_kind: ValueKind::Table,
            io_manager: "default".into(),
            location: Some(format!("a/{dv}.parquet")),
            rows: Some(3),
            bytes: Some(100),
            provenance: Default::default(),
            metadata: Default::default(),
        })
    }

    #[test]
    fn materialization_moves_the_pointer_in_the_same_commit() {
        let dir = tempfile::tempdir().unwrap();
        let instance = Instance::open(dir.path()).unwrap();
        let key = AssetKey::parse("a").unwrap();
        let run = RunId::new();
        for dv in ["aa", "bb"] {
            instance
                .append_blocking(vec![
                    Event::new(1, materialization(dv))
                        .run(&run)
                        .asset(&key, None),
                ])
                .unwrap();
        }
        let latest = instance.latest(&key, None).unwrap().unwrap();
        assert_eq!(latest.data_version.as_str(), "bb");
        assert_eq!(latest.rows, Some(3));
        let m = instance.materialization(latest.event_id).unwrap().unwrap();
        assert_eq!(m.location.as_deref(), Some("a/bb.parquet"));
        // Wiping drops the pointer but keeps the log.
        instance
            .append_blocking(vec![Event::new(2, EventKind::AssetWiped).asset(&key, None)])
            .unwrap();
        assert!(instance.latest(&key, None).unwrap().is_none());
        assert!(instance.materialization(latest.event_id).unwrap().is_some());
    }

    #[test]
    fn reopening_keeps_everything_and_a_dead_run_is_ended() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunId::new();
        {
            let instance = Instance::open(dir.path()).unwrap();
            let me = ProcessIdentity::current();
            instance
                .append_blocking(vec![
                    Event::new(
                        1,
                        EventKind::RunStarted {
                            selection: "*".into(),
                            partition: None,
                            steps: 1,
                            config: BTreeMap::new(),
                            // A pid that cannot be running.
                            pid: u32::MAX - 1,
                            host: me.host.clone(),
                            process_start: Some(1),
                            backfill: None,
                            resumes: None,
                            tags: BTreeMap::new(),
                        },
                    )
                    .run(&run),
                ])
                .unwrap();
            assert_eq!(instance.runs(10).unwrap()[0].status, RunStatus::Started);
        }
        let instance = Instance::open(dir.path()).unwrap();
        let record = instance.find_run(&run.as_str()[..8]).unwrap();
        if ProcessIdentity::current().start.is_some() {
            assert_eq!(record.status, RunStatus::Failure);
            assert!(record.message.unwrap().contains("exited without ending"));
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), vec![b'x'; 4096]).unwrap();
        let err = Instance::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a Stemma instance"), "{err}");
        assert!(err.contains("stemma.db"), "{err}");
    }
}
