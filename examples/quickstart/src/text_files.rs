//! `TextFiles`, an IO manager of this code location's own: JSON values become pretty-printed
//! `.json` files and bytes `.bin` files that people open with anything, one per asset, partition
//! and data version under a folder; tables go to Parquet through Stemma's own file store in the
//! same folder. `main` registers it under `"text"`, and `#[asset(io_manager = "text")]` stores
//! through it.
//!
//! It passes `stemma_io::conformance`, the suite every IO manager is held to (`tests/cli.rs`).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use stemma::io::{InputContext, IoManager, ObjectInfo, OutputContext, StoredObject};
use stemma::{Error, Result, Value, ValueKind};
use stemma_io::ObjectStoreIoManager;

/// Where tables go, inside the folder.
const TABLES: &str = "tables";

/// JSON and bytes as files under one folder; tables as Parquet beside them.
#[derive(Debug)]
pub struct TextFiles {
    root: PathBuf,
    tables: ObjectStoreIoManager,
}

impl TextFiles {
    /// Keeps its files under `root` (created if needed).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| Error::io(format!("creating {}", root.display()), e))?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::io(format!("resolving {}", root.display()), e))?;
        let tables = ObjectStoreIoManager::local(root.join(TABLES))?;
        Ok(TextFiles { root, tables })
    }

    fn file(&self, location: &str) -> PathBuf {
        self.root.join(location)
    }

    /// The location inside the table store, if `location` is a table's.
    fn table_location(location: &str) -> Option<&str> {
        location.strip_prefix(TABLES)?.strip_prefix('/')
    }
}

/// Runs file work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

#[async_trait]
impl IoManager for TextFiles {
    async fn handle_output(&self, ctx: &OutputContext<'_>, value: &Value) -> Result<StoredObject> {
        let (extension, bytes) = match value {
            Value::Table(_) => {
                let stored = self.tables.handle_output(ctx, value).await?;
                return Ok(StoredObject {
                    location: stored.location.map(|l| format!("{TABLES}/{l}")),
                    bytes: stored.bytes,
                });
            }
            Value::Json(json) => (
                "json",
                serde_json::to_vec_pretty(json)
                    .map_err(|e| Error::Internal(format!("{}: {e}", ctx.asset)))?,
            ),
            Value::Bytes(bytes) => ("bin", bytes.to_vec()),
            Value::Nothing => {
                return Ok(StoredObject {
                    location: None,
                    bytes: Some(0),
                });
            }
            other => {
                return Err(Error::storage(format!(
                    "{}: TextFiles stores tables, JSON and bytes, not {}",
                    ctx.asset,
                    other.kind()
                )));
            }
        };
        let partition = ctx.partition.map_or("_", |p| p.as_str());
        let location = format!(
            "{}/{partition}/{}.{extension}",
            ctx.asset.as_str(),
            ctx.data_version.as_str()
        );
        let path = self.file(&location);
        let len = bytes.len() as u64;
        // Written beside, then renamed: a reader never sees half a file.
        blocking(move || {
            std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
            let partial = path.with_extension("partial");
            std::fs::write(&partial, &bytes)?;
            std::fs::rename(&partial, &path)
        })
        .await
        .map_err(|e| Error::storage_from(format!("writing {} to {location}", ctx.asset), e))?;
        Ok(StoredObject {
            location: Some(location),
            bytes: Some(len),
        })
    }

    async fn load_input(&self, ctx: &InputContext<'_>) -> Result<Value> {
        let Some(location) = ctx.location else {
            return match ctx.kind {
                ValueKind::Nothing => Ok(Value::Nothing),
                kind => Err(Error::storage(format!(
                    "{}: a {kind} value without a stored location",
                    ctx.asset
                ))),
            };
        };
        if ctx.kind == ValueKind::Table {
            let inner = Self::table_location(location).unwrap_or(location);
            return self
                .tables
                .load_input(&InputContext {
                    location: Some(inner),
                    ..*ctx
                })
                .await;
        }
        let path = self.file(location);
        let shown = path.display().to_string();
        let bytes = blocking(move || std::fs::read(path)).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::storage(format!("{shown} is missing (was it deleted?)"))
            } else {
                Error::storage_from(format!("reading {shown}"), e)
            }
        })?;
        match ctx.kind {
            ValueKind::Json => serde_json::from_slice(&bytes)
                .map(Value::Json)
                .map_err(|e| Error::storage_from(format!("decoding {location}"), e)),
            ValueKind::Bytes => Ok(Value::Bytes(bytes.into())),
            ValueKind::Nothing => Ok(Value::Nothing),
            kind => Err(Error::storage(format!(
                "{location}: TextFiles does not store {kind} values"
            ))),
        }
    }

    async fn list_objects(&self) -> Result<Vec<ObjectInfo>> {
        let mut out: Vec<ObjectInfo> = self
            .tables
            .list_objects()
            .await?
            .into_iter()
            .map(|o| ObjectInfo {
                location: format!("{TABLES}/{}", o.location),
                ..o
            })
            .collect();
        let root = self.root.clone();
        let files = blocking(move || list_files(&root))
            .await
            .map_err(|e| Error::storage_from(format!("listing {}", self.root.display()), e))?;
        out.extend(files);
        Ok(out)
    }

    async fn delete_object(&self, location: &str) -> Result<()> {
        if let Some(inner) = Self::table_location(location) {
            return self.tables.delete_object(inner).await;
        }
        let path = self.file(location);
        match blocking(move || std::fs::remove_file(path)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::storage_from(format!("deleting {location}"), e)),
        }
    }

    fn describe(&self) -> String {
        format!("text files in {}", self.root.display())
    }

    fn object_url(&self, location: &str) -> String {
        self.file(location).display().to_string()
    }
}

/// The `.json` and `.bin` files under `root` (the table store's folder left out).
fn list_files(root: &Path) -> std::io::Result<Vec<ObjectInfo>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if path.is_dir() {
                if path != root.join(TABLES) {
                    stack.push(path);
                }
                continue;
            }
            let is_value = path.extension().is_some_and(|e| e == "json" || e == "bin");
            if !is_value {
                continue;
            }
            let meta = entry.metadata()?;
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_micros() as i64);
            out.push(ObjectInfo {
                location: path
                    .strip_prefix(root)
                    .expect("under the root")
                    .display()
                    .to_string(),
                bytes: meta.len(),
                last_modified: modified,
            });
        }
    }
    Ok(out)
}
