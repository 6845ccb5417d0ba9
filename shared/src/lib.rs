//! Domain and wire types shared by the server and the browser (wasm-safe: serde only).
//!
//! Money is always an integer number of nano-USD (1e-9 USD); time is unix milliseconds UTC.
//! JSON field names are camelCase, as in the seed's interfaces.

mod dimension;
mod panel;
mod prices;

pub use dimension::{
    Breakdown, BreakdownDay, BreakdownRow, DimFilter, Dimension, VALUE_INVALID, VALUE_NONE,
    VALUE_NO_KEY, VALUE_OTHER,
};
pub use panel::{error_log_page, ErrorsView, HourlyView, Panel, PanelData, Section};
pub use prices::{Discount, DiscountScope, NameRule};

use serde::{Deserialize, Serialize};

/// Nano-USD in one US dollar.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

/// Providers by the names of OpenTelemetry's GenAI conventions (`gen_ai.provider.name`),
/// the values the `provider` field is expected to hold; other names are kept as sent.
pub const PROVIDERS: [&str; 15] = [
    "openai",
    "anthropic",
    "gcp.gemini",
    "gcp.vertex_ai",
    "gcp.gen_ai",
    "azure.ai.openai",
    "azure.ai.inference",
    "aws.bedrock",
    "mistral_ai",
    "deepseek",
    "x_ai",
    "cohere",
    "groq",
    "perplexity",
    "ibm.watsonx.ai",
];

/// The service tier a request ran on, which picks the tier's price: batch is usually half
/// the list price, flex cheaper, priority dearer. Absent means the default tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ServiceTier {
    #[default]
    Default,
    Batch,
    Flex,
    Priority,
}

impl ServiceTier {
    pub const ALL: [ServiceTier; 4] = [
        ServiceTier::Default,
        ServiceTier::Batch,
        ServiceTier::Flex,
        ServiceTier::Priority,
    ];

    /// The name as sent and stored (`default`, `batch`, `flex`, `priority`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Default => "default",
            ServiceTier::Batch => "batch",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }

    /// The tier named `name` (exactly, lower case).
    pub fn from_name(name: &str) -> Option<ServiceTier> {
        ServiceTier::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Whether a request to the model succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    #[default]
    Success,
    Error,
}

/// One validated usage event: one request an application made to a language model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageEvent {
    /// Client idempotency key: an event with the same id and timestamp as one stored for the
    /// project is a duplicate (a retry); the same id at another timestamp is a new event.
    pub id: Option<String>,
    /// When the request happened, unix milliseconds UTC.
    pub timestamp_ms: i64,
    pub model: String,
    /// Who serves the model (OpenTelemetry's `gen_ai.provider.name` values, [`PROVIDERS`]).
    pub provider: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    /// The part of `cache_write_tokens` written to a 1-hour cache (Anthropic charges these
    /// more than 5-minute writes).
    #[serde(default)]
    pub cache_write_1h_tokens: i64,
    /// The tier the request ran on; `None` is the default tier.
    #[serde(default)]
    pub service_tier: Option<ServiceTier>,
    /// Cost sent by the client; `None` means "price it from the price table".
    pub cost_nanos: Option<i64>,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub status: EventStatus,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    /// End-user id of the calling application.
    pub user: Option<String>,
    /// A small JSON object, kept as its compact text.
    pub metadata: Option<String>,
}

/// What a successful ingest request reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestResponse {
    /// Events newly stored.
    pub accepted: u64,
    /// Events whose id and timestamp were already stored for the project (not counted again).
    pub duplicates: u64,
}

/// One reason a batch was refused: which event, which field, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Index of the event in the batch; `None` when the problem is with the body as a whole.
    pub index: Option<usize>,
    pub field: String,
    pub reason: String,
}

/// The body of every error answer of the JSON APIs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

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

/// What a signed-in user or read token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages projects, keys, prices, users and tokens; sees everything.
    Admin,
    /// Sees the dashboard and exports, possibly of some projects only.
    Viewer,
}

impl Role {
    /// The role's name as stored and shown (`admin`, `viewer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    /// Parses `admin` or `viewer`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// Who is asking, as the app shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The user's email, or `token:<name>` for a read API token.
    pub name: String,
    pub role: Role,
    /// `None`: every project; otherwise only these projects (by name).
    pub projects: Option<Vec<String>>,
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

// ---- administration ---------------------------------------------------------------------

/// A project: the unit ingest keys write to and dashboards filter by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
}

/// An ingest key as listed (the secret itself is never stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub prefix: String,
    pub project: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// One model's prices from a date on, in micro-USD per million tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelPrice {
    pub model: String,
    /// Unix ms UTC from which this price applies.
    pub effective_from_ms: i64,
    pub input: i64,
    pub cached_input: i64,
    pub cache_write: i64,
    pub output: i64,
}

/// A user as listed (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub id: i64,
    pub email: String,
    pub role: Role,
    /// `None`: every project.
    pub projects: Option<Vec<String>>,
    pub created_at_ms: i64,
    pub disabled: bool,
}

/// A read API token as listed (the secret itself is never stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub prefix: String,
    pub name: String,
    /// `None`: every project.
    pub projects: Option<Vec<String>>,
    pub created_by: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// One admin action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// Everything the admin page lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AdminOverview {
    pub projects: Vec<Project>,
    pub keys: Vec<KeyInfo>,
    pub prices: Vec<ModelPrice>,
    pub users: Vec<UserInfo>,
    pub tokens: Vec<TokenInfo>,
    /// Newest first.
    pub audit: Vec<AuditEntry>,
    pub alert_rules: Vec<AlertRuleInfo>,
    pub webhooks: Vec<WebhookInfo>,
    /// Newest first.
    pub deliveries: Vec<DeliveryInfo>,
    /// Newest first.
    #[serde(default)]
    pub reprice_runs: Vec<RepriceRunInfo>,
    #[serde(default)]
    pub price_rules: Vec<NameRule>,
    #[serde(default)]
    pub discounts: Vec<Discount>,
    /// Which catalogue is in force: its source, the date it was taken and its size.
    #[serde(default)]
    pub catalogue: String,
    #[serde(default)]
    pub model_prices: Vec<ModelPriceRow>,
}

/// A budget with its current period's numbers, as the budgets panel shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BudgetStatus {
    pub id: i64,
    /// `None`: the whole organisation.
    pub project: Option<String>,
    pub amount_nanos: i64,
    /// `day`, `week` or `month`.
    pub period: String,
    pub tz: String,
    /// Whole percentages, ascending.
    pub thresholds: Vec<i64>,
    /// The current period, unix seconds.
    pub period_start: i64,
    pub period_end: i64,
    pub spend_nanos: i64,
    pub percent: f64,
    /// Spend at this rate until the period ends (linear in elapsed time).
    pub projected_nanos: i64,
    /// Only events of this dimension value count (e.g. `meta.team=search`).
    #[serde(default)]
    pub scope: Option<DimFilter>,
    /// When the budget is projected to be used up, unix seconds (`None`: not this period).
    pub projected_exceed_at: Option<i64>,
}

/// A recorded threshold crossing, as the alerts list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BudgetAlertInfo {
    pub budget_id: i64,
    /// `None`: the organisation's budget.
    pub project: Option<String>,
    pub threshold: i64,
    /// Start of the budget period crossed, unix seconds.
    pub period_start: i64,
    pub spend_nanos: i64,
    pub fired_at_ms: i64,
    /// The budget's dimension value, if it has one.
    #[serde(default)]
    pub scope: Option<DimFilter>,
}

/// The budgets panel: budgets with this period's numbers and the newest alerts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BudgetsView {
    pub budgets: Vec<BudgetStatus>,
    pub alerts: Vec<BudgetAlertInfo>,
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

/// A metric alert rule with its current state, as the alerts panel and admin page show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleInfo {
    pub id: i64,
    pub name: String,
    /// `error_rate`, `p95_latency` or `requests`.
    pub metric: String,
    /// `None`: every project.
    pub project: Option<String>,
    /// `None`: every model.
    pub model: Option<String>,
    /// `above` or `below`.
    pub op: String,
    /// error_rate: basis points (500 = 5 %); p95_latency: ms; requests: a count.
    pub threshold: i64,
    pub window_minutes: i64,
    pub min_requests: i64,
    /// `ok` or `firing`.
    pub state: String,
    pub state_since_ms: i64,
    /// Only events of this dimension value count (e.g. `meta.team=search`).
    #[serde(default)]
    pub scope: Option<DimFilter>,
}

impl AlertRuleInfo {
    /// The rule in words, e.g. "error rate above 5 % over 10 min, project A".
    pub fn describe(&self) -> String {
        let mut scope = match (&self.project, &self.model) {
            (None, None) => "all traffic".to_string(),
            (Some(p), None) => format!("project {p}"),
            (None, Some(m)) => format!("model {m}"),
            (Some(p), Some(m)) => format!("project {p}, model {m}"),
        };
        if let Some(d) = &self.scope {
            scope = format!("{scope}, {}", d.describe());
        }
        format!(
            "{} {} {} over {} min, {scope}",
            metric_label(&self.metric),
            self.op,
            format_metric(&self.metric, self.threshold),
            self.window_minutes
        )
    }
}

/// A metric's name in words.
pub fn metric_label(metric: &str) -> &'static str {
    match metric {
        "error_rate" => "error rate",
        "p95_latency" => "p95 latency",
        "requests" => "requests",
        _ => "metric",
    }
}

/// A metric value in its unit: basis points as a percentage, milliseconds, or a count.
pub fn format_metric(metric: &str, value: i64) -> String {
    match metric {
        "error_rate" => {
            let s = format!("{}.{:02}", value / 100, value % 100);
            format!("{} %", s.trim_end_matches('0').trim_end_matches('.'))
        }
        "p95_latency" => format!("{value} ms"),
        _ => value.to_string(),
    }
}

/// One entry of the alert history: a metric alert firing or resolving, or a budget threshold
/// crossed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AlertHistoryEntry {
    pub at_ms: i64,
    /// `firing`, `resolved` or `budget`.
    pub kind: String,
    /// What happened, in words.
    pub message: String,
}

/// The alerts panel: the metric alert rules with their state and the newest history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AlertsView {
    pub rules: Vec<AlertRuleInfo>,
    /// Newest first.
    pub history: Vec<AlertHistoryEntry>,
}

/// A webhook as the admin page lists it (the secret is shown only when it is created).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebhookInfo {
    pub id: i64,
    pub url: String,
    pub created_at_ms: i64,
    pub disabled_at_ms: Option<i64>,
}

/// One notification sent (or being sent) to a webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryInfo {
    pub id: i64,
    pub webhook_id: i64,
    pub url: String,
    /// `budget.threshold`, `alert.firing`, `alert.resolved` or `test`.
    pub kind: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub next_attempt_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
}

/// Parses a non-negative USD amount with at most six decimals into micro-USD, exactly
/// (`"2.50"` → 2,500,000); `what` names the field in the error.
pub fn parse_usd_micros(what: &str, s: &str) -> Result<i64, String> {
    let err = || format!("{what} {s:?}: expected a USD amount such as 2.50 (at most 6 decimals)");
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 6 {
        return Err(err());
    }
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return Err(err());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| err())?
    };
    let frac: i64 = format!("{frac:0<6}").parse().map_err(|_| err())?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(err)
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM UTC` (for listings; dashboards use the viewer's zone).
pub fn format_utc_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Formats nano-USD as dollars rounded to the cent, e.g. `$1,245.80`.
pub fn format_usd(nanos: i64) -> String {
    let negative = nanos < 0;
    let abs = (nanos as i128).abs();
    // Round half away from zero to whole cents.
    let cents = (abs + 5_000_000) / 10_000_000;
    let dollars = cents / 100;
    let rest = cents % 100;
    let sign = if negative && cents > 0 { "-" } else { "" };
    format!("{sign}${}.{rest:02}", group_thousands(dollars))
}

/// Formats an integer with thousands separators, e.g. `1,234,567`.
pub fn format_count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_thousands((n as i128).abs()))
}

fn group_thousands(n: i128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_need_a_base_of_requests_and_huge_ones_read_as_factors() {
        use PeriodChange::*;
        let base = MIN_COMPARABLE_REQUESTS;
        assert_eq!(period_change(110.0, Some(100.0), base, true), Percent(10.0));
        assert_eq!(period_change(50.0, Some(100.0), base, true), Percent(-50.0));
        // 5 requests then 4,757: not "▲ 95,038.1 %".
        assert_eq!(period_change(4_757.0, Some(5.0), 5, true), New);
        assert_eq!(period_change(0.9, Some(0.5), 5, false), Nothing);
        assert_eq!(period_change(3_000.0, Some(100.0), base, true), Times(30.0));
        assert_eq!(period_change(10.0, None, 0, true), New);
        assert_eq!(period_change(0.0, None, 0, true), Nothing);
        assert_eq!(period_change(5.0, Some(0.0), base, true), New);
    }

    #[test]
    fn utc_times_format_as_civil_dates() {
        assert_eq!(format_utc_ms(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 13:45:59 UTC, a leap day.
        assert_eq!(format_utc_ms(1_709_214_359_000), "2024-02-29 13:45 UTC");
        assert_eq!(format_utc_ms(-1), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn usd_amounts_parse_exactly_to_micros() {
        assert_eq!(parse_usd_micros("x", "2.50"), Ok(2_500_000));
        assert_eq!(parse_usd_micros("x", "0.075"), Ok(75_000));
        assert_eq!(parse_usd_micros("x", "15"), Ok(15_000_000));
        assert_eq!(parse_usd_micros("x", ".5"), Ok(500_000));
        for bad in ["", "-1", "1.0000001", "abc", "1e3", "."] {
            assert!(parse_usd_micros("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dollars_are_rounded_to_the_cent_half_away_from_zero() {
        assert_eq!(format_usd(0), "$0.00");
        assert_eq!(format_usd(4_999_999), "$0.00");
        assert_eq!(format_usd(5_000_000), "$0.01");
        assert_eq!(format_usd(245_804_999_999), "$245.80");
        assert_eq!(format_usd(1_234_567_890_000_000), "$1,234,567.89");
        assert_eq!(format_usd(-1_500_000_000), "-$1.50");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(125_430), "125,430");
        assert_eq!(format_count(-2_847_392), "-2,847,392");
    }

    #[test]
    fn period_labels_round_trip() {
        for p in [
            Period::Last24h,
            Period::Last7d,
            Period::Last30d,
            Period::Last90d,
        ] {
            assert_eq!(Period::parse(p.label()), Some(p));
        }
        assert_eq!(Period::parse("1y"), None);
    }
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

/// One change an admin asks for on the admin page. Fields are as typed in the forms;
/// the server parses and validates them (empty means "not given").
#[derive(Clone, Debug)]
pub enum AdminCommand {
    CreateProject {
        name: String,
    },
    CreateKey {
        project: String,
    },
    RevokeKey {
        prefix: String,
    },
    SetPrice {
        model: String,
        input: String,
        output: String,
        cached_input: String,
        cache_write: String,
        from: String,
    },
    CreateUser {
        email: String,
        password: String,
        role: String,
        projects: String,
    },
    DisableUser {
        email: String,
    },
    CreateToken {
        name: String,
        projects: String,
    },
    RevokeToken {
        prefix: String,
    },
    CreateBudget {
        project: String,
        usd: String,
        period: String,
        tz: String,
        thresholds: String,
        /// Empty, or one dimension value, e.g. `team=search`.
        scope: String,
    },
    CreateAlertRule(AlertRuleForm),
    DeleteAlertRule {
        id: String,
    },
    CreateWebhook {
        url: String,
    },
    DisableWebhook {
        id: String,
    },
    TestWebhook {
        id: String,
    },
    /// What re-pricing stored events from `from` (a UTC date; of `model` only, when given)
    /// would change; changes nothing.
    RepricePreview {
        from: String,
        model: String,
    },
    /// Starts re-pricing stored events from `from` (of `model` only, when given) in the
    /// background.
    Reprice {
        from: String,
        model: String,
    },
    /// Resumes the unfinished re-pricing run in the background.
    RepriceResume,
    /// Model names matching `pattern` are priced as the catalogue's `model`.
    AddPriceRule {
        pattern: String,
        model: String,
    },
    DeletePriceRule {
        id: String,
    },
    /// `percent` off the catalogue's price for a `provider` or `model` (`scope`) from `from`.
    AddDiscount {
        scope: String,
        name: String,
        percent: String,
        from: String,
    },
    DeleteDiscount {
        id: String,
    },
    /// Erases an end user's id from every stored event.
    EraseEndUser {
        id: String,
    },
    /// Which price a model name gets, and why (changes nothing).
    ResolvePrice {
        name: String,
        provider: String,
    },
}

/// One model with stored events, as the admin page's price comparison shows it: the
/// catalogue's list price beside the organisation's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ModelPriceRow {
    pub model: String,
    pub provider: Option<String>,
    /// "gpt-4o (openai): $2.500000 in / $10.000000 out", or `None` when the catalogue has no
    /// price for it; "(fallback)" when priced as its family.
    pub catalogue: Option<String>,
    /// The name rule that maps it, as "rule 3: azure/* -> gpt-4o".
    pub rule: Option<String>,
    /// The price table's price in force: "$3.000000 in / $15.000000 out from 2025-02-01".
    pub price_table: Option<String>,
    /// The discount in force: "15 % (provider openai)".
    pub discount: Option<String>,
    pub source: PriceSource,
}

/// A re-pricing run as the admin page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RepriceRunInfo {
    pub id: i64,
    pub started_at_ms: i64,
    /// `None` while running or interrupted.
    pub finished_at_ms: Option<i64>,
    pub from_ms: i64,
    /// `None`: every model.
    pub model_id: Option<i64>,
    pub model: Option<String>,
    /// Stored events up to this id are re-priced (the newest when the run started)...
    pub up_to_id: i64,
    /// ...and those up to this one are done.
    pub after_id: i64,
    pub events_seen: i64,
    pub events_changed: i64,
    pub cost_before_nanos: i64,
    pub cost_after_nanos: i64,
    pub created_by: String,
}

/// A metric alert rule as typed in the admin form or on the command line (empty: not
/// given); the server parses and validates it.
#[derive(Clone, Debug, Default)]
pub struct AlertRuleForm {
    pub name: String,
    /// `error_rate`, `p95_latency` or `requests`.
    pub metric: String,
    pub project: String,
    pub model: String,
    /// `above` or `below`.
    pub op: String,
    /// A percentage for error_rate (up to two decimals), milliseconds or a count.
    pub threshold: String,
    pub window_minutes: String,
    /// Default 20.
    pub min_requests: String,
    /// Empty, or one dimension value, e.g. `team=search`, `meta.customer=acme`, `user=u-1`.
    pub scope: String,
}
