//! The dashboard: Leptos components rendered on the server and hydrated in the browser.

pub mod api;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::StaticSegment;
use shared::{format_count, format_usd, Period, UsageSummary};

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: stylesheet, title and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/usage-analytics.css"/>
        <Title text="LLM usage analytics"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=StaticSegment("") view=Dashboard/>
            </Routes>
        </Router>
    }
}

/// The dashboard page.
#[component]
fn Dashboard() -> impl IntoView {
    let period = RwSignal::new(Period::Last30d);
    let summary = Resource::new(
        move || period.get(),
        |p| api::get_summary(p.label().to_string(), "UTC".into()),
    );
    view! {
        <header class="topbar">
            <h1>"LLM usage"</h1>
            <nav class="periods" aria-label="Time range">
                {[Period::Last24h, Period::Last7d, Period::Last30d, Period::Last90d]
                    .into_iter()
                    .map(|p| view! {
                        <button
                            type="button"
                            aria-pressed=move || (period.get() == p).to_string()
                            on:click=move |_| period.set(p)
                        >
                            {p.label()}
                        </button>
                    })
                    .collect_view()}
            </nav>
            <span class="range" data-testid="range-label">
                {move || format!("{} · UTC", period_title(period.get()))}
            </span>
        </header>
        <main class="dashboard">
            <Transition fallback=|| view! { <SummarySkeleton/> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Ok(s) if s.total_requests == 0 => view! { <Onboarding/> }.into_any(),
                        Ok(s) => view! { <SummaryCards summary=s/> }.into_any(),
                        Err(e) => view! {
                            <section class="panel panel-error" role="alert">
                                <h2>"Summary"</h2>
                                <p>"Could not load the summary: " {e.to_string()}</p>
                            </section>
                        }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

fn period_title(p: Period) -> &'static str {
    match p {
        Period::Last24h => "Last 24 hours",
        Period::Last7d => "Last 7 days",
        Period::Last30d => "Last 30 days",
        Period::Last90d => "Last 90 days",
    }
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(ms) if ms >= 1000.0 => format!("{:.2} s", ms / 1000.0),
        Some(ms) => format!("{ms:.0} ms"),
        None => "–".into(),
    }
}

/// The summary cards: requests, cost, tokens, latency and success rate.
#[component]
fn SummaryCards(summary: UsageSummary) -> impl IntoView {
    let s = summary;
    let success = s
        .success_rate
        .map(|r| format!("{r:.1} %"))
        .unwrap_or_else(|| "–".into());
    let unpriced = (s.unpriced_requests > 0).then(|| {
        view! {
            <p class="note" data-testid="unpriced-note">
                {format_count(s.unpriced_requests)}
                " requests have no price for their model; their cost counts as $0."
            </p>
        }
    });
    view! {
        <section class="panel" aria-labelledby="summary-title">
            <h2 id="summary-title">"Summary"</h2>
            <div class="cards">
                <div class="card" data-testid="total-requests">
                    <span class="label">"Total requests"</span>
                    <span class="value">{format_count(s.total_requests)}</span>
                </div>
                <div class="card" data-testid="total-cost">
                    <span class="label">"Total cost"</span>
                    <span class="value">{format_usd(s.total_cost_nanos)}</span>
                </div>
                <div class="card" data-testid="total-tokens">
                    <span class="label">"Total tokens"</span>
                    <span class="value">{format_count(s.total_tokens)}</span>
                    <span class="detail">
                        {format!("in {} · out {} · cached {}",
                            format_count(s.input_tokens),
                            format_count(s.output_tokens),
                            format_count(s.cached_input_tokens))}
                    </span>
                </div>
                <div class="card" data-testid="latency">
                    <span class="label">"Average response time"</span>
                    <span class="value">{ms(s.average_response_time_ms)}</span>
                    <span class="detail">
                        {format!("p50 {} · p95 {} · p99 {}", ms(s.p50_ms), ms(s.p95_ms), ms(s.p99_ms))}
                    </span>
                </div>
                <div class="card" data-testid="success-rate">
                    <span class="label">"Success rate"</span>
                    <span class="value">{success}</span>
                    <span class="detail">{format!("{} failed", format_count(s.error_requests))}</span>
                </div>
            </div>
            {unpriced}
        </section>
    }
}

/// Placeholder with the cards' size while the summary loads (no layout jump).
#[component]
fn SummarySkeleton() -> impl IntoView {
    view! {
        <section class="panel" aria-busy="true">
            <h2>"Summary"</h2>
            <div class="cards">
                {(0..5).map(|_| view! { <div class="card skeleton"><span class="label">"Loading…"</span></div> }).collect_view()}
            </div>
        </section>
    }
}

/// Shown instead of empty charts when no usage has been recorded yet.
#[component]
fn Onboarding() -> impl IntoView {
    view! {
        <section class="panel onboarding" data-testid="onboarding">
            <h2>"No usage recorded in this range yet"</h2>
            <p>"Create a project and an ingest key, then send events:"</p>
            <pre><code>"usage-analytics projects create \"My app\"\nusage-analytics keys create --project \"My app\"\n\ncurl -X POST http://localhost:3000/api/v1/events \\\n  -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' \\\n  -d '[{\"timestamp\":\"2025-01-16T09:30:00Z\",\"model\":\"Scalix Standard\",\"input_tokens\":812,\"output_tokens\":230,\"latency_ms\":940}]'"</code></pre>
        </section>
    }
}
