-- Revenue per day with a 7-day running total.
SELECT
    order_date,
    SUM(amount) AS revenue,
    COUNT(DISTINCT customer_id) AS buyers,
    SUM(SUM(amount)) OVER (ORDER BY order_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS revenue_7d
FROM order_payments
WHERE status = 'completed'
GROUP BY order_date
