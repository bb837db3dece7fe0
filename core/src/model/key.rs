//! Asset keys: a path of components, written `/`-joined (`raw/documents`).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::error::{Error, Result};

/// The name of an asset: one or more components, each made of letters, digits and `_`
/// (Dagster's rule), displayed joined by `/`.
///
/// Stored as the joined string so that clones are cheap and ordering, hashing and display need
/// no work; the components can always be recovered because none may contain `/`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetKey(Arc<str>);

impl AssetKey {
    /// Parses a `/`-joined key, e.g. `raw/documents`.
    pub fn parse(path: &str) -> Result<Self> {
        if path.is_empty() {
            return Err(Error::Definition("an asset key cannot be empty".into()));
        }
        for component in path.split('/') {
            validate_component(path, component)?;
        }
        Ok(AssetKey(Arc::from(path)))
    }

    /// Builds a key from its components, e.g. `["raw", "documents"]`.
    pub fn from_components<I, S>(components: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parts: Vec<String> = components
            .into_iter()
            .map(|c| c.as_ref().to_owned())
            .collect();
        let joined = parts.join("/");
        if parts.is_empty() {
            return Err(Error::Definition("an asset key cannot be empty".into()));
        }
        for component in &parts {
            validate_component(&joined, component)?;
        }
        Ok(AssetKey(Arc::from(joined)))
    }

    /// A key that was not validated, kept only so a definition problem can name it; the
    /// definitions that hold one are refused when they are loaded.
    pub(crate) fn unchecked(path: &str) -> Self {
        AssetKey(Arc::from(path))
    }

    /// The key's components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last component: the asset's name without its prefix.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The `/`-joined form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A new key with `prefix` components in front.
    pub fn with_prefix(&self, prefix: &[String]) -> Result<Self> {
        if prefix.is_empty() {
            return Ok(self.clone());
        }
        let mut parts: Vec<&str> = prefix.iter().map(String::as_str).collect();
        parts.extend(self.components());
        Self::from_components(parts)
    }
}

fn validate_component(path: &str, component: &str) -> Result<()> {
    if component.is_empty() {
        return Err(Error::Definition(format!(
            "invalid asset key \"{path}\": empty component (keys look like `name` or `prefix/name`)"
        )));
    }
    if let Some(bad) = component
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Err(Error::Definition(format!(
            "invalid asset key \"{path}\": component \"{component}\" contains {bad:?}; \
             only ASCII letters, digits and _ are allowed"
        )));
    }
    Ok(())
}

impl fmt::Display for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssetKey({})", self.0)
    }
}

/// Lets maps keyed by `AssetKey` be searched with a `&str` without allocating (the joined string
/// hashes and compares like the key).
impl std::borrow::Borrow<str> for AssetKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for AssetKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        AssetKey::parse(s)
    }
}

impl Serialize for AssetKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AssetKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        AssetKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The blake3 hash of a value's logical content, as 64 hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DataVersion(Arc<str>);

impl DataVersion {
    pub fn from_hex(hex: &str) -> Self {
        DataVersion(Arc::from(hex))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, as the CLI shows it.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl fmt::Display for DataVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DataVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataVersion({})", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_paths() {
        let key = AssetKey::parse("raw/documents").unwrap();
        assert_eq!(key.to_string(), "raw/documents");
        assert_eq!(key.components().collect::<Vec<_>>(), ["raw", "documents"]);
        assert_eq!(key.name(), "documents");
        let same = AssetKey::from_components(["raw", "documents"]).unwrap();
        assert_eq!(key, same);
        let prefixed = AssetKey::parse("documents")
            .unwrap()
            .with_prefix(&["raw".into()])
            .unwrap();
        assert_eq!(prefixed, key);
    }

    #[test]
    fn rejects_invalid_keys_with_the_offending_part() {
        let err = AssetKey::parse("raw/my docs").unwrap_err().to_string();
        assert!(err.contains("\"my docs\""), "{err}");
        assert!(err.contains("' '"), "{err}");
        let err = AssetKey::parse("raw//docs").unwrap_err().to_string();
        assert!(err.contains("empty component"), "{err}");
        assert!(AssetKey::parse("").is_err());
        assert!(AssetKey::from_components(["a/b"]).is_err());
        assert!(AssetKey::from_components(Vec::<String>::new()).is_err());
    }

    #[test]
    fn serializes_as_the_joined_string() {
        let key = AssetKey::parse("a/b").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"a/b\"");
        let back: AssetKey = serde_json::from_str("\"a/b\"").unwrap();
        assert_eq!(back, key);
        assert!(serde_json::from_str::<AssetKey>("\"a b\"").is_err());
    }
}
