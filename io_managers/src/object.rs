//! An IO manager over any `object_store` backend.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use stemma::io::{InputContext, IoManager, ObjectInfo, OutputContext, StoredObject};
use stemma::{Error, Result, Value};

use crate::format::{decode, encode, extension};
use crate::layout::{layout_root, object_path};

/// Tables and large blobs are encoded on a blocking thread above this size.
const ENCODE_INLINE_ROWS: usize = 16_384;

/// Stores values as objects in an `object_store`.
#[derive(Debug, Clone)]
pub struct ObjectStoreIoManager {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// For `describe` and for object addresses other tools can open.
    base: String,
    local_root: Option<PathBuf>,
}

impl ObjectStoreIoManager {
    /// Objects as files under `root` (created if missing).
    pub fn local(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| {
            Error::io(
                format!("creating the storage directory {}", root.display()),
                e,
            )
        })?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::io(format!("resolving {}", root.display()), e))?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .map_err(|e| Error::Storage(format!("opening {}: {e}", root.display())))?
            .with_automatic_cleanup(true);
        Ok(ObjectStoreIoManager {
            store: Arc::new(store),
            prefix: Path::default(),
            base: format!("file://{}", root.display()),
            local_root: Some(root),
        })
    }

    /// Objects in memory, gone when the process exits (for tests).
    pub fn memory() -> Self {
        ObjectStoreIoManager {
            store: Arc::new(InMemory::new()),
            prefix: Path::default(),
            base: "memory://".into(),
            local_root: None,
        }
    }

    /// Any store, with objects under `prefix`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path, base: impl Into<String>) -> Self {
        ObjectStoreIoManager {
            store,
            prefix,
            base: base.into(),
            local_root: None,
        }
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
}

#[async_trait]
impl IoManager for ObjectStoreIoManager {
    async fn handle_output(&self, ctx: &OutputContext<'_>, value: &Value) -> Result<StoredObject> {
        let Some(ext) = extension(value.kind()) else {
            return Ok(StoredObject {
                location: None,
                bytes: None,
            });
        };
        let path = object_path(
            &self.prefix,
            ctx.asset,
            ctx.partition,
            ctx.data_version,
            ext,
        );
        let bytes = if value.num_rows().is_some_and(|r| r > ENCODE_INLINE_ROWS) {
            let value = value.clone();
            tokio::task::spawn_blocking(move || encode(&value))
                .await
                .map_err(|e| Error::Internal(format!("encoding task failed: {e}")))??
        } else {
            encode(value)?
        };
        let len = bytes.len() as u64;
        let payload = PutPayload::from(bytes);
        let written = match self
            .store
            .put_opts(&path, payload.clone(), PutMode::Create.into())
            .await
        {
            // Objects are named by content: an existing one holds the same value. Write it
            // again (atomically) so that its modification time is fresh, and garbage
            // collection, which spares recent objects, cannot delete it before this run commits.
            Err(object_store::Error::AlreadyExists { .. }) => {
                self.store
                    .put_opts(&path, payload, PutMode::Overwrite.into())
                    .await
            }
            other => other,
        };
        let size = match written {
            Ok(_) => len,
            Err(e) => {
                return Err(Error::Storage(format!(
                    "writing {} to {}: {e}",
                    ctx.asset,
                    self.object_url(path.as_ref())
                )));
            }
        };
        Ok(StoredObject {
            location: Some(path.to_string()),
            bytes: Some(size),
        })
    }

    async fn load_input(&self, ctx: &InputContext<'_>) -> Result<Value> {
        let Some(location) = ctx.location else {
            return decode(ctx.kind, Bytes::new());
        };
        let path = Path::parse(location)
            .map_err(|e| Error::Storage(format!("invalid stored location {location:?}: {e}")))?;
        let bytes = match self.store.get(&path).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        }
        .map_err(|e| match e {
            object_store::Error::NotFound { .. } => Error::Storage(format!(
                "{} is missing from storage (was it deleted outside Stemma?)",
                self.object_url(location)
            )),
            other => Error::Storage(format!("reading {}: {other}", self.object_url(location))),
        })?;
        let kind = ctx.kind;
        let value = tokio::task::spawn_blocking(move || decode(kind, bytes))
            .await
            .map_err(|e| Error::Internal(format!("decoding task failed: {e}")))?
            .map_err(|e| Error::Storage(format!("decoding {}: {e}", self.object_url(location))))?;
        Ok(value)
    }

    async fn list_objects(&self) -> Result<Vec<ObjectInfo>> {
        let root = layout_root(&self.prefix);
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(|e| Error::Storage(format!("listing {}: {e}", self.describe())))?;
        Ok(listed
            .into_iter()
            .map(|m| ObjectInfo {
                location: m.location.to_string(),
                bytes: m.size,
                last_modified: m.last_modified.timestamp_micros(),
            })
            .collect())
    }

    async fn delete_object(&self, location: &str) -> Result<()> {
        let path = Path::parse(location)
            .map_err(|e| Error::Storage(format!("invalid stored location {location:?}: {e}")))?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::Storage(format!(
                "deleting {}: {e}",
                self.object_url(location)
            ))),
        }
    }

    fn describe(&self) -> String {
        self.base.clone()
    }

    fn object_url(&self, location: &str) -> String {
        match &self.local_root {
            Some(root) => root.join(location).display().to_string(),
            None => format!("{}/{location}", self.base.trim_end_matches('/')),
        }
    }
}
