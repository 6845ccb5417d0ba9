//! Budgets over HTTP on both backends: thresholds alert exactly once per period, at their
//! exact boundary, for late events in their own period, in the budget's time zone, and once
//! when two replicas cross the same threshold together.

use crate::common;

use common::{client_with, spawn_app, spawn_replica, Db, TestApp};
use serde_json::{json, Value};
use shared::Role;

fn event(id: &str, ts: &str, cost_usd: f64) -> Value {
    json!({"id": id, "timestamp": ts, "model": "m", "input_tokens": 1, "output_tokens": 1,
           "cost_usd": cost_usd})
}

async fn send(app: &TestApp, key: &str, events: Value) {
    let res = app.post_events(key, &events).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

/// (period start, threshold) of every recorded alert, oldest first.
async fn alerts(app: &TestApp) -> Vec<(i64, i64)> {
    let mut a: Vec<(i64, i64)> = app
        .store
        .budget_alerts(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.period_start, a.threshold))
        .collect();
    a.sort_unstable();
    a
}

fn unix(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

async fn each_threshold_alerts_once_exactly_when_spend_reaches_it(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    server::admin::create_budget(
        &app.store,
        "test",
        Some("P"),
        "10",
        "month",
        "UTC",
        None,
        "",
    )
    .await
    .unwrap();
    let jan = unix("2025-01-01T00:00:00Z");
    let ts = "2025-01-15T12:00:00Z";
    send(&app, &key, json!([event("a", ts, 4.99)])).await;
    assert_eq!(alerts(&app).await, vec![]);
    send(&app, &key, json!([event("b", ts, 0.01)])).await; // $5.00: exactly 50 %
    assert_eq!(alerts(&app).await, vec![(jan, 50)]);
    send(&app, &key, json!([event("c", ts, 2.99)])).await; // $7.99
    assert_eq!(alerts(&app).await, vec![(jan, 50)]);
    send(&app, &key, json!([event("d", ts, 0.01)])).await; // $8.00: exactly 80 %
    assert_eq!(alerts(&app).await, vec![(jan, 50), (jan, 80)]);
    // Retries and more spend above a threshold never alert again.
    send(
        &app,
        &key,
        json!([event("a", ts, 4.99), event("d", ts, 0.01)]),
    )
    .await;
    send(&app, &key, json!([event("e", ts, 1.0)])).await; // $9.00
    assert_eq!(alerts(&app).await, vec![(jan, 50), (jan, 80)]);
    send(&app, &key, json!([event("f", ts, 5.0)])).await; // $14.00
    assert_eq!(alerts(&app).await, vec![(jan, 50), (jan, 80), (jan, 100)]);
    // A new period starts clean.
    let feb = unix("2025-02-01T00:00:00Z");
    send(&app, &key, json!([event("g", "2025-02-01T00:00:00Z", 6.0)])).await;
    assert_eq!(
        alerts(&app).await,
        vec![(jan, 50), (jan, 80), (jan, 100), (feb, 50)]
    );
}

async fn late_events_alert_in_their_own_period_of_the_budgets_time_zone(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    server::admin::create_budget(
        &app.store,
        "test",
        None,
        "1",
        "month",
        "America/New_York",
        Some(&[100]),
        "",
    )
    .await
    .unwrap();
    // March 1st, 03:00 UTC is still February 28th in New York: February's budget is spent.
    send(
        &app,
        &key,
        json!([event("late", "2025-03-01T03:00:00Z", 1.0)]),
    )
    .await;
    let feb_ny = unix("2025-02-01T05:00:00Z");
    assert_eq!(alerts(&app).await, vec![(feb_ny, 100)]);
    // Two hours later it is March in New York: a new, unspent period.
    send(
        &app,
        &key,
        json!([event("march", "2025-03-01T05:00:00Z", 0.99)]),
    )
    .await;
    assert_eq!(alerts(&app).await, vec![(feb_ny, 100)]);
    // A late event for February, arriving after March began, changes nothing more.
    send(
        &app,
        &key,
        json!([event("later", "2025-02-10T00:00:00Z", 0.5)]),
    )
    .await;
    assert_eq!(alerts(&app).await, vec![(feb_ny, 100)]);
    // ...while one more cent in March crosses March's threshold.
    send(
        &app,
        &key,
        json!([event("cent", "2025-03-20T00:00:00Z", 0.01)]),
    )
    .await;
    let mar_ny = unix("2025-03-01T05:00:00Z");
    assert_eq!(alerts(&app).await, vec![(feb_ny, 100), (mar_ny, 100)]);
}

async fn two_replicas_crossing_one_threshold_together_record_one_alert(db: Db) {
    let a = spawn_app(db).await;
    let b = spawn_replica(&a).await;
    let key = a.project_with_key("P").await;
    server::admin::create_budget(&a.store, "test", None, "1", "day", "UTC", Some(&[100]), "")
        .await
        .unwrap();
    let days = 12;
    for day in 1..=days {
        let ts = format!("2025-01-{day:02}T12:00:00Z");
        // Each replica alone stays under the budget; together they cross it.
        let one = json!([event(&format!("a{day}"), &ts, 0.6)]);
        let two = json!([event(&format!("b{day}"), &ts, 0.6)]);
        let (ra, rb) = tokio::join!(a.post_events(&key, &one), b.post_events(&key, &two));
        assert_eq!(ra.status(), 200);
        assert_eq!(rb.status(), 200);
    }
    let got = alerts(&a).await;
    assert_eq!(got.len(), days, "one alert per day: {got:?}");
    let mut starts: Vec<i64> = got.iter().map(|(s, _)| *s).collect();
    starts.dedup();
    assert_eq!(starts.len(), days);
}

async fn the_budgets_panel_shows_spend_and_projection_to_those_who_may_see_them(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    app.project_with_key("Q").await;
    for (project, usd) in [(Some("P"), "100"), (Some("Q"), "50"), (None, "1000")] {
        server::admin::create_budget(&app.store, "test", project, usd, "month", "UTC", None, "")
            .await
            .unwrap();
    }
    let now = chrono::Utc::now();
    send(&app, &key, json!([event("x", &now.to_rfc3339(), 25.0)])).await;
    let (status, all) = app.get_json("/api/v1/budgets").await;
    assert_eq!(status, 200, "{all}");
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3);
    let p = all.iter().find(|b| b["project"] == "P").unwrap();
    assert_eq!(p["spendNanos"], 25_000_000_000i64);
    assert_eq!(p["percent"], 25.0);
    assert!(p["projectedNanos"].as_i64().unwrap() >= 25_000_000_000);
    let org = all.iter().find(|b| b["project"].is_null()).unwrap();
    assert_eq!(org["spendNanos"], 25_000_000_000i64);

    let viewer = app
        .user_client("v@example.com", Role::Viewer, Some(&["Q"]))
        .await;
    let res = viewer
        .get(format!("{}/api/v1/budgets", app.base))
        .send()
        .await
        .unwrap();
    let seen: Value = res.json().await.unwrap();
    let names: Vec<&Value> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["project"])
        .collect();
    assert_eq!(
        names,
        vec![&json!("Q")],
        "only Q's budget, not P's or the organisation's"
    );
    let anon = client_with(&[]);
    let res = anon
        .get(format!("{}/api/v1/budgets", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn a_budget_scoped_to_a_dimension_value_counts_only_its_events(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    server::admin::declare_dimension(&app.store, "test", "team")
        .await
        .unwrap();
    let team = |id: &str, ts: &str, usd: f64, team: Value| {
        let mut e = event(id, ts, usd);
        e["metadata"] = json!({"team": team});
        e
    };
    let budget = server::admin::create_budget(
        &app.store,
        "test",
        Some("P"),
        "10",
        "month",
        "UTC",
        Some(&[50, 100]),
        "team=search",
    )
    .await
    .unwrap();
    let check = |ms: i64| server::alerting::budgets::check_scoped(&app.store, ms);
    let jan = unix("2025-01-01T00:00:00Z");
    let ts = "2025-01-15T12:00:00Z";
    // Other teams' and unlabelled spend, far above the budget, never counts.
    send(
        &app,
        &key,
        json!([
            team("s1", ts, 4.99, json!("search")),
            team("a1", ts, 50.0, json!("ads")),
            event("n1", ts, 30.0)
        ]),
    )
    .await;
    let mid_jan = unix("2025-01-20T00:00:00Z") * 1000;
    assert_eq!(check(mid_jan).await.unwrap(), 0);
    assert_eq!(alerts(&app).await, vec![], "not after the batch either");
    send(&app, &key, json!([team("s2", ts, 0.01, json!("search"))])).await;
    assert_eq!(
        alerts(&app).await,
        vec![],
        "checked by the job, not after the batch"
    );
    assert_eq!(check(mid_jan).await.unwrap(), 1);
    assert_eq!(alerts(&app).await, vec![(jan, 50)]);
    // Every replica checks: still one alert.
    let replica = server::Store::connect(Some(&app.url)).await.unwrap();
    assert_eq!(
        server::alerting::budgets::check_scoped(&replica, mid_jan)
            .await
            .unwrap(),
        0
    );
    let (status, all) = app.get_json("/api/v1/budgets").await;
    assert_eq!(status, 200, "{all}");
    let b = &all.as_array().unwrap()[0];
    assert_eq!(b["id"], budget);
    assert_eq!(
        b["scope"],
        json!({"dim": {"meta": "team"}, "value": "search"})
    );

    // A late search event of January, seen 30 minutes into February, crosses January's 100 %.
    send(
        &app,
        &key,
        json!([team("s3", "2025-01-31T23:59:59Z", 5.0, json!("search"))]),
    )
    .await;
    let feb = unix("2025-02-01T00:30:00Z") * 1000;
    assert_eq!(check(feb).await.unwrap(), 1);
    assert_eq!(alerts(&app).await, vec![(jan, 50), (jan, 100)]);
    let status = server::alerting::budgets::statuses(
        &app.store,
        app.store.list_budgets().await.unwrap(),
        unix("2025-01-31T23:59:59Z") * 1000,
    )
    .await
    .unwrap();
    assert_eq!(status[0].spend_nanos, 10_000_000_000);

    // Scopes a budget cannot keep are refused with the reason, and nothing is stored.
    for (scope, why) in [
        ("search", "expected DIMENSION=VALUE"),
        ("meta.nope=x", "not a declared dimension"),
        ("team=(invalid)", "cannot be a scope"),
    ] {
        let err =
            server::admin::create_budget(&app.store, "test", None, "1", "day", "UTC", None, scope)
                .await
                .unwrap_err()
                .to_string();
        assert!(err.contains(why), "{scope}: {err}");
    }
    assert_eq!(app.store.list_budgets().await.unwrap().len(), 1);
}

on_both_backends!(
    a_budget_scoped_to_a_dimension_value_counts_only_its_events,
    each_threshold_alerts_once_exactly_when_spend_reaches_it,
    late_events_alert_in_their_own_period_of_the_budgets_time_zone,
    two_replicas_crossing_one_threshold_together_record_one_alert,
    the_budgets_panel_shows_spend_and_projection_to_those_who_may_see_them,
);
