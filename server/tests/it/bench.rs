//! `usage-analytics bench` end to end at a small size, on SQLite and PostgreSQL: it stores
//! every event it sends, keeps the roll-ups consistent, and reports every measurement the
//! README's Performance table shows. Timings are printed, never asserted.

use crate::common;

use common::{fresh_url, Db};
use server::cli::bench::{run, BenchOptions};
use server::Store;

const EVENTS: usize = 3_000;

/// The result cell of the table row whose measurement starts with `label`.
fn cell<'a>(table: &'a str, label: &str) -> &'a str {
    table
        .lines()
        .find_map(|l| l.strip_prefix(&format!("| {label}")))
        .and_then(|rest| rest.split(" | ").nth(1))
        .unwrap_or_else(|| panic!("no row {label:?} in\n{table}"))
}

async fn a_small_bench_stores_every_event_and_reports_each_measurement(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_url(db, &dir).await;
    let options = |panels_only| BenchOptions {
        events: EVENTS,
        runs: 3,
        panels_only,
        ingest_only: false,
        no_baseline: false,
        dimensions: true,
    };
    let table = run(&url, options(false)).await.unwrap();

    assert!(cell(&table, "ingest over HTTP, 3000 events").contains("events/s"));
    let tenths = cell(&table, "ingest by tenth of the run");
    assert_eq!(tenths.split(", ").count(), 10, "{tenths}");
    let disk = cell(&table, "database on disk");
    let per_event: f64 = (disk.split(", ").nth(1).unwrap().split(' ').next().unwrap())
        .parse()
        .unwrap();
    // Each event's raw row alone is more than 50 bytes; the whole database less than 1 MB
    // per event.
    assert!(per_event > 50.0 && per_event < 1e6, "{disk}");
    assert!(cell(&table, "process memory (RssAnon) after ingest").contains(" MB"));
    assert!(cell(&table, "process memory (RssAnon), peak while timing").contains(" MB"));
    let panel_rows = table
        .lines()
        .filter(|l| l.starts_with("| six panels, "))
        .count();
    assert_eq!(panel_rows, 8, "four ranges in two time zones:\n{table}");
    for l in table.lines().filter(|l| l.starts_with("| six panels, ")) {
        assert!(l.contains("median") && l.contains("raw events"), "{l}");
    }
    // Dimensions: a breakdown by user and by a declared key, and six panels filtered by
    // three values, in two zones.
    let breakdowns: Vec<&str> = (table.lines())
        .filter(|l| l.starts_with("| breakdown by "))
        .collect();
    assert_eq!(breakdowns.len(), 4, "{table}");
    assert!(breakdowns
        .iter()
        .all(|l| l.contains("median") && l.contains(" values)")));
    let filtered = (table.lines())
        .filter(|l| l.starts_with("| six panels filtered by "))
        .count();
    assert_eq!(filtered, 6, "{table}");
    let export = cell(&table, "raw CSV export over HTTP");
    let exported: usize = export.split(' ').next().unwrap().parse().unwrap();
    // The last 90 UTC dates hold all but the events of the first, partial, day.
    assert!(exported > EVENTS * 9 / 10 && exported <= EVENTS, "{export}");
    assert!(cell(&table, "import of an NDJSON file, 1000 events").starts_with("1000 stored"));
    assert!(cell(&table, "OTLP/HTTP protobuf ingest, 1000 model-call spans").contains("spans/s"));

    let store = Store::connect(Some(&url)).await.unwrap();
    let stored: i64 = match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query_scalar("SELECT COUNT(*) FROM events")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query_scalar("SELECT COUNT(*) FROM events")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // The bench's events, the imported file and the OTLP spans.
    assert_eq!(stored, (EVENTS + 2 * 1_000) as i64);
    assert_eq!(store.derived_rollups_mismatch().await.unwrap(), None);

    // A second full run refuses the filled database; --panels-only re-times it.
    assert!(run(&url, options(false)).await.is_err());
    let again = run(&url, options(true)).await.unwrap();
    assert_eq!(
        again
            .lines()
            .filter(|l| l.starts_with("| six panels, "))
            .count(),
        8
    );
}

on_both_backends!(a_small_bench_stores_every_event_and_reports_each_measurement);
