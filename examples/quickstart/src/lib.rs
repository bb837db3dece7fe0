//! The quickstart's own IO manager, in a library so that its tests can hold it to the
//! conformance suite.

pub mod text_files;
