-- Each order with what was paid for it.
WITH paid AS (
    SELECT
        order_id,
        SUM(paid_amount) AS total_paid,
        COUNT(*) AS payment_count,
        MAX(paid_date) AS last_paid_date
    FROM stg_payments
    GROUP BY order_id
)
SELECT
    o.order_id,
    o.customer_id,
    o.order_date,
    o.status,
    o.amount,
    COALESCE(p.total_paid, 0) AS total_paid,
    COALESCE(p.payment_count, 0) AS payment_count,
    p.last_paid_date,
    o.amount - COALESCE(p.total_paid, 0) AS balance_due
FROM stg_orders AS o
LEFT JOIN paid AS p
    ON o.order_id = p.order_id
