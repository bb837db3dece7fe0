//! Stemma's IO managers: where asset values are stored.
//!
//! [`ObjectStoreIoManager`] stores every value kind on any `object_store` backend — the local
//! file system by default (`$STEMMA_HOME/storage`), or memory for tests:
//!
//! | value  | stored as                         |
//! |--------|-----------------------------------|
//! | table  | Parquet (zstd), readable by pyarrow, DuckDB, Polars |
//! | JSON   | `.json`                           |
//! | bytes  | `.bin`, exactly the bytes          |
//! | nothing| no object                          |
//!
//! Objects live under the asset's key path, in a Hive-style `partition=KEY` directory for
//! partitioned assets, and are named by their data version:
//! `raw/documents/partition=eu/3f9a…c1.parquet`. A write goes to a temporary name and is then
//! linked into place only if nothing exists there yet (`PutMode::Create`), so a committed object
//! is never overwritten and a crash part-way leaves nothing under the final name.

mod format;
mod layout;
mod object;

pub use format::{decode, encode};
pub use layout::object_path;
pub use object::ObjectStoreIoManager;
