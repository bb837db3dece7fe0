//! Encoding values to bytes and back: Parquet for tables, JSON, raw bytes.

use std::sync::Arc;

use arrow::array::RecordBatchReader;
use arrow::datatypes::Schema;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
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
    match value {
        Value::Table(table) => {
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(
                    ZstdLevel::try_new(ZSTD_LEVEL).map_err(storage)?,
                ))
                .build();
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
        other => Err(Error::Storage(format!(
            "values of kind {} cannot be stored yet",
            other.kind()
        ))),
    }
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

fn storage(e: impl std::fmt::Display) -> Error {
    Error::Storage(e.to_string())
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
