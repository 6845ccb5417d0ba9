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
use crate::store::{RawEvent, Store};

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

/// Whether a spreadsheet would read `text` as a formula: it starts with `= + - @ \t \r`.
fn starts_formula(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Makes user text inert in spreadsheets: a leading `'` before `= + - @ \t \r`.
pub fn neutralise(text: &str) -> String {
    if starts_formula(text) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// Nano-USD as an exact decimal number of dollars, e.g. `12.345000000`.
pub fn usd_decimal(nanos: i64) -> String {
    let mut out = Vec::with_capacity(24);
    write_usd(&mut out, nanos);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`usd_decimal`]'s text.
fn write_usd(out: &mut Vec<u8>, nanos: i64) {
    if nanos < 0 {
        out.push(b'-');
    }
    let abs = nanos.unsigned_abs();
    let per = NANOS_PER_USD as u64;
    write_int(out, abs / per);
    out.push(b'.');
    write_padded(out, (abs % per) as u32, 9);
}

fn write_int(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// `v` in decimal with leading zeros to `width` digits (`v` must fit in them).
fn write_padded(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for d in out[start..].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
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

/// `2025-01-02T03:04:05.678Z`: the RFC 3339 UTC time of the raw export, written by hand
/// because chrono's formatter allocated a `String` per event (years outside 0–9999 still go
/// through chrono).
fn write_timestamp(out: &mut Vec<u8>, ms: i64) {
    const DAY_MS: i64 = 86_400_000;
    let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MS));
    if !(0..=9999).contains(&year) {
        if let Some(t) = chrono::DateTime::from_timestamp_millis(ms) {
            let text = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            out.extend_from_slice(text.as_bytes());
        }
        return;
    }
    let in_day = ms.rem_euclid(DAY_MS) as u32;
    write_padded(out, year as u32, 4);
    out.push(b'-');
    write_padded(out, month, 2);
    out.push(b'-');
    write_padded(out, day, 2);
    out.push(b'T');
    write_padded(out, in_day / 3_600_000, 2);
    out.push(b':');
    write_padded(out, in_day / 60_000 % 60, 2);
    out.push(b':');
    write_padded(out, in_day / 1_000 % 60, 2);
    out.push(b'.');
    write_padded(out, in_day % 1_000, 3);
    out.push(b'Z');
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01. Days are
/// counted from 0000-03-01 so that the leap day ends each year, in 400-year eras of
/// 146,097 days; a month's first day after March is `(153 * m + 2) / 5`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // 0000-03-01 to 1970-01-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let m = (5 * day_of_year + 2) / 153; // 0 = March … 11 = February
    let day = (day_of_year - (153 * m + 2) / 5 + 1) as u32;
    let month = if m < 10 { m + 3 } else { m - 9 } as u32;
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year, month, day)
}

fn cost_source(s: i64) -> &'static str {
    match s {
        1 => "price_table",
        2 => "client",
        _ => "unpriced",
    }
}

fn status(is_error: bool) -> &'static str {
    if is_error {
        "error"
    } else {
        "success"
    }
}

/// One CSV field of user text: neutralised (see [`neutralise`]) and quoted when it holds a
/// comma, quote or line break, as the csv crate writes it.
fn csv_text(out: &mut Vec<u8>, text: &str) {
    let quote = text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if quote {
        out.push(b'"');
    }
    if starts_formula(text) {
        out.push(b'\'');
    }
    if quote {
        for b in text.bytes() {
            out.push(b);
            if b == b'"' {
                out.push(b'"');
            }
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// Appends one event as a row of the raw CSV export (columns of [`raw_csv_header`]).
/// Formatted in place, without allocating: this runs once per exported event.
pub fn write_csv_event(out: &mut Vec<u8>, e: &RawEvent<'_>) {
    csv_text(out, e.id.unwrap_or(""));
    out.push(b',');
    write_timestamp(out, e.timestamp_ms);
    out.push(b',');
    csv_text(out, e.project);
    out.push(b',');
    csv_text(out, e.model);
    for n in [
        e.input_tokens,
        e.output_tokens,
        e.cached_input_tokens,
        e.cache_write_tokens,
    ] {
        out.push(b',');
        write_int(out, n);
    }
    out.push(b',');
    write_usd(out, e.cost_nanos);
    out.push(b',');
    out.extend_from_slice(cost_source(e.cost_source).as_bytes());
    for n in [e.latency_ms, e.ttft_ms] {
        out.push(b',');
        if let Some(n) = n {
            write_int(out, n);
        }
    }
    out.push(b',');
    out.extend_from_slice(status(e.is_error).as_bytes());
    for text in [e.error_type, e.error_message, e.user, e.metadata] {
        out.push(b',');
        csv_text(out, text.unwrap_or(""));
    }
    out.push(b'\n');
}

/// Appends one event as a line of the NDJSON export: the CSV's columns plus `cost_nanos`,
/// with `metadata` as the stored JSON object.
pub fn write_ndjson_event(out: &mut Vec<u8>, e: &RawEvent<'_>) {
    /// `,"key":value`; writing JSON into a Vec cannot fail.
    fn field(out: &mut Vec<u8>, key: &str, value: &impl serde::Serialize) {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        let _ = serde_json::to_writer(&mut *out, value);
    }
    out.extend_from_slice(b"{\"id\":");
    let _ = serde_json::to_writer(&mut *out, &e.id);
    out.extend_from_slice(b",\"timestamp\":\"");
    write_timestamp(out, e.timestamp_ms);
    out.push(b'"');
    field(out, "project", &e.project);
    field(out, "model", &e.model);
    field(out, "input_tokens", &e.input_tokens);
    field(out, "output_tokens", &e.output_tokens);
    field(out, "cached_input_tokens", &e.cached_input_tokens);
    field(out, "cache_write_tokens", &e.cache_write_tokens);
    field(out, "cost_usd", &usd(e.cost_nanos));
    field(out, "cost_nanos", &e.cost_nanos);
    field(out, "cost_source", &cost_source(e.cost_source));
    field(out, "latency_ms", &e.latency_ms);
    field(out, "ttft_ms", &e.ttft_ms);
    field(out, "status", &status(e.is_error));
    field(out, "error_type", &e.error_type);
    field(out, "error_message", &e.error_message);
    field(out, "user", &e.user);
    out.extend_from_slice(b",\"metadata\":");
    match e.metadata {
        // Stored as compact JSON by ingest: copied as it is when it is one line of valid JSON.
        Some(m)
            if !m.contains(['\n', '\r'])
                && serde_json::from_str::<serde::de::IgnoredAny>(m).is_ok() =>
        {
            out.extend_from_slice(m.as_bytes())
        }
        Some(m) => {
            let v = serde_json::from_str::<serde_json::Value>(m).unwrap_or_default();
            let _ = serde_json::to_writer(&mut *out, &v);
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}\n");
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

    fn event<'a>(text: &'a str, metadata: Option<&'a str>) -> RawEvent<'a> {
        RawEvent {
            id: Some(text),
            timestamp_ms: 1_735_787_045_678,
            project: text,
            model: "gpt-4o",
            input_tokens: 1_234,
            output_tokens: 0,
            cached_input_tokens: 77,
            cache_write_tokens: 5,
            cost_nanos: -1_605_000_001,
            cost_source: 2,
            latency_ms: Some(830),
            ttft_ms: None,
            is_error: true,
            error_type: Some(text),
            error_message: None,
            user: Some(""),
            metadata,
        }
    }

    /// Text that needs quoting, doubling, neutralising, or nothing.
    const AWKWARD: [&str; 10] = [
        "plain",
        "",
        "a,b",
        "say \"hi\"",
        "two\nlines",
        "cr\rhere",
        "=1+1",
        "-5,\"x\"",
        "@SUM(A1)\n",
        "héllo ✓",
    ];

    #[test]
    fn csv_rows_are_what_the_csv_crate_writes_for_the_neutralised_fields() {
        for text in AWKWARD {
            let e = event(text, Some(r#"{"k":"v, \"q\""}"#));
            let mut ours = Vec::new();
            write_csv_event(&mut ours, &e);
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                neutralise(text),
                "2025-01-02T03:04:05.678Z".into(),
                neutralise(text),
                "gpt-4o".into(),
                "1234".into(),
                "0".into(),
                "77".into(),
                "5".into(),
                "-1.605000001".into(),
                "client".into(),
                "830".into(),
                "".into(),
                "error".into(),
                neutralise(text),
                "".into(),
                "".into(),
                r#"{"k":"v, \"q\""}"#.into(),
            ])
            .unwrap();
            let want = w.into_inner().unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(want).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn timestamps_are_chronos_rfc3339_in_milliseconds() {
        let samples = [
            0,
            1,
            999,
            -1,
            -86_400_001,
            951_782_400_000,     // 2000-02-29
            1_735_787_045_678,   // 2025-01-02
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000, // year 10000: through chrono
            -62_167_219_200_001, // year -1: through chrono
        ];
        // Plus a time of day on every 997th day from year 0 to 9999.
        let days = (-719_528..2_932_897).step_by(997);
        let spread = days.map(|d: i64| d * 86_400_000 + d.rem_euclid(86_400_000));
        for ms in samples.into_iter().chain(spread) {
            let mut ours = Vec::new();
            write_timestamp(&mut ours, ms);
            let want = chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            assert_eq!(String::from_utf8(ours).unwrap(), want, "{ms}");
        }
    }

    #[test]
    fn ndjson_lines_hold_every_column_with_metadata_as_an_object() {
        for text in AWKWARD {
            for (metadata, want_metadata) in [
                (
                    Some(r#"{"k":[1,"x\n"]}"#),
                    serde_json::json!({"k": [1, "x\n"]}),
                ),
                // Not one line of valid JSON: re-read, or null when it cannot be.
                (Some("{\n\"a\": 1}"), serde_json::json!({"a": 1})),
                (Some("{not json"), serde_json::Value::Null),
                (None, serde_json::Value::Null),
            ] {
                let mut out = Vec::new();
                write_ndjson_event(&mut out, &event(text, metadata));
                let line = String::from_utf8(out).unwrap();
                assert!(
                    line.ends_with('\n') && line.matches('\n').count() == 1,
                    "{line}"
                );
                let got: serde_json::Value = serde_json::from_str(&line).unwrap();
                let want = serde_json::json!({
                    "id": text, "timestamp": "2025-01-02T03:04:05.678Z", "project": text,
                    "model": "gpt-4o", "input_tokens": 1234, "output_tokens": 0,
                    "cached_input_tokens": 77, "cache_write_tokens": 5,
                    "cost_usd": -1.605000001, "cost_nanos": -1_605_000_001i64,
                    "cost_source": "client", "latency_ms": 830, "ttft_ms": null,
                    "status": "error", "error_type": text, "error_message": null,
                    "user": "", "metadata": want_metadata,
                });
                assert_eq!(got, want, "{line}");
            }
        }
    }
}
