//! Digests of provenance: what a materialization read, as one fixed-size value that can be
//! recomputed from the instance's current versions and compared.
//!
//! * [`inputs_digest`] covers every input read — upstream asset, partition and data version —
//!   in canonical order (by key, then partition), so the order in which a step happened to load
//!   them never matters.
//! * [`deps_digest`] covers only *which* assets were read, to tell "a dependency was added or
//!   removed" apart from "an input has a new version".

use super::{DataVersion, StableHasher};
use crate::key::AssetKey;
use crate::spec::PartitionKey;

/// One input as the digest sees it.
pub type InputRef<'a> = (&'a AssetKey, Option<&'a PartitionKey>, &'a DataVersion);

/// The digest of a materialization's inputs. `inputs` may come in any order.
pub fn inputs_digest<'a>(inputs: impl IntoIterator<Item = InputRef<'a>>) -> blake3::Hash {
    let mut sorted: Vec<InputRef<'a>> = inputs.into_iter().collect();
    sorted.sort_unstable_by(|a, b| {
        a.0.as_str().cmp(b.0.as_str()).then_with(|| {
            a.1.map(PartitionKey::as_str)
                .cmp(&b.1.map(PartitionKey::as_str))
        })
    });
    inputs_digest_sorted(sorted)
}

/// [`inputs_digest`] for inputs already in canonical order (by key, then partition).
pub fn inputs_digest_sorted<'a>(inputs: impl IntoIterator<Item = InputRef<'a>>) -> blake3::Hash {
    let mut h = InputsHasher::new();
    for (asset, partition, version) in inputs {
        h.add(
            asset.as_str(),
            partition.map(PartitionKey::as_str),
            version.as_str(),
        );
    }
    h.finish()
}

/// The inputs digest built one input at a time, in canonical order, from borrowed text — the
/// staleness pass feeds it without allocating.
#[derive(Debug, Clone)]
pub struct InputsHasher {
    hasher: StableHasher,
    count: u64,
}

impl InputsHasher {
    pub fn new() -> Self {
        InputsHasher {
            hasher: StableHasher::new("stemma.inputs.v1"),
            count: 0,
        }
    }

    pub fn add(&mut self, asset: &str, partition: Option<&str>, data_version: &str) {
        self.hasher.str(asset).opt_str(partition).str(data_version);
        self.count += 1;
    }

    pub fn finish(mut self) -> blake3::Hash {
        self.hasher.u64(self.count);
        self.hasher.finish()
    }
}

impl Default for InputsHasher {
    fn default() -> Self {
        Self::new()
    }
}

/// The digest of the set of assets a materialization read. `deps` may repeat and come in any
/// order.
pub fn deps_digest<'a>(deps: impl IntoIterator<Item = &'a AssetKey>) -> blake3::Hash {
    let mut keys: Vec<&str> = deps.into_iter().map(AssetKey::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut h = StableHasher::new("stemma.deps.v1");
    h.u64(keys.len() as u64);
    for k in keys {
        h.str(k);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> AssetKey {
        AssetKey::parse(s).unwrap()
    }

    #[test]
    fn order_does_not_matter_content_does() {
        let (a, b) = (key("a"), key("b"));
        let p = PartitionKey::new("eu").unwrap();
        let (v1, v2) = (DataVersion::from_hex("11"), DataVersion::from_hex("22"));
        let one = inputs_digest([(&a, None, &v1), (&b, Some(&p), &v2)]);
        let two = inputs_digest([(&b, Some(&p), &v2), (&a, None, &v1)]);
        assert_eq!(one, two);
        assert_ne!(one, inputs_digest([(&a, None, &v2), (&b, Some(&p), &v2)]));
        assert_ne!(one, inputs_digest([(&a, None, &v1), (&b, None, &v2)]));
        assert_ne!(one, inputs_digest([(&a, None, &v1)]));
        assert_eq!(deps_digest([&a, &b, &a]), deps_digest([&b, &a]));
        assert_ne!(deps_digest([&a]), deps_digest([&a, &b]));
    }

    /// Golden: pins the provenance recipes; a change here must bump their version.
    #[test]
    fn golden_provenance_digests() {
        let (a, b) = (key("raw/documents"), key("chunks"));
        let p = PartitionKey::new("2026-11-21").unwrap();
        let v = DataVersion::from_hex("ab12");
        assert_eq!(
            inputs_digest([(&a, Some(&p), &v), (&b, None, &v)])
                .to_hex()
                .as_str(),
            "2d9c558ea324d3152a59793e1d95979faad8ba195aecf34be0044c9ffc69d8cb"
        );
        assert_eq!(
            deps_digest([&a, &b]).to_hex().as_str(),
            "94d437ee617fc5074f4309dc59511e94e311e0cdb08fdbe0017195a5ee07bff8"
        );
    }
}
