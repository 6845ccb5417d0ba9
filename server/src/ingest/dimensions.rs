//! Ingest's side of dimensions (docs/dimensions.md): counting the invalid values of declared
//! keys, hashing end users' ids, checking a key an admin declares. The value rule itself is
//! `crate::dimension`.

use serde_json::Value;
use shared::UsageEvent;

pub use crate::dimension::{dimension_value, hash_end_user, DimValue, MAX_VALUE_CHARS};

/// At most this many declared metadata keys.
pub const MAX_DECLARED: usize = 10;
/// Longest declared key.
pub const MAX_KEY_CHARS: usize = 64;

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
