//! The one error answer of every JSON route, and how each layer's error becomes one: the
//! status says whose fault it was, the body says which field and why.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::{ApiError, Problem};

use crate::access::Forbidden;
use crate::export::ExportError;
use crate::query::QueryError;
use crate::store::StoreError;

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

    /// Asks the client to retry after `secs` seconds (429, 503).
    pub fn retry_after(mut self, secs: u64) -> HttpError {
        self.retry_after = Some(secs);
        self
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

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage is unavailable; nothing of this request was stored, retry later",
        )
        .retry_after(5)
    }
}

/// A 400 naming the parameter and why it was refused.
pub fn bad_param(param: &str, reason: impl Into<String>) -> HttpError {
    HttpError::with_problems(
        StatusCode::BAD_REQUEST,
        format!("invalid parameter {param}"),
        vec![Problem {
            index: None,
            field: param.into(),
            reason: reason.into(),
        }],
    )
}

impl From<QueryError> for HttpError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::BadParam { param, reason } => bad_param(param, reason),
            QueryError::Store(s) => s.into(),
        }
    }
}

impl From<ExportError> for HttpError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Query(q) => q.into(),
            ExportError::UnknownTable(t) => bad_param(
                "table",
                format!("{t:?} is not one of {}", shared::Panel::table_names()),
            ),
            other => {
                tracing::error!(error = %other, "export failed");
                HttpError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the export could not be written",
                )
            }
        }
    }
}

impl From<Forbidden> for HttpError {
    fn from(e: Forbidden) -> Self {
        HttpError::new(StatusCode::FORBIDDEN, e.0)
    }
}
