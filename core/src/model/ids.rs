//! Names for the indices that say which graph node or plan step a number is.
//!
//! Aliases, not newtypes (yet): graph nodes index `FixedBitSet`s and per-node tables in the
//! hot loops of selection, staleness and planning, and every one of those takes `usize`. The
//! names say in each signature which index is meant; making them newtypes is the next step.

/// A node of the [`AssetGraph`](crate::graph::AssetGraph): an asset's position in its tables.
pub type NodeIx = usize;

/// A step of a [`Plan`](crate::plan::Plan): its position in `Plan::steps`.
pub type StepIx = usize;
