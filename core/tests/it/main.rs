//! Integration tests of the `stemma` crate: the `#[asset]` and `#[asset_check]` macros as a
//! user writes them.

mod macros;
