//! Integration tests of the `stemma` crate: the `#[asset]` and `#[asset_check]` macros as a
//! user writes them, and the selection language's golden files and properties.

mod architecture;
mod macros;
mod selection_golden;
mod selection_props;
