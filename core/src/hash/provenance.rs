//! Digests of provenance: what a materialization read, as one fixed-size value that can be
//! recomputed from the instance's current versions and compared.
//!
//! * [`inputs_digest`] covers every input read — upstream asset, partition and data version —
//!   in canonical order (by key, then partition), so the order in which a step happened to load
//!   them never matters.
//! * [`deps_digest`] covers only *which* assets were read, to tell "a dependency was added or
//!   removed" apart from "an input has a new version".

use super::{DataVersion, StableHasher};
use crate::model::key::AssetKey;
use crate::model::spec::PartitionKey;

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

/// A data version as the inputs digest encodes it: the 32 bytes behind a blake3 hex digest
/// (what Stemma writes), or the text itself for anything else (what a test or a foreign
/// observer may write). Decode once, hash many times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionBytes<'a> {
    Hash([u8; 32]),
    Text(&'a str),
}

impl<'a> VersionBytes<'a> {
    pub fn parse(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return VersionBytes::Text(text);
        }
        let mut out = [0u8; 32];
        let mut bad = 0u8;
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (h, l) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
            bad |= h | l;
            *o = (h << 4) | (l & 0x0f);
        }
        if bad & 0xf0 != 0 {
            return VersionBytes::Text(text);
        }
        VersionBytes::Hash(out)
    }
}

/// Lowercase hex digits to their values; every other byte to 0xff (Stemma writes lowercase,
/// so anything else is text).
const HEX: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// The key of the inputs digest: blake3's key derivation from the recipe's context string, so
/// that no other recipe can produce the same digest and no domain bytes are hashed per input.
fn inputs_key() -> &'static [u8; 32] {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    KEY.get_or_init(|| blake3::derive_key(INPUTS_CONTEXT, b""))
}

/// The recipe of the inputs digest. v2: keyed blake3 over, per input, the length-prefixed
/// asset key, a tagged partition key and a tagged version (32 raw bytes for a hex digest) —
/// one 64-byte block for a typical single input, a third of v1's cost in the staleness pass.
pub const INPUTS_CONTEXT: &str = "stemma.inputs.v2";

/// The inputs digest built one input at a time, in canonical order, from borrowed text — the
/// staleness pass feeds it a million times a second, so it encodes into a buffer it reuses
/// ([`reset`](Self::reset)) and hashes that in one call. Every record is self-delimiting, so
/// the concatenation is unambiguous.
#[derive(Debug, Clone)]
pub struct InputsHasher {
    buf: Vec<u8>,
}

impl InputsHasher {
    pub fn new() -> Self {
        InputsHasher {
            buf: Vec::with_capacity(256),
        }
    }

    /// Starts over, keeping the buffer.
    pub fn reset(&mut self) {
        self.buf.clear();
    }

    fn str(&mut self, s: &str) {
        self.buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Adds one input whose version is text (decoded here).
    pub fn add(&mut self, asset: &str, partition: Option<&str>, data_version: &str) {
        self.add_bytes(asset, partition, VersionBytes::parse(data_version));
    }

    /// Adds one input whose version was decoded already.
    pub fn add_bytes(&mut self, asset: &str, partition: Option<&str>, version: VersionBytes<'_>) {
        self.str(asset);
        match partition {
            Some(p) => {
                self.buf.push(1);
                self.str(p);
            }
            None => self.buf.push(0),
        }
        match version {
            VersionBytes::Hash(bytes) => {
                self.buf.push(1);
                self.buf.extend_from_slice(&bytes);
            }
            VersionBytes::Text(text) => {
                self.buf.push(0);
                self.str(text);
            }
        }
    }

    /// The digest of what was added since the last reset.
    pub fn digest(&self) -> blake3::Hash {
        blake3::keyed_hash(inputs_key(), &self.buf)
    }

    pub fn finish(self) -> blake3::Hash {
        self.digest()
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

/// The digests of a provenance, as the instance stores them. Records written before the
/// declared dependencies were recorded use the assets they read.
pub fn provenance_digests(p: &crate::model::event::Provenance) -> (blake3::Hash, blake3::Hash) {
    let inputs = inputs_digest(
        p.inputs
            .iter()
            .map(|i| (&i.asset, i.partition.as_ref(), &i.data_version)),
    );
    let deps = if p.deps.is_empty() {
        deps_digest(p.inputs.iter().map(|i| &i.asset))
    } else {
        deps_digest(p.deps.iter())
    };
    (inputs, deps)
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

    /// Golden: pins the provenance recipes; a change here must bump their version (and the
    /// instance must recompute stored digests in a migration, as schema v4 did for v2).
    #[test]
    fn golden_provenance_digests() {
        let (a, b) = (key("raw/documents"), key("chunks"));
        let p = PartitionKey::new("2026-11-21").unwrap();
        let text = DataVersion::from_hex("ab12");
        let digest = DataVersion::from_hex(
            "4db1085bd99e08e1862ab2fd0ebd202bd0738ea80902cc1e22fe00290fc22669",
        );
        assert_eq!(
            inputs_digest([(&a, Some(&p), &text), (&b, None, &digest)])
                .to_hex()
                .as_str(),
            "11cc579699703146b83ba00ef9c2303ead44381af8b45cdeb35d28ad8171d967"
        );
        assert_eq!(
            inputs_digest(std::iter::empty()).to_hex().as_str(),
            "eb4fb7f3aba8fe5672b2255eda7a1325107dddaa6e03bbe00d0554dfdfefe442"
        );
        assert_eq!(
            deps_digest([&a, &b]).to_hex().as_str(),
            "94d437ee617fc5074f4309dc59511e94e311e0cdb08fdbe0017195a5ee07bff8"
        );
    }

    #[test]
    fn hex_digests_are_hashed_as_bytes_and_anything_else_as_text() {
        let hex = "4db1085bd99e08e1862ab2fd0ebd202bd0738ea80902cc1e22fe00290fc22669";
        let VersionBytes::Hash(bytes) = VersionBytes::parse(hex) else {
            panic!()
        };
        assert_eq!((bytes[0], bytes[31]), (0x4d, 0x69));
        // Upper case, the wrong length or a non-hex character: text.
        for text in [
            &hex.to_uppercase()[..],
            &hex[1..],
            &hex.replace('4', "g")[..],
            "ab12",
        ] {
            assert_eq!(VersionBytes::parse(text), VersionBytes::Text(text));
        }
        // Text and bytes never collide, even for the same characters.
        let a = key("a");
        let upper = DataVersion::from_hex(&hex.to_uppercase());
        let lower = DataVersion::from_hex(hex);
        assert_ne!(
            inputs_digest([(&a, None, &upper)]),
            inputs_digest([(&a, None, &lower)])
        );
    }
}
