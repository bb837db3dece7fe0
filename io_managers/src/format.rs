//! Encoding values to bytes and back: Parquet for tables, JSON, raw bytes.

use std::sync::Arc;

use arrow::array::RecordBatchReader;
use arrow::datatypes::Schema;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, Type as PhysicalType, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use stemma::{Error, Result, Table, Value, ValueKind};

/// zstd level 3: a good ratio at a few hundred MB/s per core.
const ZSTD_LEVEL: i32 = 3;

/// The file extension of each value kind; `None` when nothing is stored.
pub(crate) fn extension(kind: ValueKind) -> Option<&'static str> {
    match kind {
        ValueKind::Table => Some("parquet"),
        ValueKind::Json => Some("json"),
        ValueKind::Bytes => Some("bin"),
        ValueKind::Nothing => None,
    }
}

/// Encodes a value as the bytes of its stored object.
pub fn encode(value: &Value) -> Result<Bytes> {
    encode_with(value, &[])
}

/// [`encode`], with `facts` (key, value) in a Parquet file's key-value metadata: what Stemma
/// knows of the value (asset key, partition, data version, run, code version), so that a file
/// found on its own says what it is. Other kinds of value have nowhere to keep them.
pub fn encode_with(value: &Value, facts: &[(String, String)]) -> Result<Bytes> {
    match value {
        Value::Table(table) => {
            let mut props = writer_properties(table.schema())?;
            if !facts.is_empty() {
                let kv: Vec<KeyValue> = facts
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                    .collect();
                props = props
                    .into_builder()
                    .set_key_value_metadata(Some(kv))
                    .build();
            }
            let mut out = Vec::new();
            let mut writer =
                ArrowWriter::try_new(&mut out, Arc::clone(table.schema()), Some(props))
                    .map_err(storage)?;
            for batch in table.batches() {
                writer.write(batch).map_err(storage)?;
            }
            writer.close().map_err(storage)?;
            Ok(Bytes::from(out))
        }
        Value::Json(v) => serde_json::to_vec(v).map(Bytes::from).map_err(storage),
        Value::Bytes(b) => Ok(b.clone()),
        Value::Nothing => Ok(Bytes::new()),
        other => Err(Error::storage(format!(
            "values of kind {} cannot be stored yet",
            other.kind()
        ))),
    }
}

/// How tables are written: zstd level 3, and floating-point columns without dictionary
/// encoding. Floats rarely repeat, so the writer would build each page's dictionary only to
/// give it up; for a table of embeddings (13 million `f32`) that was a tenth of the write.
pub fn writer_properties(schema: &Schema) -> Result<WriterProperties> {
    let mut builder = WriterProperties::builder().set_compression(Compression::ZSTD(
        ZstdLevel::try_new(ZSTD_LEVEL).map_err(storage)?,
    ));
    let leaves = ArrowSchemaConverter::new()
        .convert(schema)
        .map_err(storage)?;
    for column in leaves.columns() {
        if matches!(
            column.physical_type(),
            PhysicalType::FLOAT | PhysicalType::DOUBLE
        ) {
            builder = builder.set_column_dictionary_enabled(column.path().clone(), false);
        }
    }
    Ok(builder.build())
}

/// Decodes a stored object of `kind`.
pub fn decode(kind: ValueKind, bytes: Bytes) -> Result<Value> {
    match kind {
        ValueKind::Table => {
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .map_err(storage)?
                .build()
                .map_err(storage)?;
            let schema: Arc<Schema> = reader.schema();
            let batches = reader
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(storage)?;
            Ok(Value::Table(Table::new(schema, batches)?))
        }
        ValueKind::Json => serde_json::from_slice(&bytes)
            .map(Value::Json)
            .map_err(storage),
        ValueKind::Bytes => Ok(Value::Bytes(bytes)),
        ValueKind::Nothing => Ok(Value::Nothing),
    }
}

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Storage {
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};

    use super::*;

    #[test]
    fn tables_round_trip_through_parquet_with_the_same_data_version() {
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as ArrayRef,
            ),
        ])
        .unwrap();
        let value = Value::Table(
            Table::new(batch.schema(), vec![batch.slice(0, 1), batch.slice(1, 2)]).unwrap(),
        );
        let bytes = encode(&value).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        let back = decode(ValueKind::Table, bytes).unwrap();
        assert_eq!(back.num_rows(), Some(3));
        assert_eq!(
            stemma::hash::data_version(&back).unwrap(),
            stemma::hash::data_version(&value).unwrap()
        );
    }

    #[test]
    fn float_columns_are_written_without_a_dictionary() {
        use arrow::array::{Float64Array, ListArray};
        use arrow::datatypes::Float32Type;
        use parquet::basic::Encoding;
        use parquet::file::reader::{FileReader, SerializedFileReader};

        let vectors = ListArray::from_iter_primitive::<Float32Type, _, _>(
            (0..100).map(|i| Some((0..4).map(move |j| Some((i * 4 + j) as f32 * 0.25)))),
        );
        let batch = RecordBatch::try_from_iter([
            (
                "topic",
                Arc::new(StringArray::from(vec!["a"; 100])) as ArrayRef,
            ),
            (
                "score",
                Arc::new(Float64Array::from_iter_values((0..100).map(f64::from))) as ArrayRef,
            ),
            ("vector", Arc::new(vectors) as ArrayRef),
        ])
        .unwrap();
        let value = Value::Table(Table::from_batch(batch));
        let bytes = encode(&value).unwrap();
        let file = SerializedFileReader::new(bytes.clone()).unwrap();
        let group = file.metadata().row_group(0);
        let dictionary = |i: usize| {
            let encodings: Vec<Encoding> = group.column(i).encodings().collect();
            encodings.contains(&Encoding::RLE_DICTIONARY)
                || encodings.contains(&Encoding::PLAIN_DICTIONARY)
        };
        assert!(dictionary(0), "strings keep their dictionary");
        assert!(!dictionary(1), "f64 without a dictionary");
        assert!(!dictionary(2), "f32 inside a list without a dictionary");
        let back = decode(ValueKind::Table, bytes).unwrap();
        assert_eq!(
            stemma::hash::data_version(&back).unwrap(),
            stemma::hash::data_version(&value).unwrap()
        );
    }

    #[test]
    fn json_and_bytes_round_trip() {
        let json = Value::Json(serde_json::json!({"recall": 0.9, "k": [1, 5]}));
        let back = decode(ValueKind::Json, encode(&json).unwrap()).unwrap();
        assert_eq!(
            stemma::hash::data_version(&back).unwrap(),
            stemma::hash::data_version(&json).unwrap()
        );
        // Every float parses back to the same bits (this needs serde_json's float_roundtrip:
        // without it 0.9744897959183674, a real recall, came back one ulp off).
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let floats: Vec<f64> = (0..20_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi(i % 9 - 4)
            })
            .chain([0.9744897959183674, 1.0, 1e-300, f64::MAX])
            .collect();
        let json = Value::Json(serde_json::json!(floats));
        let back = decode(ValueKind::Json, encode(&json).unwrap()).unwrap();
        assert_eq!(
            stemma::hash::data_version(&back).unwrap(),
            stemma::hash::data_version(&json).unwrap()
        );
        let blob = Value::Bytes(Bytes::from_static(b"\x00model\xff"));
        let Value::Bytes(b) = decode(ValueKind::Bytes, encode(&blob).unwrap()).unwrap() else {
            panic!()
        };
        assert_eq!(&b[..], b"\x00model\xff");
        assert!(decode(ValueKind::Table, Bytes::from_static(b"not parquet")).is_err());
    }
}
