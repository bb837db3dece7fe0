-- Paid revenue and customers per region, over all days.
-- group: gold
-- owners: team:finance
-- tags: layer=gold
SELECT
    region_name                  AS region,
    count(DISTINCT customer_id)  AS customers,
    sum(amount)                  AS revenue,
    avg(amount)                  AS average_order
FROM silver.orders
WHERE status = 'paid'
GROUP BY region_name
