-- The shop's orders, typed: one partition per day, as ingested.
-- group: bronze
-- owners: team:data-platform
-- tags: layer=bronze
-- partitions: same as raw/orders
-- checks: not_null(order_id), expect(amount >= 0) AS non_negative_amount
SELECT
    order_id,
    customer_id,
    region,
    lower(status)                          AS status,
    CAST(amount AS DECIMAL(12, 2))         AS amount,
    CAST(ordered_at AS TIMESTAMP)          AS ordered_at,
    CAST(CAST(ordered_at AS TIMESTAMP) AS DATE) AS order_date
FROM raw.orders
