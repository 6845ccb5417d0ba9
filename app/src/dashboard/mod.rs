//! The dashboard page: the filters, the section links and every panel, each with its own
//! resource (one server function, `get_panel`, answers them all), loading placeholder, error
//! and retry. Each panel's component lives in its own file beside this one.

mod alerts;
mod budgets;
mod daily;
mod errors;
mod forecast;
mod hourly;
mod insights;
mod models;
mod summary;
pub(crate) mod table;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{de::DeserializeOwned, Serialize};
use shared::{Panel, PanelData, Section, UsageQuery};

use crate::filters::{self, query_from_params, FilterBar};
use crate::{api, breakdown, export};

use alerts::AlertsPanel;
use budgets::BudgetsPanel;
use daily::DailyPanel;
use errors::{ErrorLogList, ErrorTypes};
use forecast::ForecastPanel;
use hourly::HourlyPanel;
use insights::InsightsPanel;
use models::ModelsPanel;
use summary::SummaryCards;
use table::{BreakdownTable, Row};

/// Who is signed in, a link to the admin page for admins, and Sign out (a plain form post,
/// so it works before hydration too).
#[component]
pub(crate) fn UserMenu(account: AccountResource) -> impl IntoView {
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
pub(crate) type AccountResource = Resource<Result<shared::Account, ServerFnError>>;

/// The dashboard page: filters and six panels, all driven by the query in the URL.
#[component]
pub(crate) fn Dashboard() -> impl IntoView {
    let params = use_query_map();
    let remembered = filters::remembered_zone();
    let tz_fallback = filters::initial_time_zone(&remembered);
    let query = Memo::new(move |_| params.with(|p| query_from_params(p, &tz_fallback)));
    provide_context(filters::ZoneKnown::new(params, &remembered));
    let options = Resource::new(|| (), |_| api::get_filter_options());
    let account: AccountResource = Resource::new(|| (), |_| api::get_account());
    // Bumped by Refresh and live updates: every panel's resource depends on it, so all re-run
    // their queries.
    let version = RwSignal::new(0u64);
    // The same for what reads raw events (a dimension's breakdown, every panel under a
    // dimension filter: seconds at 10M events), which live updates bump at most every
    // `SLOW_LIVE_EVERY`; Refresh at once.
    let slow_version = RwSignal::new(0u64);
    // A panel that does not follow the query reads it without tracking it: a filter change
    // does not ask for it again; Refresh and live updates (the version) do.
    let key = move |p: Panel| {
        let q = if p.follows_query() {
            query.get()
        } else {
            query.get_untracked()
        };
        // Under a dimension filter the panels that follow the query read raw events.
        let v = match p.follows_query() && !q.dims.is_empty() {
            true => slow_version.get(),
            false => version.get(),
        };
        (q, v)
    };
    let by = breakdown::by_from_url();
    let section = breakdown::section_from_url();
    // An array, not a Vec: it is Copy, so the local Refresh action below may capture it (a
    // local action's closure must not own anything that needs dropping on the server).
    // A panel asks the server only while its section shows: a visit to Overview runs four
    // queries, not ten, and so does each live update (under a dimension filter each reads
    // raw events: seconds at 10M events).
    let panels: [(Panel, PanelResource); Panel::ALL.len()] = Panel::ALL.map(|p| {
        let res = Resource::new(
            move || (key(p), section.get().shows(p)),
            move |((q, _), shown)| async move {
                match shown {
                    true => api::get_panel(p, q).await.map(Some),
                    false => Ok(None),
                }
            },
        );
        (p, res)
    });
    // Asked for only while its section shows: a dimension's breakdown reads raw events
    // (docs/dimensions.md), which the other sections should not pay for on every load and
    // live update.
    let breakdown = Resource::new(
        move || {
            let shown = section.get().shows_breakdown();
            (query.get(), by.get(), slow_version.get(), shown)
        },
        |(q, by, _, shown)| async move {
            match shown {
                true => api::get_breakdown(q, by).await,
                false => Ok(shared::Breakdown::default()),
            }
        },
    );
    let live = RwSignal::new(true);
    follow_live_updates(live, version, slow_version);
    let refresh = Action::new_local(move |_: &()| async move {
        version.update(|v| *v += 1);
        slow_version.update(|v| *v += 1);
        // Let the resources see the new version (they start reloading on the next tick).
        leptos::task::tick().await;
        // Every panel on the page, each failure named (not only the first).
        let mut failures = Vec::new();
        for (panel, res) in panels {
            if let Err(e) = res.await {
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
    let cx = PanelContext { account, query };

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
            {panels.into_iter().map(|(panel, res)| view! {
                <PanelBox panel section>
                    {panel_body(res, move |data: Option<PanelData>| data.map(|d| panel_view(d, cx)))}
                </PanelBox>
            }).collect_view()}
            <section class="panel wide" id="breakdown" aria-labelledby="breakdown-title"
                hidden=move || !section.get().shows_breakdown()>
                <h2 id="breakdown-title">"Breakdown"</h2>
                <breakdown::BreakdownPanel query by section options data=breakdown/>
            </section>
        </main>
    }
}

/// One panel's answer, as its resource holds it (`None` while its section is not shown).
pub(crate) type PanelResource = Resource<Result<Option<PanelData>, ServerFnError>>;

/// What panels' views need besides their data.
#[derive(Clone, Copy)]
pub(crate) struct PanelContext {
    pub(crate) account: AccountResource,
    pub(crate) query: Memo<UsageQuery>,
}

/// The view of one panel's answer: the one place that knows which component shows which
/// panel.
pub(crate) fn panel_view(data: PanelData, cx: PanelContext) -> AnyView {
    let PanelContext { account, query } = cx;
    match data {
        PanelData::Summary(s) => view! { <SummaryCards summary=s/> }.into_any(),
        PanelData::Budgets(b) => view! { <BudgetsPanel view=b/> }.into_any(),
        PanelData::Alerts(a) => view! { <AlertsPanel view=a/> }.into_any(),
        PanelData::Daily(d) => view! { <DailyPanel days=d query/> }.into_any(),
        PanelData::Models(m) => view! { <ModelsPanel models=m account/> }.into_any(),
        PanelData::Projects(p) => {
            view! { <BreakdownTable rows=p.into_iter().map(Row::from).collect() what="Project"/> }
                .into_any()
        }
        PanelData::Hourly(h) => view! { <HourlyPanel hours=h.hours cells=h.heatmap/> }.into_any(),
        PanelData::Insights(i) => view! { <InsightsPanel insights=i/> }.into_any(),
        PanelData::Forecast(f) => view! { <ForecastPanel view=f/> }.into_any(),
        PanelData::Errors(e) => view! {
            <ErrorTypes types=e.types/>
            <ErrorLogList first=e.log query/>
        }
        .into_any(),
    }
}

/// Least time between two live re-runs of what reads raw events (see `slow_version` in
/// `Dashboard`): under steady ingest the server says "new events" every second, and a
/// dimension's breakdown over a month of 10M events takes seconds to read.
pub(crate) const SLOW_LIVE_EVERY_MS: u32 = 30_000;

/// While `live` is on, re-runs every panel's query when the server says new events were
/// stored (Server-Sent Events from `/api/v1/live`, at most one message per second): bumps
/// `version` each time, and `slow` at most every [`SLOW_LIVE_EVERY_MS`] (once that long
/// after the last bump, or after the page opened).
pub(crate) fn follow_live_updates(
    live: RwSignal<bool>,
    version: RwSignal<u64>,
    slow: RwSignal<u64>,
) {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    Effect::new(move |_| {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let Ok(source) = web_sys::EventSource::new("/api/v1/live") else {
            return;
        };
        let last_slow = StoredValue::new(js_sys::Date::now());
        let slow_due = StoredValue::new(false);
        let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
            if !live.get_untracked() {
                return;
            }
            version.update(|v| *v += 1);
            if !slow_due.get_value() {
                slow_due.set_value(true);
                let next = last_slow.get_value() + f64::from(SLOW_LIVE_EVERY_MS);
                let wait = (next - js_sys::Date::now()).max(0.0) as u64;
                set_timeout(
                    move || {
                        slow_due.set_value(false);
                        last_slow.set_value(js_sys::Date::now());
                        if live.get_untracked() {
                            slow.update(|v| *v += 1);
                        }
                    },
                    std::time::Duration::from_millis(wait),
                );
            }
        });
        let _ =
            source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
        // The page keeps one stream for its whole life; the browser reconnects it by itself.
        on_change.forget();
        std::mem::forget(source);
    });
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    let _ = (live, version, slow);
}

/// Links to the dashboard's sections (`section=` in the URL, with the page's filters): a
/// person moves between Overview, Costs, Traffic, Errors and Breakdown, and back and forward
/// keep working.
#[component]
pub(crate) fn SectionLinks(
    query: Memo<UsageQuery>,
    by: Memo<String>,
    section: Memo<Section>,
) -> impl IntoView {
    let page = use_query_map();
    view! {
        <nav class="sections" aria-label="Dashboard sections" data-testid="sections">
            {Section::ALL.into_iter().map(|s| {
                let href = move || {
                    let url = breakdown::url_with_by(&query.get(), &by.get(), s);
                    url + &page.with(filters::chart_params)
                };
                let current = move || (section.get() == s).then_some("page");
                view! { <a href=href aria-current=current>{s.title()}</a> }
            }).collect_view()}
        </nav>
    }
}

/// A titled panel: its heading, and its name as the element id (links like `#errors`).
#[component]
pub(crate) fn PanelBox(panel: Panel, section: Memo<Section>, children: Children) -> impl IntoView {
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

/// A panel's content: a placeholder while loading (or while the dashboard does not know the
/// viewer's time zone yet, see `filters::ZoneKnown`), the error with a retry button, or
/// `render`.
pub(crate) fn panel_body<T, V>(
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

pub(crate) fn ms(v: Option<f64>) -> String {
    match v {
        Some(ms) if ms >= 1000.0 => format!("{:.2} s", ms / 1000.0),
        Some(ms) => format!("{ms:.0} ms"),
        None => "–".into(),
    }
}

/// Shown when no usage has been recorded at all.
#[component]
pub(crate) fn Onboarding() -> impl IntoView {
    view! {
        <section class="panel onboarding wide" data-testid="onboarding">
            <h2>"No usage recorded yet"</h2>
            <p>"Create a project and an ingest key, then send events:"</p>
            <pre><code>"usage-analytics projects create \"My app\"\nusage-analytics keys create --project \"My app\"\n\ncurl -X POST http://localhost:3000/api/v1/events \\\n  -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' \\\n  -d '[{\"timestamp\":\"2025-01-16T09:30:00Z\",\"model\":\"Scalix Standard\",\"input_tokens\":812,\"output_tokens\":230,\"latency_ms\":940}]'"</code></pre>
        </section>
    }
}
