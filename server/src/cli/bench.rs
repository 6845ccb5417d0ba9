//! `usage-analytics bench`: ingest throughput over real HTTP, the six panels' server-side
//! time against the naive answer from raw events, and the streaming raw export, printed as
//! one markdown table. Timings are medians and p95 over repeated runs; nothing is asserted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shared::{DateRange, Period, UsageQuery};

use crate::{query, AppState, Config, Store};

/// What to measure.
pub struct BenchOptions {
    pub events: usize,
    pub runs: usize,
    /// Only time the panels, on a database a previous bench filled (no ingest, baseline,
    /// export or import): for trying a change to the queries.
    pub panels_only: bool,
    /// Only measure ingest over HTTP, on an empty database.
    pub ingest_only: bool,
    /// Skip the panels' baseline from raw events (at 100M events it takes minutes a panel).
    pub no_baseline: bool,
    /// Events carry end users and declared metadata keys; breakdowns and dimension filters
    /// are timed.
    pub dimensions: bool,
}

use super::AnyError;

const PROJECTS: usize = 50;
const MODELS: usize = 12;
const DAYS: i64 = 90;
const DAYS_MS: i64 = DAYS * 86_400_000;
const BATCH: usize = 1_000;
const CLIENTS: usize = 2;
/// Distinct end users of the `--dimensions` workload (Zipf-distributed, as the issue asks).
const END_USERS: usize = 100_000;
/// The declared metadata keys of the `--dimensions` workload and how many values each takes.
const DECLARED: [(&str, usize); 3] = [("team", 8), ("feature", 20), ("customer", 1_000)];
/// Untimed dashboard loads before each scenario's timed runs: as many as the PostgreSQL pool
/// has connections, so that each has prepared the scenario's statements. With two, half of
/// the first scenario's timed runs on PostgreSQL still parsed and planned a statement.
const WARM_UP_RUNS: usize = crate::store::POSTGRES_CONNECTIONS as usize;

/// Zipf weights (s = 1.1), cumulated: a few large projects (or models), a long tail.
fn zipf_cumulative(n: usize) -> Vec<f64> {
    let mut c: Vec<f64> = (1..=n).map(|k| 1.0 / (k as f64).powf(1.1)).collect();
    for i in 1..c.len() {
        c[i] += c[i - 1];
    }
    c
}

fn pick(rng: &mut StdRng, cumulative: &[f64]) -> usize {
    let x = rng.gen::<f64>() * cumulative.last().copied().unwrap_or(1.0);
    cumulative
        .partition_point(|c| *c < x)
        .min(cumulative.len() - 1)
}

/// One generated request as a client sends it.
#[derive(serde::Serialize)]
struct Generated {
    id: String,
    #[serde(skip)]
    ts_ms: i64,
    timestamp: String,
    model: String,
    input_tokens: i64,
    cached_input_tokens: i64,
    output_tokens: i64,
    latency_ms: i64,
    ttft_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<serde_json::Value>,
}

/// Zipf tables of the `--dimensions` workload: end users, then each declared key's values.
struct DimWorkload {
    users: Vec<f64>,
    keys: Vec<Vec<f64>>,
}

impl DimWorkload {
    fn new() -> DimWorkload {
        DimWorkload {
            users: zipf_cumulative(END_USERS),
            keys: DECLARED.iter().map(|(_, n)| zipf_cumulative(*n)).collect(),
        }
    }
}

/// Bench model names and prices (micro-USD per million tokens: input, cached input, output).
fn bench_models() -> Vec<(String, [i64; 3])> {
    (0..MODELS)
        .map(|m| {
            let input = [150, 250, 400, 1_000, 2_500, 3_000, 5_000, 10_000, 15_000][m % 9];
            (
                format!("bench-model-{m:02}"),
                [input, input / 10, input * 4],
            )
        })
        .collect()
}

/// Events over the last 90 days in time order, as clients send them: a batch is [`BATCH`]
/// consecutive requests of one project (drawn Zipf-skewed per batch), so each batch covers a
/// short stretch of time, the way an SDK flushes its buffer.
struct Workload {
    rng: StdRng,
    projects: Vec<f64>,
    models: Vec<f64>,
    model_names: Vec<String>,
    prefix: &'static str,
    start: i64,
    step: f64,
    next: usize,
    total: usize,
    dims: Option<DimWorkload>,
}

impl Workload {
    /// `total` requests evenly over the `covering_ms` before `now_ms`.
    fn new(
        seed: u64,
        total: usize,
        now_ms: i64,
        covering_ms: i64,
        prefix: &'static str,
    ) -> Workload {
        let start = now_ms - covering_ms;
        Workload {
            rng: StdRng::seed_from_u64(seed),
            projects: zipf_cumulative(PROJECTS),
            models: zipf_cumulative(MODELS),
            model_names: bench_models().into_iter().map(|(n, _)| n).collect(),
            prefix,
            start,
            step: covering_ms as f64 / total.max(1) as f64,
            next: 0,
            total,
            dims: None,
        }
    }

    /// The same workload with end users and declared metadata keys.
    fn with_dimensions(mut self) -> Workload {
        self.dims = Some(DimWorkload::new());
        self
    }

    fn event(&mut self) -> Generated {
        let rng = &mut self.rng;
        let i = self.next;
        self.next += 1;
        let ts = self.start + ((i as f64 + rng.gen::<f64>()) * self.step) as i64;
        let model = pick(rng, &self.models);
        let input: i64 = rng.gen_range(50..6_000);
        // Log-normal latency: median about 900 ms, a long tail.
        let normal = (-2.0 * rng.gen::<f64>().max(1e-12).ln()).sqrt()
            * (2.0 * std::f64::consts::PI * rng.gen::<f64>()).cos();
        let latency = (900.0 * (0.8 * normal).exp()).clamp(40.0, 120_000.0) as i64;
        let failed = rng.gen_bool(0.02);
        let (user, metadata) = match &self.dims {
            None => (None, None),
            Some(d) => {
                let user = format!("user-{:06}", pick(rng, &d.users));
                let mut meta = serde_json::Map::new();
                for ((key, _), values) in DECLARED.iter().zip(&d.keys) {
                    meta.insert(
                        key.to_string(),
                        format!("{key}-{}", pick(rng, values)).into(),
                    );
                }
                (Some(user), Some(serde_json::Value::Object(meta)))
            }
        };
        let event = Generated {
            user,
            metadata,
            id: format!("{}{:016x}", self.prefix, splitmix64(i as u64)),
            ts_ms: ts,
            timestamp: chrono::DateTime::from_timestamp_millis(ts)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            model: self.model_names[model].clone(),
            input_tokens: input,
            cached_input_tokens: if rng.gen_bool(0.3) { input / 2 } else { 0 },
            output_tokens: if failed { 0 } else { rng.gen_range(1..1_500) },
            latency_ms: latency,
            ttft_ms: latency / 4,
            status: failed.then_some("error"),
            error_type: failed
                .then(|| ["rate_limit_exceeded", "timeout", "server_error"][rng.gen_range(0..3)]),
        };
        event
    }

    /// The next batch: its project, its number of events and its body as `wire` sends it;
    /// `None` when every event has been sent.
    fn next_batch(&mut self, wire: Wire) -> Option<(usize, usize, Vec<u8>)> {
        if self.next >= self.total {
            return None;
        }
        let project = pick(&mut self.rng, &self.projects);
        let n = BATCH.min(self.total - self.next);
        let batch: Vec<Generated> = (0..n).map(|_| self.event()).collect();
        Some((project, n, wire.encode(&batch)))
    }
}

/// How batches go over the wire: our JSON API, or OTLP/HTTP protobuf spans.
#[derive(Clone, Copy)]
enum Wire {
    Json,
    Otlp,
}

impl Wire {
    fn path(self) -> &'static str {
        match self {
            Wire::Json => "/api/v1/events",
            Wire::Otlp => "/v1/traces",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Wire::Json => "application/json",
            Wire::Otlp => "application/x-protobuf",
        }
    }

    fn encode(self, batch: &[Generated]) -> Vec<u8> {
        match self {
            Wire::Json => serde_json::to_vec(batch).unwrap_or_default(),
            Wire::Otlp => otlp_request(batch),
        }
    }
}

/// The requests as GenAI chat spans of an instrumented client, in one protobuf request.
fn otlp_request(batch: &[Generated]) -> Vec<u8> {
    use crate::ingest::otlp::pb;
    use prost::Message;
    let kv = pb::KeyValue::new;
    let spans = (batch.iter())
        .map(|g| {
            let span_id = u64::from_str_radix(&g.id[1..], 16)
                .unwrap_or_default()
                .to_be_bytes();
            let mut attributes = vec![
                kv(
                    "gen_ai.operation.name",
                    pb::Value::StringValue("chat".into()),
                ),
                kv(
                    "gen_ai.provider.name",
                    pb::Value::StringValue("openai".into()),
                ),
                kv(
                    "gen_ai.request.model",
                    pb::Value::StringValue(g.model.clone()),
                ),
                kv(
                    "gen_ai.usage.input_tokens",
                    pb::Value::IntValue(g.input_tokens),
                ),
                kv(
                    "gen_ai.usage.output_tokens",
                    pb::Value::IntValue(g.output_tokens),
                ),
                kv(
                    "gen_ai.usage.cache_read.input_tokens",
                    pb::Value::IntValue(g.cached_input_tokens),
                ),
                kv(
                    "gen_ai.response.time_to_first_chunk",
                    pb::Value::DoubleValue(g.ttft_ms as f64 / 1e3),
                ),
            ];
            if let Some(t) = g.error_type {
                attributes.push(kv("error.type", pb::Value::StringValue(t.into())));
            }
            let start = g.ts_ms as u64 * 1_000_000;
            pb::Span {
                trace_id: [span_id, span_id].concat(),
                span_id: span_id.to_vec(),
                name: format!("chat {}", g.model),
                start_time_unix_nano: start,
                end_time_unix_nano: start + g.latency_ms as u64 * 1_000_000,
                attributes,
                status: None,
            }
        })
        .collect();
    pb::ExportTraceServiceRequest {
        resource_spans: vec![pb::ResourceSpans {
            resource: None,
            scope_spans: vec![pb::ScopeSpans { spans }],
        }],
    }
    .encode_to_vec()
}

/// A bijection of u64 that scatters consecutive numbers (SplitMix64's finaliser): event ids
/// in no useful order, as clients send them (UUIDs, providers' request ids). Sequential ids
/// kept the unique (project_id, client_id) index's inserts on a few pages and flattered
/// SQLite's ingest by ~40 % (docs/performance.md, 2026-12-04).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn median_p95(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.95))
}

/// Runs the benchmark against the empty database at `url`; answers the markdown table.
pub async fn run(url: &str, opts: BenchOptions) -> Result<String, AnyError> {
    let store = Store::connect(Some(url)).await?;
    if opts.panels_only {
        // The ranges end where the previous bench's events do, so that reruns compare.
        let Some(newest) = store.newest_event_ms().await? else {
            return Err("bench --panels-only needs a database a previous bench filled".into());
        };
        let mut rows = time_panels(&store, &opts, newest + 1, false).await?;
        if opts.dimensions {
            rows.extend(time_dimensions(&store, &opts, newest + 1).await?);
        }
        return Ok(table(rows, &store));
    }
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
    for (model, [input, cached, output]) in bench_models() {
        store
            .set_price(&shared::ModelPrice {
                model,
                effective_from_ms: 0,
                input,
                cached_input: cached,
                cache_write: input,
                output,
            })
            .await?;
    }
    if opts.dimensions {
        for (key, _) in DECLARED {
            store.declare_dimension(key, 10, "bench", now).await?;
        }
    }
    let (_, token) = store.create_token("bench", None, "bench").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(store.clone(), Config::default(), crate::leptos_options());
    tokio::spawn(crate::serve(listener, state));

    eprintln!(
        "ingesting {} events over HTTP ({CLIENTS} clients, batches of {BATCH})…",
        opts.events
    );
    let (ingest, tenths) = ingest_over_http(
        opts.events,
        now,
        DAYS_MS,
        &base,
        &keys,
        Wire::Json,
        opts.dimensions,
    )
    .await?;
    let tenths: Vec<String> = tenths.iter().map(|r| format!("{:.0}k", r / 1e3)).collect();
    let mut rows = vec![
        (
            format!("ingest over HTTP, {} events", opts.events),
            format!(
                "{:.1} s, {:.0} events/s",
                ingest.as_secs_f64(),
                opts.events as f64 / ingest.as_secs_f64()
            ),
        ),
        (
            "ingest by tenth of the run (events/s)".into(),
            tenths.join(", "),
        ),
        (
            "process memory (RssAnon) after ingest".into(),
            proc_status_mb("RssAnon"),
        ),
    ];
    let (bytes, events) = (store.bytes_on_disk().await?, opts.events.max(1) as f64);
    rows.push((
        "database on disk (raw events + roll-ups, after a checkpoint)".into(),
        format!(
            "{:.2} GB, {:.0} bytes per event",
            bytes as f64 / 1e9,
            bytes as f64 / events
        ),
    ));
    let spans = (opts.events / 10).max(1_000);
    if opts.ingest_only {
        rows.push(otlp_ingest(&store, (spans, opts.events), now, &base).await?);
        rows.push(reprice_all(&store).await?);
        return Ok(table(rows, &store));
    }

    rows.extend(time_panels(&store, &opts, now, !opts.no_baseline).await?);
    if opts.dimensions {
        rows.extend(time_dimensions(&store, &opts, now).await?);
    }

    // About a million events: the last N days holding them.
    let days = ((DAYS * 1_000_000) as f64 / opts.events.max(1) as f64).ceil() as i64;
    let days = days.clamp(1, DAYS);
    let today = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .date_naive();
    let first = today - chrono::Duration::days(days - 1);
    eprintln!("exporting the last {days} days as CSV…");
    let rss_before = proc_status_mb("VmRSS");
    let anon_before = proc_status_mb("RssAnon");
    // Resets VmHWM to the current size, so the peak below is the export's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let mut res = reqwest::Client::new()
        .get(format!(
            "{base}/api/v1/events/export?startDate={first}&endDate={today}&tz=UTC&format=csv"
        ))
        .bearer_auth(&token)
        .send()
        .await?;
    if !res.status().is_success() {
        return Err(format!("export answered {}", res.status()).into());
    }
    // VmHWM counts the database pages the SQLite export reads through its memory map (page
    // cache the kernel may drop at any time), so the process's own memory, RssAnon, is
    // sampled too: at most every 10 ms, which costs the export nothing measurable.
    let (mut lines, mut bytes) = (0usize, 0usize);
    let (mut anon_peak, mut sampled) = (0.0f64, Instant::now());
    while let Some(chunk) = res.chunk().await? {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        if sampled.elapsed() >= Duration::from_millis(10) {
            anon_peak = anon_peak.max(proc_status_kb("RssAnon").unwrap_or(0.0));
            sampled = Instant::now();
        }
    }
    anon_peak = anon_peak.max(proc_status_kb("RssAnon").unwrap_or(0.0));
    let export = t.elapsed();
    let exported = lines.saturating_sub(1);
    rows.push((
        format!("raw CSV export over HTTP, last {days} days"),
        format!(
            "{exported} events, {:.1} MB in {:.2} s, {:.0} events/s; process memory (RssAnon) \
             {anon_before} before, peak {:.1} MB during; resident with mapped database pages \
             (VmRSS/VmHWM) {rss_before} before, peak {} during",
            bytes as f64 / 1e6,
            export.as_secs_f64(),
            exported as f64 / export.as_secs_f64(),
            anon_peak / 1024.0,
            proc_status_mb("VmHWM"),
        ),
    ));

    let imported = (opts.events / 10).max(1_000);
    eprintln!("importing {imported} events from an NDJSON file…");
    let file = std::env::temp_dir().join(format!("usage-bench-{}.ndjson", std::process::id()));
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        // As densely in time as the HTTP run's events (N/10 events over the last 9 days), as
        // the OTLP run below: spread over 90 days a batch of 5,000 covered 4.5 days and wrote
        // about a roll-up row per event at every level, which measured the sparseness, not
        // import (49k events/s at 1M that way, against 109k over HTTP).
        let covering = DAYS_MS * imported as i64 / opts.events.max(1) as i64;
        let mut w = Workload::new(7, imported, now, covering, "i");
        while w.next < w.total {
            let e = w.event();
            serde_json::to_writer(&mut out, &e)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    store.create_project("bench-import").await?;
    let t = Instant::now();
    // As `usage-analytics import` runs by default.
    let batch = crate::ingest::import::DEFAULT_BATCH;
    let report = crate::ingest::import::import_file(&store, &file, "bench-import", batch).await?;
    let import = t.elapsed();
    let _ = std::fs::remove_file(&file);
    rows.push((
        format!("import of an NDJSON file, {imported} events"),
        format!(
            "{} stored in {:.1} s, {:.0} events/s",
            report.accepted,
            import.as_secs_f64(),
            report.accepted as f64 / import.as_secs_f64()
        ),
    ));
    rows.push(otlp_ingest(&store, (spans, opts.events), now, &base).await?);
    Ok(table(rows, &store))
}

/// Sends `spans` generated requests as GenAI spans over OTLP/HTTP (protobuf) into a project
/// of their own, after everything else was measured, as densely in time as the run's
/// `events`; answers the table row.
async fn otlp_ingest(
    store: &Store,
    (spans, events): (usize, usize),
    now: i64,
    base: &str,
) -> Result<(String, String), AnyError> {
    eprintln!("ingesting {spans} GenAI spans over OTLP/HTTP (protobuf)…");
    store.create_project("bench-otlp").await?;
    let key = store.create_key("bench-otlp").await?.1;
    let keys = vec![key; PROJECTS];
    // As densely in time as the JSON run's events (N/10 spans over the last 9 days): spread
    // over 90 days each batch of 1,000 would cover 21 hours and write nearly a roll-up row
    // per span, which measured the sparseness, not OTLP (48.5k spans/s at 1M that way).
    let covering = DAYS_MS * spans as i64 / events.max(1) as i64;
    let (took, _) = ingest_over_http(spans, now, covering, base, &keys, Wire::Otlp, false).await?;
    Ok((
        format!("OTLP/HTTP protobuf ingest, {spans} model-call spans"),
        format!(
            "{:.1} s, {:.0} spans/s",
            took.as_secs_f64(),
            spans as f64 / took.as_secs_f64()
        ),
    ))
}

/// Times the six panels for each scenario (median and p95 of `opts.runs`), and with
/// `baseline` the same panels straight from raw events.
async fn time_panels(
    store: &Store,
    opts: &BenchOptions,
    now: i64,
    baseline: bool,
) -> Result<Vec<(String, String)>, AnyError> {
    eprintln!("timing the six panels…");
    let mut rows = Vec::new();
    let mut anon_peak = 0.0f64;
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
            // Untimed runs first: a running server's pool connections are open and its
            // statements prepared (on PostgreSQL each connection plans each new statement
            // once), so the first dashboard after start is not what a user waits for.
            for _ in 0..WARM_UP_RUNS {
                query::dashboard(store, &q, now, shared::error_log_page::DASHBOARD).await?;
            }
            let mut samples = Vec::new();
            for _ in 0..opts.runs {
                let t = Instant::now();
                query::dashboard(store, &q, now, shared::error_log_page::DASHBOARD).await?;
                samples.push(t.elapsed());
                anon_peak = anon_peak.max(proc_status_kb("RssAnon").unwrap_or(0.0));
            }
            let (median, p95) = median_p95(samples);
            let mut result = format!("median {median:.1} ms, p95 {p95:.1} ms");
            if baseline {
                let naive = naive_six_panels(store, &q, now).await?;
                result.push_str(&format!(
                    "; raw events {naive:.0} ms ({:.0}× slower)",
                    naive / median
                ));
            }
            rows.push((format!("six panels, {label}, {tz}"), result));
        }
    }
    rows.push((
        "process memory (RssAnon), peak while timing the panels".into(),
        format!("{:.1} MB", anon_peak / 1024.0),
    ));
    Ok(rows)
}

/// Breakdowns and dimension filters over the last 30 days, in UTC and Kolkata (issue 30):
/// medians and p95 of `opts.runs` timed runs after one untimed one.
async fn time_dimensions(
    store: &Store,
    opts: &BenchOptions,
    now: i64,
) -> Result<Vec<(String, String)>, AnyError> {
    use shared::{BreakdownBy, DimFilter, Dimension};
    eprintln!("timing breakdowns and dimension filters…");
    let filter = |dim: Dimension, value: &str| {
        vec![DimFilter {
            dim,
            value: value.into(),
        }]
    };
    let mut rows = Vec::new();
    for tz in ["UTC", "Asia/Kolkata"] {
        let q = UsageQuery {
            range: DateRange::Preset(Period::Last30d),
            tz: tz.into(),
            ..Default::default()
        };
        for by in [Dimension::User, Dimension::Meta("team".into())].map(BreakdownBy::Dim) {
            let mut samples = Vec::new();
            let mut values = 0;
            for run in 0..=opts.runs {
                let t = Instant::now();
                let b = query::breakdown::breakdown(store, &q, &by, 20, now).await?;
                if run > 0 {
                    samples.push(t.elapsed());
                }
                values = b.distinct_values;
            }
            let (median, p95) = median_p95(samples);
            rows.push((
                format!("breakdown by {}, last 30 days, {tz}", by.param()),
                format!("median {median:.1} ms, p95 {p95:.1} ms ({values} values)"),
            ));
        }
        for (label, dims) in [
            ("the top end user", filter(Dimension::User, "user-000000")),
            (
                "a rare end user (user-001000)",
                filter(Dimension::User, "user-001000"),
            ),
            (
                "the top team",
                filter(Dimension::Meta("team".into()), "team-0"),
            ),
        ] {
            let q = UsageQuery { dims, ..q.clone() };
            let mut samples = Vec::new();
            for run in 0..=opts.runs {
                let t = Instant::now();
                query::dashboard(store, &q, now, shared::error_log_page::DASHBOARD).await?;
                if run > 0 {
                    samples.push(t.elapsed());
                }
            }
            let (median, p95) = median_p95(samples);
            rows.push((
                format!("six panels filtered by {label}, last 30 days, {tz}"),
                format!("median {median:.1} ms, p95 {p95:.1} ms"),
            ));
        }
    }
    Ok(rows)
}

/// The measurements, and the machine they ran on, as one markdown table.
/// Re-prices every stored event after the most used model's price doubles (from the
/// start), as `prices reprice` does: events looked at and re-priced per second.
async fn reprice_all(store: &Store) -> Result<(String, String), AnyError> {
    let (model, [input, cached, output]) = bench_models().swap_remove(0);
    store
        .set_price(&shared::ModelPrice {
            model,
            effective_from_ms: 0,
            input: input * 2,
            cached_input: cached * 2,
            cache_write: input * 2,
            output: output * 2,
        })
        .await?;
    eprintln!("re-pricing every stored event…");
    let t = Instant::now();
    let run = crate::pricing::reprice::start(store, "bench", 0, None, 0).await?;
    let done = crate::admin::run_reprice(
        store,
        run.id,
        crate::pricing::reprice::DEFAULT_BATCH,
        None,
        |_| {},
    )
    .await?;
    let secs = t.elapsed().as_secs_f64();
    Ok((
        format!(
            "re-price every event after one model's price changed ({} looked at, {} changed)",
            done.events_seen, done.events_changed
        ),
        format!(
            "{secs:.1} s, {:.0} events/s looked at, {:.0} re-priced/s",
            done.events_seen as f64 / secs,
            done.events_changed as f64 / secs
        ),
    ))
}

fn table(mut rows: Vec<(String, String)>, store: &Store) -> String {
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
    let mut out = String::from("| measurement | result |\n|---|---|\n");
    for (k, v) in rows {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    out
}

/// Sends `events` generated requests to the ingest API from [`CLIENTS`] concurrent clients;
/// answers the time from the first request to the last answer, and the rate of each tenth of
/// the events (so a slow-down as the database grows shows). One thread generates and
/// serialises the batches (on this machine, as a real client would), a little ahead.
async fn ingest_over_http(
    events: usize,
    now: i64,
    covering_ms: i64,
    base: &str,
    keys: &[String],
    wire: Wire,
    dimensions: bool,
) -> Result<(Duration, Vec<f64>), AnyError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<(usize, usize, Vec<u8>)>(4 * CLIENTS);
    let producer = tokio::task::spawn_blocking(move || {
        let (seed, prefix) = match wire {
            Wire::Json => (2026, "b"),
            Wire::Otlp => (28, "o"),
        };
        let mut w = Workload::new(seed, events, now, covering_ms, prefix);
        if dimensions {
            w = w.with_dimensions();
        }
        while let Some(batch) = w.next_batch(wire) {
            if tx.blocking_send(batch).is_err() {
                break;
            }
        }
    });
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let keys = Arc::new(keys.to_vec());
    let started = Instant::now();
    // Events stored so far, and when each tenth of them was reached.
    let progress = Arc::new(std::sync::Mutex::new((0usize, Vec::<Duration>::new())));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (rx, keys, base) = (rx.clone(), keys.clone(), base.to_string());
        let progress = progress.clone();
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let next = rx.lock().await.recv().await;
                let Some((p, n, body)) = next else { break };
                let res = http
                    .post(format!("{base}{}", wire.path()))
                    .bearer_auth(&keys[p])
                    .header("content-type", wire.content_type())
                    .body(body)
                    .send()
                    .await?;
                if !res.status().is_success() {
                    return Err(format!("ingest answered {}", res.status()).into());
                }
                let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
                p.0 += n;
                while p.1.len() < 10 && p.0 * 10 >= events * (p.1.len() + 1) {
                    p.1.push(started.elapsed());
                }
            }
            Ok::<(), AnyError>(())
        }));
    }
    for c in clients {
        c.await??;
    }
    producer.await?;
    let elapsed = started.elapsed();
    let marks = progress.lock().unwrap_or_else(|e| e.into_inner()).1.clone();
    let tenth = events as f64 / 10.0;
    let rates = (marks.iter().enumerate())
        .map(|(i, t)| {
            let before = if i == 0 { Duration::ZERO } else { marks[i - 1] };
            tenth / (*t - before).as_secs_f64().max(1e-9)
        })
        .collect();
    Ok((elapsed, rates))
}

/// A `/proc/self/status` size line (`VmRSS`, `VmHWM`, `RssAnon`) in MB.
fn proc_status_mb(field: &str) -> String {
    proc_status_kb(field)
        .map(|kb| format!("{:.1} MB", kb / 1024.0))
        .unwrap_or_else(|| "unknown".into())
}

/// A `/proc/self/status` size line in kB.
fn proc_status_kb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
