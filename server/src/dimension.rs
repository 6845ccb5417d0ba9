//! One event's value of a dimension, as breakdowns show it and filters compare it
//! (docs/dimensions.md): the end user, the ingest key's prefix, the provider, or a declared
//! metadata key's value. Free of SQL, so ingest, storage and queries share the rule.

use std::borrow::Cow;

use serde_json::Value;
use shared::{Dimension, VALUE_INVALID};

/// Longest dimension value, in characters.
pub const MAX_VALUE_CHARS: usize = 128;

/// One event's value of a metadata key.
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

/// The texts of a stored event that dimensions are read from.
#[derive(Clone, Copy, Debug, Default)]
pub struct EventDims<'a> {
    pub user: Option<&'a str>,
    /// The prefix of the ingest key the event came through.
    pub key: Option<&'a str>,
    pub provider: Option<&'a str>,
    /// The stored metadata object (compact JSON).
    pub metadata: Option<&'a str>,
}

impl<'a> EventDims<'a> {
    /// The event's value of `dim`, as shown: "(none)", "(no key)" or "(invalid)" when it has
    /// no usable one.
    pub fn value(&self, dim: &Dimension) -> Cow<'a, str> {
        let given = match dim {
            Dimension::User => self.user,
            Dimension::Key => self.key,
            Dimension::Provider => self.provider,
            Dimension::Meta(key) => {
                let found = self
                    .metadata
                    .and_then(|m| serde_json::from_str::<Value>(m).ok())
                    .map(|mut v| v.get_mut(key.as_str()).map(Value::take));
                return match dimension_value(found.flatten().as_ref()) {
                    DimValue::Text(t) => Cow::Owned(t),
                    DimValue::Invalid => Cow::Borrowed(VALUE_INVALID),
                    DimValue::Missing => Cow::Borrowed(dim.missing()),
                };
            }
        };
        match given {
            Some(v) => Cow::Borrowed(v),
            None => Cow::Borrowed(dim.missing()),
        }
    }
}

/// Whether `value` appears verbatim in compact JSON that holds it as a string or number: true
/// unless JSON escapes one of its characters. A dimension filter may then narrow stored
/// events by a substring match on `metadata` before reading it exactly.
pub fn verbatim_in_json(value: &str) -> bool {
    !value.is_empty()
        && !value
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
}

/// What every hashed end-user id starts with.
pub const HASHED_PREFIX: &str = "h:";

/// An end user's id as stored with hashing on: [`HASHED_PREFIX`] and the first 16 bytes of
/// HMAC-SHA256(key, id) in hex. The same id always gives the same hash under one key.
pub fn hash_end_user(key: &str, id: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("{HASHED_PREFIX}{}", hex::encode(&digest[..16]))
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
    fn an_events_values_say_none_no_key_and_invalid() {
        let meta = json!({"team": "search", "n": 7, "bad": [1]}).to_string();
        let e = EventDims {
            user: Some("u-1"),
            key: None,
            provider: None,
            metadata: Some(&meta),
        };
        assert_eq!(e.value(&Dimension::User), "u-1");
        assert_eq!(e.value(&Dimension::Key), "(no key)");
        assert_eq!(e.value(&Dimension::Provider), "(none)");
        assert_eq!(e.value(&Dimension::Meta("team".into())), "search");
        assert_eq!(e.value(&Dimension::Meta("n".into())), "7");
        assert_eq!(e.value(&Dimension::Meta("bad".into())), "(invalid)");
        assert_eq!(e.value(&Dimension::Meta("absent".into())), "(none)");
        let bare = EventDims::default();
        assert_eq!(bare.value(&Dimension::Meta("team".into())), "(none)");
    }

    #[test]
    fn values_json_would_escape_are_not_matched_verbatim() {
        assert!(verbatim_in_json("search team-1 ünï"));
        for escaped in ["a\"b", "a\\b", "tab\t", ""] {
            assert!(!verbatim_in_json(escaped), "{escaped:?}");
        }
    }
}
