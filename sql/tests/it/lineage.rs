//! Column lineage from DataFusion's plans: joins, aggregates, renames, `*`, CTEs, unions,
//! window functions and literals.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::common::TableReference;
use stemma::Table;
use stemma_sql::lineage::Transform;
use stemma_sql::{ColumnLineage, run};

fn table(columns: Vec<(&str, ArrayRef)>) -> Table {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    Table::new(batch.schema(), vec![batch]).unwrap()
}

async fn lineage(sql: &str) -> Vec<ColumnLineage> {
    let ctx = run::session();
    let orders = table(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        ("customer_id", Arc::new(Int64Array::from(vec![7, 8]))),
        ("amount", Arc::new(Float64Array::from(vec![1.5, 2.5]))),
    ]);
    let customers = table(vec![
        (
            "customer_id",
            Arc::new(Int64Array::from(vec![7, 8])) as ArrayRef,
        ),
        ("name", Arc::new(StringArray::from(vec!["ana", "bo"]))),
    ]);
    run::register(&ctx, &TableReference::partial("silver", "orders"), &orders).unwrap();
    run::register(&ctx, &TableReference::bare("raw/customers"), &customers).unwrap();
    run::run_sql(&ctx, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .1
}

/// `column ← asset.col, …  (transform)` for compact assertions.
fn show(lineage: &[ColumnLineage]) -> Vec<String> {
    lineage
        .iter()
        .map(|c| {
            let from: Vec<String> = c
                .from
                .iter()
                .map(|s| format!("{}.{}", s.asset, s.column))
                .collect();
            let how = serde_json::to_value(c.transform).unwrap();
            format!(
                "{} ← {} ({})",
                c.column,
                from.join(", "),
                how.as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn star_expands_to_identity() {
    assert_eq!(
        show(&lineage("SELECT * FROM silver.orders").await),
        [
            "id ← silver/orders.id (identity)",
            "customer_id ← silver/orders.customer_id (identity)",
            "amount ← silver/orders.amount (identity)",
        ]
    );
}

#[tokio::test]
async fn renames_and_expressions() {
    assert_eq!(
        show(&lineage("SELECT id AS order_id, amount * 2 + id AS weird, 'eur' AS currency FROM silver.orders WHERE amount > 0").await),
        [
            "order_id ← silver/orders.id (rename)",
            "weird ← silver/orders.amount, silver/orders.id (expression)",
            "currency ←  (constant)",
        ]
    );
}

#[tokio::test]
async fn joins_take_each_column_from_its_side() {
    let l = lineage(
        "SELECT o.id, c.name AS customer, o.customer_id
         FROM silver.orders o JOIN \"raw/customers\" c ON c.customer_id = o.customer_id",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "id ← silver/orders.id (identity)",
            "customer ← raw/customers.name (rename)",
            "customer_id ← silver/orders.customer_id (identity)",
        ]
    );
    // `*` over a join: both sides, in order.
    let star =
        lineage("SELECT * FROM silver.orders o LEFT JOIN \"raw/customers\" c USING (customer_id)")
            .await;
    let names: Vec<String> = star
        .iter()
        .map(|c| format!("{}:{}", c.column, c.from[0].asset))
        .collect();
    assert!(
        names.contains(&"name:raw/customers".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"amount:silver/orders".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn aggregates_ctes_subqueries_unions_and_windows() {
    let l = lineage(
        "WITH per_customer AS (
             SELECT customer_id, sum(amount) AS total, count(*) AS n FROM silver.orders GROUP BY customer_id
         )
         SELECT c.name, p.total, p.n FROM per_customer p JOIN \"raw/customers\" c USING (customer_id)",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "name ← raw/customers.name (identity)",
            "total ← silver/orders.amount (aggregate)",
            "n ←  (aggregate)",
        ]
    );
    let u = lineage(
        "SELECT customer_id AS k FROM silver.orders UNION ALL SELECT customer_id FROM \"raw/customers\"",
    )
    .await;
    assert_eq!(
        show(&u),
        ["k ← raw/customers.customer_id, silver/orders.customer_id (rename)"]
    );
    let w = lineage(
        "SELECT id, sum(amount) OVER (PARTITION BY customer_id ORDER BY id) AS running FROM (SELECT * FROM silver.orders) s",
    )
    .await;
    assert_eq!(w[1].transform, Transform::Aggregate);
    let columns: Vec<&str> = w[1].from.iter().map(|s| s.column.as_str()).collect();
    assert!(columns.contains(&"amount"), "{columns:?}");
}
