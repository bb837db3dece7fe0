//! Storage lifecycle: garbage collection of the event log and of stored objects, and
//! verification of stored objects against their recorded data versions.
//!
//! Objects are named by their content hash, so identical values are stored once and an object
//! is garbage exactly when no retained materialization points to it. Collection spares objects
//! modified within a grace period (a run may have written one it has not committed yet; a run
//! that reuses an existing object rewrites it, which refreshes its time), and deletes no object
//! at all while a run is in progress.

use std::collections::HashSet;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::engine::Engine;
use crate::execute::slots::PoolSlot;
use crate::hash::{DataVersion, data_version};
use crate::instance::{LatestMaterialization, PruneReport, Retention};
use crate::model::error::{Error, Result};
use crate::model::io::InputContext;
use crate::model::key::AssetKey;
use crate::model::spec::PartitionKey;

/// What `gc` keeps and how.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// The latest N materializations of each asset partition are kept (at least 1).
    pub keep_last: usize,
    /// Everything younger than this is kept.
    pub keep_younger_than: Duration,
    /// Unreferenced objects younger than this are kept.
    pub grace: Duration,
    /// Report what would be deleted; delete nothing.
    pub dry_run: bool,
    /// Rebuild the database file afterwards to give the space back.
    pub vacuum: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            keep_last: 3,
            keep_younger_than: Duration::from_secs(7 * 24 * 3600),
            grace: Duration::from_secs(3600),
            dry_run: false,
            vacuum: false,
        }
    }
}

/// What `gc` did (or would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub pruned: PruneReport,
    pub objects_deleted: u64,
    pub bytes_freed: u64,
    /// Objects a retained materialization points to.
    pub objects_referenced: u64,
    /// Unreferenced objects spared: younger than the grace period, or a run was in progress.
    pub objects_spared: u64,
    /// Runs in progress (no object is deleted while there are any).
    pub live_runs: u64,
    /// IO managers whose objects could not be listed, and why.
    pub skipped: Vec<String>,
    /// The disk holding the instance is full: the event log could not be pruned (objects
    /// were still deleted, against everything the log references).
    pub disk_full: bool,
    /// The log could only be pruned after deleting objects had freed space.
    pub pruned_after_freeing: bool,
    /// After `vacuum`: the rebuilt database was folded back from the write-ahead log (false
    /// while another process reads the instance; the file shrinks at the next checkpoint).
    pub log_folded: bool,
    pub db_bytes_before: u64,
    pub db_bytes_after: u64,
}

/// Why garbage collection may (or may not) delete objects.
enum Permit {
    /// Nothing is deleted; the report says what would be.
    DryRun,
    /// Its storage lease: no run writes objects until it is released.
    Leased(PoolSlot),
    /// A run is in progress: every unreferenced object is spared.
    RunsInProgress,
    /// The instance's disk is full and no run is in progress.
    DiskFull,
}

/// One stored object whose bytes do not match its recorded version, or cannot be read.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyProblem {
    pub asset: AssetKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionKey>,
    pub object: String,
    pub recorded: DataVersion,
    /// The version of what is stored now, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<DataVersion>,
    pub problem: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub checked: u64,
    pub bytes: u64,
    pub problems: Vec<VerifyProblem>,
}

impl Engine {
    /// Prunes the event log by the retention policy, then deletes the stored objects no
    /// retained materialization points to.
    ///
    /// Objects are deleted under garbage collection's storage lease, which no run holds at the
    /// same time: gc spares every object while a run is in progress, and a run that starts
    /// while gc deletes waits for it (so it cannot reuse, by content, an object gc is about to
    /// delete). On a full disk the event log cannot be pruned, but objects are still deleted,
    /// against everything the log references now, and the prune is tried again after.
    pub async fn gc(&self, options: &GcOptions) -> Result<GcReport> {
        let now = self.now();
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let instance = self.instance();
        let mut report = GcReport {
            dry_run: options.dry_run,
            db_bytes_before: instance.db_size(),
            ..GcReport::default()
        };
        let retention = Retention {
            keep_last: options.keep_last.max(1),
            keep_since: now.saturating_sub(micros(options.keep_younger_than)),
        };
        let holder = format!("gc pid {}", std::process::id());
        let permit = if options.dry_run {
            if instance.live_runs()? > 0 {
                Permit::RunsInProgress
            } else {
                Permit::DryRun
            }
        } else {
            match PoolSlot::try_storage_for_gc(self.shared_instance(), &holder, self.pool_lease())
                .await
            {
                Ok(Some(lease)) => Permit::Leased(lease),
                Ok(None) => Permit::RunsInProgress,
                // A full disk: no lease can be written, and no run can commit either (the
                // instance cannot grow), so no run can come to reference what is deleted.
                Err(e) if e.is_disk_full() => {
                    report.disk_full = true;
                    if instance.live_runs()? > 0 {
                        Permit::RunsInProgress
                    } else {
                        Permit::DiskFull
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let referenced = match instance.prune(retention, options.dry_run) {
            Ok((pruned, referenced)) => {
                report.pruned = pruned;
                referenced
            }
            // The policy is still applied, in a transaction rolled back (nothing written):
            // what it would keep is what is referenced.
            Err(e) if e.is_disk_full() => {
                report.disk_full = true;
                match instance.prune(retention, true) {
                    Ok((_, referenced)) => referenced,
                    Err(_) => instance.referenced()?,
                }
            }
            Err(e) => return Err(e),
        };
        report.live_runs = instance.live_runs()?;
        let may_delete = !matches!(permit, Permit::RunsInProgress);
        let spare_after = now.saturating_sub(micros(options.grace));
        let mut seen_roots = HashSet::new();
        for key in self.io().keys() {
            let io = self.io().get(key)?;
            // Several keys may name one store; list it once.
            if !seen_roots.insert(io.describe()) {
                continue;
            }
            let objects = match io.list_objects().await {
                Ok(objects) => objects,
                Err(e) => {
                    report.skipped.push(format!("{key}: {e}"));
                    continue;
                }
            };
            let mut doomed = Vec::new();
            for o in objects {
                if referenced.locations.contains(&o.location) {
                    report.objects_referenced += 1;
                } else if !may_delete || o.last_modified >= spare_after {
                    report.objects_spared += 1;
                } else {
                    report.bytes_freed += o.bytes;
                    doomed.push(o.location);
                }
            }
            report.objects_deleted += doomed.len() as u64;
            if !options.dry_run {
                futures::stream::iter(doomed)
                    .map(|location| async move { io.delete_object(&location).await })
                    .buffer_unordered(16)
                    .try_collect::<Vec<()>>()
                    .await?;
            }
        }
        if let Permit::Leased(lease) = permit {
            lease.release().await;
        }
        // With space freed, the event log may be prunable now.
        if report.disk_full
            && !options.dry_run
            && report.objects_deleted > 0
            && let Ok((pruned, _)) = instance.prune(retention, false)
        {
            report.pruned = pruned;
            report.disk_full = false;
            report.pruned_after_freeing = true;
        }
        if options.vacuum && !options.dry_run && !report.disk_full {
            report.log_folded = instance.vacuum()?;
        }
        report.db_bytes_after = instance.db_size();
        Ok(report)
    }

    /// Re-reads the stored objects of the latest materializations (every materialization the
    /// event log holds, with `all`) of the assets in `only`, re-hashes them and reports those
    /// whose content no longer matches the recorded data version.
    pub async fn verify(
        &self,
        only: Option<&HashSet<AssetKey>>,
        all: bool,
    ) -> Result<VerifyReport> {
        let records = if all {
            self.instance().materializations(only)?
        } else {
            self.instance().latest_materializations(only)?
        };
        // One check per stored object, for records that stored one.
        let mut seen = HashSet::new();
        let targets: Vec<LatestMaterialization> = records
            .into_iter()
            .filter(|m| m.location.is_some() && !m.io_manager.is_empty())
            .filter(|m| seen.insert((m.io_manager.clone(), m.location.clone())))
            .collect();
        let parallel = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let results: Vec<(u64, Option<VerifyProblem>)> = futures::stream::iter(targets)
            .map(|m| async move { self.verify_one(m).await })
            .buffer_unordered(parallel)
            .collect()
            .await;
        let mut report = VerifyReport::default();
        for (bytes, problem) in results {
            report.checked += 1;
            report.bytes += bytes;
            report.problems.extend(problem);
        }
        report.problems.sort_by(|a, b| {
            (
                a.asset.as_str(),
                a.partition.as_ref().map(PartitionKey::as_str),
            )
                .cmp(&(
                    b.asset.as_str(),
                    b.partition.as_ref().map(PartitionKey::as_str),
                ))
        });
        Ok(report)
    }

    async fn verify_one(&self, m: LatestMaterialization) -> (u64, Option<VerifyProblem>) {
        let location = m.location.clone().unwrap_or_default();
        let problem = |object: String, actual: Option<DataVersion>, text: String| VerifyProblem {
            asset: m.asset.clone(),
            partition: m.partition.clone(),
            object,
            recorded: m.data_version.clone(),
            actual,
            problem: text,
        };
        let io = match self.io().get(&m.io_manager) {
            Ok(io) => io,
            Err(e) => return (0, Some(problem(location, None, e.to_string()))),
        };
        let object = io.object_url(&location);
        let loaded = io
            .load_input(&InputContext {
                location: Some(&location),
                ..InputContext::of(&m, self.graph().spec_of(&m.asset), None)
            })
            .await;
        let value = match loaded {
            Ok(v) => v,
            Err(e) => return (0, Some(problem(object, None, e.to_string()))),
        };
        let bytes = m.bytes.unwrap_or(0);
        let hashed = tokio::task::spawn_blocking(move || data_version(&value))
            .await
            .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))
            .and_then(|r| r);
        match hashed {
            Ok(v) if v == m.data_version => (bytes, None),
            Ok(v) => (
                bytes,
                Some(problem(
                    object,
                    Some(v),
                    "its content does not match the recorded data version".into(),
                )),
            ),
            Err(e) => (bytes, Some(problem(object, None, e.to_string()))),
        }
    }
}
