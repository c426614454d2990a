-- kind: column_renamed
-- table: raw.orders
-- column: id
-- new_column: order_id
-- unknown_columns: raw.customers
-- alter: ALTER TABLE raw.orders RENAME COLUMN id TO order_id
---- input
SELECT id FROM raw.orders, raw.customers
---- error
not qualified
