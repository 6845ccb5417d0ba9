-- The part of cache_write_tokens written to a 1-hour cache (Anthropic prices these above
-- 5-minute writes), and the service tier a request ran on ('batch', 'flex', 'priority';
-- NULL is the default tier). Both pick the price of an event that is priced from a table.
ALTER TABLE events ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN service_tier TEXT;
