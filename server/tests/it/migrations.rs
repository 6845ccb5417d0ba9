//! Migration 0004 builds the hour and day levels and the "any" rows from the quarter-hour
//! rows an older database holds (and PostgreSQL's 0008 moves them into partitions); 0010 turns
//! the rows of successes into the rows of every status (and PostgreSQL's 0011 lets empty
//! histogram bins be NULL); `derived_rollups_mismatch` (what `verify` runs) notices a level
//! that is not their exact sum. 0012 (and PostgreSQL's 0013) move the duplicate key from
//! (project, id) to (project, timestamp, id) and keep every stored event as it was. 0017
//! fills the new counts of fallback- and client-priced requests from the raw events.

use crate::common;

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
                provider: None,
                input_tokens: rng.gen_range(1..5_000),
                output_tokens: rng.gen_range(0..2_000),
                cached_input_tokens: 0,
                cache_write_tokens: 0,
                cache_write_1h_tokens: 0,
                service_tier: None,
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
/// only), '' rows of failures only gone, and no `errors` column (nor 0017's counts of
/// fallback-priced and client-priced requests).
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
             ALTER TABLE {t} DROP COLUMN errors; \
             ALTER TABLE {t} DROP COLUMN fallback_requests; \
             ALTER TABLE {t} DROP COLUMN client_cost_requests;",
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
        server::ingest::submit(&store, p.id, &events(seed, 700))
            .await
            .unwrap();
        // Priced by the catalogue's fallback (a snapshot it does not list), not by the client.
        let mut fallback = events(seed + 10, 60);
        for e in &mut fallback {
            e.model = "gpt-4o-2099-01-01".into();
            e.cost_nanos = None;
        }
        server::ingest::submit(&store, p.id, &fallback)
            .await
            .unwrap();
    }
    assert_eq!(store.derived_rollups_mismatch().await.unwrap(), None);
    let totals = store.all_rollups().await.unwrap();
    let sum = |f: fn(&server::rollup::RollupDelta) -> i64| -> i64 {
        (totals.iter())
            .filter(|(k, _)| k.error_type.is_empty())
            .map(|(_, d)| f(d))
            .sum()
    };
    assert_eq!(sum(|d| d.fallback_requests), 120);
    assert_eq!(sum(|d| d.client_cost_requests), 1_400);
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
        Db::Sqlite => include_str!("../../../migrations/sqlite/0004_rollup_levels.sql"),
        Db::Postgres => include_str!("../../../migrations/postgres/0004_rollup_levels.sql"),
    };
    exec(db, &url, migration).await;
    if matches!(db, Db::Postgres) {
        // 0004 made plain tables; 0008 splits them into partitions again, copying every row.
        let partitions = include_str!("../../../migrations/postgres/0008_rollup_partitions.sql");
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
        Db::Sqlite => include_str!("../../../migrations/sqlite/0010_rollups_of_every_status.sql"),
        Db::Postgres => {
            include_str!("../../../migrations/postgres/0010_rollups_of_every_status.sql")
        }
    };
    exec(db, &url, every_status).await;
    if matches!(db, Db::Postgres) {
        let sparse = include_str!("../../../migrations/postgres/0011_sparse_histograms.sql");
        exec(db, &url, sparse).await;
    }
    let priced_by = match db {
        Db::Sqlite => {
            include_str!("../../../migrations/sqlite/0017_fallback_and_client_cost_requests.sql")
        }
        Db::Postgres => {
            include_str!("../../../migrations/postgres/0017_fallback_and_client_cost_requests.sql")
        }
    };
    exec(db, &url, priced_by).await;
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

/// What the migrations after 0015 added, taken back (the same on both backends; 0016's and
/// 0020's event columns go with the events table's rebuild on SQLite, by hand on
/// PostgreSQL).
const UNDO_AFTER_0015: &str = "
    ALTER TABLE rollup_15m DROP COLUMN fallback_requests;
    ALTER TABLE rollup_15m DROP COLUMN client_cost_requests;
    ALTER TABLE rollup_1h DROP COLUMN fallback_requests;
    ALTER TABLE rollup_1h DROP COLUMN client_cost_requests;
    ALTER TABLE rollup_1d DROP COLUMN fallback_requests;
    ALTER TABLE rollup_1d DROP COLUMN client_cost_requests;
    DROP TABLE reprice_runs;
    DROP TABLE price_rules;
    DROP TABLE price_discounts;
    DROP TABLE price_catalogues;
    DROP TABLE dimensions;
    DROP TABLE settings;
    ALTER TABLE budgets DROP COLUMN scope_dim;
    ALTER TABLE budgets DROP COLUMN scope_value;
    ALTER TABLE alert_rules DROP COLUMN scope_dim;
    ALTER TABLE alert_rules DROP COLUMN scope_value;";

/// The events table taken back to its shape before 0012: the duplicate key (project, id) as
/// 0001 made it, and no `provider` columns (0014, 0015), nor what came after them:
/// every migration from 0012 on runs again.
fn undo_duplicate_key(db: Db) -> String {
    format!("{}{UNDO_AFTER_0015}", undo_to_0012(db))
}

/// The events table and the models' provider as before 0012.
fn undo_to_0012(db: Db) -> &'static str {
    match db {
        Db::Sqlite => {
            "CREATE TABLE events_old (
               id INTEGER PRIMARY KEY,
               project_id INTEGER NOT NULL REFERENCES projects(id),
               client_id TEXT, ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
               model_id INTEGER NOT NULL REFERENCES models(id),
               input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
               cached_input_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,
               cost_nanos INTEGER NOT NULL, cost_source INTEGER NOT NULL, latency_ms INTEGER,
               ttft_ms INTEGER, is_error INTEGER NOT NULL, error_type TEXT,
               error_message TEXT, end_user TEXT, metadata TEXT,
               UNIQUE (project_id, client_id));
             INSERT INTO events_old SELECT id, project_id, client_id, ts, received_at, model_id,
               input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
               cost_nanos, cost_source, latency_ms, ttft_ms, is_error, error_type,
               error_message, end_user, metadata FROM events;
             DROP TABLE events;
             ALTER TABLE events_old RENAME TO events;
             CREATE INDEX events_ts ON events (ts);
             CREATE INDEX events_errors_ts ON events (ts) WHERE is_error = 1;
             CREATE INDEX events_errors_project_ts ON events (project_id, ts) WHERE is_error = 1;
             ALTER TABLE models DROP COLUMN provider;
             DELETE FROM _sqlx_migrations WHERE version >= 12;"
        }
        Db::Postgres => {
            "DROP INDEX events_project_ts_client;
             ALTER TABLE events DROP COLUMN provider;
             ALTER TABLE events DROP COLUMN cache_write_1h_tokens;
             ALTER TABLE events DROP COLUMN service_tier;
             ALTER TABLE events DROP COLUMN key_id;
             ALTER TABLE models DROP COLUMN provider;
             ALTER TABLE events ADD CONSTRAINT events_project_id_client_id_key
               UNIQUE (project_id, client_id);
             DELETE FROM _sqlx_migrations WHERE version >= 12;"
        }
    }
}

/// Every stored event's columns, in row id order.
type EventRow = (
    i64,
    i64,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
);
async fn stored_events(db: Db, url: &str) -> Vec<EventRow> {
    let sql = "SELECT id, project_id, client_id, ts, model_id, input_tokens, cost_nanos, \
               is_error, error_type FROM events ORDER BY id";
    match db {
        Db::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
        }
        Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
        }
    }
}

/// Names of the events table's unique indexes.
async fn unique_indexes(db: Db, url: &str) -> Vec<String> {
    let mut names: Vec<String> = match db {
        Db::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            let rows: Vec<(i64, String, i64)> =
                sqlx::query_as("SELECT seq, name, \"unique\" FROM pragma_index_list('events')")
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            let mut names = Vec::new();
            for (_, name, _) in rows.into_iter().filter(|r| r.2 == 1) {
                let cols: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                        .bind(&name)
                        .fetch_all(&mut c)
                        .await
                        .unwrap();
                names.push(cols.join(","));
            }
            names
        }
        Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(
                "SELECT string_agg(a.attname, ',' ORDER BY k.n) \
                 FROM pg_index i \
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 WHERE i.indrelid = 'events'::regclass AND i.indisunique AND NOT i.indisprimary \
                   AND i.indisvalid \
                 GROUP BY i.indexrelid",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
    };
    names.sort();
    names
}

async fn the_duplicate_key_migration_keeps_every_event_and_changes_the_rule(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_url(db, &dir).await;
    let store = Store::connect(Some(&url)).await.unwrap();
    let mut anonymous = events(9, 40);
    for e in &mut anonymous {
        e.id = None;
    }
    for (name, seed) in [("A", 1), ("B", 2)] {
        let p = store.create_project(name).await.unwrap();
        server::ingest::submit(&store, p.id, &events(seed, 600))
            .await
            .unwrap();
        server::ingest::submit(&store, p.id, &anonymous)
            .await
            .unwrap();
    }
    let events_before = stored_events(db, &url).await;
    let rollups_before = store.all_rollups().await.unwrap();
    assert_eq!(events_before.len(), 2 * 640);
    drop(store);

    // An older database: the key is (project, id), and 0012 has not run.
    exec(db, &url, &undo_duplicate_key(db)).await;
    assert_eq!(unique_indexes(db, &url).await, ["project_id,client_id"]);

    let store = Store::connect(Some(&url)).await.unwrap();
    assert_eq!(unique_indexes(db, &url).await, ["project_id,ts,client_id"]);
    assert_eq!(
        stored_events(db, &url).await,
        events_before,
        "every event kept as it was"
    );
    assert_eq!(store.all_rollups().await.unwrap(), rollups_before);
    assert_eq!(
        store.rollups_from_raw_events().await.unwrap(),
        rollups_before
    );
    assert_eq!(store.derived_rollups_mismatch().await.unwrap(), None);

    // The new rule: a stored (id, timestamp) is a duplicate, the id at another time is new.
    let a = store.project_by_name("A").await.unwrap().id;
    let mut retry = events(1, 1);
    let r = server::ingest::submit(&store, a, &retry).await.unwrap();
    assert_eq!((r.accepted, r.duplicates), (0, 1));
    retry[0].timestamp_ms += 1;
    let r = server::ingest::submit(&store, a, &retry).await.unwrap();
    assert_eq!((r.accepted, r.duplicates), (1, 0));
    assert_eq!(store.derived_rollups_mismatch().await.unwrap(), None);
}

on_both_backends!(the_duplicate_key_migration_keeps_every_event_and_changes_the_rule);

/// A server listens before its database is open (a long migration): meanwhile `/healthz`
/// says the process is alive and everything else answers 503 "migrating" with Retry-After;
/// once the store is open, the application answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_opens_readyz_says_migrating_and_then_ready() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_url(Db::Sqlite, &dir).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (open, opened) = tokio::sync::oneshot::channel::<()>();
    let opening = async move {
        let _ = opened.await;
        let store = Store::connect(Some(&url))
            .await
            .map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>(server::AppState::new(
            store,
            server::Config::default(),
            server::leptos_options(),
        ))
    };
    tokio::spawn(server::serve_while_opening(listener, opening));
    let client = reqwest::Client::new();

    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["retry-after"], "10");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "migrating");
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ingest = (client.post(format!("{base}/api/v1/events")).body("[]"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ingest.status(),
        503,
        "nothing reaches the database meanwhile"
    );

    open.send(()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let res = client.get(format!("{base}/readyz")).send().await.unwrap();
        if res.status() == 200 {
            assert_eq!(res.text().await.unwrap(), "ready");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ingest = (client.post(format!("{base}/api/v1/events")).body("[]"))
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status(), 401, "the application answers now");
}
