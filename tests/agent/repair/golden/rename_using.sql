-- kind: column_renamed
-- table: raw.orders
-- column: id
-- new_column: order_id
-- alter: ALTER TABLE raw.orders RENAME COLUMN id TO order_id
---- input
SELECT id FROM raw.orders JOIN raw.customers USING (id)
---- error
USING
