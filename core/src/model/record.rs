//! What the instance keeps of each asset partition now: its latest materialization, its last
//! failure, its checks' latest evaluations. Plain rows, read by planning, IO managers and the
//! status views alike; the instance fills them.

use crate::model::check::Severity;
use crate::model::clock::Timestamp;
use crate::model::event::RunId;
use crate::model::key::{AssetKey, DataVersion};
use crate::model::spec::PartitionKey;
use crate::model::value::ValueKind;

/// The latest committed materialization of one asset partition.
#[derive(Clone, Debug, PartialEq)]
pub struct LatestMaterialization {
    pub asset: AssetKey,
    pub partition: Option<PartitionKey>,
    pub event_id: i64,
    pub run_id: Option<RunId>,
    pub timestamp: Timestamp,
    pub data_version: DataVersion,
    pub code_version: Option<String>,
    pub value_kind: ValueKind,
    pub io_manager: String,
    pub location: Option<String>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

/// The last final failure of one asset partition.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureRecord {
    pub asset: AssetKey,
    pub partition: Option<PartitionKey>,
    pub event_id: i64,
    pub run_id: Option<RunId>,
    pub timestamp: Timestamp,
    pub error: String,
}

/// The latest evaluation of one check.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckStatus {
    pub asset: AssetKey,
    pub check: String,
    pub partition: Option<PartitionKey>,
    pub event_id: i64,
    pub run_id: Option<RunId>,
    pub timestamp: Timestamp,
    pub passed: bool,
    pub severity: Severity,
    pub description: Option<String>,
}
