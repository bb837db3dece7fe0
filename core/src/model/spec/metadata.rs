//! Typed metadata values attached to definitions and materializations.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Metadata: an ordered map of typed values.
pub type Metadata = BTreeMap<String, MetadataValue>;

/// One typed metadata value. The type decides how the CLI and UI show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MetadataValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Markdown(String),
    Json(serde_json::Value),
    Url(String),
    Path(String),
    /// The columns of a table, with their null counts where known.
    TableSchema(Vec<ColumnInfo>),
}

/// One column of a table's schema as recorded in metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_count: Option<u64>,
}

impl MetadataValue {
    /// Passes its text (and every string inside JSON) through `f`.
    pub fn redact(&mut self, f: &dyn Fn(&str) -> String) {
        fn json(v: &mut serde_json::Value, f: &dyn Fn(&str) -> String) {
            match v {
                serde_json::Value::String(s) => *s = f(s),
                serde_json::Value::Array(items) => items.iter_mut().for_each(|i| json(i, f)),
                serde_json::Value::Object(map) => map.values_mut().for_each(|i| json(i, f)),
                _ => {}
            }
        }
        match self {
            MetadataValue::Text(s)
            | MetadataValue::Markdown(s)
            | MetadataValue::Url(s)
            | MetadataValue::Path(s) => *s = f(s),
            MetadataValue::Json(v) => json(v, f),
            _ => {}
        }
    }

    pub fn markdown(text: impl Into<String>) -> Self {
        MetadataValue::Markdown(text.into())
    }
    pub fn url(url: impl Into<String>) -> Self {
        MetadataValue::Url(url.into())
    }
    pub fn path(path: impl AsRef<std::path::Path>) -> Self {
        MetadataValue::Path(path.as_ref().display().to_string())
    }
    pub fn json(value: serde_json::Value) -> Self {
        MetadataValue::Json(value)
    }

    /// The value as a float, for numeric values.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            MetadataValue::Int(i) => Some(*i as f64),
            MetadataValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as an integer, for integer values.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            MetadataValue::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl fmt::Display for MetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataValue::Int(i) => write!(f, "{i}"),
            MetadataValue::Float(x) => {
                if x.fract() == 0.0 && x.abs() < 1e15 {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{}", (x * 1e4).round() / 1e4)
                }
            }
            MetadataValue::Bool(b) => write!(f, "{b}"),
            MetadataValue::Text(s)
            | MetadataValue::Markdown(s)
            | MetadataValue::Url(s)
            | MetadataValue::Path(s) => f.write_str(s),
            MetadataValue::Json(v) => write!(f, "{v}"),
            MetadataValue::TableSchema(columns) => {
                let parts: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{}: {}", c.name, c.data_type))
                    .collect();
                write!(f, "{}", parts.join(", "))
            }
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for MetadataValue {
            fn from(v: $t) -> Self { MetadataValue::Int(v as i64) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, isize);

impl From<u64> for MetadataValue {
    fn from(v: u64) -> Self {
        MetadataValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<usize> for MetadataValue {
    fn from(v: usize) -> Self {
        MetadataValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for MetadataValue {
    fn from(v: f64) -> Self {
        MetadataValue::Float(v)
    }
}
impl From<f32> for MetadataValue {
    fn from(v: f32) -> Self {
        MetadataValue::Float(f64::from(v))
    }
}
impl From<bool> for MetadataValue {
    fn from(v: bool) -> Self {
        MetadataValue::Bool(v)
    }
}
impl From<&str> for MetadataValue {
    fn from(v: &str) -> Self {
        MetadataValue::Text(v.to_owned())
    }
}
impl From<String> for MetadataValue {
    fn from(v: String) -> Self {
        MetadataValue::Text(v)
    }
}
impl From<serde_json::Value> for MetadataValue {
    fn from(v: serde_json::Value) -> Self {
        MetadataValue::Json(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_round_trip_through_json() {
        let mut m = Metadata::new();
        m.insert("recall_at_5".into(), 0.83.into());
        m.insert("rows".into(), 12u64.into());
        m.insert("ok".into(), true.into());
        m.insert("doc".into(), MetadataValue::markdown("# hi"));
        m.insert("link".into(), MetadataValue::url("https://x.test"));
        let text = serde_json::to_string(&m).unwrap();
        assert!(
            text.contains(r#""recall_at_5":{"type":"float","value":0.83}"#),
            "{text}"
        );
        let back: Metadata = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m);
    }
}
