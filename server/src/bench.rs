//! `usage-analytics bench`: ingest throughput over real HTTP, the six panels' server-side
//! time against the naive answer from raw events, and the streaming raw export, printed as
//! one markdown table. Timings are medians and p95 over repeated runs; nothing is asserted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use shared::{DateRange, Period, UsageQuery};

use crate::{query, AppState, Config, Store};

/// What to measure.
pub struct BenchOptions {
    pub events: usize,
    pub runs: usize,
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

const PROJECTS: usize = 50;
const MODELS: usize = 12;
const DAYS: i64 = 90;
const BATCH: usize = 1_000;
const CLIENTS: usize = 2;

/// Project weights: a few large projects, a long tail (Zipf, s = 1.1).
fn project_weights() -> Vec<f64> {
    (1..=PROJECTS).map(|k| 1.0 / (k as f64).powf(1.1)).collect()
}

fn pick(rng: &mut StdRng, cumulative: &[f64]) -> usize {
    let x = rng.gen::<f64>() * cumulative.last().copied().unwrap_or(1.0);
    cumulative
        .partition_point(|c| *c < x)
        .min(cumulative.len() - 1)
}

/// Pre-serialized JSON batches per project, so the clients spend no time building them.
fn generate(n: usize, now_ms: i64) -> Vec<(usize, Vec<u8>)> {
    let mut rng = StdRng::seed_from_u64(2026);
    let mut cumulative = project_weights();
    for i in 1..cumulative.len() {
        cumulative[i] += cumulative[i - 1];
    }
    let start = now_ms - DAYS * 86_400_000;
    let mut pending: Vec<Vec<serde_json::Value>> = vec![Vec::new(); PROJECTS];
    let mut batches = Vec::new();
    for i in 0..n {
        let p = pick(&mut rng, &cumulative);
        let input: i64 = rng.gen_range(50..6_000);
        let mut e = json!({
            "id": format!("b{i}"),
            "timestamp": chrono::DateTime::from_timestamp_millis(rng.gen_range(start..now_ms))
                .unwrap_or_default()
                .to_rfc3339(),
            "model": format!("bench-model-{}", rng.gen_range(0..MODELS)),
            "input_tokens": input,
            "cached_input_tokens": if rng.gen_bool(0.3) { input / 2 } else { 0 },
            "output_tokens": rng.gen_range(1..1_500),
            "latency_ms": rng.gen_range(80..30_000),
        });
        if rng.gen_bool(0.01) {
            e["status"] = json!("error");
            e["error_type"] =
                json!(["rate_limit_exceeded", "timeout", "server_error"][rng.gen_range(0..3)]);
        }
        pending[p].push(e);
        if pending[p].len() == BATCH {
            batches.push((p, serde_json::to_vec(&pending[p]).unwrap_or_default()));
            pending[p].clear();
        }
    }
    for (p, rest) in pending.into_iter().enumerate() {
        if !rest.is_empty() {
            batches.push((p, serde_json::to_vec(&rest).unwrap_or_default()));
        }
    }
    batches
}

fn median_p95(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.95))
}

/// Runs the benchmark against the empty database at `url` and prints the table.
pub async fn run(url: &str, opts: BenchOptions) -> Result<(), AnyError> {
    let store = Store::connect(Some(url)).await?;
    if store.last_event_id().await? != 0 {
        return Err("the bench needs an empty database (it writes N events into it)".into());
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut keys = Vec::new();
    for p in 0..PROJECTS {
        let name = format!("bench-project-{p:02}");
        store.create_project(&name).await?;
        keys.push(store.create_key(&name).await?.1);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(store.clone(), Config::default(), crate::leptos_options());
    tokio::spawn(crate::serve(listener, state));

    eprintln!("generating {} events…", opts.events);
    let batches = Arc::new(generate(opts.events, now));
    let keys = Arc::new(keys);
    eprintln!("ingesting over HTTP ({CLIENTS} clients, batches of {BATCH})…");
    let started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (batches, keys, base) = (batches.clone(), keys.clone(), base.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for (p, body) in batches.iter().skip(c).step_by(CLIENTS) {
                let res = http
                    .post(format!("{base}/api/v1/events"))
                    .bearer_auth(&keys[*p])
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                if !res.status().is_success() {
                    return Err(format!("ingest answered {}", res.status()).into());
                }
            }
            Ok::<(), AnyError>(())
        }));
    }
    for c in clients {
        c.await??;
    }
    let ingest = started.elapsed();
    let mut rows = vec![(
        format!("ingest over HTTP, {} events", opts.events),
        format!(
            "{:.1} s, {:.0} events/s",
            ingest.as_secs_f64(),
            opts.events as f64 / ingest.as_secs_f64()
        ),
    )];

    // The largest project, for the filtered scenario.
    let scenarios: Vec<(&str, DateRange, Vec<String>)> = vec![
        ("last 30 days", DateRange::Preset(Period::Last30d), vec![]),
        (
            "last 30 days, one project",
            DateRange::Preset(Period::Last30d),
            vec!["bench-project-00".into()],
        ),
        ("last 90 days", DateRange::Preset(Period::Last90d), vec![]),
        ("last 24 hours", DateRange::Preset(Period::Last24h), vec![]),
    ];
    for tz in ["UTC", "Asia/Kolkata"] {
        for (label, range, projects) in &scenarios {
            let q = UsageQuery {
                range: range.clone(),
                tz: tz.into(),
                projects: projects.clone(),
                ..Default::default()
            };
            let mut samples = Vec::new();
            for _ in 0..opts.runs {
                let t = Instant::now();
                query::dashboard(&store, &q, now).await?;
                samples.push(t.elapsed());
            }
            let (median, p95) = median_p95(samples);
            let naive = naive_six_panels(&store, &q, now).await?;
            rows.push((
                format!("six panels, {label}, {tz}"),
                format!("median {median:.1} ms, p95 {p95:.1} ms; raw events {naive:.0} ms ({:.0}× slower)", naive / median),
            ));
        }
    }

    let t = Instant::now();
    let csv = reqwest::get(format!("{base}/api/v1/events/export?period=90d&format=csv"))
        .await?
        .bytes()
        .await?;
    let export = t.elapsed();
    let lines = csv
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(1);
    rows.push((
        "raw CSV export over HTTP".into(),
        format!(
            "{lines} events, {:.1} MB in {:.2} s, {:.0} events/s",
            csv.len() as f64 / 1e6,
            export.as_secs_f64(),
            lines as f64 / export.as_secs_f64()
        ),
    ));
    rows.push(("peak memory of this process (VmHWM)".into(), peak_memory()));
    rows.push((
        "machine".into(),
        format!(
            "{} storage, {} cores",
            store.backend_name(),
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        ),
    ));

    println!("| measurement | result |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
    Ok(())
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.1} MB", kb / 1024.0))
        .unwrap_or_else(|| "unknown".into())
}

/// The same six panels answered straight from raw events (the baseline); median of 3 runs, ms.
async fn naive_six_panels(store: &Store, q: &UsageQuery, now: i64) -> Result<f64, AnyError> {
    let r = query::resolve(store, q, now).await?;
    let offset_ms: i64 = if q.tz == "UTC" { 0 } else { 19_800_000 }; // Kolkata: +05:30, no DST
    let mut samples = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        store
            .naive_panels(
                r.filter.start_bucket * 1000,
                r.filter.end_bucket * 1000,
                &r.filter.project_ids,
                offset_ms,
            )
            .await?;
        samples.push(t.elapsed());
    }
    Ok(median_p95(samples).0)
}
