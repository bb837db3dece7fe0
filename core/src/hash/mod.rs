//! Stable hashing: the one path through which everything that feeds a version goes.
//!
//! Encodings are explicit and length-prefixed (never `std::hash::Hash`, whose output may change
//! between compiler versions), every recipe starts with a domain string that carries its
//! version (`stemma.table.v1`), and golden tests pin known inputs to known hashes so that a
//! change to a recipe is a deliberate act.
//!
//! * [`data_version`] hashes a [`Value`]'s logical content: for a table, the same rows and
//!   schema give the same hash however they are split into batches and whatever physical
//!   encoding (dictionary, large or view strings) the columns use; for JSON, the same hash
//!   whatever the order of object keys.

mod json;
mod provenance;
mod table;

use std::fmt;

use crate::model::error::Result;
pub use crate::model::key::DataVersion;
use crate::model::value::Value;

pub use json::hash_json;
pub use provenance::{
    INPUTS_CONTEXT, InputRef, InputsHasher, VersionBytes, deps_digest, inputs_digest,
    inputs_digest_sorted, provenance_digests,
};
pub use table::hash_table;

/// The version of the hashing recipes; part of every domain string.
pub const RECIPE_VERSION: u32 = 1;

/// A blake3 hasher with explicit, length-prefixed encodings.
#[derive(Clone)]
pub struct StableHasher(blake3::Hasher);

impl StableHasher {
    /// Starts a hash in `domain` (e.g. `"stemma.table.v1"`), so that different recipes can
    /// never produce the same digest for different things.
    pub fn new(domain: &str) -> Self {
        let mut h = StableHasher(blake3::Hasher::new());
        h.str(domain);
        h
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.u64(bytes.len() as u64);
        self.0.update(bytes);
        self
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.update(&v.to_le_bytes());
        self
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.0.update(&[u8::from(v)]);
        self
    }

    /// An optional string: a presence byte, then the string.
    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.bool(true).str(s),
            None => self.bool(false),
        }
    }

    /// A digest computed elsewhere (fixed length, so no prefix is needed).
    pub fn digest(&mut self, d: &blake3::Hash) -> &mut Self {
        self.0.update(d.as_bytes());
        self
    }

    pub fn finish(&self) -> blake3::Hash {
        self.0.finalize()
    }

    pub fn finish_hex(&self) -> String {
        self.0.finalize().to_hex().to_string()
    }
}

impl fmt::Debug for StableHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StableHasher")
    }
}

/// Computes the data version of a value. CPU-bound for large tables: call it off the async
/// runtime (the executor does).
pub fn data_version(value: &Value) -> Result<DataVersion> {
    let digest = match value {
        Value::Table(t) => hash_table(t.schema(), t.batches())?,
        Value::Json(j) => hash_json(j),
        Value::Bytes(b) => {
            let mut h = StableHasher::new("stemma.bytes.v1");
            h.bytes(b);
            h.finish()
        }
        Value::Nothing => StableHasher::new("stemma.nothing.v1").finish(),
    };
    Ok(DataVersion::from_hex(digest.to_hex().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_length_prefixed() {
        // "ab" + "c" and "a" + "bc" must differ.
        let mut x = StableHasher::new("t");
        x.str("ab").str("c");
        let mut y = StableHasher::new("t");
        y.str("a").str("bc");
        assert_ne!(x.finish(), y.finish());
        // Domains separate recipes.
        assert_ne!(
            StableHasher::new("a").finish(),
            StableHasher::new("b").finish()
        );
    }

    /// Golden: these hashes are part of every stored data version. If this test fails, a
    /// recipe changed: bump its version in the domain string instead.
    #[test]
    fn golden_bytes_json_and_nothing() {
        let bytes = data_version(&Value::Bytes(bytes::Bytes::from_static(b"stemma"))).unwrap();
        assert_eq!(
            bytes.as_str(),
            "4db1085bd99e08e1862ab2fd0ebd202bd0738ea80902cc1e22fe00290fc22669"
        );
        let json = data_version(&Value::Json(
            serde_json::json!({"b": [1, 2.5, null], "a": "x"}),
        ))
        .unwrap();
        assert_eq!(
            json.as_str(),
            "022d99158edcf74266433df3a6337e7918a2de80916168eb4ce844b2d845ca9d"
        );
        let nothing = data_version(&Value::Nothing).unwrap();
        assert_eq!(
            nothing.as_str(),
            "c2ca8d2f77dd02d8b2c98403ca55301e4003204df7b12bfabb0684d6c30d8392"
        );
    }
}
