-- kind: column_renamed
-- table: raw.orders
-- column: customer_id
-- new_column: buyer_id
-- alter: ALTER TABLE raw.orders RENAME COLUMN customer_id TO buyer_id
---- input
WITH big AS (
    SELECT o.customer_id, SUM(o.amount) AS spent  -- per customer
    FROM raw.orders AS o
    WHERE o.customer_id IS NOT NULL AND amount > 0
    GROUP BY o.customer_id
)
SELECT c.name, big.customer_id, big.spent, (SELECT COUNT(*) FROM raw.orders AS x WHERE x.customer_id = c.id) AS n
FROM raw.customers AS c
JOIN big ON big.customer_id = c.id
ORDER BY big.customer_id
---- expected
WITH big AS (
    SELECT o.buyer_id AS customer_id, SUM(o.amount) AS spent  -- per customer
    FROM raw.orders AS o
    WHERE o.buyer_id IS NOT NULL AND amount > 0
    GROUP BY o.buyer_id
)
SELECT c.name, big.customer_id, big.spent, (SELECT COUNT(*) FROM raw.orders AS x WHERE x.buyer_id = c.id) AS n
FROM raw.customers AS c
JOIN big ON big.customer_id = c.id
ORDER BY big.customer_id
