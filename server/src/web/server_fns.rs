//! The server side of the app's server functions: the dashboard's and the admin page's views
//! of the query layer and the admin actions, as the signed-in principal may see them.

use app::api::{AdminCommand, AdminSource, Answer, DashboardSource};
use axum::http::StatusCode;
use shared::{
    error_log_page, Account, AdminOverview, ErrorPage, FilterOptions, Panel, PanelData, UsageQuery,
};

use crate::access::Principal;
use crate::access::{require_admin, scope_query};
use crate::admin::{self, AdminError};
use crate::alerting::budgets;
use crate::query;
use crate::store::{Store, StoreError};
use crate::web::panels::{self, LogPage};

/// The principal the guard attached to the request a server function or page is answering.
pub fn current_principal() -> Result<Principal, String> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>().cloned())
        .ok_or_else(|| "sign in to see usage".to_string())
}

/// Sets the HTTP status of a failed server-function call (a page being rendered keeps its
/// 200: its panels show their own errors). Answers `message` for chaining.
pub fn fail_server_fn(status: axum::http::StatusCode, message: String) -> String {
    let is_server_fn = leptos::prelude::use_context::<axum::http::request::Parts>()
        .is_some_and(|p| p.uri.path().starts_with("/api/"));
    if is_server_fn {
        if let Some(r) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            r.set_status(status);
        }
    }
    message
}

/// The dashboard's view of the query layer, as seen by the signed-in principal.
pub struct Dashboard(pub Store);

impl Dashboard {
    /// Scopes `q` to the caller's projects, runs one query-layer call with it, and turns its
    /// error into a message for the user.
    fn answer<'a, T, F, Fut>(&'a self, q: UsageQuery, run: F) -> Answer<'a, T>
    where
        T: Send + 'a,
        F: FnOnce(&'a Store, Principal, UsageQuery) -> Fut + Send + 'a,
        Fut: std::future::Future<Output = Result<T, query::QueryError>> + Send + 'a,
    {
        // Server functions answer errors with a status that says whose fault it was.
        let fail = fail_server_fn;
        let scoped = match current_principal() {
            Err(e) => Err(fail(StatusCode::UNAUTHORIZED, e)),
            Ok(who) => (scope_query(&who, q).map(|q| (who, q)))
                .map_err(|e| fail(StatusCode::FORBIDDEN, e.to_string())),
        };
        Box::pin(async move {
            let (who, q) = scoped?;
            let checked = query::check_models_visible(&self.0, &who, &q).await;
            let result = match checked {
                Ok(()) => run(&self.0, who, q).await,
                Err(e) => Err(e),
            };
            result.map_err(|e| match e {
                query::QueryError::Store(_) => {
                    tracing::error!(error = %e, "dashboard query failed");
                    fail(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the database is unavailable; try again".to_string(),
                    )
                }
                other => fail(StatusCode::BAD_REQUEST, other.to_string()),
            })
        })
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl DashboardSource for Dashboard {
    fn panel(&self, panel: Panel, q: UsageQuery) -> Answer<'_, PanelData> {
        self.answer(q, move |s, who, q| async move {
            let first_page = LogPage {
                before: None,
                limit: error_log_page::DASHBOARD,
            };
            panels::answer(s, &who, panel, &q, now_ms(), first_page).await
        })
    }
    fn error_page(&self, q: UsageQuery, before: Option<String>) -> Answer<'_, ErrorPage> {
        self.answer(q, |s, _, q| async move {
            query::error_page(
                s,
                &q,
                now_ms(),
                before.as_deref(),
                error_log_page::DASHBOARD,
            )
            .await
        })
    }
    fn breakdown(&self, q: UsageQuery, by: String) -> Answer<'_, shared::Breakdown> {
        self.answer(q, |s, _, q| async move {
            let by =
                shared::BreakdownBy::parse(&by).ok_or_else(|| query::QueryError::BadParam {
                    param: "by",
                    reason: format!("{by:?} is not one of {}", shared::BreakdownBy::NAMES),
                })?;
            query::breakdown::breakdown(s, &q, &by, query::breakdown::DEFAULT_LIMIT, now_ms()).await
        })
    }
    fn filter_options(&self) -> Answer<'_, FilterOptions> {
        let who = current_principal();
        Box::pin(async move {
            query::filter_options(&self.0, &who?).await.map_err(|e| {
                tracing::error!(error = %e, "filter options failed");
                "the database is unavailable; try again".to_string()
            })
        })
    }
    fn account(&self) -> Answer<'_, Account> {
        let who = current_principal();
        Box::pin(async move { Ok(who?.account) })
    }
}

/// The admin page's view of the store: admins only, every action audited under their name.
pub struct AdminPage(pub Store);

/// Newest audit entries the admin page shows.
const AUDIT_SHOWN: i64 = 100;
/// Webhook deliveries the admin page lists.
const DELIVERIES_SHOWN: i64 = 50;

impl AdminPage {
    /// The signed-in admin's name, or a refusal (with its status set on the response).
    fn admin_name() -> Result<String, String> {
        let refuse = fail_server_fn;
        let who = current_principal().map_err(|e| refuse(StatusCode::UNAUTHORIZED, e))?;
        require_admin(&who).map_err(|e| refuse(StatusCode::FORBIDDEN, e.0))?;
        Ok(who.account.name)
    }
}

fn message(e: AdminError) -> String {
    match e {
        AdminError::Invalid(m) => m,
        AdminError::Store(StoreError::NotFound(m) | StoreError::Conflict(m)) => m,
        AdminError::Store(other) => {
            tracing::error!(error = %other, "admin action failed");
            "the database is unavailable; nothing was changed".into()
        }
    }
}

impl AdminSource for AdminPage {
    fn overview(&self) -> Answer<'_, AdminOverview> {
        let admin = Self::admin_name();
        Box::pin(async move {
            admin?;
            let load = async {
                Ok::<_, StoreError>(AdminOverview {
                    projects: self.0.list_projects().await?,
                    keys: self.0.list_keys().await?,
                    prices: self.0.list_prices().await?,
                    users: self.0.list_users().await?,
                    tokens: self.0.list_tokens().await?,
                    audit: self.0.audit_log(AUDIT_SHOWN).await?,
                    alert_rules: self
                        .0
                        .alert_rules()
                        .await?
                        .into_iter()
                        .map(|r| r.info)
                        .collect(),
                    webhooks: self.0.list_webhooks().await?,
                    deliveries: self.0.deliveries(DELIVERIES_SHOWN).await?,
                    reprice_runs: self.0.reprice_runs(10).await?,
                    price_rules: self.0.price_rules().await?,
                    discounts: self.0.price_discounts().await?,
                    catalogue: String::new(),
                    model_prices: Vec::new(),
                    budgets: budgets::statuses(&self.0, self.0.list_budgets().await?, now_ms())
                        .await?,
                })
            };
            let mut o = load.await.map_err(|e| message(AdminError::Store(e)))?;
            (o.catalogue, o.model_prices) = model_prices(&self.0)
                .await
                .map_err(|e| message(AdminError::Store(e)))?;
            Ok(o)
        })
    }

    fn run(&self, cmd: AdminCommand) -> Answer<'_, Option<String>> {
        let admin = Self::admin_name();
        Box::pin(async move {
            let actor = admin?;
            admin::run(&self.0, &actor, cmd).await.map_err(|e| {
                let status = match e {
                    AdminError::Store(StoreError::Db(_)) => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::BAD_REQUEST,
                };
                fail_server_fn(status, message(e))
            })
        })
    }
}

/// Which catalogue is in force, and each model with stored events: the catalogue's list
/// price beside the organisation's own (name rule, price table, discount).
async fn model_prices(store: &Store) -> Result<(String, Vec<shared::ModelPriceRow>), StoreError> {
    use crate::pricing::catalogue::Match;
    use crate::pricing::{micros, PriceBook};
    let book = PriceBook::load(store).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let providers = store.model_providers().await?;
    let cat = book.catalogue();
    let catalogue = format!(
        "{} models, taken {}, from {}",
        cat.len(),
        cat.taken,
        cat.source
    );
    let rows = (store.list_models().await?.into_iter())
        .map(|(id, model)| {
            let provider = providers.get(&id).cloned();
            let name = book.mapped(&model);
            let found = cat.resolve(name, provider.as_deref());
            shared::ModelPriceRow {
                catalogue: found.map(|(e, how)| {
                    format!(
                        "{} ({}): ${} in / ${} out{}",
                        e.model,
                        e.provider,
                        micros(e.rates.input),
                        micros(e.rates.output),
                        if how == Match::Fallback {
                            " (fallback)"
                        } else {
                            ""
                        }
                    )
                }),
                rule: (book.rule_of(&model))
                    .map(|r| format!("rule {}: {} -> {}", r.id, r.pattern, r.model)),
                price_table: book.table_price(&model, now).map(|p| {
                    format!(
                        "${} in / ${} out from {}",
                        micros(p.input),
                        micros(p.output),
                        shared::format_utc_ms(p.effective_from_ms)
                    )
                }),
                discount: found
                    .and_then(|(e, _)| {
                        book.discount_of(
                            &[model.as_str(), name, e.model.as_str()],
                            &e.provider,
                            now,
                        )
                    })
                    .map(|d| {
                        format!(
                            "{} % ({} {})",
                            d.basis_points as f64 / 100.0,
                            d.scope.as_str(),
                            d.name
                        )
                    }),
                source: book.source_of(&model, provider.as_deref(), now),
                model,
                provider,
            }
        })
        .collect();
    Ok((catalogue, rows))
}
