//! An IO manager over any `object_store` backend.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use stemma::io::{CurrentObject, InputContext, IoManager, ObjectInfo, OutputContext, StoredObject};
use stemma::{AssetKey, Error, Result, Value};

use crate::format::{decode, encode_with, extension};
use crate::layout::{layout_root, manifest_path, object_path};

/// Tables and large blobs are encoded on a blocking thread above this size.
const ENCODE_INLINE_ROWS: usize = 16_384;

/// Stores values as objects in an `object_store`.
#[derive(Debug, Clone)]
pub struct ObjectStoreIoManager {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// The store's URL, for `describe` (`s3://bucket/prefix`).
    url: String,
    /// What object locations (which include `prefix`) are appended to for addresses other
    /// tools can open (`s3://bucket`).
    object_base: String,
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
            .map_err(|e| Error::storage_from(format!("opening {}", root.display()), e))?
            .with_automatic_cleanup(true);
        let url = format!("file://{}", root.display());
        Ok(ObjectStoreIoManager {
            store: Arc::new(store),
            prefix: Path::default(),
            object_base: url.clone(),
            url,
            local_root: Some(root),
        })
    }

    /// Objects in memory, gone when the process exits (for tests).
    pub fn memory() -> Self {
        ObjectStoreIoManager {
            store: Arc::new(InMemory::new()),
            prefix: Path::default(),
            url: "memory://".into(),
            object_base: "memory://".into(),
            local_root: None,
        }
    }

    /// Any store, with objects under `prefix`. `base` is the store's address without the
    /// prefix (`s3://bucket`), so that `base/location` opens an object.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path, base: impl Into<String>) -> Self {
        let object_base: String = base.into();
        let url = if prefix.as_ref().is_empty() {
            object_base.clone()
        } else {
            format!("{}/{prefix}", object_base.trim_end_matches('/'))
        };
        ObjectStoreIoManager {
            store,
            prefix,
            url,
            object_base,
            local_root: None,
        }
    }

    /// The store a URL names:
    ///
    /// * `file:///abs/path` — files under that directory;
    /// * `memory://` — memory, gone when the process exits;
    /// * `s3://bucket/prefix` — any S3-compatible service. Credentials, region and endpoint
    ///   come from the usual `AWS_*` variables and from `options` (`endpoint`, `region`,
    ///   `access_key_id`, `secret_access_key`, `allow_http`, … as `object_store` names them),
    ///   options winning.
    pub fn from_url(url: &str, options: &BTreeMap<String, String>) -> Result<Self> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::Config(format!("storage URL {url:?} is not a URL: {e}")))?;
        let no_options = |scheme: &str| -> Result<()> {
            match options.keys().next() {
                Some(k) => Err(Error::Config(format!(
                    "storage option {k:?} does not apply to {scheme}:// storage"
                ))),
                None => Ok(()),
            }
        };
        match parsed.scheme() {
            "file" => {
                no_options("file")?;
                let path = parsed.to_file_path().map_err(|()| {
                    Error::Config(format!(
                        "storage URL {url:?} is not an absolute file path (file:///abs/path)"
                    ))
                })?;
                Self::local(path)
            }
            "memory" => {
                no_options("memory")?;
                Ok(Self::memory())
            }
            "s3" | "s3a" => {
                let bucket = parsed.host_str().unwrap_or_default();
                if bucket.is_empty() {
                    return Err(Error::Config(format!(
                        "storage URL {url:?} names no bucket (s3://bucket/prefix)"
                    )));
                }
                let mut builder = AmazonS3Builder::from_env().with_url(url);
                for (key, value) in options {
                    let config: AmazonS3ConfigKey =
                        key.to_ascii_lowercase().parse().map_err(|_| {
                            Error::Config(format!(
                                "unknown S3 storage option {key:?} (for example: endpoint, region, \
                                 access_key_id, secret_access_key, allow_http)"
                            ))
                        })?;
                    builder = builder.with_config(config, value);
                }
                let store = builder
                    .build()
                    .map_err(|e| Error::Config(format!("storage {url}: {e}")))?;
                let prefix = Path::parse(parsed.path().trim_matches('/')).map_err(|e| {
                    Error::Config(format!("storage URL {url:?} has an invalid prefix: {e}"))
                })?;
                Ok(Self::new(
                    Arc::new(store),
                    prefix,
                    format!("{}://{bucket}", parsed.scheme()),
                ))
            }
            other => Err(Error::Config(format!(
                "storage URL {url:?}: unsupported scheme {other}:// (use file://, memory:// or s3://)"
            ))),
        }
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Where in the store objects go.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The same manager writing through `store` instead (a wrapper such as
    /// [`FaultyStore`](crate::faults::FaultyStore) around the original).
    pub fn with_store(mut self, store: Arc<dyn ObjectStore>) -> Self {
        self.store = store;
        self
    }
}

/// What a stored Parquet file says of itself, in its key-value metadata. A file rewritten
/// under its own name by a later run (the same content) names that run.
fn stored_facts(ctx: &OutputContext<'_>) -> Vec<(String, String)> {
    let mut facts = vec![
        ("stemma.asset_key".to_owned(), ctx.asset.to_string()),
        (
            "stemma.data_version".to_owned(),
            ctx.data_version.as_str().to_owned(),
        ),
        ("stemma.run_id".to_owned(), ctx.run_id.to_string()),
    ];
    if let Some(p) = ctx.partition {
        facts.push(("stemma.partition".to_owned(), p.to_string()));
    }
    if let Some(code) = &ctx.spec.code_version {
        facts.push(("stemma.code_version".to_owned(), code.clone()));
    }
    facts
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
        let facts = stored_facts(ctx);
        let bytes = if value.num_rows().is_some_and(|r| r > ENCODE_INLINE_ROWS) {
            let value = value.clone();
            tokio::task::spawn_blocking(move || encode_with(&value, &facts))
                .await
                .map_err(|e| Error::Internal(format!("encoding task failed: {e}")))??
        } else {
            encode_with(value, &facts)?
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
                return Err(Error::storage_from(
                    format!(
                        "writing {} to {}",
                        ctx.asset,
                        self.object_url(path.as_ref())
                    ),
                    e,
                ));
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
            .map_err(|e| Error::storage_from(format!("invalid stored location {location:?}"), e))?;
        let bytes = match self.store.get(&path).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        }
        .map_err(|e| match e {
            object_store::Error::NotFound { .. } => Error::storage(format!(
                "{} is missing from storage (was it deleted outside Stemma?)",
                self.object_url(location)
            )),
            other => Error::storage_from(format!("reading {}", self.object_url(location)), other),
        })?;
        let kind = ctx.kind;
        let value = tokio::task::spawn_blocking(move || decode(kind, bytes))
            .await
            .map_err(|e| Error::Internal(format!("decoding task failed: {e}")))?
            .map_err(|e| {
                Error::storage_from(format!("decoding {}", self.object_url(location)), e)
            })?;
        Ok(value)
    }

    async fn list_objects(&self) -> Result<Vec<ObjectInfo>> {
        let root = layout_root(&self.prefix);
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(|e| Error::storage_from(format!("listing {}", self.describe()), e))?;
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
            .map_err(|e| Error::storage_from(format!("invalid stored location {location:?}"), e))?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::storage_from(
                format!("deleting {}", self.object_url(location)),
                e,
            )),
        }
    }

    /// Writes `current/<asset key>.json` beside the layout (replaced whole, atomically): a
    /// JSON array with one object per current partition — `file` (a path or URL other tools
    /// open), `partition`, `data_version`, `run_id`, `materialized_at`. A wiped asset's
    /// manifest is removed.
    async fn publish_current(&self, asset: &AssetKey, current: &[CurrentObject<'_>]) -> Result<()> {
        let path = manifest_path(&self.prefix, asset);
        if current.is_empty() {
            return match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(Error::storage_from(
                    format!("removing {}", self.object_url(path.as_ref())),
                    e,
                )),
            };
        }
        let entries: Vec<serde_json::Value> = current
            .iter()
            .map(|o| {
                serde_json::json!({
                    "asset": asset.as_str(),
                    "partition": o.partition.map(|p| p.as_str()),
                    "file": self.object_url(o.location),
                    "data_version": o.data_version.as_str(),
                    "run_id": o.run_id.map(|r| r.as_str()),
                    "materialized_at": chrono::DateTime::from_timestamp_micros(o.materialized_at)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                })
            })
            .collect();
        let bytes = serde_json::to_vec_pretty(&entries)
            .map_err(|e| Error::Internal(format!("manifest of {asset}: {e}")))?;
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| {
                Error::storage_from(format!("writing {}", self.object_url(path.as_ref())), e)
            })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    fn object_url(&self, location: &str) -> String {
        match &self.local_root {
            Some(root) => root.join(location).display().to_string(),
            None => format!("{}/{location}", self.object_base.trim_end_matches('/')),
        }
    }
}
