-- Every order once, with its region's name. Reads all days of bronze.orders.
-- group: silver
-- owners: team:analytics
-- tags: layer=silver
-- checks: unique(order_id), accepted_values(status, 'paid', 'refunded', 'pending')
WITH deduplicated AS (
    SELECT DISTINCT order_id, customer_id, region, status, amount, ordered_at, order_date
    FROM bronze.orders
)
SELECT
    o.order_id,
    o.customer_id,
    r.region_name,
    o.status,
    o.amount,
    o.order_date
FROM deduplicated o
JOIN silver.regions r ON r.region = o.region
