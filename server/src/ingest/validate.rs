//! Validation: a request body becomes validated events, or a list of problems naming each
//! event's index, field and reason.

use chrono::DateTime;
use serde_json::{Map, Value};
use shared::{EventStatus, Problem, ServiceTier, UsageEvent, NANOS_PER_USD};

/// Upper bound of any token count of one event; keeps roll-up sums far from overflow.
pub const MAX_TOKENS: i64 = 1_000_000_000;
/// Upper bound of latency and time to first token (one day), in ms.
pub const MAX_LATENCY_MS: i64 = 86_400_000;
/// Upper bound of a client-sent cost of one event, in USD.
pub const MAX_COST_USD: f64 = 1_000_000.0;
/// Longest accepted idempotency key.
pub const MAX_ID_LEN: usize = 128;
/// Longest model name, error type and end-user id.
pub const MAX_NAME_LEN: usize = 256;
/// Longest provider name.
pub const MAX_PROVIDER_LEN: usize = 64;
/// Longest error message.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest `metadata` object, as compact JSON bytes.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Events may be at most this far in the future (clock skew), in ms.
pub const MAX_FUTURE_SKEW_MS: i64 = 24 * 3600 * 1000;
/// Earliest accepted timestamp: 2000-01-01T00:00:00Z.
pub const MIN_TIMESTAMP_MS: i64 = 946_684_800_000;

/// The body formats the ingest endpoint understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// A JSON array of events, or `{"events": [...]}`.
    Json,
    /// One JSON event per line.
    Ndjson,
}

/// Splits a body into raw event values, or says why the body as a whole is unreadable.
pub fn split_body(body: &[u8], format: BodyFormat) -> Result<Vec<Value>, Problem> {
    let whole = |reason: String| Problem {
        index: None,
        field: "body".into(),
        reason,
    };
    match format {
        BodyFormat::Json => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| whole(format!("body is not valid JSON: {e}")))?;
            match value {
                Value::Array(items) => Ok(items),
                Value::Object(mut obj) => match obj.remove("events") {
                    Some(Value::Array(items)) => Ok(items),
                    _ => Err(whole(
                        "expected a JSON array of events or an object {\"events\": [...]}".into(),
                    )),
                },
                _ => Err(whole(
                    "expected a JSON array of events or an object {\"events\": [...]}".into(),
                )),
            }
        }
        BodyFormat::Ndjson => {
            let text =
                std::str::from_utf8(body).map_err(|_| whole("body is not valid UTF-8".into()))?;
            let mut items = Vec::new();
            for (line_no, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let value = serde_json::from_str(line).map_err(|e| Problem {
                    index: Some(items.len()),
                    field: "body".into(),
                    reason: format!("line {} is not valid JSON: {e}", line_no + 1),
                })?;
                items.push(value);
            }
            Ok(items)
        }
    }
}

/// Validates every raw event. Either all are valid, or every problem found is returned.
pub fn validate_batch(items: &[Value], now_ms: i64) -> Result<Vec<UsageEvent>, Vec<Problem>> {
    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match validate_event(item, now_ms) {
            Ok(event) => events.push(event),
            Err(found) => problems.extend(found.into_iter().map(|(field, reason)| Problem {
                index: Some(index),
                field: field.into(),
                reason,
            })),
        }
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        Err(problems)
    }
}

type FieldProblems = Vec<(&'static str, String)>;

/// Validates one event; on failure lists `(field, reason)` for every bad field.
pub fn validate_event(item: &Value, now_ms: i64) -> Result<UsageEvent, FieldProblems> {
    let Some(obj) = item.as_object() else {
        return Err(vec![("event", "must be a JSON object".into())]);
    };
    let mut p: FieldProblems = Vec::new();

    let id = opt_string(obj, "id", MAX_ID_LEN, &mut p);
    let timestamp_ms = match obj.get("timestamp") {
        None | Some(Value::Null) => {
            p.push((
                "timestamp",
                "is required (RFC 3339, e.g. 2025-01-16T09:30:00Z)".into(),
            ));
            0
        }
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => {
                let ms = t.timestamp_millis();
                if ms < MIN_TIMESTAMP_MS {
                    p.push(("timestamp", "is before 2000-01-01".into()));
                } else if ms > now_ms + MAX_FUTURE_SKEW_MS {
                    p.push(("timestamp", "is more than 24 hours in the future".into()));
                }
                ms
            }
            Err(e) => {
                p.push(("timestamp", format!("is not an RFC 3339 date-time: {e}")));
                0
            }
        },
        Some(_) => {
            p.push(("timestamp", "must be a string (RFC 3339)".into()));
            0
        }
    };
    let model = match opt_string(obj, "model", MAX_NAME_LEN, &mut p) {
        Some(m) => m,
        None => {
            if !obj.contains_key("model") || obj["model"].is_null() {
                p.push(("model", "is required".into()));
            }
            String::new()
        }
    };
    let provider = opt_string(obj, "provider", MAX_PROVIDER_LEN, &mut p);
    let input_tokens = req_count(obj, "input_tokens", &mut p);
    let output_tokens = req_count(obj, "output_tokens", &mut p);
    let cached_input_tokens = opt_count(obj, "cached_input_tokens", &mut p).unwrap_or(0);
    let cache_write_tokens = opt_count(obj, "cache_write_tokens", &mut p).unwrap_or(0);
    if cached_input_tokens + cache_write_tokens > input_tokens {
        p.push((
            "cached_input_tokens",
            "cached_input_tokens + cache_write_tokens exceed input_tokens (input_tokens counts every prompt token, cached ones included)".into(),
        ));
    }
    let cache_write_1h_tokens = opt_count(obj, "cache_write_1h_tokens", &mut p).unwrap_or(0);
    if cache_write_1h_tokens > cache_write_tokens {
        p.push((
            "cache_write_1h_tokens",
            "exceeds cache_write_tokens (it is the part of cache_write_tokens written for an hour)"
                .into(),
        ));
    }
    let service_tier = match obj.get("service_tier") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match ServiceTier::from_name(s) {
            Some(ServiceTier::Default) => None,
            Some(tier) => Some(tier),
            None => {
                p.push((
                    "service_tier",
                    "must be \"default\", \"batch\", \"flex\" or \"priority\"".into(),
                ));
                None
            }
        },
        Some(_) => {
            p.push(("service_tier", "must be a string".into()));
            None
        }
    };
    let cost_nanos = match obj.get("cost_usd") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(usd) if (0.0..=MAX_COST_USD).contains(&usd) => {
                Some((usd * NANOS_PER_USD as f64).round() as i64)
            }
            _ => {
                p.push(("cost_usd", format!("must be between 0 and {MAX_COST_USD}")));
                None
            }
        },
        Some(_) => {
            p.push(("cost_usd", "must be a number (USD)".into()));
            None
        }
    };
    let latency_ms = opt_millis(obj, "latency_ms", &mut p);
    let ttft_ms = opt_millis(obj, "ttft_ms", &mut p);
    let status = match obj.get("status") {
        None | Some(Value::Null) => EventStatus::Success,
        Some(Value::String(s)) if s == "success" => EventStatus::Success,
        Some(Value::String(s)) if s == "error" => EventStatus::Error,
        Some(_) => {
            p.push(("status", "must be \"success\" or \"error\"".into()));
            EventStatus::Success
        }
    };
    let error_type = opt_string(obj, "error_type", MAX_NAME_LEN, &mut p);
    if error_type.is_some() && status == EventStatus::Success {
        p.push((
            "error_type",
            "is only allowed with \"status\": \"error\"".into(),
        ));
    }
    let error_message = opt_string(obj, "error_message", MAX_MESSAGE_LEN, &mut p);
    let user = opt_string(obj, "user", MAX_NAME_LEN, &mut p);
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => {
            let text = v.to_string();
            if text.len() > MAX_METADATA_BYTES {
                p.push((
                    "metadata",
                    format!(
                        "is {} bytes; at most {MAX_METADATA_BYTES} allowed",
                        text.len()
                    ),
                ));
            }
            Some(text)
        }
        Some(_) => {
            p.push(("metadata", "must be a JSON object".into()));
            None
        }
    };

    if !p.is_empty() {
        return Err(p);
    }
    Ok(UsageEvent {
        id,
        timestamp_ms,
        model,
        provider,
        input_tokens,
        output_tokens,
        cached_input_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        service_tier,
        cost_nanos,
        latency_ms,
        ttft_ms,
        status,
        error_type,
        error_message,
        user,
        metadata,
    })
}

fn opt_string(
    obj: &Map<String, Value>,
    field: &'static str,
    max_chars: usize,
    p: &mut FieldProblems,
) -> Option<String> {
    match obj.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => {
            p.push((field, "must not be empty".into()));
            None
        }
        Some(Value::String(s)) if s.chars().count() > max_chars => {
            p.push((field, format!("is longer than {max_chars} characters")));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            p.push((field, "must be a string".into()));
            None
        }
    }
}

fn req_count(obj: &Map<String, Value>, field: &'static str, p: &mut FieldProblems) -> i64 {
    if matches!(obj.get(field), None | Some(Value::Null)) {
        p.push((field, "is required".into()));
        return 0;
    }
    opt_count(obj, field, p).unwrap_or(0)
}

fn opt_count(obj: &Map<String, Value>, field: &'static str, p: &mut FieldProblems) -> Option<i64> {
    match obj.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if (0..=MAX_TOKENS).contains(&v) => Some(v),
            Some(_) => {
                p.push((field, format!("must be between 0 and {MAX_TOKENS}")));
                None
            }
            None => {
                p.push((field, "must be a whole number".into()));
                None
            }
        },
        Some(_) => {
            p.push((field, "must be a whole number".into()));
            None
        }
    }
}

fn opt_millis(obj: &Map<String, Value>, field: &'static str, p: &mut FieldProblems) -> Option<i64> {
    match obj.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if (0.0..=MAX_LATENCY_MS as f64).contains(&v) => Some(v.round() as i64),
            _ => {
                p.push((field, format!("must be between 0 and {MAX_LATENCY_MS} ms")));
                None
            }
        },
        Some(_) => {
            p.push((field, "must be a number of milliseconds".into()));
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) const NOW: i64 = 1_767_225_600_000; // 2026-01-01

    /// A minimal valid event (also the pricing tests' starting point).
    pub(crate) fn valid() -> Value {
        json!({"timestamp": "2025-06-01T12:00:00Z", "model": "m", "input_tokens": 10, "output_tokens": 5})
    }

    #[test]
    fn a_minimal_event_is_valid_and_defaults_to_success() {
        let e = validate_event(&valid(), NOW).unwrap();
        assert_eq!(e.status, EventStatus::Success);
        assert_eq!(e.timestamp_ms, 1_748_779_200_000);
        assert_eq!((e.cached_input_tokens, e.cost_nanos), (0, None));
    }

    #[test]
    fn every_bad_field_is_named_with_its_reason() {
        let bad = json!({"timestamp": "yesterday", "model": 3, "input_tokens": -1,
            "output_tokens": 1.5, "status": "ok", "metadata": [1], "latency_ms": -4});
        let fields: Vec<&str> = validate_event(&bad, NOW)
            .unwrap_err()
            .iter()
            .map(|(f, _)| *f)
            .collect();
        for f in [
            "timestamp",
            "model",
            "input_tokens",
            "output_tokens",
            "status",
            "metadata",
            "latency_ms",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn missing_required_fields_are_reported() {
        let fields: Vec<&str> = validate_event(&json!({}), NOW)
            .unwrap_err()
            .iter()
            .map(|(f, _)| *f)
            .collect();
        assert_eq!(
            fields,
            ["timestamp", "model", "input_tokens", "output_tokens"]
        );
    }

    #[test]
    fn cached_tokens_cannot_exceed_input_tokens() {
        let mut v = valid();
        v["cached_input_tokens"] = json!(8);
        v["cache_write_tokens"] = json!(3);
        assert!(validate_event(&v, NOW).is_err());
    }

    #[test]
    fn one_hour_cache_writes_are_part_of_the_cache_writes() {
        let mut v = valid();
        v["cache_write_tokens"] = json!(4);
        v["cache_write_1h_tokens"] = json!(4);
        assert_eq!(validate_event(&v, NOW).unwrap().cache_write_1h_tokens, 4);
        v["cache_write_1h_tokens"] = json!(5);
        let problems = validate_event(&v, NOW).unwrap_err();
        assert_eq!(problems[0].0, "cache_write_1h_tokens");
    }

    #[test]
    fn a_service_tier_is_one_of_four_and_default_is_stored_as_absent() {
        let tier = |t: Value| {
            let mut v = valid();
            v["service_tier"] = t;
            validate_event(&v, NOW).map(|e| e.service_tier)
        };
        assert_eq!(tier(json!("batch")), Ok(Some(ServiceTier::Batch)));
        assert_eq!(tier(json!("priority")), Ok(Some(ServiceTier::Priority)));
        assert_eq!(tier(json!("default")), Ok(None));
        assert_eq!(tier(Value::Null), Ok(None));
        for bad in [json!("Batch"), json!("auto"), json!(1)] {
            assert_eq!(tier(bad).unwrap_err()[0].0, "service_tier");
        }
    }

    #[test]
    fn oversized_strings_and_metadata_are_refused() {
        let mut v = valid();
        v["id"] = json!("x".repeat(129));
        v["metadata"] = json!({"k": "y".repeat(5000)});
        let fields: Vec<&str> = validate_event(&v, NOW)
            .unwrap_err()
            .iter()
            .map(|(f, _)| *f)
            .collect();
        assert_eq!(fields, ["id", "metadata"]);
    }

    #[test]
    fn ndjson_lines_and_both_json_shapes_are_understood() {
        let one = valid().to_string();
        let nd = format!("{one}\n\n{one}\n");
        assert_eq!(
            split_body(nd.as_bytes(), BodyFormat::Ndjson).unwrap().len(),
            2
        );
        let arr = format!("[{one},{one},{one}]");
        assert_eq!(
            split_body(arr.as_bytes(), BodyFormat::Json).unwrap().len(),
            3
        );
        let obj = format!("{{\"events\":[{one}]}}");
        assert_eq!(
            split_body(obj.as_bytes(), BodyFormat::Json).unwrap().len(),
            1
        );
        assert!(split_body(b"{\"x\":1}", BodyFormat::Json).is_err());
        let bad_line = split_body(format!("{one}\nnot json").as_bytes(), BodyFormat::Ndjson);
        assert_eq!(bad_line.unwrap_err().index, Some(1));
    }
}
