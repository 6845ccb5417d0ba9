//! Storage side of re-pricing (see `pricing::reprice`): reading stored events in id order,
//! and writing one batch's new costs, roll-up differences and progress in one transaction.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{postgres, sqlite, Backend, Store, StoreError};
use crate::rollup::{expand, RollupDelta, RollupKey};

/// One stored event as re-pricing needs it.
#[derive(Clone, Debug)]
pub struct RepriceRow {
    pub id: i64,
    pub project_id: i64,
    pub model_id: i64,
    pub ts: i64,
    pub provider: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub cache_write_1h_tokens: i64,
    pub service_tier: Option<String>,
    pub cost_nanos: i64,
    pub cost_source: i64,
    pub is_error: bool,
    pub error_type: Option<String>,
}

/// One re-pricing run as stored (`reprice_runs`), with its model's name.
pub type RunRow = shared::RepriceRunInfo;

/// What one batch changed: the progress to record with it.
#[derive(Clone, Debug, Default)]
pub struct BatchOutcome {
    /// The last event id the batch read (the run goes on after it).
    pub after_id: i64,
    pub seen: i64,
    /// `(event id, new cost, new cost source)` of the events whose cost changed.
    pub changes: Vec<(i64, i64, i64)>,
    pub cost_before_nanos: i64,
    pub cost_after_nanos: i64,
    /// The 15-minute roll-up differences; every level is derived from them.
    pub deltas: BTreeMap<RollupKey, RollupDelta>,
}

/// A run's columns, its model's name last (`r` is `reprice_runs`, `m` its model).
const RUN_COLUMNS: &str = "r.id, r.started_at_ms, r.finished_at_ms, r.from_ms, r.model_id, \
    r.up_to_id, r.after_id, r.events_seen, r.events_changed, r.cost_before_nanos, \
    r.cost_after_nanos, r.created_by, m.name";
const RUN_FROM: &str = "reprice_runs r LEFT JOIN models m ON m.id = r.model_id";

fn run_from_row<R: Row>(r: &R) -> Result<RunRow, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'a> sqlx::Decode<'a, R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'a> sqlx::Decode<'a, R::Database>,
{
    Ok(RunRow {
        id: r.try_get(0)?,
        started_at_ms: r.try_get(1)?,
        finished_at_ms: r.try_get(2)?,
        from_ms: r.try_get(3)?,
        model_id: r.try_get(4)?,
        up_to_id: r.try_get(5)?,
        after_id: r.try_get(6)?,
        events_seen: r.try_get(7)?,
        events_changed: r.try_get(8)?,
        cost_before_nanos: r.try_get(9)?,
        cost_after_nanos: r.try_get(10)?,
        created_by: r.try_get(11)?,
        model: r.try_get(12)?,
    })
}

impl Store {
    /// The highest stored event id (0 when there is none).
    pub async fn max_event_id(&self) -> Result<i64, StoreError> {
        let sql = "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM events";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// Up to `limit` events with `after_id < id <= up_to_id`, `ts >= from_ms`, of `model_id`
    /// when given, whose cost did not come from the client, in id order.
    pub async fn reprice_rows(
        &self,
        after_id: i64,
        up_to_id: i64,
        from_ms: i64,
        model_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RepriceRow>, StoreError> {
        let model = if model_id.is_some() {
            " AND model_id = $5"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id, project_id, model_id, ts, provider, input_tokens, output_tokens, \
             cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, service_tier, \
             cost_nanos, cost_source, is_error, error_type FROM events \
             WHERE id > $1 AND id <= $2 AND ts >= $3 AND cost_source <> 2{model} \
             ORDER BY id LIMIT $4"
        );
        Ok(dispatch!(self, pool => {
            let mut q = sqlx::query(&sql).bind(after_id).bind(up_to_id).bind(from_ms).bind(limit);
            if let Some(m) = model_id {
                q = q.bind(m);
            }
            let rows = q.fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let is_error: i64 = r.try_get(13)?;
                out.push(RepriceRow {
                    id: r.try_get(0)?,
                    project_id: r.try_get(1)?,
                    model_id: r.try_get(2)?,
                    ts: r.try_get(3)?,
                    provider: r.try_get(4)?,
                    input_tokens: r.try_get(5)?,
                    output_tokens: r.try_get(6)?,
                    cached_input_tokens: r.try_get(7)?,
                    cache_write_tokens: r.try_get(8)?,
                    cache_write_1h_tokens: r.try_get(9)?,
                    service_tier: r.try_get(10)?,
                    cost_nanos: r.try_get(11)?,
                    cost_source: r.try_get(12)?,
                    is_error: is_error == 1,
                    error_type: r.try_get(14)?,
                });
            }
            out
        }))
    }

    /// Records a new run; answers its id.
    pub async fn create_reprice_run(
        &self,
        from_ms: i64,
        model_id: Option<i64>,
        up_to_id: i64,
        created_by: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO reprice_runs (started_at_ms, from_ms, model_id, up_to_id, \
                   after_id, events_seen, events_changed, cost_before_nanos, cost_after_nanos, \
                   created_by) VALUES ($1, $2, $3, $4, 0, 0, 0, 0, 0, $5) RETURNING id";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(now_ms).bind(from_ms).bind(model_id).bind(up_to_id).bind(created_by)
            .fetch_one(pool).await?))
    }

    /// The run `id`.
    pub async fn reprice_run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.id = $1");
        Ok(
            dispatch!(self, pool => match sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(run_from_row(&r)?),
                None => None,
            }),
        )
    }

    /// The newest runs first.
    pub async fn reprice_runs(&self, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM {RUN_FROM} ORDER BY r.id DESC LIMIT $1");
        Ok(dispatch!(self, pool => {
            let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
            rows.iter().map(run_from_row).collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Marks run `id` finished at `now_ms`.
    pub async fn finish_reprice_run(&self, id: i64, now_ms: i64) -> Result<(), StoreError> {
        let sql = "UPDATE reprice_runs SET finished_at_ms = $1 WHERE id = $2";
        dispatch!(self, pool => {
            sqlx::query(sql).bind(now_ms).bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// Writes one batch of run `run_id` in one transaction: the events' new costs, every roll-up
    /// level's differences and the run's progress. Applies nothing and answers `false` when the
    /// run is no longer at `expected_after_id` (another process took the batch), so a batch is
    /// never applied twice.
    pub async fn apply_reprice_batch(
        &self,
        run_id: i64,
        expected_after_id: i64,
        b: BatchOutcome,
    ) -> Result<bool, StoreError> {
        let progress = "UPDATE reprice_runs SET after_id = $1, events_seen = events_seen + $2, \
             events_changed = events_changed + $3, \
             cost_before_nanos = cost_before_nanos + $4, cost_after_nanos = cost_after_nanos + $5 \
             WHERE id = $6 AND after_id = $7 AND finished_at_ms IS NULL";
        let levels = expand(&b.deltas);
        match &self.backend {
            Backend::Sqlite(_) => {
                // On the connection ingest writes through, with prepared statements bound in
                // place (through sqlx every statement crossed threads: 16k events/s).
                let mut writer = self.write_lock.clone().lock_owned().await;
                let claimed = tokio::task::spawn_blocking(move || -> Result<bool, StoreError> {
                    let Some(conn) = writer.as_mut() else {
                        return Err(StoreError::Url(super::NO_SQLITE_FILE.into()));
                    };
                    let tx =
                        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let claimed = tx.execute(
                        &progress.replace('$', "?"),
                        rusqlite::params![
                            b.after_id,
                            b.seen,
                            b.changes.len() as i64,
                            b.cost_before_nanos,
                            b.cost_after_nanos,
                            run_id,
                            expected_after_id
                        ],
                    )?;
                    if claimed != 1 {
                        return Ok(false);
                    }
                    {
                        let mut update = tx.prepare_cached(
                            "UPDATE events SET cost_nanos = ?1, cost_source = ?2 WHERE id = ?3",
                        )?;
                        for &(id, cost, source) in &b.changes {
                            update.execute([cost, source, id])?;
                        }
                    }
                    sqlite::upsert_levels(&tx, &levels)?;
                    tx.commit()?;
                    Ok(true)
                })
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
                if !claimed {
                    return Ok(false);
                }
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let claimed = sqlx::query(progress)
                    .bind(b.after_id)
                    .bind(b.seen)
                    .bind(b.changes.len() as i64)
                    .bind(b.cost_before_nanos)
                    .bind(b.cost_after_nanos)
                    .bind(run_id)
                    .bind(expected_after_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if claimed != 1 {
                    return Ok(false);
                }
                let ids: Vec<i64> = b.changes.iter().map(|c| c.0).collect();
                let costs: Vec<i64> = b.changes.iter().map(|c| c.1).collect();
                let sources: Vec<i64> = b.changes.iter().map(|c| c.2).collect();
                sqlx::query(
                    "UPDATE events SET cost_nanos = u.cost, cost_source = u.source \
                     FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) AS u(id, cost, source) \
                     WHERE events.id = u.id",
                )
                .bind(ids)
                .bind(costs)
                .bind(sources)
                .execute(&mut *tx)
                .await?;
                for (level, rows) in &levels {
                    postgres::upsert_rollups(&mut tx, *level, rows).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(true)
    }
}
