-- The provider an event last named for the model (events.provider), shown beside the model
-- in the Models panel and its export; NULL until an event names one.
ALTER TABLE models ADD COLUMN provider TEXT;
