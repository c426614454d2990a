-- kind: table_renamed
-- table: raw.orders
-- new_table: raw.orders_v2
-- alter: ALTER TABLE raw.orders RENAME TO orders_v2
---- input
SELECT orders.id, o2.amount
FROM raw.orders
JOIN raw.orders AS o2 ON o2.id = orders.id
---- expected
SELECT orders.id, o2.amount
FROM raw.orders_v2 AS orders
JOIN raw.orders_v2 AS o2 ON o2.id = orders.id
