-- The sales regions (a seed, written in SQL).
-- group: silver
-- tags: layer=silver
-- checks: unique(region)
SELECT * FROM (VALUES
    ('eu',   'Europe',        'EUR'),
    ('us',   'United States', 'USD'),
    ('apac', 'Asia-Pacific',  'USD')
) AS r(region, region_name, currency)
