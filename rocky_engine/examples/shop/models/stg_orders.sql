-- Orders with a normalised status.
SELECT
    id AS order_id,
    customer_id,
    order_date,
    LOWER(status) AS status,
    amount
FROM raw.orders
