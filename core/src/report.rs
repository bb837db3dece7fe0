//! Events reported from outside: another system tells Stemma that an asset was observed at a
//! version, materialized (an external asset), or passed or failed a check, so that Stemma's
//! lineage and staleness follow what happens beyond its own runs — Dagster's
//! `report_runless_asset_event`, reachable over HTTP.

use crate::engine::Engine;
use crate::hash::DataVersion;
use crate::model::check::Severity;
use crate::model::error::{Error, Result};
use crate::model::event::{CheckEvaluation, Event, EventKind, Materialization, Provenance};
use crate::model::spec::{Metadata, PartitionKey};
use crate::model::value::ValueKind;

/// What happened to the asset.
#[derive(Debug, Clone)]
pub enum Reported {
    /// The asset is at `version` (any text: an ETag, a date, a hash) now.
    Observation { version: String },
    /// An external asset was materialized at `version` by the system reporting it.
    Materialization { version: String, rows: Option<u64> },
    /// A check of the asset passed or failed.
    Check {
        check: String,
        passed: bool,
        severity: Severity,
        description: Option<String>,
    },
}

/// A report about one asset (partition), with metadata.
#[derive(Debug, Clone)]
pub struct Report {
    pub asset: String,
    pub partition: Option<String>,
    pub what: Reported,
    pub metadata: Metadata,
}

/// The data version a reported version becomes: the same recipe an observer's token goes
/// through, so a report and an observation of the same version agree.
pub fn reported_version(version: &str) -> DataVersion {
    let mut h = crate::hash::StableHasher::new("stemma.observation.v1");
    h.str(version);
    DataVersion::from_hex(h.finish_hex().as_str())
}

impl Engine {
    /// Records `report`; returns the event it was recorded as. Bad input (an unknown asset or
    /// partition, an empty version, a materialization of an asset Stemma computes) records
    /// nothing.
    pub async fn report(&self, report: Report) -> Result<Event> {
        let graph = self.graph();
        let node = graph.lookup(&report.asset)?;
        let key = graph.key(node).clone();
        graph.partition_index(node, report.partition.as_deref())?;
        let partition = report
            .partition
            .as_deref()
            .map(PartitionKey::new)
            .transpose()
            .map_err(|e| Error::Config(format!("partition of {key}: {e}")))?;
        let version = |v: &str| {
            if v.trim().is_empty() {
                Err(Error::Config(format!(
                    "the reported version of {key} is empty"
                )))
            } else {
                Ok(reported_version(v))
            }
        };
        let kind = match report.what {
            Reported::Observation { version: v } => EventKind::Observation {
                data_version: version(&v)?,
                metadata: report.metadata,
            },
            Reported::Materialization { version: v, rows } => {
                if !graph.asset(node).is_external() {
                    return Err(Error::Conflict(format!(
                        "{key} is computed by Stemma: a materialization reported from outside \
                         would have no stored value for its readers to load; report an \
                         observation, or declare {key} external"
                    )));
                }
                EventKind::Materialization(Materialization {
                    data_version: version(&v)?,
                    value_kind: ValueKind::Nothing,
                    io_manager: String::new(),
                    location: None,
                    rows,
                    bytes: None,
                    provenance: Provenance::default(),
                    metadata: report.metadata,
                })
            }
            Reported::Check {
                check,
                passed,
                severity,
                description,
            } => {
                if check.trim().is_empty() {
                    return Err(Error::Config(format!("a check of {key} needs a name")));
                }
                EventKind::CheckEvaluation(CheckEvaluation {
                    check,
                    passed,
                    severity,
                    blocking: false,
                    description,
                    code_version: None,
                    metadata: report.metadata,
                })
            }
        };
        let mut event = Event::new(self.now(), kind).asset(&key, partition.as_ref());
        let ids = self.instance().append(vec![event.clone()]).await?;
        event.id = ids.first().copied();
        Ok(event)
    }
}
