//! The read API: the seed's action API (`/api/usage?action=…`) and the versioned
//! `/api/v1/usage/…`, both answered by the query layer.
//!
//! Money is reported twice: integer nano-USD (`…Nanos`, exact) and a USD number beside it
//! (`totalCost`, `cost`, as the seed's interfaces name them).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use shared::{
    error_log_page, BreakdownBy, DateRange, DimFilter, Dimension, EventStatus, Panel, Period,
    UsageQuery,
};

use super::error::{bad_param, HttpError};
use super::panels::{self, LogPage};
use super::AppState;
use crate::access::Principal;
use crate::alerting::{budgets, rules};
use crate::export::{self, RawFormat};
use crate::query;

/// Query parameters as sent, in order (repeated names allowed).
type Params = Vec<(String, String)>;

fn parse_params(raw: Option<String>) -> Result<Params, HttpError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| bad_param("query", format!("cannot be decoded: {e}")))
}

/// The filter fields shared by the GET parameters and the seed's POST body.
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FilterBody {
    period: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    model: Option<Value>,
    project_id: Option<Value>,
    tz: Option<String>,
    status: Option<String>,
    /// Dimension filters (`user`, `key`, `provider`, `meta.<key>`); query parameters only.
    #[serde(skip)]
    dims: Vec<DimFilter>,
}

/// Values of a filter that may be given once, repeated, comma-separated, or as `all`.
fn list(values: impl IntoIterator<Item = String>) -> Vec<String> {
    values
        .into_iter()
        .flat_map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("all"))
        .collect()
}

fn json_list(v: Option<Value>, param: &str) -> Result<Vec<String>, HttpError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(list([s])),
        Some(Value::Number(n)) => Ok(vec![n.to_string()]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(bad_param(
                    param,
                    "must be a string, a number or a list of them",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(list),
        Some(_) => Err(bad_param(
            param,
            "must be a string, a number or a list of them",
        )),
    }
}

impl FilterBody {
    fn from_params(params: &Params) -> Result<FilterBody, HttpError> {
        let one = |name: &str| -> Result<Option<String>, HttpError> {
            let mut found = params
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone());
            let first = found.next();
            if found.next().is_some() {
                return Err(bad_param(name, "is given more than once"));
            }
            Ok(first.filter(|v| !v.is_empty()))
        };
        let many = |name: &str| {
            let values: Vec<Value> = params
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| Value::String(v.clone()))
                .collect();
            (!values.is_empty()).then_some(Value::Array(values))
        };
        Ok(FilterBody {
            period: one("period")?,
            start_date: one("startDate")?,
            end_date: one("endDate")?,
            model: many("model"),
            project_id: many("projectId"),
            tz: one("tz")?,
            status: one("status")?,
            dims: dims_from_params(params)?,
        })
    }

    /// Builds the typed query for `who`; project ids are turned into names, and the query
    /// is limited to the projects `who` may see.
    async fn into_query(self, state: &AppState, who: &Principal) -> Result<UsageQuery, HttpError> {
        let mut q = self.into_query_as_sent()?;
        let wanted = std::mem::take(&mut q.projects);
        let mut projects = Vec::new();
        if !wanted.is_empty() {
            let known = state.store.list_projects().await?;
            for w in wanted {
                let by_id = w
                    .parse::<i64>()
                    .ok()
                    .and_then(|id| known.iter().find(|p| p.id == id));
                match by_id.or_else(|| known.iter().find(|p| p.name == w)) {
                    Some(p) if crate::access::may_see_project(who, p.id) => {
                        projects.push(p.name.clone())
                    }
                    // Whether it exists is not told to someone who may not see it.
                    Some(_) | None if who.project_ids.is_some() => {
                        return Err(crate::access::Forbidden(format!(
                            "you may not see project {w:?}; ask an admin for access"
                        ))
                        .into())
                    }
                    _ => return Err(bad_param("projectId", format!("no project {w:?}"))),
                }
            }
        }
        q.projects = projects;
        let q = crate::access::scope_query(who, q)?;
        query::check_models_visible(&state.store, who, &q).await?;
        Ok(q)
    }

    /// The typed query with `projects` as sent (ids or names): everything but the store
    /// lookup and scoping of [`FilterBody::into_query`].
    fn into_query_as_sent(self) -> Result<UsageQuery, HttpError> {
        let range = match (self.start_date, self.end_date) {
            (Some(start), Some(end)) => DateRange::Custom { start, end },
            (Some(_), None) => return Err(bad_param("endDate", "is required with startDate")),
            (None, Some(_)) => return Err(bad_param("startDate", "is required with endDate")),
            (None, None) => match self.period.as_deref() {
                None => DateRange::Preset(Period::default()),
                Some(p) => DateRange::Preset(Period::parse(p).ok_or_else(|| {
                    bad_param("period", format!("{p:?} is not one of 24h, 7d, 30d, 90d"))
                })?),
            },
        };
        let status = match self.status.as_deref() {
            None | Some("all") => None,
            Some("success") => Some(EventStatus::Success),
            Some("error") => Some(EventStatus::Error),
            Some(s) => {
                return Err(bad_param(
                    "status",
                    format!("{s:?} is not success, error or all"),
                ))
            }
        };
        let projects = json_list(self.project_id, "projectId")?;
        Ok(UsageQuery {
            range,
            tz: self.tz.unwrap_or_else(|| "UTC".into()),
            models: json_list(self.model, "model")?,
            projects,
            status,
            dims: self.dims,
        })
    }
}

/// The dimension filters among query parameters: `user`, `key`, `provider` and `meta.<key>`
/// (the query layer checks them: once each, 1 to 128 characters, declared keys).
fn dims_from_params(params: &Params) -> Result<Vec<DimFilter>, HttpError> {
    let mut dims = Vec::new();
    for (name, value) in params {
        match Dimension::parse(name) {
            Some(dim) => dims.push(DimFilter {
                dim,
                value: value.clone(),
            }),
            None if name.starts_with("meta.") => {
                return Err(bad_param(name, "names no metadata key (meta.<key>)"))
            }
            None => {}
        }
    }
    Ok(dims)
}

/// Adds a USD number beside every `…Nanos` / `…nanos` field, recursively.
pub fn with_usd(v: Value) -> Value {
    match v {
        Value::Object(obj) => {
            let mut out = Map::new();
            for (k, v) in obj {
                if let (Some(stem), Some(n)) = (k.strip_suffix("Nanos"), v.as_i64()) {
                    out.insert(stem.to_string(), json!(n as f64 / 1e9));
                }
                out.insert(k, with_usd(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(with_usd).collect()),
        other => other,
    }
}

/// Answers one panel of the read API (`dashboard`: the query's panels at once).
async fn panel(
    state: &AppState,
    who: &Principal,
    name: &str,
    q: &UsageQuery,
    params: &Params,
) -> Result<Value, HttpError> {
    let store = &state.store;
    let now = chrono::Utc::now().timestamp_millis();
    if name == "dashboard" {
        return Ok(with_usd(json!(
            query::dashboard(store, q, now, error_log_page::REST).await?
        )));
    }
    if name == "breakdown" {
        let Some(by) = by_param(params)? else {
            return Err(bad_param(
                "by",
                format!("is required: {}", BreakdownBy::NAMES),
            ));
        };
        let limit = match param(params, "limit") {
            None => query::breakdown::DEFAULT_LIMIT,
            Some(l) => l
                .parse()
                .map_err(|_| bad_param("limit", format!("{l:?} is not a whole number")))?,
        };
        let b = query::breakdown::breakdown(store, q, &by, limit, now).await?;
        return Ok(with_usd(json!(b)));
    }
    let Some(panel) = Panel::from_name(name) else {
        return Err(bad_param(
            "action",
            format!(
                "{name:?} is not one of {}, dashboard, breakdown",
                Panel::names()
            ),
        ));
    };
    // `limit` and `before` page the error log; other panels ignore them.
    let limit = match param(params, "limit") {
        Some(l) if panel == Panel::Errors => l
            .parse()
            .map_err(|_| bad_param("limit", format!("{l:?} is not a whole number")))?,
        _ => error_log_page::REST,
    };
    let log = LogPage {
        before: param(params, "before"),
        limit,
    };
    let data = panels::answer(store, who, panel, q, now, log).await?;
    Ok(with_usd(panels::to_json(&data)))
}

/// `GET /api/v1/usage/{panel}`: one panel's answer for the query parameters.
pub async fn v1_get(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, HttpError> {
    let params = parse_params(raw)?;
    let q = FilterBody::from_params(&params)?
        .into_query(&state, &who)
        .await?;
    Ok(Json(panel(&state, &who, &name, &q, &params).await?))
}

/// The dimension named by `by=`, if given.
fn by_param(params: &Params) -> Result<Option<BreakdownBy>, HttpError> {
    match param(params, "by") {
        None => Ok(None),
        Some(b) => BreakdownBy::parse(b)
            .map(Some)
            .ok_or_else(|| bad_param("by", format!("{b:?} is not one of {}", BreakdownBy::NAMES))),
    }
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn attachment(content_type: &str, file: &str, body: impl Into<Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body.into(),
    )
        .into_response()
}

/// The dashboard's tables as a workbook (`format=xlsx`, the default) or one CSV table
/// (`format=csv&table=daily`, the default table).
async fn export(state: &AppState, q: &UsageQuery, params: &Params) -> Result<Response, HttpError> {
    let now = chrono::Utc::now().timestamp_millis();
    match param(params, "format").unwrap_or("xlsx") {
        "xlsx" => {
            let by = by_param(params)?;
            let (file, bytes) = export::xlsx(&state.store, q, by.as_ref(), now).await?;
            Ok(attachment(XLSX_TYPE, &file, bytes))
        }
        "csv" => {
            let table = param(params, "table").unwrap_or("daily");
            let (file, bytes) = export::csv_table(&state.store, q, now, table).await?;
            Ok(attachment("text/csv; charset=utf-8", &file, bytes))
        }
        other => Err(bad_param("format", format!("{other:?} is not xlsx or csv"))),
    }
}

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `GET /api/v1/usage/export`: the dashboard's tables as a workbook or one CSV table.
pub async fn v1_export(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, HttpError> {
    let params = parse_params(raw)?;
    let q = FilterBody::from_params(&params)?
        .into_query(&state, &who)
        .await?;
    export(&state, &q, &params).await
}

/// Streams the raw events of a query as CSV or NDJSON: rows are read and sent as they come,
/// so memory stays flat whatever the size. A storage failure mid-way aborts the response
/// (the client sees a broken transfer, never a silently short file).
pub async fn raw_export(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, HttpError> {
    let params = parse_params(raw)?;
    let format = match param(&params, "format").unwrap_or("csv") {
        "csv" => RawFormat::Csv,
        "ndjson" => RawFormat::Ndjson,
        other => {
            return Err(bad_param(
                "format",
                format!("{other:?} is not csv or ndjson"),
            ))
        }
    };
    let q = FilterBody::from_params(&params)?
        .into_query(&state, &who)
        .await?;
    let now = chrono::Utc::now().timestamp_millis();
    let r = query::resolve(&state.store, &q, now).await?;
    let raw_from = state
        .store
        .raw_deleted_before()
        .await
        .map_err(query::QueryError::from)?
        .filter(|from| r.filter.start_bucket * 1000 < *from);
    // Chunks of formatted events: a few in flight keep memory flat.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let write = match format {
        RawFormat::Csv => export::write_csv_event,
        RawFormat::Ndjson => export::write_ndjson_event,
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let store = state.store.clone();
    let filter = r.filter.clone();
    tokio::spawn(async move {
        let result = store
            .stream_events(
                &filter,
                filter.start_bucket * 1000,
                filter.end_bucket * 1000,
                write,
                tx,
            )
            .await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "raw export failed");
        }
        let _ = done_tx.send(result.is_ok());
    });
    let header = (format == RawFormat::Csv).then(export::raw_csv_header);
    let stream = futures::stream::unfold(
        (rx, header, Some(done_rx)),
        move |(mut rx, header, done)| async move {
            if let Some(h) = header {
                return Some((Ok(bytes::Bytes::from(h)), (rx, None, done)));
            }
            let Some(chunk) = rx.recv().await else {
                // The producer finished: end cleanly only if it succeeded.
                let ok = match done {
                    Some(d) => d.await.unwrap_or(false),
                    None => return None,
                };
                return (!ok).then(|| {
                    (
                        Err(std::io::Error::other("storage failed during the export")),
                        (rx, None, None),
                    )
                });
            };
            Some((Ok(bytes::Bytes::from(chunk)), (rx, None, done)))
        },
    );
    let (ext, content_type) = match format {
        RawFormat::Csv => ("csv", "text/csv; charset=utf-8"),
        RawFormat::Ndjson => ("ndjson", "application/x-ndjson"),
    };
    let file = format!("{}_events.{ext}", export::file_stem(&r));
    let mut res = attachment(content_type, &file, Body::from_stream(stream));
    if let Some(from) = raw_from {
        // The range reaches back before the raw events kept: say so (the file cannot).
        let at = chrono::DateTime::from_timestamp_millis(from)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        if let Ok(v) = axum::http::HeaderValue::from_str(&at) {
            res.headers_mut().insert("x-raw-events-from", v);
        }
    }
    Ok(res)
}

fn envelope(data: Value, message: Option<&str>) -> Response {
    let mut body = json!({"success": true, "data": data});
    if let Some(m) = message {
        body["message"] = json!(m);
    }
    Json(body).into_response()
}

/// `GET /api/usage?action=…`: the seed's action API, answered as `{success, data}`.
pub async fn seed_get(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, HttpError> {
    let params = parse_params(raw)?;
    let action = params
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| bad_param("action", "is required"))?;
    let q = FilterBody::from_params(&params)?
        .into_query(&state, &who)
        .await?;
    if action == "export" {
        return export(&state, &q, &params).await;
    }
    Ok(envelope(
        panel(&state, &who, &action, &q, &params).await?,
        None,
    ))
}

/// `POST /api/usage?action=filter|refresh`: the seed's filter body.
pub async fn seed_post(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<Response, HttpError> {
    let params = parse_params(raw)?;
    let action = params
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str());
    let filter: FilterBody = if body.iter().all(u8::is_ascii_whitespace) {
        FilterBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| bad_param("body", e.to_string()))?
    };
    let q = filter.into_query(&state, &who).await?;
    match action {
        Some("refresh") => Ok(envelope(
            panel(&state, &who, "dashboard", &q, &params).await?,
            Some("Usage data refreshed"),
        )),
        Some("filter") => Ok(envelope(
            panel(&state, &who, "dashboard", &q, &params).await?,
            None,
        )),
        Some(other) => Err(bad_param(
            "action",
            format!("{other:?} is not refresh or filter"),
        )),
        None => Err(bad_param("action", "is required")),
    }
}

/// `GET /api/v1/openapi.json`: the API's OpenAPI document.
pub async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

/// `GET /api/v1/budgets`: every budget the caller may see with this period's spend,
/// percentage, projected period-end spend and projected date of exceeding it.
pub async fn budgets(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, HttpError> {
    let now = chrono::Utc::now().timestamp_millis();
    let visible = budgets::visible(&state.store, &who).await?;
    let statuses = budgets::statuses(&state.store, visible, now).await?;
    Ok(Json(with_usd(json!(statuses))))
}

/// `GET /api/v1/budgets/alerts`: recorded threshold crossings of visible budgets, newest first.
pub async fn budget_alerts(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, HttpError> {
    let visible = budgets::visible(&state.store, &who).await?;
    let alerts = budgets::alerts(&state.store, &visible, 500).await?;
    Ok(Json(with_usd(json!(alerts))))
}

/// `GET /api/v1/alerts`: metric alert rules the caller may see and the alert history.
pub async fn metric_alerts(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, HttpError> {
    Ok(Json(json!(rules::view(&state.store, &who, 50).await?)))
}

/// The query a GET query string describes, as far as it can be read without the store:
/// `projects` holds the `projectId` values as sent (ids or names). Time zone and dates are
/// checked later, by [`query::resolve_range`]. Public for the fuzz target `query_params`.
pub fn usage_query_from_query_string(raw: &str) -> Result<UsageQuery, HttpError> {
    FilterBody::from_params(&parse_params(Some(raw.to_string()))?)?.into_query_as_sent()
}
