//! A small warehouse written mostly in SQL: one Rust ingestion asset, `raw/orders`, partitioned
//! by day, and SQL models in `models/` — bronze (typed, per day), silver (clean, deduplicated,
//! with a region dimension), gold (what the business reads).
//!
//! ```text
//! cargo run -p warehouse -- materialize --select '*' --partition '*'
//! cargo run -p warehouse -- query "SELECT * FROM gold.daily_revenue ORDER BY order_date LIMIT 5"
//! cargo run -p warehouse -- lineage gold/revenue_by_region --columns
//! cargo run -p warehouse -- partitions bronze/orders
//! ```

use serde::{Deserialize, Serialize};
use stemma::prelude::*;

/// The days ingested: one partition per day in Berlin, the first week of November 2026.
pub fn days() -> TimeWindows {
    TimeWindows::daily("2026-11-01")
        .timezone("Europe/Berlin")
        .end("2026-11-08")
}

/// An order as the shop's export delivers it: amounts as text, statuses in mixed case, and
/// the odd duplicate row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawOrder {
    pub order_id: i64,
    pub customer_id: i64,
    pub region: String,
    pub status: String,
    pub amount: String,
    pub ordered_at: String,
}

/// One day of orders from the shop's export (generated here, deterministically per day).
#[asset(key_prefix = ["raw"], partitions = days(), group = "raw", kinds = ["parquet"])]
fn orders(ctx: &AssetContext) -> AssetResult<Rows<RawOrder>> {
    let day = ctx
        .partition_key()
        .ok_or("raw/orders is partitioned by day")?;
    let n: i64 = day[8..].parse::<i64>()?;
    let regions = ["eu", "us", "apac"];
    let statuses = ["paid", "PAID", "refunded", "Paid", "pending"];
    let mut rows = Vec::new();
    for i in 0..(40 + n * 3) {
        let order_id = n * 1000 + i;
        rows.push(RawOrder {
            order_id,
            customer_id: (order_id * 7919) % 37,
            region: regions[(order_id % 3) as usize].to_owned(),
            status: statuses[(order_id % 5) as usize].to_owned(),
            amount: format!("{}.{:02}", 10 + (order_id * 31) % 190, order_id % 100),
            ordered_at: format!("{day}T{:02}:{:02}:00Z", i % 24, (i * 7) % 60),
        });
        if i % 17 == 0 {
            // The export repeats a row now and then.
            rows.push(rows.last().expect("just pushed").clone());
        }
    }
    ctx.log.info(format!("{} raw orders on {day}", rows.len()));
    Ok(Rows(rows))
}

fn main() -> std::process::ExitCode {
    let definitions = Definitions::new().asset(orders());
    let definitions =
        stemma_sql::with_sql_assets(definitions, concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
    stemma_server::cli::run(definitions)
}
