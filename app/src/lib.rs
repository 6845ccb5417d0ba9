//! The web app: Leptos components rendered on the server and hydrated in the browser. This
//! file holds the HTML shell and the routes; the pages are `dashboard`, `end_user` and
//! `admin`.
//!
//! The filter state lives in the URL (`?period=7d&tz=Asia/Kolkata&model=…&project=…` or
//! `?start=2025-01-01&end=2025-01-16`), so views can be bookmarked and shared and back/forward
//! work.

mod admin;
pub mod api;
mod breakdown;
mod charts;
mod dashboard;
mod end_user;
mod export;
mod filters;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{lazy_route, Lazy, LazyRoute, StaticSegment};

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    content_security_policy();
    // Named like the JS and wasm (with the content hash in a binary that embeds its site).
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sends a Content-Security-Policy for this page: scripts only from this site or inline with
/// this response's nonce (Leptos puts it on its hydration and streaming scripts), wasm
/// allowed to compile, nothing framed, forms and fetches only to this site.
fn content_security_policy() {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        let policy = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// The root component: stylesheet, title and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    dashboard::table::provide_sort_memory();
    view! {
        <Title text="LLM usage analytics"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=StaticSegment("") view=dashboard::Dashboard/>
                <Route path=StaticSegment("admin") view={Lazy::<AdminRoute>::new()}/>
                <Route path=StaticSegment("user") view={Lazy::<EndUserRoute>::new()}/>
            </Routes>
        </Router>
    }
}

/// The admin page, in its own wasm chunk: only admins open it, so the dashboard's visitors do
/// not download it (built with `cargo leptos build --split`; docs/ARCHITECTURE.md).
#[derive(Clone)]
struct AdminRoute;

#[lazy_route]
impl LazyRoute for AdminRoute {
    fn data() -> Self {
        AdminRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <admin::AdminPage/> }.into_any()
    }
}

/// An end user's page, in its own wasm chunk too (reached from the Breakdown's links; most of
/// what it shows is the dashboard's panels, which stay in the main bundle).
#[derive(Clone)]
struct EndUserRoute;

#[lazy_route]
impl LazyRoute for EndUserRoute {
    fn data() -> Self {
        EndUserRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <end_user::EndUserPage/> }.into_any()
    }
}
