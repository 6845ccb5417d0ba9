//! Realistic demo traffic for the seed platform's models and projects, sent through the same
//! validation and storage path as HTTP ingest.
//!
//! Shape: weekday/weekend and day/night rhythm, chat-sized and code-sized prompts, prompt
//! caching, latency that grows with output length, a low base error rate, and bursts of rate
//! limits, invalid keys and timeouts.

use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use shared::ModelPrice;

use super::validate_batch;
use crate::store::{Store, StoreError};

/// The seed platform's models with their demo prices (USD micros per million tokens):
/// input, cached input, cache write, output; plus base latency and ms per output token.
const MODELS: [(&str, [i64; 4], i64, f64); 4] = [
    (
        "Scalix Standard",
        [500_000, 50_000, 625_000, 1_500_000],
        250,
        8.0,
    ),
    (
        "Scalix Advanced",
        [3_000_000, 300_000, 3_750_000, 15_000_000],
        600,
        22.0,
    ),
    (
        "Scalix Analyst",
        [2_000_000, 200_000, 2_500_000, 8_000_000],
        450,
        15.0,
    ),
    (
        "Scalix Coder",
        [1_000_000, 100_000, 1_250_000, 5_000_000],
        350,
        11.0,
    ),
];

/// The seed's projects: share of traffic, model mix (weights in `MODELS` order), and whether
/// prompts look like code (longer, more cached).
const PROJECTS: [(&str, f64, [f64; 4], bool); 5] = [
    (
        "Customer Support Chatbot",
        0.30,
        [0.6, 0.2, 0.1, 0.1],
        false,
    ),
    ("Content Generation API", 0.25, [0.3, 0.5, 0.1, 0.1], false),
    ("Data Analysis Tool", 0.20, [0.1, 0.2, 0.65, 0.05], false),
    (
        "Code Review Assistant",
        0.15,
        [0.05, 0.15, 0.05, 0.75],
        true,
    ),
    (
        "Marketing Copy Generator",
        0.10,
        [0.5, 0.4, 0.05, 0.05],
        false,
    ),
];

/// What a demo run stored.
pub struct DemoReport {
    pub accepted: u64,
    pub projects: usize,
}

/// A window in which one project suffers a burst of one error type.
struct Burst {
    start_ms: i64,
    end_ms: i64,
    project: usize,
    error_type: &'static str,
    rate: f64,
}

fn pick(rng: &mut StdRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// A log-normal sample with the given median and spread (sigma of the log).
fn lognormal(rng: &mut StdRng, median: f64, sigma: f64) -> f64 {
    // Box-Muller: one standard normal from two uniforms.
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    median * (sigma * z).exp()
}

/// Relative traffic at a UTC instant: office hours peak, quiet nights, calmer weekends.
fn rhythm(ts_ms: i64) -> f64 {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp_millis(ts_ms).unwrap_or_default();
    let hour = t.hour() as f64 + t.minute() as f64 / 60.0;
    let daily = 0.25 + 0.75 * (-(hour - 15.0).powi(2) / 18.0).exp();
    let weekly = if t.weekday().number_from_monday() >= 6 {
        0.45
    } else {
        1.0
    };
    daily * weekly
}

/// Generates `count` events over the last `days` days and ingests them.
pub async fn generate(
    store: &Store,
    count: usize,
    days: u32,
    seed: Option<u64>,
) -> Result<DemoReport, StoreError> {
    let mut rng = match seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_entropy(),
    };
    let now = chrono::Utc::now().timestamp_millis();
    let start = now - days.max(1) as i64 * 86_400_000;
    // Prices in force since 2000, unless an admin already set some.
    if store.list_prices().await?.is_empty() {
        for (name, p, _, _) in MODELS {
            store
                .set_price(&ModelPrice {
                    model: name.into(),
                    effective_from_ms: super::MIN_TIMESTAMP_MS,
                    input: p[0],
                    cached_input: p[1],
                    cache_write: p[2],
                    output: p[3],
                })
                .await?;
        }
    }
    let mut project_ids = Vec::new();
    for (name, ..) in PROJECTS {
        let id = match store.project_by_name(name).await {
            Ok(p) => p.id,
            Err(_) => store.create_project(name).await?.id,
        };
        project_ids.push(id);
    }
    let bursts: Vec<Burst> = (0..(days as usize / 3).max(2))
        .map(|_| {
            let s = rng.gen_range(start..now);
            let (error_type, rate) = [
                ("rate_limit_exceeded", 0.35),
                ("invalid_api_key", 0.9),
                ("timeout", 0.25),
            ][rng.gen_range(0..3)];
            Burst {
                start_ms: s,
                end_ms: s + rng.gen_range(10..90) * 60_000,
                project: pick(&mut rng, &PROJECTS.map(|p| p.1)),
                error_type,
                rate,
            }
        })
        .collect();

    let bar = ProgressBar::new(count as u64).with_style(
        ProgressStyle::with_template("demo {bar:40} {pos}/{len} events ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let run_tag: u64 = rng.gen();
    let mut accepted = 0;
    let mut batches: Vec<Vec<Value>> = vec![Vec::new(); PROJECTS.len()];
    for i in 0..count {
        // Rejection sampling against the traffic rhythm.
        let ts = loop {
            let t = rng.gen_range(start..now);
            if rng.gen::<f64>() < rhythm(t) {
                break t;
            }
        };
        let p = pick(&mut rng, &PROJECTS.map(|p| p.1));
        let (_, _, model_mix, code) = PROJECTS[p];
        let m = pick(&mut rng, &model_mix);
        let (model, _, base_latency, ms_per_token) = MODELS[m];
        let input =
            lognormal(&mut rng, if code { 3_000.0 } else { 700.0 }, 0.8).round() as i64 + 20;
        let output = lognormal(&mut rng, if code { 400.0 } else { 220.0 }, 0.7).round() as i64 + 1;
        let cached = if rng.gen_bool(if code { 0.55 } else { 0.3 }) {
            (input as f64 * rng.gen_range(0.4..0.9)) as i64
        } else {
            0
        };
        let cache_write = if cached == 0 && rng.gen_bool(0.05) {
            input / 2
        } else {
            0
        };
        let mut latency = base_latency as f64 + output as f64 * ms_per_token;
        latency *= lognormal(&mut rng, 1.0, 0.25);
        let mut event = json!({
            "id": format!("demo-{run_tag:016x}-{i}"),
            "timestamp": chrono::DateTime::from_timestamp_millis(ts).unwrap_or_default().to_rfc3339(),
            "model": model,
            "input_tokens": input,
            "output_tokens": output,
            "cached_input_tokens": cached,
            "cache_write_tokens": cache_write,
            "ttft_ms": (base_latency as f64 * lognormal(&mut rng, 0.6, 0.3)).round(),
            "user": format!("user-{}", rng.gen_range(1..400)),
        });
        let burst = bursts.iter().find(|b| {
            b.project == p && (b.start_ms..b.end_ms).contains(&ts) && rng.gen_bool(b.rate)
        });
        let error = match burst {
            Some(b) => Some(b.error_type),
            None if rng.gen_bool(0.006) => Some(["server_error", "timeout"][rng.gen_range(0..2)]),
            None => None,
        };
        if let Some(error_type) = error {
            event["status"] = json!("error");
            event["error_type"] = json!(error_type);
            event["output_tokens"] = json!(0);
            event["error_message"] = json!(match error_type {
                "rate_limit_exceeded" =>
                    "Rate limit reached: 10000 tokens per minute. Retry after 20s.",
                "invalid_api_key" => "Incorrect API key provided.",
                "timeout" => "The model did not respond within 30 seconds.",
                _ => "The server had an error while processing the request.",
            });
            latency = match error_type {
                "timeout" => 30_000.0 + rng.gen_range(0.0..500.0),
                _ => rng.gen_range(40.0..300.0),
            };
            event["ttft_ms"] = Value::Null;
        }
        event["latency_ms"] = json!(latency.round());
        batches[p].push(event);
        if batches[p].len() == 2_000 {
            accepted += flush(store, project_ids[p], &mut batches[p], now).await?;
            bar.set_position(i as u64 + 1);
        }
    }
    for (p, batch) in batches.iter_mut().enumerate() {
        accepted += flush(store, project_ids[p], batch, now).await?;
    }
    bar.finish_and_clear();
    Ok(DemoReport {
        accepted,
        projects: PROJECTS.len(),
    })
}

async fn flush(
    store: &Store,
    project_id: i64,
    batch: &mut Vec<Value>,
    now: i64,
) -> Result<u64, StoreError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let events = validate_batch(batch, now).map_err(|problems| {
        // Generated events are valid by construction; say which rule broke if not.
        StoreError::Conflict(format!(
            "demo generated an invalid event: {:?}",
            problems.first()
        ))
    })?;
    batch.clear();
    let accepted = super::submit(store, project_id, &events).await?.accepted;
    Ok(accepted)
}
