-- Customer mart: lifetime revenue from completed orders, and a revenue rank.
WITH completed AS (
    SELECT customer_id, amount, order_date
    FROM order_payments
    WHERE status = 'completed'
),
per_customer AS (
    SELECT
        customer_id,
        COUNT(*) AS completed_orders,
        SUM(amount) AS lifetime_revenue,
        MIN(order_date) AS first_order_date
    FROM completed
    GROUP BY customer_id
)
SELECT
    c.customer_id,
    c.customer_name,
    c.country_code,
    COALESCE(p.completed_orders, 0) AS completed_orders,
    COALESCE(p.lifetime_revenue, 0) AS lifetime_revenue,
    p.first_order_date,
    RANK() OVER (PARTITION BY c.country_code ORDER BY COALESCE(p.lifetime_revenue, 0) DESC) AS revenue_rank_in_country
FROM stg_customers AS c
LEFT JOIN per_customer AS p
    ON c.customer_id = p.customer_id
