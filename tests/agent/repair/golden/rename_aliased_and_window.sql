-- kind: column_renamed
-- table: raw.orders
-- column: amount
-- new_column: Order Amount
-- alter: ALTER TABLE raw.orders RENAME COLUMN amount TO "Order Amount"
---- input
SELECT
    id,
    amount AS value,
    RANK() OVER (PARTITION BY customer_id ORDER BY amount DESC, id) AS rnk
FROM raw.orders
---- expected
SELECT
    id,
    "Order Amount" AS value,
    RANK() OVER (PARTITION BY customer_id ORDER BY "Order Amount" DESC, id) AS rnk
FROM raw.orders
