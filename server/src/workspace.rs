//! Building an [`Engine`] for a code location on the embedded defaults: the SQLite instance in
//! `$STEMMA_HOME` (default `./.stemma`) and Parquet/JSON/bytes files under its `storage/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stemma::{AssetGraph, Engine, Instance, IoManagers, Result};
use stemma_io::ObjectStoreIoManager;

/// `$STEMMA_HOME`, or `.stemma` in the current directory.
pub fn default_home() -> PathBuf {
    std::env::var_os("STEMMA_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(".stemma"), PathBuf::from)
}

/// Opens the instance in `home` and registers the default IO manager over `home/storage`.
pub fn open_engine(graph: impl Into<Arc<AssetGraph>>, home: &Path) -> Result<Engine> {
    let instance = Instance::open(home)?;
    let storage = ObjectStoreIoManager::local(home.join("storage"))?;
    let io = IoManagers::new().register(stemma::spec::DEFAULT_IO_MANAGER, Arc::new(storage));
    Engine::new(graph, instance, io)
}
