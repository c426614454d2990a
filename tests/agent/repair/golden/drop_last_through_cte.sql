-- kind: column_removed
-- table: raw.orders
-- column: note
-- dropped: shout
-- alter: ALTER TABLE raw.orders DROP COLUMN note
---- input
WITH o AS (
    SELECT id, amount, note
    FROM raw.orders
)
SELECT id, amount, UPPER(note) AS shout
FROM o
---- expected
WITH o AS (
    SELECT id, amount
    FROM raw.orders
)
SELECT id, amount
FROM o
