//! What the panels answer: sums, breakdowns, the error log, insights and the forecast.

use serde::{Deserialize, Serialize};

/// Totals for the summary cards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UsageSummary {
    pub total_requests: i64,
    pub total_cost_nanos: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    /// Input + output tokens (cached input tokens are part of input tokens).
    pub total_tokens: i64,
    pub error_requests: i64,
    /// Requests stored without a price (their cost counts as 0).
    pub unpriced_requests: i64,
    /// Requests priced by a family fallback (a snapshot's family's list price).
    #[serde(default)]
    pub fallback_requests: i64,
    /// Mean latency in ms over requests that reported one.
    pub average_response_time_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Successful requests / all requests, in percent; `None` with no requests.
    pub success_rate: Option<f64>,
    /// Label of the range, e.g. `30d` or `2025-01-01..2025-01-16`.
    pub period: String,
    /// The same numbers for the previous period of the same length, for the cards' changes.
    pub previous: Option<PeriodTotals>,
}

/// The headline numbers of one period (used for the previous-period comparison).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PeriodTotals {
    pub total_requests: i64,
    pub total_cost_nanos: i64,
    pub total_tokens: i64,
    pub average_response_time_ms: Option<f64>,
    pub success_rate: Option<f64>,
}

/// Change from `previous` to `current` in percent; `None` when there is nothing to compare.
pub fn percent_change(current: f64, previous: f64) -> Option<f64> {
    (previous != 0.0).then(|| (current - previous) / previous.abs() * 100.0)
}

/// Fewest requests the previous period must hold for the summary cards to compare with it:
/// below, a handful of requests would turn any change into a meaningless five-digit percent
/// (a card showed "▲ 95,038.1 %").
pub const MIN_COMPARABLE_REQUESTS: i64 = 20;

/// How a summary card compares a number with the previous period's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PeriodChange {
    /// A change in percent (signed), up to ±999.9 %.
    Percent(f64),
    /// A rise of 1,000 % or more, as a factor (e.g. 12.5 times the previous).
    Times(f64),
    /// Nothing (or too little) to compare with, and something now: "new".
    New,
    /// Nothing to show.
    Nothing,
}

/// The change of a card's number, given the previous period's number and requests.
/// `counts_up` is true for numbers that grow from nothing (requests, cost, tokens), false
/// for rates and means (latency, success rate), which are not "new" when there was no base.
pub fn period_change(
    current: f64,
    previous: Option<f64>,
    previous_requests: i64,
    counts_up: bool,
) -> PeriodChange {
    let base = previous_requests >= MIN_COMPARABLE_REQUESTS;
    match previous {
        Some(p) if base && p != 0.0 => match percent_change(current, p) {
            Some(pct) if pct >= 1_000.0 => PeriodChange::Times(current / p),
            Some(pct) => PeriodChange::Percent(pct),
            None => PeriodChange::Nothing,
        },
        _ if counts_up && current > 0.0 => PeriodChange::New,
        _ => PeriodChange::Nothing,
    }
}

/// One local day of the daily history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DailyUsage {
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    pub requests: i64,
    pub cost_nanos: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub average_response_time_ms: Option<f64>,
}

/// The numbers of one breakdown row (a model or a project).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BreakdownStats {
    pub requests: i64,
    pub cost_nanos: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    /// Share of all requests in the query, percent.
    pub request_share: f64,
    /// Share of all cost in the query, percent.
    pub cost_share: f64,
    pub average_response_time_ms: Option<f64>,
    /// Failed requests / requests, percent.
    pub error_rate: f64,
}

/// One row of the per-model breakdown (JSON: `model` beside the flattened stats).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ModelUsage {
    pub model: String,
    /// The provider the model's events last named (`provider`), if any did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Where the model's price comes from now.
    #[serde(default)]
    pub price_source: PriceSource,
    /// Requests in the range stored without a price (cost 0).
    #[serde(default)]
    pub unpriced_requests: i64,
    /// Requests in the range priced by a family fallback.
    #[serde(default)]
    pub fallback_requests: i64,
    #[serde(flatten)]
    pub stats: BreakdownStats,
}

/// Where a model's price comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The organisation's price table (`prices set`, the admin page).
    PriceTable,
    /// The bundled catalogue's list price for the model.
    Catalogue,
    /// The catalogue's price of the model's family (a snapshot it does not list).
    Fallback,
    /// No price here; the costs shown are the ones clients sent.
    Client,
    /// No price anywhere: requests are stored at $0.
    #[default]
    None,
}

impl PriceSource {
    /// As the raw export's `cost_source` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::PriceTable => "price_table",
            PriceSource::Catalogue => "catalogue",
            PriceSource::Fallback => "fallback",
            PriceSource::Client => "client",
            PriceSource::None => "none",
        }
    }

    /// As the dashboard shows it.
    pub fn label(self) -> &'static str {
        match self {
            PriceSource::PriceTable => "price table",
            PriceSource::Catalogue => "catalogue",
            PriceSource::Fallback => "fallback",
            PriceSource::Client => "client",
            PriceSource::None => "no price",
        }
    }
}

/// One row of the per-project breakdown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProjectUsage {
    pub project_id: i64,
    pub project: String,
    #[serde(flatten)]
    pub stats: BreakdownStats,
}

/// Requests and cost in one local hour of the day (0-23).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HourlyUsage {
    pub hour: u8,
    pub requests: i64,
    pub cost_nanos: i64,
}

/// Requests in one local (weekday, hour) cell of the heat map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HeatmapCell {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    pub hour: u8,
    pub requests: i64,
}

/// Failed requests of one error type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorTypeUsage {
    pub error_type: String,
    pub count: i64,
    /// Share of all failed requests, percent.
    pub share: f64,
    /// Cost billed for these failed requests.
    pub cost_nanos: i64,
}

/// One page of the error log, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorPage {
    pub items: Vec<ErrorLog>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// Set when the range starts before the raw events kept (retention deleted older ones,
    /// roll-ups remain): the log can only list failures from this instant (unix ms) on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_events_from_ms: Option<i64>,
}

/// Everything the dashboard shows for one query, computed in one call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DashboardData {
    pub summary: UsageSummary,
    pub daily: Vec<DailyUsage>,
    pub models: Vec<ModelUsage>,
    pub projects: Vec<ProjectUsage>,
    pub hourly: Vec<HourlyUsage>,
    pub heatmap: Vec<HeatmapCell>,
    pub error_types: Vec<ErrorTypeUsage>,
    pub errors: ErrorPage,
}

/// One failed request in the error log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorLog {
    pub timestamp_ms: i64,
    /// The time in the query's zone, `YYYY-MM-DD HH:MM:SS`.
    pub local_time: String,
    pub project: String,
    pub model: String,
    pub error_type: String,
    pub message: Option<String>,
}

/// Where money went that a team can act on, for one query and its previous period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CostInsights {
    /// Cost billed for failed requests, and how many there were.
    pub failed_cost_nanos: i64,
    pub failed_requests: i64,
    /// Cached input tokens as a percentage of all input tokens (`None` without input).
    pub cache_hit_rate: Option<f64>,
    pub cached_input_tokens: i64,
    pub input_tokens: i64,
    /// What the cached tokens would have cost at the full input price minus what they cost at
    /// the cached price, from the price table in force at each day (hour or quarter-hour at
    /// the range's ends).
    pub cache_savings_nanos: i64,
    /// Cached tokens of models without a price, left out of the savings.
    pub unpriced_cached_tokens: i64,
    /// The project x model pairs that cost most in the range, most first (up to 10).
    pub drivers: Vec<CostDriver>,
}

/// One project x model pair's cost now and in the previous period of the same length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CostDriver {
    pub project: String,
    pub model: String,
    pub cost_nanos: i64,
    pub previous_cost_nanos: i64,
    /// `cost - previous`, in nano-USD.
    pub change_nanos: i64,
    /// The change in percent of the previous cost (`None` when it was 0).
    pub change_percent: Option<f64>,
}

/// A month-end spend forecast for one scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SpendForecast {
    /// `None`: everything the query covers.
    pub project: Option<String>,
    /// Spent this month so far.
    pub spent_nanos: i64,
    /// Expected spend of the whole month.
    pub expected_nanos: i64,
    /// The 80 % interval of the month's spend.
    pub low_nanos: i64,
    pub high_nanos: i64,
    /// Days of history the forecast learnt from (from the first day with spend; at most 56).
    pub history_days: i64,
}

/// The month-end forecast panel: the current month in the viewer's zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ForecastView {
    pub tz: String,
    /// `YYYY-MM`.
    pub month: String,
    /// The month's bounds, unix seconds.
    pub month_start: i64,
    pub month_end: i64,
    pub overall: SpendForecast,
    /// The largest projects (at most 10), by spend over the history and this month.
    pub projects: Vec<SpendForecast>,
}
