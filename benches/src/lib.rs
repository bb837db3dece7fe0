//! Shared generators for Stemma's benchmarks: synthetic asset graphs and tables.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use stemma::{AssetDef, Definitions, Table};

/// `n` no-op assets in layers of `width`; each asset after the first layer depends on two or
/// three assets of the layer before (the shape of the Dagster comparison's graphs). Assets
/// spread over 20 groups and 5 kinds; one in ten has tag `t=x`, the rest `t=y`.
pub fn layered(n: usize, width: usize) -> Definitions {
    let width = width.max(1);
    Definitions::new().assets((0..n).map(|i| {
        let mut b = AssetDef::builder(&format!("a{i}"))
            .tag("t", if i % 10 == 0 { "x" } else { "y" })
            .group(format!("g{}", i % 20))
            .kind(format!("k{}", i % 5));
        if i >= width {
            let layer_start = (i / width - 1) * width;
            let deps = 2 + i % 2;
            for k in 0..deps {
                b = b.dep(&format!("a{}", layer_start + (i + k * 7) % width));
            }
        }
        b.compute(|_, _| async { Ok::<_, std::io::Error>(()) })
            .build()
    }))
}

/// A chain of `n` no-op assets: the worst case for per-step latency.
pub fn chain(n: usize) -> Definitions {
    Definitions::new().assets((0..n).map(|i| {
        let b = AssetDef::builder(&format!("c{i}"));
        let b = if i > 0 {
            b.dep(&format!("c{}", i - 1))
        } else {
            b
        };
        b.compute(|_, _| async { Ok::<_, std::io::Error>(()) })
            .build()
    }))
}

/// A table of `rows` rows: an id, a float and a short string, in batches of 64 Ki rows.
pub fn table(rows: usize) -> Table {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = (rows - start).min(65_536);
        let ids: Vec<i64> = (start as i64..(start + n) as i64).collect();
        let values: Vec<f64> = ids.iter().map(|i| *i as f64 * 0.5).collect();
        let names: Vec<String> = ids.iter().map(|i| format!("row-{i}")).collect();
        batches.push(
            RecordBatch::try_from_iter([
                ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                ("value", Arc::new(Float64Array::from(values)) as ArrayRef),
                ("name", Arc::new(StringArray::from(names)) as ArrayRef),
            ])
            .expect("valid batch"),
        );
        start += n;
    }
    let schema = batches[0].schema();
    Table::new(schema, batches).expect("one schema")
}
