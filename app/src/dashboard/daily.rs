//! The Daily history panel.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::{params::ParamsMap, NavigateOptions};
use shared::{format_count, format_usd, Breakdown, BreakdownBy, DailyUsage, UsageQuery};

use super::ms;
use crate::api;
use crate::charts::{self, BarChart};

/// Which daily metric the chart shows (`metric=` in the URL; requests when absent).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Metric {
    Requests,
    Cost,
    Tokens,
    Latency,
}

impl Metric {
    const ALL: [(Metric, &'static str, &'static str); 4] = [
        (Metric::Requests, "requests", "Requests"),
        (Metric::Cost, "cost", "Cost"),
        (Metric::Tokens, "tokens", "Tokens"),
        (Metric::Latency, "latency", "Latency"),
    ];

    fn parse(name: &str) -> Option<Metric> {
        (Metric::ALL.iter()).find_map(|(m, n, _)| (*n == name).then_some(*m))
    }

    /// The chart's caption and how its axis reads.
    fn caption(self) -> (&'static str, fn(f64) -> String) {
        match self {
            Metric::Requests => ("Requests per day", charts::fmt_count),
            Metric::Cost => ("Cost per day (USD)", charts::fmt_usd),
            Metric::Tokens => ("Tokens per day", charts::fmt_count),
            Metric::Latency => ("Average response time per day (ms)", charts::fmt_count),
        }
    }

    /// A day's value, and how a person reads it.
    fn of(self, requests: i64, cost_nanos: i64, tokens: i64) -> (f64, String) {
        match self {
            Metric::Requests | Metric::Latency => (requests as f64, format_count(requests)),
            Metric::Cost => (cost_nanos as f64 / 1e9, format_usd(cost_nanos)),
            Metric::Tokens => (tokens as f64, format_count(tokens)),
        }
    }
}

/// How the chart splits each day (`split=` in the URL): not at all, by model or by project.
const SPLITS: [(Option<BreakdownBy>, &str); 3] = [
    (None, "Total"),
    (Some(BreakdownBy::Model), "By model"),
    (Some(BreakdownBy::Project), "By project"),
];

/// The URL of the page at `path` with `params`, parameter `name` set to `value` (removed
/// when `None`).
fn url_with(path: &str, mut params: ParamsMap, name: &'static str, value: Option<&str>) -> String {
    params.remove(name);
    if let Some(v) = value {
        params.insert(name, v.to_string());
    }
    format!("{path}{}", params.to_query_string())
}

/// Daily history: a chart with a metric switch and a split (stacked by model or project, the
/// top five and the rest), and the table. The choices live in the URL, so a live update or
/// Refresh (which re-renders the panel) keeps them, and a link shows the same chart.
#[component]
pub(crate) fn DailyPanel(days: Vec<DailyUsage>, query: Memo<UsageQuery>) -> impl IntoView {
    let params = use_query_map();
    let metric = Memo::new(move |_| {
        (params
            .with(|p| p.get("metric"))
            .and_then(|m| Metric::parse(&m)))
        .unwrap_or(Metric::Requests)
    });
    let split = Memo::new(move |_| {
        params
            .with(|p| p.get("split"))
            .and_then(|s| BreakdownBy::parse(&s))
            .filter(|by| matches!(by, BreakdownBy::Model | BreakdownBy::Project))
    });
    // Asked for only while a split is chosen (of the Breakdown panel's type, which keeps the
    // wasm smaller than a type of its own).
    let parts = Resource::new(
        move || (query.get(), split.get().map(|by| by.param())),
        |(q, by)| async move {
            match by {
                Some(by) => api::get_breakdown(q, by).await,
                None => Ok(Breakdown::default()),
            }
        },
    );
    let navigate = use_navigate();
    let path = use_location().pathname;
    let go = move |name: &'static str, value: Option<&str>| {
        let options = NavigateOptions {
            replace: true,
            scroll: false,
            ..Default::default()
        };
        let url = url_with(&path.get_untracked(), params.get_untracked(), name, value);
        navigate(&url, options);
    };
    let chart_days = days.clone();
    let chart = move || {
        let m = metric.get();
        match split.get().filter(|_| m != Metric::Latency) {
            None => total_chart(&chart_days, m).into_any(),
            Some(by) => view! {
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || {
                        let by = by.clone();
                        Suspend::new(async move {
                        match parts.await {
                            Ok(b) => stacked_chart(&b, m, &by).into_any(),
                            Err(e) => view! {
                                <p class="error" role="alert">{format!("The split could not be loaded: {e}")}</p>
                            }
                            .into_any(),
                        }
                    })}}
                </Transition>
            }
            .into_any(),
        }
    };
    let metric_buttons = {
        let go = go.clone();
        Metric::ALL
            .into_iter()
            .map(|(m, name, text)| {
                let go = go.clone();
                view! {
                    <button type="button" aria-pressed=move || (metric.get() == m).to_string()
                        on:click=move |_| go("metric", (m != Metric::Requests).then_some(name))>{text}</button>
                }
            })
            .collect_view()
    };
    let split_buttons = SPLITS
        .into_iter()
        .map(|(by, text)| {
            let go = go.clone();
            let pressed = by.clone();
            let value = by.as_ref().map(|b| b.param());
            view! {
                <button type="button" aria-pressed=move || (split.get() == pressed).to_string()
                    on:click=move |_| go("split", value.as_deref())>{text}</button>
            }
        })
        .collect_view();
    view! {
        <div class="chart-controls">
            <div class="segmented" role="group" aria-label="Daily metric">{metric_buttons}</div>
            <div class="segmented" role="group" aria-label="Split each day">{split_buttons}</div>
        </div>
        {move || (split.get().is_some() && metric.get() == Metric::Latency).then(|| view! {
            <p class="hint">"Average response times do not add up, so they are not split."</p>
        })}
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

/// One bar per day: the day's total of `m`.
fn total_chart(days: &[DailyUsage], m: Metric) -> impl IntoView {
    let bars = days
        .iter()
        .map(|d| {
            let value = match m {
                Metric::Latency => d.average_response_time_ms.unwrap_or(0.0),
                _ => {
                    m.of(d.requests, d.cost_nanos, d.input_tokens + d.output_tokens)
                        .0
                }
            };
            charts::Bar {
                label: d.date.get(5..).unwrap_or(&d.date).to_string(),
                value,
                tip: format!(
                    "{} · {} requests · {} · {} tokens · avg {}",
                    d.date,
                    format_count(d.requests),
                    format_usd(d.cost_nanos),
                    format_count(d.input_tokens + d.output_tokens),
                    ms(d.average_response_time_ms)
                ),
                ..Default::default()
            }
        })
        .collect::<Vec<_>>();
    let (label, fmt) = m.caption();
    view! { <BarChart label bars fmt/> }
}

/// One stacked bar per day: the split's top five values and "(other)", bottom first. Each
/// bar's readout names every part, so the numbers are there without the colours.
fn stacked_chart(b: &Breakdown, m: Metric, by: &BreakdownBy) -> impl IntoView {
    let mut series: Vec<String> = Vec::new();
    let mut dates: Vec<String> = Vec::new();
    for d in &b.daily {
        if !series.contains(&d.value) {
            series.push(d.value.clone());
        }
        if !dates.contains(&d.date) {
            dates.push(d.date.clone());
        }
    }
    let bars = dates
        .iter()
        .map(|date| {
            // Each series' entry of the day (every day has one per series).
            let sums: Vec<(i64, i64, i64)> = (series.iter())
                .map(|value| {
                    (b.daily.iter())
                        .find(|d| &d.date == date && &d.value == value)
                        .map_or((0, 0, 0), |d| (d.requests, d.cost_nanos, d.tokens))
                })
                .collect();
            let parts: Vec<(f64, String)> = (sums.iter()).map(|&(r, c, t)| m.of(r, c, t)).collect();
            let (requests, cost, tokens) =
                (sums.iter()).fold((0, 0, 0), |(r, c, t), d| (r + d.0, c + d.1, t + d.2));
            let (total, total_text) = m.of(requests, cost, tokens);
            let listed: Vec<String> = (series.iter().zip(&parts))
                .map(|(name, (_, text))| format!("{name} {text}"))
                .collect();
            charts::Bar {
                label: date.get(5..).unwrap_or(date).to_string(),
                value: total,
                tip: format!("{date} · {total_text}: {}", listed.join(" · ")),
                parts: parts.into_iter().map(|(v, _)| v).collect(),
            }
        })
        .collect::<Vec<_>>();
    let (caption, fmt) = m.caption();
    let label = format!("{caption}, by {}", by.label().to_lowercase());
    view! { <BarChart label bars fmt series/> }
}
