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
//! `v1/raw/documents/partition=eu/3f9a…c1.parquet`. A write goes to a temporary name and is then
//! linked into place (`PutMode::Create`; on S3 a single conditional PUT), so a crash part-way
//! leaves nothing under the final name.
//!
//! Backends are chosen by URL ([`ObjectStoreIoManager::from_url`]): `file:///abs/path`,
//! `memory://`, or `s3://bucket/prefix` for any S3-compatible service. Every backend passes
//! [`conformance`]; [`faults`] injects the failures that suite uses.

pub mod conformance;
pub mod faults;
mod format;
mod layout;
mod object;
pub mod testing;

pub use format::{decode, encode, encode_with, writer_properties};
pub use layout::object_path;
pub use object::ObjectStoreIoManager;
