-- Each roll-up level split into four partitions, one per kind of series: "any project, any
-- model", "any project" by model, "any model" by project, and project x model.
--
-- PostgreSQL keeps a table's rows in the order they were written, and each batch writes the
-- rows of every series for its buckets together. At 10M events the 30 days of hours that the
-- unfiltered weekday x hour panel sums (2,880 rows of "any project, any model") lay on about
-- as many pages, among the rows of every project x model; in the partition for their kind
-- they are neighbours. SQLite needs none of this: its roll-ups are WITHOUT ROWID tables,
-- stored in key order.
--
-- Queries name project_id and model_id (`= 0`, or a list of ids), so PostgreSQL reads only
-- the partitions those allow, also under the generic plans our connections use. The rows
-- are copied in key order, so the existing series start out contiguous.
DO $$
DECLARE
  level TEXT;
  side TEXT;
BEGIN
  FOREACH level IN ARRAY ARRAY['rollup_15m', 'rollup_1h', 'rollup_1d'] LOOP
    EXECUTE format(
      'CREATE TABLE %1$I (LIKE %2$I INCLUDING DEFAULTS,
         PRIMARY KEY (project_id, model_id, bucket, error_type))
       PARTITION BY LIST (project_id)', level || '_parts', level);
    -- project_id 0 ("any") or any other, each split into model_id 0 or any other:
    -- <level>_any_any, _any_by_model, _project_any, _project_by_model.
    FOREACH side IN ARRAY ARRAY['any', 'project'] LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF %I %s PARTITION BY LIST (model_id)',
        level || '_' || side, level || '_parts',
        CASE side WHEN 'any' THEN 'FOR VALUES IN (0)' ELSE 'DEFAULT' END);
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (0)',
        level || '_' || side || '_any', level || '_' || side);
      EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT',
        level || '_' || side || '_by_model', level || '_' || side);
    END LOOP;
    EXECUTE format(
      'INSERT INTO %I SELECT * FROM %I ORDER BY project_id, model_id, bucket, error_type',
      level || '_parts', level);
    EXECUTE format('DROP TABLE %I', level);
    EXECUTE format('ALTER TABLE %I RENAME TO %I', level || '_parts', level);
    -- Without statistics the planner guessed badly on the new partitions until autovacuum
    -- came (six panels, 30 days at 10M: 52 ms before this ANALYZE, 25-33 ms after).
    EXECUTE format('ANALYZE %I', level);
  END LOOP;
END
$$;
