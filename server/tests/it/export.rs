//! Exports carry exactly the API's numbers, and user text comes out inert, on both backends.

use crate::common;

use std::io::Cursor;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use common::{spawn_app, Db, TestApp};
use serde_json::{json, Value};

const EVIL_PROJECT: &str = "=HYPERLINK(\"http://evil.example\",\"click\")";
const EVIL_MESSAGE: &str = "+cmd|' /C calc'!A0";

async fn seeded(db: Db) -> TestApp {
    let app = spawn_app(db).await;
    let key = app.project_with_key(EVIL_PROJECT).await;
    let other = app.project_with_key("Plain").await;
    let now = chrono::Utc::now();
    let ts = |mins: i64| (now - chrono::Duration::minutes(mins)).to_rfc3339();
    let mut events = Vec::new();
    for i in 0..40i64 {
        let mut e = json!({"timestamp": ts(i * 97), "model": if i % 3 == 0 { "m-b" } else { "m-a" },
            "input_tokens": 100 + i, "output_tokens": 10 + i, "cost_usd": 0.001 * (i + 1) as f64,
            "latency_ms": 100 + 10 * i});
        if i % 7 == 0 {
            e["status"] = json!("error");
            e["error_type"] = json!("timeout");
            e["error_message"] = json!(EVIL_MESSAGE);
        }
        events.push(e);
    }
    assert_eq!(app.post_events(&key, &json!(events)).await.status(), 200);
    let plain = json!([{"timestamp": ts(5), "model": "m-a", "input_tokens": 1, "output_tokens": 1, "cost_usd": 2.5}]);
    assert_eq!(app.post_events(&other, &plain).await.status(), 200);
    app
}

async fn get_bytes(app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let res = app.get(path).await;
    let status = res.status().as_u16();
    let disposition = res
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, disposition, res.bytes().await.unwrap().to_vec())
}

/// Every row of a sheet as owned cells.
fn sheet_rows(wb: &mut Xlsx<Cursor<Vec<u8>>>, sheet: &str) -> Vec<Vec<Data>> {
    let range = wb.worksheet_range(sheet).unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

fn cell<'a>(rows: &'a [Vec<Data>], label: &str) -> &'a [Data] {
    rows.iter()
        .find(|r| matches!(r.first(), Some(Data::String(s)) if s == label))
        .unwrap_or_else(|| panic!("no row {label:?}"))
}

async fn the_workbook_holds_the_api_numbers_in_typed_cells(db: Db) {
    let app = seeded(db).await;
    let query = "period=7d&tz=Asia/Kolkata";
    let (status, disposition, bytes) =
        get_bytes(&app, &format!("/api/v1/usage/export?format=xlsx&{query}")).await;
    assert_eq!(status, 200);
    assert!(
        disposition.contains("usage_") && disposition.ends_with(".xlsx\""),
        "{disposition}"
    );
    let summary = app
        .get_json(&format!("/api/v1/usage/summary?{query}"))
        .await
        .1;
    let daily = app
        .get_json(&format!("/api/v1/usage/daily?{query}"))
        .await
        .1;
    let models = app
        .get_json(&format!("/api/v1/usage/models?{query}"))
        .await
        .1;

    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    assert_eq!(
        wb.sheet_names(),
        ["Summary", "Daily", "Models", "Projects", "Hourly", "Errors"]
    );
    let rows = sheet_rows(&mut wb, "Summary");
    assert_eq!(
        cell(&rows, "Time zone")[1],
        Data::String("Asia/Kolkata".into())
    );
    assert_eq!(
        cell(&rows, "Total requests")[1],
        Data::Float(summary["totalRequests"].as_f64().unwrap())
    );
    let cost = match &cell(&rows, "Total cost (USD)")[1] {
        Data::Float(v) => *v,
        other => panic!("{other:?}"),
    };
    assert!((cost - summary["totalCost"].as_f64().unwrap()).abs() < 1e-9);
    let rate = match &cell(&rows, "Success rate")[1] {
        Data::Float(v) => *v,
        other => panic!("{other:?}"),
    };
    assert!((rate * 100.0 - summary["successRate"].as_f64().unwrap()).abs() < 1e-9);

    let rows = sheet_rows(&mut wb, "Daily");
    let data: Vec<&Vec<Data>> = rows
        .iter()
        .filter(|r| matches!(r.first(), Some(Data::DateTime(_))))
        .collect();
    let days = daily.as_array().unwrap();
    assert_eq!(data.len(), days.len(), "one dated row per day");
    for (row, day) in data.iter().zip(days) {
        let Data::DateTime(dt) = &row[0] else {
            unreachable!()
        };
        let date = dt.as_datetime().unwrap().date().to_string();
        assert_eq!(date, day["date"].as_str().unwrap());
        assert_eq!(row[1], Data::Float(day["requests"].as_f64().unwrap()));
    }

    let rows = sheet_rows(&mut wb, "Models");
    for m in models.as_array().unwrap() {
        let row = cell(&rows, m["model"].as_str().unwrap());
        // Name, provider (none sent here: an empty cell), price source, then the numbers,
        // then the unpriced and fallback-priced requests.
        assert_eq!(row[1], Data::Empty);
        assert_eq!(
            row[2],
            Data::String(m["priceSource"].as_str().unwrap().into())
        );
        assert_eq!(row[3], Data::Float(m["requests"].as_f64().unwrap()));
        assert_eq!(
            row[13],
            Data::Float(m["unpricedRequests"].as_f64().unwrap())
        );
    }

    // The hostile project name and message are plain string cells; nothing is a formula.
    let rows = sheet_rows(&mut wb, "Projects");
    assert!(!cell(&rows, EVIL_PROJECT).is_empty());
    let errors = sheet_rows(&mut wb, "Errors");
    assert!(errors
        .iter()
        .any(|r| r.contains(&Data::String(EVIL_MESSAGE.into()))));
    for sheet in ["Summary", "Daily", "Models", "Projects", "Hourly", "Errors"] {
        let formulas = wb.worksheet_formula(sheet).unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "{sheet} has a formula"
        );
    }
}

fn parse_csv(bytes: &[u8]) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(bytes)
        .records()
        .map(|r| r.unwrap())
        .collect()
}

async fn csv_tables_hold_the_api_numbers_and_neutralise_user_text(db: Db) {
    let app = seeded(db).await;
    let q = "period=30d&tz=UTC";
    let (status, disposition, bytes) = get_bytes(
        &app,
        &format!("/api/usage?action=export&format=csv&table=projects&{q}"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert!(disposition.ends_with("_projects.csv\""), "{disposition}");
    let projects = app.get_json(&format!("/api/v1/usage/projects?{q}")).await.1;
    let rows = parse_csv(&bytes);
    assert_eq!(rows.len(), projects.as_array().unwrap().len());
    for (row, p) in rows.iter().zip(projects.as_array().unwrap()) {
        assert_eq!(
            row[1].parse::<i64>().unwrap(),
            p["requests"].as_i64().unwrap()
        );
        let nanos: i64 = row[3].replace('.', "").parse().unwrap();
        assert_eq!(
            nanos,
            p["costNanos"].as_i64().unwrap(),
            "cost to the nano-dollar"
        );
    }
    let evil = rows.iter().find(|r| r[0].contains("HYPERLINK")).unwrap();
    assert_eq!(&evil[0], &format!("'{EVIL_PROJECT}"));

    let (_, _, bytes) = get_bytes(
        &app,
        &format!("/api/v1/usage/export?format=csv&table=error_log&{q}"),
    )
    .await;
    let rows = parse_csv(&bytes);
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(&r[4], &format!("'{EVIL_MESSAGE}"));
        assert!(
            r[1].starts_with('\''),
            "project column neutralised: {:?}",
            &r[1]
        );
    }

    let (_, _, bytes) = get_bytes(
        &app,
        &format!("/api/v1/usage/export?format=csv&table=daily&{q}"),
    )
    .await;
    let daily = app.get_json(&format!("/api/v1/usage/daily?{q}")).await.1;
    let rows = parse_csv(&bytes);
    let total: i64 = rows.iter().map(|r| r[1].parse::<i64>().unwrap()).sum();
    let want: i64 = daily
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["requests"].as_i64().unwrap())
        .sum();
    assert_eq!(total, want);
    assert_eq!(total, 41);

    for (path, param) in [
        ("/api/v1/usage/export?format=pdf", "format"),
        ("/api/v1/usage/export?format=csv&table=secrets", "table"),
        ("/api/v1/events/export?format=xml", "format"),
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["problems"][0]["field"], param);
    }
}

async fn the_raw_export_streams_every_event_in_csv_and_ndjson(db: Db) {
    let app = seeded(db).await;
    let (status, disposition, bytes) =
        get_bytes(&app, "/api/v1/events/export?period=30d&format=csv").await;
    assert_eq!(status, 200);
    assert!(disposition.ends_with("_events.csv\""), "{disposition}");
    let rows = parse_csv(&bytes);
    assert_eq!(rows.len(), 41);
    let header = csv::Reader::from_reader(&bytes[..])
        .headers()
        .unwrap()
        .clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (status, message, cost_usd) = (
        column("status"),
        column("error_message"),
        column("cost_usd"),
    );
    let errors: Vec<_> = rows.iter().filter(|r| &r[status] == "error").collect();
    assert_eq!(errors.len(), 6);
    assert!(errors
        .iter()
        .all(|r| r[message] == format!("'{EVIL_MESSAGE}")));
    let cost: i64 = rows
        .iter()
        .map(|r| r[cost_usd].replace('.', "").parse::<i64>().unwrap())
        .sum();
    let summary = app.get_json("/api/v1/usage/summary?period=30d").await.1;
    assert_eq!(cost, summary["totalCostNanos"].as_i64().unwrap());

    let (_, _, bytes) = get_bytes(
        &app,
        "/api/v1/events/export?period=30d&format=ndjson&projectId=Plain",
    )
    .await;
    let lines: Vec<Value> = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["project"], "Plain");
    assert_eq!(lines[0]["cost_nanos"], 2_500_000_000i64);
}

/// More events than one chunk of the streaming reader: every one once, oldest first, and the
/// model and status filters applied by the database.
async fn a_raw_export_of_many_chunks_keeps_order_and_filters(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("Bulk").await;
    let start = chrono::Utc::now() - chrono::Duration::days(3);
    let n = 2_600i64;
    // Sent newest first, in three batches: the export must still come out oldest first.
    let events: Vec<Value> = (0..n)
        .rev()
        .map(|i| {
            let mut e = json!({"id": format!("bulk-{i}"),
                "timestamp": (start + chrono::Duration::seconds(i * 60)).to_rfc3339(),
                "model": if i % 2 == 0 { "m-even" } else { "m-odd" },
                "input_tokens": i, "output_tokens": 1});
            if i % 5 == 0 {
                e["status"] = json!("error");
                e["error_type"] = json!("timeout");
            }
            e
        })
        .collect();
    for batch in events.chunks(1_000) {
        assert_eq!(app.post_events(&key, &json!(batch)).await.status(), 200);
    }
    let ids = |bytes: &[u8]| -> Vec<String> {
        parse_csv(bytes).iter().map(|r| r[0].to_string()).collect()
    };
    let (status, _, bytes) = get_bytes(&app, "/api/v1/events/export?period=7d&format=csv").await;
    assert_eq!(status, 200);
    let want: Vec<String> = (0..n).map(|i| format!("bulk-{i}")).collect();
    assert_eq!(ids(&bytes), want);
    // Names are looked up by id: each row carries its own project, key and model.
    let prefix = server::access::secrets::prefix_of(&key).unwrap();
    for (i, r) in parse_csv(&bytes).iter().enumerate() {
        let model = if i % 2 == 0 { "m-even" } else { "m-odd" };
        assert_eq!((&r[2], &r[3], &r[4]), ("Bulk", prefix, model), "row {i}");
    }

    let (_, _, bytes) = get_bytes(
        &app,
        "/api/v1/events/export?period=7d&format=csv&model=m-even&status=error",
    )
    .await;
    let want: Vec<String> = (0..n)
        .filter(|i| i % 10 == 0)
        .map(|i| format!("bulk-{i}"))
        .collect();
    assert_eq!(ids(&bytes), want);
}

/// "This month, by team, export": the workbook gets a sheet of the chosen breakdown, and a
/// dimension filter narrows every sheet and is named in the header block.
async fn a_breakdown_is_a_sheet_of_the_workbook_and_filters_narrow_it(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("Showback").await;
    let now = chrono::Utc::now();
    assert!(app
        .store
        .declare_dimension("team", 10, "test", now.timestamp_millis())
        .await
        .unwrap());
    let ts = |mins: i64| (now - chrono::Duration::minutes(mins)).to_rfc3339();
    let mut events = Vec::new();
    for (i, (team, cost)) in [
        ("search", 0.5),
        ("search", 0.5),
        ("search", 0.5),
        ("ads", 0.25),
        ("ads", 0.25),
    ]
    .into_iter()
    .enumerate()
    {
        events.push(
            json!({"timestamp": ts(i as i64 + 1), "model": "m", "input_tokens": 1,
            "output_tokens": 1, "cost_usd": cost, "metadata": {"team": team}}),
        );
    }
    events.push(json!({"timestamp": ts(9), "model": "m", "input_tokens": 1, "output_tokens": 1, "cost_usd": 0.1}));
    assert_eq!(app.post_events(&key, &json!(events)).await.status(), 200);

    let (status, _, bytes) = get_bytes(
        &app,
        "/api/v1/usage/export?format=xlsx&period=30d&tz=UTC&by=meta.team",
    )
    .await;
    assert_eq!(status, 200);
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    assert_eq!(wb.sheet_names().last().unwrap(), "By meta.team");
    let rows = sheet_rows(&mut wb, "By meta.team");
    assert_eq!(cell(&rows, "search")[1], Data::Float(3.0));
    assert_eq!(cell(&rows, "search")[3], Data::Float(1.5));
    assert_eq!(cell(&rows, "ads")[1], Data::Float(2.0));
    assert_eq!(cell(&rows, "(none)")[1], Data::Float(1.0));

    let (status, _, bytes) = get_bytes(
        &app,
        "/api/v1/usage/export?format=xlsx&period=30d&tz=UTC&meta.team=ads",
    )
    .await;
    assert_eq!(status, 200);
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let rows = sheet_rows(&mut wb, "Summary");
    assert_eq!(cell(&rows, "Total requests")[1], Data::Float(2.0));
    match &cell(&rows, "Filters")[1] {
        Data::String(s) => assert!(s.contains("team: ads"), "{s}"),
        other => panic!("{other:?}"),
    }
    let (status, _, _) = get_bytes(&app, "/api/v1/usage/export?format=xlsx&by=colour").await;
    assert_eq!(status, 400);
}

on_both_backends!(
    a_breakdown_is_a_sheet_of_the_workbook_and_filters_narrow_it,
    a_raw_export_of_many_chunks_keeps_order_and_filters,
    the_workbook_holds_the_api_numbers_in_typed_cells,
    csv_tables_hold_the_api_numbers_and_neutralise_user_text,
    the_raw_export_streams_every_event_in_csv_and_ndjson,
);
