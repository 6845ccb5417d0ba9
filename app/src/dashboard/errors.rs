//! The Errors panel: failed requests by type and the error log.

use leptos::prelude::*;
use shared::{format_count, format_usd, ErrorLog, ErrorTypeUsage, UsageQuery};

use crate::api;

/// Failed requests by error type.
#[component]
pub(crate) fn ErrorTypes(types: Vec<ErrorTypeUsage>) -> impl IntoView {
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
pub(crate) fn ErrorLogList(first: shared::ErrorPage, query: Memo<UsageQuery>) -> impl IntoView {
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
