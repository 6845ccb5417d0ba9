//! The read API over HTTP: the seed's action API and /api/v1/usage, on both backends.

use crate::common;

use common::{spawn_app, Db};
use serde_json::{json, Value};

async fn the_seed_actions_and_v1_panels_answer_with_the_same_numbers(db: Db) {
    let app = spawn_app(db).await;
    let a = app.project_with_key("Alpha").await;
    let b = app.project_with_key("Beta").await;
    let now = chrono::Utc::now();
    let ts = |mins: i64| (now - chrono::Duration::minutes(mins)).to_rfc3339();
    let ev = |t: String, model: &str, cost: f64| {
        json!({"timestamp": t, "model": model, "input_tokens": 100, "output_tokens": 10,
               "cost_usd": cost, "latency_ms": 800})
    };
    let mut err = ev(ts(5), "m2", 0.5);
    err["status"] = json!("error");
    err["error_type"] = json!("timeout");
    let alpha = json!([
        ev(ts(1), "m1", 1.25),
        ev(ts(2), "m1", 0.75),
        err,
        ev(ts(60 * 24 * 40), "m1", 9.0)
    ]);
    assert_eq!(app.post_events(&a, &alpha).await.status(), 200);
    assert_eq!(
        app.post_events(&b, &json!([ev(ts(3), "m2", 0.1)]))
            .await
            .status(),
        200
    );
    let alpha_id = app.store.project_by_name("Alpha").await.unwrap().id;

    let (status, body) = app.get_json("/api/usage?action=summary&period=30d").await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], true);
    let s = &body["data"];
    assert_eq!(s["totalRequests"], 4);
    assert_eq!(s["totalCostNanos"], 2_600_000_000i64);
    assert_eq!(s["totalCost"], 2.6);
    assert_eq!(s["totalTokens"], 440);
    assert_eq!(s["successRate"], 75.0);
    assert_eq!(s["period"], "30d");

    let (_, v1) = app.get_json("/api/v1/usage/summary?period=30d").await;
    assert_eq!(&v1, s, "the seed API and v1 share one query");

    let (_, p) = app
        .get_json(&format!(
            "/api/v1/usage/summary?period=90d&projectId={alpha_id}"
        ))
        .await;
    assert_eq!(p["totalRequests"], 4);
    assert_eq!(p["totalCost"], 11.5);
    let (_, p) = app
        .get_json("/api/v1/usage/summary?period=24h&projectId=Alpha&model=m1")
        .await;
    assert_eq!(p["totalRequests"], 2);

    let (_, models) = app.get_json("/api/usage?action=models&period=7d").await;
    let models = models["data"].as_array().unwrap().clone();
    assert_eq!(models[0]["model"], "m1");
    assert_eq!(models[0]["requests"], 2);
    assert_eq!(models[1]["errorRate"], 50.0);

    let (_, errors) = app.get_json("/api/v1/usage/errors?period=7d&limit=1").await;
    assert_eq!(errors["types"][0]["errorType"], "timeout");
    assert_eq!(errors["log"]["items"][0]["project"], "Alpha");
    assert_eq!(errors["log"]["items"][0]["model"], "m2");

    let (_, daily) = app
        .get_json("/api/usage?action=daily&period=7d&tz=Asia/Kathmandu")
        .await;
    let days = daily["data"].as_array().unwrap();
    assert!(days.len() == 7 || days.len() == 8, "{}", days.len());
    assert_eq!(
        days.iter()
            .map(|d| d["requests"].as_i64().unwrap())
            .sum::<i64>(),
        4
    );

    let res = app
        .client
        .post(format!("{}/api/usage?action=filter", app.base))
        .json(&json!({"period": "7d", "model": "m2", "projectId": alpha_id}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["summary"]["totalRequests"], 1);
    assert_eq!(body["data"]["summary"]["errorRequests"], 1);

    let res = app
        .client
        .post(format!("{}/api/usage?action=refresh", app.base))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Usage data refreshed");
    assert_eq!(body["data"]["summary"]["totalRequests"], 4);
}

async fn bad_parameters_get_400_naming_the_parameter(db: Db) {
    let app = spawn_app(db).await;
    for (query, param) in [
        ("/api/v1/usage/summary?period=1y", "period"),
        ("/api/v1/usage/summary?tz=Nowhere/City", "tz"),
        (
            "/api/v1/usage/summary?startDate=2025-02-10&endDate=2025-02-01",
            "endDate",
        ),
        ("/api/v1/usage/summary?startDate=2025-02-10", "endDate"),
        ("/api/v1/usage/summary?projectId=999", "projectId"),
        ("/api/v1/usage/summary?status=meh", "status"),
        ("/api/v1/usage/errors?limit=100000", "limit"),
        ("/api/v1/usage/errors?before=yesterday", "before"),
        ("/api/v1/usage/nonsense", "action"),
        ("/api/usage?period=7d", "action"),
    ] {
        let (status, body) = app.get_json(query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["problems"][0]["field"], param, "{query}: {body}");
    }
}

async fn the_openapi_document_describes_the_api(db: Db) {
    let app = spawn_app(db).await;
    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    // Every endpoint a client can call is described: every panel by its name, and the rest.
    let panels = shared::Panel::ALL.map(|p| format!("/api/v1/usage/{}", p.name()));
    let others = [
        "/api/v1/events",
        "/v1/traces",
        "/api/v1/usage/dashboard",
        "/api/v1/usage/breakdown",
        "/api/v1/usage/export",
        "/api/v1/events/export",
        "/api/v1/budgets",
        "/api/v1/budgets/alerts",
        "/api/v1/alerts",
        "/api/v1/live",
        "/api/usage",
    ];
    for path in panels.iter().map(String::as_str).chain(others) {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    // The seed's actions are every panel, dashboard and export; the export's tables are
    // every panel's tables.
    let enum_of = |path: &str, param: &str| -> Vec<String> {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let p = params.iter().find(|p| p["name"] == param).unwrap();
        serde_json::from_value(p["schema"]["enum"].clone()).unwrap()
    };
    let mut actions: Vec<String> = shared::Panel::ALL.map(|p| p.name().to_string()).into();
    actions.extend(["dashboard".to_string(), "export".to_string()]);
    assert_eq!(enum_of("/api/usage", "action"), actions);
    let tables: Vec<String> = shared::Panel::all_tables().map(String::from).collect();
    assert_eq!(enum_of("/api/v1/usage/export", "table"), tables);
}

/// JSON answers go out gzip-compressed to a client that accepts it (and say so, with `Vary`);
/// the raw export's stream is never buffered or compressed.
async fn json_answers_are_gzipped_when_the_client_accepts_it(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("Gz").await;
    let now = chrono::Utc::now();
    let events: Vec<_> = (0..50)
        .map(|i| {
            json!({"timestamp": (now - chrono::Duration::hours(i)).to_rfc3339(),
            "model": "m", "input_tokens": 10, "output_tokens": 1, "cost_usd": 0.01})
        })
        .collect();
    assert_eq!(app.post_events(&key, &json!(events)).await.status(), 200);
    let path = "/api/v1/usage/daily?period=7d&tz=UTC";
    let plain = app.get(path).await;
    assert_eq!(plain.headers().get("content-encoding"), None);
    assert!(plain.headers()["vary"]
        .to_str()
        .unwrap()
        .contains("accept-encoding"));
    let plain: serde_json::Value = plain.json().await.unwrap();
    let res = app
        .client
        .get(format!("{}{path}", app.base))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let bytes = res.bytes().await.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap();
    let unzipped: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(unzipped, plain);
    assert!(
        bytes.len() < text.len(),
        "{} >= {}",
        bytes.len(),
        text.len()
    );
    // Refused gzip, and the raw export: sent as they are.
    let res = app
        .client
        .get(format!("{}{path}", app.base))
        .header("accept-encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("content-encoding"), None);
    let res = app
        .client
        .get(format!(
            "{}/api/v1/events/export?period=7d&format=csv",
            app.base
        ))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("content-encoding"), None);
    assert_eq!(res.text().await.unwrap().lines().count(), 51);
}

on_both_backends!(
    json_answers_are_gzipped_when_the_client_accepts_it,
    the_seed_actions_and_v1_panels_answer_with_the_same_numbers,
    bad_parameters_get_400_naming_the_parameter,
    the_openapi_document_describes_the_api,
);
