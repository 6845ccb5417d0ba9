-- Budgets: spend limits per project (or the whole organisation when project_id is NULL) per
-- calendar day, week (Monday) or month in an IANA time zone, with percentage thresholds.
CREATE TABLE budgets (
  id INTEGER PRIMARY KEY,
  project_id INTEGER REFERENCES projects(id),
  amount_nanos INTEGER NOT NULL CHECK (amount_nanos > 0),
  period TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
  tz TEXT NOT NULL,
  -- Comma-separated whole percentages, ascending, e.g. `50,80,100`.
  thresholds TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- One row per budget, period and threshold crossed: the database, not a replica's memory,
-- decides that an alert exists exactly once (INSERT … ON CONFLICT DO NOTHING).
CREATE TABLE budget_alerts (
  id INTEGER PRIMARY KEY,
  budget_id INTEGER NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
  -- Start of the budget period, unix seconds UTC.
  period_start INTEGER NOT NULL,
  threshold INTEGER NOT NULL,
  spend_nanos INTEGER NOT NULL,
  fired_at INTEGER NOT NULL,
  UNIQUE (budget_id, period_start, threshold)
);
