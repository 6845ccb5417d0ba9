//! The change feed behind live dashboards: which projects got events since a row id.

use super::{Backend, Store, StoreError};

/// The live feed's poll (twice a second on SQLite): the projects of events above a row id.
/// `+project_id` keeps SQLite from answering the GROUP BY by walking the whole (project_id,
/// ts, client_id) index, which covers `id` and is already in project order: it chose that
/// plan, a full scan every poll (several seconds at 60M events, on the core ingest needed),
/// over reading only the new rows through the primary key.
pub const CHANGED_AFTER_SQL: &str =
    "SELECT +project_id, MAX(id) FROM events WHERE id > $1 GROUP BY +project_id";

impl Store {
    /// The id of the newest stored event (0 when empty); it grows with every stored batch.
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        let sql = "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM events";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// The timestamp (unix ms) of the newest stored event, `None` when there is none.
    pub async fn newest_event_ms(&self) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT MAX(ts) FROM events";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// Projects with events stored after event id `after`, and the newest event id seen.
    pub async fn projects_changed_after(&self, after: i64) -> Result<(Vec<i64>, i64), StoreError> {
        let sql = CHANGED_AFTER_SQL;
        let rows: Vec<(i64, i64)> =
            dispatch!(self, pool => sqlx::query_as(sql).bind(after).fetch_all(pool).await?);
        let last = rows.iter().map(|(_, id)| *id).max().unwrap_or(after);
        Ok((rows.into_iter().map(|(p, _)| p).collect(), last))
    }

    /// Model names with data in any of these projects.
    pub async fn models_of_projects(&self, project_ids: &[i64]) -> Result<Vec<String>, StoreError> {
        if project_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=project_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT DISTINCT m.name FROM project_models pm JOIN models m ON m.id = pm.model_id \
             WHERE pm.project_id IN ({}) ORDER BY m.name",
            marks.join(",")
        );
        Ok(dispatch!(self, pool => {
            let mut q = sqlx::query_scalar(&sql);
            for id in project_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        }))
    }

    /// A PostgreSQL listener on the `usage_events` channel, or `None` on SQLite.
    pub async fn pg_listener(&self) -> Result<Option<sqlx::postgres::PgListener>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen("usage_events").await?;
                Ok(Some(listener))
            }
            Backend::Sqlite(_) => Ok(None),
        }
    }
}
