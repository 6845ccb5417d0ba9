-- Dimensions (docs/dimensions.md): the ingest key each event came through (NULL: stored
-- before this, imported or generated, shown as "(no key)"), and the metadata keys an admin
-- declares as dimensions (at most 10).
ALTER TABLE events ADD COLUMN key_id INTEGER;

CREATE TABLE dimensions (
  meta_key TEXT PRIMARY KEY,
  declared_at_ms INTEGER NOT NULL,
  declared_by TEXT NOT NULL
);
