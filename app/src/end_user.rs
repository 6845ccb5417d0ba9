//! One end user's page (issue 30): their spend per day, models, errors and recent error log
//! over the page's range, at `/user?user=ID` (the Breakdown panel links each end user here).
//! The same server functions as the dashboard answer it, with the end user as a dimension
//! filter, so its numbers are the dashboard's filtered by that user, exactly.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use shared::{DimFilter, Dimension, Panel, UsageQuery};

use crate::api;
use crate::dashboard::{panel_body, panel_view, AccountResource, PanelContext, UserMenu};
use crate::filters::{self, query_from_params, url_of, FilterBar};

/// Where the page lives.
pub const PATH: &str = "/user";

/// The end user a query names, if any.
fn end_user(q: &UsageQuery) -> Option<String> {
    q.dims
        .iter()
        .find(|d| d.dim == Dimension::User)
        .map(|d| d.value.clone())
}

/// The page: the filters (they keep the end user), then the user's panels, or a form asking
/// for an end user's id when the URL names none.
#[component]
pub fn EndUserPage() -> impl IntoView {
    let params = use_query_map();
    let tz_fallback = filters::initial_time_zone(&filters::remembered_zone());
    let query = Memo::new(move |_| params.with(|p| query_from_params(p, &tz_fallback)));
    let user = Memo::new(move |_| query.with(end_user));
    let options = Resource::new(|| (), |_| api::get_filter_options());
    let account: AccountResource = Resource::new(|| (), |_| api::get_account());
    view! {
        <header class="topbar">
            <h1><a href="/">"LLM usage"</a>" · end user"</h1>
            <UserMenu account/>
            <FilterBar query options path=PATH/>
        </header>
        <main class="dashboard">
            {move || match user.get() {
                Some(id) => view! { <EndUserPanels id query account/> }.into_any(),
                None => view! { <LookUp/> }.into_any(),
            }}
        </main>
    }
}

/// Asks for an end user's id.
#[component]
fn LookUp() -> impl IntoView {
    view! {
        <section class="panel wide" aria-labelledby="lookup-title">
            <h2 id="lookup-title">"Find an end user"</h2>
            <p class="muted">"The id your application sends as the event's user. The dashboard's Breakdown by end user links every user here."</p>
            <form method="get" action=PATH class="inline-form">
                <label>"End user id " <input name="user" required maxlength="128"/></label>
                <button type="submit" class="primary">"Show"</button>
            </form>
        </section>
    }
}

/// The panels of end user `id`.
#[component]
fn EndUserPanels(id: String, query: Memo<UsageQuery>, account: AccountResource) -> impl IntoView {
    let cx = PanelContext { account, query };
    // The dashboard's panels, each with the page's query (which names the end user).
    let body = move |panel: Panel| {
        let res = Resource::new(move || query.get(), move |q| api::get_panel(panel, q));
        panel_body(res, move |data| panel_view(data, cx))
    };
    let dashboard = move || {
        let mut q = query.get();
        q.dims.retain(|d| d.dim == Dimension::User);
        url_of(&q)
    };
    let others = move || {
        let q = query.get();
        let more: Vec<String> = (q.dims.iter())
            .filter(|d| d.dim != Dimension::User)
            .map(DimFilter::describe)
            .collect();
        (!more.is_empty()).then(|| format!("Also filtered by {}.", more.join(", ")))
    };
    view! {
        <section class="panel wide end-user" aria-labelledby="end-user-title" data-testid="end-user">
            <h2 id="end-user-title">"End user " <code>{id}</code></h2>
            <p class="muted">
                {others}
                " Every panel for this user: "
                <a href=dashboard>"the dashboard filtered by this user"</a>"."
            </p>
            {body(Panel::Summary)}
        </section>
        <section class="panel wide" id="user-daily" aria-labelledby="user-daily-title">
            <h2 id="user-daily-title">"Spend per day"</h2>
            {body(Panel::Daily)}
        </section>
        <section class="panel wide" id="user-models" aria-labelledby="user-models-title">
            <h2 id="user-models-title">"Models"</h2>
            {body(Panel::Models)}
        </section>
        <section class="panel wide" id="user-errors" aria-labelledby="user-errors-title">
            <h2 id="user-errors-title">"Errors"</h2>
            {body(Panel::Errors)}
        </section>
    }
}
