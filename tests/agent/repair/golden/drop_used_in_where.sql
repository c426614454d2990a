-- kind: column_removed
-- table: raw.orders
-- column: status
-- alter: ALTER TABLE raw.orders DROP COLUMN status
---- input
SELECT id FROM raw.orders WHERE status = 'completed'
---- error
used in WHERE
