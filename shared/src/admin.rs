//! Administration: accounts and roles, projects, keys, prices, users, tokens, the audit log
//! and the admin page's commands.

use serde::{Deserialize, Serialize};

use crate::{
    AlertRuleForm, AlertRuleInfo, DeliveryInfo, Discount, NameRule, PriceSource, WebhookInfo,
};

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
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
    /// Every budget with this period's numbers, organisation-wide first.
    #[serde(default)]
    pub budgets: Vec<crate::BudgetStatus>,
}

/// One change an admin asks for on the admin page. Fields are as typed in the forms;
/// the server parses and validates them (empty means "not given").
#[derive(Clone, Debug)]
pub enum AdminCommand {
    CreateProject {
        name: String,
    },
    RenameProject {
        name: String,
        new_name: String,
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
    /// A viewer's projects ("A, B"; empty: every project).
    SetUserProjects {
        email: String,
        projects: String,
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
    UpdateBudget {
        id: String,
        usd: String,
        thresholds: String,
    },
    DeleteBudget {
        id: String,
    },
    CreateAlertRule(AlertRuleForm),
    DeleteAlertRule {
        id: String,
    },
    /// A rule's threshold, in the unit its metric is shown in (percent, ms, requests).
    UpdateAlertRule {
        id: String,
        threshold: String,
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
