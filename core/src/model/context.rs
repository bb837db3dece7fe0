//! What an asset's function sees: `ctx.log`, `ctx.add_metadata`, `ctx.partition_key()`,
//! `ctx.config()`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::model::config::{ConfigView, RunConfig};
use crate::model::event::{LogLevel, RunId};
use crate::model::key::AssetKey;
use crate::model::spec::{Metadata, MetadataValue, PartitionKey};

/// Receives a step's log lines.
pub(crate) type LogSink = Arc<dyn Fn(LogLevel, String) + Send + Sync>;

/// Logs from an asset body into the step's event log and the live terminal view, like
/// Dagster's `context.log`.
#[derive(Clone)]
pub struct StepLogger {
    sink: LogSink,
}

impl StepLogger {
    pub(crate) fn new(sink: LogSink) -> Self {
        StepLogger { sink }
    }

    /// A logger whose lines go nowhere (observations outside a run).
    pub(crate) fn discard() -> Self {
        StepLogger {
            sink: Arc::new(|_, _| {}),
        }
    }

    pub fn log(&self, level: LogLevel, message: impl fmt::Display) {
        (self.sink)(level, message.to_string());
    }
    pub fn debug(&self, message: impl fmt::Display) {
        self.log(LogLevel::Debug, message);
    }
    pub fn info(&self, message: impl fmt::Display) {
        self.log(LogLevel::Info, message);
    }
    pub fn warn(&self, message: impl fmt::Display) {
        self.log(LogLevel::Warn, message);
    }
    pub fn error(&self, message: impl fmt::Display) {
        self.log(LogLevel::Error, message);
    }
}

impl fmt::Debug for StepLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StepLogger")
    }
}

struct Inner {
    asset: AssetKey,
    partition: Option<PartitionKey>,
    run_id: RunId,
    config: RunConfig,
    config_reads: Mutex<crate::model::config::ConfigReads>,
    metadata: Mutex<Metadata>,
}

/// The context of one step (or one check evaluation). Cheap to clone.
#[derive(Clone)]
pub struct AssetContext {
    inner: Arc<Inner>,
    /// Log lines go to the step's events and the live view.
    pub log: StepLogger,
}

impl AssetContext {
    pub(crate) fn new(
        asset: AssetKey,
        partition: Option<PartitionKey>,
        run_id: RunId,
        config: RunConfig,
        log: StepLogger,
    ) -> Self {
        AssetContext {
            inner: Arc::new(Inner {
                asset,
                partition,
                run_id,
                config,
                config_reads: Mutex::new(BTreeMap::new()),
                metadata: Mutex::new(Metadata::new()),
            }),
            log,
        }
    }

    /// The asset being materialized (or checked).
    pub fn asset_key(&self) -> &AssetKey {
        &self.inner.asset
    }

    /// The partition being materialized; `None` for an unpartitioned asset.
    pub fn partition_key(&self) -> Option<&str> {
        self.inner.partition.as_ref().map(PartitionKey::as_str)
    }

    pub fn run_id(&self) -> &RunId {
        &self.inner.run_id
    }

    /// The run's config; what the asset reads is recorded in its provenance.
    pub fn config(&self) -> ConfigView<'_> {
        ConfigView::new(&self.inner.config, &self.inner.config_reads)
    }

    /// Attaches a metadata entry to this materialization (or check evaluation).
    pub fn add_metadata(&self, key: impl Into<String>, value: impl Into<MetadataValue>) {
        if let Ok(mut m) = self.inner.metadata.lock() {
            m.insert(key.into(), value.into());
        }
    }

    pub(crate) fn take_metadata(&self) -> Metadata {
        self.inner
            .metadata
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }

    pub(crate) fn config_reads(&self) -> crate::model::config::ConfigReads {
        self.inner
            .config_reads
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

impl fmt::Debug for AssetContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssetContext")
            .field("asset", &self.inner.asset)
            .field("partition", &self.inner.partition)
            .field("run_id", &self.inner.run_id)
            .finish_non_exhaustive()
    }
}
