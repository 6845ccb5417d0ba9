//! The web layer: the one router (every route and layer) and the server's start-up, with the
//! handlers of each surface in its own file. Nothing below `web` knows about HTTP.

pub mod assets;
mod compress;
pub mod error;
pub mod ingest;
pub mod limit;
pub mod live;
pub mod metrics;
pub mod otlp;
mod panels;
pub mod read_api;
pub mod server_fns;
pub mod session;
mod state;

use std::sync::Arc;

use app::api::{AdminHandle, SourceHandle};
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::set_header::SetResponseHeaderLayer;

pub use state::AppState;

use crate::Config;

/// Leptos settings from cargo-leptos' environment variables, with defaults that match
/// `[workspace.metadata.leptos]` so the binary also runs on its own. A binary with its site
/// embedded names the app's files with their content hash.
pub fn leptos_options() -> LeptosOptions {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let addr = env("LEPTOS_SITE_ADDR", "127.0.0.1:3000");
    LeptosOptions::builder()
        .output_name(assets::output_name(&env(
            "LEPTOS_OUTPUT_NAME",
            "usage-analytics",
        )))
        .site_root(env("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(env("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(
            addr.parse::<std::net::SocketAddr>()
                .unwrap_or_else(|_| ([127, 0, 0, 1], 3000).into()),
        )
        .build()
}

/// The whole HTTP application, every route and layer: ingest, the read API, sessions,
/// server functions, pages and static files.
pub fn router(state: AppState) -> Router {
    let data: SourceHandle = Arc::new(server_fns::Dashboard(state.store.clone()));
    let admin: AdminHandle = Arc::new(server_fns::AdminPage(state.store.clone()));
    let routes = generate_route_list(app::App);
    let options = state.leptos_options.clone();
    let context = move || {
        provide_context(data.clone());
        provide_context(admin.clone());
    };
    let router = Router::new()
        // Ingest and probes.
        .route("/api/v1/events", post(ingest::ingest))
        .route("/v1/traces", post(otlp::traces))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ingest::ready))
        .route("/api/v1/live", get(live::sse))
        .route("/metrics", get(metrics::endpoint))
        // The read API, versioned and the seed's actions.
        .route(
            "/api/usage",
            get(read_api::seed_get).post(read_api::seed_post),
        )
        .route("/api/v1/usage/export", get(read_api::v1_export))
        .route("/api/v1/usage/{panel}", get(read_api::v1_get))
        .route("/api/v1/events/export", get(read_api::raw_export))
        .route("/api/v1/openapi.json", get(read_api::openapi))
        .route("/api/v1/budgets", get(read_api::budgets))
        .route("/api/v1/budgets/alerts", get(read_api::budget_alerts))
        .route("/api/v1/alerts", get(read_api::metric_alerts))
        // Sessions.
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        // Server functions, then the app's pages.
        .route(
            "/api/{*fn_name}",
            post({
                let context = context.clone();
                move |req| leptos_axum::handle_server_fns_with_context(context.clone(), req)
            }),
        )
        .leptos_routes_with_context(&state, routes, context, move || app::shell(options.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback({
            let files = leptos_axum::file_and_error_handler::<AppState, _>(app::shell);
            move |uri: axum::http::Uri,
                  state: axum::extract::State<AppState>,
                  req: axum::extract::Request| async move {
                match assets::response(&req) {
                    Some(res) => res,
                    None => files(uri, state, req).await,
                }
            }
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::guard,
        ))
        .layer(axum::middleware::from_fn(compress::gzip_json))
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
