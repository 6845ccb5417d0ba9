//! OpenTelemetry traces (OTLP/HTTP, protobuf or JSON) as usage events: every span that is a
//! model call (GenAI semantic conventions, current and older attribute names) becomes one
//! event in our JSON shape and is validated as `POST /api/v1/events` validates events, so
//! both ways in accept and refuse the same things.
//!
//! Only the fields we read are decoded; everything else in a span (events, links, other
//! attributes, prompt and completion content) is skipped by the decoder and never stored.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use shared::UsageEvent;

use super::validate::{validate_event, MAX_METADATA_BYTES};

/// Operation names of model calls; spans with these are usage events.
const MODEL_CALLS: [&str; 4] = ["chat", "text_completion", "generate_content", "embeddings"];

/// An attribute value as far as we use it.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Arrays, maps and bytes: present, but nothing we read.
    Other,
}

impl Attr {
    fn as_str(&self) -> Option<&str> {
        match self {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A whole number, also from a double or a numeric string (exporters differ).
    fn as_int(&self) -> Option<i64> {
        match self {
            Attr::Int(i) => Some(*i),
            Attr::Double(d) if d.fract() == 0.0 && d.abs() < 9e15 => Some(*d as i64),
            Attr::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Attr::Int(i) => Some(*i as f64),
            Attr::Double(d) => Some(*d),
            Attr::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Attr::Str(s) => json!(s),
            Attr::Int(i) => json!(i),
            Attr::Double(d) => json!(d),
            Attr::Bool(b) => json!(b),
            Attr::Other => Value::Null,
        }
    }
}

/// A span as we read it, from either encoding.
#[derive(Clone, Debug, Default)]
pub struct Span {
    /// Lower-case hex of the trace and span ids.
    pub trace_id: String,
    pub span_id: String,
    pub name: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: HashMap<String, Attr>,
    /// 2 is ERROR.
    pub status_code: i32,
    pub status_message: String,
}

/// The spans of one resource (a service), with the resource's attributes.
#[derive(Clone, Debug, Default)]
pub struct ResourceSpans {
    pub resource: HashMap<String, Attr>,
    pub spans: Vec<Span>,
}

/// What became of a request's spans.
#[derive(Debug, Default)]
pub struct Mapped {
    /// The model calls, validated.
    pub events: Vec<UsageEvent>,
    /// Model calls refused, each with why (span id, field, reason).
    pub rejected: Vec<String>,
    /// Spans that are not model calls (HTTP, database, agent, tool spans …).
    pub skipped: u64,
}

/// Maps every span: model calls to events (or refusals), the rest skipped.
pub fn map(request: &[ResourceSpans], now_ms: i64) -> Mapped {
    let mut out = Mapped::default();
    for rs in request {
        for span in &rs.spans {
            match to_event_json(&rs.resource, span) {
                None => out.skipped += 1,
                Some(value) => match validate_event(&value, now_ms) {
                    Ok(event) => out.events.push(event),
                    Err(problems) => {
                        let why: Vec<String> = (problems.iter())
                            .map(|(field, reason)| format!("{field} {reason}"))
                            .collect();
                        out.rejected
                            .push(format!("span {}: {}", span.span_id, why.join("; ")));
                    }
                },
            }
        }
    }
    out
}

/// The first of `names` the attributes hold.
fn first<'a>(attrs: &'a HashMap<String, Attr>, names: &[&str]) -> Option<&'a Attr> {
    names.iter().find_map(|n| attrs.get(*n))
}

/// A token count: a whole number as sent (validation refuses negative or absurd ones), or a
/// string that is no number kept as is, so validation names the field.
fn tokens(attrs: &HashMap<String, Attr>, names: &[&str]) -> Value {
    match first(attrs, names) {
        None => Value::Null,
        Some(a) => match a.as_int() {
            Some(n) => json!(n),
            None => a.to_json(),
        },
    }
}

/// The span as an event in our JSON shape, or `None` when it is no model call.
pub fn to_event_json(resource: &HashMap<String, Attr>, span: &Span) -> Option<Value> {
    let a = &span.attributes;
    let operation = a.get("gen_ai.operation.name").and_then(Attr::as_str);
    let has_usage = a.keys().any(|k| k.starts_with("gen_ai.usage."));
    match operation {
        Some(op) if MODEL_CALLS.contains(&op) => {}
        // Agents, workflows, tools and retrieval often sum their children's usage: counting
        // them too would count tokens twice.
        Some(_) => return None,
        None if has_usage => {}
        None => return None,
    }
    let model = first(a, &["gen_ai.response.model", "gen_ai.request.model"])
        .map(Attr::to_json)
        .unwrap_or(Value::Null);
    let provider = first(a, &["gen_ai.provider.name", "gen_ai.system"]).map(Attr::to_json);
    let mut input = tokens(
        a,
        &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
    );
    let output = tokens(
        a,
        &[
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
        ],
    );
    let cache_read = tokens(a, &["gen_ai.usage.cache_read.input_tokens"]);
    let cache_write = tokens(
        a,
        &[
            "gen_ai.usage.cache_write.input_tokens",
            "gen_ai.usage.cache_creation.input_tokens",
        ],
    );
    // No convention names 1-hour cache writes yet; these are the names of Anthropic's usage
    // field under gen_ai.usage.
    let cache_write_1h = tokens(
        a,
        &[
            "gen_ai.usage.cache_creation.ephemeral_1h_input_tokens",
            "gen_ai.usage.cache_write_1h.input_tokens",
        ],
    );
    // The tier the request ran on, as OpenAI's response reports it (else as requested).
    // "auto" and "default" are the default tier; a tier we have no price for (e.g. "scale")
    // is left out rather than refusing the span.
    let service_tier = first(
        a,
        &[
            "openai.response.service_tier",
            "openai.request.service_tier",
        ],
    )
    .and_then(Attr::as_str)
    .filter(|t| ["batch", "flex", "priority"].contains(t))
    .map(|t| json!(t));
    // The conventions count cached tokens inside the input; some Anthropic instrumentations
    // report the input without them (as Anthropic's API does). Cache reads and writes above
    // the input can only mean that: add them.
    if let (Some(i), Some(r), Some(w)) = (
        input.as_i64(),
        cache_read.as_i64().or(cache_read.is_null().then_some(0)),
        cache_write.as_i64().or(cache_write.is_null().then_some(0)),
    ) {
        if i >= 0 && r >= 0 && w >= 0 && r + w > i {
            input = json!(i + r + w);
        }
    }
    let start_ms = (span.start_ns / 1_000_000) as i64;
    let timestamp = chrono::DateTime::from_timestamp_millis(start_ms)
        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null);
    let latency = (span.end_ns >= span.start_ns && span.start_ns > 0)
        .then(|| json!((span.end_ns - span.start_ns) as f64 / 1e6));
    let ttft = a
        .get("gen_ai.response.time_to_first_chunk")
        .and_then(Attr::as_f64)
        .map(|secs| json!(secs * 1000.0));
    let error_type = a.get("error.type").map(Attr::to_json);
    let failed = span.status_code == 2 || error_type.is_some();
    let mut event = Map::new();
    event.insert(
        "id".into(),
        json!(format!("{}{}", span.trace_id, span.span_id)),
    );
    event.insert("timestamp".into(), timestamp);
    event.insert("model".into(), model);
    event.insert("input_tokens".into(), zero_if_null(input));
    event.insert("output_tokens".into(), zero_if_null(output));
    event.insert("cached_input_tokens".into(), cache_read);
    event.insert("cache_write_tokens".into(), cache_write);
    event.insert("cache_write_1h_tokens".into(), cache_write_1h);
    if let Some(t) = service_tier {
        event.insert("service_tier".into(), t);
    }
    if let Some(p) = provider {
        event.insert("provider".into(), p);
    }
    if let Some(l) = latency {
        event.insert("latency_ms".into(), l);
    }
    if let Some(t) = ttft {
        event.insert("ttft_ms".into(), t);
    }
    if failed {
        event.insert("status".into(), json!("error"));
        event.insert(
            "error_type".into(),
            error_type.unwrap_or_else(|| json!("error")),
        );
        if !span.status_message.is_empty() {
            let message: String = span.status_message.chars().take(4096).collect();
            event.insert("error_message".into(), json!(message));
        }
    }
    if let Some(user) = first(a, &["enduser.id", "user.id"]) {
        event.insert("user".into(), user.to_json());
    }
    let mut metadata = Map::new();
    for (from, name) in [
        (resource.get("service.name"), "service.name"),
        (
            first(
                resource,
                &["deployment.environment.name", "deployment.environment"],
            ),
            "deployment.environment",
        ),
        (a.get("gen_ai.operation.name"), "gen_ai.operation.name"),
        (a.get("gen_ai.conversation.id"), "gen_ai.conversation.id"),
        (a.get("gen_ai.request.stream"), "gen_ai.request.stream"),
    ] {
        if let Some(v) = from.map(Attr::to_json).filter(|v| !v.is_null()) {
            metadata.insert(name.into(), v);
        }
    }
    // Within the metadata limit: the longest values go first (a long conversation id must
    // not cost the event).
    let size = |m: &Map<String, Value>| serde_json::to_string(m).map_or(0, |s| s.len());
    while size(&metadata) > MAX_METADATA_BYTES {
        let longest = (metadata.iter())
            .max_by_key(|(_, v)| v.to_string().len())
            .map(|(k, _)| k.clone());
        match longest {
            Some(k) => metadata.remove(&k),
            None => break,
        };
    }
    if !metadata.is_empty() {
        event.insert("metadata".into(), Value::Object(metadata));
    }
    Some(Value::Object(event))
}

/// A model call without usage (a failed call, a stream without usage) has 0 tokens.
fn zero_if_null(v: Value) -> Value {
    if v.is_null() {
        json!(0)
    } else {
        v
    }
}

/// The protobuf encoding: the few messages and fields of `ExportTraceServiceRequest` we
/// read, and the response. Fields not declared here are skipped when decoding.
pub mod pb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_spans: Vec<ResourceSpans>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceSpans {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_spans: Vec<ScopeSpans>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeSpans {
        #[prost(message, repeated, tag = "2")]
        pub spans: Vec<Span>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Span {
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        #[prost(string, tag = "5")]
        pub name: String,
        #[prost(fixed64, tag = "7")]
        pub start_time_unix_nano: u64,
        #[prost(fixed64, tag = "8")]
        pub end_time_unix_nano: u64,
        #[prost(message, repeated, tag = "9")]
        pub attributes: Vec<KeyValue>,
        #[prost(message, optional, tag = "15")]
        pub status: Option<Status>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(int32, tag = "3")]
        pub code: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }

    impl KeyValue {
        /// An attribute, as clients (and the tests and the bench) build them.
        pub fn new(key: &str, value: Value) -> KeyValue {
            KeyValue {
                key: key.into(),
                value: Some(AnyValue { value: Some(value) }),
            }
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        #[prost(oneof = "Value", tags = "1, 2, 3, 4")]
        pub value: Option<Value>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(string, tag = "1")]
        StringValue(String),
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        #[prost(int64, tag = "3")]
        IntValue(i64),
        #[prost(double, tag = "4")]
        DoubleValue(f64),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceResponse {
        #[prost(message, optional, tag = "1")]
        pub partial_success: Option<ExportTracePartialSuccess>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTracePartialSuccess {
        #[prost(int64, tag = "1")]
        pub rejected_spans: i64,
        #[prost(string, tag = "2")]
        pub error_message: String,
    }
}

fn attrs_from_pb(kvs: Vec<pb::KeyValue>) -> HashMap<String, Attr> {
    kvs.into_iter()
        .map(|kv| {
            let value = match kv.value.and_then(|v| v.value) {
                Some(pb::Value::StringValue(s)) => Attr::Str(s),
                Some(pb::Value::BoolValue(b)) => Attr::Bool(b),
                Some(pb::Value::IntValue(i)) => Attr::Int(i),
                Some(pb::Value::DoubleValue(d)) => Attr::Double(d),
                None => Attr::Other,
            };
            (kv.key, value)
        })
        .collect()
}

/// Decodes a protobuf `ExportTraceServiceRequest`.
pub fn decode_protobuf(body: &[u8]) -> Result<Vec<ResourceSpans>, String> {
    use prost::Message;
    let request = pb::ExportTraceServiceRequest::decode(body)
        .map_err(|e| format!("the body is not an OTLP ExportTraceServiceRequest: {e}"))?;
    Ok((request.resource_spans.into_iter())
        .map(|rs| ResourceSpans {
            resource: attrs_from_pb(rs.resource.map(|r| r.attributes).unwrap_or_default()),
            spans: (rs.scope_spans.into_iter())
                .flat_map(|ss| ss.spans)
                .map(|s| {
                    let status = s.status.unwrap_or_default();
                    Span {
                        trace_id: hex::encode(&s.trace_id),
                        span_id: hex::encode(&s.span_id),
                        name: s.name,
                        start_ns: s.start_time_unix_nano,
                        end_ns: s.end_time_unix_nano,
                        attributes: attrs_from_pb(s.attributes),
                        status_code: status.code,
                        status_message: status.message,
                    }
                })
                .collect(),
        })
        .collect())
}

/// The protobuf response: empty when every span was taken or skipped.
pub fn encode_protobuf_response(rejected: &[String]) -> Vec<u8> {
    use prost::Message;
    pb::ExportTraceServiceResponse {
        partial_success: partial_message(rejected).map(|(n, message)| {
            pb::ExportTracePartialSuccess {
                rejected_spans: n,
                error_message: message,
            }
        }),
    }
    .encode_to_vec()
}

/// The JSON response (OTLP's JSON mapping, camelCase, 64-bit integers as strings).
pub fn json_response(rejected: &[String]) -> Value {
    match partial_message(rejected) {
        None => json!({}),
        Some((n, message)) => json!({
            "partialSuccess": {"rejectedSpans": n.to_string(), "errorMessage": message}
        }),
    }
}

/// How many spans were refused and why (the first few reasons, to keep the answer small).
fn partial_message(rejected: &[String]) -> Option<(i64, String)> {
    const SHOWN: usize = 10;
    if rejected.is_empty() {
        return None;
    }
    let mut message = rejected[..rejected.len().min(SHOWN)].join("; ");
    if rejected.len() > SHOWN {
        message.push_str(&format!("; and {} more", rejected.len() - SHOWN));
    }
    Some((rejected.len() as i64, message))
}

/// The JSON encoding, read leniently where exporters differ: 64-bit integers as strings or
/// numbers, ids in hex (as the specification says) or base64 (as some exporters send),
/// the status code as a number or its name.
mod js {
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Request {
        pub resource_spans: Vec<ResourceSpans>,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    pub struct ResourceSpans {
        pub resource: Option<Resource>,
        pub scope_spans: Vec<ScopeSpans>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Resource {
        pub attributes: Vec<KeyValue>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct ScopeSpans {
        pub spans: Vec<Span>,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    pub struct Span {
        pub trace_id: String,
        pub span_id: String,
        pub name: String,
        pub start_time_unix_nano: Value,
        pub end_time_unix_nano: Value,
        pub attributes: Vec<KeyValue>,
        pub status: Option<Status>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Status {
        pub message: String,
        pub code: Value,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct KeyValue {
        pub key: String,
        pub value: Option<Value>,
    }
}

fn attr_from_json(v: Option<Value>) -> Attr {
    let Some(Value::Object(obj)) = v else {
        return Attr::Other;
    };
    if let Some(s) = obj.get("stringValue").and_then(Value::as_str) {
        return Attr::Str(s.to_string());
    }
    if let Some(b) = obj.get("boolValue").and_then(Value::as_bool) {
        return Attr::Bool(b);
    }
    match obj.get("intValue") {
        Some(Value::Number(n)) if n.as_i64().is_some() => {
            return Attr::Int(n.as_i64().unwrap_or(0))
        }
        Some(Value::String(s)) => {
            if let Ok(i) = s.trim().parse() {
                return Attr::Int(i);
            }
        }
        _ => {}
    }
    match obj.get("doubleValue") {
        Some(Value::Number(n)) => return Attr::Double(n.as_f64().unwrap_or(0.0)),
        Some(Value::String(s)) => {
            if let Ok(d) = s.trim().parse() {
                return Attr::Double(d);
            }
        }
        _ => {}
    }
    Attr::Other
}

fn attrs_from_json(kvs: Vec<js::KeyValue>) -> HashMap<String, Attr> {
    (kvs.into_iter())
        .map(|kv| (kv.key, attr_from_json(kv.value)))
        .collect()
}

/// A 64-bit count of nanoseconds as a string or a number.
fn nanos(v: &Value) -> Result<u64, String> {
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => (n.as_u64())
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| format!("{n} is not a time in nanoseconds")),
        Value::String(s) => {
            (s.trim().parse()).map_err(|_| format!("{s:?} is not a time in nanoseconds"))
        }
        other => Err(format!("{other} is not a time in nanoseconds")),
    }
}

/// An id as lower-case hex: hex as sent, else decoded from base64, else the text itself
/// (still a stable id for de-duplication).
fn id_hex(s: &str) -> String {
    let s = s.trim();
    if !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return s.to_ascii_lowercase();
    }
    match base64_decode(s) {
        Some(bytes) if !bytes.is_empty() => hex::encode(bytes),
        _ => s.to_string(),
    }
}

/// Standard base64 (padding optional); `None` if `s` is not base64.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.trim_end_matches('=').bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Decodes the JSON encoding of an `ExportTraceServiceRequest`.
pub fn decode_json(body: &[u8]) -> Result<Vec<ResourceSpans>, String> {
    let request: js::Request = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not an OTLP JSON ExportTraceServiceRequest: {e}"))?;
    let mut out = Vec::new();
    for rs in request.resource_spans {
        let mut spans = Vec::new();
        for s in rs.scope_spans.into_iter().flat_map(|ss| ss.spans) {
            let status = s.status.unwrap_or_default();
            let status_code = match &status.code {
                Value::Number(n) => n.as_i64().unwrap_or(0) as i32,
                Value::String(name) if name == "STATUS_CODE_ERROR" => 2,
                Value::String(name) if name == "STATUS_CODE_OK" => 1,
                Value::String(name) => name.parse().unwrap_or(0),
                _ => 0,
            };
            spans.push(Span {
                trace_id: id_hex(&s.trace_id),
                span_id: id_hex(&s.span_id),
                name: s.name,
                start_ns: nanos(&s.start_time_unix_nano)?,
                end_ns: nanos(&s.end_time_unix_nano)?,
                attributes: attrs_from_json(s.attributes),
                status_code,
                status_message: status.message,
            });
        }
        out.push(ResourceSpans {
            resource: attrs_from_json(rs.resource.map(|r| r.attributes).unwrap_or_default()),
            spans,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_as_sent_or_from_base64() {
        assert_eq!(id_hex("5B8EFFF798038103"), "5b8efff798038103");
        // Some exporters send the bytes in base64 (the protobuf JSON mapping's default).
        assert_eq!(id_hex("W47/95gDgQM="), "5b8efff798038103");
        assert_eq!(id_hex("not an id!"), "not an id!");
    }

    #[test]
    fn times_and_counts_are_read_as_strings_or_numbers() {
        assert_eq!(
            nanos(&json!("1700000000000000000")),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            nanos(&json!(1_700_000_000_000_000_000u64)),
            Ok(1_700_000_000_000_000_000)
        );
        assert!(nanos(&json!("soon")).is_err());
        assert_eq!(
            attr_from_json(Some(json!({"intValue": "42"}))),
            Attr::Int(42)
        );
        assert_eq!(attr_from_json(Some(json!({"intValue": 42}))), Attr::Int(42));
        assert_eq!(
            attr_from_json(Some(json!({"doubleValue": 0.5}))),
            Attr::Double(0.5)
        );
        assert_eq!(attr_from_json(Some(json!({"arrayValue": {}}))), Attr::Other);
        assert_eq!(Attr::Double(42.0).as_int(), Some(42));
        assert_eq!(Attr::Double(4.5).as_int(), None);
    }

    fn chat(attrs: &[(&str, Attr)]) -> Span {
        let mut attributes: HashMap<String, Attr> = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        attributes.insert("gen_ai.operation.name".into(), Attr::Str("chat".into()));
        attributes.insert("gen_ai.request.model".into(), Attr::Str("m".into()));
        Span {
            trace_id: "aa".into(),
            span_id: "bb".into(),
            start_ns: 1_750_000_000_000_000_000,
            end_ns: 1_750_000_000_500_000_000,
            attributes,
            ..Span::default()
        }
    }

    #[test]
    fn input_without_the_cache_is_made_inclusive_only_when_it_must_be() {
        let none = HashMap::new();
        let exclusive = chat(&[
            ("gen_ai.usage.input_tokens", Attr::Int(10)),
            ("gen_ai.usage.cache_read.input_tokens", Attr::Int(100)),
        ]);
        assert_eq!(
            to_event_json(&none, &exclusive).unwrap()["input_tokens"],
            110
        );
        let inclusive = chat(&[
            ("gen_ai.usage.input_tokens", Attr::Int(100)),
            ("gen_ai.usage.cache_read.input_tokens", Attr::Int(60)),
        ]);
        assert_eq!(
            to_event_json(&none, &inclusive).unwrap()["input_tokens"],
            100
        );
    }

    #[test]
    fn only_model_calls_become_events() {
        let none = HashMap::new();
        let mut agent = chat(&[("gen_ai.usage.input_tokens", Attr::Int(5))]);
        agent.attributes.insert(
            "gen_ai.operation.name".into(),
            Attr::Str("invoke_agent".into()),
        );
        assert_eq!(to_event_json(&none, &agent), None);
        let mut bare = chat(&[("gen_ai.usage.output_tokens", Attr::Int(5))]);
        bare.attributes.remove("gen_ai.operation.name");
        assert!(to_event_json(&none, &bare).is_some());
        bare.attributes.remove("gen_ai.usage.output_tokens");
        assert_eq!(to_event_json(&none, &bare), None);
    }

    #[test]
    fn service_tiers_and_one_hour_cache_writes_are_mapped() {
        let none = HashMap::new();
        let span = chat(&[
            ("gen_ai.usage.input_tokens", Attr::Int(100)),
            ("gen_ai.usage.cache_creation.input_tokens", Attr::Int(50)),
            (
                "gen_ai.usage.cache_creation.ephemeral_1h_input_tokens",
                Attr::Int(20),
            ),
            ("openai.request.service_tier", Attr::Str("auto".into())),
            ("openai.response.service_tier", Attr::Str("flex".into())),
        ]);
        let event = validate_event(&to_event_json(&none, &span).unwrap(), i64::MAX / 2).unwrap();
        assert_eq!(event.cache_write_tokens, 50);
        assert_eq!(event.cache_write_1h_tokens, 20);
        assert_eq!(event.service_tier, Some(shared::ServiceTier::Flex));
        // The default tier, or one we have no price for, is left out (never a refusal).
        for tier in ["default", "scale"] {
            let span = chat(&[("openai.response.service_tier", Attr::Str(tier.into()))]);
            let json = to_event_json(&none, &span).unwrap();
            assert_eq!(json.get("service_tier"), None, "{tier}");
        }
    }
}
