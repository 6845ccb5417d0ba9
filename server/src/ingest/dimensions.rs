//! Dimension values as the breakdowns, filters, budgets and alerts of issue 30 compare them
//! (docs/dimensions.md): the end user, the ingest key, the provider, and the metadata keys an
//! admin declares.

use serde_json::Value;
use shared::UsageEvent;

/// At most this many declared metadata keys.
pub const MAX_DECLARED: usize = 10;
/// Longest dimension value, in characters.
pub const MAX_VALUE_CHARS: usize = 128;
/// Longest declared key.
pub const MAX_KEY_CHARS: usize = 64;

/// One event's value of a dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DimValue {
    /// A string, or a number as its JSON text (`1` and `"1"` are the same value).
    Text(String),
    /// Present but not a string or number of at most [`MAX_VALUE_CHARS`] characters:
    /// shown as "(invalid)"; the event is stored as it is.
    Invalid,
    /// The event does not say: shown as "(none)".
    Missing,
}

/// The value of one metadata entry.
pub fn dimension_value(v: Option<&Value>) -> DimValue {
    let text = match v {
        None | Some(Value::Null) => return DimValue::Missing,
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return DimValue::Invalid,
    };
    if text.chars().count() > MAX_VALUE_CHARS {
        DimValue::Invalid
    } else {
        DimValue::Text(text)
    }
}

/// How many values of the `declared` keys in `events` are invalid.
pub fn count_invalid(events: &[UsageEvent], declared: &[String]) -> u64 {
    if declared.is_empty() {
        return 0;
    }
    let mut n = 0;
    for e in events {
        let Some(text) = e.metadata.as_deref() else {
            continue;
        };
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
            n += (declared.iter())
                .filter(|k| dimension_value(map.get(k.as_str())) == DimValue::Invalid)
                .count() as u64;
        }
    }
    n
}

/// An end user's id as stored with hashing on: `h:` and the first 16 bytes of
/// HMAC-SHA256(key, id) in hex. The same id always gives the same hash under one key.
pub fn hash_end_user(key: &str, id: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("h:{}", hex::encode(&digest[..16]))
}

/// Checks a metadata key an admin declares: 1 to 64 letters, digits, `_`, `-` or `.`.
pub fn check_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.chars().count() <= MAX_KEY_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "key {key:?}: 1 to {MAX_KEY_CHARS} letters, digits, '_', '-' or '.'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_numbers_are_values_compared_as_text_and_the_rest_is_invalid() {
        let v = |x: Value| dimension_value(Some(&x));
        assert_eq!(v(json!("search")), DimValue::Text("search".into()));
        assert_eq!(v(json!(1)), v(json!("1")), "1 and \"1\" are one value");
        assert_eq!(v(json!(2.5)), DimValue::Text("2.5".into()));
        assert_eq!(v(json!("x".repeat(128))), DimValue::Text("x".repeat(128)));
        for bad in [
            json!("x".repeat(129)),
            json!(true),
            json!([1]),
            json!({"a": 1}),
        ] {
            assert_eq!(v(bad), DimValue::Invalid);
        }
        assert_eq!(dimension_value(None), DimValue::Missing);
        assert_eq!(v(Value::Null), DimValue::Missing);
    }

    #[test]
    fn invalid_values_of_declared_keys_only_are_counted() {
        let event = |metadata: Value| UsageEvent {
            metadata: Some(metadata.to_string()),
            ..crate::ingest::validate_event(
                &json!({"timestamp": "2025-06-01T12:00:00Z", "model": "m",
                        "input_tokens": 1, "output_tokens": 1}),
                1_767_225_600_000,
            )
            .unwrap()
        };
        let events = [
            event(json!({"team": {"nested": 1}, "feature": "x"})),
            event(json!({"team": "search", "other": [1]})),
            event(json!({"team": false, "feature": ["a"]})),
        ];
        let declared = ["team".to_string(), "feature".to_string()];
        assert_eq!(count_invalid(&events, &declared), 3);
        assert_eq!(count_invalid(&events, &[]), 0);
    }

    #[test]
    fn declared_keys_are_short_plain_names() {
        assert!(check_key("team").is_ok());
        assert!(check_key("cost.center_2-b").is_ok());
        for bad in ["", "has space", "ünï", &"k".repeat(65)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
