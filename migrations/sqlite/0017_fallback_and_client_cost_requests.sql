-- How each roll-up row's requests were priced, beside unpriced_requests: by a catalogue
-- price found through a family fallback (cost_source 4), or by the client's own cost_usd
-- (cost_source 2). The Models panel and the exports show a model's price source from them.
--
-- Existing rows are filled from the raw events still kept (one scan of the events table),
-- added to every row an event adds to: its 15-minute, hour and day buckets, its project x
-- model, any-project, any-model and any-any series, the row of every status and, for a
-- failure, its error type's row. Periods older than retention keep 0.

ALTER TABLE rollup_15m ADD COLUMN fallback_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_15m ADD COLUMN client_cost_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_1h ADD COLUMN fallback_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_1h ADD COLUMN client_cost_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_1d ADD COLUMN fallback_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_1d ADD COLUMN client_cost_requests INTEGER NOT NULL DEFAULT 0;

CREATE TEMP TABLE priced_base AS
SELECT (ts / 900000) * 900 AS bucket, project_id, model_id,
       CASE WHEN is_error = 1 THEN COALESCE(NULLIF(error_type, ''), 'unknown') END AS et,
       SUM(CASE WHEN cost_source = 4 THEN 1 ELSE 0 END) AS fallback,
       SUM(CASE WHEN cost_source = 2 THEN 1 ELSE 0 END) AS client
FROM events WHERE cost_source IN (2, 4) GROUP BY 1, 2, 3, 4;

WITH statuses AS (
  SELECT bucket, project_id AS p, model_id AS m, '' AS et, fallback, client FROM priced_base
  UNION ALL
  SELECT bucket, project_id, model_id, et, fallback, client FROM priced_base WHERE et IS NOT NULL
), series AS (
  SELECT bucket, p, m, et, fallback, client FROM statuses
  UNION ALL SELECT bucket, 0, m, et, fallback, client FROM statuses
  UNION ALL SELECT bucket, p, 0, et, fallback, client FROM statuses
  UNION ALL SELECT bucket, 0, 0, et, fallback, client FROM statuses
), sums AS (
  SELECT (bucket / 900) * 900 AS b, p, m, et, SUM(fallback) AS fallback, SUM(client) AS client
  FROM series GROUP BY 1, 2, 3, 4
)
UPDATE rollup_15m SET fallback_requests = sums.fallback, client_cost_requests = sums.client
FROM sums
WHERE rollup_15m.bucket = sums.b AND rollup_15m.project_id = sums.p
  AND rollup_15m.model_id = sums.m AND rollup_15m.error_type = sums.et;

WITH statuses AS (
  SELECT bucket, project_id AS p, model_id AS m, '' AS et, fallback, client FROM priced_base
  UNION ALL
  SELECT bucket, project_id, model_id, et, fallback, client FROM priced_base WHERE et IS NOT NULL
), series AS (
  SELECT bucket, p, m, et, fallback, client FROM statuses
  UNION ALL SELECT bucket, 0, m, et, fallback, client FROM statuses
  UNION ALL SELECT bucket, p, 0, et, fallback, client FROM statuses
  UNION ALL SELECT bucket, 0, 0, et, fallback, client FROM statuses
), sums AS (
  SELECT (bucket / 3600) * 3600 AS b, p, m, et, SUM(fallback) AS fallback, SUM(client) AS client
  FROM series GROUP BY 1, 2, 3, 4
)
UPDATE rollup_1h SET fallback_requests = sums.fallback, client_cost_requests = sums.client
FROM sums
WHERE rollup_1h.bucket = sums.b AND rollup_1h.project_id = sums.p
  AND rollup_1h.model_id = sums.m AND rollup_1h.error_type = sums.et;

WITH statuses AS (
  SELECT bucket, project_id AS p, model_id AS m, '' AS et, fallback, client FROM priced_base
  UNION ALL
  SELECT bucket, project_id, model_id, et, fallback, client FROM priced_base WHERE et IS NOT NULL
), series AS (
  SELECT bucket, p, m, et, fallback, client FROM statuses
  UNION ALL SELECT bucket, 0, m, et, fallback, client FROM statuses
  UNION ALL SELECT bucket, p, 0, et, fallback, client FROM statuses
  UNION ALL SELECT bucket, 0, 0, et, fallback, client FROM statuses
), sums AS (
  SELECT (bucket / 86400) * 86400 AS b, p, m, et, SUM(fallback) AS fallback, SUM(client) AS client
  FROM series GROUP BY 1, 2, 3, 4
)
UPDATE rollup_1d SET fallback_requests = sums.fallback, client_cost_requests = sums.client
FROM sums
WHERE rollup_1d.bucket = sums.b AND rollup_1d.project_id = sums.p
  AND rollup_1d.model_id = sums.m AND rollup_1d.error_type = sums.et;

DROP TABLE priced_base;
