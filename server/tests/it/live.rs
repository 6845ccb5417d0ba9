//! Live updates over Server-Sent Events, on SQLite and across PostgreSQL replicas.

use crate::common;

use std::time::Duration;

use common::{next_change, spawn_app, spawn_replica, Db, TestApp};
use serde_json::json;

/// Opens the live stream of `app`.
async fn live(app: &TestApp) -> reqwest::Response {
    let res = app
        .client
        .get(format!("{}/api/v1/live", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    res
}

async fn send(app: &TestApp, key: &str, n: usize) {
    let now = chrono::Utc::now().to_rfc3339();
    let events: Vec<_> = (0..n)
        .map(|_| json!({"timestamp": now, "model": "m", "input_tokens": 1, "output_tokens": 1}))
        .collect();
    assert_eq!(app.post_events(key, &json!(events)).await.status(), 200);
}

async fn a_viewer_hears_of_new_events_within_two_seconds_and_at_most_once_a_second(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    let mut stream = live(&app).await;
    // Nothing happens without events.
    assert!(!next_change(&mut stream, Duration::from_millis(1_200)).await);
    send(&app, &key, 3).await;
    assert!(next_change(&mut stream, Duration::from_secs(2)).await);
    // A burst of batches gives one message, not one per batch.
    for _ in 0..5 {
        send(&app, &key, 1).await;
    }
    assert!(next_change(&mut stream, Duration::from_secs(3)).await);
    assert!(
        !next_change(&mut stream, Duration::from_millis(1_500)).await,
        "one message covers the burst"
    );
}

async fn an_event_ingested_through_one_replica_reaches_viewers_of_another(db: Db) {
    let a = spawn_app(db).await;
    let b = spawn_replica(&a).await;
    let key = a.project_with_key("P").await;
    let mut on_b = live(&b).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // let B's listener start
    send(&a, &key, 2).await;
    assert!(
        next_change(&mut on_b, Duration::from_secs(2)).await,
        "B heard of A's events"
    );
    let summary: serde_json::Value = b
        .client
        .get(format!("{}/api/v1/usage/summary?period=24h", b.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["totalRequests"], 2);
}

/// Reads a stream until it ends (true) or `within` passes (false).
async fn ends_within(res: &mut reqwest::Response, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => return true,
            Err(_) => return false,
        }
    }
}

/// An open stream ends soon after its session ends, its user is disabled or its token is
/// revoked, rather than delivering changes for ever.
async fn live_streams_end_with_their_session_or_token(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    let recheck = server::web::live::RECHECK;
    let open = |client: reqwest::Client| {
        let url = format!("{}/api/v1/live", app.base);
        async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res
        }
    };
    // Log-out.
    let viewer = app
        .user_client("v@example.com", shared::Role::Viewer, None)
        .await;
    let mut stream = open(viewer.clone()).await;
    send(&app, &key, 1).await;
    assert!(next_change(&mut stream, Duration::from_secs(3)).await);
    let res = viewer
        .post(format!("{}/logout", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    send(&app, &key, 1).await;
    assert!(
        ends_within(&mut stream, recheck * 2).await,
        "ended after log-out"
    );

    // A disabled user.
    let other = app
        .user_client("w@example.com", shared::Role::Viewer, None)
        .await;
    let mut stream = open(other).await;
    server::admin::disable_user(&app.store, "test", "w@example.com")
        .await
        .unwrap();
    assert!(
        ends_within(&mut stream, recheck * 2).await,
        "ended when disabled"
    );

    // A revoked read token.
    let (info, token) = app
        .store
        .create_token("script", None, "test")
        .await
        .unwrap();
    let script = common::client_with(&[("authorization", &format!("Bearer {token}"))]);
    let mut stream = open(script).await;
    server::admin::revoke_token(&app.store, "test", &info.prefix)
        .await
        .unwrap();
    assert!(
        ends_within(&mut stream, recheck * 2).await,
        "ended when revoked"
    );

    // A stream whose credentials stand goes on.
    let mut stream = live(&app).await;
    assert!(!ends_within(&mut stream, recheck + Duration::from_secs(1)).await);
}

on_both_backends!(
    live_streams_end_with_their_session_or_token,
    a_viewer_hears_of_new_events_within_two_seconds_and_at_most_once_a_second,
    an_event_ingested_through_one_replica_reaches_viewers_of_another,
);

/// The live feed's poll reads only the rows above the last id it saw, through the primary
/// key, however many events are stored: with a plain `GROUP BY project_id` SQLite walked the
/// whole (project_id, ts, client_id) index on every poll instead.
#[tokio::test]
async fn the_live_feeds_poll_reads_only_new_rows_on_sqlite() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_url(Db::Sqlite, &dir).await;
    let store = server::Store::connect(Some(&url)).await.unwrap();
    let p = store.create_project("P").await.unwrap();
    let events: Vec<shared::UsageEvent> = (0..200)
        .map(|i| common::event_at(format!("e{i}"), 1_740_700_800_000 + i * 1_000))
        .collect();
    server::ingest::submit(&store, p.id, &events).await.unwrap();
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("ANALYZE").execute(&mut c).await.unwrap();
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!(
        "EXPLAIN QUERY PLAN {}",
        server::store::CHANGED_AFTER_SQL
    ))
    .bind(150i64)
    .fetch_all(&mut c)
    .await
    .unwrap();
    let steps: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert!(
        steps.iter().any(|s| s.contains("INTEGER PRIMARY KEY")),
        "{steps:?}"
    );
    assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
    let (projects, newest) = store.projects_changed_after(150).await.unwrap();
    assert_eq!((projects, newest), (vec![p.id], 200));
}
