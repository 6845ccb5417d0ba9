//! Golden answers: every read endpoint and both exports, for one fixed generated dataset in
//! two time zones, must answer exactly what `tests/golden/answers.json` recorded, on SQLite
//! and on PostgreSQL alike. A change that is meant to change an answer regenerates the file
//! and commits the diff with it, so every changed answer shows in review:
//!
//!     UPDATE_GOLDEN=1 cargo test -p server --test it golden
//!
//! Not covered, because their answers depend on the day the test runs: the month-end
//! forecast, budgets and metric alerts (their own tests pin them).

use crate::common;

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use common::{spawn_app, Db, TestApp};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use shared::{EventStatus, ModelPrice, UsageEvent};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/answers.json");

/// 2025-03-01T00:00:00Z: two weeks that hold New York's change to daylight time (03-09).
const START_MS: i64 = 1_740_787_200_000;
const DAYS: i64 = 14;
const MODELS: [&str; 4] = ["alpha-large", "alpha-mini", "beta-chat", "unpriced-model"];
const PROJECTS: [&str; 3] = ["Support Bot", "Search", "Batch Jobs"];

/// The dataset: prices with a change half-way, then events of every kind (cached and
/// cache-write tokens, client costs, unpriced models, failures of three types, users and
/// metadata), from a fixed seed.
async fn seed(app: &TestApp) {
    let store = &app.store;
    for (i, model) in MODELS.iter().take(3).enumerate() {
        let base = [3_000, 150, 1_000][i];
        for (from, factor) in [(0, 1), (START_MS + 7 * 86_400_000, 2)] {
            store
                .set_price(&ModelPrice {
                    model: model.to_string(),
                    effective_from_ms: from,
                    input: base * factor,
                    cached_input: base * factor / 10,
                    cache_write: base * factor * 5 / 4,
                    output: base * factor * 4,
                })
                .await
                .unwrap();
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(27);
    for (p, name) in PROJECTS.iter().enumerate() {
        let project = store.create_project(name).await.unwrap();
        let events: Vec<UsageEvent> = (0..(300 - 80 * p))
            .map(|i| {
                let failed = rng.gen_bool(0.08);
                let input = rng.gen_range(1..20_000);
                UsageEvent {
                    id: Some(format!("{p}-{i}")),
                    timestamp_ms: START_MS + rng.gen_range(0..DAYS * 86_400_000),
                    model: MODELS[rng.gen_range(0..MODELS.len())].into(),
                    provider: (i % 3 == 0).then(|| "openai".to_string()),
                    input_tokens: input,
                    output_tokens: rng.gen_range(0..3_000),
                    cached_input_tokens: if rng.gen_bool(0.3) { input / 2 } else { 0 },
                    cache_write_tokens: if rng.gen_bool(0.1) { input / 4 } else { 0 },
                    cache_write_1h_tokens: 0,
                    service_tier: None,
                    cost_nanos: rng.gen_bool(0.1).then(|| rng.gen_range(0..90_000_000)),
                    latency_ms: rng.gen_bool(0.95).then(|| rng.gen_range(30..40_000)),
                    ttft_ms: rng.gen_bool(0.5).then(|| rng.gen_range(10..3_000)),
                    status: if failed {
                        EventStatus::Error
                    } else {
                        EventStatus::Success
                    },
                    error_type: failed.then(|| {
                        ["rate_limit_exceeded", "timeout", "server_error"][rng.gen_range(0..3)]
                            .into()
                    }),
                    error_message: failed.then(|| format!("failure {i}")),
                    user: rng
                        .gen_bool(0.5)
                        .then(|| format!("user-{}", rng.gen_range(0..7))),
                    metadata: rng
                        .gen_bool(0.3)
                        .then(|| format!("{{\"team\":\"t{}\"}}", rng.gen_range(0..3))),
                }
            })
            .collect();
        server::ingest::submit(store, project.id, &events)
            .await
            .unwrap();
    }
}

/// The requests whose answers are recorded, by name.
fn requests() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for tz in ["Asia/Kolkata", "America/New_York"] {
        let range = format!("startDate=2025-03-02&endDate=2025-03-13&tz={tz}");
        // Every panel by its REST name, but the forecast: it projects from the clock.
        let panels = (shared::Panel::ALL.into_iter())
            .filter(|p| *p != shared::Panel::Forecast)
            .map(|p| p.name());
        for panel in panels.chain(["dashboard"]) {
            out.push(format!("/api/v1/usage/{panel}?{range}"));
        }
        for filter in [
            "model=alpha-mini,beta-chat",
            "projectId=Search",
            "status=error",
        ] {
            out.push(format!("/api/v1/usage/dashboard?{range}&{filter}"));
        }
        out.push(format!("/api/v1/usage/errors?{range}&limit=5"));
        for action in ["summary", "daily", "models", "projects", "hourly", "errors"] {
            out.push(format!("/api/usage?action={action}&{range}"));
        }
        for table in shared::Panel::all_tables() {
            out.push(format!(
                "/api/v1/usage/export?format=csv&table={table}&{range}"
            ));
        }
        out.push(format!("/api/v1/usage/export?format=xlsx&{range}"));
        let day = format!("startDate=2025-03-09&endDate=2025-03-09&tz={tz}");
        for format in ["csv", "ndjson"] {
            out.push(format!("/api/v1/events/export?format={format}&{day}"));
        }
    }
    out.into_iter().map(|r| (r.clone(), r)).collect()
}

/// A workbook as {sheet: rows of cells as text}.
fn workbook(bytes: Vec<u8>) -> Value {
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).expect("an XLSX workbook");
    let mut sheets = serde_json::Map::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        let rows: Vec<Value> = (range.rows())
            .map(|r| {
                // When the workbook was made changes with every run.
                if r.first() == Some(&Data::String("Generated".into())) {
                    return json!(["Generated", "(when the test ran)"]);
                }
                let cells: Vec<Value> = (r.iter())
                    .map(|c| match c {
                        Data::Empty => Value::Null,
                        Data::Float(f) => json!(f),
                        Data::Int(i) => json!(i),
                        other => json!(other.to_string()),
                    })
                    .collect();
                Value::Array(cells)
            })
            .collect();
        sheets.insert(name, Value::Array(rows));
    }
    Value::Object(sheets)
}

/// One answer as recorded: the status, and the body parsed (JSON), as lines (CSV, NDJSON)
/// or as cells (XLSX).
async fn answer(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    let status = res.status().as_u16();
    let kind = (res.headers().get("content-type"))
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let bytes = res.bytes().await.unwrap().to_vec();
    let body = if kind.contains("spreadsheetml") {
        workbook(bytes)
    } else if kind.starts_with("application/json") {
        serde_json::from_slice(&bytes).unwrap()
    } else {
        let text = String::from_utf8(bytes).unwrap();
        json!(text.lines().collect::<Vec<_>>())
    };
    json!({"status": status, "body": body})
}

async fn every_answer_equals_the_golden_one(db: Db) {
    let app = spawn_app(db).await;
    seed(&app).await;
    let mut answers = BTreeMap::new();
    for (name, path) in requests() {
        answers.insert(name, answer(&app, &path).await);
    }
    // The errors panel's second page, from the first page's cursor.
    let first = &answers
        ["/api/v1/usage/errors?startDate=2025-03-02&endDate=2025-03-13&tz=Asia/Kolkata&limit=5"];
    let cursor = first["body"]["log"]["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = format!(
        "/api/v1/usage/errors?startDate=2025-03-02&endDate=2025-03-13&tz=Asia/Kolkata&limit=5&before={cursor}"
    );
    answers.insert(
        "errors, second page of 5".into(),
        answer(&app, &second).await,
    );

    let got = serde_json::to_string_pretty(&answers).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        if matches!(db, Db::Sqlite) {
            std::fs::create_dir_all(std::path::Path::new(GOLDEN).parent().unwrap()).unwrap();
            std::fs::write(GOLDEN, &got).unwrap();
        }
        return;
    }
    let want = std::fs::read_to_string(GOLDEN).unwrap_or_else(|e| {
        panic!("{GOLDEN}: {e}; make it with UPDATE_GOLDEN=1 cargo test -p server --test it golden")
    });
    // Both sides parsed from text the same way (serde_json may round a float's last digit
    // when parsing, so a parsed golden value need not equal the value it was written from).
    let want: BTreeMap<String, Value> = serde_json::from_str(&want).unwrap();
    let answers: BTreeMap<String, Value> = serde_json::from_str(&got).unwrap();
    // What this run answered, beside the golden file's, for a diff.
    let seen = std::env::temp_dir().join(format!("golden-answers-{db:?}.json"));
    let _ = std::fs::write(&seen, &got);
    let mut differ = Vec::new();
    for (name, value) in &answers {
        if want.get(name) != Some(value) {
            differ.push(name.clone());
        }
    }
    for name in want.keys().filter(|n| !answers.contains_key(*n)) {
        differ.push(format!("{name} (no longer asked)"));
    }
    assert!(
        differ.is_empty(),
        "{} answers differ from {GOLDEN} on {db:?}:\n  {}\nfirst: {}\n(this run's answers: {}). If the change is \
         meant, regenerate with UPDATE_GOLDEN=1 cargo test -p server --test it golden and commit the diff.",
        differ.len(),
        differ.join("\n  "),
        (serde_json::to_string(answers.get(&differ[0]).unwrap_or(&Value::Null)).unwrap())
            .chars()
            .take(2_000)
            .collect::<String>(),
        seen.display(),
    );
}

on_both_backends!(every_answer_equals_the_golden_one);
