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

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::event::RunId;
use crate::hash::DataVersion;
use crate::key::AssetKey;
use crate::spec::{AssetSpec, PartitionKey};
use crate::value::{Value, ValueKind};

/// What an IO manager knows when it stores a value.
#[derive(Debug)]
pub struct OutputContext<'a> {
    pub asset: &'a AssetKey,
    pub partition: Option<&'a PartitionKey>,
    pub spec: &'a AssetSpec,
    pub run_id: &'a RunId,
    /// The value's content hash; objects are named by it.
    pub data_version: &'a DataVersion,
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
}

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
    pub last_modified: crate::event::Timestamp,
}

/// Stores and loads asset values.
#[async_trait]
pub trait IoManager: Send + Sync + fmt::Debug {
    /// Writes `value` as a new object and returns where it is.
    async fn handle_output(&self, ctx: &OutputContext<'_>, value: &Value) -> Result<StoredObject>;

    /// Reads back the value a materialization recorded.
    async fn load_input(&self, ctx: &InputContext<'_>) -> Result<Value>;

    /// Every object this manager has stored (for garbage collection). Managers that cannot
    /// list say so, and garbage collection leaves them alone.
    async fn list_objects(&self) -> Result<Vec<ObjectInfo>> {
        Err(Error::Storage(format!(
            "{} cannot list its objects",
            self.describe()
        )))
    }

    /// Deletes one stored object (garbage collection calls this only for objects no retained
    /// materialization points to).
    async fn delete_object(&self, location: &str) -> Result<()> {
        Err(Error::Storage(format!(
            "{} cannot delete {location}",
            self.describe()
        )))
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
}

impl fmt::Debug for IoManagers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.by_key.iter()).finish()
    }
}
