//! Prometheus metrics at `GET /metrics`: ingest counts, rejected events by reason, and
//! request latency per route. Counters are per process (each replica is scraped on its own)
//! and carry no project names, so the endpoint reveals nothing of anyone's usage.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Upper bounds (seconds) of the latency histogram buckets.
const BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Latency {
    buckets: [u64; BOUNDS.len()],
    count: u64,
    sum: f64,
}

/// The process' counters.
#[derive(Default)]
pub struct Metrics {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    /// OTLP spans that were no model calls (HTTP, database, agent, tool spans …).
    otlp_skipped: AtomicU64,
    /// Values of declared metadata keys that are no dimension value (stored as sent).
    dimension_invalid: AtomicU64,
    /// Rejected ingest requests' events by reason (a refused batch counts its events when
    /// they could be counted, else 1).
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    latency: Mutex<BTreeMap<(String, String, u16), Latency>>,
}

impl Metrics {
    /// Counts a stored batch.
    pub fn ingested(&self, accepted: u64, duplicates: u64) {
        self.accepted.fetch_add(accepted, Ordering::Relaxed);
        self.duplicates.fetch_add(duplicates, Ordering::Relaxed);
    }

    /// Counts OTLP spans skipped as no model calls.
    pub fn otlp_spans_skipped(&self, spans: u64) {
        self.otlp_skipped.fetch_add(spans, Ordering::Relaxed);
    }

    /// Counts values of declared metadata keys that are no dimension value.
    pub fn dimension_values_invalid(&self, values: u64) {
        self.dimension_invalid.fetch_add(values, Ordering::Relaxed);
    }

    /// Counts `events` refused for `reason`.
    pub fn rejected(&self, reason: &'static str, events: u64) {
        let mut r = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
        *r.entry(reason).or_default() += events.max(1);
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut l = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = l
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        for (b, bound) in h.buckets.iter_mut().zip(BOUNDS) {
            if seconds <= bound {
                *b += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, counter) in [
            (
                "ua_ingest_events_total",
                "Events stored by ingest.",
                &self.accepted,
            ),
            (
                "ua_ingest_duplicates_total",
                "Events ignored as already stored.",
                &self.duplicates,
            ),
            (
                "ua_otlp_spans_skipped_total",
                "OTLP spans that were no model calls.",
                &self.otlp_skipped,
            ),
            (
                "ua_dimension_values_invalid_total",
                "Values of declared metadata keys that are no string or number of at most 128 characters (events stored as sent).",
                &self.dimension_invalid,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP ua_ingest_rejected_total Events (or requests) refused by ingest, by reason."
        );
        let _ = writeln!(out, "# TYPE ua_ingest_rejected_total counter");
        for (reason, n) in self
            .rejected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(out, "ua_ingest_rejected_total{{reason=\"{reason}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP ua_http_request_duration_seconds Time to answer a request (until headers)."
        );
        let _ = writeln!(out, "# TYPE ua_http_request_duration_seconds histogram");
        for ((method, route, status), h) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (n, bound) in h.buckets.iter().zip(BOUNDS) {
                let _ = writeln!(
                    out,
                    "ua_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "ua_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "ua_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "ua_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

/// Times every request by its route pattern (never the raw path, which would let clients
/// create unbounded label sets).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/pkg/") {
                "/pkg/*".into()
            } else {
                "other".into()
            }
        });
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    state.metrics.observe(
        &method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

/// `GET /metrics`.
pub async fn endpoint(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
