-- no-transaction
-- A duplicate is now an event with the same id AND the same timestamp in its project (issue
-- 26): what a retry re-sends. Events without an id are never duplicates (NULLs are distinct).
-- New keys of (project_id, ts, client_id) land at the index's newest end instead of on a
-- random page each (see the SQLite migration of the same number for the measurements).
--
-- Built CONCURRENTLY, so other replicas keep writing meanwhile; that cannot run inside a
-- transaction (hence the first line) nor beside another statement in the same query, so
-- dropping the old key is the next migration. An interrupted build leaves an INVALID index
-- of this name behind; the server drops it before migrating again (store::migrate).
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS events_project_ts_client
  ON events (project_id, ts, client_id);
