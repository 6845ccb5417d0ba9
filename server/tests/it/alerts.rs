//! Metric alerts and webhooks on both backends: a rule fires and resolves once each (also
//! with two evaluators at once), measures exactly at its boundary, and its changes reach a
//! real HTTP receiver signed with HMAC-SHA256, retried with backoff until the first success.

use crate::common;

use std::sync::{Arc, Mutex};

use app::api::AlertRuleForm;
use axum::http::{HeaderMap, StatusCode};
use common::{spawn_app, Db, TestApp};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use server::admin::{create_alert_rule, create_webhook};
use server::alerting::webhooks::{send_due, Backoff};
use server::Store;
use sha2::Sha256;

/// 2026-01-10T12:00:00Z.
const T: i64 = 1_768_046_400_000;
const MIN: i64 = 60_000;

fn iso(ms: i64) -> String {
    server::alerting::webhooks::iso(ms)
}

/// `n` events of project `key` at `at_ms`, the first `errors` of them failed, latencies 1..=n.
async fn send(app: &TestApp, key: &str, tag: &str, at_ms: i64, n: usize, errors: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = json!({"id": format!("{tag}-{i}"), "timestamp": iso(at_ms),
                "model": "m", "input_tokens": 1, "output_tokens": 1, "latency_ms": i + 1});
            if i < errors {
                e["status"] = json!("error");
                e["error_type"] = json!("server_error");
            }
            e
        })
        .collect();
    let res = app.post_events(key, &json!(events)).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

fn rule(metric: &str, op: &str, threshold: &str, project: &str) -> AlertRuleForm {
    AlertRuleForm {
        name: "Rule".into(),
        metric: metric.into(),
        project: project.into(),
        model: String::new(),
        op: op.into(),
        threshold: threshold.into(),
        window_minutes: "10".into(),
        min_requests: "20".into(),
        scope: String::new(),
    }
}

/// (state, value) of every history entry, oldest first.
async fn history(store: &Store) -> Vec<(String, i64)> {
    let ids: Vec<i64> = store
        .alert_rules()
        .await
        .unwrap()
        .iter()
        .map(|r| r.info.id)
        .collect();
    let mut h = store.alert_history(&ids, 100).await.unwrap();
    h.reverse();
    h.into_iter().map(|c| (c.state, c.value)).collect()
}

/// The kinds of every queued or sent delivery, oldest first.
async fn delivery_kinds(store: &Store) -> Vec<String> {
    let mut d = store.deliveries(100).await.unwrap();
    d.reverse();
    d.into_iter().map(|d| d.kind).collect()
}

async fn an_error_rate_alert_fires_and_resolves_once_each(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    let other = app.project_with_key("Q").await;
    create_webhook(&app.store, "test", "http://127.0.0.1:9/never")
        .await
        .unwrap();
    let form = rule("error_rate", "above", "5", "P");
    let id = create_alert_rule(&app.store, "test", &form).await.unwrap();
    let evaluate = |at| server::alerting::rules::evaluate(&app.store, at);

    // 5 failures in 100 requests is exactly 5 %: not above it.
    send(&app, &key, "a", T - 5 * MIN, 100, 5).await;
    // Another project's failures do not count.
    send(&app, &other, "q", T - 5 * MIN, 50, 50).await;
    assert_eq!(evaluate(T).await.unwrap(), vec![]);
    // One more failure: 6 of 101 (5.94 %). Two evaluators at once (two replicas) record it once.
    send(&app, &key, "b", T - 4 * MIN, 1, 1).await;
    let replica = Store::connect(Some(&app.url)).await.unwrap();
    let (a, b) = tokio::join!(
        server::alerting::rules::evaluate(&app.store, T),
        server::alerting::rules::evaluate(&replica, T)
    );
    let mut changes = a.unwrap();
    changes.extend(b.unwrap());
    assert_eq!(changes, vec![(id, "firing".to_string())]);
    // Still above a minute later: no second notification.
    assert_eq!(evaluate(T + MIN).await.unwrap(), vec![]);
    // The window has slid past the failures and nothing came since: too little traffic to
    // judge, so the rule keeps firing.
    assert_eq!(evaluate(T + 12 * MIN).await.unwrap(), vec![]);
    // Healthy traffic again: resolved, once.
    send(&app, &key, "c", T + 11 * MIN, 100, 0).await;
    assert_eq!(
        evaluate(T + 12 * MIN).await.unwrap(),
        vec![(id, "resolved".to_string())]
    );
    assert_eq!(evaluate(T + 13 * MIN).await.unwrap(), vec![]);

    assert_eq!(
        history(&app.store).await,
        vec![("firing".to_string(), 595), ("resolved".to_string(), 0)]
    );
    assert_eq!(
        delivery_kinds(&app.store).await,
        vec!["alert.firing", "alert.resolved"]
    );
    let rules = app.store.alert_rules().await.unwrap();
    assert_eq!(rules[0].info.state, "ok");
    assert_eq!(rules[0].info.state_since_ms, T + 12 * MIN);

    // The read API shows the rule and the history, newest first.
    let (status, view) = app.get_json("/api/v1/alerts").await;
    assert_eq!(status, 200);
    assert_eq!(view["rules"][0]["state"], "ok");
    assert_eq!(view["history"][0]["kind"], "resolved");
    assert_eq!(view["history"][1]["kind"], "firing");
    let firing = view["history"][1]["message"].as_str().unwrap();
    // 5.9406 % is shown rounded up (a rate just above 5 % never reads "5 %").
    assert!(firing.contains("error rate 5.95 %"), "{firing}");
}

async fn p95_latency_and_request_volume_are_measured_exactly(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    // Latencies 1..=200 ms: the 95th percentile (nearest rank) is the 190th, 190 ms.
    send(&app, &key, "a", T - MIN, 200, 0).await;
    let p95 = create_alert_rule(&app.store, "t", &rule("p95_latency", "above", "189", ""))
        .await
        .unwrap();
    let quiet = create_alert_rule(&app.store, "t", &rule("requests", "below", "10", "P"))
        .await
        .unwrap();
    let rules = app.store.alert_rules().await.unwrap();
    let measured = server::alerting::rules::measure(&app.store, &rules[0], T)
        .await
        .unwrap();
    assert_eq!(measured, Some((190, true)));
    assert_eq!(
        server::alerting::rules::measure(&app.store, &rules[1], T)
            .await
            .unwrap(),
        Some((200, false))
    );
    assert_eq!(
        server::alerting::rules::evaluate(&app.store, T)
            .await
            .unwrap(),
        vec![(p95, "firing".to_string())]
    );
    // Many requests but fewer than min_requests (20) with a latency: p95 is not judged.
    let later = T + 20 * MIN;
    let events: Vec<Value> = (0..100)
        .map(|i| {
            let mut e = json!({"id": format!("n-{i}"), "timestamp": iso(later - MIN),
                "model": "m", "input_tokens": 1, "output_tokens": 1});
            if i < 19 {
                e["latency_ms"] = json!(5);
            }
            e
        })
        .collect();
    assert_eq!(app.post_events(&key, &json!(events)).await.status(), 200);
    let rules = app.store.alert_rules().await.unwrap();
    assert_eq!(
        server::alerting::rules::measure(&app.store, &rules[0], later)
            .await
            .unwrap(),
        None
    );
    // Ten minutes later the traffic has stopped: volume below 10 fires (a count needs no
    // minimum); p95 has too few requests to judge and keeps firing.
    assert_eq!(
        server::alerting::rules::evaluate(&app.store, T + 10 * MIN)
            .await
            .unwrap(),
        vec![(quiet, "firing".to_string())]
    );
}

async fn a_rule_scoped_to_a_dimension_value_counts_only_its_events(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    server::admin::declare_dimension(&app.store, "test", "customer")
        .await
        .unwrap();
    // 30 requests of acme at T - 2 min, 10 of them failed (33 %); 100 healthy requests of
    // other customers, a customer 7 (a number), and events that name none.
    let batch = |tag: &str, n: usize, errors: usize, customer: Value| -> Value {
        json!((0..n)
            .map(|i| {
                let mut e = json!({"id": format!("{tag}-{i}"), "timestamp": iso(T - 2 * MIN),
                    "model": "m", "input_tokens": 1, "output_tokens": 1, "latency_ms": i + 1,
                    "user": format!("u-{tag}")});
                if !customer.is_null() {
                    e["metadata"] = json!({"customer": customer});
                }
                if i < errors {
                    e["status"] = json!("error");
                }
                e
            })
            .collect::<Vec<_>>())
    };
    for events in [
        batch("acme", 30, 10, json!("acme")),
        batch("globex", 60, 0, json!("globex")),
        batch("seven", 25, 0, json!(7)),
        batch("none", 40, 0, Value::Null),
    ] {
        assert_eq!(app.post_events(&key, &events).await.status(), 200);
    }
    let scoped = |metric: &str, op: &str, threshold: &str, scope: &str| AlertRuleForm {
        scope: scope.into(),
        ..rule(metric, op, threshold, "P")
    };
    let acme = create_alert_rule(
        &app.store,
        "t",
        &scoped("error_rate", "above", "20", "customer=acme"),
    )
    .await
    .unwrap();
    let seven = create_alert_rule(
        &app.store,
        "t",
        &scoped("requests", "above", "24", "meta.customer=7"),
    )
    .await
    .unwrap();
    let user = create_alert_rule(
        &app.store,
        "t",
        &scoped("p95_latency", "above", "60", "user=u-globex"),
    )
    .await
    .unwrap();
    let none = create_alert_rule(
        &app.store,
        "t",
        &scoped("requests", "above", "40", "customer=(none)"),
    )
    .await
    .unwrap();
    let rules = app.store.alert_rules().await.unwrap();
    let measured = |i: usize| server::alerting::rules::measure(&app.store, &rules[i], T);
    // acme alone: 10 of 30 failed (3,334 basis points rounded up); unscoped it would be 10 of 155.
    assert_eq!(measured(0).await.unwrap(), Some((3334, true)));
    assert_eq!(measured(1).await.unwrap(), Some((25, true)));
    // u-globex's latencies are 1..=60: the 57th is the 95th percentile.
    assert_eq!(measured(2).await.unwrap(), Some((57, false)));
    assert_eq!(measured(3).await.unwrap(), Some((40, false)));
    assert_eq!(
        rules[0].info.scope.as_ref().unwrap().describe(),
        "meta.customer=acme"
    );
    assert!(
        rules[0]
            .info
            .describe()
            .ends_with("project P, meta.customer=acme"),
        "{}",
        rules[0].info.describe()
    );
    let mut changes = server::alerting::rules::evaluate(&app.store, T)
        .await
        .unwrap();
    changes.sort();
    assert_eq!(
        changes,
        vec![(acme, "firing".to_string()), (seven, "firing".to_string())]
    );
    let _ = (user, none);

    // Scopes the rule cannot keep are refused with the reason.
    for (scope, why) in [
        ("customer", "expected DIMENSION=VALUE"),
        ("team=search", "not a declared dimension"),
        ("customer=", "1 to 128 characters"),
        ("customer=(invalid)", "cannot be a scope"),
        ("key=ua_nothere", "no ingest key has the prefix"),
    ] {
        let err = create_alert_rule(&app.store, "t", &scoped("requests", "above", "1", scope))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{scope}: {err}");
    }
    assert_eq!(app.store.alert_rules().await.unwrap().len(), 4);
}

/// What a test receiver saw: headers and body of each request.
type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// An HTTP receiver on port 0 that answers 500 to the first `failures` requests, then 204.
async fn receiver(failures: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let mut log = log.lock().unwrap();
                log.push((headers, body));
                if log.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// Checks `X-UA-Signature` as a receiver would: HMAC-SHA256 of "<t>.<body>" under the secret.
fn verify(secret: &str, headers: &HeaderMap, body: &str) -> i64 {
    let header = headers["x-ua-signature"].to_str().unwrap();
    let (t, v1) = header.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("signature verifies");
    t.parse().unwrap()
}

async fn webhooks_are_signed_and_retried_until_the_first_success(db: Db) {
    let app = spawn_app(db).await;
    let (url, seen) = receiver(2).await;
    let (hook, secret) = create_webhook(&app.store, "test", &url).await.unwrap();
    // The test's receiver listens on loopback, which webhooks may reach only when allowed.
    let client = server::alerting::webhooks::client(true).unwrap();
    let backoff = Backoff {
        base_ms: 1_000,
        max_attempts: 5,
    };
    let now = T;
    let body = server::alerting::webhooks::test_body(hook, now);
    app.store
        .enqueue_delivery(hook, "test", &body, now)
        .await
        .unwrap();

    // Two senders (replicas) at once: the delivery is claimed by one.
    let replica = Store::connect(Some(&app.url)).await.unwrap();
    let at_now = || now;
    let (a, b) = tokio::join!(
        send_due(&app.store, &client, &at_now, backoff),
        send_due(&replica, &client, &at_now, backoff)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    let d = &app.store.deliveries(10).await.unwrap()[0];
    assert_eq!((d.state.as_str(), d.attempts), ("pending", 1));
    assert_eq!(d.last_status, Some(500));
    assert_eq!(d.next_attempt_at_ms, now + 1_000);
    // Not due before the backoff has passed; then 2 s after the second failure.
    assert_eq!(
        send_due(&app.store, &client, &|| now + 999, backoff)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        send_due(&app.store, &client, &|| now + 1_000, backoff)
            .await
            .unwrap(),
        1
    );
    let d = &app.store.deliveries(10).await.unwrap()[0];
    assert_eq!(d.next_attempt_at_ms, now + 3_000);
    assert_eq!(
        send_due(&app.store, &client, &|| now + 3_000, backoff)
            .await
            .unwrap(),
        1
    );
    let d = &app.store.deliveries(10).await.unwrap()[0];
    assert_eq!((d.state.as_str(), d.attempts), ("delivered", 3));
    assert_eq!(d.last_status, Some(204));
    assert_eq!(d.delivered_at_ms, Some(now + 3_000));
    // Delivered: never sent again.
    assert_eq!(
        send_due(&app.store, &client, &|| now + 3_600_000, backoff)
            .await
            .unwrap(),
        0
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let sent_at = [now, now + 1_000, now + 3_000];
    for ((headers, received), at) in seen.iter().zip(sent_at) {
        assert_eq!(received, &body);
        assert_eq!(verify(&secret, headers, received), at / 1000);
        assert_eq!(headers["x-ua-event"], "test");
        assert_eq!(headers["x-ua-delivery"], d.id.to_string().as_str());
    }
    // A tampered body or another secret does not verify.
    let (headers, received) = &seen[0];
    let tampered =
        std::panic::catch_unwind(|| verify(&secret, headers, &received.replace("Test", "Tost")));
    assert!(tampered.is_err());
    let other = std::panic::catch_unwind(|| verify("whsec_other", headers, received));
    assert!(other.is_err());
}

async fn deliveries_give_up_after_the_last_attempt_and_budget_alerts_are_sent(db: Db) {
    let app = spawn_app(db).await;
    let (url, seen) = receiver(usize::MAX).await;
    create_webhook(&app.store, "test", &url).await.unwrap();
    let key = app.project_with_key("P").await;
    server::admin::create_budget(
        &app.store,
        "test",
        Some("P"),
        "10",
        "month",
        "UTC",
        Some(&[50]),
        "",
    )
    .await
    .unwrap();
    let res = app
        .post_events(
            &key,
            &json!([{"id": "x", "timestamp": iso(T), "model": "m", "input_tokens": 1,
                     "output_tokens": 1, "cost_usd": 6.0}]),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(delivery_kinds(&app.store).await, vec!["budget.threshold"]);

    // The test's receiver listens on loopback, which webhooks may reach only when allowed.
    let client = server::alerting::webhooks::client(true).unwrap();
    let backoff = Backoff {
        base_ms: 10,
        max_attempts: 2,
    };
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(
        send_due(&app.store, &client, &|| now, backoff)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        send_due(&app.store, &client, &|| now + 10, backoff)
            .await
            .unwrap(),
        1
    );
    let d = &app.store.deliveries(10).await.unwrap()[0];
    assert_eq!((d.state.as_str(), d.attempts), ("failed", 2));
    assert_eq!(
        send_due(&app.store, &client, &|| now + 3_600_000, backoff)
            .await
            .unwrap(),
        0
    );

    // A disabled webhook gets nothing more, also what was queued for it before.
    let (url2, seen2) = receiver(0).await;
    let (hook2, _) = create_webhook(&app.store, "test", &url2).await.unwrap();
    app.store
        .enqueue_delivery(hook2, "test", "{}", now)
        .await
        .unwrap();
    app.store.disable_webhook(hook2, now).await.unwrap();
    assert_eq!(
        send_due(&app.store, &client, &|| now + 1, backoff)
            .await
            .unwrap(),
        0
    );
    assert!(seen2.lock().unwrap().is_empty());

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let body: Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(body["type"], "budget.threshold");
    assert_eq!(body["project"], "P");
    assert_eq!(body["threshold"], 50);
    assert_eq!(body["spendNanos"], 6_000_000_000i64);
    assert_eq!(
        body["message"],
        "50 % of the P budget reached ($6.00 of $10.00 per month)"
    );
}

async fn rules_and_webhooks_reject_bad_input_with_the_field_named(db: Db) {
    let app = spawn_app(db).await;
    app.project_with_key("P").await;
    let err = |r: Result<i64, server::admin::AdminError>| r.unwrap_err().to_string();
    let s = &app.store;
    let cases = [
        (rule("latency", "above", "5", ""), "metric"),
        (rule("error_rate", "over", "5", ""), "op"),
        (rule("error_rate", "above", "101", ""), "threshold"),
        (rule("error_rate", "above", "2.555", ""), "threshold"),
        (rule("requests", "above", "-1", ""), "threshold"),
        (rule("requests", "above", "5", "Nope"), "Nope"),
    ];
    for (form, field) in cases {
        let e = err(create_alert_rule(s, "t", &form).await);
        assert!(e.contains(field), "{e:?} should name {field}");
    }
    let mut form = rule("requests", "above", "5", "");
    form.window_minutes = "0".into();
    assert!(err(create_alert_rule(s, "t", &form).await).contains("window_minutes"));
    let e = create_webhook(s, "t", "ftp://x")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("url"), "{e}");
    assert!(s.alert_rules().await.unwrap().is_empty());
    assert!(s.list_webhooks().await.unwrap().is_empty());
    // 2.5 % is stored as 250 basis points.
    create_alert_rule(s, "t", &rule("error_rate", "above", "2.5", ""))
        .await
        .unwrap();
    assert_eq!(s.alert_rules().await.unwrap()[0].info.threshold, 250);
}

/// By default a webhook cannot reach internal addresses, whatever the spelling, also when a
/// name resolves to one at delivery time; the admin sees why its deliveries fail.
async fn webhooks_to_internal_addresses_are_refused_when_they_connect(db: Db) {
    let app = spawn_app(db).await;
    let (url, seen) = receiver(0).await;
    let port = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let spellings = [
        url.clone(),
        format!("http://0x7f000001:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://100.64.0.1/hook".to_string(),
    ];
    let now = T;
    for u in &spellings {
        let (hook, _) = create_webhook(&app.store, "test", u).await.unwrap();
        let body = server::alerting::webhooks::test_body(hook, now);
        app.store
            .enqueue_delivery(hook, "test", &body, now)
            .await
            .unwrap();
    }
    let client = server::alerting::webhooks::client(false).unwrap();
    let backoff = Backoff {
        base_ms: 1_000,
        max_attempts: 5,
    };
    send_due(&app.store, &client, &|| now, backoff)
        .await
        .unwrap();
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
    let deliveries = app.store.deliveries(20).await.unwrap();
    assert_eq!(deliveries.len(), spellings.len());
    for d in &deliveries {
        assert_eq!(d.state, "pending", "{d:?}");
        assert_eq!(
            d.last_error.as_deref(),
            Some("refused: private address"),
            "{d:?}"
        );
    }
    // Allowed (UA_WEBHOOK_ALLOW_PRIVATE=1), the same delivery goes through.
    let allowed = server::alerting::webhooks::client(true).unwrap();
    send_due(&app.store, &allowed, &|| now + 3_600_000, backoff)
        .await
        .unwrap();
    assert!(!seen.lock().unwrap().is_empty());
}

on_both_backends!(
    a_rule_scoped_to_a_dimension_value_counts_only_its_events,
    webhooks_to_internal_addresses_are_refused_when_they_connect,
    an_error_rate_alert_fires_and_resolves_once_each,
    p95_latency_and_request_volume_are_measured_exactly,
    webhooks_are_signed_and_retried_until_the_first_success,
    deliveries_give_up_after_the_last_attempt_and_budget_alerts_are_sent,
    rules_and_webhooks_reject_bad_input_with_the_field_named,
);
