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

use crate::model::error::{Error, Result, did_you_mean};

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
    /// The smallest value a number may take.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The largest value a number may take.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The only values it may take, when it is one of a few.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// A secret (an API key): its value is never recorded anywhere — not in runs, provenance,
    /// logs or JSON output; that it was read is.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// The environment variable its value comes from when `--config` does not give one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

/// What stands for a secret's value wherever a value would be recorded or shown.
pub const SECRET: &str = "<secret>";

/// Secret values shorter than this are not searched for in logs (a two-letter "secret" would
/// blank out every word containing it).
const MIN_REDACTED_LEN: usize = 4;

/// A bound of a numeric config field: any integer or float literal (`.min(1)`, `.max(0.5)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound(pub f64);

macro_rules! bound_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Bound {
            fn from(v: $t) -> Self {
                Bound(v as f64)
            }
        }
    )*};
}
bound_from!(i32, i64, u32, u64, usize, f32, f64);

impl ConfigField {
    pub fn new(name: impl Into<String>, kind: ConfigKind) -> Self {
        ConfigField {
            name: name.into(),
            kind,
            default: None,
            description: None,
            min: None,
            max: None,
            choices: Vec::new(),
            secret: false,
            env: None,
        }
    }
    pub fn string(name: impl Into<String>) -> Self {
        Self::new(name, ConfigKind::String)
    }
    pub fn path(name: impl Into<String>) -> Self {
        Self::new(name, ConfigKind::Path)
    }
    /// A secret string (an API key, a password): given with `--config` or, with
    /// [`env`](Self::env), from the environment; never recorded or shown.
    pub fn secret(name: impl Into<String>) -> Self {
        let mut field = Self::new(name, ConfigKind::String);
        field.secret = true;
        field
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

    /// Takes its value from environment variable `var` when `--config` gives none (before its
    /// default): `ConfigField::secret("api_key").env("OPENAI_API_KEY")`.
    pub fn env(mut self, var: impl Into<String>) -> Self {
        self.env = Some(var.into());
        self
    }

    /// The smallest value this (int or float) field takes: `.min(1)`.
    pub fn min(mut self, bound: impl Into<Bound>) -> Self {
        self.min = Some(bound.into().0);
        self
    }

    /// The largest value this (int or float) field takes.
    pub fn max(mut self, bound: impl Into<Bound>) -> Self {
        self.max = Some(bound.into().0);
        self
    }

    /// Both bounds, inclusive: `.range(0.0..=1.0)`.
    pub fn range<B: Into<Bound> + Copy>(self, range: std::ops::RangeInclusive<B>) -> Self {
        self.min(*range.start()).max(*range.end())
    }

    /// The only values this field takes: `.choices(["fast", "exact"])`.
    pub fn choices<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.choices = values.into_iter().map(Into::into).collect();
        self
    }

    /// What values it takes, in a few words (`int ≥ 1`, `float in 0..1`, `one of a, b`).
    pub fn constraint(&self) -> Option<String> {
        let n = |v: f64| {
            if self.kind == ConfigKind::Int {
                format!("{}", v as i64)
            } else {
                format!("{v}")
            }
        };
        if !self.choices.is_empty() {
            return Some(format!("one of {}", self.choices.join(", ")));
        }
        match (self.min, self.max) {
            (Some(a), Some(b)) => Some(format!("{} to {}", n(a), n(b))),
            (Some(a), None) => Some(format!("≥ {}", n(a))),
            (None, Some(b)) => Some(format!("≤ {}", n(b))),
            (None, None) => None,
        }
    }

    /// Checks `value` against the field's type, bounds and choices.
    fn check(&self, value: &str) -> Result<()> {
        let name = &self.name;
        self.kind.check(name, value)?;
        if !self.choices.is_empty() && !self.choices.iter().any(|c| c == value) {
            let hint = did_you_mean(value, self.choices.iter().map(String::as_str))
                .map(|c| format!("; did you mean {c:?}?"))
                .unwrap_or_default();
            return Err(Error::Config(format!(
                "--config {name}={value}: {name} is one of {}{hint}",
                self.choices.join(", ")
            )));
        }
        if matches!(self.kind, ConfigKind::Int | ConfigKind::Float)
            && let Ok(v) = value.parse::<f64>()
            && let Some(c) = self.constraint()
            && (self.min.is_some_and(|m| v < m) || self.max.is_some_and(|m| v > m))
        {
            return Err(Error::Config(format!(
                "--config {name}={value}: {name} must be {}",
                match (self.min, self.max) {
                    (Some(_), Some(_)) => format!("from {c}"),
                    (Some(_), None) => format!("at least {}", c.trim_start_matches("≥ ")),
                    _ => format!("at most {}", c.trim_start_matches("≤ ")),
                }
            )));
        }
        Ok(())
    }
}

/// The config fields a code location declares.
#[derive(Clone, Debug, Default)]
pub struct ConfigSpec {
    fields: BTreeMap<String, ConfigField>,
    /// The values of the environment variables fields read (`.env(VAR)`), as they were when
    /// the fields were declared.
    env_values: BTreeMap<String, String>,
}

impl ConfigSpec {
    pub fn add(&mut self, field: ConfigField) -> Result<()> {
        if let Some(default) = &field.default {
            field.check(default).map_err(|e| {
                Error::Definition(format!(
                    "config field {:?}: its default does not hold: {e}",
                    field.name
                ))
            })?;
        }
        if let (Some(a), Some(b)) = (field.min, field.max)
            && a > b
        {
            return Err(Error::Definition(format!(
                "config field {:?}: its minimum {a} is above its maximum {b}",
                field.name
            )));
        }
        if field.secret && field.default.is_some() {
            return Err(Error::Definition(format!(
                "config field {:?} is a secret: it takes no default written in code (give it \
                 with --config or .env(\"VAR\"))",
                field.name
            )));
        }
        if (field.min.is_some() || field.max.is_some())
            && !matches!(field.kind, ConfigKind::Int | ConfigKind::Float)
        {
            return Err(Error::Definition(format!(
                "config field {:?}: only int and float fields take bounds",
                field.name
            )));
        }
        if self.fields.contains_key(&field.name) {
            return Err(Error::Definition(format!(
                "config field {:?} is declared twice",
                field.name
            )));
        }
        if let Some(var) = &field.env
            && let Ok(value) = std::env::var(var)
        {
            field.check(&value).map_err(|e| {
                Error::Config(format!(
                    "environment variable {var} (for config field {:?}): {}",
                    field.name,
                    if field.secret {
                        "not a valid value".to_owned()
                    } else {
                        e.to_string()
                    }
                ))
            })?;
            self.env_values.insert(var.clone(), value);
        }
        self.fields.insert(field.name.clone(), field);
        Ok(())
    }

    pub fn fields(&self) -> impl Iterator<Item = &ConfigField> {
        self.fields.values()
    }

    fn env_value(&self, var: &str) -> Option<&str> {
        self.env_values.get(var).map(String::as_str)
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
            field.check(value)?;
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

    /// The pairs given explicitly (secrets included: for running, never for recording).
    pub fn given(&self) -> &BTreeMap<String, String> {
        &self.given
    }

    /// The pairs given explicitly as a run records them: a secret's value is [`SECRET`].
    pub fn recorded(&self) -> BTreeMap<String, String> {
        self.given
            .iter()
            .map(|(k, v)| {
                let shown = if self.is_secret(k) {
                    SECRET.to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect()
    }

    /// The secret fields given explicitly, as `name=value` pairs (for a run resumed later in
    /// the same process, which cannot take them from the record).
    pub fn secret_pairs(&self) -> Vec<String> {
        self.given
            .iter()
            .filter(|(k, _)| self.is_secret(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// Whether `name` is a secret field.
    pub fn is_secret(&self, name: &str) -> bool {
        self.spec.fields.get(name).is_some_and(|f| f.secret)
    }

    /// The values of every secret field this config has (given or from the environment),
    /// long enough to be searched for: what is redacted from logs and errors.
    pub fn secret_values(&self) -> Vec<String> {
        self.spec
            .fields
            .values()
            .filter(|f| f.secret)
            .filter_map(|f| self.raw(&f.name).ok().flatten().map(str::to_owned))
            .filter(|v| v.len() >= MIN_REDACTED_LEN)
            .collect()
    }

    /// `text` with every secret value replaced by [`SECRET`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secret_values() {
            if out.contains(&secret) {
                out = out.replace(&secret, SECRET);
            }
        }
        out
    }

    /// The value of `name` as records and comparisons see it: a secret is [`SECRET`] when it
    /// has a value (so rotating a key changes nothing recorded).
    pub fn recorded_value(&self, name: &str) -> Option<String> {
        let value = self.raw(name).ok().flatten()?;
        Some(if self.is_secret(name) {
            SECRET.to_owned()
        } else {
            value.to_owned()
        })
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
                let now = self.recorded_value(name);
                (now != *recorded).then(|| (name.clone(), recorded.clone(), now))
            })
            .collect()
    }

    /// The effective value of `name`: given, else from its environment variable, else its
    /// default; `None` when there is none.
    pub fn raw(&self, name: &str) -> Result<Option<&str>> {
        if let Some(v) = self.given.get(name) {
            return Ok(Some(v));
        }
        match self.spec.fields.get(name) {
            Some(field) => Ok(field
                .env
                .as_ref()
                .and_then(|var| self.spec.env_value(var))
                .or(field.default.as_deref())),
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
        // Reading "no value" is a read too: giving one later changes what the asset sees. A
        // secret is recorded as read, never by its value.
        if let Ok(mut reads) = self.reads.lock() {
            reads.insert(name.to_owned(), self.config.recorded_value(name));
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

    #[test]
    fn bounds_and_choices_are_checked_before_anything_runs() {
        let mut s = ConfigSpec::default();
        s.add(ConfigField::int("chunk_words", 80).min(1)).unwrap();
        s.add(ConfigField::float("recall", 0.5).range(0.0..=1.0))
            .unwrap();
        s.add(
            ConfigField::string("mode")
                .default("fast")
                .choices(["fast", "exact"]),
        )
        .unwrap();
        let s = Arc::new(s);
        for (pair, says) in [
            ("chunk_words=-1", "chunk_words must be at least 1"),
            ("chunk_words=0", "chunk_words must be at least 1"),
            ("recall=1.5", "recall must be from 0 to 1"),
            ("recall=-0.1", "recall must be from 0 to 1"),
            (
                "mode=exakt",
                "mode is one of fast, exact; did you mean \"exact\"?",
            ),
        ] {
            let err = s.parse_pairs(&[pair]).unwrap_err().to_string();
            assert!(err.contains(says), "{pair}: {err}");
        }
        for pair in ["chunk_words=1", "recall=1", "recall=0", "mode=exact"] {
            s.parse_pairs(&[pair]).unwrap();
        }
        let field = |n: &str| s.fields().find(|f| f.name == n).unwrap().constraint();
        assert_eq!(field("chunk_words").as_deref(), Some("≥ 1"));
        assert_eq!(field("recall").as_deref(), Some("0 to 1"));
        // A default outside its own bounds is a definition error.
        let mut bad = ConfigSpec::default();
        let err = bad.add(ConfigField::int("n", 0).min(1)).unwrap_err();
        assert!(err.to_string().contains("default does not hold"), "{err}");
    }
}
