-- Re-pricing runs (server/src/pricing/reprice.rs): stored events from from_ms (of one model
-- when model_id is set) priced again with today's prices, in id order up to up_to_id (the
-- newest event when the run started). after_id is the last event id done; each batch moves
-- it in the same transaction as the events' new costs and the roll-ups' differences, so an
-- interrupted run resumes after it and never applies a batch twice.
CREATE TABLE reprice_runs (
  id INTEGER PRIMARY KEY,
  started_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER,
  from_ms INTEGER NOT NULL,
  model_id INTEGER,
  up_to_id INTEGER NOT NULL,
  after_id INTEGER NOT NULL,
  events_seen INTEGER NOT NULL,
  events_changed INTEGER NOT NULL,
  cost_before_nanos INTEGER NOT NULL,
  cost_after_nanos INTEGER NOT NULL,
  created_by TEXT NOT NULL
);
