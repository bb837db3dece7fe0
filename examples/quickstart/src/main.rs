//! The smallest useful Stemma code location: assets declared with `#[asset]`, a statically
//! partitioned asset read whole by an unpartitioned one, a check, assets made at run time with
//! the builder API, and an IO manager of its own: the reports are stored as readable JSON files
//! under `./reports/` by [`TextFiles`](quickstart::text_files::TextFiles).
//!
//! ```text
//! cargo run -p quickstart -- materialize --select sales --partition eu
//! cargo run -p quickstart -- materialize --select sales --partition us,apac
//! cargo run -p quickstart -- materialize --select 'total_sales*'
//! cargo run -p quickstart -- status
//! cargo run -p quickstart -- plan --select '*' --partition '*'   # everything is up to date
//! cat reports/reports/finance/_/*.json                           # a report, as a file
//! ```

use serde::{Deserialize, Serialize};
use stemma::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sale {
    region: String,
    day: u32,
    amount: f64,
}

fn regions() -> PartitionsDefinition {
    PartitionsDefinition::static_keys(["eu", "us", "apac"])
}

/// Thirty days of sales of one region.
#[asset(partitions = regions(), group = "sales", kinds = ["parquet"])]
fn sales(ctx: &AssetContext) -> AssetResult<Rows<Sale>> {
    let region = ctx
        .partition_key()
        .ok_or("sales is partitioned by region")?;
    let base = match region {
        "eu" => 120.0,
        "us" => 200.0,
        _ => 80.0,
    };
    let rows: Vec<Sale> = (1..=30)
        .map(|day| Sale {
            region: region.to_owned(),
            day,
            amount: base + f64::from(day % 7) * 10.0,
        })
        .collect();
    ctx.log.info(format!("{} sales in {region}", rows.len()));
    Ok(Rows(rows))
}

/// Total sales over every region: an unpartitioned asset reads all partitions of `sales`.
#[asset(group = "sales", kinds = ["json"])]
fn total_sales(ctx: &AssetContext, sales: Rows<Sale>) -> Json<f64> {
    let total: f64 = sales.iter().map(|s| s.amount).sum();
    ctx.add_metadata("total", total);
    Json(total)
}

/// Totals are never negative.
#[asset_check(asset = total_sales, blocking)]
fn total_is_positive(total_sales: Json<f64>) -> CheckResult {
    CheckResult::from_bool(
        total_sales.0 > 0.0,
        format!("total is {:.2}", total_sales.0),
    )
}

/// Assets made at run time: one report per audience, with the builder underneath `#[asset]`.
/// A builder asset states its code version (the macro derives one from the body): without
/// one Stemma cannot tell an edit from no edit, and recomputes it every time.
fn reports() -> Vec<AssetDef> {
    ["finance", "sales_team"]
        .into_iter()
        .map(|audience| {
            AssetDef::builder(audience)
                .key_prefix(["reports"])
                .group("reports")
                .description(format!("The sales report for {audience}"))
                .code_version("1")
                .io_manager("text")
                .input("total_sales")
                .compute_blocking(move |_, inputs| {
                    let total: Json<f64> = inputs.get("total_sales")?;
                    Ok::<_, stemma::Error>(Json(format!("{audience}: total sales {:.2}", total.0)))
                })
                .build()
        })
        .collect()
}

fn main() -> std::process::ExitCode {
    let text = match quickstart::text_files::TextFiles::new("reports") {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    let definitions = Definitions::new()
        .io_manager("text", text)
        .assets([sales(), total_sales()])
        .assets(reports())
        .check(total_is_positive());
    stemma_server::cli::run(definitions)
}
