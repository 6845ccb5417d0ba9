//! OpenTelemetry traces over OTLP/HTTP (`POST /v1/traces`): real exporters, the mapping of
//! GenAI spans to events, partial success, duplicates and hostile bodies. Both backends.

use crate::common;

use std::io::Write;

use common::{spawn_app, Db, TestApp};
use serde_json::{json, Value};

/// The raw events of the default range (the last 30 days), as the NDJSON export has them.
async fn stored_events(app: &TestApp) -> Vec<Value> {
    let res = app.get("/api/v1/events/export?format=ndjson").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn find<'a>(events: &'a [Value], model: &str) -> &'a Value {
    (events.iter())
        .find(|e| e["model"] == model)
        .unwrap_or_else(|| panic!("no event of {model}: {events:?}"))
}

/// Python with the pinned OpenTelemetry and `openai` packages (scripts/test.sh makes it).
fn python() -> String {
    std::env::var("UA_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "UA_TEST_PYTHON is not set: run scripts/test.sh, which installs the real \
             OpenTelemetry exporters and the openai client and sets it"
        )
    })
}

/// Runs a client program pointed at `app` with `key` by the standard OTel variables only;
/// answers what it printed as JSON.
async fn run_client(program: String, script: String, app: &TestApp, key: &str) -> Value {
    let out = tokio::process::Command::new(&program)
        .arg(&script)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &app.base)
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("Authorization=Bearer%20{key}"),
        )
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client's report")
}

async fn the_real_openai_client_instrumented_by_opentelemetry_is_counted(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("otel").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp/openai_client.py");
    let reported = run_client(python(), script.into(), &app, &key).await;

    let events = stored_events(&app).await;
    // Three model calls; the application span and the agent span (which carries its
    // children's usage summed) are skipped.
    assert_eq!(events.len(), 3, "{events:?}");
    for call in ["plain", "streamed"] {
        let r = &reported[call];
        let e = find(&events, r["model"].as_str().unwrap());
        assert_eq!(e["input_tokens"], r["prompt"], "{call}");
        assert_eq!(e["output_tokens"], r["completion"], "{call}");
        // opentelemetry-instrumentation-openai-v2 2.4b0 does not export cached tokens.
        assert_eq!(e["cached_input_tokens"], 0, "{call}");
        assert_eq!(e["provider"], "openai", "{call}");
        assert_eq!(e["status"], "success", "{call}");
        assert!(e["latency_ms"].as_i64().unwrap() >= 0, "{call}");
        let meta: Value = e["metadata"].clone();
        assert_eq!(meta["service.name"], "otel-test-app", "{e}");
        assert_eq!(meta["deployment.environment"], "test", "{e}");
        assert_eq!(meta["gen_ai.operation.name"], "chat", "{e}");
    }
    let failed = find(&events, reported["error_model"].as_str().unwrap());
    assert_eq!(failed["status"], "error");
    assert_eq!(failed["input_tokens"], 0);
    assert!(
        failed["error_message"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{failed}"
    );
    // The span's error.type (the client's exception class) is the error type.
    assert!(
        failed["error_type"]
            .as_str()
            .unwrap()
            .contains("NotFoundError"),
        "{failed}"
    );
    // The dashboard's numbers include them.
    let (_, summary) = app.get_json("/api/v1/usage/summary").await;
    assert_eq!(summary["totalRequests"], 3);
    assert_eq!(summary["errorRequests"], 1);
}

async fn the_opentelemetry_js_exporter_sends_json_that_is_counted(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("otel").await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp/js");
    assert!(
        std::path::Path::new(dir).join("node_modules").exists(),
        "run scripts/test.sh, which installs the OTel JS SDK into {dir}"
    );
    let script = format!("{dir}/send_spans.mjs");
    let sent = run_client("node".into(), script, &app, &key).await;
    let sent = sent.as_array().expect("a list of the calls sent");
    let events = stored_events(&app).await;
    // Every model call, not the HTTP span.
    assert_eq!(events.len(), sent.len(), "{events:?}");
    for call in sent {
        let a = &call["attributes"];
        let e = find(&events, a["gen_ai.request.model"].as_str().unwrap());
        assert_eq!(e["provider"], a["gen_ai.provider.name"]);
        let count = |k: &str| a[k].as_i64().unwrap_or(0);
        assert_eq!(e["input_tokens"], count("gen_ai.usage.input_tokens"));
        assert_eq!(e["output_tokens"], count("gen_ai.usage.output_tokens"));
        assert_eq!(
            e["cached_input_tokens"],
            count("gen_ai.usage.cache_read.input_tokens")
        );
        match call["error"].as_str() {
            Some(message) => {
                assert_eq!(e["status"], "error");
                assert_eq!(e["error_type"], a["error.type"]);
                assert_eq!(e["error_message"], message);
            }
            None => assert_eq!(e["status"], "success"),
        }
        assert_eq!(e["metadata"]["service.name"], "js-app");
    }
}

/// A GenAI span in OTLP's JSON encoding.
fn span(span_id: &str, attributes: Value) -> Value {
    let start = (chrono::Utc::now().timestamp_millis() - 60_000) as u64 * 1_000_000;
    json!({
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "name": "chat",
        "kind": 3,
        // Exporters send 64-bit integers as strings (the specification) or as numbers.
        "startTimeUnixNano": start.to_string(),
        "endTimeUnixNano": start + 1_250_000_000,
        "attributes": attributes,
        "status": {}
    })
}

fn attrs(pairs: &[(&str, Value)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

fn request(spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": attrs(&[("service.name", json!({"stringValue": "svc"}))])},
        "scopeSpans": [{"scope": {"name": "manual"}, "spans": spans}]
    }]})
}

async fn post_traces(
    app: &TestApp,
    key: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = app
        .anon
        .post(format!("{}/v1/traces", app.base))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.send().await.expect("request")
}

async fn json_spans_map_as_the_conventions_say(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("otel").await;
    let chat = |model: &str| {
        vec![
            ("gen_ai.operation.name", json!({"stringValue": "chat"})),
            ("gen_ai.request.model", json!({"stringValue": model})),
        ]
    };
    let mut plain = chat("gpt-4o-mini");
    plain.extend([
        ("gen_ai.system", json!({"stringValue": "openai"})),
        ("gen_ai.usage.prompt_tokens", json!({"intValue": 120})),
        ("gen_ai.usage.completion_tokens", json!({"intValue": "30"})),
        (
            "gen_ai.usage.cache_read.input_tokens",
            json!({"intValue": "20"}),
        ),
        (
            "gen_ai.response.time_to_first_chunk",
            json!({"doubleValue": 0.25}),
        ),
        ("enduser.id", json!({"stringValue": "user-7"})),
        ("gen_ai.prompt", json!({"stringValue": "never stored"})),
        // Another tool's cost from its own price list: ignored, we price it ourselves.
        ("gen_ai.usage.cost", json!({"doubleValue": 123.0})),
        // Too long for the metadata limit: dropped, the event kept.
        (
            "gen_ai.conversation.id",
            json!({"stringValue": "c".repeat(5000)}),
        ),
    ]);
    // Anthropic's API counts input without the cache; reads + writes above input say so.
    let mut anthropic = chat("claude-sonnet-4-20250514");
    anthropic.extend([
        ("gen_ai.provider.name", json!({"stringValue": "anthropic"})),
        ("gen_ai.usage.input_tokens", json!({"intValue": "10"})),
        ("gen_ai.usage.output_tokens", json!({"intValue": "5"})),
        (
            "gen_ai.usage.cache_read.input_tokens",
            json!({"intValue": "100"}),
        ),
        (
            "gen_ai.usage.cache_creation.input_tokens",
            json!({"intValue": "50"}),
        ),
    ]);
    // A model call without usage (a stream that reported none) counts with 0 tokens.
    let no_usage = chat("gpt-4o");
    let mut negative = chat("gpt-4.1");
    negative.push(("gen_ai.usage.input_tokens", json!({"intValue": "-5"})));
    let mut absurd = chat("gpt-4.1-mini");
    absurd.push((
        "gen_ai.usage.output_tokens",
        json!({"intValue": "9000000000000"}),
    ));
    let mut tool = vec![(
        "gen_ai.operation.name",
        json!({"stringValue": "execute_tool"}),
    )];
    tool.push(("gen_ai.usage.input_tokens", json!({"intValue": "999"})));
    let http = vec![("http.request.method", json!({"stringValue": "GET"}))];
    let body = request(vec![
        span("00f067aa0ba902b1", attrs(&plain)),
        span("00f067aa0ba902b2", attrs(&anthropic)),
        span("00f067aa0ba902b3", attrs(&no_usage)),
        span("00f067aa0ba902b4", attrs(&negative)),
        span("00f067aa0ba902b7", attrs(&absurd)),
        span("00f067aa0ba902b5", attrs(&tool)),
        span("00f067aa0ba902b6", attrs(&http)),
    ]);
    let bytes = serde_json::to_vec(&body).unwrap();
    let res = post_traces(&app, &key, "application/json", None, bytes.clone()).await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    // The bad spans are refused by name; the others are stored.
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], "2", "{answer}");
    let message = answer["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("00f067aa0ba902b4"), "{message}");
    assert!(message.contains("input_tokens"), "{message}");
    assert!(message.contains("00f067aa0ba902b7"), "{message}");
    assert!(message.contains("output_tokens"), "{message}");

    let events = stored_events(&app).await;
    assert_eq!(events.len(), 3, "{events:?}");
    let e = find(&events, "gpt-4o-mini");
    assert_eq!(
        (
            &e["input_tokens"],
            &e["output_tokens"],
            &e["cached_input_tokens"]
        ),
        (&json!(120), &json!(30), &json!(20))
    );
    assert_eq!(e["provider"], "openai");
    assert_eq!(e["latency_ms"], 1250);
    assert_eq!(e["ttft_ms"], 250);
    assert_eq!(e["user"], "user-7");
    assert_eq!(e["id"], "5b8efff798038103d269b633813fc60c00f067aa0ba902b1");
    assert!(!e.to_string().contains("never stored"), "{e}");
    assert_eq!(
        e["cost_source"], "catalogue",
        "our price, not the span's gen_ai.usage.cost"
    );
    assert!(e["cost_usd"].as_f64().unwrap() < 1.0, "{e}");
    assert_eq!(e["metadata"]["service.name"], "svc");
    assert!(e["metadata"].get("gen_ai.conversation.id").is_none(), "{e}");
    let a = find(&events, "claude-sonnet-4-20250514");
    assert_eq!(
        (
            &a["input_tokens"],
            &a["cached_input_tokens"],
            &a["cache_write_tokens"]
        ),
        (&json!(160), &json!(100), &json!(50))
    );
    assert_eq!(a["provider"], "anthropic");
    let z = find(&events, "gpt-4o");
    assert_eq!(
        (&z["input_tokens"], &z["output_tokens"]),
        (&json!(0), &json!(0))
    );

    // The Models panel and its CSV table show each model's provider beside it.
    let (_, models) = app.get_json("/api/v1/usage/models").await;
    let provider_of = |m: &str| {
        let rows = models.as_array().unwrap();
        let row = rows.iter().find(|r| r["model"] == m).unwrap();
        row.get("provider").cloned()
    };
    assert_eq!(provider_of("gpt-4o-mini"), Some(json!("openai")));
    assert_eq!(
        provider_of("claude-sonnet-4-20250514"),
        Some(json!("anthropic"))
    );
    assert_eq!(provider_of("gpt-4o"), None);
    let csv = app
        .get("/api/v1/usage/export?format=csv&table=models")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("model,provider,price_source,requests,"),
        "{csv}"
    );
    assert!(
        csv.contains("\nclaude-sonnet-4-20250514,anthropic,catalogue,1,"),
        "{csv}"
    );

    // The exporter retries the same request: nothing is counted twice.
    let res = post_traces(&app, &key, "application/json", None, bytes).await;
    assert_eq!(res.status(), 200);
    assert_eq!(stored_events(&app).await.len(), 3);
    let (_, summary) = app.get_json("/api/v1/usage/summary").await;
    assert_eq!(summary["totalRequests"], 3);

    // Skipped spans are counted in /metrics.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("ua_otlp_spans_skipped_total 4"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("otlp"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

async fn protobuf_gzip_and_hostile_bodies(db: Db) {
    use prost::Message;
    use server::ingest::otlp::pb;
    let app = spawn_app(db).await;
    let key = app.project_with_key("otel").await;
    let kv = pb::KeyValue::new;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap() as u64;
    // A Collector-sized request: 12,000 spans (more than UA_MAX_BATCH_EVENTS, which counts
    // model calls only), 360 of them model calls.
    let spans: Vec<pb::Span> = (0..12_000u32)
        .map(|i| {
            let model_call = i % 100 < 3;
            let mut attributes = vec![kv("http.route", pb::Value::StringValue("/x".into()))];
            if model_call {
                attributes = vec![
                    kv(
                        "gen_ai.operation.name",
                        pb::Value::StringValue("chat".into()),
                    ),
                    kv(
                        "gen_ai.request.model",
                        pb::Value::StringValue("gpt-4o-mini".into()),
                    ),
                    kv("gen_ai.usage.input_tokens", pb::Value::IntValue(10)),
                    kv("gen_ai.usage.output_tokens", pb::Value::IntValue(2)),
                ];
            }
            pb::Span {
                trace_id: vec![7; 16],
                span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                name: "s".into(),
                start_time_unix_nano: now_ns - 5_000_000_000,
                end_time_unix_nano: now_ns - 4_000_000_000,
                attributes,
                status: None,
            }
        })
        .collect();
    let request = pb::ExportTraceServiceRequest {
        resource_spans: vec![pb::ResourceSpans {
            resource: None,
            scope_spans: vec![pb::ScopeSpans { spans }],
        }],
    };
    let bytes = request.encode_to_vec();
    let res = post_traces(
        &app,
        &key,
        "application/x-protobuf",
        Some("gzip"),
        gzip(&bytes),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-protobuf");
    let answer = pb::ExportTraceServiceResponse::decode(res.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.partial_success, None);
    let (_, summary) = app.get_json("/api/v1/usage/summary").await;
    assert_eq!(summary["totalRequests"], 360);
    assert_eq!(summary["inputTokens"], 3_600);

    // Truncated protobuf: 400, nothing stored.
    let res = post_traces(
        &app,
        &key,
        "application/x-protobuf",
        None,
        bytes[..bytes.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(res.status(), 400);
    // Wrong content type, wrong key, unknown encoding.
    let res = post_traces(&app, &key, "text/plain", None, bytes.clone()).await;
    assert_eq!(res.status(), 415);
    let res = post_traces(
        &app,
        "uak_wrong",
        "application/x-protobuf",
        None,
        bytes.clone(),
    )
    .await;
    assert_eq!(res.status(), 401);
    let res = post_traces(
        &app,
        &key,
        "application/x-protobuf",
        Some("br"),
        bytes.clone(),
    )
    .await;
    assert_eq!(res.status(), 415);
    // A gzip bomb: 40 MB of zeros in ~40 KB, refused while inflating.
    let bomb = gzip(&vec![0u8; 40 * 1024 * 1024]);
    assert!(bomb.len() < 100_000);
    let res = post_traces(&app, &key, "application/x-protobuf", Some("gzip"), bomb).await;
    assert_eq!(res.status(), 413);
    // Corrupt gzip.
    let res = post_traces(
        &app,
        &key,
        "application/x-protobuf",
        Some("gzip"),
        b"\x1f\x8bnot".to_vec(),
    )
    .await;
    assert_eq!(res.status(), 400);
    let (_, summary) = app.get_json("/api/v1/usage/summary").await;
    assert_eq!(summary["totalRequests"], 360);
}

on_both_backends!(
    the_real_openai_client_instrumented_by_opentelemetry_is_counted,
    the_opentelemetry_js_exporter_sends_json_that_is_counted,
    json_spans_map_as_the_conventions_say,
    protobuf_gzip_and_hostile_bodies,
);
