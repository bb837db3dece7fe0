//! Declared table schemas: a table an asset produces must have the columns it declares, with
//! the declared types, and no nulls where the declaration says a column is not nullable.
//!
//! The check runs after the asset's function and before anything is stored, so a value that
//! breaks its contract is never written or committed.

use arrow::datatypes::Schema;

use crate::model::value::Table;

/// Why `table` does not conform to `expected`, naming every differing column; `None` if it
/// does. Columns are matched by name; their order does not matter.
pub fn schema_mismatch(expected: &Schema, table: &Table) -> Option<String> {
    let actual = table.schema();
    let mut missing = Vec::new();
    let mut differing = Vec::new();
    let mut nulls = Vec::new();
    for field in expected.fields() {
        let Some((i, found)) = actual.column_with_name(field.name()) else {
            missing.push(format!("{} ({})", field.name(), field.data_type()));
            continue;
        };
        if found.data_type() != field.data_type() {
            differing.push(format!(
                "{} is {} but is declared {}",
                field.name(),
                found.data_type(),
                field.data_type()
            ));
            continue;
        }
        if !field.is_nullable() {
            let n: usize = table
                .batches()
                .iter()
                .map(|b| b.column(i).null_count())
                .sum();
            if n > 0 {
                nulls.push(format!(
                    "{} has {n} null(s) but is declared NOT NULL",
                    field.name()
                ));
            }
        }
    }
    let unexpected: Vec<&str> = actual
        .fields()
        .iter()
        .filter(|f| expected.field_with_name(f.name()).is_err())
        .map(|f| f.name().as_str())
        .collect();
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing column(s) {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected column(s) {}", unexpected.join(", ")));
    }
    parts.extend(differing);
    parts.extend(nulls);
    (!parts.is_empty()).then(|| {
        format!(
            "the table does not match the declared schema: {}",
            parts.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field};
    use arrow::record_batch::RecordBatch;

    use super::*;

    fn table(nullable_id: bool) -> Table {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, nullable_id),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        )
        .unwrap();
        Table::new(schema, vec![batch]).unwrap()
    }

    #[test]
    fn names_every_differing_column() {
        let expected = Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("score", DataType::Float64, true),
        ]);
        let err = schema_mismatch(&expected, &table(true)).unwrap();
        assert!(err.contains("missing column(s) score (Float64)"), "{err}");
        assert!(err.contains("unexpected column(s) name"), "{err}");
        assert!(err.contains("id is Int64 but is declared Int32"), "{err}");
    }

    #[test]
    fn not_null_columns_reject_nulls_and_order_does_not_matter() {
        let expected = Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("id", DataType::Int64, false),
        ]);
        let err = schema_mismatch(&expected, &table(true)).unwrap();
        assert!(err.contains("id has 1 null(s)"), "{err}");
        let relaxed = Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("id", DataType::Int64, true),
        ]);
        assert_eq!(schema_mismatch(&relaxed, &table(true)), None);
    }
}
