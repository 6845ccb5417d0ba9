//! `POST /v1/traces`: OTLP/HTTP, so an OpenTelemetry exporter pointed at the server
//! (`OTEL_EXPORTER_OTLP_ENDPOINT=http://host:3000`, the ingest key in
//! `OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<key>`) sends usage events.
//!
//! Answers as OTLP/HTTP says: 200 with an `ExportTraceServiceResponse` in the request's
//! encoding, with `partial_success` when some model-call spans were refused (the others are
//! stored); 400 for a body that does not decode; 401, 413, 415; 429 and 503 with
//! `Retry-After`, which exporters retry.

use std::io::Read;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::HttpError;
use super::ingest::bearer;
use super::AppState;
use crate::ingest::otlp;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// `POST /v1/traces`.
pub async fn traces(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match traces_inner(&state, &headers, body).await {
        Ok(response) => response,
        Err((reason, e)) => {
            state.metrics.rejected(reason, 0);
            e.into_response()
        }
    }
}

async fn traces_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, (&'static str, HttpError)> {
    let unauthorized = || {
        (
            "unauthorized",
            HttpError::new(
                StatusCode::UNAUTHORIZED,
                "a valid ingest key is required: Authorization: Bearer <key> \
                 (OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<key>)",
            ),
        )
    };
    // The body is read before anything is refused: answering while the exporter is still
    // sending makes it see a broken connection instead of the answer.
    let limit = state.config.max_body_bytes;
    let too_large = || {
        (
            "too_large",
            HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {limit} bytes (after decompression); send smaller batches"),
            ),
        )
    };
    let raw = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let key = bearer(headers).ok_or_else(unauthorized)?;
    let (project_id, key_id) = (state.store.authenticate_key(key).await)
        .map_err(|e| ("storage", HttpError::from(e)))?
        .ok_or_else(unauthorized)?;
    let content_type = (headers.get(header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let protobuf = match content_type.as_str() {
        PROTOBUF => true,
        JSON => false,
        other => {
            return Err((
                "unsupported_media_type",
                HttpError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("content-type {other:?} is not supported; send {PROTOBUF} or {JSON}"),
                ),
            ))
        }
    };
    let encoding = (headers.get(header::CONTENT_ENCODING))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "identity" | "" => raw.to_vec(),
        "gzip" => inflate(&raw, limit).map_err(|e| match e {
            Inflate::TooLarge => too_large(),
            Inflate::Corrupt(why) => (
                "malformed",
                HttpError::new(
                    StatusCode::BAD_REQUEST,
                    format!("the gzip body is corrupt: {why}"),
                ),
            ),
        })?,
        other => {
            return Err((
                "unsupported_media_type",
                HttpError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("content-encoding {other:?} is not supported; send gzip or none"),
                ),
            ))
        }
    };
    let decoded = if protobuf {
        otlp::decode_protobuf(&bytes)
    } else {
        otlp::decode_json(&bytes)
    }
    .map_err(|why| ("malformed", HttpError::new(StatusCode::BAD_REQUEST, why)))?;
    let now = chrono::Utc::now().timestamp_millis();
    let mapped = otlp::map(&decoded, now);
    state.metrics.otlp_spans_skipped(mapped.skipped);
    // Limits count model calls: a Collector's batch of thousands of spans is mostly others.
    let max = state.config.max_batch_events;
    if mapped.events.len() > max {
        return Err((
            "too_many_events",
            HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "{} model-call spans in one request; at most {max} allowed",
                    mapped.events.len()
                ),
            ),
        ));
    }
    if !mapped.events.is_empty() {
        let prefix = crate::access::secrets::prefix_of(key).unwrap_or(key);
        if let Err(wait) = state.ingest_limit.take(prefix, mapped.events.len()) {
            let secs = wait.as_secs() + 1;
            let e = HttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this key sends more than {} events per second; retry after {secs} s",
                    state.config.ingest_events_per_sec
                ),
            )
            .retry_after(secs);
            return Err(("rate_limited", e));
        }
        super::ingest::count_invalid_dimensions(state, &mapped.events).await;
        let counts =
            crate::ingest::submit_through(&state.store, project_id, Some(key_id), &mapped.events)
                .await
                .map_err(|e| ("storage", HttpError::from(e)))?;
        state.metrics.ingested(counts.accepted, counts.duplicates);
    }
    if !mapped.rejected.is_empty() {
        state
            .metrics
            .rejected("invalid_span", mapped.rejected.len() as u64);
    }
    Ok(if protobuf {
        let body = otlp::encode_protobuf_response(&mapped.rejected);
        ([(header::CONTENT_TYPE, PROTOBUF)], body).into_response()
    } else {
        axum::Json(otlp::json_response(&mapped.rejected)).into_response()
    })
}

enum Inflate {
    TooLarge,
    Corrupt(String),
}

/// Inflates a gzip body, stopping as soon as it passes `limit` bytes (a small body can
/// inflate to gigabytes).
fn inflate(gz: &[u8], limit: usize) -> Result<Vec<u8>, Inflate> {
    let mut out = Vec::new();
    let mut reader = flate2::read::GzDecoder::new(gz).take(limit as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|e| Inflate::Corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(Inflate::TooLarge);
    }
    Ok(out)
}
