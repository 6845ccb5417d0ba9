//! usage-analytics server: ingest, storage, queries and the host of the Leptos app.

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod bench;
pub mod budgets;
pub mod config;
pub mod demo;
pub mod export;
pub mod forecast;
pub mod http;
pub mod import;
pub mod ingest;
pub mod insights;
pub mod keys;
pub mod limit;
pub mod live;
pub mod metrics;
pub mod query;
pub mod rest;
pub mod retention;
pub mod rollup;
pub mod store;
pub mod webhooks;

use std::sync::Arc;

use app::api::{AdminHandle, Answer, DashboardSource, SourceHandle};
use axum::extract::FromRef;
use axum::http::{header, HeaderValue, StatusCode};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use shared::{
    Account, DailyUsage, ErrorPage, ErrorTypeUsage, FilterOptions, HeatmapCell, HourlyUsage,
    ModelUsage, ProjectUsage, UsageQuery, UsageSummary,
};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
pub use store::Store;

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
    /// Signals of newly stored events, for live dashboards.
    pub changes: live::ChangeFeed,
    /// Per-key ingest rate limit.
    pub ingest_limit: Arc<limit::RateLimiter>,
    /// Counters exposed at `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Set to `true` when the server starts shutting down: endless streams (live updates)
    /// end then, so that shutdown waits only for real work such as in-flight batches.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// State for a server over `store`; starts the change feed (needs a Tokio runtime).
    pub fn new(store: Store, config: Config, leptos_options: LeptosOptions) -> AppState {
        AppState {
            changes: live::ChangeFeed::start(store.clone()),
            ingest_limit: Arc::new(limit::RateLimiter::new(
                config.ingest_events_per_sec,
                config.max_batch_events,
            )),
            metrics: Arc::default(),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
            store,
            config: Arc::new(config),
            leptos_options,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The dashboard's view of the query layer, as seen by the signed-in principal.
struct Dashboard(Store);

impl Dashboard {
    /// Scopes `q` to the caller's projects, runs one query-layer call with it, and turns its
    /// error into a message for the user.
    fn answer<'a, T, F, Fut>(&'a self, q: UsageQuery, run: F) -> Answer<'a, T>
    where
        T: Send + 'a,
        F: FnOnce(&'a Store, UsageQuery) -> Fut + Send + 'a,
        Fut: std::future::Future<Output = Result<T, query::QueryError>> + Send + 'a,
    {
        // Server functions answer errors with a status that says whose fault it was.
        let fail = auth::fail_server_fn;
        let scoped = match auth::current_principal() {
            Err(e) => Err(fail(StatusCode::UNAUTHORIZED, e)),
            Ok(who) => {
                auth::scope_query(&who, q).map_err(|e| fail(StatusCode::FORBIDDEN, e.to_string()))
            }
        };
        Box::pin(async move {
            run(&self.0, scoped?).await.map_err(|e| match e {
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
    fn summary(&self, q: UsageQuery) -> Answer<'_, UsageSummary> {
        self.answer(
            q,
            |s, q| async move { query::summary(s, &q, now_ms()).await },
        )
    }
    fn daily(&self, q: UsageQuery) -> Answer<'_, Vec<DailyUsage>> {
        self.answer(q, |s, q| async move { query::daily(s, &q, now_ms()).await })
    }
    fn models(&self, q: UsageQuery) -> Answer<'_, Vec<ModelUsage>> {
        self.answer(
            q,
            |s, q| async move { query::models(s, &q, now_ms()).await },
        )
    }
    fn projects(&self, q: UsageQuery) -> Answer<'_, Vec<ProjectUsage>> {
        self.answer(
            q,
            |s, q| async move { query::projects(s, &q, now_ms()).await },
        )
    }
    fn hourly(&self, q: UsageQuery) -> Answer<'_, (Vec<HourlyUsage>, Vec<HeatmapCell>)> {
        self.answer(
            q,
            |s, q| async move { query::hourly(s, &q, now_ms()).await },
        )
    }
    fn error_types(&self, q: UsageQuery) -> Answer<'_, Vec<ErrorTypeUsage>> {
        self.answer(q, |s, q| async move {
            query::error_types(s, &q, now_ms()).await
        })
    }
    fn error_page(&self, q: UsageQuery, before: Option<String>) -> Answer<'_, ErrorPage> {
        self.answer(q, |s, q| async move {
            query::error_page(s, &q, now_ms(), before.as_deref(), 20).await
        })
    }
    fn insights(&self, q: UsageQuery) -> Answer<'_, shared::CostInsights> {
        self.answer(q, |s, q| async move {
            insights::insights(s, &q, now_ms()).await
        })
    }
    fn forecast(&self, q: UsageQuery) -> Answer<'_, shared::ForecastView> {
        self.answer(q, |s, q| async move {
            forecast::forecast(s, &q, now_ms()).await
        })
    }
    fn filter_options(&self) -> Answer<'_, FilterOptions> {
        let who = auth::current_principal();
        Box::pin(async move {
            query::filter_options(&self.0, &who?).await.map_err(|e| {
                tracing::error!(error = %e, "filter options failed");
                "the database is unavailable; try again".to_string()
            })
        })
    }
    fn account(&self) -> Answer<'_, Account> {
        let who = auth::current_principal();
        Box::pin(async move { Ok(who?.account) })
    }
    fn alerts(&self) -> Answer<'_, shared::AlertsView> {
        let who = auth::current_principal();
        Box::pin(async move {
            alerts::view(&self.0, &who?, 50).await.map_err(|e| {
                tracing::error!(error = %e, "alerts failed");
                "the database is unavailable; try again".to_string()
            })
        })
    }
    fn budgets(&self) -> Answer<'_, shared::BudgetsView> {
        let who = auth::current_principal();
        Box::pin(async move {
            let who = who?;
            let load = async {
                let visible = budgets::visible(&self.0, &who).await?;
                Ok::<_, store::StoreError>(shared::BudgetsView {
                    alerts: budgets::alerts(&self.0, &visible, 20).await?,
                    budgets: budgets::statuses(&self.0, visible, now_ms()).await?,
                })
            };
            load.await.map_err(|e| {
                tracing::error!(error = %e, "budgets failed");
                "the database is unavailable; try again".to_string()
            })
        })
    }
}

/// Leptos settings from cargo-leptos' environment variables, with defaults that match
/// `[workspace.metadata.leptos]` so the binary also runs on its own.
pub fn leptos_options() -> LeptosOptions {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let addr = env("LEPTOS_SITE_ADDR", "127.0.0.1:3000");
    LeptosOptions::builder()
        .output_name(env("LEPTOS_OUTPUT_NAME", "usage-analytics"))
        .site_root(env("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(env("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(
            addr.parse::<std::net::SocketAddr>()
                .unwrap_or_else(|_| ([127, 0, 0, 1], 3000).into()),
        )
        .build()
}

/// The whole HTTP application: JSON API, server functions, pages and static files.
pub fn router(state: AppState) -> Router {
    let data: SourceHandle = Arc::new(Dashboard(state.store.clone()));
    let admin: AdminHandle = Arc::new(admin::AdminPage(state.store.clone()));
    let routes = generate_route_list(app::App);
    let options = state.leptos_options.clone();
    let context = move || {
        provide_context(data.clone());
        provide_context(admin.clone());
    };
    let router = http::routes()
        .merge(rest::routes())
        .route(
            "/login",
            axum::routing::get(auth::login_form).post(auth::login),
        )
        .route("/logout", axum::routing::post(auth::logout))
        .route("/metrics", axum::routing::get(metrics::endpoint))
        .route(
            "/api/{*fn_name}",
            axum::routing::post({
                let context = context.clone();
                move |req| leptos_axum::handle_server_fns_with_context(context.clone(), req)
            }),
        )
        .leptos_routes_with_context(&state, routes, context, move || app::shell(options.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .layer(timeout_layer(&state.config))
        .with_state(state);
    with_security_headers(router)
}

/// Requests that take longer than the configured time get 408 (a slow or stalled client
/// cannot hold a connection and an ingest batch open forever). Streams are bounded only
/// until their headers are sent.
fn timeout_layer(config: &Config) -> tower_http::timeout::TimeoutLayer {
    tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        std::time::Duration::from_secs(config.request_timeout_secs),
    )
}

/// Headers on every response: no MIME sniffing, a Content-Security-Policy (never framed by
/// another site, no foreign or unnonced scripts), no full URLs (with their filters) leaked to
/// other sites.
fn with_security_headers(router: Router) -> Router {
    let set = |name: header::HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    router
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Pages set their own policy with a per-response script nonce (app::shell);
        // everything else (API, log-in page, files) may run no inline script at all.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; object-src 'none'; base-uri 'none'; \
                 form-action 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(set(header::REFERRER_POLICY, "same-origin"))
}

/// Serves the application on `listener` until the process is asked to stop.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_while_opening(listener, async { Ok::<_, std::io::Error>(state) }).await
}

/// Serves `listener` at once, and the application once `opening` (opening and migrating the
/// database, which can take minutes on a large one) has made its state. Until then
/// `/healthz` answers "ok" (the process is alive) and every other path 503 "migrating"
/// with `Retry-After`, so that a load balancer waits rather than sends traffic. Ends when
/// the process is asked to stop, or with `opening`'s error.
pub async fn serve_while_opening<E>(
    listener: tokio::net::TcpListener,
    opening: impl std::future::Future<Output = Result<AppState, E>>,
) -> Result<(), E>
where
    E: From<std::io::Error>,
{
    let app: Arc<std::sync::OnceLock<(Router, AppState)>> = Arc::default();
    let front = {
        let app = app.clone();
        Router::new().fallback(move |req: axum::extract::Request| {
            let app = app.clone();
            async move {
                use tower::ServiceExt;
                match app.get() {
                    Some((router, _)) => match router.clone().oneshot(req).await {
                        Ok(res) => res,
                        Err(never) => match never {},
                    },
                    None => opening_answer(req.uri().path()),
                }
            }
        })
    };
    let stopping = app.clone();
    use std::future::IntoFuture;
    let server = axum::serve(
        listener,
        front.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        if let Some((_, state)) = stopping.get() {
            state.stopping.send_replace(true);
        }
    })
    .into_future();
    tokio::pin!(server);
    tokio::select! {
        // Asked to stop before the database was open.
        done = &mut server => return Ok(done?),
        state = opening => {
            let state = state?;
            let _ = app.set((router(state.clone()), state));
            tracing::info!("database open: serving the application");
        }
    }
    Ok(server.await?)
}

/// What the server answers while the database opens.
fn opening_answer(path: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    if path == "/healthz" {
        return "ok".into_response();
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "10")],
        axum::Json(serde_json::json!({
            "status": "migrating",
            "error": "the database is being opened and migrated; try again shortly",
        })),
    )
        .into_response()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
