-- Raw events lose their foreign keys to projects and models. PostgreSQL checked each inserted
-- event with a query of its own that also took a share lock on the project's and the model's
-- row, which every concurrent batch locks too (1,000 events a batch: 2,000 checks and lock
-- sharing on a handful of hot rows). Without them, 1M events over HTTP ingested at 37.3k,
-- 32.3k and 34.0k events/s against 29.7k, 27.5k and 25.0k with them (2026-12-03).
--
-- What they guarded still holds: ingest takes the project id from the key it authenticated
-- and each model id from the models table, in the same transaction `project_models` (which
-- keeps its foreign keys) records every (project, model) pair of the batch, and nothing ever
-- deletes a project or a model. Whoever adds deleting a project must delete its events
-- first. SQLite keeps the constraints: there they cost within noise (its writer checks them
-- through the primary key, without locking rows).
ALTER TABLE events
  DROP CONSTRAINT IF EXISTS events_project_id_fkey,
  DROP CONSTRAINT IF EXISTS events_model_id_fkey;
