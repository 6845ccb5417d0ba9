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

/// 20 events a day apart ending `ago_days` days ago, from end users `u-a` and `u-b` in turn.
fn user_events(prefix: &str, now: i64, ago_days: i64) -> Value {
    let list: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": format!("{prefix}{i}"),
                "timestamp": chrono::DateTime::from_timestamp_millis(now - (ago_days + i) * DAY_MS)
                    .unwrap().to_rfc3339(),
                "model": "m-a", "user": if i % 2 == 0 { "u-a" } else { "u-b" },
                "input_tokens": 100 + i, "output_tokens": 10, "cost_usd": 0.01 * (i + 1) as f64,
                "latency_ms": 200 + 10 * i})
        })
        .collect();
    json!(list)
}

/// The value's row of a breakdown answer, if listed.
fn row<'a>(b: &'a Value, value: &str) -> Option<&'a Value> {
    b["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("not a breakdown: {b}"))
        .iter()
        .find(|r| r["value"] == value)
}

/// Requests and cost of the listed rows plus "(other)".
fn listed_plus_other(b: &Value) -> (i64, i64) {
    let mut sum = (
        b["other"]["requests"].as_i64().unwrap(),
        b["other"]["costNanos"].as_i64().unwrap(),
    );
    for r in b["rows"].as_array().unwrap() {
        sum.0 += r["requests"].as_i64().unwrap();
        sum.1 += r["costNanos"].as_i64().unwrap();
    }
    sum
}

async fn a_breakdown_counts_what_deleted_raw_events_held_as_not_recorded(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("Users").await;
    let now = chrono::Utc::now().timestamp_millis();
    for (prefix, ago) in [("old-", 150), ("new-", 1)] {
        let res = app.post_events(&key, &user_events(prefix, now, ago)).await;
        assert_eq!(res.status(), 200);
    }
    let old = format!(
        "startDate={}&endDate={}",
        date(now - 200 * DAY_MS),
        date(now - 140 * DAY_MS)
    );
    let all = format!(
        "startDate={}&endDate={}",
        date(now - 200 * DAY_MS),
        date(now)
    );
    let (_, old_before) = app
        .get_json(&format!("/api/v1/usage/breakdown?by=user&{old}&tz=UTC"))
        .await;
    let (_, all_before) = app
        .get_json(&format!("/api/v1/usage/breakdown?by=user&{all}&tz=UTC"))
        .await;
    assert_eq!(old_before["total"]["requests"], 20, "{old_before}");
    assert_eq!(
        row(&all_before, "u-a").unwrap()["requests"],
        20,
        "{all_before}"
    );
    assert!(row(&all_before, "(not recorded)").is_none());
    assert!(all_before.get("rawEventsFromMs").is_none(), "{all_before}");

    let cutoff = server::jobs::retention::cutoff(now, 100).unwrap();
    let deleted = server::jobs::retention::sweep(&app.store, cutoff, 7)
        .await
        .unwrap();
    assert_eq!(deleted, 20);

    for tz in ["UTC", "Asia/Kolkata", "America/New_York"] {
        let (status, b) = app
            .get_json(&format!("/api/v1/usage/breakdown?by=user&{all}&tz={tz}"))
            .await;
        assert_eq!(status, 200, "{b}");
        assert_eq!(b["rawEventsFromMs"], cutoff, "{tz}: {b}");
        // What the deleted events held, from the roll-ups: exactly the old range's numbers.
        let gone = row(&b, "(not recorded)").unwrap_or_else(|| panic!("{tz}: {b}"));
        for field in [
            "requests",
            "costNanos",
            "inputTokens",
            "outputTokens",
            "errors",
        ] {
            assert_eq!(gone[field], old_before["total"][field], "{tz} {field}: {b}");
        }
        assert_eq!(
            gone["p95LatencyMs"], old_before["total"]["p95LatencyMs"],
            "{tz}"
        );
        // The kept events by end user; everything adds up to the unfiltered summary.
        assert_eq!(row(&b, "u-a").unwrap()["requests"], 10, "{tz}: {b}");
        assert_eq!(row(&b, "u-b").unwrap()["requests"], 10, "{tz}: {b}");
        let (_, summary) = app
            .get_json(&format!("/api/v1/usage/summary?{all}&tz={tz}"))
            .await;
        assert_eq!(summary["totalRequests"], 40);
        let (requests, cost) = listed_plus_other(&b);
        assert_eq!(requests, 40, "{tz}");
        assert_eq!(cost, b["total"]["costNanos"].as_i64().unwrap(), "{tz}");
        assert_eq!(b["total"]["requests"], 40, "{tz}");
        // Per day: "(not recorded)" on the old days only, one request each.
        let daily = b["daily"].as_array().unwrap();
        let gone_days: Vec<&Value> = daily
            .iter()
            .filter(|d| d["value"] == "(not recorded)" && d["requests"] != 0)
            .collect();
        assert_eq!(gone_days.len(), 20, "{tz}");
        let cutoff_date = date(cutoff);
        assert!(gone_days
            .iter()
            .all(|d| d["date"].as_str().unwrap() < cutoff_date.as_str()));
        let day_total: i64 = daily.iter().map(|d| d["requests"].as_i64().unwrap()).sum();
        assert_eq!(day_total, 40, "{tz}: every day's entries add up");
    }

    // Under a dimension filter the answer reads raw events only: no "(not recorded)", and it
    // says from when raw events are kept.
    let (_, filtered) = app
        .get_json(&format!(
            "/api/v1/usage/breakdown?by=user&{all}&tz=UTC&user=u-a"
        ))
        .await;
    assert_eq!(filtered["rawEventsFromMs"], cutoff, "{filtered}");
    assert!(row(&filtered, "(not recorded)").is_none(), "{filtered}");
    assert_eq!(filtered["total"]["requests"], 10, "{filtered}");
    // A range of kept events only says nothing of retention.
    let (_, recent) = app
        .get_json("/api/v1/usage/breakdown?by=user&period=90d&tz=UTC")
        .await;
    assert!(recent.get("rawEventsFromMs").is_none(), "{recent}");
    assert!(row(&recent, "(not recorded)").is_none(), "{recent}");
    assert_eq!(recent["total"]["requests"], 20, "{recent}");
}

on_both_backends!(a_breakdown_counts_what_deleted_raw_events_held_as_not_recorded);
