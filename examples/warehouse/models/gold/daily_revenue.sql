-- Paid revenue per day.
-- group: gold
-- owners: team:finance
-- tags: layer=gold
-- checks: unique(order_date), expect(revenue > 0) AS positive_revenue
SELECT
    order_date,
    count(*)    AS orders,
    sum(amount) AS revenue
FROM silver.orders
WHERE status = 'paid'
GROUP BY order_date
