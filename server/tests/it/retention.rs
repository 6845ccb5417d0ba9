//! Retention deletes old raw events in batches, keeps the roll-ups (so every panel answers the
//! same for old periods), and the error log and raw export say from when raw events are kept.

use crate::common;

use common::{spawn_app, Db, TestApp};
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// 30 events a day apart ending `ago_days` days ago, every third one failed.
fn events(prefix: &str, now: i64, ago_days: i64) -> Value {
    let list: Vec<Value> = (0..30)
        .map(|i| {
            let mut e = json!({"id": format!("{prefix}{i}"),
                "timestamp": chrono::DateTime::from_timestamp_millis(now - (ago_days + i) * DAY_MS)
                    .unwrap().to_rfc3339(),
                "model": if i % 2 == 0 { "m-a" } else { "m-b" },
                "input_tokens": 100 + i, "output_tokens": 10, "cost_usd": 0.01 * (i + 1) as f64,
                "latency_ms": 200 + i});
            if i % 3 == 0 {
                e["status"] = json!("error");
                e["error_type"] = json!("timeout");
            }
            e
        })
        .collect();
    json!(list)
}

async fn panels(app: &TestApp, range: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for panel in ["summary", "daily", "models", "projects", "hourly"] {
        let (status, body) = app
            .get_json(&format!("/api/v1/usage/{panel}?{range}"))
            .await;
        assert_eq!(status, 200, "{panel}: {body}");
        out.push(body);
    }
    out
}

async fn export_rows(app: &TestApp, range: &str) -> (usize, Option<String>) {
    let res = app
        .client
        .get(format!(
            "{}/api/v1/events/export?{range}&format=csv",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let from = res
        .headers()
        .get("x-raw-events-from")
        .map(|v| v.to_str().unwrap().to_string());
    let body = res.text().await.unwrap();
    (body.lines().count() - 1, from)
}

async fn old_raw_events_go_and_every_panel_stays(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("Kept").await;
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(
        app.post_events(&key, &events("old-", now, 480))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_events(&key, &events("new-", now, 1))
            .await
            .status(),
        200
    );
    let old = format!(
        "startDate={}&endDate={}&tz=UTC",
        date(now - 520 * DAY_MS),
        date(now - 470 * DAY_MS)
    );
    let recent = "period=90d&tz=UTC";
    let old_before = panels(&app, &old).await;
    let recent_before = panels(&app, recent).await;
    assert_eq!(old_before[0]["totalRequests"], 30, "{}", old_before[0]);
    let (_, old_errors_before) = app.get_json(&format!("/api/v1/usage/errors?{old}")).await;
    assert_eq!(
        old_errors_before["log"]["items"].as_array().unwrap().len(),
        10
    );
    assert_eq!(export_rows(&app, &old).await, (30, None));

    // 0 days keeps everything.
    assert_eq!(server::jobs::retention::cutoff(now, 0), None);

    // 400 days, in batches of 7: the 30 old events go, the 30 recent ones stay.
    let cutoff = server::jobs::retention::cutoff(now, 400).unwrap();
    let deleted = server::jobs::retention::sweep(&app.store, cutoff, 7)
        .await
        .unwrap();
    assert_eq!(deleted, 30);
    assert_eq!(
        server::jobs::retention::sweep(&app.store, cutoff, 7)
            .await
            .unwrap(),
        0,
        "a second sweep finds nothing"
    );

    assert_eq!(
        panels(&app, &old).await,
        old_before,
        "old periods answer the same"
    );
    assert_eq!(panels(&app, recent).await, recent_before);
    let said = chrono::DateTime::from_timestamp_millis(cutoff)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(export_rows(&app, &old).await, (0, Some(said)));
    assert_eq!(export_rows(&app, recent).await, (30, None));

    // Error types come from roll-ups (kept); the log from raw events (gone, and it says so).
    let (_, old_errors) = app.get_json(&format!("/api/v1/usage/errors?{old}")).await;
    assert_eq!(old_errors["types"], old_errors_before["types"]);
    let log = &old_errors["log"];
    assert_eq!(log["items"].as_array().unwrap().len(), 0, "{log}");
    assert_eq!(log["rawEventsFromMs"], cutoff, "{log}");
    let (_, recent_errors) = app
        .get_json(&format!("/api/v1/usage/errors?{recent}"))
        .await;
    let log = &recent_errors["log"];
    assert_eq!(log["items"].as_array().unwrap().len(), 10, "{log}");
    assert!(log.get("rawEventsFromMs").is_none(), "{log}");
}

on_both_backends!(old_raw_events_go_and_every_panel_stays);
