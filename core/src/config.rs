//! Run configuration: the `--config key=value` pairs a code location declares and its assets
//! read through `ctx.config()`.
//!
//! A code location declares its fields (name, type, default, description) once; the command
//! line validates every pair against them before anything runs, so a typo or a malformed value
//! fails fast with a suggestion instead of half-way through a run.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::error::{Error, Result, did_you_mean};

/// The type of a config field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigKind {
    String,
    Int,
    Float,
    Bool,
    Path,
}

impl ConfigKind {
    fn check(self, name: &str, value: &str) -> Result<()> {
        let ok = match self {
            ConfigKind::String | ConfigKind::Path => true,
            ConfigKind::Int => value.parse::<i64>().is_ok(),
            ConfigKind::Float => value.parse::<f64>().is_ok_and(f64::is_finite),
            ConfigKind::Bool => matches!(value, "true" | "false"),
        };
        if ok {
            Ok(())
        } else {
            let expected = match self {
                ConfigKind::Int => "an integer",
                ConfigKind::Float => "a number",
                ConfigKind::Bool => "true or false",
                ConfigKind::String | ConfigKind::Path => "text",
            };
            Err(Error::Config(format!(
                "--config {name}={value}: {name} expects {expected}"
            )))
        }
    }
}

impl fmt::Display for ConfigKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigKind::String => "string",
            ConfigKind::Int => "int",
            ConfigKind::Float => "float",
            ConfigKind::Bool => "bool",
            ConfigKind::Path => "path",
        })
    }
}

/// One declared config field.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigField {
    pub name: String,
    pub kind: ConfigKind,
    pub default: Option<String>,
    pub description: Option<String>,
}

impl ConfigField {
    pub fn new(name: impl Into<String>, kind: ConfigKind) -> Self {
        ConfigField {
            name: name.into(),
            kind,
            default: None,
            description: None,
        }
    }
    pub fn string(name: impl Into<String>) -> Self {
        Self::new(name, ConfigKind::String)
    }
    pub fn path(name: impl Into<String>) -> Self {
        Self::new(name, ConfigKind::Path)
    }
    pub fn int(name: impl Into<String>, default: i64) -> Self {
        Self::new(name, ConfigKind::Int).default(default.to_string())
    }
    pub fn float(name: impl Into<String>, default: f64) -> Self {
        Self::new(name, ConfigKind::Float).default(default.to_string())
    }
    pub fn bool(name: impl Into<String>, default: bool) -> Self {
        Self::new(name, ConfigKind::Bool).default(default.to_string())
    }
    pub fn default(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
}

/// The config fields a code location declares.
#[derive(Clone, Debug, Default)]
pub struct ConfigSpec {
    fields: BTreeMap<String, ConfigField>,
}

impl ConfigSpec {
    pub fn add(&mut self, field: ConfigField) -> Result<()> {
        if let Some(default) = &field.default {
            field.kind.check(&field.name, default)?;
        }
        if self.fields.contains_key(&field.name) {
            return Err(Error::Definition(format!(
                "config field {:?} is declared twice",
                field.name
            )));
        }
        self.fields.insert(field.name.clone(), field);
        Ok(())
    }

    pub fn fields(&self) -> impl Iterator<Item = &ConfigField> {
        self.fields.values()
    }

    /// Parses `key=value` pairs from the command line against the declared fields.
    pub fn parse_pairs<S: AsRef<str>>(self: &Arc<Self>, pairs: &[S]) -> Result<RunConfig> {
        let mut values = BTreeMap::new();
        for pair in pairs {
            let pair = pair.as_ref();
            let Some((name, value)) = pair.split_once('=') else {
                return Err(Error::Config(format!(
                    "--config {pair:?} is malformed: expected KEY=VALUE, e.g. --config synthetic_docs=1000"
                )));
            };
            let name = name.trim();
            let Some(field) = self.fields.get(name) else {
                return Err(self.unknown(name));
            };
            field.kind.check(name, value)?;
            if values.insert(name.to_owned(), value.to_owned()).is_some() {
                return Err(Error::Config(format!("--config {name} is given twice")));
            }
        }
        Ok(RunConfig {
            spec: Arc::clone(self),
            given: Arc::new(values),
        })
    }

    fn unknown(&self, name: &str) -> Error {
        let known: Vec<&str> = self.fields.keys().map(String::as_str).collect();
        let hint = match did_you_mean(name, known.iter().copied()) {
            Some(s) => format!("; did you mean {s:?}?"),
            None if known.is_empty() => "; this code location declares no config fields".into(),
            None => format!("; known fields: {}", known.join(", ")),
        };
        Error::Config(format!("--config {name}: unknown config field{hint}"))
    }
}

/// The config of one run: the pairs given on the command line over the declared defaults.
#[derive(Clone, Debug)]
pub struct RunConfig {
    spec: Arc<ConfigSpec>,
    given: Arc<BTreeMap<String, String>>,
}

impl RunConfig {
    /// A config with only the declared defaults.
    pub fn defaults(spec: Arc<ConfigSpec>) -> Self {
        RunConfig {
            spec,
            given: Arc::default(),
        }
    }

    /// The pairs given explicitly, as recorded with the run.
    pub fn given(&self) -> &BTreeMap<String, String> {
        &self.given
    }

    /// The values recorded in `reads` (what an asset read) that differ under this config, as
    /// (name, recorded, current); a field no longer declared has no current value. Planning and
    /// staleness both judge by this one rule.
    pub fn changes_from(
        &self,
        reads: &ConfigReads,
    ) -> Vec<(String, Option<String>, Option<String>)> {
        reads
            .iter()
            .filter_map(|(name, recorded)| {
                let now = self.raw(name).ok().flatten();
                (now != recorded.as_deref())
                    .then(|| (name.clone(), recorded.clone(), now.map(str::to_owned)))
            })
            .collect()
    }

    /// The effective value of `name`: given, else its default; `None` when neither exists.
    pub fn raw(&self, name: &str) -> Result<Option<&str>> {
        if let Some(v) = self.given.get(name) {
            return Ok(Some(v));
        }
        match self.spec.fields.get(name) {
            Some(field) => Ok(field.default.as_deref()),
            None => Err(self.spec.unknown(name)),
        }
    }
}

/// The config values an asset read, by name (`None`: read, but it had no value).
pub type ConfigReads = BTreeMap<String, Option<String>>;

/// What an asset sees through `ctx.config()`: typed reads that are remembered, because the
/// config an asset actually read is part of its provenance.
#[derive(Debug)]
pub struct ConfigView<'a> {
    config: &'a RunConfig,
    reads: &'a Mutex<ConfigReads>,
}

impl<'a> ConfigView<'a> {
    pub(crate) fn new(config: &'a RunConfig, reads: &'a Mutex<ConfigReads>) -> Self {
        ConfigView { config, reads }
    }

    /// Reads `name` as `T`; an error if it has no value or does not parse.
    pub fn get<T>(&self, name: &str) -> Result<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.get_opt(name)?.ok_or_else(|| {
            Error::Config(format!(
                "config {name} has no value: pass --config {name}=VALUE"
            ))
        })
    }

    /// Reads `name` as `T`, or `None` if it has neither a value nor a default.
    pub fn get_opt<T>(&self, name: &str) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let raw = self.config.raw(name)?;
        // Reading "no value" is a read too: giving one later changes what the asset sees.
        if let Ok(mut reads) = self.reads.lock() {
            reads.insert(name.to_owned(), raw.map(str::to_owned));
        }
        let Some(raw) = raw else {
            return Ok(None);
        };
        raw.parse::<T>().map(Some).map_err(|e| {
            Error::Config(format!(
                "config {name}={raw:?} cannot be read as {}: {e}",
                std::any::type_name::<T>()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Arc<ConfigSpec> {
        let mut s = ConfigSpec::default();
        s.add(ConfigField::int("synthetic_docs", 0)).unwrap();
        s.add(ConfigField::path("source_dir")).unwrap();
        s.add(ConfigField::float("min_recall_at_5", 0.5)).unwrap();
        Arc::new(s)
    }

    #[test]
    fn parses_typed_pairs_over_defaults() {
        let config = spec().parse_pairs(&["synthetic_docs=50"]).unwrap();
        let reads = Mutex::new(BTreeMap::new());
        let view = ConfigView::new(&config, &reads);
        assert_eq!(view.get::<usize>("synthetic_docs").unwrap(), 50);
        assert_eq!(view.get::<f64>("min_recall_at_5").unwrap(), 0.5);
        assert_eq!(view.get_opt::<String>("source_dir").unwrap(), None);
        assert!(view.get::<String>("source_dir").is_err());
        let reads = reads.into_inner().unwrap();
        assert_eq!(reads["synthetic_docs"].as_deref(), Some("50"));
        assert_eq!(reads["min_recall_at_5"].as_deref(), Some("0.5"));
        // Reading an unset field is recorded as such.
        assert_eq!(reads.get("source_dir"), Some(&None));
    }

    #[test]
    fn malformed_unknown_and_mistyped_pairs_are_clear_errors() {
        let s = spec();
        let err = s.parse_pairs(&["synthetic_docs"]).unwrap_err().to_string();
        assert!(err.contains("expected KEY=VALUE"), "{err}");
        let err = s.parse_pairs(&["synthetic_doc=3"]).unwrap_err().to_string();
        assert!(err.contains("did you mean \"synthetic_docs\"?"), "{err}");
        let err = s
            .parse_pairs(&["synthetic_docs=lots"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("expects an integer"), "{err}");
        let err = s
            .parse_pairs(&["synthetic_docs=1", "synthetic_docs=2"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("given twice"), "{err}");
        let mut bad = ConfigSpec::default();
        assert!(bad.add(ConfigField::int("x", 1).default("one")).is_err());
    }
}
