//! Dimensions (issue 30, docs/dimensions.md): what a breakdown groups by and what a filter
//! narrows to, besides projects and models.

use serde::{Deserialize, Serialize};

/// Something a request can be broken down by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Dimension {
    /// The event's `user` (the end user).
    User,
    /// The ingest key the event came through, shown by its prefix.
    Key,
    /// The event's `provider`.
    Provider,
    /// A metadata key an admin declared (`dimensions add KEY`).
    Meta(String),
}

/// The value of an event that does not say (no `user`, no `provider`, no such metadata key).
pub const VALUE_NONE: &str = "(none)";
/// The value of an event stored without an ingest key (imported, generated, or older).
pub const VALUE_NO_KEY: &str = "(no key)";
/// The value of a declared metadata key that is not a string or number of at most 128
/// characters.
pub const VALUE_INVALID: &str = "(invalid)";

impl Dimension {
    /// The built-in dimensions, in the order pickers list them.
    pub const BUILT_IN: [Dimension; 3] = [Dimension::User, Dimension::Key, Dimension::Provider];

    /// Its name in URLs and the API: `user`, `key`, `provider`, `meta.<key>`.
    pub fn param(&self) -> String {
        match self {
            Dimension::User => "user".into(),
            Dimension::Key => "key".into(),
            Dimension::Provider => "provider".into(),
            Dimension::Meta(k) => format!("meta.{k}"),
        }
    }

    /// The dimension a URL or API name stands for; `None` for any other name.
    pub fn parse(name: &str) -> Option<Dimension> {
        match name {
            "user" => Some(Dimension::User),
            "key" => Some(Dimension::Key),
            "provider" => Some(Dimension::Provider),
            _ => name
                .strip_prefix("meta.")
                .filter(|k| !k.is_empty())
                .map(|k| Dimension::Meta(k.to_string())),
        }
    }

    /// A heading for people: "End user", "Ingest key", "Provider", or the metadata key.
    pub fn label(&self) -> String {
        match self {
            Dimension::User => "End user".into(),
            Dimension::Key => "Ingest key".into(),
            Dimension::Provider => "Provider".into(),
            Dimension::Meta(k) => k.clone(),
        }
    }

    /// The value shown for an event that has none of this dimension.
    pub fn missing(&self) -> &'static str {
        match self {
            Dimension::Key => VALUE_NO_KEY,
            _ => VALUE_NONE,
        }
    }
}

/// What a breakdown groups by: a dimension, or the model or project (these two read the
/// roll-ups, so they are exact and fast at any size; the Daily panel stacks them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BreakdownBy {
    Model,
    Project,
    Dim(Dimension),
}

impl BreakdownBy {
    /// Its name in URLs and the API: `model`, `project`, or the dimension's.
    pub fn param(&self) -> String {
        match self {
            BreakdownBy::Model => "model".into(),
            BreakdownBy::Project => "project".into(),
            BreakdownBy::Dim(d) => d.param(),
        }
    }

    /// What `by=` names; `None` for any other name.
    pub fn parse(name: &str) -> Option<BreakdownBy> {
        match name {
            "model" => Some(BreakdownBy::Model),
            "project" => Some(BreakdownBy::Project),
            _ => Dimension::parse(name).map(BreakdownBy::Dim),
        }
    }

    /// The names `by=` accepts, for error messages.
    pub const NAMES: &'static str = "model, project, user, key, provider or meta.<key>";

    /// A heading for people.
    pub fn label(&self) -> String {
        match self {
            BreakdownBy::Model => "Model".into(),
            BreakdownBy::Project => "Project".into(),
            BreakdownBy::Dim(d) => d.label(),
        }
    }
}

/// Only events whose `dim` is `value` (compared as text, the same as breakdowns show it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DimFilter {
    pub dim: Dimension,
    pub value: String,
}

impl DimFilter {
    /// As the API and the admin forms write it: `meta.team=search`, `user=u-1`.
    pub fn describe(&self) -> String {
        format!("{}={}", self.dim.param(), self.value)
    }
}

/// One value's numbers in a breakdown (or the "other" values', or everything's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BreakdownRow {
    pub value: String,
    pub requests: i64,
    pub cost_nanos: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub errors: i64,
    /// Failed requests as a percentage of requests.
    pub error_rate: f64,
    pub avg_latency_ms: Option<f64>,
    /// From the latency histogram (within its stated relative error).
    pub p95_latency_ms: Option<f64>,
    /// This row's cost as a percentage of the total's.
    pub cost_share: f64,
}

impl BreakdownRow {
    /// Its numbers as the model and project tables show them, with its share of
    /// `total_requests`.
    pub fn stats(&self, total_requests: i64) -> crate::BreakdownStats {
        crate::BreakdownStats {
            requests: self.requests,
            cost_nanos: self.cost_nanos,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cached_input_tokens: self.cached_input_tokens,
            request_share: if total_requests > 0 {
                self.requests as f64 * 100.0 / total_requests as f64
            } else {
                0.0
            },
            cost_share: self.cost_share,
            average_response_time_ms: self.avg_latency_ms,
            error_rate: self.error_rate,
        }
    }
}

/// One local day of one of the top values, or of every other value (`value` "(other)"):
/// the breakdown's daily chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakdownDay {
    pub date: String,
    pub value: String,
    pub cost_nanos: i64,
    pub requests: i64,
    /// Input plus output tokens.
    #[serde(default)]
    pub tokens: i64,
}

/// The Breakdown panel: the top values of a dimension by cost over the range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Breakdown {
    /// The dimension's name (`user`, `key`, `provider`, `meta.<key>`).
    pub by: String,
    /// The top values by cost (then requests, then value), at most the limit asked for.
    pub rows: Vec<BreakdownRow>,
    /// Every value not listed, summed; its `value` is "(other)". The listed rows plus this
    /// one add up to `total` exactly.
    pub other: BreakdownRow,
    /// The whole range under the query's filters: the unfiltered panel's numbers.
    pub total: BreakdownRow,
    /// How many distinct values the range holds.
    pub distinct_values: i64,
    /// Whether `rows` are provably the top values (always, while breakdowns read raw events).
    pub top_exact: bool,
    /// Every local day of the range for each of the first five rows, then for "(other)"
    /// (every value not among those five) when there are such values: per day, the entries
    /// add up to the day's totals exactly.
    pub daily: Vec<BreakdownDay>,
    /// When the range starts before the raw events kept (retention deleted older ones): from
    /// when they are kept. A dimension's values are read from raw events, so what the deleted
    /// ones held is listed as one value, "(not recorded)" (from the roll-ups, which are kept:
    /// totals still add up), except under a dimension filter, which reads raw events only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_events_from_ms: Option<i64>,
}

/// The value of the "other" row.
pub const VALUE_OTHER: &str = "(other)";

/// The value under which a breakdown lists what raw events deleted by retention held.
pub const VALUE_NOT_RECORDED: &str = "(not recorded)";
