//! Events: the append-only record of everything that happens. Runs, steps, materializations,
//! check evaluations and log lines are events; every "current state" table in the instance is
//! a projection of them, written in the same transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::check::Severity;
pub use crate::model::clock::{Clock, ManualClock, SystemClock, Timestamp, replayed_now};
use crate::model::key::AssetKey;
use crate::model::key::DataVersion;
use crate::model::spec::{Metadata, PartitionKey};
use crate::model::value::ValueKind;

/// An id made of a random UUID (v4), so that its first 8 characters — the short form the CLI
/// shows and accepts — are unique in practice.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new() -> Self {
                $name(Arc::from(uuid::Uuid::new_v4().to_string()))
            }

            pub fn from_string(s: &str) -> Self {
                $name(Arc::from(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The first 8 characters, as the CLI shows it.
            pub fn short(&self) -> &str {
                short_id(&self.0)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

uuid_id!(
    /// The id of a run. Runs are ordered by their start time.
    RunId
);

uuid_id!(
    /// The id of a backfill.
    BackfillId
);

impl std::ops::Deref for BackfillId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// The first 8 characters of a run or backfill id: the short form the CLI shows and accepts.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// How a run ended (or that it has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Started,
    Success,
    Failure,
    Canceled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Started => "started",
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "started" => RunStatus::Started,
            "success" => RunStatus::Success,
            "failure" => RunStatus::Failure,
            "canceled" => RunStatus::Canceled,
            _ => return None,
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        })
    }
}

/// The version of one input a materialization read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputVersion {
    pub asset: AssetKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionKey>,
    pub data_version: DataVersion,
}

/// What a materialization was computed from: enough to decide later whether it is stale.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_version: Option<String>,
    /// The version of every input read (data and ordering dependencies, per partition).
    #[serde(default)]
    pub inputs: Vec<InputVersion>,
    /// The assets it depended on when it was computed (data and ordering dependencies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<AssetKey>,
    /// The config values the asset read, by name (`null`: read while it had no value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, Option<String>>,
}

impl Provenance {
    /// The dependencies added and removed since this was recorded, against `current` (older
    /// records list only the inputs read, which then stand for the dependencies).
    pub fn deps_change<'a>(
        &self,
        current: impl IntoIterator<Item = &'a AssetKey>,
    ) -> (Vec<AssetKey>, Vec<AssetKey>) {
        let current: BTreeSet<&AssetKey> = current.into_iter().collect();
        let recorded: BTreeSet<&AssetKey> = if self.deps.is_empty() {
            self.inputs.iter().map(|i| &i.asset).collect()
        } else {
            self.deps.iter().collect()
        };
        let owned = |keys: std::collections::btree_set::Difference<'_, &AssetKey>| {
            keys.map(|k| (*k).clone()).collect()
        };
        (
            owned(current.difference(&recorded)),
            owned(recorded.difference(&current)),
        )
    }
}

/// `dependencies changed (+a, -b)`.
pub(crate) fn describe_deps_change(added: &[AssetKey], removed: &[AssetKey]) -> String {
    let mut parts: Vec<String> = added.iter().map(|k| format!("+{k}")).collect();
    parts.extend(removed.iter().map(|k| format!("-{k}")));
    format!("dependencies changed ({})", parts.join(", "))
}

/// The items of a code version that differ from another's (both as `label → hash`): a label
/// whose hash changed, appeared or went, each in words — `fn embed (assets/src/embed.rs)`,
/// `crate rayon 1.11.0 → 1.12.0`, `fn old_helper (…) removed`.
pub fn code_changes(
    recorded: &BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
) -> Vec<String> {
    let labels: std::collections::BTreeSet<&String> =
        recorded.keys().chain(current.keys()).collect();
    labels
        .into_iter()
        .filter_map(|label| {
            let (was, now) = (recorded.get(label), current.get(label));
            if was == now {
                return None;
            }
            Some(match (was, now, label.starts_with("crate ")) {
                (Some(a), Some(b), true) => format!("{label} {a} → {b}"),
                (None, Some(_), _) => format!("{label} (new)"),
                (Some(_), None, _) => format!("{label} (removed)"),
                _ => label.clone(),
            })
        })
        .collect()
}

/// `a`, `a and b`, `a, b and c`.
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The parts of a successful step attempt, in milliseconds: loading its inputs through their
/// IO managers, the asset's own code, hashing the value (its data version) and storing it.
/// The rest of the step's duration is the framework's: planning the step's inputs, the commit
/// and scheduling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StepPhases {
    pub load_ms: f64,
    pub compute_ms: f64,
    pub hash_ms: f64,
    pub store_ms: f64,
}

/// A committed value of an asset (partition).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Materialization {
    pub data_version: DataVersion,
    pub value_kind: ValueKind,
    pub io_manager: String,
    /// Where the IO manager put it (relative to its root); `None` for `Nothing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    pub provenance: Provenance,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// The result of one check evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckEvaluation {
    pub check: String,
    pub passed: bool,
    pub severity: Severity,
    pub blocking: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The version of the check that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_version: Option<String>,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    RunStarted {
        selection: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<String>,
        steps: u32,
        #[serde(default)]
        config: BTreeMap<String, String>,
        pid: u32,
        host: String,
        /// The process's start time as the OS reports it, to tell a live run from a dead one
        /// whose pid was reused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        process_start: Option<u64>,
        /// The backfill this run works for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backfill: Option<BackfillId>,
        /// The run this one resumes (`assets runs resume`): its completed steps are left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resumes: Option<String>,
        /// Labels the launcher gave the run (`--tag team=ml`), to find it by.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        tags: BTreeMap<String, String>,
    },
    /// Somebody asked a running run to stop (`assets runs cancel`); the process running it
    /// cancels it.
    RunCancelRequested,
    RunEnded {
        status: RunStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    StepStarted {
        attempt: u32,
    },
    StepSucceeded {
        duration_ms: f64,
        attempts: u32,
        /// Where the successful attempt's time went (absent in events written before 0.9).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phases: Option<StepPhases>,
    },
    StepFailed {
        error: String,
        attempt: u32,
        duration_ms: f64,
        /// Another attempt follows.
        retrying: bool,
        /// The attempt ran past the asset's timeout and was cancelled.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        timed_out: bool,
        /// The wait before the next attempt, when one follows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
    },
    StepSkipped {
        reason: String,
    },
    /// The step's inputs, code and config equal those of a committed materialization, which is
    /// reused; nothing ran.
    StepUpToDate {
        /// The event id of the reused materialization.
        materialization: i64,
        data_version: DataVersion,
    },
    /// An external asset's version, as its observer reported it.
    Observation {
        data_version: DataVersion,
        /// What the observer (or the system reporting it) said about it.
        #[serde(default, skip_serializing_if = "Metadata::is_empty")]
        metadata: Metadata,
    },
    Materialization(Materialization),
    CheckEvaluation(CheckEvaluation),
    Log {
        level: LogLevel,
        message: String,
    },
    /// The asset's materializations were wiped: it counts as never materialized.
    AssetWiped,
    /// What a code version of the asset was computed from, item by item (label → hash),
    /// recorded the first time a run meets that version: what lets staleness say *which* code
    /// changed.
    CodeVersion {
        code_version: String,
        items: BTreeMap<String, String>,
    },
    /// A backfill was requested: what it covers, recorded before any of its runs.
    BackfillRequested(BackfillRequest),
    /// A backfill moved to another state (`running`, `completed`, `failed`, `canceling`,
    /// `canceled`).
    BackfillUpdated {
        backfill: BackfillId,
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Keys were added to or removed from a dynamic partitions definition.
    DynamicPartitionsChanged {
        definition: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        added: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<String>,
    },
    /// A schedule was started or stopped.
    ScheduleStateChanged {
        schedule: String,
        running: bool,
    },
    /// A schedule tick: claimed by a daemon (the first claim of a tick wins), then launched,
    /// skipped or failed.
    ScheduleTick(ScheduleTick),
    /// A daemon is alive (or, with `stopping`, shut down cleanly).
    DaemonHeartbeat {
        daemon: String,
        pid: u32,
        host: String,
        #[serde(default)]
        stopping: bool,
    },
}

impl EventKind {
    /// Passes every free text the event carries — log lines, errors, reasons, messages,
    /// descriptions, text metadata — through `f` (which redacts secrets).
    pub fn redact(&mut self, f: &dyn Fn(&str) -> String) {
        let text = |s: &mut String| *s = f(s);
        let metadata = |m: &mut crate::model::spec::Metadata| {
            for v in m.values_mut() {
                v.redact(f);
            }
        };
        match self {
            EventKind::Log { message, .. } => text(message),
            EventKind::StepFailed { error, .. } => text(error),
            EventKind::StepSkipped { reason } => text(reason),
            EventKind::RunEnded {
                message: Some(m), ..
            }
            | EventKind::BackfillUpdated {
                message: Some(m), ..
            } => text(m),
            EventKind::CheckEvaluation(c) => {
                if let Some(d) = &mut c.description {
                    text(d);
                }
                metadata(&mut c.metadata);
            }
            EventKind::Materialization(m) => metadata(&mut m.metadata),
            EventKind::Observation { metadata: m, .. } => metadata(m),
            _ => {}
        }
    }
}

/// What a backfill covers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackfillRequest {
    pub backfill: BackfillId,
    pub selection: String,
    /// Partition arguments as `materialize` takes them (keys, `FROM...TO`, `*`).
    pub partitions: Vec<String>,
    /// `missing`, `failed` or `all`.
    pub reprocess: String,
    pub newest_first: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

impl ScheduleTick {
    /// A tick of `schedule` due at `tick` (UTC microseconds), in `state`, as `daemon` saw it.
    pub fn new(schedule: &str, tick: Timestamp, daemon: &str, state: &str) -> Self {
        ScheduleTick {
            schedule: schedule.to_owned(),
            tick,
            daemon: daemon.to_owned(),
            state: state.to_owned(),
            run_id: None,
            partition: None,
            message: None,
        }
    }
}

/// One tick of a schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleTick {
    pub schedule: String,
    /// When the tick was due, UTC microseconds.
    pub tick: Timestamp,
    pub daemon: String,
    /// `claimed`, `launched`, `succeeded`, `failed` or `skipped`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl EventKind {
    /// The short name stored in the `kind` column.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::RunStarted { .. } => "run_started",
            EventKind::RunEnded { .. } => "run_ended",
            EventKind::RunCancelRequested => "run_cancel_requested",
            EventKind::StepStarted { .. } => "step_started",
            EventKind::StepSucceeded { .. } => "step_succeeded",
            EventKind::StepFailed { .. } => "step_failed",
            EventKind::StepSkipped { .. } => "step_skipped",
            EventKind::StepUpToDate { .. } => "step_up_to_date",
            EventKind::Observation { .. } => "observation",
            EventKind::Materialization(_) => "materialization",
            EventKind::CheckEvaluation(_) => "check_evaluation",
            EventKind::Log { .. } => "log",
            EventKind::AssetWiped => "asset_wiped",
            EventKind::CodeVersion { .. } => "code_version",
            EventKind::BackfillRequested(_) => "backfill_requested",
            EventKind::BackfillUpdated { .. } => "backfill_updated",
            EventKind::DynamicPartitionsChanged { .. } => "dynamic_partitions_changed",
            EventKind::ScheduleStateChanged { .. } => "schedule_state_changed",
            EventKind::ScheduleTick(_) => "schedule_tick",
            EventKind::DaemonHeartbeat { .. } => "daemon_heartbeat",
        }
    }
}

/// One event, with where and when it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Assigned when the event is committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    pub timestamp: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionKey>,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    pub fn new(timestamp: Timestamp, kind: EventKind) -> Self {
        Event {
            id: None,
            run_id: None,
            timestamp,
            asset: None,
            partition: None,
            kind,
        }
    }

    pub fn run(mut self, run_id: &RunId) -> Self {
        self.run_id = Some(run_id.clone());
        self
    }

    pub fn asset(mut self, asset: &AssetKey, partition: Option<&PartitionKey>) -> Self {
        self.asset = Some(asset.clone());
        self.partition = partition.cloned();
        self
    }

    /// `asset` or `asset[partition]`, as logs and the CLI name a step.
    pub fn step_label(&self) -> Option<String> {
        let asset = self.asset.as_ref()?;
        Some(step_label(asset, self.partition.as_ref()))
    }
}

/// `asset` or `asset[partition]`.
pub fn step_label(asset: &AssetKey, partition: Option<&PartitionKey>) -> String {
    match partition {
        Some(p) => format!("{asset}[{p}]"),
        None => asset.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_a_type_tag() {
        let e = Event::new(5, EventKind::StepStarted { attempt: 1 })
            .asset(&AssetKey::parse("a").unwrap(), None);
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            r#"{"timestamp":5,"asset":"a","type":"step_started","attempt":1}"#
        );
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        assert_ne!(RunId::new().short(), RunId::new().short());
    }
}
