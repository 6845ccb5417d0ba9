//! The Daily history panel.

use leptos::prelude::*;
use shared::{format_count, format_usd, DailyUsage};

use super::ms;
use crate::charts::{self, BarChart};

/// Which daily metric the chart shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    Requests,
    Cost,
    Tokens,
    Latency,
}

/// Daily history: a chart with a metric switch, and the table.
#[component]
pub(crate) fn DailyPanel(days: Vec<DailyUsage>) -> impl IntoView {
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
