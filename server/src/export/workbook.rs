//! The workbook: one sheet per panel, each with a header block saying what was asked.

use super::*;

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

/// The workbook for a query: a sheet for each panel with tables, in the dashboard's order
/// (Summary, Daily, Models, Projects, Hourly, Errors).
pub async fn xlsx(
    store: &Store,
    q: &UsageQuery,
    by: Option<&shared::BreakdownBy>,
    now_ms: i64,
) -> Result<(String, Vec<u8>), ExportError> {
    let breakdown = match by {
        Some(by) => Some(
            query::breakdown::breakdown(store, q, by, query::breakdown::MAX_LIMIT, now_ms).await?,
        ),
        None => None,
    };
    let r = query::resolve(store, q, now_ms).await?;
    let d = query::dashboard_of(store, &r, error_log_page::EXPORT).await?;
    let generated = chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    let meta = vec![
        ("Range".to_string(), describe_range(q, &r)),
        ("Time zone".to_string(), q.tz.clone()),
        ("Filters".to_string(), describe_filters(q)),
        ("Generated".to_string(), generated),
    ];
    let c = Sheet {
        f: &Formats::new(),
        meta: &meta,
        d: &d,
        r: &r,
    };
    let mut wb = Workbook::new();
    for panel in Panel::ALL {
        match panel {
            Panel::Summary => summary_sheet(&mut wb, &c)?,
            Panel::Daily => daily_sheet(&mut wb, &c)?,
            Panel::Models => {
                let rows = (d.models.iter()).map(|m| {
                    let provider = m.provider.clone().unwrap_or_default();
                    let source = m.price_source.as_str().to_string();
                    let counts = vec![m.unpriced_requests, m.fallback_requests];
                    (m.model.clone(), vec![provider, source], &m.stats, counts)
                });
                breakdown_sheet(
                    &mut wb,
                    &c,
                    ("Models", "models", "Model"),
                    (
                        &["Provider", "Price source"],
                        &["Unpriced requests", "Fallback-priced requests"],
                    ),
                    rows.collect(),
                )?
            }
            Panel::Projects => {
                let rows =
                    (d.projects.iter()).map(|p| (p.project.clone(), vec![], &p.stats, vec![]));
                breakdown_sheet(
                    &mut wb,
                    &c,
                    ("Projects", "projects", "Project"),
                    (&[], &[]),
                    rows.collect(),
                )?
            }
            Panel::Hourly => hourly_sheet(&mut wb, &c)?,
            Panel::Errors => errors_sheet(&mut wb, &c)?,
            Panel::Budgets | Panel::Alerts | Panel::Insights | Panel::Forecast => {}
        }
    }
    // The breakdown asked for (`by=`): its values, then "(other)" when some are not listed.
    if let (Some(b), Some(by)) = (&breakdown, by) {
        let total = b.total.requests;
        let stats: Vec<(String, shared::BreakdownStats, i64)> = (b.rows.iter())
            .chain((b.other.requests > 0).then_some(&b.other))
            .map(|row| (row.value.clone(), row.stats(total), row.errors))
            .collect();
        let rows = (stats.iter())
            .map(|(value, s, errors)| (value.clone(), vec![], s, vec![*errors]))
            .collect();
        let label = by.label();
        // Sheet names: at most 31 characters; declared keys hold no character Excel refuses.
        let sheet: String = format!("By {}", by.param()).chars().take(31).collect();
        breakdown_sheet(
            &mut wb,
            &c,
            (&sheet, &format!("by {}", by.param()), &label),
            (&[], &["Failed requests"]),
            rows,
        )?
    }

    Ok((format!("{}.xlsx", file_stem(&r)), wb.save_to_buffer()?))
}

/// What every sheet is written from.
struct Sheet<'a> {
    f: &'a Formats,
    meta: &'a [(String, String)],
    d: &'a shared::DashboardData,
    r: &'a Resolved,
}

/// The Summary sheet: the cards.
fn summary_sheet(wb: &mut Workbook, c: &Sheet) -> Result<(), XlsxError> {
    let (f, meta, d) = (c.f, c.meta, c.d);
    let ws = wb.add_worksheet().set_name("Summary")?;
    header_block(ws, f, "LLM usage: summary", meta)?;
    table_header(ws, f, TABLE_ROW, &[("Metric", 28.0), ("Value", 18.0)])?;
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
            "Requests priced by fallback",
            Some(s.fallback_requests as f64),
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
    Ok(())
}

/// The Daily sheet: one row per local day.
fn daily_sheet(wb: &mut Workbook, c: &Sheet) -> Result<(), XlsxError> {
    let (f, meta, d) = (c.f, c.meta, c.d);
    let ws = wb.add_worksheet().set_name("Daily")?;
    header_block(ws, f, "LLM usage: daily", meta)?;
    table_header(
        ws,
        f,
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
    Ok(())
}

/// One row of a breakdown sheet: the name, text columns beside it (a model's provider and
/// price source), the stats, and counts after them (a model's unpriced and fallback-priced
/// requests).
type BreakdownRow<'a> = (String, Vec<String>, &'a shared::BreakdownStats, Vec<i64>);

/// A breakdown sheet (Models, Projects): one row per model or project, with the `details`
/// columns beside the name and the `counts` columns after the stats.
fn breakdown_sheet(
    wb: &mut Workbook,
    c: &Sheet,
    (sheet, what, first): (&str, &str, &str),
    (details, counts): (&[&'static str], &[&'static str]),
    rows: Vec<BreakdownRow<'_>>,
) -> Result<(), XlsxError> {
    let (f, meta) = (c.f, c.meta);
    let mut columns = vec![(first, 30.0)];
    columns.extend(details.iter().map(|d| (*d, 16.0)));
    columns.extend([
        ("Requests", 12.0),
        ("Share of requests", 17.0),
        ("Cost (USD)", 14.0),
        ("Share of cost", 14.0),
        ("Input tokens", 15.0),
        ("Output tokens", 15.0),
        ("Cached input tokens", 19.0),
        ("Avg response time (ms)", 22.0),
        ("Error rate", 11.0),
    ]);
    columns.extend(counts.iter().map(|c| (*c, 19.0)));
    let ws = wb.add_worksheet().set_name(sheet)?;
    header_block(ws, f, &format!("LLM usage: {what}"), meta)?;
    table_header(ws, f, TABLE_ROW, &columns)?;
    let at = details.len() as u16;
    for (i, (name, texts, s, extra)) in rows.into_iter().enumerate() {
        let row = TABLE_ROW + 1 + i as u32;
        ws.write_string(row, 0, name)?;
        for (j, text) in texts.into_iter().enumerate() {
            if !text.is_empty() {
                ws.write_string(row, 1 + j as u16, text)?;
            }
        }
        ws.write_number_with_format(row, at + 1, s.requests as f64, &f.int)?;
        ws.write_number_with_format(row, at + 2, s.request_share / 100.0, &f.pct)?;
        ws.write_number_with_format(row, at + 3, usd(s.cost_nanos), &f.money)?;
        ws.write_number_with_format(row, at + 4, s.cost_share / 100.0, &f.pct)?;
        ws.write_number_with_format(row, at + 5, s.input_tokens as f64, &f.int)?;
        ws.write_number_with_format(row, at + 6, s.output_tokens as f64, &f.int)?;
        ws.write_number_with_format(row, at + 7, s.cached_input_tokens as f64, &f.int)?;
        opt_num(ws, row, at + 8, s.average_response_time_ms, &f.ms)?;
        ws.write_number_with_format(row, at + 9, s.error_rate / 100.0, &f.pct)?;
        for (j, n) in extra.into_iter().enumerate() {
            ws.write_number_with_format(row, at + 10 + j as u16, n as f64, &f.int)?;
        }
    }
    ws.set_freeze_panes(TABLE_ROW + 1, 0)?;
    Ok(())
}

/// The Hourly sheet: requests and cost by local hour of day.
fn hourly_sheet(wb: &mut Workbook, c: &Sheet) -> Result<(), XlsxError> {
    let (f, meta, d) = (c.f, c.meta, c.d);
    let ws = wb.add_worksheet().set_name("Hourly")?;
    header_block(ws, f, "LLM usage: by local hour of day", meta)?;
    table_header(
        ws,
        f,
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
    Ok(())
}

/// The Errors sheet: error types, then the newest errors.
fn errors_sheet(wb: &mut Workbook, c: &Sheet) -> Result<(), XlsxError> {
    let (f, meta, d, r) = (c.f, c.meta, c.d, c.r);
    let ws = wb.add_worksheet().set_name("Errors")?;
    header_block(ws, f, "LLM usage: errors", meta)?;
    table_header(
        ws,
        f,
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
    Ok(())
}
