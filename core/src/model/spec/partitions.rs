//! Partitions definitions and partition keys.
//!
//! Every step, event, pointer and stored object carries an optional partition key; an
//! unpartitioned asset is the special case. Static partitions are here; time windows, dynamic
//! and multi-dimensional partitions grow this enum.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::error::{Error, Result, did_you_mean};

/// One partition of an asset, e.g. `"eu"` or `"2026-11-21"`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartitionKey(Arc<str>);

impl PartitionKey {
    /// Validates a partition key: non-empty, no surrounding whitespace, and none of the
    /// characters that would break a storage path or a selection (`/ \ , * [ ] { }`).
    pub fn new(key: &str) -> Result<Self> {
        if key.is_empty() {
            return Err(Error::Definition("a partition key cannot be empty".into()));
        }
        if key.trim() != key {
            return Err(Error::Definition(format!(
                "invalid partition key {key:?}: leading or trailing whitespace"
            )));
        }
        if let Some(bad) = key
            .chars()
            .find(|c| c.is_control() || matches!(c, '/' | '\\' | ',' | '*' | '[' | ']' | '{' | '}'))
        {
            return Err(Error::Definition(format!(
                "invalid partition key {key:?}: it contains {bad:?}"
            )));
        }
        if key == "." || key == ".." {
            return Err(Error::Definition(format!("invalid partition key {key:?}")));
        }
        Ok(PartitionKey(Arc::from(key)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartitionKey({})", self.0)
    }
}

/// How an asset is partitioned.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PartitionsDefinition {
    /// A fixed list of keys.
    Static(StaticPartitions),
    /// One partition per hour, day, week or month; keys computed, never listed.
    TimeWindow(super::time_window::TimeWindows),
    /// The product of named dimensions (`day|region|device`).
    Multi(super::multi::MultiPartitions),
    /// Keys added and removed at run time (`assets dynamic-partitions add NAME KEY`), kept in
    /// the instance.
    Dynamic(DynamicPartitions),
}

impl From<DynamicPartitions> for PartitionsDefinition {
    fn from(d: DynamicPartitions) -> Self {
        PartitionsDefinition::Dynamic(d)
    }
}

impl From<super::multi::MultiPartitions> for PartitionsDefinition {
    fn from(multi: super::multi::MultiPartitions) -> Self {
        PartitionsDefinition::Multi(multi)
    }
}

impl From<super::time_window::TimeWindows> for PartitionsDefinition {
    fn from(windows: super::time_window::TimeWindows) -> Self {
        PartitionsDefinition::TimeWindow(windows)
    }
}

impl PartitionsDefinition {
    /// Static partitions with the given keys, in order.
    pub fn static_keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        PartitionsDefinition::Static(StaticPartitions::new(keys))
    }

    /// The kind's name, as the selection language and the CLI call it.
    pub fn kind(&self) -> &'static str {
        match self {
            PartitionsDefinition::Static(_) => "static",
            PartitionsDefinition::TimeWindow(_) => "time",
            PartitionsDefinition::Multi(_) => "multi",
            PartitionsDefinition::Dynamic(_) => "dynamic",
        }
    }

    /// How many partitions there are, without enumerating them.
    pub fn len(&self) -> usize {
        match self {
            PartitionsDefinition::Static(s) => s.keys.len(),
            PartitionsDefinition::TimeWindow(t) => t.len(),
            PartitionsDefinition::Multi(m) => m.len(),
            PartitionsDefinition::Dynamic(d) => d.read().keys.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks `key` and returns it as a [`PartitionKey`], or an error with a suggestion.
    pub fn validate_key(&self, key: &str) -> Result<PartitionKey> {
        match self {
            PartitionsDefinition::Static(s) => {
                if let Some(&i) = s.index.get(key) {
                    return Ok(s.keys[i].clone());
                }
                let hint = did_you_mean(key, s.keys.iter().map(PartitionKey::as_str))
                    .map(|k| format!("; did you mean {k:?}?"))
                    .unwrap_or_default();
                Err(Error::not_found(
                    "partition",
                    key,
                    format!(
                        "partition {key:?} does not exist (static partitions: {}){hint}",
                        s.preview(8)
                    ),
                ))
            }
            PartitionsDefinition::Multi(m) => {
                m.index_of(key).and_then(|i| m.key_at(i)).ok_or_else(|| {
                    Error::not_found(
                        "partition",
                        key,
                        format!("partition {key:?} does not exist ({})", m.explain(key)),
                    )
                })
            }
            PartitionsDefinition::Dynamic(d) => {
                let set = d.read();
                set.index
                    .get(key)
                    .map(|&i| set.keys[i].clone())
                    .ok_or_else(|| {
                        Error::not_found(
                        "partition",
                        key,
                        format!(
                            "partition {key:?} does not exist (dynamic partitions {:?}, {} keys)",
                            d.name,
                            set.keys.len(),
                        ),
                    )
                    .with_hint(crate::model::error::Hint::AddDynamicPartition {
                        definition: d.name.clone(),
                        key: key.to_owned(),
                    })
                    })
            }
            PartitionsDefinition::TimeWindow(t) => {
                t.index_of(key).and_then(|i| t.key_at(i)).ok_or_else(|| {
                    Error::not_found(
                        "partition",
                        key,
                        format!(
                            "partition {key:?} does not exist ({}; keys look like {:?})",
                            t.describe(),
                            t.format()
                        ),
                    )
                })
            }
        }
    }

    /// The position of `key` (computed for time windows, looked up for static keys).
    pub fn index_of(&self, key: &str) -> Option<usize> {
        match self {
            PartitionsDefinition::Static(s) => s.index.get(key).copied(),
            PartitionsDefinition::TimeWindow(t) => t.index_of(key),
            PartitionsDefinition::Multi(m) => m.index_of(key),
            PartitionsDefinition::Dynamic(d) => d.read().index.get(key).copied(),
        }
    }

    /// The key at position `i`.
    pub fn key_at(&self, i: usize) -> Option<PartitionKey> {
        match self {
            PartitionsDefinition::Static(s) => s.keys.get(i).cloned(),
            PartitionsDefinition::TimeWindow(t) => t.key_at(i),
            PartitionsDefinition::Multi(m) => m.key_at(i),
            PartitionsDefinition::Dynamic(d) => d.read().keys.get(i).cloned(),
        }
    }

    /// Positions in the order of their keys (what the instance sorts by). Time-window keys in
    /// an ISO-like format sort like their positions.
    pub fn indices_by_key(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        match self {
            PartitionsDefinition::Static(s) => {
                order.sort_by(|&a, &b| s.keys[a].cmp(&s.keys[b]));
            }
            PartitionsDefinition::Dynamic(d) => {
                let set = d.read();
                order.sort_by(|&a, &b| set.keys[a].cmp(&set.keys[b]));
            }
            PartitionsDefinition::TimeWindow(_) | PartitionsDefinition::Multi(_) => {
                let keys: Vec<PartitionKey> =
                    order.iter().filter_map(|&i| self.key_at(i)).collect();
                if !keys.is_sorted() {
                    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
                }
            }
        }
        order
    }

    /// Makes every open-ended time window end as of `now` (static keys do not change).
    pub fn set_as_of(&mut self, now: chrono::DateTime<chrono::Utc>) {
        match self {
            PartitionsDefinition::Static(_) | PartitionsDefinition::Dynamic(_) => {}
            PartitionsDefinition::TimeWindow(t) => *t = t.clone().as_of(now),
            PartitionsDefinition::Multi(m) => m.set_as_of(now),
        }
    }

    /// Every key, in position order (computed one by one for time windows).
    pub fn keys(&self) -> impl Iterator<Item = PartitionKey> + '_ {
        (0..self.len()).filter_map(|i| self.key_at(i))
    }

    pub(crate) fn problems(&self) -> Vec<String> {
        match self {
            PartitionsDefinition::Static(s) => s.errors.clone(),
            PartitionsDefinition::TimeWindow(t) => t.problems(),
            PartitionsDefinition::Multi(m) => m.problems(),
            PartitionsDefinition::Dynamic(d) => {
                if PartitionKey::new(&d.name).is_err() || d.name.contains('/') {
                    vec![format!("dynamic partitions name {:?} is not valid", d.name)]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// A digest of what fixes each key's position, for definitions whose status the instance
    /// keeps as ranges of positions between reads (time windows: a million keys cost a
    /// million parses to place once, then only what changed). `None`: placed afresh each time.
    pub fn fingerprint(&self) -> Option<String> {
        match self {
            PartitionsDefinition::TimeWindow(t) => Some(t.fingerprint()),
            _ => None,
        }
    }

    /// The position the instance keeps `key`'s status at: its index, or for time windows its
    /// position past the end too (so a definition whose end moves keeps what is known).
    pub fn status_position(&self, key: &str) -> Option<u64> {
        match self {
            PartitionsDefinition::TimeWindow(t) => t.position(key),
            _ => self.index_of(key).map(|i| i as u64),
        }
    }

    /// A short human description, e.g. `static (3): eu, us, apac`.
    pub fn describe(&self) -> String {
        match self {
            PartitionsDefinition::Static(s) => {
                format!("static ({}): {}", s.keys.len(), s.preview(5))
            }
            PartitionsDefinition::TimeWindow(t) => t.describe(),
            PartitionsDefinition::Multi(m) => m.describe(),
            PartitionsDefinition::Dynamic(d) => {
                let set = d.read();
                format!(
                    "dynamic {:?} ({}): {}",
                    d.name,
                    set.keys.len(),
                    if set.keys.is_empty() {
                        "no keys yet".to_owned()
                    } else {
                        set.preview(5)
                    }
                )
            }
        }
    }
}

/// A fixed list of partition keys.
#[derive(Clone)]
pub struct StaticPartitions {
    keys: Arc<[PartitionKey]>,
    index: Arc<rustc_hash::FxHashMap<String, usize>>,
    errors: Vec<String>,
}

impl StaticPartitions {
    pub fn new<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut valid = Vec::new();
        let mut index = rustc_hash::FxHashMap::default();
        let mut errors = Vec::new();
        for key in keys {
            let key: String = key.into();
            match PartitionKey::new(&key) {
                Ok(k) => {
                    if index.insert(key.clone(), valid.len()).is_some() {
                        errors.push(format!("partition key {key:?} is listed twice"));
                    } else {
                        valid.push(k);
                    }
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if valid.is_empty() && errors.is_empty() {
            errors.push("a static partitions definition needs at least one key".into());
        }
        StaticPartitions {
            keys: valid.into(),
            index: Arc::new(index),
            errors,
        }
    }

    fn preview(&self, n: usize) -> String {
        let mut shown: Vec<&str> = self.keys.iter().take(n).map(PartitionKey::as_str).collect();
        if self.keys.len() > n {
            shown.push("…");
        }
        shown.join(", ")
    }
}

/// Partitions whose keys are added and removed at run time, by name: every asset declaring
/// `DynamicPartitions::new("files")` shares the keys the instance holds for `files`.
#[derive(Clone)]
pub struct DynamicPartitions {
    name: String,
    keys: Arc<std::sync::RwLock<StaticPartitions>>,
}

impl DynamicPartitions {
    pub fn new(name: &str) -> Self {
        DynamicPartitions {
            name: name.to_owned(),
            keys: Arc::new(std::sync::RwLock::new(StaticPartitions {
                keys: Arc::from(Vec::new()),
                index: Arc::default(),
                errors: Vec::new(),
            })),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replaces the keys (the engine loads them from the instance).
    pub fn set_keys(&self, keys: &[String]) {
        let mut valid = Vec::with_capacity(keys.len());
        let mut index = rustc_hash::FxHashMap::default();
        for key in keys {
            if let Ok(k) = PartitionKey::new(key)
                && index.insert(key.clone(), valid.len()).is_none()
            {
                valid.push(k);
            }
        }
        let set = StaticPartitions {
            keys: valid.into(),
            index: Arc::new(index),
            errors: Vec::new(),
        };
        match self.keys.write() {
            Ok(mut w) => *w = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, StaticPartitions> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl PartialEq for DynamicPartitions {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl fmt::Debug for DynamicPartitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DynamicPartitions({:?})", self.name)
    }
}

impl PartialEq for StaticPartitions {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys
    }
}

impl fmt::Debug for StaticPartitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.keys.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_keys_validate_and_suggest() {
        let def = PartitionsDefinition::static_keys(["eu", "us", "apac"]);
        assert_eq!(def.len(), 3);
        assert_eq!(def.kind(), "static");
        assert_eq!(def.validate_key("us").unwrap().as_str(), "us");
        let err = def.validate_key("usa").unwrap_err().to_string();
        assert!(err.contains("did you mean \"us\"?"), "{err}");
        assert!(def.problems().is_empty());
    }

    #[test]
    fn bad_keys_are_reported_not_dropped_silently() {
        let def = PartitionsDefinition::static_keys(["ok", "a/b", "ok", ""]);
        let problems = def.problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("listed twice")));
        assert!(PartitionKey::new(" x").is_err());
        assert!(PartitionKey::new("..").is_err());
        assert!(PartitionKey::new("2026-11-21").is_ok());
    }
}
