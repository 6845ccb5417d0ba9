//! The dashboard: Leptos components rendered on the server and hydrated in the browser.
//!
//! The filter state lives in the URL (`?period=7d&tz=Asia/Kolkata&model=…&project=…` or
//! `?start=2025-01-01&end=2025-01-16`), so views can be bookmarked and shared and back/forward
//! work. Every panel has its own resource, loading placeholder, error message and retry.

mod admin;
pub mod api;
mod breakdown;
mod charts;
mod end_user;
mod export;
mod filters;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_query_map;
use leptos_router::StaticSegment;
use serde::{de::DeserializeOwned, Serialize};
use shared::{
    format_count, format_usd, period_change, BreakdownStats, DailyUsage, ErrorLog, ErrorTypeUsage,
    ModelUsage, Panel, PeriodChange, ProjectUsage, Section, UsageQuery, UsageSummary,
};

use charts::{BarChart, Heatmap};
use filters::{query_from_params, FilterBar};

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
    view! {
        <Title text="LLM usage analytics"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=StaticSegment("") view=Dashboard/>
                <Route path=StaticSegment("admin") view=admin::AdminPage/>
                <Route path=StaticSegment("user") view=end_user::EndUserPage/>
            </Routes>
        </Router>
    }
}

/// Budgets of this period (spend, share, projection) and the newest threshold alerts.
#[component]
fn BudgetsPanel(view: shared::BudgetsView) -> impl IntoView {
    if view.budgets.is_empty() {
        return view! { <p class="muted">"No budgets yet; admins set them on the admin page."</p> }
            .into_any();
    }
    let scope = |project: &Option<String>, scope: &Option<shared::DimFilter>| {
        let whole = project.clone().unwrap_or_else(|| "Organisation".into());
        match scope {
            Some(d) => format!("{whole}, {}", d.describe()),
            None => whole,
        }
    };
    let day = |s: i64| shared::format_utc_ms(s * 1000)[..10].to_string();
    view! {
        <table class="admin-table" data-testid="budgets">
            <thead><tr><th>"Scope"</th><th>"Period"</th><th>"Budget"</th><th>"Spent"</th>
                <th>"Used"</th><th>"Projected"</th><th>"Exceeds (UTC)"</th></tr></thead>
            <tbody>
                {view.budgets.into_iter().map(|b| view! {
                    <tr class:over={b.percent >= 100.0}>
                        <td>{scope(&b.project, &b.scope)}</td>
                        <td>{format!("{} from {} ({})", b.period, day(b.period_start), b.tz)}</td>
                        <td>{format_usd(b.amount_nanos)}</td>
                        <td>{format_usd(b.spend_nanos)}</td>
                        <td>{format!("{:.1} %", b.percent)}</td>
                        <td>{format_usd(b.projected_nanos)}</td>
                        <td>{b.projected_exceed_at.map(day).unwrap_or_else(|| "—".into())}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <h3>"Alerts"</h3>
        <ul class="plain" data-testid="budget-alerts">
            {view.alerts.is_empty().then(|| view! { <li class="muted">"No threshold crossed yet."</li> })}
            {view.alerts.into_iter().map(|a| view! {
                <li>
                    {format!("{} % of the {} budget reached", a.threshold, scope(&a.project, &a.scope))}
                    <small>{format!(" · spent {} · period from {} · {}", format_usd(a.spend_nanos),
                        day(a.period_start), shared::format_utc_ms(a.fired_at_ms))}</small>
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// This month's spend so far, the expected month total and its 80 % range, overall and for
/// the largest projects.
#[component]
fn ForecastPanel(view: shared::ForecastView) -> impl IntoView {
    let rows = std::iter::once(view.overall).chain(view.projects);
    view! {
        <p class="muted">{format!("{} ({}): trend x weekday pattern of the last 8 weeks; the range holds the month's total 8 times in 10.", view.month, view.tz)}</p>
        <table class="admin-table" data-testid="forecast">
            <thead><tr><th>"Scope"</th><th>"Spent so far"</th><th>"Expected month"</th><th>"80 % range"</th><th>"History"</th></tr></thead>
            <tbody>
                {rows.map(|f| view! {
                    <tr>
                        <td>{f.project.clone().unwrap_or_else(|| "All".into())}</td>
                        <td>{format_usd(f.spent_nanos)}</td>
                        <td><strong>{format_usd(f.expected_nanos)}</strong></td>
                        <td>{format!("{} – {}", format_usd(f.low_nanos), format_usd(f.high_nanos))}</td>
                        <td>{if f.history_days < 7 { format!("{} days (too few for a weekday pattern)", f.history_days) } else { format!("{} days", f.history_days) }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Metric alert rules with their state, and the alert history (metric and budget alerts).
#[component]
fn AlertsPanel(view: shared::AlertsView) -> impl IntoView {
    let since = |ms: i64| shared::format_utc_ms(ms);
    view! {
        <div data-testid="alerts">
            {view.rules.is_empty().then(|| view! {
                <p class="muted">"No metric alert rules; admins add them on the admin page."</p>
            })}
            <ul class="plain" data-testid="alert-rules">
                {view.rules.into_iter().map(|r| {
                    let firing = r.state == "firing";
                    view! {
                        <li>
                            <span class="badge" class:firing=firing>{if firing { "firing" } else { "ok" }}</span>
                            " " <strong>{r.name.clone()}</strong>
                            <small>{format!(" · {} · since {}", r.describe(), since(r.state_since_ms))}</small>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <h3>"History"</h3>
            <ul class="plain" data-testid="alert-history">
                {view.history.is_empty().then(|| view! { <li class="muted">"No alerts yet."</li> })}
                {view.history.into_iter().map(|h| view! {
                    <li>
                        <span class="badge" class:firing={h.kind != "resolved"}>{h.kind.clone()}</span>
                        " " {h.message}
                        <small>{format!(" · {}", since(h.at_ms))}</small>
                    </li>
                }).collect_view()}
            </ul>
        </div>
    }
}

/// Who is signed in, a link to the admin page for admins, and Sign out (a plain form post,
/// so it works before hydration too).
#[component]
fn UserMenu(account: AccountResource) -> impl IntoView {
    view! {
        <div class="user-menu">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    account.await.ok().map(|a| {
                        let admin = a.role == shared::Role::Admin;
                        let scope = match &a.projects {
                            None => String::new(),
                            Some(p) => format!(" · {}", p.join(", ")),
                        };
                        view! {
                            <span class="who" data-testid="account">
                                {a.name.clone()}
                                <small>{format!(" ({}){scope}", a.role.as_str())}</small>
                            </span>
                            {admin.then(|| view! { <a href="/admin" class="admin-link">"Admin"</a> })}
                        }
                    })
                })}
            </Transition>
            <form method="post" action="/logout" class="logout">
                <button type="submit">"Sign out"</button>
            </form>
        </div>
    }
}

/// Who is signed in, read once per page (the user menu and the Models panel's admin links).
type AccountResource = Resource<Result<shared::Account, ServerFnError>>;

/// The dashboard page: filters and six panels, all driven by the query in the URL.
#[component]
fn Dashboard() -> impl IntoView {
    let params = use_query_map();
    let remembered = filters::remembered_zone();
    let tz_fallback = filters::initial_time_zone(&remembered);
    let query = Memo::new(move |_| params.with(|p| query_from_params(p, &tz_fallback)));
    provide_context(filters::ZoneKnown::new(params, &remembered));
    let options = Resource::new(|| (), |_| api::get_filter_options());
    let account: AccountResource = Resource::new(|| (), |_| api::get_account());
    // Bumped by Refresh: every panel's resource depends on it, so all re-run their queries.
    let version = RwSignal::new(0u64);
    let key = move || (query.get(), version.get());
    let summary = Resource::new(key, |(q, _)| api::get_summary(q));
    let daily = Resource::new(key, |(q, _)| api::get_daily(q));
    let models = Resource::new(key, |(q, _)| api::get_models(q));
    let projects = Resource::new(key, |(q, _)| api::get_projects(q));
    let hourly = Resource::new(key, |(q, _)| api::get_hourly(q));
    let error_types = Resource::new(key, |(q, _)| api::get_error_types(q));
    let errors = Resource::new(key, |(q, _)| api::get_error_page(q, None));
    let insights = Resource::new(key, |(q, _)| api::get_insights(q));
    let forecast = Resource::new(key, |(q, _)| api::get_forecast(q));
    let by = breakdown::by_from_url();
    let section = breakdown::section_from_url();
    let breakdown = Resource::new(
        move || (query.get(), by.get(), version.get()),
        |(q, by, _)| api::get_breakdown(q, by),
    );
    let budgets = Resource::new(move || version.get(), |_| api::get_budgets());
    let alerts = Resource::new(move || version.get(), |_| api::get_alerts());
    let live = RwSignal::new(true);
    follow_live_updates(live, version);
    let refresh = Action::new_local(move |_: &()| async move {
        version.update(|v| *v += 1);
        // Let the resources see the new version (they start reloading on the next tick).
        leptos::task::tick().await;
        // Every panel on the page, each failure named (not only the first).
        let mut failures = Vec::new();
        for panel in Panel::ALL {
            let failed = match panel {
                Panel::Summary => summary.await.err(),
                Panel::Budgets => budgets.await.err(),
                Panel::Alerts => alerts.await.err(),
                Panel::Daily => daily.await.err(),
                Panel::Models => models.await.err(),
                Panel::Projects => projects.await.err(),
                Panel::Hourly => hourly.await.err(),
                Panel::Insights => insights.await.err(),
                Panel::Forecast => forecast.await.err(),
                Panel::Errors => error_types.await.err().or(errors.await.err()),
            };
            if let Some(e) = failed {
                failures.push(format!("{}: {e}", panel.title()));
            }
        }
        if let Err(e) = breakdown.await {
            failures.push(format!("Breakdown: {e}"));
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    });

    view! {
        <header class="topbar">
            <h1>"LLM usage"</h1>
            <UserMenu account/>
            <FilterBar query options/>
            <breakdown::DimensionFilters query by section/>
            <SectionLinks query by section/>
            <div class="actions">
                <button type="button" class="refresh" disabled=move || refresh.pending().get()
                    on:click=move |_| { refresh.dispatch(()); }>
                    {move || refresh.pending().get().then(|| view! { <span class="spinner" aria-hidden="true"></span> })}
                    "Refresh"
                </button>
                <span role="status" aria-live="polite" data-testid="refresh-status">
                    {move || match refresh.value().get() {
                        _ if refresh.pending().get() => view! { <span>"Refreshing…"</span> }.into_any(),
                        Some(Ok(())) => view! { <span class="ok">"Usage data refreshed"</span> }.into_any(),
                        Some(Err(e)) => view! { <span class="failed">{format!("Refresh failed: {e}")}</span> }.into_any(),
                        None => ().into_any(),
                    }}
                </span>
                <label class="live">
                    <input type="checkbox" prop:checked=live
                        on:change=move |ev| live.set(event_target_checked(&ev))/>
                    "Live"
                </label>
                <export::ExportBar query by/>
            </div>
        </header>
        <main class="dashboard">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let empty = options.await.map(|o| o.models.is_empty()).unwrap_or(false);
                    empty.then(|| view! { <Onboarding/> })
                })}
            </Transition>
            {Panel::ALL.into_iter().map(|panel| {
                let body = match panel {
                    Panel::Summary => panel_body(summary, |s| view! { <SummaryCards summary=s/> }).into_any(),
                    Panel::Budgets => panel_body(budgets, |b| view! { <BudgetsPanel view=b/> }).into_any(),
                    Panel::Alerts => panel_body(alerts, |a| view! { <AlertsPanel view=a/> }).into_any(),
                    Panel::Daily => panel_body(daily, |d| view! { <DailyPanel days=d/> }).into_any(),
                    Panel::Models => panel_body(models, move |m| view! { <ModelsPanel models=m account/> }).into_any(),
                    Panel::Projects => panel_body(projects, |p| view! { <BreakdownTable rows=p.into_iter().map(Row::from).collect() what="Project"/> }).into_any(),
                    Panel::Hourly => panel_body(hourly, |(hours, cells)| view! { <HourlyPanel hours cells/> }).into_any(),
                    Panel::Insights => panel_body(insights, |i| view! { <InsightsPanel insights=i/> }).into_any(),
                    Panel::Forecast => panel_body(forecast, |f| view! { <ForecastPanel view=f/> }).into_any(),
                    Panel::Errors => view! {
                        {panel_body(error_types, |t| view! { <ErrorTypes types=t/> })}
                        {panel_body(errors, move |page| view! { <ErrorLogList first=page query/> })}
                    }.into_any(),
                };
                view! { <PanelBox panel section>{body}</PanelBox> }
            }).collect_view()}
            <section class="panel wide" id="breakdown" aria-labelledby="breakdown-title"
                hidden=move || !section.get().shows_breakdown()>
                <h2 id="breakdown-title">"Breakdown"</h2>
                <breakdown::BreakdownPanel query by section options data=breakdown/>
            </section>
        </main>
    }
}

/// While `live` is on, re-runs every panel's query when the server says new events were
/// stored (Server-Sent Events from `/api/v1/live`, at most one message per second).
fn follow_live_updates(live: RwSignal<bool>, version: RwSignal<u64>) {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    Effect::new(move |_| {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let Ok(source) = web_sys::EventSource::new("/api/v1/live") else {
            return;
        };
        let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
            if live.get_untracked() {
                version.update(|v| *v += 1);
            }
        });
        let _ =
            source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
        // The page keeps one stream for its whole life; the browser reconnects it by itself.
        on_change.forget();
        std::mem::forget(source);
    });
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    let _ = (live, version);
}

/// Links to the dashboard's sections (`section=` in the URL, with the page's filters): a
/// person moves between Overview, Costs, Traffic, Errors and Breakdown, and back and forward
/// keep working.
#[component]
fn SectionLinks(
    query: Memo<UsageQuery>,
    by: Memo<String>,
    section: Memo<Section>,
) -> impl IntoView {
    view! {
        <nav class="sections" aria-label="Dashboard sections" data-testid="sections">
            {Section::ALL.into_iter().map(|s| {
                let href = move || breakdown::url_with_by(&query.get(), &by.get(), s);
                let current = move || (section.get() == s).then_some("page");
                view! { <a href=href aria-current=current>{s.title()}</a> }
            }).collect_view()}
        </nav>
    }
}

/// A titled panel: its heading, and its name as the element id (links like `#errors`).
#[component]
fn PanelBox(panel: Panel, section: Memo<Section>, children: Children) -> impl IntoView {
    let id = panel.name();
    let heading = format!("{id}-title");
    let labelled_by = heading.clone();
    let class = if panel.wide() { "panel wide" } else { "panel" };
    view! {
        <section class=class id=id aria-labelledby=labelled_by
            hidden=move || !section.get().shows(panel)>
            <h2 id=heading>{panel.title()}</h2>
            {children()}
        </section>
    }
}

/// The Hourly pattern panel: requests by local hour of day, and the weekday-by-hour heat map.
#[component]
fn HourlyPanel(hours: Vec<shared::HourlyUsage>, cells: Vec<shared::HeatmapCell>) -> impl IntoView {
    view! {
        <div class="split">
            <BarChart
                label="Requests by local hour of day"
                bars=hours.iter().map(|h| charts::Bar {
                    label: format!("{:02}", h.hour),
                    value: h.requests as f64,
                    tip: format!("{:02}:00 · {} requests · {}", h.hour, format_count(h.requests), format_usd(h.cost_nanos)),
                }).collect()
                fmt=charts::fmt_count
            />
            <Heatmap cells/>
        </div>
    }
}

/// A panel's content: a placeholder while loading (or while the dashboard does not know the
/// viewer's time zone yet, see `filters::ZoneKnown`), the error with a retry button, or
/// `render`.
fn panel_body<T, V>(
    res: Resource<Result<T, ServerFnError>>,
    render: impl Fn(T) -> V + Copy + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    let zone = use_context::<filters::ZoneKnown>();
    let loading = || view! { <div class="loading" aria-busy="true">"Loading…"</div> };
    view! {
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                if zone.is_some_and(|z| !z.known.get()) {
                    return loading().into_any();
                }
                match res.await {
                    Ok(data) => render(data).into_any(),
                    Err(e) => view! {
                        <div class="panel-error" role="alert">
                            <p>{e.to_string()}</p>
                            <button type="button" on:click=move |_| res.refetch()>"Retry"</button>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(ms) if ms >= 1000.0 => format!("{:.2} s", ms / 1000.0),
        Some(ms) => format!("{ms:.0} ms"),
        None => "–".into(),
    }
}

/// "▲ 12.3 % vs previous period", or nothing when there is no previous data.
/// A card's change against the previous period: a percentage, a factor for rises of 1,000 %
/// and more, "new" when the previous period held fewer than
/// [`shared::MIN_COMPARABLE_REQUESTS`] requests, or nothing.
fn change(
    current: f64,
    previous: Option<f64>,
    previous_requests: i64,
    higher_is_better: bool,
    counts_up: bool,
) -> impl IntoView {
    let (up, text) = match period_change(current, previous, previous_requests, counts_up) {
        PeriodChange::Percent(pct) => (
            pct >= 0.0,
            format!(
                "{} {:.1} % vs previous period",
                if pct >= 0.0 { "▲" } else { "▼" },
                pct.abs()
            ),
        ),
        PeriodChange::Times(x) => (true, format!("▲ {x:.1}× the previous period")),
        PeriodChange::New => {
            return Some(view! { <span class="change new">"new"</span> }.into_any());
        }
        PeriodChange::Nothing => return None,
    };
    let good = up == higher_is_better;
    Some(
        view! { <span class=if good { "change good" } else { "change bad" }>{text}</span> }
            .into_any(),
    )
}

/// The summary cards: requests, cost, tokens, latency and success rate.
#[component]
fn SummaryCards(summary: UsageSummary) -> impl IntoView {
    let s = summary;
    let prev = s.previous.clone();
    // The previous period's requests: below a base of them, changes read "new".
    let base = prev.as_ref().map_or(0, |p| p.total_requests);
    let success = s
        .success_rate
        .map(|r| format!("{r:.1} %"))
        .unwrap_or_else(|| "–".into());
    let unpriced = (s.unpriced_requests > 0).then(|| {
        view! {
            <p class="note" data-testid="unpriced-note">
                {format_count(s.unpriced_requests)}
                " requests have no price for their model; their cost counts as $0 (which models: the Models panel)."
            </p>
        }
    });
    let fallback = (s.fallback_requests > 0).then(|| {
        view! {
            <p class="note" data-testid="fallback-note">
                {format_count(s.fallback_requests)}
                " requests are priced by a fallback: their model's family's list price."
            </p>
        }
    });
    view! {
        <div class="cards">
            <div class="card" data-testid="total-requests">
                <span class="label">"Total requests"</span>
                <span class="value">{format_count(s.total_requests)}</span>
                {change(s.total_requests as f64, prev.as_ref().map(|p| p.total_requests as f64), base, true, true)}
            </div>
            <div class="card" data-testid="total-cost">
                <span class="label">"Total cost"</span>
                <span class="value">{format_usd(s.total_cost_nanos)}</span>
                {change(s.total_cost_nanos as f64, prev.as_ref().map(|p| p.total_cost_nanos as f64), base, false, true)}
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
                {change(s.total_tokens as f64, prev.as_ref().map(|p| p.total_tokens as f64), base, true, true)}
            </div>
            <div class="card" data-testid="latency">
                <span class="label">"Average response time"</span>
                <span class="value">{ms(s.average_response_time_ms)}</span>
                <span class="detail">
                    {format!("p50 {} · p95 {} · p99 {}", ms(s.p50_ms), ms(s.p95_ms), ms(s.p99_ms))}
                </span>
                {s.average_response_time_ms.map(|a| change(a, prev.as_ref().and_then(|p| p.average_response_time_ms), base, false, false))}
            </div>
            <div class="card" data-testid="success-rate">
                <span class="label">"Success rate"</span>
                <span class="value">{success}</span>
                <span class="detail">{format!("{} failed", format_count(s.error_requests))}</span>
                {s.success_rate.map(|r| change(r, prev.as_ref().and_then(|p| p.success_rate), base, true, false))}
            </div>
        </div>
        {unpriced}
        {fallback}
    }
}

/// Which daily metric the chart shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    Requests,
    Cost,
    Tokens,
    Latency,
}

/// Daily history: a chart with a metric switch, and the table.
#[component]
fn DailyPanel(days: Vec<DailyUsage>) -> impl IntoView {
    let metric = RwSignal::new(Metric::Requests);
    let chart_days = days.clone();
    let chart = move || {
        let m = metric.get();
        let bars = chart_days
            .iter()
            .map(|d| {
                let value = match m {
                    Metric::Requests => d.requests as f64,
                    Metric::Cost => d.cost_nanos as f64 / 1e9,
                    Metric::Tokens => (d.input_tokens + d.output_tokens) as f64,
                    Metric::Latency => d.average_response_time_ms.unwrap_or(0.0),
                };
                charts::Bar {
                    label: d.date[5..].to_string(),
                    value,
                    tip: format!(
                        "{} · {} requests · {} · {} tokens · avg {}",
                        d.date,
                        format_count(d.requests),
                        format_usd(d.cost_nanos),
                        format_count(d.input_tokens + d.output_tokens),
                        ms(d.average_response_time_ms)
                    ),
                }
            })
            .collect::<Vec<_>>();
        let (label, fmt): (&str, fn(f64) -> String) = match m {
            Metric::Requests => ("Requests per day", charts::fmt_count),
            Metric::Cost => ("Cost per day (USD)", charts::fmt_usd),
            Metric::Tokens => ("Tokens per day", charts::fmt_count),
            Metric::Latency => ("Average response time per day (ms)", charts::fmt_count),
        };
        view! { <BarChart label bars fmt/> }
    };
    let button = move |m: Metric, text: &'static str| {
        view! {
            <button type="button" aria-pressed=move || (metric.get() == m).to_string()
                on:click=move |_| metric.set(m)>{text}</button>
        }
    };
    view! {
        <div class="segmented" role="group" aria-label="Daily metric">
            {button(Metric::Requests, "Requests")}
            {button(Metric::Cost, "Cost")}
            {button(Metric::Tokens, "Tokens")}
            {button(Metric::Latency, "Latency")}
        </div>
        {chart}
        <details>
            <summary>"Table"</summary>
            <div class="table-wrap">
                <table data-testid="daily-table">
                    <thead><tr>
                        <th scope="col">"Date"</th><th scope="col" class="num">"Requests"</th>
                        <th scope="col" class="num">"Cost"</th><th scope="col" class="num">"Input"</th>
                        <th scope="col" class="num">"Output"</th><th scope="col" class="num">"Cached"</th>
                        <th scope="col" class="num">"Avg latency"</th>
                    </tr></thead>
                    <tbody>
                        {days.into_iter().map(|d| view! {
                            <tr>
                                <td>{d.date}</td>
                                <td class="num">{format_count(d.requests)}</td>
                                <td class="num">{format_usd(d.cost_nanos)}</td>
                                <td class="num">{format_count(d.input_tokens)}</td>
                                <td class="num">{format_count(d.output_tokens)}</td>
                                <td class="num">{format_count(d.cached_input_tokens)}</td>
                                <td class="num">{ms(d.average_response_time_ms)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </details>
    }
}

/// One row of the model or project breakdown.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    name: String,
    /// Shown small beside the name: a model's provider.
    detail: Option<String>,
    /// Shown small under the name: where a model's price comes from.
    price: Option<String>,
    /// Where the name links to (a breakdown's value filters the page by it).
    link: Option<String>,
    /// An end user's own page, linked beside the name: its URL and its link's label.
    profile: Option<(String, String)>,
    /// The 95th percentile latency, where the table shows one.
    p95_ms: Option<f64>,
    stats: BreakdownStats,
}

impl From<ModelUsage> for Row {
    fn from(m: ModelUsage) -> Row {
        Row {
            price: Some(price_note(&m)),
            name: m.model,
            detail: m.provider,
            link: None,
            profile: None,
            p95_ms: None,
            stats: m.stats,
        }
    }
}

impl From<ProjectUsage> for Row {
    fn from(p: ProjectUsage) -> Row {
        Row {
            name: p.project,
            detail: None,
            price: None,
            link: None,
            profile: None,
            p95_ms: None,
            stats: p.stats,
        }
    }
}

/// "catalogue", "no price · 12 unpriced", "fallback · 5 by fallback": a model's price source
/// and the requests of the range stored without an exact price.
fn price_note(m: &ModelUsage) -> String {
    let mut note = format!("price: {}", m.price_source.label());
    if m.unpriced_requests > 0 {
        note.push_str(&format!(
            " · {} unpriced",
            format_count(m.unpriced_requests)
        ));
    }
    if m.fallback_requests > 0 {
        note.push_str(&format!(
            " · {} by fallback",
            format_count(m.fallback_requests)
        ));
    }
    note
}

/// The Models panel: notices for models without an exact price (with a link to set one, for
/// admins), then the table.
#[component]
fn ModelsPanel(models: Vec<ModelUsage>, account: AccountResource) -> impl IntoView {
    let unpriced: Vec<(String, i64)> = (models.iter())
        .filter(|m| m.unpriced_requests > 0)
        .map(|m| (m.model.clone(), m.unpriced_requests))
        .collect();
    let fallback: Vec<(String, i64)> = (models.iter())
        .filter(|m| m.fallback_requests > 0)
        .map(|m| (m.model.clone(), m.fallback_requests))
        .collect();
    let admin = move || {
        account
            .get()
            .and_then(|a| a.ok())
            .is_some_and(|a| a.role == shared::Role::Admin)
    };
    let list = move |rows: Vec<(String, i64)>| {
        rows.into_iter()
            .map(|(model, n)| {
                let href = format!("/admin?model={}#prices", filters::encode(&model));
                view! {
                    <li>
                        <span class="model">{model}</span>
                        {format!(" · {} requests", format_count(n))}
                        {move || admin().then(|| view! { " · " <a href=href.clone()>"set a price"</a> })}
                    </li>
                }
            })
            .collect_view()
    };
    let total = |rows: &[(String, i64)]| rows.iter().map(|(_, n)| n).sum::<i64>();
    let unpriced_note = (!unpriced.is_empty()).then(|| {
        let n = total(&unpriced);
        view! {
            <div class="note warn" data-testid="unpriced-models">
                <p><strong>"Unpriced: "</strong>{format!("{} requests of models without a price count as $0:", format_count(n))}</p>
                <ul>{list(unpriced)}</ul>
            </div>
        }
    });
    let fallback_note = (!fallback.is_empty()).then(|| {
        let n = total(&fallback);
        view! {
            <div class="note" data-testid="fallback-models">
                <p><strong>"Fallback prices: "</strong>{format!("{} requests of snapshots the catalogue does not list are priced at their family's list price:", format_count(n))}</p>
                <ul>{list(fallback)}</ul>
            </div>
        }
    });
    view! {
        {unpriced_note}
        {fallback_note}
        <BreakdownTable rows=models.into_iter().map(Row::from).collect() what="Model"/>
    }
}

fn tokens(s: &BreakdownStats) -> i64 {
    s.input_tokens + s.output_tokens
}

fn latency(s: &BreakdownStats) -> f64 {
    s.average_response_time_ms.unwrap_or(0.0)
}

/// Columns a breakdown can be sorted by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Name,
    Requests,
    Cost,
    Tokens,
    Latency,
    P95,
    ErrorRate,
}

/// A sortable breakdown table (click or press Enter on a header).
#[component]
fn BreakdownTable(rows: Vec<Row>, what: &'static str) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"No requests in this range."</p> }.into_any();
    }
    let sort = RwSignal::new((SortBy::Requests, true));
    // A p95 column where the rows have one (the Breakdown panel's values).
    let with_p95 = rows.iter().any(|r| r.p95_ms.is_some());
    let sorted = move || {
        let (by, desc) = sort.get();
        let mut r = rows.clone();
        r.sort_by(|a, b| {
            let o = match by {
                SortBy::Name => a.name.cmp(&b.name),
                SortBy::Requests => a.stats.requests.cmp(&b.stats.requests),
                SortBy::Cost => a.stats.cost_nanos.cmp(&b.stats.cost_nanos),
                SortBy::Tokens => tokens(&a.stats).cmp(&tokens(&b.stats)),
                SortBy::Latency => latency(&a.stats).total_cmp(&latency(&b.stats)),
                SortBy::P95 => (a.p95_ms.unwrap_or(0.0)).total_cmp(&b.p95_ms.unwrap_or(0.0)),
                SortBy::ErrorRate => a.stats.error_rate.total_cmp(&b.stats.error_rate),
            };
            if desc {
                o.reverse()
            } else {
                o
            }
        });
        r
    };
    let header = move |by: SortBy, text: &'static str, num: bool| {
        let aria = move || match sort.get() {
            (b, true) if b == by => "descending",
            (b, false) if b == by => "ascending",
            _ => "none",
        };
        view! {
            <th scope="col" class:num=num aria-sort=aria>
                <button type="button" class="sort" on:click=move |_| sort.update(|(b, d)| {
                    if *b == by { *d = !*d } else { *b = by; *d = by != SortBy::Name }
                })>{text}</button>
            </th>
        }
    };
    view! {
        <div class="table-wrap">
            <table data-testid=format!("{}-table", what.to_lowercase())>
                <thead><tr>
                    {header(SortBy::Name, what, false)}
                    {header(SortBy::Requests, "Requests", true)}
                    {header(SortBy::Cost, "Cost", true)}
                    {header(SortBy::Tokens, "Tokens", true)}
                    {header(SortBy::Latency, "Avg latency", true)}
                    {with_p95.then(|| header(SortBy::P95, "p95 latency", true))}
                    {header(SortBy::ErrorRate, "Error rate", true)}
                </tr></thead>
                <tbody>
                    {move || sorted().into_iter().map(|Row { name, detail, price, link, profile, p95_ms, stats: s }| view! {
                        <tr>
                            <th scope="row">
                                {match link {
                                    Some(href) => view! { <a class="name" href=href>{name}</a> }.into_any(),
                                    None => view! { <span class="name">{name}</span> }.into_any(),
                                }}
                                {detail.map(|d| view! { <small class="provider">{d}</small> })}
                                {profile.map(|(href, label)| view! { <a class="profile" href=href aria-label=label>"user page"</a> })}
                                {price.map(|p| view! { <small class="price-source">{p}</small> })}
                            </th>
                            <td class="num">{format_count(s.requests)}<span class="share">{format!("{:.1} %", s.request_share)}</span></td>
                            <td class="num">{format_usd(s.cost_nanos)}<span class="share">{format!("{:.1} %", s.cost_share)}</span></td>
                            <td class="num">{format_count(tokens(&s))}</td>
                            <td class="num">{ms(s.average_response_time_ms)}</td>
                            {with_p95.then(|| view! { <td class="num">{ms(p95_ms)}</td> })}
                            <td class="num">{format!("{:.2} %", s.error_rate)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Failed spend, cache hit rate and savings, and the project x model pairs that cost most.
#[component]
fn InsightsPanel(insights: shared::CostInsights) -> impl IntoView {
    let i = insights;
    let hit = i
        .cache_hit_rate
        .map(|r| format!("{r:.1} %"))
        .unwrap_or_else(|| "–".into());
    let unpriced = (i.unpriced_cached_tokens > 0).then(|| {
        format!(
            "{} cached tokens of models without a price are not counted.",
            format_count(i.unpriced_cached_tokens)
        )
    });
    let change = |d: &shared::CostDriver| match d.change_percent {
        Some(p) => format!("{p:+.1} %"),
        None if d.cost_nanos > 0 => "new".into(),
        None => "–".into(),
    };
    view! {
        <div class="cards" data-testid="insights">
            <div class="card"><span class="label">"Spent on failed requests"</span>
                <span class="value">{format_usd(i.failed_cost_nanos)}</span>
                <span class="detail">{format!("{} failed requests", format_count(i.failed_requests))}</span></div>
            <div class="card"><span class="label">"Cache hit rate"</span>
                <span class="value">{hit}</span>
                <span class="detail">{format!("{} of {} input tokens", format_count(i.cached_input_tokens), format_count(i.input_tokens))}</span></div>
            <div class="card"><span class="label">"Saved by caching"</span>
                <span class="value">{format_usd(i.cache_savings_nanos)}</span>
                <span class="detail">"at the input price in force"</span></div>
        </div>
        {unpriced.map(|u| view! { <p class="note">{u}</p> })}
        {if i.drivers.is_empty() {
            view! { <p class="empty">"No cost in this range."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table data-testid="cost-drivers">
                        <caption>"Top cost drivers, against the previous period of the same length"</caption>
                        <thead><tr>
                            <th scope="col">"Project"</th><th scope="col">"Model"</th>
                            <th scope="col" class="num">"Cost"</th><th scope="col" class="num">"Previous"</th>
                            <th scope="col" class="num">"Change"</th>
                        </tr></thead>
                        <tbody>
                            {i.drivers.iter().map(|d| view! {
                                <tr>
                                    <th scope="row">{d.project.clone()}</th>
                                    <td>{d.model.clone()}</td>
                                    <td class="num">{format_usd(d.cost_nanos)}</td>
                                    <td class="num">{format_usd(d.previous_cost_nanos)}</td>
                                    <td class="num">{change(d)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

/// Failed requests by error type.
#[component]
fn ErrorTypes(types: Vec<ErrorTypeUsage>) -> impl IntoView {
    if types.is_empty() {
        return view! { <p class="empty">"No failed requests in this range."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table data-testid="error-types">
                <thead><tr>
                    <th scope="col">"Error type"</th><th scope="col" class="num">"Count"</th>
                    <th scope="col" class="num">"Share"</th><th scope="col" class="num">"Cost impact"</th>
                </tr></thead>
                <tbody>
                    {types.into_iter().map(|t| view! {
                        <tr>
                            <th scope="row">{t.error_type}</th>
                            <td class="num">{format_count(t.count)}</td>
                            <td class="num">{format!("{:.1} %", t.share)}</td>
                            <td class="num">{format_usd(t.cost_nanos)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The error log, newest first, with "Load older" paging.
#[component]
fn ErrorLogList(first: shared::ErrorPage, query: Memo<UsageQuery>) -> impl IntoView {
    let items = RwSignal::new(first.items);
    let cursor = RwSignal::new(first.next_cursor);
    let retention = first.raw_events_from_ms.map(|ms| {
        format!(
            "Raw events before {} are no longer kept (retention); the totals above still \
             include them, this log lists failures since then.",
            shared::format_utc_ms(ms)
        )
    });
    let failure = RwSignal::new(None::<String>);
    let load = Action::new(move |before: &String| {
        let before = before.clone();
        async move { api::get_error_page(query.get_untracked(), Some(before)).await }
    });
    Effect::new(move |_| {
        if let Some(result) = load.value().get() {
            match result {
                Ok(page) => {
                    items.update(|i| i.extend(page.items));
                    cursor.set(page.next_cursor);
                    failure.set(None);
                }
                Err(e) => failure.set(Some(e.to_string())),
            }
        }
    });
    let row = |e: ErrorLog| {
        view! {
            <tr>
                <td>{e.local_time}</td>
                <td>{e.project}</td>
                <td>{e.model}</td>
                <td>{e.error_type}</td>
                <td class="message">{e.message.unwrap_or_default()}</td>
            </tr>
        }
    };
    view! {
        <h3>"Recent errors"</h3>
        {retention.map(|note| view! { <p class="note" data-testid="retention-note">{note}</p> })}
        <div class="table-wrap">
            <table data-testid="error-log">
                <thead><tr>
                    <th scope="col">"Time"</th><th scope="col">"Project"</th><th scope="col">"Model"</th>
                    <th scope="col">"Type"</th><th scope="col">"Message"</th>
                </tr></thead>
                <tbody>{move || items.get().into_iter().map(row).collect_view()}</tbody>
            </table>
        </div>
        {move || failure.get().map(|f| view! { <p class="panel-error" role="alert">{f}</p> })}
        {move || cursor.get().map(|c| view! {
            <button type="button" class="more" disabled=move || load.pending().get()
                on:click=move |_| { load.dispatch(c.clone()); }>
                {move || if load.pending().get() { "Loading…" } else { "Load older errors" }}
            </button>
        })}
    }
}

/// Shown when no usage has been recorded at all.
#[component]
fn Onboarding() -> impl IntoView {
    view! {
        <section class="panel onboarding wide" data-testid="onboarding">
            <h2>"No usage recorded yet"</h2>
            <p>"Create a project and an ingest key, then send events:"</p>
            <pre><code>"usage-analytics projects create \"My app\"\nusage-analytics keys create --project \"My app\"\n\ncurl -X POST http://localhost:3000/api/v1/events \\\n  -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' \\\n  -d '[{\"timestamp\":\"2025-01-16T09:30:00Z\",\"model\":\"Scalix Standard\",\"input_tokens\":812,\"output_tokens\":230,\"latency_ms\":940}]'"</code></pre>
        </section>
    }
}
