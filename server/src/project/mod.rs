//! Building an [`Engine`](stemma::Engine) for a code location: the SQLite instance in `$STEMMA_HOME` (default
//! `./.stemma`) and the IO managers the project config (`stemma.toml`) names — by default one,
//! Parquet/JSON/bytes files under `$STEMMA_HOME/storage`.
//!
//! ```toml
//! # stemma.toml, next to the code location
//! [storage]                      # the "default" IO manager
//! url = "s3://lake/stemma"       # file:///abs/path, a path relative to this file, memory://, s3://bucket/prefix
//! [storage.options]              # object_store's S3 options; AWS_* variables are read too
//! endpoint = "http://127.0.0.1:9000"
//! allow_http = true
//!
//! [io_managers.models]           # assets with io_manager = "models"
//! url = "file:///data/models"
//! ```
//!
//! The file is `--project FILE`, else `$STEMMA_PROJECT`, else `./stemma.toml` if it exists,
//! else the `stemma.toml` beside the code location's `Cargo.toml` under `cargo run`.
//! `--storage URL` (or `$STEMMA_STORAGE`) overrides the default storage URL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use stemma::io::{IoManager, IoSchemes};
use stemma::{Error, IoManagers, Result};
use stemma_io::ObjectStoreIoManager;

pub mod alerts;
mod open;
pub mod openlineage;
pub mod tokens;

pub use open::{clock_from_env, open_engine, open_engine_for, open_engine_with};

/// `$STEMMA_HOME`, or `.stemma` in the current directory.
pub fn default_home() -> PathBuf {
    std::env::var_os("STEMMA_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(".stemma"), PathBuf::from)
}

/// Where one IO manager keeps its objects.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub url: String,
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
}

/// The `[server]` table of `stemma.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default)]
    pub tokens: Vec<tokens::TokenConfig>,
}

/// The project config, `stemma.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// The default IO manager; `None`: files under `$STEMMA_HOME/storage`.
    pub storage: Option<StorageConfig>,
    /// More IO managers, by the key assets name.
    #[serde(default)]
    pub io_managers: BTreeMap<String, StorageConfig>,
    /// Concurrency pool limits (`[pools]` then `openai-api = 2`): written to the instance
    /// whenever the project opens it, so the file stays the truth for the pools it names.
    #[serde(default)]
    pub pools: BTreeMap<String, u32>,
    /// The most runs at once on the instance; more wait (`assets pools max-runs N` when unset).
    #[serde(default)]
    pub max_concurrent_runs: Option<u32>,
    /// How long a pool slot outlives a process that died holding it (default 60).
    #[serde(default)]
    pub pool_lease_seconds: Option<u64>,
    /// Webhooks and commands told when runs fail (`[[alerts]]`).
    #[serde(default)]
    pub alerts: Vec<alerts::AlertConfig>,
    /// Where OpenLineage events go (`[openlineage]`).
    #[serde(default)]
    pub openlineage: Option<openlineage::OpenLineageConfig>,
    /// What `assets serve` reads: its tokens (`[[server.tokens]]`).
    #[serde(default)]
    pub server: ServerConfig,
    /// Where relative paths in the file are relative to.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl ProjectConfig {
    /// Reads `path`; `None`: `./stemma.toml`, else `stemma.toml` next to the code location's
    /// `Cargo.toml` when it runs under `cargo run` (`$CARGO_MANIFEST_DIR`), else the defaults.
    pub fn load(path: Option<&Path>) -> Result<ProjectConfig> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => {
                let beside_manifest = std::env::var_os("CARGO_MANIFEST_DIR")
                    .map(|d| PathBuf::from(d).join("stemma.toml"))
                    .filter(|p| p.is_file());
                let here = PathBuf::from("stemma.toml");
                match beside_manifest {
                    Some(p) if !here.is_file() => (p, false),
                    _ => (here, false),
                }
            }
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ProjectConfig::default());
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let mut config: ProjectConfig =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        config.dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(config)
    }

    /// The IO managers this config names, the default one under `home` unless configured.
    pub fn io_managers(&self, home: &Path, storage_override: Option<&str>) -> Result<IoManagers> {
        self.io_managers_with(
            home,
            storage_override,
            &IoManagers::new(),
            &IoSchemes::default(),
        )
    }

    /// The IO managers of this config and of the code location: `code` (registered with
    /// `Definitions::io_manager`) beside the configured ones, and `schemes` building the
    /// configured entries whose URL has a scheme the code location registered.
    pub fn io_managers_with(
        &self,
        home: &Path,
        storage_override: Option<&str>,
        code: &IoManagers,
        schemes: &IoSchemes,
    ) -> Result<IoManagers> {
        let default = match (storage_override, &self.storage) {
            (Some(url), Some(s)) if same_scheme(url, &s.url) => self.open(
                &StorageConfig {
                    url: url.to_owned(),
                    options: s.options.clone(),
                },
                schemes,
            )?,
            (Some(url), _) => self.open(
                &StorageConfig {
                    url: url.to_owned(),
                    options: BTreeMap::new(),
                },
                schemes,
            )?,
            (None, Some(s)) => self.open(s, schemes)?,
            (None, None) => Arc::new(ObjectStoreIoManager::local(home.join("storage"))?),
        };
        let mut io = IoManagers::new().register(stemma::spec::DEFAULT_IO_MANAGER, default);
        for (key, manager) in code.iter() {
            io = io.register(key, Arc::clone(manager));
        }
        for (key, storage) in &self.io_managers {
            if key == stemma::spec::DEFAULT_IO_MANAGER {
                return Err(Error::Config(
                    "io_managers.default: configure the default IO manager under [storage]".into(),
                ));
            }
            if code.contains(key) {
                return Err(Error::Config(format!(
                    "io_managers.{key}: the code location registers an IO manager under {key:?} \
                     too; configure it in one place"
                )));
            }
            let manager = self
                .open(storage, schemes)
                .map_err(|e| Error::Config(format!("io_managers.{key}: {e}")))?;
            io = io.register(key.clone(), manager);
        }
        Ok(io)
    }

    fn open(&self, storage: &StorageConfig, schemes: &IoSchemes) -> Result<Arc<dyn IoManager>> {
        let url = if storage.url.contains("://") {
            storage.url.clone()
        } else {
            // A path: relative to the config file.
            let path = self.dir.join(&storage.url);
            std::fs::create_dir_all(&path)
                .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
            let path = path
                .canonicalize()
                .map_err(|e| Error::io(format!("resolving {}", path.display()), e))?;
            format!("file://{}", path.display())
        };
        let options = storage
            .options
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    other => {
                        return Err(Error::Config(format!(
                            "storage option {k}: {other} is not a string, number or boolean"
                        )));
                    }
                };
                Ok((k.clone(), v))
            })
            .collect::<Result<BTreeMap<_, _>>>()?;
        match schemes.for_url(&url) {
            Some(factory) => factory(&url, &options),
            None => Ok(Arc::new(ObjectStoreIoManager::from_url(&url, &options)?)),
        }
    }
}

fn same_scheme(a: &str, b: &str) -> bool {
    a.split_once("://").map(|(s, _)| s) == b.split_once("://").map(|(s, _)| s)
}
