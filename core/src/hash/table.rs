//! Content hash of Arrow tables.
//!
//! Each column is hashed as a tree of nodes that mirrors its logical type. A node keeps three
//! running blake3 hashers — the global positions of its nulls, the lengths of its variable-size
//! elements, and its canonical value bytes — fed batch after batch. Because every stream is a
//! plain concatenation over rows, where one batch ends and the next begins cannot change the
//! result. Values under a null slot are zeroed or skipped, so undefined bytes never leak in.
//!
//! Logical types are canonicalised: `Utf8`, `LargeUtf8` and `Utf8View` are all "string";
//! the three list layouts are all "list"; dictionaries hash as their values. A table read back
//! from Parquet therefore hashes like the table that was written.
//!
//! Primitive values are hashed as their in-memory little-endian bytes, which is what makes
//! hashing cheap next to writing Parquet: one `update` call per column per batch.

use arrow::array::{
    Array, ArrayRef, AsArray, GenericByteArray, GenericListArray, OffsetSizeTrait, RecordBatch,
};
use arrow::datatypes::{ArrowNativeType, ByteArrayType, DataType, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::StableHasher;
use crate::model::error::{Error, Result};

/// Hashes a table's logical content: its column names, logical types and rows.
pub fn hash_table(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<blake3::Hash> {
    let mut columns: Vec<Node> = schema
        .fields()
        .iter()
        .map(|f| Node::new(f.data_type()))
        .collect();
    let mut rows = 0u64;
    for batch in batches {
        rows += batch.num_rows() as u64;
        for (node, array) in columns.iter_mut().zip(batch.columns()) {
            node.update(array.as_ref())?;
        }
    }
    let mut h = StableHasher::new("stemma.table.v1");
    h.u64(columns.len() as u64).u64(rows);
    for (field, node) in schema.fields().iter().zip(&columns) {
        h.str(field.name());
        node.finish_into(&mut h);
    }
    Ok(h.finish())
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Null,
    Boolean,
    /// Fixed-width values: primitives, decimals, temporals and fixed-size binary.
    Fixed(usize),
    /// Variable-length bytes: strings and binaries of any layout.
    Bytes,
    List,
    FixedList(usize),
    Struct,
    /// Anything else (maps, unions, run-end encoded): hashed through its display form.
    Display,
}

struct Node {
    tag: String,
    kind: Kind,
    count: u64,
    nulls: blake3::Hasher,
    lengths: blake3::Hasher,
    values: blake3::Hasher,
    children: Vec<(String, Node)>,
}

fn logical(dt: &DataType) -> &DataType {
    match dt {
        DataType::Dictionary(_, value) => logical(value),
        other => other,
    }
}

impl Node {
    fn new(data_type: &DataType) -> Node {
        let dt = logical(data_type);
        let (tag, kind, children): (String, Kind, Vec<(String, Node)>) = match dt {
            DataType::Null => ("null".into(), Kind::Null, vec![]),
            DataType::Boolean => ("bool".into(), Kind::Boolean, vec![]),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                ("string".into(), Kind::Bytes, vec![])
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                ("binary".into(), Kind::Bytes, vec![])
            }
            DataType::FixedSizeBinary(n) => (
                format!("fixed_binary[{n}]"),
                Kind::Fixed(usize::try_from(*n).unwrap_or(0)),
                vec![],
            ),
            DataType::List(f) | DataType::LargeList(f) => (
                "list".into(),
                Kind::List,
                vec![(String::new(), Node::new(f.data_type()))],
            ),
            DataType::FixedSizeList(f, n) => (
                format!("fixed_list[{n}]"),
                Kind::FixedList(usize::try_from(*n).unwrap_or(0)),
                vec![(String::new(), Node::new(f.data_type()))],
            ),
            DataType::Struct(fields) => (
                "struct".into(),
                Kind::Struct,
                fields
                    .iter()
                    .map(|f| (f.name().clone(), Node::new(f.data_type())))
                    .collect(),
            ),
            other => match other.primitive_width() {
                Some(w) => (primitive_tag(other), Kind::Fixed(w), vec![]),
                None => (format!("display:{other}"), Kind::Display, vec![]),
            },
        };
        Node {
            tag,
            kind,
            count: 0,
            nulls: blake3::Hasher::new(),
            lengths: blake3::Hasher::new(),
            values: blake3::Hasher::new(),
            children,
        }
    }

    fn update(&mut self, array: &dyn Array) -> Result<()> {
        if let DataType::Dictionary(_, value_type) = array.data_type() {
            let plain = arrow::compute::cast(array, value_type)
                .map_err(|e| Error::Internal(format!("hashing a dictionary column: {e}")))?;
            return self.update(plain.as_ref());
        }
        let len = array.len();
        if let Some(nulls) = array.nulls().filter(|n| n.null_count() > 0) {
            for i in (0..len).filter(|&i| nulls.is_null(i)) {
                self.nulls.update(&(self.count + i as u64).to_le_bytes());
            }
        }
        match self.kind {
            Kind::Null => {}
            Kind::Boolean => {
                let b = array.as_boolean();
                let bytes: Vec<u8> = (0..len)
                    .map(|i| u8::from(b.is_valid(i) && b.value(i)))
                    .collect();
                self.values.update(&bytes);
            }
            Kind::Fixed(width) => self.update_fixed(array, width),
            Kind::Bytes => self.update_bytes(array)?,
            Kind::List => match array.data_type() {
                DataType::List(_) => self.update_list(array.as_list::<i32>())?,
                DataType::LargeList(_) => self.update_list(array.as_list::<i64>())?,
                other => return Err(unexpected(other, "list")),
            },
            Kind::FixedList(size) => {
                let list = array.as_fixed_size_list();
                let child = if list.null_count() > 0 {
                    let parts: Vec<ArrayRef> = (0..len)
                        .filter(|&i| list.is_valid(i))
                        .map(|i| list.values().slice(i * size, size))
                        .collect();
                    concat(&parts, list.values().data_type())?
                } else {
                    list.values().clone()
                };
                self.children[0].1.update(child.as_ref())?;
            }
            Kind::Struct => {
                let s = array.as_struct();
                for ((_, node), column) in self.children.iter_mut().zip(s.columns()) {
                    // Values under a null struct slot are undefined: mask them as nulls.
                    let column = match s.nulls().filter(|n| n.null_count() > 0) {
                        Some(_) => {
                            let is_null = arrow::compute::is_null(array).map_err(internal)?;
                            arrow::compute::nullif(column.as_ref(), &is_null).map_err(internal)?
                        }
                        None => column.clone(),
                    };
                    node.update(column.as_ref())?;
                }
            }
            Kind::Display => {
                let formatter =
                    ArrayFormatter::try_new(array, &FormatOptions::default()).map_err(internal)?;
                for i in 0..len {
                    if array.is_valid(i) {
                        let text = formatter.value(i).to_string();
                        self.lengths.update(&(text.len() as u64).to_le_bytes());
                        self.values.update(text.as_bytes());
                    } else {
                        self.lengths.update(&0u64.to_le_bytes());
                    }
                }
            }
        }
        self.count += len as u64;
        Ok(())
    }

    fn update_fixed(&mut self, array: &dyn Array, width: usize) {
        let data = array.to_data();
        let Some(buffer) = data.buffers().first() else {
            return;
        };
        let start = data.offset() * width;
        let bytes = &buffer.as_slice()[start..start + data.len() * width];
        match data.nulls().filter(|n| n.null_count() > 0) {
            None => {
                self.values.update(bytes);
            }
            Some(nulls) => {
                let mut canonical = bytes.to_vec();
                for i in (0..data.len()).filter(|&i| nulls.is_null(i)) {
                    canonical[i * width..(i + 1) * width].fill(0);
                }
                self.values.update(&canonical);
            }
        }
    }

    fn update_bytes(&mut self, array: &dyn Array) -> Result<()> {
        match array.data_type() {
            DataType::Utf8 => self.update_offsets(array.as_string::<i32>()),
            DataType::LargeUtf8 => self.update_offsets(array.as_string::<i64>()),
            DataType::Binary => self.update_offsets(array.as_binary::<i32>()),
            DataType::LargeBinary => self.update_offsets(array.as_binary::<i64>()),
            DataType::Utf8View => {
                let a = array.as_string_view();
                self.update_each(a.len(), |i| a.is_valid(i).then(|| a.value(i).as_bytes()));
            }
            DataType::BinaryView => {
                let a = array.as_binary_view();
                self.update_each(a.len(), |i| a.is_valid(i).then(|| a.value(i)));
            }
            other => return Err(unexpected(other, "string or binary")),
        }
        Ok(())
    }

    fn update_offsets<T: ByteArrayType>(&mut self, a: &GenericByteArray<T>) {
        let offsets = a.value_offsets();
        let data = a.values().as_slice();
        let has_nulls = a.null_count() > 0;
        let mut lengths = Vec::with_capacity(a.len() * 8);
        for (i, w) in offsets.windows(2).enumerate() {
            let n = if has_nulls && a.is_null(i) {
                0
            } else {
                w[1].as_usize() - w[0].as_usize()
            };
            lengths.extend_from_slice(&(n as u64).to_le_bytes());
        }
        self.lengths.update(&lengths);
        if !has_nulls {
            let (first, last) = (offsets[0].as_usize(), offsets[a.len()].as_usize());
            self.values.update(&data[first..last]);
        } else {
            for (i, w) in offsets.windows(2).enumerate() {
                if a.is_valid(i) {
                    self.values.update(&data[w[0].as_usize()..w[1].as_usize()]);
                }
            }
        }
    }

    fn update_each<'a>(&mut self, len: usize, value: impl Fn(usize) -> Option<&'a [u8]>) {
        let mut lengths = Vec::with_capacity(len * 8);
        for i in 0..len {
            let v = value(i);
            lengths.extend_from_slice(&(v.map_or(0, <[u8]>::len) as u64).to_le_bytes());
            if let Some(v) = v {
                self.values.update(v);
            }
        }
        self.lengths.update(&lengths);
    }

    fn update_list<O: OffsetSizeTrait>(&mut self, list: &GenericListArray<O>) -> Result<()> {
        let offsets = list.value_offsets();
        let has_nulls = list.null_count() > 0;
        let mut lengths = Vec::with_capacity(list.len() * 8);
        let mut parts = Vec::new();
        for (i, w) in offsets.windows(2).enumerate() {
            let (s, e) = (w[0].as_usize(), w[1].as_usize());
            let valid = !(has_nulls && list.is_null(i));
            lengths.extend_from_slice(&(if valid { e - s } else { 0 } as u64).to_le_bytes());
            if has_nulls && valid && e > s {
                parts.push(list.values().slice(s, e - s));
            }
        }
        self.lengths.update(&lengths);
        let child = if has_nulls {
            concat(&parts, list.values().data_type())?
        } else {
            let (first, last) = (offsets[0].as_usize(), offsets[list.len()].as_usize());
            list.values().slice(first, last - first)
        };
        self.children[0].1.update(child.as_ref())
    }

    fn finish_into(&self, h: &mut StableHasher) {
        h.str(&self.tag)
            .u64(self.count)
            .digest(&self.nulls.finalize())
            .digest(&self.lengths.finalize())
            .digest(&self.values.finalize())
            .u64(self.children.len() as u64);
        for (name, child) in &self.children {
            h.str(name);
            child.finish_into(h);
        }
    }
}

fn primitive_tag(dt: &DataType) -> String {
    match dt {
        DataType::Int8 => "i8".into(),
        DataType::Int16 => "i16".into(),
        DataType::Int32 => "i32".into(),
        DataType::Int64 => "i64".into(),
        DataType::UInt8 => "u8".into(),
        DataType::UInt16 => "u16".into(),
        DataType::UInt32 => "u32".into(),
        DataType::UInt64 => "u64".into(),
        DataType::Float16 => "f16".into(),
        DataType::Float32 => "f32".into(),
        DataType::Float64 => "f64".into(),
        DataType::Date32 => "date32".into(),
        DataType::Date64 => "date64".into(),
        other => format!("{other}"),
    }
}

fn concat(parts: &[ArrayRef], data_type: &DataType) -> Result<ArrayRef> {
    if parts.is_empty() {
        return Ok(arrow::array::new_empty_array(data_type));
    }
    let refs: Vec<&dyn Array> = parts.iter().map(AsRef::as_ref).collect();
    arrow::compute::concat(&refs).map_err(internal)
}

fn internal(e: arrow::error::ArrowError) -> Error {
    Error::Internal(format!("hashing a table: {e}"))
}

fn unexpected(dt: &DataType, expected: &str) -> Error {
    Error::Internal(format!(
        "hashing a table: expected a {expected} column, got {dt}"
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        BooleanArray, DictionaryArray, FixedSizeListArray, Float32Array, Int64Array,
        LargeStringArray, ListArray, StringArray, StringViewArray, StructArray,
    };
    use arrow::datatypes::{Field, Float32Type, Int32Type, Int64Type, Schema};

    use super::*;

    fn table(ids: Vec<Option<i64>>, names: Vec<Option<&str>>) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("name", Arc::new(StringArray::from(names)) as ArrayRef),
        ])
        .unwrap()
    }

    fn hash(batches: &[RecordBatch]) -> blake3::Hash {
        hash_table(&batches[0].schema(), batches).unwrap()
    }

    #[test]
    fn batch_boundaries_do_not_change_the_hash() {
        let whole = table(
            vec![Some(1), None, Some(3), Some(4), Some(5)],
            vec![Some("a"), Some("bb"), None, Some(""), Some("eee")],
        );
        let one = hash(std::slice::from_ref(&whole));
        let split = [whole.slice(0, 2), whole.slice(2, 1), whole.slice(3, 2)];
        assert_eq!(one, hash(&split));
        let with_empty = [whole.slice(0, 0), whole.slice(0, 5), whole.slice(5, 0)];
        assert_eq!(one, hash(&with_empty));
    }

    #[test]
    fn content_changes_change_the_hash() {
        let base = hash(&[table(vec![Some(1), Some(2)], vec![Some("a"), Some("b")])]);
        let other_value = hash(&[table(vec![Some(1), Some(3)], vec![Some("a"), Some("b")])]);
        let null_instead = hash(&[table(vec![Some(1), None], vec![Some("a"), Some("b")])]);
        let moved_byte = hash(&[table(vec![Some(1), Some(2)], vec![Some("ab"), Some("")])]);
        let reordered = hash(&[table(vec![Some(2), Some(1)], vec![Some("b"), Some("a")])]);
        for other in [other_value, null_instead, moved_byte, reordered] {
            assert_ne!(base, other);
        }
        // Same values, renamed column.
        let renamed = RecordBatch::try_from_iter([
            ("key", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            (
                "name",
                Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
        ])
        .unwrap();
        assert_ne!(base, hash(&[renamed]));
    }

    #[test]
    fn physical_string_layouts_hash_alike() {
        let values = vec![Some("x"), None, Some("yz")];
        let plain = RecordBatch::try_from_iter([(
            "s",
            Arc::new(StringArray::from(values.clone())) as ArrayRef,
        )])
        .unwrap();
        let large = RecordBatch::try_from_iter([(
            "s",
            Arc::new(LargeStringArray::from(values.clone())) as ArrayRef,
        )])
        .unwrap();
        let view = RecordBatch::try_from_iter([(
            "s",
            Arc::new(StringViewArray::from(values.clone())) as ArrayRef,
        )])
        .unwrap();
        let dict: DictionaryArray<Int32Type> = values.into_iter().collect();
        let dict = RecordBatch::try_from_iter([("s", Arc::new(dict) as ArrayRef)]).unwrap();
        let h = hash(&[plain]);
        assert_eq!(h, hash(&[large]));
        assert_eq!(h, hash(&[view]));
        assert_eq!(h, hash(&[dict]));
    }

    #[test]
    fn values_under_nulls_are_ignored() {
        // Two arrays with the same logical content but different bytes under the null slot.
        let a = Int64Array::new(vec![1, 99, 3].into(), Some(vec![true, false, true].into()));
        let b = Int64Array::new(vec![1, 0, 3].into(), Some(vec![true, false, true].into()));
        let ta = RecordBatch::try_from_iter([("v", Arc::new(a) as ArrayRef)]).unwrap();
        let tb = RecordBatch::try_from_iter([("v", Arc::new(b) as ArrayRef)]).unwrap();
        assert_eq!(hash(&[ta]), hash(&[tb]));
    }

    #[test]
    fn nested_columns_are_boundary_independent() {
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
            Some(vec![]),
            Some(vec![Some(3), None]),
        ]);
        let fixed = FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
            vec![
                Some(vec![Some(0.5), Some(1.0)]),
                Some(vec![Some(2.0), Some(3.0)]),
                None,
                Some(vec![Some(4.0), Some(5.0)]),
            ],
            2,
        );
        let flags = BooleanArray::from(vec![Some(true), None, Some(false), Some(true)]);
        let st = StructArray::from(vec![
            (
                Arc::new(Field::new("w", DataType::Float32, true)),
                Arc::new(Float32Array::from(vec![1.0, 2.0, 3.0, 4.0])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("flag", DataType::Boolean, true)),
                Arc::new(flags) as ArrayRef,
            ),
        ]);
        let batch = RecordBatch::try_from_iter([
            ("l", Arc::new(list) as ArrayRef),
            ("f", Arc::new(fixed) as ArrayRef),
            ("s", Arc::new(st) as ArrayRef),
        ])
        .unwrap();
        let whole = hash(std::slice::from_ref(&batch));
        for cut in 1..4 {
            let parts = [batch.slice(0, cut), batch.slice(cut, 4 - cut)];
            assert_eq!(whole, hash(&parts), "cut at {cut}");
        }
        let changed = batch.slice(0, 3);
        assert_ne!(whole, hash(&[changed]));
    }

    #[test]
    fn empty_tables_hash_by_schema() {
        let s1 = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let s2 = Arc::new(Schema::new(vec![Field::new("b", DataType::Int64, true)]));
        assert_ne!(hash_table(&s1, &[]).unwrap(), hash_table(&s2, &[]).unwrap());
    }

    /// Golden: pins the table recipe. If this fails, the recipe changed; bump `stemma.table.v1`.
    #[test]
    fn golden_table() {
        let batch = table(
            vec![Some(1), None, Some(3)],
            vec![Some("alpha"), Some("beta"), None],
        );
        assert_eq!(
            hash(&[batch]).to_hex().as_str(),
            "b97dd10d6a97d380263bffd3db2f4dcc34ce8fd31796d77366a3850dbeda558d"
        );
    }
}
