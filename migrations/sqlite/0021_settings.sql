-- Settings the server keeps for itself, e.g. the key end users' ids are hashed with when
-- UA_HASH_END_USERS=1 (made once, the same for every replica and restart).
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
