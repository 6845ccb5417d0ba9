//! The JSON HTTP API: ingest (`POST /api/v1/events`) and health probes.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use shared::{ApiError, Problem};

use crate::ingest::{split_body, validate_batch, BodyFormat};
use crate::AppState;

/// Routes of the JSON API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", post(ingest))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/api/v1/live", get(crate::live::sse))
}

/// An error answer: status plus a JSON [`ApiError`].
#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    body: ApiError,
    /// Seconds for a `Retry-After` header (429, 503).
    retry_after: Option<u64>,
}

impl HttpError {
    /// An error without per-field problems.
    pub fn new(status: StatusCode, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            body: ApiError {
                error: message.into(),
                problems: Vec::new(),
            },
            retry_after: None,
        }
    }
}

impl HttpError {
    /// An error listing the problems found.
    pub fn with_problems(
        status: StatusCode,
        message: impl Into<String>,
        problems: Vec<Problem>,
    ) -> HttpError {
        HttpError {
            status,
            body: ApiError {
                error: message.into(),
                problems,
            },
            retry_after: None,
        }
    }

    /// The JSON body this error answers with.
    pub fn body(&self) -> &ApiError {
        &self.body
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        res
    }
}

impl From<crate::store::StoreError> for HttpError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        let mut e = HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage is unavailable; nothing of this request was stored, retry later",
        );
        e.retry_after = Some(5);
        e
    }
}

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

async fn ingest(
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
    let project_id = state
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
    let prefix = crate::keys::prefix_of(key).unwrap_or(key);
    if let Err(wait) = state.ingest_limit.take(prefix, events.len()) {
        let secs = wait.as_secs() + 1;
        let mut e = HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this key sends more than {} events per second; nothing of this batch was \
                 stored, retry after {secs} s",
                state.config.ingest_events_per_sec
            ),
        );
        e.retry_after = Some(secs);
        return Err(("rate_limited", n, e));
    }
    let counts = state
        .store
        .ingest(project_id, &events)
        .await
        .map_err(|e| ("storage", n, HttpError::from(e)))?;
    state.metrics.ingested(counts.accepted, counts.duplicates);
    // The batch is stored and acknowledged either way: a failed budget check is retried by
    // the next batch of the period (alerts are recorded from totals, not from this batch).
    if let Err(e) = crate::budgets::after_ingest(&state.store, project_id, &events).await {
        tracing::error!(error = %e, "budget check after ingest failed");
    }
    Ok(Json(counts).into_response())
}

fn invalid(problems: Vec<Problem>) -> HttpError {
    HttpError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: ApiError {
            error: format!(
                "the batch was refused and nothing was stored: {} problem(s)",
                problems.len()
            ),
            problems,
        },
        retry_after: None,
    }
}

async fn ready(State(state): State<AppState>) -> Result<&'static str, HttpError> {
    state.store.ping().await?;
    Ok("ready")
}
