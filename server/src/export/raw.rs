//! The raw-event export, written by hand into a buffer (CSV or NDJSON) so it streams at
//! hundreds of thousands of events a second with flat memory.

use super::*;

/// Formats of the raw-event export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawFormat {
    Csv,
    Ndjson,
}

const RAW_COLUMNS: [&str; 21] = [
    "id",
    "timestamp",
    "project",
    "key",
    "model",
    "provider",
    "service_tier",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
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
pub(super) fn write_timestamp(out: &mut Vec<u8>, ms: i64) {
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
        3 => "catalogue",
        4 => "fallback",
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
    out.extend_from_slice(e.key.unwrap_or("").as_bytes());
    out.push(b',');
    csv_text(out, e.model);
    out.push(b',');
    csv_text(out, e.provider.unwrap_or(""));
    out.push(b',');
    csv_text(out, e.service_tier.unwrap_or(""));
    for n in [
        e.input_tokens,
        e.output_tokens,
        e.cached_input_tokens,
        e.cache_write_tokens,
        e.cache_write_1h_tokens,
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
    field(out, "key", &e.key);
    field(out, "model", &e.model);
    field(out, "provider", &e.provider);
    field(out, "service_tier", &e.service_tier);
    field(out, "input_tokens", &e.input_tokens);
    field(out, "output_tokens", &e.output_tokens);
    field(out, "cached_input_tokens", &e.cached_input_tokens);
    field(out, "cache_write_tokens", &e.cache_write_tokens);
    field(out, "cache_write_1h_tokens", &e.cache_write_1h_tokens);
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
