-- Clean customer records: trimmed names, lower-cased emails.
SELECT
    id AS customer_id,
    TRIM(full_name) AS customer_name,
    LOWER(email) AS email,
    UPPER(country) AS country_code,
    signup_date
FROM raw.customers
