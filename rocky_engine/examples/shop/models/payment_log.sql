-- Every payment attempt, kept incrementally: a run reads only the payments newer than the
-- newest one already stored (re-reading two days back for payments that arrive late) and
-- merges them into the table by payment_id. The SQL stays the plain SELECT of everything.
SELECT
    payment_id,
    order_id,
    payment_method,
    paid_amount,
    paid_date
FROM stg_payments
