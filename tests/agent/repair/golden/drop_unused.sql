-- kind: column_removed
-- table: raw.orders
-- column: note
-- dropped: note
-- alter: ALTER TABLE raw.orders DROP COLUMN note
---- input
SELECT
    id,
    note,   -- free text from the shop
    amount
FROM raw.orders
---- expected
SELECT
    id,
    amount
FROM raw.orders
