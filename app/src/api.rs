//! Server functions of the dashboard and the seam through which they reach the server's
//! query layer ([`DashboardSource`], provided as context by the server binary).

// An admin form's fields are its server function's arguments, one each; `#[server]` also
// writes the browser's call with them, where an item-level allow does not reach.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use shared::{Account, ErrorPage, FilterOptions, Panel, PanelData, UsageQuery};

#[cfg(feature = "ssr")]
pub use ssr::*;

#[cfg(feature = "ssr")]
mod ssr {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use shared::{Account, ErrorPage, FilterOptions, Panel, PanelData, UsageQuery};

    /// A boxed future, as the object-safe trait below needs.
    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
    /// What every method answers: the data, or a message fit for the user.
    pub type Answer<'a, T> = BoxFuture<'a, Result<T, String>>;

    /// What the dashboard needs from the server; implemented by the `server` crate on top of
    /// its query layer, so panels and REST endpoints compute the same numbers.
    pub trait DashboardSource: Send + Sync + 'static {
        /// One panel's answer for the query (see `shared::Panel`).
        fn panel(&self, panel: Panel, q: UsageQuery) -> Answer<'_, PanelData>;
        /// A further page of the error log, after the row `before`.
        fn error_page(&self, q: UsageQuery, before: Option<String>) -> Answer<'_, ErrorPage>;
        /// The query's events broken down by a dimension (`user`, `key`, `provider`,
        /// `meta.<key>`).
        fn breakdown(&self, q: UsageQuery, by: String) -> Answer<'_, shared::Breakdown>;
        fn filter_options(&self) -> Answer<'_, FilterOptions>;
        /// Who is signed in.
        fn account(&self) -> Answer<'_, Account>;
    }

    /// The shared handle put into Leptos context.
    pub type SourceHandle = Arc<dyn DashboardSource>;

    pub use shared::{AdminCommand, AlertRuleForm};

    /// What the admin page needs from the server (admins only; implemented by `server`).
    pub trait AdminSource: Send + Sync + 'static {
        fn overview(&self) -> Answer<'_, shared::AdminOverview>;
        /// Carries out a command; answers a secret to show once (a new key or token).
        fn run(&self, cmd: AdminCommand) -> Answer<'_, Option<String>>;
    }

    /// The admin handle put into Leptos context.
    pub type AdminHandle = Arc<dyn AdminSource>;

    pub(crate) fn admin_source() -> Result<AdminHandle, leptos::prelude::ServerFnError> {
        leptos::prelude::use_context::<AdminHandle>().ok_or_else(|| {
            leptos::prelude::ServerFnError::new("the admin source is not configured")
        })
    }

    pub(crate) fn source() -> Result<SourceHandle, leptos::prelude::ServerFnError> {
        leptos::prelude::use_context::<SourceHandle>()
            .ok_or_else(|| leptos::prelude::ServerFnError::new("the data source is not configured"))
    }
}

/// One panel of the dashboard (every panel but Breakdown, which answers by dimension).
#[server(input = Json, endpoint = "get_panel")]
pub async fn get_panel(panel: Panel, q: UsageQuery) -> Result<PanelData, ServerFnError> {
    source()?.panel(panel, q).await.map_err(ServerFnError::new)
}

/// The Breakdown panel.
#[server(input = Json, endpoint = "get_breakdown")]
pub async fn get_breakdown(q: UsageQuery, by: String) -> Result<shared::Breakdown, ServerFnError> {
    source()?.breakdown(q, by).await.map_err(ServerFnError::new)
}

/// A further page of the error log.
#[server(input = Json, endpoint = "get_error_page")]
pub async fn get_error_page(
    q: UsageQuery,
    before: Option<String>,
) -> Result<ErrorPage, ServerFnError> {
    source()?
        .error_page(q, before)
        .await
        .map_err(ServerFnError::new)
}

/// Model and project names for the filter pickers.
#[server(endpoint = "get_filter_options")]
pub async fn get_filter_options() -> Result<FilterOptions, ServerFnError> {
    source()?.filter_options().await.map_err(ServerFnError::new)
}

/// The signed-in account, for the header (and to show admin links to admins only).
#[server(endpoint = "get_account")]
pub async fn get_account() -> Result<Account, ServerFnError> {
    source()?.account().await.map_err(ServerFnError::new)
}

/// Everything the admin page lists.
#[server(endpoint = "admin_overview")]
pub async fn admin_overview() -> Result<shared::AdminOverview, ServerFnError> {
    admin_source()?.overview().await.map_err(ServerFnError::new)
}

#[cfg(feature = "ssr")]
async fn admin_run(cmd: AdminCommand) -> Result<Option<String>, ServerFnError> {
    admin_source()?.run(cmd).await.map_err(ServerFnError::new)
}

/// Creates a project.
#[server(endpoint = "admin_create_project")]
pub async fn admin_create_project(name: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::CreateProject { name }).await
}

/// Creates an ingest key; answers the key (shown once).
#[server(endpoint = "admin_create_key")]
pub async fn admin_create_key(project: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::CreateKey { project }).await
}

/// Revokes an ingest key.
#[server(endpoint = "admin_revoke_key")]
pub async fn admin_revoke_key(prefix: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::RevokeKey { prefix }).await
}

/// Renames a project.
#[server(endpoint = "admin_rename_project")]
pub async fn admin_rename_project(
    name: String,
    new_name: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::RenameProject { name, new_name }).await
}

/// Sets the projects a viewer sees ("A, B"; empty: every project).
#[server(endpoint = "admin_set_user_projects")]
pub async fn admin_set_user_projects(
    email: String,
    projects: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::SetUserProjects { email, projects }).await
}

/// Changes a budget's amount (USD per period) and alert thresholds.
#[server(endpoint = "admin_update_budget")]
pub async fn admin_update_budget(
    id: String,
    usd: String,
    thresholds: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::UpdateBudget {
        id,
        usd,
        thresholds,
    })
    .await
}

/// Deletes a budget and its recorded alerts.
#[server(endpoint = "admin_delete_budget")]
pub async fn admin_delete_budget(id: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::DeleteBudget { id }).await
}

/// Changes a metric alert rule's threshold.
#[server(endpoint = "admin_update_alert_rule")]
pub async fn admin_update_alert_rule(
    id: String,
    threshold: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::UpdateAlertRule { id, threshold }).await
}

/// Sets a model's prices (USD per million tokens) from a date on.
#[server(endpoint = "admin_set_price")]
pub async fn admin_set_price(
    model: String,
    input: String,
    output: String,
    cached_input: String,
    cache_write: String,
    from: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::SetPrice {
        model,
        input,
        output,
        cached_input,
        cache_write,
        from,
    })
    .await
}

/// Creates a user.
#[server(endpoint = "admin_create_user")]
pub async fn admin_create_user(
    email: String,
    password: String,
    role: String,
    projects: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::CreateUser {
        email,
        password,
        role,
        projects,
    })
    .await
}

/// Disables a user.
#[server(endpoint = "admin_disable_user")]
pub async fn admin_disable_user(email: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::DisableUser { email }).await
}

/// Creates a read API token; answers the token (shown once).
#[server(endpoint = "admin_create_token")]
pub async fn admin_create_token(
    name: String,
    projects: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::CreateToken { name, projects }).await
}

/// Revokes a read API token.
#[server(endpoint = "admin_revoke_token")]
pub async fn admin_revoke_token(prefix: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::RevokeToken { prefix }).await
}

/// Creates a budget (empty project: the whole organisation; empty scope: every dimension
/// value).
#[server(endpoint = "admin_create_budget")]
pub async fn admin_create_budget(
    project: String,
    usd: String,
    period: String,
    tz: String,
    thresholds: String,
    #[server(default)] scope: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::CreateBudget {
        project,
        usd,
        period,
        tz,
        thresholds,
        scope,
    })
    .await
}

/// Creates a metric alert rule (empty project or model: all of them).
#[server(endpoint = "admin_create_alert_rule")]
pub async fn admin_create_alert_rule(
    name: String,
    metric: String,
    project: String,
    model: String,
    op: String,
    threshold: String,
    window_minutes: String,
    min_requests: String,
    #[server(default)] scope: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::CreateAlertRule(AlertRuleForm {
        name,
        metric,
        project,
        model,
        op,
        threshold,
        window_minutes,
        min_requests,
        scope,
    }))
    .await
}

/// Deletes a metric alert rule and its history.
#[server(endpoint = "admin_delete_alert_rule")]
pub async fn admin_delete_alert_rule(id: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::DeleteAlertRule { id }).await
}

/// Adds a webhook; answers its signing secret (shown once).
#[server(endpoint = "admin_create_webhook")]
pub async fn admin_create_webhook(url: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::CreateWebhook { url }).await
}

/// Stops sending to a webhook.
#[server(endpoint = "admin_disable_webhook")]
pub async fn admin_disable_webhook(id: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::DisableWebhook { id }).await
}

/// Queues a test notification to a webhook.
#[server(endpoint = "admin_test_webhook")]
pub async fn admin_test_webhook(id: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::TestWebhook { id }).await
}

/// What re-pricing stored events from a date would change (changes nothing).
#[server(endpoint = "admin_reprice_preview")]
pub async fn admin_reprice_preview(
    from: String,
    model: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::RepricePreview { from, model }).await
}

/// Starts re-pricing stored events from a date, in the background.
#[server(endpoint = "admin_reprice")]
pub async fn admin_reprice(from: String, model: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::Reprice { from, model }).await
}

/// Adds a name rule (a model name pattern -> a catalogue model).
#[server(endpoint = "admin_add_price_rule")]
pub async fn admin_add_price_rule(
    pattern: String,
    model: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::AddPriceRule { pattern, model }).await
}

#[server(endpoint = "admin_delete_price_rule")]
pub async fn admin_delete_price_rule(id: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::DeletePriceRule { id }).await
}

/// Adds a discount off the catalogue's price for a provider or a model.
#[server(endpoint = "admin_add_discount")]
pub async fn admin_add_discount(
    scope: String,
    name: String,
    percent: String,
    from: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::AddDiscount {
        scope,
        name,
        percent,
        from,
    })
    .await
}

#[server(endpoint = "admin_delete_discount")]
pub async fn admin_delete_discount(id: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::DeleteDiscount { id }).await
}

/// Erases an end user's id from every stored event.
#[server(endpoint = "admin_erase_end_user")]
pub async fn admin_erase_end_user(id: String) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::EraseEndUser { id }).await
}

/// Which price a model name gets, and why.
#[server(endpoint = "admin_resolve_price")]
pub async fn admin_resolve_price(
    name: String,
    provider: String,
) -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::ResolvePrice { name, provider }).await
}

/// Resumes the unfinished re-pricing run, in the background.
#[server(endpoint = "admin_reprice_resume")]
pub async fn admin_reprice_resume() -> Result<Option<String>, ServerFnError> {
    admin_run(AdminCommand::RepriceResume).await
}
