-- Conversion value per retail media campaign, matching the advertiser's customers to Amazon's
-- shoppers through the ID mapping table (populate it first: PopulateIdMappingTable).
SELECT r.campaign_id, SUM(c.conversion_value) AS conversion_value
FROM conversions c
JOIN advertiser_to_amazon m ON c.user_id = m.sourceId
JOIN retail_media_impressions r ON r.user_id = m.targetId
GROUP BY r.campaign_id
