//! What a reader asks: the period or dates, time zone and filters, and the pickers' options.

use serde::{Deserialize, Serialize};

use crate::{DimFilter, EventStatus};

/// A preset time range ending now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Period {
    #[serde(rename = "24h")]
    Last24h,
    #[serde(rename = "7d")]
    Last7d,
    #[default]
    #[serde(rename = "30d")]
    Last30d,
    #[serde(rename = "90d")]
    Last90d,
}

impl Period {
    /// The period's length in hours.
    pub fn hours(self) -> i64 {
        match self {
            Period::Last24h => 24,
            Period::Last7d => 7 * 24,
            Period::Last30d => 30 * 24,
            Period::Last90d => 90 * 24,
        }
    }

    /// The label used in URLs and the seed API (`24h`, `7d`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Period::Last24h => "24h",
            Period::Last7d => "7d",
            Period::Last30d => "30d",
            Period::Last90d => "90d",
        }
    }

    /// Parses a label such as `30d`.
    pub fn parse(label: &str) -> Option<Period> {
        [
            Period::Last24h,
            Period::Last7d,
            Period::Last30d,
            Period::Last90d,
        ]
        .into_iter()
        .find(|p| p.label() == label)
    }
}

/// The time range of a query: a preset ending now, or whole local days (inclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DateRange {
    Preset(Period),
    /// `YYYY-MM-DD` local dates, both included.
    Custom {
        start: String,
        end: String,
    },
}

/// The one query value every panel, endpoint and export is computed from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageQuery {
    pub range: DateRange,
    /// IANA time zone the viewer reads the dashboard in, e.g. `Asia/Kolkata`.
    pub tz: String,
    /// Model names; empty means all.
    pub models: Vec<String>,
    /// Project names; empty means all.
    pub projects: Vec<String>,
    pub status: Option<EventStatus>,
    /// Dimension values every event must have (all of them); empty means no such filter.
    #[serde(default)]
    pub dims: Vec<DimFilter>,
}

impl Default for UsageQuery {
    fn default() -> Self {
        UsageQuery {
            range: DateRange::Preset(Period::default()),
            tz: "UTC".into(),
            models: Vec::new(),
            projects: Vec::new(),
            status: None,
            dims: Vec::new(),
        }
    }
}

/// Names the filter pickers offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FilterOptions {
    pub models: Vec<String>,
    pub projects: Vec<String>,
    /// The metadata keys declared as dimensions (the Breakdown panel offers `meta.<key>`).
    #[serde(default)]
    pub dimensions: Vec<String>,
}
