//! The values assets produce and consume.
//!
//! An asset returns one of four kinds of value: an Arrow table, a JSON-like serde value, raw
//! bytes (a model, an image), or nothing. Rust types convert to and from them through
//! [`IntoValue`] and [`FromValue`]: [`Table`] and `RecordBatch` directly, a user's row structs
//! through [`Rows`] (serde_arrow does the conversion), serde values through [`Json`], and bytes
//! through [`Blob`].

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{FieldRef, SchemaRef};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_arrow::schema::{SchemaLike, TracingOptions};

use crate::model::error::{BoxError, Error, Result};

/// A value an asset produced, in memory.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Value {
    Table(Table),
    Json(serde_json::Value),
    Bytes(Bytes),
    /// The asset produced no value (it ran for a side effect).
    Nothing,
}

/// What kind of value a materialization holds; recorded so it can be loaded again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Table,
    Json,
    Bytes,
    Nothing,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueKind::Table => "table",
            ValueKind::Json => "json",
            ValueKind::Bytes => "bytes",
            ValueKind::Nothing => "nothing",
        })
    }
}

impl Value {
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Table(_) => ValueKind::Table,
            Value::Json(_) => ValueKind::Json,
            Value::Bytes(_) => ValueKind::Bytes,
            Value::Nothing => ValueKind::Nothing,
        }
    }

    /// Rows of a table; `None` for other kinds.
    pub fn num_rows(&self) -> Option<usize> {
        match self {
            Value::Table(t) => Some(t.num_rows()),
            _ => None,
        }
    }

    /// Combines the values of several partitions of one upstream into the single value an
    /// unpartitioned downstream reads: tables are concatenated in partition order, JSON becomes
    /// an object keyed by partition.
    pub fn combine_partitions(parts: Vec<(String, Value)>) -> Result<Value> {
        let Some((_, first)) = parts.first() else {
            return Ok(Value::Nothing);
        };
        match first.kind() {
            ValueKind::Table => {
                let Value::Table(first) = first else {
                    unreachable!("the kind was checked")
                };
                let schema = Arc::clone(first.schema());
                let mut batches = Vec::new();
                for (partition, value) in parts {
                    let Value::Table(t) = value else {
                        return Err(Error::Value(format!(
                            "partition {partition} is not a table while others are"
                        )));
                    };
                    if schema.fields() != t.schema.fields() {
                        return Err(Error::Value(format!(
                            "partition {partition} has a different schema from the others"
                        )));
                    }
                    batches.extend(t.batches);
                }
                Ok(Value::Table(Table::new(schema, batches)?))
            }
            ValueKind::Json => {
                let mut map = serde_json::Map::new();
                for (partition, value) in parts {
                    match value {
                        Value::Json(v) => {
                            map.insert(partition, v);
                        }
                        _ => {
                            return Err(Error::Value(format!(
                                "partition {partition} is not JSON while others are"
                            )));
                        }
                    }
                }
                Ok(Value::Json(serde_json::Value::Object(map)))
            }
            ValueKind::Nothing => Ok(Value::Nothing),
            ValueKind::Bytes => Err(Error::Value(
                "bytes values of several partitions cannot be combined into one input".into(),
            )),
        }
    }
}

/// An Arrow table: record batches sharing one schema.
#[derive(Clone, Debug)]
pub struct Table {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl Table {
    /// A table from batches; every batch must have `schema`'s fields.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Self> {
        for (i, batch) in batches.iter().enumerate() {
            if batch.schema().fields() != schema.fields() {
                return Err(Error::Value(format!(
                    "batch {i} of the table has schema {:?}, expected {:?}",
                    batch.schema().fields(),
                    schema.fields()
                )));
            }
        }
        Ok(Table { schema, batches })
    }

    pub fn from_batch(batch: RecordBatch) -> Self {
        Table {
            schema: batch.schema(),
            batches: vec![batch],
        }
    }

    pub fn empty(schema: SchemaRef) -> Self {
        Table {
            schema,
            batches: Vec::new(),
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    pub fn into_batches(self) -> Vec<RecordBatch> {
        self.batches
    }

    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The whole table as one batch.
    pub fn concat(&self) -> Result<RecordBatch> {
        if self.batches.len() == 1 {
            return Ok(self.batches[0].clone());
        }
        arrow::compute::concat_batches(&self.schema, &self.batches)
            .map_err(|e| Error::Value(format!("cannot concatenate the table's batches: {e}")))
    }

    /// Converts rows of a serde type into a table; the schema is traced from the type.
    pub fn from_rows<T: Serialize + DeserializeOwned>(rows: &[T]) -> Result<Self> {
        Self::from_rows_as(rows, &[])
    }

    /// [`from_rows`](Self::from_rows), with some columns given other Arrow types than the
    /// ones traced from `T` — a `Vec<f32>` of fixed length as `FixedSizeList<Float32, 256>`,
    /// so that vector tools read it as an array; a `u32` as `Int64`. serde_arrow converts the
    /// values (and [`to_rows`](Self::to_rows) reads them back into `T`).
    pub fn from_rows_as<T: Serialize + DeserializeOwned>(
        rows: &[T],
        columns: &[(&str, arrow::datatypes::DataType)],
    ) -> Result<Self> {
        let mut fields = fields_of::<T>()?;
        for (name, data_type) in columns {
            let Some(field) = fields.iter_mut().find(|f| f.name() == name) else {
                return Err(Error::Value(format!(
                    "{} has no field {name:?} to store as {data_type}",
                    std::any::type_name::<T>()
                )));
            };
            *field = Arc::new(field.as_ref().clone().with_data_type(data_type.clone()));
        }
        let batch = serde_arrow::to_record_batch(&fields, &rows).map_err(|e| {
            Error::Value(format!(
                "cannot convert rows of {} into a table: {e}",
                std::any::type_name::<T>()
            ))
        })?;
        Ok(Table::from_batch(batch))
    }

    /// Converts the table into rows of a serde type.
    pub fn to_rows<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(self.num_rows());
        for batch in &self.batches {
            let rows: Vec<T> = serde_arrow::from_record_batch(batch).map_err(|e| {
                Error::Value(format!(
                    "cannot read the table as rows of {}: {e}",
                    std::any::type_name::<T>()
                ))
            })?;
            out.extend(rows);
        }
        Ok(out)
    }
}

fn fields_of<T: DeserializeOwned>() -> Result<Vec<FieldRef>> {
    let options = TracingOptions::default().sequence_as_large_list(false);
    Vec::<FieldRef>::from_type::<T>(options).map_err(|e| {
        Error::Value(format!(
            "cannot derive an Arrow schema for {}: {e}",
            std::any::type_name::<T>()
        ))
    })
}

/// Rows of a serde type, stored as an Arrow table (and Parquet by the default IO manager).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows<T>(pub Vec<T>);

impl<T> Rows<T> {
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T> Deref for Rows<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> DerefMut for Rows<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T> From<Vec<T>> for Rows<T> {
    fn from(v: Vec<T>) -> Self {
        Rows(v)
    }
}

impl<T> FromIterator<T> for Rows<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Rows(iter.into_iter().collect())
    }
}

/// A serde value stored as JSON.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Json<T>(pub T);

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Raw bytes, stored as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(pub Bytes);

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Converts an asset's return value into a [`Value`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an asset's value",
    label = "not a value Stemma can store",
    note = "return one of: `Rows<T>` (T: Serialize + Deserialize), `Table`, `RecordBatch`, `Json<T>`, `Blob`, `Bytes`, `()`"
)]
pub trait IntoValue {
    fn into_value(self) -> Result<Value>;
}

/// Converts a loaded [`Value`] into the type an asset's parameter asks for.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an asset input",
    label = "not a type Stemma can load an input as",
    note = "take one of: `Rows<T>` (T: Deserialize), `Table`, `RecordBatch`, `Json<T>`, `Blob`, `Bytes`, `Value`, or `Option` of one (None when an offset mapping reads nothing)"
)]
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self>;
}

fn kind_error(expected: &str, got: &Value) -> Error {
    Error::Value(format!(
        "expected {expected}, but the stored value is {}",
        got.kind()
    ))
}

impl IntoValue for Value {
    fn into_value(self) -> Result<Value> {
        Ok(self)
    }
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self> {
        Ok(value.clone())
    }
}

impl IntoValue for () {
    fn into_value(self) -> Result<Value> {
        Ok(Value::Nothing)
    }
}

/// An input that may be absent: `None` when there is nothing (the partition before the first
/// one, read through an offset mapping).
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Nothing => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl FromValue for () {
    fn from_value(_: &Value) -> Result<Self> {
        Ok(())
    }
}

impl IntoValue for Table {
    fn into_value(self) -> Result<Value> {
        Ok(Value::Table(self))
    }
}

impl FromValue for Table {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Table(t) => Ok(t.clone()),
            other => Err(kind_error("a table", other)),
        }
    }
}

impl IntoValue for RecordBatch {
    fn into_value(self) -> Result<Value> {
        Ok(Value::Table(Table::from_batch(self)))
    }
}

impl FromValue for RecordBatch {
    fn from_value(value: &Value) -> Result<Self> {
        Table::from_value(value)?.concat()
    }
}

impl<T: Serialize + DeserializeOwned> IntoValue for Rows<T> {
    fn into_value(self) -> Result<Value> {
        Table::from_rows(&self.0).map(Value::Table)
    }
}

impl<T: DeserializeOwned> FromValue for Rows<T> {
    fn from_value(value: &Value) -> Result<Self> {
        Table::from_value(value)?.to_rows().map(Rows)
    }
}

impl<T: Serialize> IntoValue for Json<T> {
    fn into_value(self) -> Result<Value> {
        serde_json::to_value(&self.0).map(Value::Json).map_err(|e| {
            Error::Value(format!(
                "cannot convert {} to JSON: {e}",
                std::any::type_name::<T>()
            ))
        })
    }
}

impl<T: DeserializeOwned> FromValue for Json<T> {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Json(v) => T::deserialize(v).map(Json).map_err(|e| {
                Error::Value(format!(
                    "cannot read the stored JSON as {}: {e}",
                    std::any::type_name::<T>()
                ))
            }),
            other => Err(kind_error("JSON", other)),
        }
    }
}

impl IntoValue for serde_json::Value {
    fn into_value(self) -> Result<Value> {
        Ok(Value::Json(self))
    }
}

impl FromValue for serde_json::Value {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Json(v) => Ok(v.clone()),
            other => Err(kind_error("JSON", other)),
        }
    }
}

impl IntoValue for Blob {
    fn into_value(self) -> Result<Value> {
        Ok(Value::Bytes(self.0))
    }
}

impl FromValue for Blob {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Bytes(b) => Ok(Blob(b.clone())),
            other => Err(kind_error("bytes", other)),
        }
    }
}

impl IntoValue for Bytes {
    fn into_value(self) -> Result<Value> {
        Ok(Value::Bytes(self))
    }
}

impl FromValue for Bytes {
    fn from_value(value: &Value) -> Result<Self> {
        Blob::from_value(value).map(|b| b.0)
    }
}

impl IntoValue for Vec<u8> {
    fn into_value(self) -> Result<Value> {
        Ok(Value::Bytes(Bytes::from(self)))
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self> {
        Blob::from_value(value).map(|b| b.0.to_vec())
    }
}

/// What an asset or check body may return: `Result<T, E>` for any `T: IntoValue` and any error
/// that converts into a boxed error (`std::io::Error`, `anyhow::Error`, ...).
pub trait IntoOutput<T> {
    fn into_output(self) -> Result<T, BoxError>;
}

impl<T, E> IntoOutput<Value> for Result<T, E>
where
    T: IntoValue,
    E: Into<BoxError>,
{
    fn into_output(self) -> Result<Value, BoxError> {
        let value = self.map_err(Into::into)?;
        value.into_value().map_err(|e| Box::new(e) as BoxError)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Chunk {
        id: String,
        position: u32,
        score: Option<f64>,
        vector: Vec<f32>,
    }

    fn chunks() -> Vec<Chunk> {
        vec![
            Chunk {
                id: "a".into(),
                position: 0,
                score: Some(0.5),
                vector: vec![1.0, 0.0],
            },
            Chunk {
                id: "b".into(),
                position: 1,
                score: None,
                vector: vec![0.0, 1.0],
            },
        ]
    }

    #[test]
    fn rows_round_trip_through_a_table() {
        let value = Rows(chunks()).into_value().unwrap();
        assert_eq!(value.kind(), ValueKind::Table);
        assert_eq!(value.num_rows(), Some(2));
        let Value::Table(t) = &value else {
            unreachable!()
        };
        let names: Vec<&str> = t
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["id", "position", "score", "vector"]);
        let back = Rows::<Chunk>::from_value(&value).unwrap();
        assert_eq!(back.0, chunks());
    }

    #[test]
    fn json_and_bytes_round_trip_and_kinds_are_checked() {
        let v = Json(vec![1, 2, 3]).into_value().unwrap();
        assert_eq!(Json::<Vec<i32>>::from_value(&v).unwrap().0, [1, 2, 3]);
        let err = Blob::from_value(&v).unwrap_err().to_string();
        assert!(err.contains("expected bytes"), "{err}");
        let b = Blob(Bytes::from_static(b"model")).into_value().unwrap();
        assert_eq!(&*Blob::from_value(&b).unwrap(), b"model");
        assert!(Table::from_value(&b).is_err());
    }

    #[test]
    fn partitions_combine_into_one_table() {
        let a = Rows(chunks()).into_value().unwrap();
        let b = Rows(chunks()[..1].to_vec()).into_value().unwrap();
        let combined = Value::combine_partitions(vec![("eu".into(), a), ("us".into(), b)]).unwrap();
        assert_eq!(combined.num_rows(), Some(3));
        let j = Value::combine_partitions(vec![
            ("eu".into(), Value::Json(1.into())),
            ("us".into(), Value::Json(2.into())),
        ])
        .unwrap();
        assert_eq!(j.kind(), ValueKind::Json);
        let Value::Json(obj) = j else { unreachable!() };
        assert_eq!(obj["us"], 2);
    }
}
