-- kind: column_type_changed
-- table: raw.orders
-- column: id
-- to_type: INTEGER
-- alter: ALTER TABLE raw.orders ALTER id TYPE BIGINT
---- input
SELECT id, amount FROM raw.orders
---- expected
SELECT CAST(id AS INT) AS id, amount FROM raw.orders
