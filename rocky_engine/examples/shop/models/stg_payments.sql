SELECT
    id AS payment_id,
    order_id,
    method AS payment_method,
    amount AS paid_amount,
    CAST(paid_at AS DATE) AS paid_date
FROM raw.payments
