-- A duplicate is now an event with the same id AND the same timestamp in its project (issue
-- 26): what a retry re-sends. Events without an id are never duplicates (NULLs are distinct
-- in a unique index).
--
-- Why: with the old key (project_id, client_id), ids arrive in random order, so each new id
-- landed on its own page of that index, and every commit wrote and every checkpoint copied
-- that page again (~3 KB written per event at 1M stored events, ~5 KB at 10M). New keys of
-- (project_id, ts, client_id) land at the index's newest end, as the time index's do.
--
-- SQLite cannot drop a table's UNIQUE constraint, so the table is rebuilt, row ids kept (the
-- live feed, retention and exports refer to them). The new key is a separate unique index,
-- built after the copy (one sort instead of 10M random inserts), and not part of the table's
-- definition, so a later change of key needs no rebuild. The server checks free disk space
-- before this runs (it needs up to twice the database file: the new copy passes through the
-- write-ahead log) and logs progress meanwhile (store::migrate).
CREATE TABLE events_rebuilt (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id),
  client_id TEXT,
  ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  model_id INTEGER NOT NULL REFERENCES models(id),
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL,
  cost_nanos INTEGER NOT NULL,
  cost_source INTEGER NOT NULL,
  latency_ms INTEGER,
  ttft_ms INTEGER,
  is_error INTEGER NOT NULL,
  error_type TEXT,
  error_message TEXT,
  end_user TEXT,
  metadata TEXT
);
INSERT INTO events_rebuilt (id, project_id, client_id, ts, received_at, model_id, input_tokens,
  output_tokens, cached_input_tokens, cache_write_tokens, cost_nanos, cost_source, latency_ms,
  ttft_ms, is_error, error_type, error_message, end_user, metadata)
SELECT id, project_id, client_id, ts, received_at, model_id, input_tokens, output_tokens,
  cached_input_tokens, cache_write_tokens, cost_nanos, cost_source, latency_ms, ttft_ms,
  is_error, error_type, error_message, end_user, metadata
FROM events ORDER BY id;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
CREATE UNIQUE INDEX events_project_ts_client ON events (project_id, ts, client_id);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_errors_ts ON events (ts) WHERE is_error = 1;
CREATE INDEX events_errors_project_ts ON events (project_id, ts) WHERE is_error = 1;
