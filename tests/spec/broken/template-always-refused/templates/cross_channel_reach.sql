WITH reached AS (
  SELECT r.user_id, r.campaign_id FROM retail_media_impressions r WHERE r.campaign_id = :campaign
  UNION
  SELECT t.user_id, t.campaign_id FROM tv_exposures t WHERE t.campaign_id = :campaign
)
SELECT reached.campaign_id,
       c.product_line,
       COUNT(DISTINCT c.user_id) AS converters,
       SUM(c.conversion_value) AS conversion_value
FROM reached
JOIN conversions c ON reached.user_id = c.user_id
GROUP BY reached.campaign_id, c.product_line
