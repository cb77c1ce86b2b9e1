SELECT a.age_group,
       COUNT(*) AS shared_customers,
       AVG(b.engagement_score) AS avg_engagement,
       SUM(a.purchase_amount) AS total_purchases
FROM customer_profiles a
JOIN engagement_metrics b ON a.user_id = b.user_id
WHERE a.region = :region
  AND b.engagement_score >= :min_engagement
GROUP BY a.age_group
