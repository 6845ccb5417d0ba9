//! Exports of exactly the dashboard's numbers: an Excel workbook (one sheet per panel), CSV
//! tables, and a streaming raw-event export (CSV or NDJSON) whose memory stays flat.
//!
//! Text that comes from users (project and model names, error messages, metadata) and starts
//! with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'` in CSV so spreadsheet
//! programs show it instead of evaluating it. In the workbook such text is written as a string
//! cell, which Excel never evaluates.

use chrono::TimeZone;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};
use shared::{DateRange, UsageQuery, NANOS_PER_USD};

use crate::query::{self, QueryError, Resolved};
use crate::store::Store;

/// The CSV tables one can ask for with `table=`.
pub const TABLES: [&str; 7] = [
    "summary",
    "daily",
    "models",
    "projects",
    "hourly",
    "errors",
    "error_log",
];

/// Makes user text inert in spreadsheets: a leading `'` before `= + - @ \t \r`.
pub fn neutralise(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

/// Nano-USD as an exact decimal number of dollars, e.g. `12.345000000`.
pub fn usd_decimal(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = (nanos as i128).abs();
    let per = NANOS_PER_USD as i128;
    format!("{sign}{}.{:09}", abs / per, abs % per)
}

fn usd(nanos: i64) -> f64 {
    nanos as f64 / NANOS_PER_USD as f64
}

/// `usage_2025-01-01_2025-01-16` for the local dates the query covers.
pub fn file_stem(r: &Resolved) -> String {
    let day = |secs: i64| {
        r.tz.timestamp_opt(secs, 0)
            .single()
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    format!(
        "usage_{}_{}",
        day(r.filter.start_bucket),
        day(r.filter.end_bucket - 1)
    )
}

fn describe_filters(q: &UsageQuery) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "all".to_string()
        } else {
            v.join(", ")
        }
    };
    format!(
        "models: {}; projects: {}",
        list(&q.models),
        list(&q.projects)
    )
}

fn describe_range(q: &UsageQuery, r: &Resolved) -> String {
    match &q.range {
        DateRange::Preset(p) => format!(
            "last {} ({})",
            p.label(),
            file_stem(r)
                .trim_start_matches("usage_")
                .replace('_', " to ")
        ),
        DateRange::Custom { start, end } => format!("{start} to {end}"),
    }
}

/// Column formats shared by every sheet.
struct Formats {
    bold: Format,
    money: Format,
    pct: Format,
    int: Format,
    ms: Format,
    date: Format,
    time: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            bold: Format::new().set_bold(),
            money: Format::new().set_num_format("$#,##0.00####"),
            pct: Format::new().set_num_format("0.00%"),
            int: Format::new().set_num_format("#,##0"),
            ms: Format::new().set_num_format("#,##0.0"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        }
    }
}

/// Rows of the header block above every sheet's table.
const TABLE_ROW: u32 = 6;

fn header_block(
    ws: &mut Worksheet,
    f: &Formats,
    title: &str,
    meta: &[(String, String)],
) -> Result<(), XlsxError> {
    ws.write_string_with_format(0, 0, title, &f.bold)?;
    for (i, (k, v)) in meta.iter().enumerate() {
        ws.write_string(1 + i as u32, 0, k)?;
        ws.write_string(1 + i as u32, 1, v)?;
    }
    Ok(())
}

fn table_header(
    ws: &mut Worksheet,
    f: &Formats,
    row: u32,
    names: &[(&str, f64)],
) -> Result<(), XlsxError> {
    for (c, (name, width)) in names.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *name, &f.bold)?;
        ws.set_column_width(c as u16, *width)?;
    }
    Ok(())
}

fn opt_num(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    v: Option<f64>,
    fmt: &Format,
) -> Result<(), XlsxError> {
    if let Some(v) = v {
        ws.write_number_with_format(row, col, v, fmt)?;
    }
    Ok(())
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("could not write the workbook: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("could not write CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error(
        "table: {0:?} is not one of summary, daily, models, projects, hourly, errors, error_log"
    )]
    UnknownTable(String),
}

/// The workbook for a query: sheets Summary, Daily, Models, Projects, Hourly, Errors.
pub async fn xlsx(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<(String, Vec<u8>), ExportError> {
    let r = query::resolve(store, q, now_ms).await?;
    let d = query::dashboard_of(store, &r, 1_000).await?;
    let f = Formats::new();
    let generated = chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    let meta = vec![
        ("Range".to_string(), describe_range(q, &r)),
        ("Time zone".to_string(), q.tz.clone()),
        ("Filters".to_string(), describe_filters(q)),
        ("Generated".to_string(), generated),
    ];
    let mut wb = Workbook::new();

    let ws = wb.add_worksheet().set_name("Summary")?;
    header_block(ws, &f, "LLM usage: summary", &meta)?;
    table_header(ws, &f, TABLE_ROW, &[("Metric", 28.0), ("Value", 18.0)])?;
    let s = &d.summary;
    let rows: Vec<(&str, Option<f64>, &Format)> = vec![
        ("Total requests", Some(s.total_requests as f64), &f.int),
        ("Total cost (USD)", Some(usd(s.total_cost_nanos)), &f.money),
        ("Input tokens", Some(s.input_tokens as f64), &f.int),
        ("Output tokens", Some(s.output_tokens as f64), &f.int),
        (
            "Cached input tokens",
            Some(s.cached_input_tokens as f64),
            &f.int,
        ),
        (
            "Cache write tokens",
            Some(s.cache_write_tokens as f64),
            &f.int,
        ),
        ("Total tokens", Some(s.total_tokens as f64), &f.int),
        ("Failed requests", Some(s.error_requests as f64), &f.int),
        (
            "Requests without a price",
            Some(s.unpriced_requests as f64),
            &f.int,
        ),
        (
            "Average response time (ms)",
            s.average_response_time_ms,
            &f.ms,
        ),
        ("p50 response time (ms)", s.p50_ms, &f.ms),
        ("p95 response time (ms)", s.p95_ms, &f.ms),
        ("p99 response time (ms)", s.p99_ms, &f.ms),
        ("Success rate", s.success_rate.map(|v| v / 100.0), &f.pct),
    ];
    for (i, (name, value, fmt)) in rows.into_iter().enumerate() {
        let row = TABLE_ROW + 1 + i as u32;
        ws.write_string(row, 0, name)?;
        opt_num(ws, row, 1, value, fmt)?;
    }
    ws.set_freeze_panes(TABLE_ROW + 1, 0)?;

    let ws = wb.add_worksheet().set_name("Daily")?;
    header_block(ws, &f, "LLM usage: daily", &meta)?;
    table_header(
        ws,
        &f,
        TABLE_ROW,
        &[
            ("Date", 12.0),
            ("Requests", 12.0),
            ("Cost (USD)", 14.0),
            ("Input tokens", 15.0),
            ("Output tokens", 15.0),
            ("Cached input tokens", 19.0),
            ("Avg response time (ms)", 22.0),
        ],
    )?;
    for (i, day) in d.daily.iter().enumerate() {
        let row = TABLE_ROW + 1 + i as u32;
        let date = chrono::NaiveDate::parse_from_str(&day.date, "%Y-%m-%d").unwrap_or_default();
        use chrono::Datelike;
        let excel =
            ExcelDateTime::from_ymd(date.year() as u16, date.month() as u8, date.day() as u8)?;
        ws.write_datetime_with_format(row, 0, &excel, &f.date)?;
        ws.write_number_with_format(row, 1, day.requests as f64, &f.int)?;
        ws.write_number_with_format(row, 2, usd(day.cost_nanos), &f.money)?;
        ws.write_number_with_format(row, 3, day.input_tokens as f64, &f.int)?;
        ws.write_number_with_format(row, 4, day.output_tokens as f64, &f.int)?;
        ws.write_number_with_format(row, 5, day.cached_input_tokens as f64, &f.int)?;
        opt_num(ws, row, 6, day.average_response_time_ms, &f.ms)?;
    }
    ws.set_freeze_panes(TABLE_ROW + 1, 0)?;

    let breakdown_header = |first: &'static str| -> Vec<(&'static str, f64)> {
        vec![
            (first, 30.0),
            ("Requests", 12.0),
            ("Share of requests", 17.0),
            ("Cost (USD)", 14.0),
            ("Share of cost", 14.0),
            ("Input tokens", 15.0),
            ("Output tokens", 15.0),
            ("Cached input tokens", 19.0),
            ("Avg response time (ms)", 22.0),
            ("Error rate", 11.0),
        ]
    };
    let breakdown_rows = |ws: &mut Worksheet,
                          rows: Vec<(String, &shared::BreakdownStats)>|
     -> Result<(), XlsxError> {
        for (i, (name, s)) in rows.into_iter().enumerate() {
            let row = TABLE_ROW + 1 + i as u32;
            ws.write_string(row, 0, name)?;
            ws.write_number_with_format(row, 1, s.requests as f64, &f.int)?;
            ws.write_number_with_format(row, 2, s.request_share / 100.0, &f.pct)?;
            ws.write_number_with_format(row, 3, usd(s.cost_nanos), &f.money)?;
            ws.write_number_with_format(row, 4, s.cost_share / 100.0, &f.pct)?;
            ws.write_number_with_format(row, 5, s.input_tokens as f64, &f.int)?;
            ws.write_number_with_format(row, 6, s.output_tokens as f64, &f.int)?;
            ws.write_number_with_format(row, 7, s.cached_input_tokens as f64, &f.int)?;
            opt_num(ws, row, 8, s.average_response_time_ms, &f.ms)?;
            ws.write_number_with_format(row, 9, s.error_rate / 100.0, &f.pct)?;
        }
        ws.set_freeze_panes(TABLE_ROW + 1, 0)?;
        Ok(())
    };
    let ws = wb.add_worksheet().set_name("Models")?;
    header_block(ws, &f, "LLM usage: models", &meta)?;
    table_header(ws, &f, TABLE_ROW, &breakdown_header("Model"))?;
    breakdown_rows(
        ws,
        d.models
            .iter()
            .map(|m| (m.model.clone(), &m.stats))
            .collect(),
    )?;
    let ws = wb.add_worksheet().set_name("Projects")?;
    header_block(ws, &f, "LLM usage: projects", &meta)?;
    table_header(ws, &f, TABLE_ROW, &breakdown_header("Project"))?;
    breakdown_rows(
        ws,
        d.projects
            .iter()
            .map(|p| (p.project.clone(), &p.stats))
            .collect(),
    )?;

    let ws = wb.add_worksheet().set_name("Hourly")?;
    header_block(ws, &f, "LLM usage: by local hour of day", &meta)?;
    table_header(
        ws,
        &f,
        TABLE_ROW,
        &[("Hour", 8.0), ("Requests", 12.0), ("Cost (USD)", 14.0)],
    )?;
    for (i, h) in d.hourly.iter().enumerate() {
        let row = TABLE_ROW + 1 + i as u32;
        ws.write_number(row, 0, h.hour as f64)?;
        ws.write_number_with_format(row, 1, h.requests as f64, &f.int)?;
        ws.write_number_with_format(row, 2, usd(h.cost_nanos), &f.money)?;
    }
    ws.set_freeze_panes(TABLE_ROW + 1, 0)?;

    let ws = wb.add_worksheet().set_name("Errors")?;
    header_block(ws, &f, "LLM usage: errors", &meta)?;
    table_header(
        ws,
        &f,
        TABLE_ROW,
        &[
            ("Error type", 24.0),
            ("Count", 12.0),
            ("Share", 18.0),
            ("Cost impact (USD)", 18.0),
            ("Error type", 22.0),
            ("Message", 60.0),
        ],
    )?;
    for (i, t) in d.error_types.iter().enumerate() {
        let row = TABLE_ROW + 1 + i as u32;
        ws.write_string(row, 0, &t.error_type)?;
        ws.write_number_with_format(row, 1, t.count as f64, &f.int)?;
        ws.write_number_with_format(row, 2, t.share / 100.0, &f.pct)?;
        ws.write_number_with_format(row, 3, usd(t.cost_nanos), &f.money)?;
    }
    let log_row = TABLE_ROW + 2 + d.error_types.len() as u32;
    ws.write_string_with_format(log_row, 0, "Recent errors (newest first)", &f.bold)?;
    for (c, name) in ["Time", "Project", "Model", "Error type", "Message"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(log_row + 1, c as u16, *name, &f.bold)?;
    }
    for (i, e) in d.errors.items.iter().enumerate() {
        let row = log_row + 2 + i as u32;
        let t =
            r.tz.timestamp_millis_opt(e.timestamp_ms)
                .single()
                .map(|t| t.naive_local());
        if let Some(t) = t {
            let excel = ExcelDateTime::parse_from_str(&t.format("%Y-%m-%dT%H:%M:%S").to_string())?;
            ws.write_datetime_with_format(row, 0, &excel, &f.time)?;
        }
        ws.write_string(row, 1, &e.project)?;
        ws.write_string(row, 2, &e.model)?;
        ws.write_string(row, 3, &e.error_type)?;
        ws.write_string(row, 4, e.message.clone().unwrap_or_default())?;
    }
    ws.set_freeze_panes(TABLE_ROW + 1, 0)?;

    Ok((format!("{}.xlsx", file_stem(&r)), wb.save_to_buffer()?))
}

/// One CSV table of the dashboard for a query.
pub async fn csv_table(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
    table: &str,
) -> Result<(String, Vec<u8>), ExportError> {
    if !TABLES.contains(&table) {
        return Err(ExportError::UnknownTable(table.to_string()));
    }
    let r = query::resolve(store, q, now_ms).await?;
    let d = query::dashboard_of(store, &r, 1_000).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    match table {
        "summary" => {
            let s = &d.summary;
            w.write_record(["metric", "value"])?;
            for (k, v) in [
                ("total_requests", s.total_requests.to_string()),
                ("total_cost_usd", usd_decimal(s.total_cost_nanos)),
                ("input_tokens", s.input_tokens.to_string()),
                ("output_tokens", s.output_tokens.to_string()),
                ("cached_input_tokens", s.cached_input_tokens.to_string()),
                ("cache_write_tokens", s.cache_write_tokens.to_string()),
                ("total_tokens", s.total_tokens.to_string()),
                ("failed_requests", s.error_requests.to_string()),
                ("unpriced_requests", s.unpriced_requests.to_string()),
                ("average_response_time_ms", opt(s.average_response_time_ms)),
                ("p50_ms", opt(s.p50_ms)),
                ("p95_ms", opt(s.p95_ms)),
                ("p99_ms", opt(s.p99_ms)),
                ("success_rate_percent", opt(s.success_rate)),
            ] {
                w.write_record([k, v.as_str()])?;
            }
        }
        "daily" => {
            w.write_record([
                "date",
                "requests",
                "cost_usd",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "average_response_time_ms",
            ])?;
            for x in &d.daily {
                w.write_record([
                    x.date.clone(),
                    x.requests.to_string(),
                    usd_decimal(x.cost_nanos),
                    x.input_tokens.to_string(),
                    x.output_tokens.to_string(),
                    x.cached_input_tokens.to_string(),
                    opt(x.average_response_time_ms),
                ])?;
            }
        }
        "models" | "projects" => {
            let rows: Vec<(String, &shared::BreakdownStats)> = if table == "models" {
                d.models
                    .iter()
                    .map(|m| (m.model.clone(), &m.stats))
                    .collect()
            } else {
                d.projects
                    .iter()
                    .map(|p| (p.project.clone(), &p.stats))
                    .collect()
            };
            let first = if table == "models" {
                "model"
            } else {
                "project"
            };
            w.write_record([
                first,
                "requests",
                "request_share_percent",
                "cost_usd",
                "cost_share_percent",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "average_response_time_ms",
                "error_rate_percent",
            ])?;
            for (name, s) in rows {
                w.write_record([
                    neutralise(&name),
                    s.requests.to_string(),
                    format!("{:.3}", s.request_share),
                    usd_decimal(s.cost_nanos),
                    format!("{:.3}", s.cost_share),
                    s.input_tokens.to_string(),
                    s.output_tokens.to_string(),
                    s.cached_input_tokens.to_string(),
                    opt(s.average_response_time_ms),
                    format!("{:.3}", s.error_rate),
                ])?;
            }
        }
        "hourly" => {
            w.write_record(["hour", "requests", "cost_usd"])?;
            for h in &d.hourly {
                w.write_record([
                    h.hour.to_string(),
                    h.requests.to_string(),
                    usd_decimal(h.cost_nanos),
                ])?;
            }
        }
        "errors" => {
            w.write_record(["error_type", "count", "share_percent", "cost_usd"])?;
            for t in &d.error_types {
                w.write_record([
                    neutralise(&t.error_type),
                    t.count.to_string(),
                    format!("{:.3}", t.share),
                    usd_decimal(t.cost_nanos),
                ])?;
            }
        }
        _ => {
            w.write_record(["time", "project", "model", "error_type", "message"])?;
            for e in &d.errors.items {
                w.write_record([
                    e.local_time.clone(),
                    neutralise(&e.project),
                    neutralise(&e.model),
                    neutralise(&e.error_type),
                    neutralise(e.message.as_deref().unwrap_or("")),
                ])?;
            }
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ExportError::Csv(e.into_error().into()))?;
    Ok((format!("{}_{table}.csv", file_stem(&r)), bytes))
}

/// Formats of the raw-event export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawFormat {
    Csv,
    Ndjson,
}

const RAW_COLUMNS: [&str; 17] = [
    "id",
    "timestamp",
    "project",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cost_usd",
    "cost_source",
    "latency_ms",
    "ttft_ms",
    "status",
    "error_type",
    "error_message",
    "user",
    "metadata",
];

/// The header line of a raw CSV export.
pub fn raw_csv_header() -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(RAW_COLUMNS);
    w.into_inner().unwrap_or_default()
}

/// Appends events to `out` in the given format (CSV rows without header, or NDJSON lines).
pub fn write_raw(out: &mut Vec<u8>, events: &[crate::store::RawEvent], format: RawFormat) {
    let rfc3339 = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default()
    };
    let source = |s: i64| match s {
        1 => "price_table",
        2 => "client",
        _ => "unpriced",
    };
    match format {
        RawFormat::Ndjson => {
            for e in events {
                let metadata = e
                    .metadata
                    .as_deref()
                    .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok());
                let line = serde_json::json!({
                    "id": e.id, "timestamp": rfc3339(e.timestamp_ms), "project": e.project,
                    "model": e.model, "input_tokens": e.input_tokens,
                    "output_tokens": e.output_tokens, "cached_input_tokens": e.cached_input_tokens,
                    "cache_write_tokens": e.cache_write_tokens,
                    "cost_usd": usd(e.cost_nanos), "cost_nanos": e.cost_nanos,
                    "cost_source": source(e.cost_source), "latency_ms": e.latency_ms,
                    "ttft_ms": e.ttft_ms, "status": if e.is_error { "error" } else { "success" },
                    "error_type": e.error_type, "error_message": e.error_message,
                    "user": e.user, "metadata": metadata,
                });
                out.extend_from_slice(line.to_string().as_bytes());
                out.push(b'\n');
            }
        }
        RawFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::mem::take(out));
            let text = |v: &Option<String>| neutralise(v.as_deref().unwrap_or(""));
            let num = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            for e in events {
                let _ = w.write_record([
                    text(&e.id),
                    rfc3339(e.timestamp_ms),
                    neutralise(&e.project),
                    neutralise(&e.model),
                    e.input_tokens.to_string(),
                    e.output_tokens.to_string(),
                    e.cached_input_tokens.to_string(),
                    e.cache_write_tokens.to_string(),
                    usd_decimal(e.cost_nanos),
                    source(e.cost_source).to_string(),
                    num(e.latency_ms),
                    num(e.ttft_ms),
                    if e.is_error { "error" } else { "success" }.to_string(),
                    text(&e.error_type),
                    text(&e.error_message),
                    text(&e.user),
                    text(&e.metadata),
                ]);
            }
            *out = w.into_inner().unwrap_or_default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starters_are_neutralised_and_other_text_is_kept() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        for s in ["-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise(s).starts_with('\''), "{s:?}");
        }
        assert_eq!(neutralise("Chatbot"), "Chatbot");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn dollars_are_exact_decimals() {
        assert_eq!(usd_decimal(0), "0.000000000");
        assert_eq!(usd_decimal(1_605_000_000), "1.605000000");
        assert_eq!(usd_decimal(123_456_789), "0.123456789");
        assert_eq!(usd_decimal(-5), "-0.000000005");
    }
}
