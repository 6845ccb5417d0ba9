//! Storage side of raw-event retention: the mark saying from when raw events may be missing,
//! and deletion of old raw events in small batches. Roll-ups are never deleted.

use super::{Backend, Store, StoreError};

impl Store {
    /// The instant (unix ms) before which raw events have been (or are being) deleted;
    /// `None` when retention never ran.
    pub async fn raw_deleted_before(&self) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT raw_deleted_before_ms FROM retention WHERE id = 1";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql).fetch_optional(pool).await?))
    }

    /// Records that raw events before `ms` may be missing; the mark only moves forward.
    pub async fn mark_raw_deleted_before(&self, ms: i64) -> Result<(), StoreError> {
        let sql = "INSERT INTO retention (id, raw_deleted_before_ms) VALUES (1, $1) \
                   ON CONFLICT (id) DO UPDATE SET raw_deleted_before_ms = \
                   CASE WHEN excluded.raw_deleted_before_ms > retention.raw_deleted_before_ms \
                   THEN excluded.raw_deleted_before_ms ELSE retention.raw_deleted_before_ms END";
        dispatch!(self, pool => {
            sqlx::query(sql).bind(ms).execute(pool).await?;
        });
        Ok(())
    }

    /// Deletes up to `limit` raw events with a timestamp before `ms`; answers how many. Short
    /// transactions, so that ingest (SQLite has one writer) waits at most one batch.
    pub async fn delete_raw_events_before(&self, ms: i64, limit: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM events WHERE id IN \
                   (SELECT id FROM events WHERE ts < $1 ORDER BY ts LIMIT $2)";
        let _guard = match self.backend {
            Backend::Sqlite(_) => Some(self.write_lock.lock().await),
            Backend::Postgres(_) => None,
        };
        let deleted = dispatch!(self, pool => {
            sqlx::query(sql).bind(ms).bind(limit).execute(pool).await?.rows_affected()
        });
        Ok(deleted)
    }
}
