//! PostgreSQL connection set-up; several stateless replicas may share the database.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::ingest::EVENT_COLUMNS;
use super::rollups::ROLLUP_SUMS;
use super::rollups::{upsert_sql, ROLLUP_COLUMN_COUNT};
use super::{Batch, StoreError};
use crate::rollup::{expand, Level, RollupDelta, RollupKey, ANY, HIST_BINS};

/// Connections in each replica's pool.
pub(crate) const MAX_CONNECTIONS: u32 = 16;

/// Events a replica stores before it first checks the roll-ups' planner statistics; each
/// later check waits until the count has doubled.
const FIRST_STATISTICS_CHECK: u64 = 10_000;

/// Counts the events this replica stored, to analyse the roll-ups while a young database
/// takes its first bulk loads. Autovacuum does it too, but it visits each database once a
/// minute and vacuums the events table first: a dashboard opened right after importing 1M
/// events was planned without statistics and took 10.7-16.3 ms instead of ~6.4 (the models'
/// read walked the whole "any project" history instead of seeking each model).
#[derive(Default)]
pub struct StatisticsKeeper {
    stored: AtomicU64,
}

impl StatisticsKeeper {
    /// Counts `n` more stored events; true when the count reaches the next check (10,000
    /// events, then 20,000, 40,000, …).
    pub fn count(&self, n: u64) -> bool {
        let before = self.stored.fetch_add(n, Ordering::Relaxed);
        // Which doubling of the first check a count has reached (`None`: not the first).
        let doubling = |count: u64| {
            (count >= FIRST_STATISTICS_CHECK)
                .then(|| 63 - (count / FIRST_STATISTICS_CHECK).leading_zeros())
        };
        doubling(before.saturating_add(n)) > doubling(before)
    }
}

/// Analyses each roll-up table (partition) whose file has more than doubled since its
/// statistics were taken (`relpages`, which ANALYZE and VACUUM set), and answers which.
/// Measured in pages, not in the statistics views' counts of changed rows, which other
/// connections report up to a second late.
pub async fn analyze_grown_rollups(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    let sql = "SELECT c.relname::TEXT FROM pg_class c \
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' \
        AND c.relname LIKE 'rollup\\_%' \
        AND pg_relation_size(c.oid) / current_setting('block_size')::BIGINT \
            > GREATEST(2 * c.relpages, 8) \
        ORDER BY 1";
    let tables: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await?;
    for table in &tables {
        // SKIP_LOCKED: another replica analysing the same table is enough.
        let analyze = format!("ANALYZE (SKIP_LOCKED) \"{table}\"");
        sqlx::raw_sql(&analyze).execute(pool).await?;
    }
    Ok(tables)
}

/// Connects to PostgreSQL at `url` and migrates it (migrations take an advisory lock, so
/// replicas starting together do not race).
pub async fn open(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Url(e.to_string()))?
        // A dashboard statement sums ~90 columns over up to five pieces: PostgreSQL took ~5 ms
        // to plan one and ~2.5 ms to run it. Statements stay prepared per connection; generic
        // plans are made once, and ours (index seeks on keys and ranges) do not depend on the
        // values bound.
        //
        // No parallel workers: at 10M events the planner chose a Gather over the pieces of a
        // dashboard statement, and starting the workers took ~18 ms of a 20 ms statement whose
        // rows (a few hundred) took under 2 ms to read (six panels: ~100 ms median).
        .options([
            ("plan_cache_mode", "force_generic_plan"),
            ("max_parallel_workers_per_gather", "0"),
        ]);
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    super::migrate::postgres(&pool).await?;
    Ok(pool)
}

/// Stores a batch in one transaction, as [`super::sqlite::write_batch`] does: raw events (an id
/// already stored for the project at the same timestamp changes nothing), every roll-up level, the project's models,
/// and a notification for the other replicas' live streams. Answers how many events were new.
///
/// Each table gets one statement whose parameters are one array per column, unnested into
/// rows, so its text never changes and stays prepared. Multi-row `VALUES` lists (64 roll-up
/// rows × 95 values per statement) made PostgreSQL set up every value of every row anew on
/// each execution.
pub async fn write_batch(pool: &PgPool, b: &Batch) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let inserted = insert_events(&mut tx, b).await?;
    // Events without an id are always new; with one, new when the insert returned its id and
    // timestamp.
    let new: Vec<bool> = (b.events.iter())
        .map(|e| (e.id.as_ref()).is_none_or(|id| inserted.contains(&(id.clone(), e.timestamp_ms))))
        .collect();
    let accepted = new.iter().filter(|n| **n).count() as u64;
    let rollup = b.rollup(Some(&new));
    // The batch's own project's rows first, then the "any project" rows that every batch
    // adds to; each part level by level, finest first, each level in key order: one lock
    // order for all writers. Row locks are held until the commit, so with the shared rows
    // taken last, concurrent batches overlap everything before them (with the shared rows
    // first, 1M events: 21.6k / 26.0k events/s; last: 23.1k / 28.0k, alternated).
    let mut shared = Vec::new();
    for (level, rows) in expand(&rollup.rows) {
        let (any, own): (BTreeMap<_, _>, BTreeMap<_, _>) =
            rows.into_iter().partition(|(k, _)| k.project_id == ANY);
        upsert_rollups(&mut tx, level, &own).await?;
        shared.push((level, any));
    }
    let models: BTreeSet<i64> = rollup.rows.keys().map(|k| k.model_id).collect();
    if !models.is_empty() {
        sqlx::query(
            "INSERT INTO project_models (project_id, model_id) \
             SELECT $1, m FROM UNNEST($2::BIGINT[]) AS m ON CONFLICT DO NOTHING",
        )
        .bind(b.project_id)
        .bind(models.into_iter().collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    for (level, rows) in &shared {
        upsert_rollups(&mut tx, *level, rows).await?;
    }
    if accepted > 0 {
        // Delivered to every replica's listener when (and only if) this commits; the payload
        // names the project so that live streams can be scoped.
        sqlx::query("SELECT pg_notify('usage_events', $1)")
            .bind(b.project_id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(accepted)
}

/// Inserts the batch's events; answers the (client id, timestamp) of those that were new.
async fn insert_events(
    tx: &mut sqlx::PgConnection,
    b: &Batch,
) -> Result<HashSet<(String, i64)>, StoreError> {
    let n = b.events.len();
    let mut ids = Vec::with_capacity(n);
    let mut ints: [Vec<i64>; 10] = std::array::from_fn(|_| Vec::with_capacity(n));
    let mut latency = Vec::with_capacity(n);
    let mut ttft = Vec::with_capacity(n);
    let mut is_error = Vec::with_capacity(n);
    let mut texts: [Vec<Option<&str>>; 6] = std::array::from_fn(|_| Vec::with_capacity(n));
    let mut key_ids = Vec::with_capacity(n);
    for row in b.rows() {
        ids.push(row.client_id);
        for (column, v) in ints.iter_mut().zip(row.ints) {
            column.push(v);
        }
        latency.push(row.latency_ms);
        ttft.push(row.ttft_ms);
        is_error.push(row.is_error);
        for (column, v) in texts.iter_mut().zip(row.texts) {
            column.push(v);
        }
        key_ids.push(row.key_id);
    }
    let [ts, received, model, input, output, cached, cache_write, cost, source, cache_write_1h] =
        ints;
    let [error_type, error_message, user, metadata, provider, tier] = texts;
    let inserted: Vec<(Option<String>, i64)> = sqlx::query_as(&format!(
        "INSERT INTO events ({EVENT_COLUMNS}) \
         SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], \
           $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], \
           $12::BIGINT[], $13::BIGINT[], $14::BIGINT[], $15::BIGINT[], $16::TEXT[], \
           $17::TEXT[], $18::TEXT[], $19::TEXT[], $20::TEXT[], $21::TEXT[], $22::BIGINT[]) AS u \
         ON CONFLICT (project_id, ts, client_id) DO NOTHING RETURNING client_id, ts"
    ))
    .bind(b.project_id)
    .bind(ids)
    .bind(ts)
    .bind(received)
    .bind(model)
    .bind(input)
    .bind(output)
    .bind(cached)
    .bind(cache_write)
    .bind(cost)
    .bind(source)
    .bind(cache_write_1h)
    .bind(latency)
    .bind(ttft)
    .bind(is_error)
    .bind(error_type)
    .bind(error_message)
    .bind(user)
    .bind(metadata)
    .bind(provider)
    .bind(tier)
    .bind(key_ids)
    .fetch_all(&mut *tx)
    .await?;
    Ok((inserted.into_iter())
        .filter_map(|(id, ts)| Some((id?, ts)))
        .collect())
}

/// Adds one level's deltas to its rows.
pub(super) async fn upsert_rollups(
    tx: &mut sqlx::PgConnection,
    level: Level,
    rows: &BTreeMap<RollupKey, RollupDelta>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut buckets = Vec::with_capacity(rows.len());
    let mut projects = Vec::with_capacity(rows.len());
    let mut models = Vec::with_capacity(rows.len());
    let mut error_types = Vec::with_capacity(rows.len());
    let mut sums: Vec<Vec<i64>> = (0..ROLLUP_SUMS.len())
        .map(|_| Vec::with_capacity(rows.len()))
        .collect();
    // Empty bins are stored as NULL: PostgreSQL keeps a NULL in a bit, an 8-byte 0 in 8
    // bytes, and most of a row's 80 bins are empty (1M events: 338 MB of roll-ups as zeros,
    // 96 MB as NULLs).
    let mut bins: Vec<Vec<Option<i64>>> = (0..HIST_BINS)
        .map(|_| Vec::with_capacity(rows.len()))
        .collect();
    for (k, d) in rows {
        buckets.push(k.bucket);
        projects.push(k.project_id);
        models.push(k.model_id);
        error_types.push(k.error_type.as_str());
        for (column, v) in sums.iter_mut().zip(d.sums()) {
            column.push(v);
        }
        for (column, &v) in bins.iter_mut().zip(d.hist.iter()) {
            column.push((v != 0).then_some(v));
        }
    }
    let mut q = sqlx::query(upsert_unnest_sql(level))
        .bind(buckets)
        .bind(projects)
        .bind(models)
        .bind(error_types);
    for column in sums {
        q = q.bind(column);
    }
    for column in bins {
        q = q.bind(column);
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// The upsert of [`upsert_rollups`] for each level, built once: one array per column.
fn upsert_unnest_sql(level: Level) -> &'static str {
    static SQL: OnceLock<[String; 3]> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        Level::ALL.map(|level| {
            let arrays: Vec<String> = (5..=ROLLUP_COLUMN_COUNT)
                .map(|i| format!("${i}::BIGINT[]"))
                .collect();
            let source = format!(
                "SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], {})",
                arrays.join(", ")
            );
            upsert_sql(level, &source, true)
        })
    });
    &all[Level::ALL.iter().position(|&l| l == level).unwrap_or(0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_checked_at_10k_events_and_each_doubling() {
        let keeper = StatisticsKeeper::default();
        let checks: Vec<bool> = [9_999, 1, 9_999, 1, 30_000, 10_000, 20_000, 1_000_000]
            .into_iter()
            .map(|n| keeper.count(n))
            .collect();
        // Totals: 9,999; 10,000; 19,999; 20,000; 50,000 (past 40,000); 60,000; 80,000; 1,080,000.
        assert_eq!(checks, [false, true, false, true, true, false, true, true]);
    }
}
