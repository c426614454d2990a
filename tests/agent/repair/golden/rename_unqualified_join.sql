-- kind: column_renamed
-- table: raw.orders
-- column: status
-- new_column: order_status
-- alter: ALTER TABLE raw.orders RENAME COLUMN status TO order_status
---- input
SELECT o.id, status, name
FROM raw.orders o
LEFT JOIN raw.customers c ON o.customer_id = c.id
WHERE status <> 'returned'
---- expected
SELECT o.id, order_status AS status, name
FROM raw.orders o
LEFT JOIN raw.customers c ON o.customer_id = c.id
WHERE order_status <> 'returned'
