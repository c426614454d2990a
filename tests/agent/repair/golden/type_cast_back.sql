-- kind: column_type_changed
-- table: raw.orders
-- column: amount
-- to_type: DECIMAL(10,2)
-- alter: ALTER TABLE raw.orders ALTER amount TYPE VARCHAR
---- input
SELECT
    customer_id,
    SUM(amount) AS revenue,
    MAX(o.amount) AS biggest
FROM raw.orders AS o
WHERE amount > 10
GROUP BY customer_id
---- expected
SELECT
    customer_id,
    SUM(CAST(amount AS DECIMAL(10, 2))) AS revenue,
    MAX(CAST(o.amount AS DECIMAL(10, 2))) AS biggest
FROM raw.orders AS o
WHERE CAST(amount AS DECIMAL(10, 2)) > 10
GROUP BY customer_id
