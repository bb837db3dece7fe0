//! What an asset is, independent of how it is computed: its key, dependencies and descriptive
//! attributes.

mod mapping;
mod metadata;
mod multi;
mod partitions;
mod retry;
mod schema;
mod time_window;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use mapping::PartitionMapping;
pub use metadata::{ColumnInfo, Metadata, MetadataValue};
pub use multi::MultiPartitions;
pub use partitions::{DynamicPartitions, PartitionKey, PartitionsDefinition, StaticPartitions};
pub use retry::{Backoff, Jitter, RetryPolicy};
pub use schema::schema_mismatch;
pub use time_window::{Cadence, TimeWindows};

use crate::model::key::AssetKey;

/// The most kinds an asset may carry (Dagster's limit, kept so the UI can show them all).
pub const MAX_KINDS: usize = 10;

/// The group assets belong to unless they say otherwise.
pub const DEFAULT_GROUP: &str = "default";

/// The IO manager key assets use unless they say otherwise.
pub const DEFAULT_IO_MANAGER: &str = "default";

/// How a downstream asset depends on an upstream one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DepKind {
    /// The upstream's value is loaded and passed to the function.
    Data,
    /// Only ordering: the upstream must be materialized first, nothing is loaded.
    Order,
}

/// One dependency of an asset.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct AssetDep {
    pub key: AssetKey,
    pub kind: DepKind,
    /// How its partitions are read, when declared (otherwise derived from both definitions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<PartitionMapping>,
}

/// Everything Stemma knows about an asset besides its function.
#[derive(Clone, Debug)]
pub struct AssetSpec {
    pub key: AssetKey,
    /// Data deps in the order the function takes them, then ordering-only deps.
    pub deps: Vec<AssetDep>,
    pub group: String,
    pub description: Option<String>,
    pub owners: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub kinds: BTreeSet<String>,
    /// Explicit, or derived by `#[asset]`: from the local items the function reaches (with the
    /// `stemma-build` step), else from its own tokens.
    pub code_version: Option<String>,
    /// What the code version was derived from, item by item (label → hash), when it covers
    /// the function's closure: what lets staleness say which item changed.
    pub code_items: Option<std::sync::Arc<BTreeMap<String, String>>>,
    /// The code version was derived from the function's own tokens only (no build step): a
    /// change to a helper it calls is not seen.
    pub code_from_body: bool,
    pub metadata: Metadata,
    /// Its own retry policy; `None`: the project's ([`crate::Definitions::default_retry`]),
    /// filled in when the graph is built.
    pub retry: Option<RetryPolicy>,
    /// How long one attempt may run before it is cancelled and recorded as timed out.
    pub timeout: Option<std::time::Duration>,
    pub pool: Option<String>,
    pub io_manager: String,
    pub partitions: Option<PartitionsDefinition>,
    /// Declared here, computed elsewhere: never materialized by Stemma.
    pub external: bool,
    /// Its output depends on the world (a clock, a remote API): always recomputed, never
    /// skipped as up to date. Its output hash still lets unchanged results stop downstream work.
    pub volatile: bool,
    /// The Arrow schema its table must have, when declared; checked before anything is stored.
    pub schema: Option<arrow::datatypes::SchemaRef>,
}

/// No retries: what an asset gets when neither it nor the project sets a policy.
const NO_RETRY: RetryPolicy = RetryPolicy {
    max_retries: 0,
    delay: std::time::Duration::ZERO,
    backoff: Backoff::Constant,
    max_delay: None,
    jitter: Jitter::None,
};

impl AssetSpec {
    /// The retry policy that applies: its own, else the project's, else none.
    pub fn retry_policy(&self) -> &RetryPolicy {
        self.retry.as_ref().unwrap_or(&NO_RETRY)
    }

    pub fn new(key: AssetKey) -> Self {
        AssetSpec {
            key,
            deps: Vec::new(),
            group: DEFAULT_GROUP.to_owned(),
            description: None,
            owners: Vec::new(),
            tags: BTreeMap::new(),
            kinds: BTreeSet::new(),
            code_version: None,
            code_items: None,
            code_from_body: false,
            metadata: Metadata::new(),
            retry: None,
            timeout: None,
            pool: None,
            io_manager: DEFAULT_IO_MANAGER.to_owned(),
            partitions: None,
            external: false,
            volatile: false,
            schema: None,
        }
    }

    /// The upstream assets whose values the function reads, in parameter order.
    pub fn data_deps(&self) -> impl Iterator<Item = &AssetKey> {
        self.deps
            .iter()
            .filter(|d| d.kind == DepKind::Data)
            .map(|d| &d.key)
    }

    /// Problems in the spec's own attributes (not its relation to other assets).
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.kinds.len() > MAX_KINDS {
            out.push(format!(
                "has {} kinds; at most {MAX_KINDS} are allowed",
                self.kinds.len()
            ));
        }
        if !is_name(&self.group) {
            out.push(format!(
                "group {:?} is not a valid name (letters, digits and _)",
                self.group
            ));
        }
        for (k, v) in &self.tags {
            if k.is_empty()
                || k.len() > 63
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
            {
                out.push(format!(
                    "tag key {k:?} is not valid (1-63 of letters, digits, _ . - /)"
                ));
            }
            if v.len() > 63
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            {
                out.push(format!(
                    "tag {k}={v:?}: values are at most 63 of letters, digits, _ . -"
                ));
            }
        }
        for owner in &self.owners {
            let ok = owner.strip_prefix("team:").map_or_else(
                || owner.contains('@') && !owner.contains(char::is_whitespace),
                |team| !team.is_empty(),
            );
            if !ok {
                out.push(format!(
                    "owner {owner:?} must be an email address or \"team:NAME\""
                ));
            }
        }
        for kind in &self.kinds {
            if kind.is_empty() {
                out.push("an empty kind".into());
            }
        }
        if self.io_manager.is_empty() {
            out.push("an empty IO manager key".into());
        }
        out.extend(self.retry.iter().flat_map(RetryPolicy::problems));
        if self.timeout == Some(std::time::Duration::ZERO) {
            out.push("a timeout of zero".into());
        }
        if let Some(pool) = &self.pool
            && let Err(e) = validate_pool_name(pool)
        {
            out.push(e.to_string());
        }
        if let Some(p) = &self.partitions {
            out.extend(p.problems());
        }
        let mut seen = BTreeSet::new();
        for dep in &self.deps {
            if !seen.insert(&dep.key) {
                out.push(format!("depends on {} twice", dep.key));
            }
            // Reading itself is checked with the partitions, in the graph.
        }
        out
    }
}

pub(crate) fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Pool names: what an asset's `pool = "…"` and `assets pools set NAME N` accept.
pub fn validate_pool_name(name: &str) -> crate::model::error::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'));
    if ok {
        Ok(())
    } else {
        Err(crate::model::error::Error::Config(format!(
            "pool name {name:?}: use letters, digits and - _ . : / (at most 100)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_attribute_problems() {
        let mut spec = AssetSpec::new(AssetKey::parse("a").unwrap());
        assert!(spec.problems().is_empty());
        spec.kinds = (0..11).map(|i| format!("k{i}")).collect();
        spec.owners = vec!["nobody".into(), "team:ml".into(), "a@b.c".into()];
        spec.tags.insert("ok".into(), "has space".into());
        spec.group = "my group".into();
        let problems = spec.problems().join("\n");
        assert!(problems.contains("11 kinds"), "{problems}");
        assert!(problems.contains("owner \"nobody\""), "{problems}");
        assert!(!problems.contains("team:ml"), "{problems}");
        assert!(problems.contains("tag ok="), "{problems}");
        assert!(problems.contains("group \"my group\""), "{problems}");
    }
}
