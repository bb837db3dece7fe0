//! The model floor: what every other floor speaks of — keys, specs, values, config,
//! definitions, the asset's context, the clock, events and the records and states kept of them,
//! and the error type. Nothing here reads storage or runs anything.

pub mod check;
pub mod clock;
pub mod config;
pub mod context;
pub mod definitions;
pub mod error;
pub mod event;
pub mod ids;
pub mod io;
pub mod key;
pub mod ranges;
pub mod record;
pub mod schedule;
pub mod spec;
pub mod state;
pub mod value;
