//! The `IoManager` extension point: where asset values are stored and loaded from.
//!
//! Implementations live in `stemma-io` (Parquet/JSON/bytes over `object_store`); the engine
//! only sees `Arc<dyn IoManager>` looked up by the key an asset names (`"default"` unless it
//! says otherwise), registered explicitly at start-up.
//!
//! The contract:
//! * `handle_output` writes an object named by the value's content hash (`data_version`, which
//!   the engine computes from the value) and returns its location. An error or crash part-way
//!   leaves nothing visible; writing a name that exists replaces it atomically with the same
//!   content and refreshes its modification time (garbage collection spares recent objects).
//!   The object only becomes the asset's current value when the engine commits the
//!   materialization event.
//! * `list_objects` and `delete_object` let garbage collection find and remove objects no
//!   retained materialization points to.
//! * `load_input` reads back exactly what a recorded materialization points to.
//! * `publish_current` tells the manager which objects are an asset's current value, for
//!   readers that do not go through Stemma (a manifest beside the objects).
//! * `load_partitions` reads several partitions of one upstream at once, in the order given —
//!   all of them for an unpartitioned downstream, or a range. The default loads each part with
//!   `load_input` (concurrently) and combines them with [`Value::combine_partitions`]; a store
//!   may do better. A missing part is an error that names the partition.
//!
//! Every context carries the asset's key, its partition (or the partitions), and the asset's
//! definition where the graph has it: `spec.metadata` is the definition's metadata and
//! `spec.schema` the declared Arrow schema. The engine checks a table against the declared
//! schema before `handle_output` is called, so a manager never stores a value that does not
//! conform. `OutputContext::metadata` is the output's own metadata (row count, columns, and
//! whatever the body added).
//!
//! `stemma_io::conformance` is the suite every implementation is expected to pass.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;

use crate::model::error::{Error, Result};
use crate::model::event::RunId;
use crate::model::key::AssetKey;
use crate::model::key::DataVersion;
use crate::model::spec::{AssetSpec, Metadata, PartitionKey};
use crate::model::value::{Value, ValueKind};

/// What an IO manager knows when it stores a value.
#[derive(Debug)]
pub struct OutputContext<'a> {
    pub asset: &'a AssetKey,
    pub partition: Option<&'a PartitionKey>,
    pub spec: &'a AssetSpec,
    pub run_id: &'a RunId,
    /// The value's content hash; objects are named by it.
    pub data_version: &'a DataVersion,
    /// The output's metadata: what the engine measured and what the body added.
    pub metadata: &'a Metadata,
}

/// What an IO manager knows when it loads a value.
#[derive(Debug)]
pub struct InputContext<'a> {
    pub asset: &'a AssetKey,
    pub partition: Option<&'a PartitionKey>,
    pub kind: ValueKind,
    pub data_version: &'a DataVersion,
    /// Where `handle_output` said it put the value.
    pub location: Option<&'a str>,
    /// The asset that reads it, if any.
    pub downstream: Option<&'a AssetKey>,
    /// The stored asset's definition, when the loaded graph still has it.
    pub spec: Option<&'a AssetSpec>,
}

impl<'a> InputContext<'a> {
    /// The context for loading what materialization `m` recorded, for `downstream`, with the
    /// asset's definition `spec` when the loaded graph still has it.
    pub fn of(
        m: &'a crate::model::record::LatestMaterialization,
        spec: Option<&'a AssetSpec>,
        downstream: Option<&'a AssetKey>,
    ) -> Self {
        InputContext {
            asset: &m.asset,
            partition: m.partition.as_ref(),
            kind: m.value_kind,
            data_version: &m.data_version,
            location: m.location.as_deref(),
            downstream,
            spec,
        }
    }
}

/// One stored partition of an upstream, as its materialization recorded it.
#[derive(Debug, Clone, Copy)]
pub struct StoredPart<'a> {
    pub partition: &'a PartitionKey,
    pub data_version: &'a DataVersion,
    pub location: Option<&'a str>,
}

/// What an IO manager knows when it loads several partitions of one asset as one value.
#[derive(Debug)]
pub struct PartitionsContext<'a> {
    pub asset: &'a AssetKey,
    pub kind: ValueKind,
    /// In the order they are to be combined (the partitions definition's order).
    pub parts: &'a [StoredPart<'a>],
    pub downstream: Option<&'a AssetKey>,
    pub spec: Option<&'a AssetSpec>,
}

impl PartitionsContext<'_> {
    /// The context for loading one of the parts alone.
    pub fn part(&self, i: usize) -> InputContext<'_> {
        let part = &self.parts[i];
        InputContext {
            asset: self.asset,
            partition: Some(part.partition),
            kind: self.kind,
            data_version: part.data_version,
            location: part.location,
            downstream: self.downstream,
            spec: self.spec,
        }
    }
}

/// How many parts the default `load_partitions` loads at once.
const PART_LOADS_AT_ONCE: usize = 8;

/// Where a stored value went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Relative to the IO manager's root; `None` when nothing was written.
    pub location: Option<String>,
    pub bytes: Option<u64>,
}

/// One object an IO manager holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// As `handle_output` returned it.
    pub location: String,
    pub bytes: u64,
    pub last_modified: crate::model::clock::Timestamp,
}

/// One stored object that is (a partition of) an asset's current value.
#[derive(Debug, Clone)]
pub struct CurrentObject<'a> {
    pub partition: Option<&'a PartitionKey>,
    /// As `handle_output` returned it.
    pub location: &'a str,
    pub data_version: &'a DataVersion,
    pub run_id: Option<&'a RunId>,
    pub materialized_at: crate::model::clock::Timestamp,
}

/// Stores and loads asset values.
#[async_trait]
pub trait IoManager: Send + Sync + fmt::Debug {
    /// Writes `value` as a new object and returns where it is.
    async fn handle_output(&self, ctx: &OutputContext<'_>, value: &Value) -> Result<StoredObject>;

    /// Reads back the value a materialization recorded.
    async fn load_input(&self, ctx: &InputContext<'_>) -> Result<Value>;

    /// Reads several partitions of one asset as one value (tables concatenated in the given
    /// order, JSON keyed by partition).
    async fn load_partitions(&self, ctx: &PartitionsContext<'_>) -> Result<Value> {
        let loaded: Vec<Result<Value>> = futures::stream::iter(0..ctx.parts.len())
            .map(|i| async move {
                self.load_input(&ctx.part(i)).await.map_err(|e| {
                    Error::storage_from(
                        format!("partition {} of {}", ctx.parts[i].partition, ctx.asset),
                        e,
                    )
                })
            })
            .buffered(PART_LOADS_AT_ONCE)
            .collect()
            .await;
        let mut parts = Vec::with_capacity(loaded.len());
        for (part, value) in ctx.parts.iter().zip(loaded) {
            parts.push((part.partition.to_string(), value?));
        }
        Value::combine_partitions(parts)
    }

    /// Every object this manager has stored (for garbage collection). Managers that cannot
    /// list say so, and garbage collection leaves them alone.
    async fn list_objects(&self) -> Result<Vec<ObjectInfo>> {
        Err(Error::storage(format!(
            "{} cannot list its objects",
            self.describe()
        )))
    }

    /// Deletes one stored object (garbage collection calls this only for objects no retained
    /// materialization points to).
    async fn delete_object(&self, location: &str) -> Result<()> {
        Err(Error::storage(format!(
            "{} cannot delete {location}",
            self.describe()
        )))
    }

    /// Says which of its objects are `asset`'s current value now (every current partition, in
    /// the definition's order; none after a wipe), so that tools reading the storage without
    /// Stemma find the current version among the older ones kept beside it. Called when a run
    /// that materialized the asset ends, and after a wipe; an error is reported and never
    /// fails the run. The default keeps nothing.
    async fn publish_current(&self, asset: &AssetKey, current: &[CurrentObject<'_>]) -> Result<()> {
        let _ = (asset, current);
        Ok(())
    }

    /// Where this manager keeps things, for people (`file:///…/storage`).
    fn describe(&self) -> String;

    /// An address for a stored object that other tools can open (a path or URL).
    fn object_url(&self, location: &str) -> String {
        format!("{}/{location}", self.describe().trim_end_matches('/'))
    }
}

/// IO managers by key.
#[derive(Clone, Default)]
pub struct IoManagers {
    by_key: BTreeMap<String, Arc<dyn IoManager>>,
}

impl IoManagers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(mut self, key: impl Into<String>, manager: Arc<dyn IoManager>) -> Self {
        self.by_key.insert(key.into(), manager);
        self
    }

    pub fn get(&self, key: &str) -> Result<&Arc<dyn IoManager>> {
        self.by_key.get(key).ok_or_else(|| {
            let known: Vec<&str> = self.by_key.keys().map(String::as_str).collect();
            Error::Definition(format!(
                "no IO manager is registered under {key:?} (registered: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.by_key.keys().map(String::as_str)
    }

    /// Every manager with its key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<dyn IoManager>)> {
        self.by_key.iter().map(|(k, m)| (k.as_str(), m))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }
}

/// Builds an IO manager from a URL and its options (`stemma.toml`'s `[io_managers.KEY]`).
pub type IoManagerFactory =
    Arc<dyn Fn(&str, &BTreeMap<String, String>) -> Result<Arc<dyn IoManager>> + Send + Sync>;

/// The URL schemes a code location builds IO managers for, each with its factory.
#[derive(Clone, Default)]
pub struct IoSchemes {
    by_scheme: BTreeMap<String, IoManagerFactory>,
}

impl IoSchemes {
    pub fn register(&mut self, scheme: impl Into<String>, factory: IoManagerFactory) {
        self.by_scheme.insert(scheme.into(), factory);
    }

    /// The factory for `url`'s scheme (`vecdb` of `vecdb://host/db`), if one is registered.
    pub fn for_url(&self, url: &str) -> Option<&IoManagerFactory> {
        let (scheme, _) = url.split_once("://")?;
        self.by_scheme.get(scheme)
    }
}

impl fmt::Debug for IoSchemes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_scheme.keys()).finish()
    }
}

impl fmt::Debug for IoManagers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.by_key.iter()).finish()
    }
}
