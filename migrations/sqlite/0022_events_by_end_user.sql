-- Dimensions (docs/dimensions.md): a filter on one end user reads that user's events through
-- this index instead of every event of the range.
CREATE INDEX events_end_user_ts ON events (end_user, ts);
