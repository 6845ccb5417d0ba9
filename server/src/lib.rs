//! usage-analytics server: ingest, storage, queries and the host of the Leptos app.

pub mod bench;
pub mod config;
pub mod demo;
pub mod export;
pub mod http;
pub mod import;
pub mod ingest;
pub mod keys;
pub mod live;
pub mod query;
pub mod rest;
pub mod rollup;
pub mod store;

use std::sync::Arc;

use app::api::{Answer, DashboardSource, SourceHandle};
use axum::extract::FromRef;
use axum::http::{header, HeaderValue};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use shared::{
    DailyUsage, ErrorPage, ErrorTypeUsage, FilterOptions, HeatmapCell, HourlyUsage, ModelUsage,
    ProjectUsage, UsageQuery, UsageSummary,
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
}

impl AppState {
    /// State for a server over `store`; starts the change feed (needs a Tokio runtime).
    pub fn new(store: Store, config: Config, leptos_options: LeptosOptions) -> AppState {
        AppState {
            changes: live::ChangeFeed::start(store.clone()),
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

/// The dashboard's view of the query layer.
struct Dashboard(Store);

impl Dashboard {
    /// Runs one query-layer call and turns its error into a message for the user.
    fn answer<'a, T: Send + 'a>(
        &'a self,
        fut: impl std::future::Future<Output = Result<T, query::QueryError>> + Send + 'a,
    ) -> Answer<'a, T> {
        Box::pin(async move {
            fut.await.map_err(|e| {
                if let query::QueryError::Store(_) = e {
                    tracing::error!(error = %e, "dashboard query failed");
                    "the database is unavailable; try again".to_string()
                } else {
                    e.to_string()
                }
            })
        })
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl DashboardSource for Dashboard {
    fn summary(&self, q: UsageQuery) -> Answer<'_, UsageSummary> {
        self.answer(async move { query::summary(&self.0, &q, now_ms()).await })
    }
    fn daily(&self, q: UsageQuery) -> Answer<'_, Vec<DailyUsage>> {
        self.answer(async move { query::daily(&self.0, &q, now_ms()).await })
    }
    fn models(&self, q: UsageQuery) -> Answer<'_, Vec<ModelUsage>> {
        self.answer(async move { query::models(&self.0, &q, now_ms()).await })
    }
    fn projects(&self, q: UsageQuery) -> Answer<'_, Vec<ProjectUsage>> {
        self.answer(async move { query::projects(&self.0, &q, now_ms()).await })
    }
    fn hourly(&self, q: UsageQuery) -> Answer<'_, (Vec<HourlyUsage>, Vec<HeatmapCell>)> {
        self.answer(async move { query::hourly(&self.0, &q, now_ms()).await })
    }
    fn error_types(&self, q: UsageQuery) -> Answer<'_, Vec<ErrorTypeUsage>> {
        self.answer(async move { query::error_types(&self.0, &q, now_ms()).await })
    }
    fn error_page(&self, q: UsageQuery, before: Option<String>) -> Answer<'_, ErrorPage> {
        self.answer(
            async move { query::error_page(&self.0, &q, now_ms(), before.as_deref(), 20).await },
        )
    }
    fn filter_options(&self) -> Answer<'_, FilterOptions> {
        self.answer(async move { query::filter_options(&self.0).await })
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
    let routes = generate_route_list(app::App);
    let options = state.leptos_options.clone();
    let context = move || provide_context(data.clone());
    let router = http::routes()
        .merge(rest::routes())
        .route(
            "/api/{*fn_name}",
            axum::routing::post({
                let context = context.clone();
                move |req| leptos_axum::handle_server_fns_with_context(context.clone(), req)
            }),
        )
        .leptos_routes_with_context(&state, routes, context, move || app::shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .with_state(state);
    with_security_headers(router)
}

/// Headers on every response: no MIME sniffing, never framed by another site (clickjacking),
/// no full URLs (with their filters) leaked to other sites. A full Content-Security-Policy for
/// scripts needs nonces for Leptos' inline hydration script; that is the access-control issue's.
fn with_security_headers(router: Router) -> Router {
    let set = |name: header::HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    router
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(
            header::CONTENT_SECURITY_POLICY,
            "frame-ancestors 'none'",
        ))
        .layer(set(header::REFERRER_POLICY, "same-origin"))
}

/// Serves the application on `listener` until the process is asked to stop.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
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
