//! The instance's storage behind one interface: what the engine, the command line and the
//! HTTP API ask of an instance — appending events and reading them back as runs,
//! materializations, checks and code versions; orchestration state (backfills, schedules,
//! ticks, daemons, dynamic partitions); pool slots; retention — and nothing of how it is kept.
//!
//! [`Instance`](super::Instance) is the handle every caller holds; it opens SQLite
//! ([`SqliteStore`](super::SqliteStore), the only implementation today) and reaches the
//! store through this trait, so a second backend (Postgres) implements [`InstanceStore`] and
//! is handed to [`Instance::from_store`](super::Instance::from_store) without touching a
//! caller. Reads are synchronous and cheap to call from blocking code; async callers run them
//! on the blocking pool ([`Engine::read`](crate::engine::Engine::read)). Appends are async:
//! the store commits them in groups.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{
    BackfillRecord, CheckStatus, EventQuery, FailureRecord, HeartbeatRecord, LatestMaterialization,
    OpenMode, PartitionStatus, PoolRecord, PruneReport, Referenced, Retention, RunQuery, RunRecord,
    Slot, SqliteStore, StorageUse, TickRecord,
};
use crate::model::clock::Timestamp;
use crate::model::error::Result;
use crate::model::event::{Event, EventKind, RunId};
use crate::model::key::AssetKey;
use crate::model::spec::PartitionKey;
use crate::staleness::VersionSource;

/// What Stemma asks of an instance's storage (see the module docs). The staleness pass reads
/// latest versions through the [`VersionSource`] half.
pub trait InstanceStore: VersionSource + Send + Sync + std::fmt::Debug {
    // The instance itself, and the event log: appending, reading runs, materializations, checks and code versions.

    /// How this instance was opened.
    fn mode(&self) -> &OpenMode;

    /// Whether events cannot be appended (opened read-only, or on a full disk).
    fn is_read_only(&self) -> bool;

    /// How many times a read waited for a connection another reader held (all were lent).
    fn reader_waits(&self) -> u64;

    /// The instance's directory (its stored objects live under it by default).
    fn home(&self) -> &Path;

    /// Where the instance's database is (what `status` names).
    fn db_path(&self) -> &Path;

    /// Appends events in one transaction (possibly grouped with others) and waits until they
    /// are committed. Returns the events with their ids.
    fn append(&self, events: Vec<Event>) -> BoxFuture<'_, Result<Vec<i64>>>;

    /// Like [`append`](Self::append), for callers outside an async runtime.
    fn append_blocking(&self, events: Vec<Event>) -> Result<Vec<i64>>;

    /// Queues events without waiting; a failure is reported by the next [`flush`](Self::flush).
    fn append_nowait(&self, events: Vec<Event>);

    /// Waits until everything queued so far is committed; reports a lost unacknowledged append.
    fn flush(&self) -> BoxFuture<'_, Result<()>>;

    /// The latest materialization of every asset partition, or of those whose key is in
    /// `only`.
    fn latest_materializations(
        &self,
        only: Option<&HashSet<AssetKey>>,
    ) -> Result<Vec<LatestMaterialization>>;

    /// The `limit` most recent of an asset's latest materializations (one per partition),
    /// newest first: a page of an asset with a million partitions, not all of them.
    fn newest_materializations(
        &self,
        asset: &AssetKey,
        limit: usize,
    ) -> Result<Vec<LatestMaterialization>>;

    /// Every materialization the event log still holds and that was not wiped since (of the
    /// assets in `only`, if given), oldest first.
    fn materializations(
        &self,
        only: Option<&HashSet<AssetKey>>,
    ) -> Result<Vec<LatestMaterialization>>;

    /// Every latest materialization (of the assets in `only`, if given) with the provenance it
    /// recorded.
    fn latest_with_provenance(
        &self,
        only: Option<&HashSet<AssetKey>>,
    ) -> Result<
        Vec<(
            LatestMaterialization,
            Option<crate::model::event::Provenance>,
        )>,
    >;

    /// Which partitions of `asset` (partitioned by `def`) are materialized, failed, in
    /// progress or missing, as ranges of positions in `def`. For time windows the answer is
    /// kept between reads , so asking again costs only what changed.
    fn partition_status(
        &self,
        asset: &AssetKey,
        def: &crate::model::spec::PartitionsDefinition,
    ) -> Result<PartitionStatus>;

    /// The last final failure of one asset partition, if it ever failed.
    fn latest_failure(
        &self,
        asset: &AssetKey,
        partition: Option<&PartitionKey>,
    ) -> Result<Option<FailureRecord>>;

    /// The last final failure of every asset partition that ever failed.
    fn latest_failures(&self) -> Result<Vec<FailureRecord>>;

    /// The latest materialization of one asset partition.
    fn latest(
        &self,
        asset: &AssetKey,
        partition: Option<&PartitionKey>,
    ) -> Result<Option<LatestMaterialization>>;

    /// The latest evaluation of every check.
    fn latest_checks(&self) -> Result<Vec<CheckStatus>>;

    /// The most recent runs, newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>>;

    /// A page of runs, newest first, filtered as `query` asks.
    fn runs_page(&self, query: &RunQuery) -> Result<Vec<RunRecord>>;

    /// How many runs are in each status.
    fn run_status_counts(&self) -> Result<Vec<(String, u64)>>;

    /// A page of the event log, filtered as `query` asks.
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>>;

    /// The id of the newest event (0 when there is none).
    fn last_event_id(&self) -> Result<i64>;

    /// The version of check `check` that last evaluated `asset` (`partition`): `None` when it
    /// was never evaluated there, `Some(None)` when that evaluation recorded no version.
    fn check_code_version(
        &self,
        asset: &AssetKey,
        partition: Option<&PartitionKey>,
        check: &str,
    ) -> Result<Option<Option<String>>>;

    /// What code version `code_version` of `asset` was computed from, item by item, if a run
    /// recorded it.
    fn code_version_items(
        &self,
        asset: &AssetKey,
        code_version: &str,
    ) -> Result<Option<BTreeMap<String, String>>>;

    /// Whether a run recorded what `code_version` of `asset` was computed from.
    fn has_code_version(&self, asset: &AssetKey, code_version: &str) -> Result<bool>;

    /// The run whose id starts with `prefix`; an error when none or several match.
    fn find_run(&self, prefix: &str) -> Result<RunRecord>;

    /// A run's events in order.
    fn run_events(&self, run_id: &RunId) -> Result<Vec<Event>>;

    /// The event with id `event_id`.
    fn event(&self, event_id: i64) -> Result<Option<Event>>;

    /// The materialization recorded by event `event_id`.
    fn materialization(
        &self,
        event_id: i64,
    ) -> Result<Option<crate::model::event::Materialization>>;

    // Orchestration state: backfills, runs in progress, dynamic partitions, schedules, ticks, daemons.

    /// Recent backfills, newest first.
    fn backfills(&self, limit: usize) -> Result<Vec<BackfillRecord>>;

    /// The backfill whose id starts with `prefix`; an error when none or several match.
    fn find_backfill(&self, prefix: &str) -> Result<BackfillRecord>;

    /// The runs of a backfill, newest first.
    fn backfill_runs(&self, id: &str) -> Result<Vec<RunRecord>>;

    /// Whether a run of the backfill is still going (runs of dead processes are reaped when an
    /// instance opens).
    fn backfill_is_live(&self, id: &str) -> Result<bool>;

    /// The (asset, partition) pairs whose latest materialization a run of the backfill made.
    fn backfill_done(&self, id: &str) -> Result<HashSet<(String, Option<PartitionKey>)>>;

    /// The steps `run` completed — committed, or found up to date — as (asset, partition).
    fn run_completed_steps(&self, run: &RunId) -> Result<HashSet<(String, Option<PartitionKey>)>>;

    /// Whether another process asked `run` to stop: the run itself, or the backfill it works
    /// for.
    fn run_cancel_requested(&self, run: &RunId) -> Result<bool>;

    /// The `run_started` event of `run` (one indexed row, not the run's whole log).
    fn run_started(&self, run: &RunId) -> Result<Option<EventKind>>;

    /// The keys of a dynamic partitions definition, in the order they were added.
    fn dynamic_partitions(&self, definition: &str) -> Result<Vec<String>>;

    /// Whether a schedule is running: as last started or stopped, else `default`.
    fn schedule_running(&self, schedule: &str, default: bool) -> Result<bool>;

    /// When a running schedule was last started (`None`: stopped, or never recorded).
    fn schedule_state_since(&self, schedule: &str) -> Result<Option<Timestamp>>;

    /// One tick, if any daemon claimed it.
    fn tick(&self, schedule: &str, tick: Timestamp) -> Result<Option<TickRecord>>;

    /// The most recent ticks of a schedule (all schedules when `None`), newest first.
    fn ticks(&self, schedule: Option<&str>, limit: usize) -> Result<Vec<TickRecord>>;

    /// Daemons that ever beat, most recent first.
    fn heartbeats(&self) -> Result<Vec<HeartbeatRecord>>;

    // Concurrency pools and their leased slots (and the storage lease runs and gc take).

    /// Sets the limit of `pool` (`None` removes it: unlimited).
    fn set_pool_limit(&self, pool: &str, slots: Option<u32>) -> Result<()>;

    /// The limit of `pool`, if one is set.
    fn pool_limit(&self, pool: &str) -> Result<Option<u32>>;

    /// Every pool with a limit or a live lease.
    fn pools(&self) -> Result<Vec<PoolRecord>>;

    /// Takes a slot of `pool` for `holder` for `lease`, if one is free; `None` when every slot
    /// is held. A pool without a limit always has a slot (and no lease is written).
    fn try_acquire_slot(&self, pool: &str, holder: &str, lease: Duration) -> Result<Option<Slot>>;

    /// Takes a storage lease for `holder`, unless the other side holds one: a run is refused
    /// while garbage collection deletes objects, and garbage collection while any run is in
    /// progress (one that holds a lease, or an older process's run still marked started). The
    /// two are decided in one `BEGIN IMMEDIATE` transaction, so a run that starts inside gc's
    /// window between listing objects and deleting them waits for gc instead of reusing an
    /// object gc is about to delete. `None`: refused.
    fn try_acquire_storage(
        &self,
        who: StorageUse,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<String>>;

    /// Extends a lease by `lease` from now; false if it was lost (it expired and was taken
    /// back).
    fn renew_slot(&self, lease_id: &str, lease: Duration) -> Result<bool>;

    /// Gives a slot back.
    fn release_slot(&self, lease_id: &str) -> Result<()>;

    // Retention: pruning the event log, what is referenced, compacting.

    /// Prunes the event log by `policy`; with `dry_run` nothing is deleted. Returns what was
    /// (or would be) deleted and the object locations the remaining materializations use.
    fn prune(&self, policy: Retention, dry_run: bool) -> Result<(PruneReport, Referenced)>;

    /// The object locations referenced now, read without writing anything (what `prune`
    /// returns when it cannot write: a superset of what it would keep).
    fn referenced(&self) -> Result<Referenced>;

    /// Runs that have started and not ended (dead ones are ended when an instance opens).
    fn live_runs(&self) -> Result<u64>;

    /// Rebuilds the database file to return the space of deleted rows to the file system.
    /// Returns whether the write-ahead log could be folded back into it (another process
    /// reading the instance at that moment keeps the rebuilt pages in the log until the next
    /// checkpoint, when the file shrinks).
    fn vacuum(&self) -> Result<bool>;

    /// The size of the database file and its write-ahead log, in bytes.
    fn db_size(&self) -> u64;

    // Secrets: scrubbing values of fields declared secret from what was recorded.

    /// Replaces the recorded values of the config fields `names` (declared secret) with
    /// `<secret>` wherever the instance holds them, once per field. Returns how many values
    /// were found. Nothing is done on an instance opened read-only.
    fn scrub_secrets(&self, names: &[&str]) -> Result<usize>;
}

impl InstanceStore for SqliteStore {
    fn mode(&self) -> &OpenMode {
        SqliteStore::mode(self)
    }

    fn is_read_only(&self) -> bool {
        SqliteStore::is_read_only(self)
    }

    fn reader_waits(&self) -> u64 {
        SqliteStore::reader_waits(self)
    }

    fn home(&self) -> &Path {
        SqliteStore::home(self)
    }

    fn db_path(&self) -> &Path {
        SqliteStore::db_path(self)
    }

    fn append(&self, events: Vec<Event>) -> BoxFuture<'_, Result<Vec<i64>>> {
        Box::pin(SqliteStore::append(self, events))
    }

    fn append_blocking(&self, events: Vec<Event>) -> Result<Vec<i64>> {
        SqliteStore::append_blocking(self, events)
    }

    fn append_nowait(&self, events: Vec<Event>) {
        SqliteStore::append_nowait(self, events)
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(SqliteStore::flush(self))
    }

    fn latest_materializations(
        &self,
        only: Option<&HashSet<AssetKey>>,
    ) -> Result<Vec<LatestMaterialization>> {
        SqliteStore::latest_materializations(self, only)
    }

    fn newest_materializations(
        &self,
        asset: &AssetKey,
        limit: usize,
    ) -> Result<Vec<LatestMaterialization>> {
        SqliteStore::newest_materializations(self, asset, limit)
    }

    fn materializations(
        &self,
        only: Option<&HashSet<AssetKey>>,
    ) -> Result<Vec<LatestMaterialization>> {
        SqliteStore::materializations(self, only)
    }

    fn latest_with_provenance(
        &self,
        only: Option<&HashSet<AssetKey>>,
    ) -> Result<
        Vec<(
            LatestMaterialization,
            Option<crate::model::event::Provenance>,
        )>,
    > {
        SqliteStore::latest_with_provenance(self, only)
    }

    fn partition_status(
        &self,
        asset: &AssetKey,
        def: &crate::model::spec::PartitionsDefinition,
    ) -> Result<PartitionStatus> {
        SqliteStore::partition_status(self, asset, def)
    }

    fn latest_failure(
        &self,
        asset: &AssetKey,
        partition: Option<&PartitionKey>,
    ) -> Result<Option<FailureRecord>> {
        SqliteStore::latest_failure(self, asset, partition)
    }

    fn latest_failures(&self) -> Result<Vec<FailureRecord>> {
        SqliteStore::latest_failures(self)
    }

    fn latest(
        &self,
        asset: &AssetKey,
        partition: Option<&PartitionKey>,
    ) -> Result<Option<LatestMaterialization>> {
        SqliteStore::latest(self, asset, partition)
    }

    fn latest_checks(&self) -> Result<Vec<CheckStatus>> {
        SqliteStore::latest_checks(self)
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        SqliteStore::runs(self, limit)
    }

    fn runs_page(&self, query: &RunQuery) -> Result<Vec<RunRecord>> {
        SqliteStore::runs_page(self, query)
    }

    fn run_status_counts(&self) -> Result<Vec<(String, u64)>> {
        SqliteStore::run_status_counts(self)
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        SqliteStore::events(self, query)
    }

    fn last_event_id(&self) -> Result<i64> {
        SqliteStore::last_event_id(self)
    }

    fn check_code_version(
        &self,
        asset: &AssetKey,
        partition: Option<&PartitionKey>,
        check: &str,
    ) -> Result<Option<Option<String>>> {
        SqliteStore::check_code_version(self, asset, partition, check)
    }

    fn code_version_items(
        &self,
        asset: &AssetKey,
        code_version: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        SqliteStore::code_version_items(self, asset, code_version)
    }

    fn has_code_version(&self, asset: &AssetKey, code_version: &str) -> Result<bool> {
        SqliteStore::has_code_version(self, asset, code_version)
    }

    fn find_run(&self, prefix: &str) -> Result<RunRecord> {
        SqliteStore::find_run(self, prefix)
    }

    fn run_events(&self, run_id: &RunId) -> Result<Vec<Event>> {
        SqliteStore::run_events(self, run_id)
    }

    fn event(&self, event_id: i64) -> Result<Option<Event>> {
        SqliteStore::event(self, event_id)
    }

    fn materialization(
        &self,
        event_id: i64,
    ) -> Result<Option<crate::model::event::Materialization>> {
        SqliteStore::materialization(self, event_id)
    }

    fn backfills(&self, limit: usize) -> Result<Vec<BackfillRecord>> {
        SqliteStore::backfills(self, limit)
    }

    fn find_backfill(&self, prefix: &str) -> Result<BackfillRecord> {
        SqliteStore::find_backfill(self, prefix)
    }

    fn backfill_runs(&self, id: &str) -> Result<Vec<RunRecord>> {
        SqliteStore::backfill_runs(self, id)
    }

    fn backfill_is_live(&self, id: &str) -> Result<bool> {
        SqliteStore::backfill_is_live(self, id)
    }

    fn backfill_done(&self, id: &str) -> Result<HashSet<(String, Option<PartitionKey>)>> {
        SqliteStore::backfill_done(self, id)
    }

    fn run_completed_steps(&self, run: &RunId) -> Result<HashSet<(String, Option<PartitionKey>)>> {
        SqliteStore::run_completed_steps(self, run)
    }

    fn run_cancel_requested(&self, run: &RunId) -> Result<bool> {
        SqliteStore::run_cancel_requested(self, run)
    }

    fn run_started(&self, run: &RunId) -> Result<Option<EventKind>> {
        SqliteStore::run_started(self, run)
    }

    fn dynamic_partitions(&self, definition: &str) -> Result<Vec<String>> {
        SqliteStore::dynamic_partitions(self, definition)
    }

    fn schedule_running(&self, schedule: &str, default: bool) -> Result<bool> {
        SqliteStore::schedule_running(self, schedule, default)
    }

    fn schedule_state_since(&self, schedule: &str) -> Result<Option<Timestamp>> {
        SqliteStore::schedule_state_since(self, schedule)
    }

    fn tick(&self, schedule: &str, tick: Timestamp) -> Result<Option<TickRecord>> {
        SqliteStore::tick(self, schedule, tick)
    }

    fn ticks(&self, schedule: Option<&str>, limit: usize) -> Result<Vec<TickRecord>> {
        SqliteStore::ticks(self, schedule, limit)
    }

    fn heartbeats(&self) -> Result<Vec<HeartbeatRecord>> {
        SqliteStore::heartbeats(self)
    }

    fn set_pool_limit(&self, pool: &str, slots: Option<u32>) -> Result<()> {
        SqliteStore::set_pool_limit(self, pool, slots)
    }

    fn pool_limit(&self, pool: &str) -> Result<Option<u32>> {
        SqliteStore::pool_limit(self, pool)
    }

    fn pools(&self) -> Result<Vec<PoolRecord>> {
        SqliteStore::pools(self)
    }

    fn try_acquire_slot(&self, pool: &str, holder: &str, lease: Duration) -> Result<Option<Slot>> {
        SqliteStore::try_acquire_slot(self, pool, holder, lease)
    }

    fn try_acquire_storage(
        &self,
        who: StorageUse,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<String>> {
        SqliteStore::try_acquire_storage(self, who, holder, lease)
    }

    fn renew_slot(&self, lease_id: &str, lease: Duration) -> Result<bool> {
        SqliteStore::renew_slot(self, lease_id, lease)
    }

    fn release_slot(&self, lease_id: &str) -> Result<()> {
        SqliteStore::release_slot(self, lease_id)
    }

    fn prune(&self, policy: Retention, dry_run: bool) -> Result<(PruneReport, Referenced)> {
        SqliteStore::prune(self, policy, dry_run)
    }

    fn referenced(&self) -> Result<Referenced> {
        SqliteStore::referenced(self)
    }

    fn live_runs(&self) -> Result<u64> {
        SqliteStore::live_runs(self)
    }

    fn vacuum(&self) -> Result<bool> {
        SqliteStore::vacuum(self)
    }

    fn db_size(&self) -> u64 {
        SqliteStore::db_size(self)
    }

    fn scrub_secrets(&self, names: &[&str]) -> Result<usize> {
        SqliteStore::scrub_secrets(self, names)
    }
}
