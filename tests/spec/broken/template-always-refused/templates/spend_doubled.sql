WITH doubled AS (
  SELECT c.user_id, c.product_line, c.conversion_value * 2 AS twice FROM conversions c
)
SELECT doubled.product_line, SUM(doubled.twice) AS total
FROM doubled
GROUP BY doubled.product_line
