-- kind: column_renamed
-- table: raw.orders
-- column: amount
-- new_column: total_amount
-- alter: ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount
---- input
-- Orders with a normalised status.
SELECT
    id AS order_id,
    customer_id,
    LOWER(status) AS status,
    amount
FROM raw.orders
---- expected
-- Orders with a normalised status.
SELECT
    id AS order_id,
    customer_id,
    LOWER(status) AS status,
    total_amount AS amount
FROM raw.orders
