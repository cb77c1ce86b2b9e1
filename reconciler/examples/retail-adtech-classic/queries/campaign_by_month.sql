-- The walkthrough's campaign query, corrected: EXTRACT instead of YEAR()/MONTH(), and both
-- tables carry the same (AGGREGATION) rule type so AWS accepts the join.
SELECT a.campaign_name,
       EXTRACT(MONTH FROM p.purchase_date) AS purchase_month,
       COUNT(DISTINCT p.hashed_email) AS customers,
       SUM(p.purchase_amount) AS revenue
FROM purchases p
INNER JOIN ad_impressions a ON p.hashed_email = a.hashed_email
GROUP BY a.campaign_name, EXTRACT(MONTH FROM p.purchase_date)
