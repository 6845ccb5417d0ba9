-- Raw events older than the retention age are deleted (roll-ups are kept). This one row says
-- from when raw events may be missing, so the error log and the raw export can say so, and
-- `verify` compares roll-ups with raw events only after it.
CREATE TABLE retention (
  id BIGINT PRIMARY KEY CHECK (id = 1),
  raw_deleted_before_ms BIGINT NOT NULL
);
