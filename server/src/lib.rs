//! Everything in Stemma that runs as a process: the `assets` command line, which a code
//! location's `main` hands its definitions to, and `assets serve`, its HTTP API:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     stemma_server::cli::run(my_code_location::definitions())
//! }
//! ```
//!
//! ```text
//! argv ─► cli/args (clap) ─► cli dispatch ─► project/ (stemma.toml → IO managers, pools,
//!                                │            alerts; STEMMA_NOW → the clock) ─► Engine
//!                                ▼
//!                  cli/<command>.rs ──► Engine (stemma core) ──► IO managers (stemma-io)
//!                        │     ▲
//!                        │     └── views/: serde read models gathered from the Engine
//!                        ▼
//!                  printer: tables for people, the views as --json for scripts
//!                  progress: run events live (run_with_progress, with the Ctrl-C watcher)
//!
//! assets serve ─► http/: auth guard (Host, cross-site, token role, access log) ─► handler
//!                   handler ─► Engine::read (off the runtime) ─► views/ ─► JSON
//!                   errors ─► problem+json (status from the error's kind, in one place)
//!                   POST /runs, /backfills ─► a child process of this binary (launch.rs)
//!                   instance ─► events.rs: one tail of the event log ─► every SSE stream
//! ```
//!
//! - [`project`]: loading `stemma.toml` and opening an [`Engine`](stemma::Engine) under it.
//! - [`views`]: what `--json` prints, and what the HTTP API returns unchanged.
//! - [`http`]: `assets serve` — the `/api/v1` routes and their OpenAPI document, the event
//!   stream, tokens, `/metrics`, launching runs in child processes.
//! - [`cli`]: arguments, one dispatch, one file per command, the printer and the live view.
//!   Errors reach the user through one place, which picks the exit code from the error's kind
//!   and says its hint as the command line's flags and commands.

pub mod cli;
pub mod http;
pub mod layout;
pub mod project;
pub mod testing;
pub mod views;

pub use project::alerts;
pub use project::{
    ProjectConfig, StorageConfig, default_home, open_engine, open_engine_for, open_engine_with,
};
