//! Read models: what `--json` prints today and what the HTTP API will return unchanged.
//!
//! Each view is plain serde data gathered from the [`Engine`](stemma::Engine) (and the graph)
//! in one place, so that the command line's tables and its `--json` — and, next, the HTTP
//! API — show the same facts. Domain rules stay in core (the one-word asset state comes from
//! [`stemma::status`]); a view only gathers and names.
//!
//! Keys come out sorted ([`json`]): the order `--json` has always printed, whatever the order
//! of the fields here.

pub mod assets;
pub mod backfills;
pub mod catalog;
#[cfg(feature = "sql")]
pub mod columns;
pub mod layout;
pub mod partitions;
pub mod runs;
pub mod states;
pub mod status;
pub mod why;

/// A view as JSON, with its object keys sorted (serde_json's map without `preserve_order`).
pub fn json(view: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(view).unwrap_or_else(|e| {
        serde_json::json!({ "error": { "message": format!("cannot serialize the view: {e}") } })
    })
}
