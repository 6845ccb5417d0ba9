//! Budgets, metric alert rules, their history and webhooks.

use serde::{Deserialize, Serialize};

use crate::DimFilter;

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

/// What a budget counts, in words: its project or "Organisation", and the dimension value it
/// is narrowed to ("Search, team = search"). The dashboard, the admin page and `budgets list`
/// label budgets and their alerts with it.
pub fn budget_label(project: Option<&str>, scope: Option<&DimFilter>) -> String {
    let whole = project.unwrap_or("Organisation");
    match scope {
        Some(d) => format!("{whole}, {}", d.describe()),
        None => whole.to_string(),
    }
}

impl BudgetStatus {
    /// [`budget_label`] of this budget.
    pub fn label(&self) -> String {
        budget_label(self.project.as_deref(), self.scope.as_ref())
    }
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
