-- Metric alert rules, their history, webhooks and the webhook delivery log.
-- Times are unix milliseconds UTC.

-- A rule on one metric over a sliding window, for one project, one model, both or everything.
-- The rule's state changes only by a conditional UPDATE (`… WHERE state = 'ok'`), so however
-- many replicas evaluate it, each change is recorded (and notified) once.
CREATE TABLE alert_rules (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  metric TEXT NOT NULL CHECK (metric IN ('error_rate', 'p95_latency', 'requests')),
  project_id INTEGER REFERENCES projects(id),
  model_id INTEGER REFERENCES models(id),
  op TEXT NOT NULL CHECK (op IN ('above', 'below')),
  -- error_rate: basis points (500 = 5 %); p95_latency: milliseconds; requests: a count.
  threshold INTEGER NOT NULL CHECK (threshold >= 0),
  window_minutes INTEGER NOT NULL CHECK (window_minutes BETWEEN 1 AND 1440),
  -- error_rate and p95_latency are judged only over at least this many requests.
  min_requests INTEGER NOT NULL CHECK (min_requests >= 1),
  state TEXT NOT NULL CHECK (state IN ('ok', 'firing')),
  state_since INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);

-- Every state change of a rule: 'firing' or 'resolved', with the value that caused it.
CREATE TABLE alert_history (
  id INTEGER PRIMARY KEY,
  rule_id INTEGER NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
  value INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX alert_history_rule ON alert_history (rule_id, at);

-- Where alerts are POSTed; `secret` signs each body (HMAC-SHA256).
CREATE TABLE webhooks (
  id INTEGER PRIMARY KEY,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  disabled_at INTEGER
);

-- One notification to one webhook: pending until a 2xx answer (delivered) or until the
-- attempts run out (failed); retried with exponential backoff.
CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY,
  webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id);
