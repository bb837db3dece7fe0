//! Stemma's engine: software-defined assets, their graph, selection, planning and execution,
//! content hashes, the embedded instance, and the `IoManager` extension point.
//!
//! ```text
//! Definitions ──► AssetGraph (petgraph; cycles and unknown deps are errors)
//!                     │
//!   --select ──► Selection ──► resolved set ──► Plan (steps = asset × partition)
//!                                                  │
//!                     executor (tokio, bounded concurrency, retries, cancellation)
//!                                                  │
//!         asset function ◄── inputs loaded by IoManager (or handed over in memory)
//!                │
//!         value ──► blake3 data version ──► IoManager writes a new object
//!                                                  │
//!         one SQLite transaction: materialization event + the asset's pointer
//!                                                  │
//!                                  asset checks (a blocking failure stops downstream)
//! ```
//!
//! ## Floors
//!
//! Each module sits on one floor and imports only from floors below it (or modules beside it,
//! without circles); `tests/it/architecture.rs` reads the `crate::` paths and fails, naming file
//! and line, on an upward import or a circle.
//!
//! ```text
//! services   backfill · daemon · lifecycle · report (built on the Engine)
//! engine     engine                                 (the facade: config → observe → plan → launch;
//!                                                    status, resolve, resume, wipe)
//! execute    execute/: launch · step · slots ·      (a run's lifecycle: slots, start/end events,
//!            notify · publish · logs                 cancel watcher; the steps; notifiers)
//! instance   instance/ (+ status)                   (storage behind `InstanceStore`; SQLite: a pool
//!                                                    of readers, one writer thread; the status
//!                                                    snapshot's loader)
//! judgement  plan · staleness · decision            (what to run and why; staleness reads through
//!                                                    `VersionSource`, which the instance implements)
//! hash       hash/                                  (stable, versioned recipes)
//! selection  selection/                             (pure: expression × graph × status snapshot;
//!                                                    checks the graph's schedules)
//! graph      graph                                  (petgraph DAG of validated definitions)
//! model      model/: error (+ Hint) · key · spec · value · config · context · clock · check ·
//!            event · schedule · ranges · record · state · definitions · io (the IoManager seam)
//! ```
//!
//! Errors say what kind they are ([`Error::kind`]) and what can be done about them as a typed
//! [`Hint`] — never in one front end's words: the command line says `--partition KEY`, an HTTP
//! API will say its parameter.
//!
//! Nothing here knows about Parquet files, HTTP or the command line: IO managers live in
//! `stemma-io`, the `assets` command line in `stemma-server`.
//!
//! A code location declares assets with `#[asset]` (or [`AssetDef::builder`]) and hands
//! [`Definitions`] to the command line:
//!
//! ```ignore
//! use stemma::prelude::*;
//!
//! /// Words of every document.
//! #[asset(group = "demo")]
//! fn words(ctx: &AssetContext, documents: Rows<Document>) -> AssetResult<Rows<Word>> { … }
//! ```

// Lets `#[asset]`'s expansion (which names `::stemma`) work inside this crate's own tests.
#[allow(unused_extern_crates)]
extern crate self as stemma;

pub mod backfill;
pub mod daemon;
pub mod decision;
pub mod engine;
pub mod execute;
pub mod graph;
pub mod hash;
pub mod instance;
pub mod lifecycle;
pub mod model;
pub mod plan;
pub mod report;
pub mod selection;
pub mod staleness;

// The model's modules and the status snapshot keep their paths (`stemma::spec`, `stemma::status`).
pub use execute::notify;
pub use instance::status;
pub use model::{
    check, clock, config, context, definitions, error, event, ids, io, key, ranges, record,
    schedule, spec, state, value,
};

/// The Arrow version Stemma's tables use, for code locations that build tables themselves.
pub use arrow;
pub use backfill::{Backfill, Reprocess};
pub use check::{CheckResult, Severity};
pub use config::{ConfigField, ConfigKind, RunConfig};
pub use definitions::{AssetBuilder, AssetDef, CheckBuilder, CheckDef, Definitions, Inputs};
pub use engine::Engine;
pub use error::{BoxError, Error, ErrorKind, Hint, NoRetry, Result};
pub use event::{BackfillId, Event, EventKind, LogLevel, RunId, RunStatus};
pub use execute::{AssetContext, Materialize, NoObserver, RunObserver, RunOutcome, StepLogLayer};
pub use graph::AssetGraph;
pub use hash::DataVersion;
pub use instance::Instance;
pub use io::{
    InputContext, IoManager, IoManagerFactory, IoManagers, ObjectInfo, OutputContext,
    PartitionsContext, StoredObject, StoredPart,
};
pub use key::AssetKey;
pub use selection::Selection;
pub use spec::{
    AssetSpec, Backoff, Jitter, Metadata, MetadataValue, MultiPartitions, PartitionKey,
    PartitionsDefinition, RetryPolicy, TimeWindows,
};
pub use status::StatusSnapshot;
pub use stemma_macros::{asset, asset_check};
pub use value::{Blob, FromValue, IntoValue, Json, Rows, Table, Value, ValueKind};

/// What the body of an asset returns: any value, or any error.
pub type AssetResult<T> = std::result::Result<T, BoxError>;

/// Everything a code location usually needs.
pub mod prelude {
    pub use crate::backfill::{Backfill, Reprocess};
    pub use crate::schedule::{CatchUp, ScheduleDef};
    pub use crate::spec::PartitionMapping;
    pub use crate::{
        AssetContext, AssetDef, AssetResult, Backoff, Blob, CheckDef, CheckResult, ConfigField,
        Definitions, Jitter, Json, MetadataValue, NoRetry, PartitionsDefinition, RetryPolicy, Rows,
        Severity, Table, TimeWindows, asset, asset_check,
    };
}

/// Used by the code `#[asset]` generates; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::value::IntoOutput;
    pub use futures::FutureExt;

    /// Wraps a body's plain return value (not a `Result`) so it goes through `IntoOutput`.
    pub fn ok<T>(value: T) -> Result<T, crate::BoxError> {
        Ok(value)
    }
}
