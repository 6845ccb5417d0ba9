//! A fresh install prices real models from the bundled catalogue, to the provider's list
//! price. The expected dollars are worked out by hand below from the list prices, per
//! million tokens, as the catalogue (converted from LiteLLM 1.110.2 on 2026-12-06, with
//! server/src/pricing/corrections.json) holds them; each names the provider's price page the
//! numbers are published on. Those pages cannot be opened from the machine these tests run on
//! (it reaches package registries only), so the figures were checked against LiteLLM's copy
//! and the corrections file's notes, not against the live pages.

use crate::common;

use common::{spawn_app, Db, TestApp};
use serde_json::{json, Value};

/// Sends one event of `model` and returns its stored cost in nano-USD and the cost's source.
async fn priced(app: &TestApp, key: &str, event: Value) -> (i64, String) {
    let id = format!("p-{}", rand::random::<u64>());
    let mut event = event;
    event["id"] = json!(id);
    event["timestamp"] = json!((chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339());
    let res = app.post_events(key, &json!([event])).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let text = app
        .get("/api/v1/events/export?format=ndjson&period=24h")
        .await
        .text()
        .await
        .unwrap();
    let line: Value = (text.lines())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["id"] == id)
        .expect("the event is exported");
    (
        line["cost_nanos"].as_i64().unwrap(),
        line["cost_source"].as_str().unwrap().to_string(),
    )
}

/// Nano-USD of a dollar amount written out by hand.
fn usd(dollars: &str) -> i64 {
    let (whole, frac) = dollars.split_once('.').unwrap_or((dollars, ""));
    let frac = format!("{frac:0<9}");
    whole.parse::<i64>().unwrap() * 1_000_000_000 + frac.parse::<i64>().unwrap()
}

fn tokens(model: &str, input: i64, cached: i64, cache_write: i64, output: i64) -> Value {
    json!({"model": model, "input_tokens": input, "cached_input_tokens": cached,
           "cache_write_tokens": cache_write, "output_tokens": output})
}

async fn a_fresh_install_prices_real_models_at_list_price(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("p").await;
    let catalogue = "catalogue".to_string();

    // OpenAI (openai.com/api/pricing): gpt-4o-mini $0.15 input, $0.075 cached input,
    // $0.60 output. 6,000 uncached x 0.15 + 4,000 cached x 0.075 + 2,000 x 0.60 per million
    // = $0.0009 + $0.0003 + $0.0012.
    let e = tokens("gpt-4o-mini", 10_000, 4_000, 0, 2_000);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.0024"), catalogue.clone())
    );

    // gpt-4o-2024-08-06: $2.50 input, $10 output: 1,000 x 2.50 + 500 x 10 per million.
    let e = tokens("gpt-4o-2024-08-06", 1_000, 0, 0, 500);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.0075"), catalogue.clone())
    );

    // gpt-4.1 through a routing prefix: $2 input, $8 output.
    let e = tokens("openai/gpt-4.1", 1_000, 0, 0, 1_000);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.010"), catalogue.clone())
    );

    // Anthropic (platform.claude.com/docs/en/about-claude/pricing): Claude Sonnet 4 $3
    // input, $3.75 5-minute cache write, $0.30 cache read, $15 output. 3,000 uncached x 3 +
    // 5,000 read x 0.30 + 2,000 written x 3.75 + 1,000 x 15 per million
    // = $0.009 + $0.0015 + $0.0075 + $0.015.
    let e = tokens("claude-sonnet-4-20250514", 10_000, 5_000, 2_000, 1_000);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.033"), catalogue.clone())
    );

    // 1-hour cache writes cost 2x the input rate, $6 for Sonnet 4 (same page): 10,000
    // input tokens of which 4,000 written to the cache, 1,000 of those for an hour; 500
    // output. 6,000 x 3 + 3,000 x 3.75 + 1,000 x 6 + 500 x 15 per million
    // = $0.018 + $0.01125 + $0.006 + $0.0075.
    let mut e = tokens("claude-sonnet-4-20250514", 10_000, 0, 4_000, 500);
    e["cache_write_1h_tokens"] = json!(1_000);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.04275"), catalogue.clone())
    );

    // OpenAI's Batch API (openai.com/api/pricing, "Batch"): gpt-4o-mini $0.075 input,
    // $0.30 output. 10,000 x 0.075 + 2,000 x 0.30 per million = $0.00075 + $0.0006.
    let mut e = tokens("gpt-4o-mini", 10_000, 0, 0, 2_000);
    e["service_tier"] = json!("batch");
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.00135"), catalogue.clone())
    );

    // Google (ai.google.dev/gemini-api/docs/pricing): Gemini 2.5 Pro $1.25 input and $10
    // output up to 200k input tokens; $2.50 and $15 for the whole request above.
    let e = tokens("gemini-2.5-pro", 100_000, 0, 0, 1_000);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.135"), catalogue.clone())
    );
    let e = tokens("gemini-2.5-pro", 250_000, 0, 0, 1_000);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.640"), catalogue.clone())
    );

    // Mistral (mistral.ai/pricing): Mistral Large 24.11 $2 input, $6 output.
    let e = tokens("mistral-large-2411", 1_000, 0, 0, 1_000);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.008"), catalogue.clone())
    );

    // A snapshot the catalogue does not list: its family's price, marked as a fallback.
    let e = tokens("gpt-4o-2099-01-01", 1_000, 0, 0, 500);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.0075"), "fallback".into())
    );

    // Cached tokens of a model without a cache price are charged at the input rate (never
    // free): cache writes of gpt-4o-mini (OpenAI charges none) cost the input price.
    let e = tokens("gpt-4o-mini", 1_000, 0, 1_000, 0);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.00015"), catalogue.clone())
    );

    // An admin's price wins over the catalogue; a client's cost over both.
    server::admin::set_price(
        &app.store,
        "test",
        &shared::ModelPrice {
            model: "gpt-4o-mini".into(),
            effective_from_ms: 0,
            input: 1_000_000,
            cached_input: 1_000_000,
            cache_write: 1_000_000,
            output: 1_000_000,
        },
    )
    .await
    .unwrap();
    let e = tokens("gpt-4o-mini", 1_000, 0, 0, 1_000);
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.002"), "price_table".into())
    );
    let mut e = tokens("gpt-4o-mini", 1_000, 0, 0, 1_000);
    e["cost_usd"] = json!(0.5);
    assert_eq!(priced(&app, &key, e).await, (usd("0.5"), "client".into()));

    // A name nobody lists stays unpriced and is counted so.
    let e = tokens("our-own-finetune", 1_000, 0, 0, 1_000);
    assert_eq!(priced(&app, &key, e).await, (0, "unpriced".into()));
    // A model only ever priced by its clients.
    let mut e = tokens("house-model", 10, 0, 0, 10);
    e["cost_usd"] = json!(0.25);
    assert_eq!(priced(&app, &key, e).await, (usd("0.25"), "client".into()));

    // The Models panel says where each model's price comes from and counts the requests
    // stored without an exact one; the summary counts them too.
    let (status, models) = app.get_json("/api/v1/usage/models?period=24h").await;
    assert_eq!(status, 200);
    let model = |name: &str| -> Value {
        (models.as_array().unwrap().iter())
            .find(|m| m["model"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing from {models}"))
    };
    for (name, source, unpriced, fallback) in [
        ("gpt-4o-mini", "price_table", 0, 0),
        ("claude-sonnet-4-20250514", "catalogue", 0, 0),
        ("gpt-4o-2099-01-01", "fallback", 0, 1),
        ("our-own-finetune", "none", 1, 0),
        ("house-model", "client", 0, 0),
    ] {
        let m = model(name);
        assert_eq!(m["priceSource"], source, "{m}");
        assert_eq!(m["unpricedRequests"], unpriced, "{m}");
        assert_eq!(m["fallbackRequests"], fallback, "{m}");
    }
    let (_, summary) = app.get_json("/api/v1/usage/summary?period=24h").await;
    assert_eq!(summary["unpricedRequests"], 1);
    assert_eq!(summary["fallbackRequests"], 1);
    // The CSV table of models carries the same.
    let csv = app
        .get("/api/usage?action=export&format=csv&table=models&period=24h")
        .await
        .text()
        .await
        .unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with("model,provider,price_source,requests")
            && header.ends_with("unpriced_requests,fallback_requests"),
        "{header}"
    );
    let row = (csv.lines())
        .find(|l| l.starts_with("our-own-finetune,"))
        .unwrap();
    assert!(
        row.starts_with("our-own-finetune,,none,1,") && row.ends_with(",1,0"),
        "{row}"
    );
    // Every roll-up still equals the raw events, the new counts included.
    assert_eq!(
        app.store.all_rollups().await.unwrap(),
        app.store.rollups_from_raw_events().await.unwrap()
    );
    assert_eq!(app.store.derived_rollups_mismatch().await.unwrap(), None);
}

on_both_backends!(a_fresh_install_prices_real_models_at_list_price);

/// An admin's name rule, discounts and an imported catalogue change what new events cost;
/// a bad catalogue is refused naming the entry, and `--bundled` goes back.
async fn rules_discounts_and_an_imported_catalogue_price_new_events(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("p").await;
    let store = &app.store;
    let catalogue = "catalogue".to_string();

    // An Azure deployment name says nothing the catalogue knows; a rule says it is gpt-4o
    // ($2.50 in, $10 out per million): 1,000 x 2.50 + 500 x 10 = $0.0075.
    let e = tokens("azure/my-gpt4o-eastus", 1_000, 0, 0, 500);
    assert_eq!(priced(&app, &key, e.clone()).await, (0, "unpriced".into()));
    server::admin::add_price_rule(store, "test", "azure/my-gpt4o-*", "gpt-4o")
        .await
        .unwrap();
    assert_eq!(
        priced(&app, &key, e).await,
        (usd("0.0075"), catalogue.clone())
    );
    // A rule must name a model the catalogue has.
    assert!(
        server::admin::add_price_rule(store, "test", "x*", "no-such-model")
            .await
            .is_err()
    );

    // 10 % off Anthropic from yesterday, 20 % off claude-sonnet-4-20250514 itself from now
    // on: the model's own discount wins. Sonnet 4: 1,000 x $3 + 1,000 x $15 per million =
    // $0.018; 80 % of it is $0.0144. Claude Haiku 4.5 ($1 / $5): $0.006, 90 % = $0.0054.
    let now = chrono::Utc::now().timestamp_millis();
    server::admin::add_discount(
        store,
        "test",
        "provider",
        "anthropic",
        "10",
        now - 86_400_000,
    )
    .await
    .unwrap();
    server::admin::add_discount(
        store,
        "test",
        "model",
        "claude-sonnet-4-20250514",
        "20",
        now - 3_600_000,
    )
    .await
    .unwrap();
    let sonnet = tokens("claude-sonnet-4-20250514", 1_000, 0, 0, 1_000);
    assert_eq!(
        priced(&app, &key, sonnet.clone()).await,
        (usd("0.0144"), catalogue.clone())
    );
    let haiku = tokens("claude-haiku-4-5", 1_000, 0, 0, 1_000);
    assert_eq!(
        priced(&app, &key, haiku).await,
        (usd("0.0054"), catalogue.clone())
    );
    for bad in ["0", "100.5", "-3", "abc", "1.234"] {
        assert!(
            server::admin::add_discount(store, "test", "model", "m", bad, now)
                .await
                .is_err(),
            "{bad}"
        );
    }

    // Export, raise gpt-4o-mini to $1 / $2 in the copy, import it: new events cost that
    // (1,000 x 1 + 1,000 x 2 per million = $0.003).
    let book = server::pricing::PriceBook::load(store).await.unwrap();
    let exported = book.catalogue().to_json();
    let mut file: Value = serde_json::from_str(&exported).unwrap();
    let models = file["models"].as_array_mut().unwrap();
    assert_eq!(models.len(), book.catalogue().len());
    for m in models.iter_mut().filter(|m| m["model"] == "gpt-4o-mini") {
        m["input"] = json!(1_000_000);
        m["output"] = json!(2_000_000);
    }
    let newer = serde_json::to_string(&file).unwrap();
    server::admin::import_catalogue(store, "test", Some(&newer))
        .await
        .unwrap();
    let mini = tokens("gpt-4o-mini", 1_000, 0, 0, 1_000);
    assert_eq!(
        priced(&app, &key, mini.clone()).await,
        (usd("0.003"), catalogue.clone())
    );
    // A bad file is refused, naming the entry; the import in force stays.
    models_with(&mut file, "gpt-4o", |m| m["output"] = json!(-1));
    let err = server::admin::import_catalogue(store, "test", Some(&file.to_string()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"gpt-4o\"") && err.contains("output"),
        "{err}"
    );
    assert_eq!(
        priced(&app, &key, mini.clone()).await,
        (usd("0.003"), catalogue.clone())
    );
    // Back to the bundled list price: 1,000 x 0.15 + 1,000 x 0.60 per million.
    server::admin::import_catalogue(store, "test", None)
        .await
        .unwrap();
    assert_eq!(
        priced(&app, &key, mini).await,
        (usd("0.00075"), catalogue.clone())
    );
    // Every change is in the audit log.
    let actions: Vec<String> = (store.audit_log(50).await.unwrap().into_iter())
        .map(|a| a.action)
        .collect();
    for a in [
        "price.rule.add",
        "price.discount.add",
        "price.catalogue.import",
        "price.catalogue.bundled",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

fn models_with(file: &mut Value, name: &str, change: impl Fn(&mut Value)) {
    for m in file["models"].as_array_mut().unwrap() {
        if m["model"] == name {
            change(m);
        }
    }
}

on_both_backends!(rules_discounts_and_an_imported_catalogue_price_new_events);
