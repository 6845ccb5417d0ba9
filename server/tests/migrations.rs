//! Migration 0004 builds the hour and day levels and the "any" rows from the quarter-hour
//! rows an older database holds (and PostgreSQL's 0008 moves them into partitions); 0010 turns
//! the rows of successes into the rows of every status (and PostgreSQL's 0011 lets empty
//! histogram bins be NULL); `derived_rollups_mismatch` (what `verify` runs) notices a level
//! that is not their exact sum.

mod common;

use common::{fresh_url, Db};
use rand::{Rng, SeedableRng};
use server::Store;
use shared::{EventStatus, UsageEvent};
use sqlx::Connection;

fn events(seed: u64, n: usize) -> Vec<UsageEvent> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let start = 1_740_700_800_000i64; // 2025-02-28
    (0..n)
        .map(|i| {
            let failed = rng.gen_bool(0.1);
            UsageEvent {
                id: Some(format!("e{i}")),
                timestamp_ms: start + rng.gen_range(0..4 * 86_400_000i64),
                model: ["m1", "m2", "m3"][rng.gen_range(0..3)].into(),
                input_tokens: rng.gen_range(1..5_000),
                output_tokens: rng.gen_range(0..2_000),
                cached_input_tokens: 0,
                cache_write_tokens: 0,
                cost_nanos: Some(rng.gen_range(0..50_000_000)),
                latency_ms: rng.gen_bool(0.9).then(|| rng.gen_range(20..60_000)),
                ttft_ms: None,
                status: if failed {
                    EventStatus::Error
                } else {
                    EventStatus::Success
                },
                error_type: failed.then(|| "timeout".into()),
                error_message: None,
                user: None,
                metadata: None,
            }
        })
        .collect()
}

/// Runs SQL text on its own connection (not through the store).
async fn exec(db: Db, url: &str, sql: &str) {
    match db {
        Db::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
        Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
    }
}

/// SQL taking every level back to its shape before 0010: empty histogram bins 0 again (not
/// NULL, as PostgreSQL's 0011 stores them), each '' row less its error rows (successes
/// only), '' rows of failures only gone, and no `errors` column.
fn undo_rows_of_every_status() -> String {
    // The sums as they were before 0010 (no `errors`), spelled out: the store's list follows
    // the current schema.
    let sums: Vec<String> = [
        "requests",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "cost_nanos",
        "unpriced_requests",
        "latency_count",
        "latency_sum_ms",
        "ttft_count",
        "ttft_sum_ms",
    ]
    .into_iter()
    .map(String::from)
    .chain((0..80).map(|i| format!("h{i:02}")))
    .collect();
    let mut sql = String::new();
    for t in ["rollup_15m", "rollup_1h", "rollup_1d"] {
        let zeros: Vec<String> = (0..80)
            .map(|i| format!("h{i:02} = COALESCE(h{i:02}, 0)"))
            .collect();
        sql.push_str(&format!("UPDATE {t} SET {};", zeros.join(", ")));
        let less: Vec<String> = sums
            .iter()
            .map(|c| format!("{t}.{c} - COALESCE(SUM(e.{c}), 0)"))
            .collect();
        sql.push_str(&format!(
            "UPDATE {t} SET ({}) = (SELECT {} FROM {t} AS e \
               WHERE e.project_id = {t}.project_id AND e.model_id = {t}.model_id \
               AND e.bucket = {t}.bucket AND e.error_type <> '') \
             WHERE error_type = ''; \
             DELETE FROM {t} WHERE error_type = '' AND requests = 0; \
             ALTER TABLE {t} DROP COLUMN errors;",
            sums.join(", "),
            less.join(", ")
        ));
    }
    sql
}

async fn the_rollup_migrations_rebuild_old_rows_exactly(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_url(db, &dir).await;
    let store = Store::connect(Some(&url)).await.unwrap();
    for (name, seed) in [("A", 1), ("B", 2)] {
        let p = store.create_project(name).await.unwrap();
        store.ingest(p.id, &events(seed, 700)).await.unwrap();
    }
    assert_eq!(store.derived_rollups_mismatch().await.unwrap(), None);
    if matches!(db, Db::Postgres) {
        // Ingest stores empty bins as NULL, never as 0 (latencies here are 20 ms to 60 s:
        // bins 17 to 63, so the first and last bins are always empty).
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
        let zeros = count("SELECT COUNT(*) FROM rollup_15m WHERE h00 = 0 OR h79 = 0");
        assert_eq!(zeros.fetch_one(&mut c).await.unwrap(), 0);
        let nulls = count("SELECT COUNT(*) FROM rollup_1d WHERE h00 IS NULL AND h79 IS NULL");
        assert!(nulls.fetch_one(&mut c).await.unwrap() > 0);
    }

    // Back to the shape before 0010: the '' rows hold successes only, and no `errors`.
    exec(db, &url, &undo_rows_of_every_status()).await;
    // Back to the shape before 0004: quarter-hours of each project x model only.
    exec(
        db,
        &url,
        "DELETE FROM rollup_15m WHERE project_id = 0 OR model_id = 0; \
         DROP TABLE rollup_1h; DROP TABLE rollup_1d;",
    )
    .await;
    assert!(
        !matches!(store.derived_rollups_mismatch().await, Ok(None)),
        "the \"any\" rows and levels are gone"
    );
    let migration = match db {
        Db::Sqlite => include_str!("../../migrations/sqlite/0004_rollup_levels.sql"),
        Db::Postgres => include_str!("../../migrations/postgres/0004_rollup_levels.sql"),
    };
    exec(db, &url, migration).await;
    if matches!(db, Db::Postgres) {
        // 0004 made plain tables; 0008 splits them into partitions again, copying every row.
        let partitions = include_str!("../../migrations/postgres/0008_rollup_partitions.sql");
        exec(db, &url, partitions).await;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        for level in ["rollup_15m", "rollup_1h", "rollup_1d"] {
            for kind in ["any_any", "any_by_model", "project_any", "project_by_model"] {
                let sql = format!("SELECT COUNT(*) FROM {level}_{kind}");
                let rows: i64 = sqlx::query_scalar(&sql).fetch_one(&mut c).await.unwrap();
                assert!(rows > 0, "{level}_{kind} is empty");
            }
        }
    }
    let every_status = match db {
        Db::Sqlite => include_str!("../../migrations/sqlite/0010_rollups_of_every_status.sql"),
        Db::Postgres => include_str!("../../migrations/postgres/0010_rollups_of_every_status.sql"),
    };
    exec(db, &url, every_status).await;
    if matches!(db, Db::Postgres) {
        let sparse = include_str!("../../migrations/postgres/0011_sparse_histograms.sql");
        exec(db, &url, sparse).await;
    }
    let store = Store::connect(Some(&url)).await.unwrap();
    assert_eq!(store.derived_rollups_mismatch().await.unwrap(), None);
    assert_eq!(
        store.all_rollups().await.unwrap(),
        store.rollups_from_raw_events().await.unwrap()
    );

    // One request too many in one day row is noticed and named.
    exec(
        db,
        &url,
        "UPDATE rollup_1d SET requests = requests + 1 \
         WHERE project_id = 0 AND model_id = 0 AND error_type = 'timeout'",
    )
    .await;
    let what = store.derived_rollups_mismatch().await.unwrap();
    assert!(
        what.as_deref().is_some_and(|w| w.starts_with("rollup_1d")),
        "{what:?}"
    );
}

on_both_backends!(the_rollup_migrations_rebuild_old_rows_exactly);
