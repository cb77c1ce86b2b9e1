-- The seed of the lookalike audience: the advertiser's loyal customers.
SELECT user_id FROM customers WHERE segment = 'loyal'
