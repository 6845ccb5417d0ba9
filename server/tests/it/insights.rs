//! Cost insights equal a recomputation from the events sent: failed spend, cache hit rate,
//! savings at the price in force, and the top project x model drivers against the previous
//! period.

use crate::common;

use common::{spawn_app, Db};
use serde_json::{json, Value};
use shared::ModelPrice;

const DAY_MS: i64 = 86_400_000;

struct Sent {
    project: &'static str,
    model: &'static str,
    days_ago: i64,
    input: i64,
    cached: i64,
    cost_nanos: i64,
    failed: bool,
}

fn workload() -> Vec<Sent> {
    let mut out = Vec::new();
    for i in 0..60i64 {
        let project = ["P1", "P2"][(i % 2) as usize];
        let model = ["m-a", "m-b", "m-free"][(i % 3) as usize];
        // Current period: 1..20 days ago; previous: 31..50 days ago.
        let days_ago = if i < 40 { 1 + i % 20 } else { 31 + i % 20 };
        out.push(Sent {
            project,
            model,
            days_ago,
            input: 1_000 + 37 * i,
            cached: if i % 4 == 0 { 0 } else { 300 + 11 * i },
            cost_nanos: 250_000_000 * (1 + i % 5),
            failed: i % 7 == 0,
        });
    }
    out
}

/// Input and cached-input prices, micro-USD per million tokens (odd, so that savings need
/// rounding); `m-free` has none.
fn price(model: &str) -> Option<(i64, i64)> {
    match model {
        "m-a" => Some((3_000_130, 300_011)),
        "m-b" => Some((1_000_457, 100_003)),
        _ => None,
    }
}

async fn insights_equal_a_recomputation_from_the_events(db: Db) {
    let app = spawn_app(db).await;
    for model in ["m-a", "m-b"] {
        let (input, cached_input) = price(model).unwrap();
        app.store
            .set_price(&ModelPrice {
                model: model.into(),
                effective_from_ms: 0,
                input,
                cached_input,
                cache_write: input,
                output: input * 4,
            })
            .await
            .unwrap();
    }
    let now = chrono::Utc::now().timestamp_millis();
    let sent = workload();
    for project in ["P1", "P2"] {
        let key = app.project_with_key(project).await;
        let batch: Vec<Value> = sent
            .iter()
            .filter(|e| e.project == project)
            .map(|e| {
                let mut v = json!({
                    "timestamp": chrono::DateTime::from_timestamp_millis(now - e.days_ago * DAY_MS)
                        .unwrap().to_rfc3339(),
                    "model": e.model, "input_tokens": e.input, "cached_input_tokens": e.cached,
                    "output_tokens": 5, "cost_usd": e.cost_nanos as f64 / 1e9});
                if e.failed {
                    v["status"] = json!("error");
                    v["error_type"] = json!("timeout");
                }
                v
            })
            .collect();
        assert_eq!(app.post_events(&key, &json!(batch)).await.status(), 200);
    }

    let (status, got) = app
        .get_json("/api/v1/usage/insights?period=30d&tz=UTC")
        .await;
    assert_eq!(status, 200, "{got}");
    let current: Vec<&Sent> = sent.iter().filter(|e| e.days_ago < 30).collect();
    let failed: Vec<&&Sent> = current.iter().filter(|e| e.failed).collect();
    assert_eq!(got["failedRequests"], failed.len() as i64);
    assert_eq!(
        got["failedCostNanos"],
        failed.iter().map(|e| e.cost_nanos).sum::<i64>()
    );
    let input: i64 = current.iter().map(|e| e.input).sum();
    let cached: i64 = current.iter().map(|e| e.cached).sum();
    assert_eq!(got["inputTokens"], input);
    assert_eq!(got["cachedInputTokens"], cached);
    let rate = got["cacheHitRate"].as_f64().unwrap();
    assert!(
        (rate - cached as f64 * 100.0 / input as f64).abs() < 1e-9,
        "{rate}"
    );
    // Savings: cached x (input - cached price) / 1,000 nano-USD, rounded once.
    let milli: i64 = current
        .iter()
        .filter_map(|e| price(e.model).map(|(i, c)| e.cached * (i - c)))
        .sum();
    assert_eq!(got["cacheSavingsNanos"], (milli + 500) / 1_000);
    assert_eq!(
        got["unpricedCachedTokens"],
        current
            .iter()
            .filter(|e| price(e.model).is_none())
            .map(|e| e.cached)
            .sum::<i64>()
    );

    // Drivers: every pair's cost now and before, most expensive first.
    let mut want: Vec<(String, String, i64, i64)> = Vec::new();
    for project in ["P1", "P2"] {
        for model in ["m-a", "m-b", "m-free"] {
            let cost = |now: bool| -> i64 {
                sent.iter()
                    .filter(|e| e.project == project && e.model == model)
                    .filter(|e| (e.days_ago < 30) == now)
                    .map(|e| e.cost_nanos)
                    .sum()
            };
            if cost(true) > 0 {
                want.push((project.into(), model.into(), cost(true), cost(false)));
            }
        }
    }
    want.sort_by(|a, b| b.2.cmp(&a.2).then((&a.0, &a.1).cmp(&(&b.0, &b.1))));
    let drivers: Vec<(String, String, i64, i64)> = got["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(
                d["changeNanos"].as_i64().unwrap(),
                d["costNanos"].as_i64().unwrap() - d["previousCostNanos"].as_i64().unwrap()
            );
            (
                d["project"].as_str().unwrap().to_string(),
                d["model"].as_str().unwrap().to_string(),
                d["costNanos"].as_i64().unwrap(),
                d["previousCostNanos"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(drivers, want);

    // Scoped like every panel: one project's insights hold only its pairs.
    let (_, one) = app
        .get_json("/api/v1/usage/insights?period=30d&tz=UTC&projectId=P2")
        .await;
    let pairs = one["drivers"].as_array().unwrap();
    assert!(
        !pairs.is_empty() && pairs.iter().all(|d| d["project"] == "P2"),
        "{one}"
    );
}

on_both_backends!(insights_equal_a_recomputation_from_the_events);
