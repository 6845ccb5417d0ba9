//! The Cost insights panel.

use leptos::prelude::*;
use shared::{format_count, format_usd};

/// Failed spend, cache hit rate and savings, and the project x model pairs that cost most.
#[component]
pub(crate) fn InsightsPanel(insights: shared::CostInsights) -> impl IntoView {
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
