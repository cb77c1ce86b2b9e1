-- Conversions of users reached by retail media or streaming TV in one campaign, per product line.
-- user_id is a disallowed output column, so COUNT(DISTINCT c.user_id) in the final SELECT is
-- refused; UNION (which removes duplicates) cannot be thresholded locally, so the channels are
-- combined with UNION ALL: a conversion of a user reached by both channels counts once per channel.
-- Groups of fewer than 50 distinct users of any table read are suppressed.
WITH reached AS (
  SELECT r.user_id, r.campaign_id FROM retail_media_impressions r WHERE r.campaign_id = :campaign
  UNION ALL
  SELECT t.user_id, t.campaign_id FROM tv_exposures t WHERE t.campaign_id = :campaign
)
SELECT reached.campaign_id,
       COUNT(*) AS exposed_conversions,
       SUM(c.conversion_value) AS conversion_value
FROM reached
JOIN conversions c ON reached.user_id = c.user_id
GROUP BY reached.campaign_id
