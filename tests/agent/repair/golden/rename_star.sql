-- kind: column_renamed
-- table: raw.orders
-- column: amount
-- new_column: total
-- alter: ALTER TABLE raw.orders RENAME COLUMN amount TO total
---- input
SELECT * FROM raw.orders
---- error
SELECT *
