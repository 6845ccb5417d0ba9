-- Money: nano-USD (1e-9 USD) as integers. Prices: micro-USD per million tokens.
-- Time: integers in UTC (events in unix milliseconds, roll-up buckets in unix seconds);
-- time zones are applied when querying.

CREATE TABLE projects (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

-- Ingest keys: only a SHA-256 of the key is kept; `prefix` is the visible, unique head.
CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id),
  prefix TEXT NOT NULL UNIQUE,
  key_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);

-- Model names are interned so that roll-up rows stay narrow.
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

-- A price is in force from `effective_from` (unix ms) until the next row of the same model.
CREATE TABLE model_prices (
  model TEXT NOT NULL,
  effective_from INTEGER NOT NULL,
  input_micros_per_mtok INTEGER NOT NULL,
  cached_input_micros_per_mtok INTEGER NOT NULL,
  cache_write_micros_per_mtok INTEGER NOT NULL,
  output_micros_per_mtok INTEGER NOT NULL,
  PRIMARY KEY (model, effective_from)
);

-- One row per accepted event. cost_source: 0 unpriced, 1 price table, 2 sent by the client.
CREATE TABLE events (
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
  metadata TEXT,
  UNIQUE (project_id, client_id)
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_errors_ts ON events (ts) WHERE is_error = 1;

-- 15-minute roll-ups, kept in the same transaction as the raw insert. Fifteen minutes divides
-- every UTC offset in use (+05:30, +05:45, DST shifts), so any IANA zone's local hours and days
-- are exact unions of buckets. error_type is '' for successful requests.
-- h00..h79: latency histogram, bin k holds latencies in [2^(k/4), 2^((k+1)/4)) ms.
CREATE TABLE rollup_15m (
  bucket INTEGER NOT NULL,
  project_id INTEGER NOT NULL,
  model_id INTEGER NOT NULL,
  error_type TEXT NOT NULL,
  requests INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL,
  cost_nanos INTEGER NOT NULL,
  unpriced_requests INTEGER NOT NULL,
  latency_count INTEGER NOT NULL,
  latency_sum_ms INTEGER NOT NULL,
  ttft_count INTEGER NOT NULL,
  ttft_sum_ms INTEGER NOT NULL,
  h00 INTEGER NOT NULL DEFAULT 0,
  h01 INTEGER NOT NULL DEFAULT 0,
  h02 INTEGER NOT NULL DEFAULT 0,
  h03 INTEGER NOT NULL DEFAULT 0,
  h04 INTEGER NOT NULL DEFAULT 0,
  h05 INTEGER NOT NULL DEFAULT 0,
  h06 INTEGER NOT NULL DEFAULT 0,
  h07 INTEGER NOT NULL DEFAULT 0,
  h08 INTEGER NOT NULL DEFAULT 0,
  h09 INTEGER NOT NULL DEFAULT 0,
  h10 INTEGER NOT NULL DEFAULT 0,
  h11 INTEGER NOT NULL DEFAULT 0,
  h12 INTEGER NOT NULL DEFAULT 0,
  h13 INTEGER NOT NULL DEFAULT 0,
  h14 INTEGER NOT NULL DEFAULT 0,
  h15 INTEGER NOT NULL DEFAULT 0,
  h16 INTEGER NOT NULL DEFAULT 0,
  h17 INTEGER NOT NULL DEFAULT 0,
  h18 INTEGER NOT NULL DEFAULT 0,
  h19 INTEGER NOT NULL DEFAULT 0,
  h20 INTEGER NOT NULL DEFAULT 0,
  h21 INTEGER NOT NULL DEFAULT 0,
  h22 INTEGER NOT NULL DEFAULT 0,
  h23 INTEGER NOT NULL DEFAULT 0,
  h24 INTEGER NOT NULL DEFAULT 0,
  h25 INTEGER NOT NULL DEFAULT 0,
  h26 INTEGER NOT NULL DEFAULT 0,
  h27 INTEGER NOT NULL DEFAULT 0,
  h28 INTEGER NOT NULL DEFAULT 0,
  h29 INTEGER NOT NULL DEFAULT 0,
  h30 INTEGER NOT NULL DEFAULT 0,
  h31 INTEGER NOT NULL DEFAULT 0,
  h32 INTEGER NOT NULL DEFAULT 0,
  h33 INTEGER NOT NULL DEFAULT 0,
  h34 INTEGER NOT NULL DEFAULT 0,
  h35 INTEGER NOT NULL DEFAULT 0,
  h36 INTEGER NOT NULL DEFAULT 0,
  h37 INTEGER NOT NULL DEFAULT 0,
  h38 INTEGER NOT NULL DEFAULT 0,
  h39 INTEGER NOT NULL DEFAULT 0,
  h40 INTEGER NOT NULL DEFAULT 0,
  h41 INTEGER NOT NULL DEFAULT 0,
  h42 INTEGER NOT NULL DEFAULT 0,
  h43 INTEGER NOT NULL DEFAULT 0,
  h44 INTEGER NOT NULL DEFAULT 0,
  h45 INTEGER NOT NULL DEFAULT 0,
  h46 INTEGER NOT NULL DEFAULT 0,
  h47 INTEGER NOT NULL DEFAULT 0,
  h48 INTEGER NOT NULL DEFAULT 0,
  h49 INTEGER NOT NULL DEFAULT 0,
  h50 INTEGER NOT NULL DEFAULT 0,
  h51 INTEGER NOT NULL DEFAULT 0,
  h52 INTEGER NOT NULL DEFAULT 0,
  h53 INTEGER NOT NULL DEFAULT 0,
  h54 INTEGER NOT NULL DEFAULT 0,
  h55 INTEGER NOT NULL DEFAULT 0,
  h56 INTEGER NOT NULL DEFAULT 0,
  h57 INTEGER NOT NULL DEFAULT 0,
  h58 INTEGER NOT NULL DEFAULT 0,
  h59 INTEGER NOT NULL DEFAULT 0,
  h60 INTEGER NOT NULL DEFAULT 0,
  h61 INTEGER NOT NULL DEFAULT 0,
  h62 INTEGER NOT NULL DEFAULT 0,
  h63 INTEGER NOT NULL DEFAULT 0,
  h64 INTEGER NOT NULL DEFAULT 0,
  h65 INTEGER NOT NULL DEFAULT 0,
  h66 INTEGER NOT NULL DEFAULT 0,
  h67 INTEGER NOT NULL DEFAULT 0,
  h68 INTEGER NOT NULL DEFAULT 0,
  h69 INTEGER NOT NULL DEFAULT 0,
  h70 INTEGER NOT NULL DEFAULT 0,
  h71 INTEGER NOT NULL DEFAULT 0,
  h72 INTEGER NOT NULL DEFAULT 0,
  h73 INTEGER NOT NULL DEFAULT 0,
  h74 INTEGER NOT NULL DEFAULT 0,
  h75 INTEGER NOT NULL DEFAULT 0,
  h76 INTEGER NOT NULL DEFAULT 0,
  h77 INTEGER NOT NULL DEFAULT 0,
  h78 INTEGER NOT NULL DEFAULT 0,
  h79 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, project_id, model_id, error_type)
) WITHOUT ROWID;
