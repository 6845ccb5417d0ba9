//! Ingest over HTTP (`POST /api/v1/events`) and the readiness probe.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::Problem;

use super::error::HttpError;
use super::AppState;
use crate::ingest::{split_body, validate_batch, BodyFormat};

/// The token of an `Authorization: Bearer …` header (ingest keys and read tokens).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn body_format(headers: &HeaderMap) -> Result<BodyFormat, HttpError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(BodyFormat::Json);
    };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim();
    match essence {
        "application/json" | "" => Ok(BodyFormat::Json),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
            Ok(BodyFormat::Ndjson)
        }
        other => Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content-type {other:?} is not supported; send application/json or application/x-ndjson"),
        )),
    }
}

/// `POST /api/v1/events`: one batch of one project (the key's), stored whole or not at all.
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let result = ingest_inner(&state, &headers, body).await;
    if let Err((reason, events, _)) = &result {
        state.metrics.rejected(reason, *events);
    }
    result.map_err(|(_, _, e)| e)
}

/// A refused ingest request: the metrics reason, how many events it held (0 if unknown),
/// and the answer.
type Refusal = (&'static str, u64, HttpError);

async fn ingest_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let unauthorized = || {
        (
            "unauthorized",
            0,
            HttpError::new(
                StatusCode::UNAUTHORIZED,
                "a valid ingest key is required: Authorization: Bearer <key>",
            ),
        )
    };
    let storage = |e: crate::store::StoreError| ("storage", 0, HttpError::from(e));
    let key = bearer(headers).ok_or_else(unauthorized)?;
    let (project_id, key_id) = state
        .store
        .authenticate_key(key)
        .await
        .map_err(storage)?
        .ok_or_else(unauthorized)?;
    let format = body_format(headers).map_err(|e| ("unsupported_media_type", 0, e))?;
    let limit = state.config.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        (
            "too_large",
            0,
            HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {limit} bytes; send smaller batches"),
            ),
        )
    })?;
    let items = split_body(&bytes, format).map_err(|p| ("malformed", 0, invalid(vec![p])))?;
    let n = items.len() as u64;
    let max = state.config.max_batch_events;
    if items.len() > max {
        return Err((
            "too_many_events",
            n,
            HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{} events in one batch; at most {max} allowed", items.len()),
            ),
        ));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let events = validate_batch(&items, now).map_err(|p| ("invalid", n, invalid(p)))?;
    let prefix = crate::access::secrets::prefix_of(key).unwrap_or(key);
    if let Err(wait) = state.ingest_limit.take(prefix, events.len()) {
        let secs = wait.as_secs() + 1;
        let e = HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this key sends more than {} events per second; nothing of this batch was \
                 stored, retry after {secs} s",
                state.config.ingest_events_per_sec
            ),
        )
        .retry_after(secs);
        return Err(("rate_limited", n, e));
    }
    count_invalid_dimensions(state, &events).await;
    let counts = crate::ingest::submit_through(&state.store, project_id, Some(key_id), &events)
        .await
        .map_err(|e| ("storage", n, HttpError::from(e)))?;
    state.metrics.ingested(counts.accepted, counts.duplicates);
    Ok(Json(counts).into_response())
}

fn invalid(problems: Vec<Problem>) -> HttpError {
    HttpError::with_problems(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "the batch was refused and nothing was stored: {} problem(s)",
            problems.len()
        ),
        problems,
    )
}

/// `GET /readyz`: the database answers.
pub async fn ready(State(state): State<AppState>) -> Result<&'static str, HttpError> {
    state.store.ping().await?;
    Ok("ready")
}

/// Counts the invalid values of declared metadata keys in a batch (`/metrics`); the events
/// are stored as they are. A failure to read the declared keys only skips the count.
pub(super) async fn count_invalid_dimensions(state: &AppState, events: &[shared::UsageEvent]) {
    match state.store.declared_dimensions().await {
        Ok(declared) if !declared.is_empty() => {
            let keys: Vec<String> = declared.into_iter().map(|d| d.key).collect();
            let n = crate::ingest::dimensions::count_invalid(events, &keys);
            state.metrics.dimension_values_invalid(n);
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "reading the declared dimensions"),
    }
}
