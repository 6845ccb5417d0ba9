-- The old duplicate key (project_id, client_id), replaced by 0012's. Dropping it takes the
-- table's lock for a moment only (no rewrite).
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_project_id_client_id_key;
