//! Everything in Stemma that runs as a process. For now: the `assets` command line, which a
//! code location's `main` hands its definitions to:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     stemma_server::cli::run(my_code_location::definitions())
//! }
//! ```
//!
//! ```text
//! argv ──► cli (clap) ──► Engine (stemma core) ──► IO managers (stemma-io)
//!                │                 │
//!             printer ◄── run events (live view, --json)
//! ```

pub mod cli;
pub mod project;
pub mod testing;
pub mod views;

pub use project::alerts;
pub use project::{
    ProjectConfig, StorageConfig, default_home, open_engine, open_engine_for, open_engine_with,
};
