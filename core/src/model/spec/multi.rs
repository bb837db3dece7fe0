//! Multi-dimensional partitions: the product of any number of named dimensions, each static or
//! time windows. A key joins one key per dimension with `|` in dimension order
//! (`2026-11-21|eu|mobile`); positions are mixed-radix numbers, so keys are computed, never
//! listed.

use super::{PartitionKey, PartitionsDefinition};

/// The separator between the dimensions of a key.
pub const SEPARATOR: char = '|';

/// Partitions over several dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiPartitions {
    dims: Vec<(String, PartitionsDefinition)>,
    errors: Vec<String>,
}

impl MultiPartitions {
    /// The product of `dims`, in this order (the first varies slowest).
    pub fn new<I, S>(dims: I) -> Self
    where
        I: IntoIterator<Item = (S, PartitionsDefinition)>,
        S: Into<String>,
    {
        let dims: Vec<(String, PartitionsDefinition)> =
            dims.into_iter().map(|(n, d)| (n.into(), d)).collect();
        let mut errors = Vec::new();
        if dims.len() < 2 {
            errors.push("multi-dimensional partitions need at least two dimensions".into());
        }
        let mut names = std::collections::HashSet::new();
        for (name, def) in &dims {
            if !super::is_name(name) || !names.insert(name.as_str()) {
                errors.push(format!(
                    "dimension {name:?} must be a unique name (letters, digits and _)"
                ));
            }
            if matches!(def, PartitionsDefinition::Multi(_)) {
                errors.push(format!(
                    "dimension {name} cannot itself be multi-dimensional"
                ));
            }
            for p in def.problems() {
                errors.push(format!("dimension {name}: {p}"));
            }
            // Static keys are listed; time-window keys contain what their format does.
            let separator_in_keys = match def {
                PartitionsDefinition::Static(_) => {
                    def.keys().any(|k| k.as_str().contains(SEPARATOR))
                }
                PartitionsDefinition::TimeWindow(t) => t.format().contains(SEPARATOR),
                PartitionsDefinition::Multi(_) | PartitionsDefinition::Dynamic(_) => false,
            };
            if separator_in_keys {
                errors.push(format!(
                    "dimension {name}: keys cannot contain {SEPARATOR:?}"
                ));
            }
        }
        MultiPartitions { dims, errors }
    }

    /// Makes the open-ended time windows among the dimensions end as of `now`.
    pub(crate) fn set_as_of(&mut self, now: chrono::DateTime<chrono::Utc>) {
        for (_, d) in &mut self.dims {
            d.set_as_of(now);
        }
    }

    pub fn dimensions(&self) -> impl Iterator<Item = (&str, &PartitionsDefinition)> {
        self.dims.iter().map(|(n, d)| (n.as_str(), d))
    }

    pub fn len(&self) -> usize {
        if !self.errors.is_empty() {
            return 0;
        }
        self.dims
            .iter()
            .try_fold(1usize, |n, (_, d)| n.checked_mul(d.len()))
            .unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn problems(&self) -> Vec<String> {
        self.errors.clone()
    }

    /// The key at position `i`: the last dimension varies fastest.
    pub fn key_at(&self, i: usize) -> Option<PartitionKey> {
        if i >= self.len() {
            return None;
        }
        let mut rest = i;
        let mut parts = vec![String::new(); self.dims.len()];
        for (slot, (_, d)) in parts.iter_mut().zip(&self.dims).rev() {
            let n = d.len();
            *slot = d.key_at(rest % n)?.to_string();
            rest /= n;
        }
        PartitionKey::new(&parts.join(&SEPARATOR.to_string())).ok()
    }

    /// The position of `key`, if each of its parts is a key of its dimension.
    pub fn index_of(&self, key: &str) -> Option<usize> {
        let parts: Vec<&str> = key.split(SEPARATOR).collect();
        if parts.len() != self.dims.len() || !self.errors.is_empty() {
            return None;
        }
        let mut i = 0usize;
        for (part, (_, d)) in parts.iter().zip(&self.dims) {
            i = i.checked_mul(d.len())?.checked_add(d.index_of(part)?)?;
        }
        Some(i)
    }

    /// Why `key` is not a key of these partitions, dimension by dimension.
    pub fn explain(&self, key: &str) -> String {
        let parts: Vec<&str> = key.split(SEPARATOR).collect();
        if parts.len() != self.dims.len() {
            let names: Vec<&str> = self.dims.iter().map(|(n, _)| n.as_str()).collect();
            return format!(
                "a key has {} parts separated by {SEPARATOR:?} ({}), this one has {}",
                self.dims.len(),
                names.join(SEPARATOR.to_string().as_str()),
                parts.len()
            );
        }
        parts
            .iter()
            .zip(&self.dims)
            .filter_map(|(part, (name, d))| {
                d.validate_key(part)
                    .err()
                    .map(|e| format!("dimension {name}: {e}"))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn describe(&self) -> String {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|(n, d)| format!("{n}: {}", d.describe()))
            .collect();
        format!("multi ({}): {}", self.len(), dims.join(" × "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::TimeWindows;

    fn three() -> MultiPartitions {
        MultiPartitions::new([
            (
                "day",
                TimeWindows::daily("2026-01-01").end("2026-01-11").into(),
            ),
            (
                "region",
                PartitionsDefinition::static_keys(["eu", "us", "apac"]),
            ),
            (
                "device",
                PartitionsDefinition::static_keys(["web", "mobile"]),
            ),
        ])
    }

    #[test]
    fn three_dimensions_by_mixed_radix() {
        let m = three();
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        assert_eq!(m.len(), 10 * 3 * 2);
        assert_eq!(m.key_at(0).unwrap().as_str(), "2026-01-01|eu|web");
        assert_eq!(m.key_at(1).unwrap().as_str(), "2026-01-01|eu|mobile");
        assert_eq!(m.key_at(59).unwrap().as_str(), "2026-01-10|apac|mobile");
        for i in [0, 7, 31, 59] {
            let k = m.key_at(i).unwrap();
            assert_eq!(m.index_of(k.as_str()), Some(i));
        }
        assert_eq!(m.index_of("2026-01-01|eu"), None);
        assert_eq!(m.index_of("2026-01-01|mars|web"), None);
        let why = m.explain("2026-01-01|mars|web");
        assert!(
            why.contains("dimension region") && why.contains("\"mars\""),
            "{why}"
        );
        assert!(m.explain("x|y").contains("3 parts"), "{}", m.explain("x|y"));
    }

    #[test]
    fn bad_dimensions_are_problems() {
        let m = MultiPartitions::new([("only", PartitionsDefinition::static_keys(["a"]))]);
        assert!(m.problems()[0].contains("at least two"));
        let m = MultiPartitions::new([
            ("a", PartitionsDefinition::static_keys(["x|y"])),
            ("a", PartitionsDefinition::static_keys(["z"])),
        ]);
        let p = m.problems().join("; ");
        assert!(
            p.contains("cannot contain '|'") && p.contains("unique name"),
            "{p}"
        );
    }
}
