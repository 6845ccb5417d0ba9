//! The month-end forecast on both backends, from events sent over HTTP: ten weeks of spend
//! with a known trend and weekday pattern, in New York days (a UTC day split would shift
//! evening spend into the next day and blur the pattern).

use crate::common;

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::America::New_York;
use common::{spawn_app, Db, TestApp};
use serde_json::{json, Value};
use shared::UsageQuery;

/// Weekday factors, Monday first.
const WEEK: [i64; 7] = [120, 125, 115, 110, 100, 60, 70];

/// Cost in cents of project `p`'s local day `t` (days since the first): A grows by 25 cents a
/// day from $10, B stays at $3, both times the weekday factor.
fn day_cents(p: &str, first: NaiveDate, t: i64) -> i64 {
    let w = WEEK[(first + Duration::days(t)).weekday().num_days_from_monday() as usize];
    match p {
        "A" => (1_000 + 25 * t) * w / 100 / 4 * 4,
        "B" => 300 * w / 100 / 4 * 4,
        // C began a week before "today", at a flat $10 a day.
        _ => (t >= 63) as i64 * 1_000,
    }
}

/// Local hours of the day's four requests: 03, 09, 15 and 21 (01:00 UTC the next day).
const HOURS: [u32; 4] = [3, 9, 15, 21];

fn ms(d: NaiveDate, hour: u32) -> i64 {
    New_York
        .from_local_datetime(&d.and_hms_opt(hour, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp_millis()
}

async fn send_days(app: &TestApp, p: &str, first: NaiveDate, upto_ms: i64) {
    let key = app.project_with_key(p).await;
    let mut events = Vec::new();
    for t in 0..80 {
        let d = first + Duration::days(t);
        for (i, h) in HOURS.iter().enumerate() {
            let at = ms(d, *h);
            let cents = day_cents(p, first, t) / 4;
            if at < upto_ms && cents > 0 {
                events.push(json!({"id": format!("{p}-{t}-{i}"),
                    "timestamp": server::alerting::webhooks::iso(at), "model": "m",
                    "input_tokens": 1, "output_tokens": 1,
                    "cost_usd": format!("{}.{:02}", cents / 100, cents % 100).parse::<f64>().unwrap()}));
            }
        }
    }
    let res = app.post_events(&key, &json!(events)).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

fn close(a: i64, b: i64, within: f64) -> bool {
    ((a - b) as f64).abs() <= within * b as f64
}

async fn the_forecast_lands_on_a_known_trend_in_the_viewers_zone(db: Db) {
    let app = spawn_app(db).await;
    // Now: 2026-03-18 18:00 in New York; three of the day's four requests are in.
    let today = NaiveDate::from_ymd_opt(2026, 3, 18).unwrap();
    let now = ms(today, 18);
    let first = today - Duration::days(70);
    send_days(&app, "A", first, now).await;
    send_days(&app, "B", first, now).await;

    let march = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let nanos = |cents: i64| cents * 10_000_000;
    let (mut spent, mut truth) = (0, 0);
    let mut truth_of = std::collections::HashMap::new();
    for p in ["A", "B"] {
        let mut total = 0;
        for t in (march - first).num_days()..(march - first).num_days() + 31 {
            let day = day_cents(p, first, t);
            total += day;
            let d = first + Duration::days(t);
            let done = HOURS.iter().filter(|h| ms(d, **h) < now).count() as i64;
            spent += day / 4 * done;
        }
        truth += total;
        truth_of.insert(p, nanos(total));
    }
    let (spent, truth) = (nanos(spent), nanos(truth));

    let q = UsageQuery {
        tz: "America/New_York".into(),
        ..UsageQuery::default()
    };
    let f = server::query::forecast::forecast(&app.store, &q, now)
        .await
        .unwrap();
    assert_eq!(
        (f.month.as_str(), f.tz.as_str()),
        ("2026-03", "America/New_York")
    );
    let o = &f.overall;
    assert_eq!(o.spent_nanos, spent, "spent so far, in New York days");
    assert_eq!(o.history_days, 56);
    assert!(
        close(o.expected_nanos, truth, 0.005),
        "{} vs {truth}",
        o.expected_nanos
    );
    assert!(o.spent_nanos <= o.low_nanos && o.low_nanos <= o.expected_nanos);
    assert!(o.expected_nanos <= o.high_nanos);
    let names: Vec<_> = f
        .projects
        .iter()
        .map(|p| p.project.clone().unwrap())
        .collect();
    assert_eq!(names, ["A", "B"]);
    for p in &f.projects {
        let want = truth_of[p.project.as_deref().unwrap()];
        assert!(close(p.expected_nanos, want, 0.005), "{p:?} vs {want}");
    }
    // The project filter narrows the overall forecast to that project.
    let only_b = UsageQuery {
        projects: vec!["B".into()],
        ..q.clone()
    };
    let b = server::query::forecast::forecast(&app.store, &only_b, now)
        .await
        .unwrap();
    assert_eq!(b.overall.expected_nanos, f.projects[1].expected_nanos);
    assert_eq!(b.projects.len(), 1);

    // A project that began a week ago is forecast from its own days, not from weeks of
    // zeros before it existed: $10 a day, March from the 11th, is $210.
    send_days(&app, "C", first, now).await;
    let only_c = UsageQuery {
        projects: vec!["C".into()],
        ..q.clone()
    };
    let c = server::query::forecast::forecast(&app.store, &only_c, now)
        .await
        .unwrap();
    assert_eq!(c.overall.history_days, 7);
    assert_eq!(c.overall.spent_nanos, nanos(7 * 1_000 + 750));
    assert!(
        close(c.overall.expected_nanos, nanos(21 * 1_000), 0.001),
        "{:?}",
        c.overall
    );

    // The read API answers it, and names a bad zone.
    let (status, body) = app
        .get_json("/api/v1/usage/forecast?tz=America/New_York")
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["overall"]["expectedNanos"].is_i64());
    let (status, body): (u16, Value) = app.get_json("/api/v1/usage/forecast?tz=Mars/Base").await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("tz"), "{body}");
}

on_both_backends!(the_forecast_lands_on_a_known_trend_in_the_viewers_zone);
