-- Access control: users with roles, server-side sessions, read API tokens, an audit log and
-- failed log-ins (for the rate limit, shared by replicas). Secrets are stored hashed only.

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
  -- 1: sees only the projects in user_projects; 0: sees every project.
  limited INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  disabled_at INTEGER
);

CREATE TABLE user_projects (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  project_id INTEGER NOT NULL REFERENCES projects(id),
  PRIMARY KEY (user_id, project_id)
);

-- token_hash: SHA-256 of the random cookie value.
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Read API tokens for scripts: scoped like users (role viewer, optionally limited).
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL UNIQUE,
  token_hash TEXT NOT NULL,
  limited INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);

CREATE TABLE token_projects (
  token_id INTEGER NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
  project_id INTEGER NOT NULL REFERENCES projects(id),
  PRIMARY KEY (token_id, project_id)
);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);

-- One row per failed log-in; `subject` is `email:<address>` or `ip:<address>`.
CREATE TABLE login_failures (
  subject TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (subject, at);

-- Which models each project has data for (kept by ingest): the model picker of a viewer
-- limited to some projects lists only their models, without scanning roll-ups.
CREATE TABLE project_models (
  project_id INTEGER NOT NULL REFERENCES projects(id),
  model_id INTEGER NOT NULL REFERENCES models(id),
  PRIMARY KEY (project_id, model_id)
);
INSERT INTO project_models (project_id, model_id)
  SELECT DISTINCT project_id, model_id FROM rollup_15m;
