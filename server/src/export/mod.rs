//! Exports of exactly the dashboard's numbers: an Excel workbook (one sheet per panel), CSV
//! tables, and a streaming raw-event export (CSV or NDJSON) whose memory stays flat.
//!
//! Text that comes from users (project and model names, error messages, metadata) and starts
//! with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'` in CSV so spreadsheet
//! programs show it instead of evaluating it. In the workbook such text is written as a string
//! cell, which Excel never evaluates.

mod raw;
mod tables;
mod workbook;

pub use raw::{raw_csv_header, write_csv_event, write_ndjson_event, RawFormat};
pub use tables::csv_table;
pub use workbook::xlsx;

use chrono::TimeZone;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};
use shared::{error_log_page, DateRange, Panel, UsageQuery, NANOS_PER_USD};

use crate::query::{self, QueryError, Resolved};
use crate::store::{RawEvent, Store};

/// Whether a spreadsheet would read `text` as a formula: it starts with `= + - @ \t \r`,
/// also after leading spaces or line breaks (some spreadsheets trim them, then evaluate).
fn starts_formula(text: &str) -> bool {
    let trimmed = text.trim_start_matches([' ', '\n', '\u{a0}']);
    matches!(text.as_bytes().first(), Some(b'\t' | b'\r'))
        || matches!(trimmed.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@'))
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
    let mut text = format!(
        "models: {}; projects: {}",
        list(&q.models),
        list(&q.projects)
    );
    for d in &q.dims {
        text.push_str(&format!("; {}: {}", d.dim.label(), d.value));
    }
    text
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

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("could not write the workbook: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("could not write CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("table: {0:?} is not one of {tables}", tables = Panel::table_names())]
    UnknownTable(String),
}

#[cfg(test)]
mod tests {
    use super::raw::write_timestamp;
    use super::*;

    #[test]
    fn formula_starters_are_neutralised_and_other_text_is_kept() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        for s in [
            "-1", "@SUM(A1)", "\tx", "\rx", " =1+1", "  +1", "\n=cmd", "\n \n@x",
        ] {
            assert!(neutralise(s).starts_with('\''), "{s:?}");
        }
        assert_eq!(neutralise("Chatbot"), "Chatbot");
        assert_eq!(neutralise(" leading space"), " leading space");
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
            provider: Some("openai"),
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
            cache_write_1h_tokens: 3,
            service_tier: Some("batch"),
            key: Some("ua_1a2b3c4d"),
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
                "ua_1a2b3c4d".into(),
                "gpt-4o".into(),
                "openai".into(),
                "batch".into(),
                "1234".into(),
                "0".into(),
                "77".into(),
                "5".into(),
                "3".into(),
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
                    "key": "ua_1a2b3c4d",
                    "model": "gpt-4o", "provider": "openai", "service_tier": "batch",
                    "input_tokens": 1234, "output_tokens": 0,
                    "cached_input_tokens": 77, "cache_write_tokens": 5, "cache_write_1h_tokens": 3,
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
