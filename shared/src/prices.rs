//! The organisation's own rules over the bundled price catalogue, as the admin page and the
//! command line show them (the logic is the server's `pricing::overrides`).

use serde::{Deserialize, Serialize};

/// `pattern` (`*` matches any run of characters, case ignored) names `model` of the
/// catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameRule {
    pub id: i64,
    pub pattern: String,
    pub model: String,
}

/// A discount in basis points (1,500 = 15 %) off the catalogue's list price, for one
/// provider's models or one model, from `effective_from_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Discount {
    pub id: i64,
    /// `provider` or `model`.
    pub scope: DiscountScope,
    /// The provider (`openai`, `aws.bedrock` …) or the model name.
    pub name: String,
    pub basis_points: i64,
    pub effective_from_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscountScope {
    Provider,
    Model,
}

impl DiscountScope {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscountScope::Provider => "provider",
            DiscountScope::Model => "model",
        }
    }

    pub fn parse(s: &str) -> Option<DiscountScope> {
        match s {
            "provider" => Some(DiscountScope::Provider),
            "model" => Some(DiscountScope::Model),
            _ => None,
        }
    }
}
