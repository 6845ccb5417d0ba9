//! The Breakdown panel (issue 30): the query's events by end user, ingest key, provider or a
//! declared metadata key; a value's name filters the whole page by it. The dimension shown is
//! `by=` in the URL, and the page's dimension filters are listed above the panels, each with a
//! way to remove it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use shared::{
    format_count, format_usd, Breakdown, DimFilter, Dimension, FilterOptions, Section, UsageQuery,
};

use crate::charts::{fmt_usd, Bar, BarChart};
use crate::dashboard::panel_body;
use crate::dashboard::table::{BreakdownTable, Row};
use crate::filters::url_of;

/// The dimension the panel shows when the URL names none.
const DEFAULT_BY: &str = "user";

/// The dimension named by `by=` in the URL.
pub fn by_from_url() -> Memo<String> {
    let params = use_query_map();
    Memo::new(move |_| {
        params
            .with(|p| p.get("by"))
            .filter(|b| Dimension::parse(b).is_some())
            .unwrap_or_else(|| DEFAULT_BY.to_string())
    })
}

/// The URL of `q` showing the breakdown by `by`, in dashboard section `section`.
pub fn url_with_by(q: &UsageQuery, by: &str, section: Section) -> String {
    let mut url = format!("{}&by={}", url_of(q), crate::filters::encode(by));
    if section != Section::DEFAULT {
        url.push_str(&format!("&section={}", section.name()));
    }
    url
}

/// The dashboard section named by `section=` in the URL ([`Section::DEFAULT`] when none).
pub fn section_from_url() -> Memo<Section> {
    let params = use_query_map();
    Memo::new(move |_| {
        params
            .with(|p| p.get("section"))
            .and_then(|s| Section::parse(&s))
            .unwrap_or(Section::DEFAULT)
    })
}

/// The Breakdown panel's body: the dimension picker and the table of values.
#[component]
pub fn BreakdownPanel(
    query: Memo<UsageQuery>,
    by: Memo<String>,
    section: Memo<Section>,
    options: Resource<Result<FilterOptions, ServerFnError>>,
    data: Resource<Result<Breakdown, ServerFnError>>,
) -> impl IntoView {
    let navigate = leptos_router::hooks::use_navigate();
    let page = use_query_map();
    let pick = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        navigate(
            &url_with_by(&query.get_untracked(), &value, section.get_untracked()),
            Default::default(),
        );
    };
    // The declared keys come from a resource: read inside a Transition, so the server's
    // render and hydration agree on the options.
    let choices = move |declared: Vec<String>| {
        (Dimension::BUILT_IN.into_iter())
            .chain(declared.into_iter().map(Dimension::Meta))
            .map(|d| {
                let name = d.param();
                let selected = name == by.get_untracked();
                view! { <option value=name selected=selected>{d.label()}</option> }
            })
            .collect_view()
    };
    view! {
        <Transition fallback=|| ()>
            {move || {
                let pick = pick.clone();
                Suspend::new(async move {
                    let declared = options.await.map(|o| o.dimensions).unwrap_or_default();
                    view! {
                        <label class="breakdown-by">
                            "Break down by "
                            <select data-testid="breakdown-by" on:change=pick>
                                {choices(declared)}
                            </select>
                        </label>
                    }
                })
            }}
        </Transition>
        {panel_body(data, move |b| {
            let dim = Dimension::parse(&b.by);
            let q = query.get_untracked();
            let total = b.total.requests;
            let mut rows: Vec<Row> = b.rows.iter().map(|r| {
                // What retention deleted is no value one can filter by.
                let recorded = r.value != shared::VALUE_NOT_RECORDED;
                let dim = dim.clone().filter(|_| recorded);
                let link = dim.clone().map(|d| {
                    let mut q = q.clone();
                    q.dims.retain(|f| f.dim != d);
                    q.dims.push(DimFilter { dim: d, value: r.value.clone() });
                    url_with_by(&q, &b.by, section.get_untracked())
                        + &page.with_untracked(crate::filters::chart_params)
                });
                let profile = (dim == Some(Dimension::User)).then(|| {
                    let mut q = q.clone();
                    q.dims = vec![DimFilter { dim: Dimension::User, value: r.value.clone() }];
                    (crate::filters::url_at(crate::end_user::PATH, &q), format!("Page of end user {}", r.value))
                });
                Row {
                    name: r.value.clone(),
                    detail: None,
                    price: None,
                    link,
                    profile,
                    p95_ms: r.p95_latency_ms,
                    stats: r.stats(total),
                }
            }).collect();
            if b.other.requests > 0 {
                rows.push(Row {
                    name: format!("{} ({} more values)", b.other.value, b.distinct_values - b.rows.len() as i64),
                    detail: None,
                    price: None,
                    link: None,
                    profile: None,
                    p95_ms: b.other.p95_latency_ms,
                    stats: b.other.stats(total),
                });
            }
            let charts = daily_charts(&b);
            let retention = b.raw_events_from_ms.map(|ms| {
                let what = match q.dims.is_empty() {
                    true => "what they held counts as \"(not recorded)\"",
                    false => "under a dimension filter these values count only the events kept since then",
                };
                format!(
                    "Raw events before {} are no longer kept (retention): {what}.",
                    shared::format_utc_ms(ms)
                )
            });
            let pace = format!(
                "Read from raw events: live updates reach this panel every {} s; Refresh reads it now.",
                crate::dashboard::SLOW_LIVE_EVERY_MS / 1000
            );
            view! {
                <p class="note" data-testid="breakdown-pace">{pace}</p>
                {retention.map(|text| view! { <p class="note" data-testid="breakdown-retention">{text}</p> })}
                <BreakdownTable rows what="Value"/>
                {charts}
            }
        })}
    }
}

/// The first values' cost per local day, a small bar chart each (the same scale would hide
/// all but the first; each chart's axis says its own). "(other)" is the Daily panel's to
/// stack, not charted here.
fn daily_charts(b: &Breakdown) -> impl IntoView {
    let mut values: Vec<&str> = Vec::new();
    for d in &b.daily {
        if d.value != shared::VALUE_OTHER && !values.contains(&d.value.as_str()) {
            values.push(&d.value);
        }
    }
    let values_empty = values.is_empty();
    let charts = values
        .into_iter()
        .map(|value| {
            let bars: Vec<Bar> = (b.daily.iter())
                .filter(|d| d.value == value)
                .map(|d| Bar {
                    label: d.date.get(5..).unwrap_or(&d.date).to_string(),
                    value: d.cost_nanos as f64 / 1e9,
                    tip: format!(
                        "{}: {} · {} requests",
                        d.date,
                        format_usd(d.cost_nanos),
                        format_count(d.requests)
                    ),
                    ..Default::default()
                })
                .collect();
            view! { <BarChart label=format!("Cost per day: {value}") bars fmt=fmt_usd/> }
        })
        .collect_view();
    (!values_empty).then(|| {
        view! {
            <div class="breakdown-charts" data-testid="breakdown-charts">{charts}</div>
        }
    })
}

/// The page's dimension filters, each a link that removes it.
#[component]
pub fn DimensionFilters(
    query: Memo<UsageQuery>,
    by: Memo<String>,
    section: Memo<Section>,
) -> impl IntoView {
    let page = use_query_map();
    move || {
        let q = query.get();
        let chart = page.with(crate::filters::chart_params);
        (!q.dims.is_empty()).then(|| {
            view! {
                <ul class="dim-filters" data-testid="dimension-filters" aria-label="Dimension filters">
                    {q.dims.iter().map(|f| {
                        let mut without = q.clone();
                        without.dims.retain(|d| d.dim != f.dim);
                        let href = url_with_by(&without, &by.get(), section.get()) + &chart;
                        let text = format!("{} = {}", f.dim.label(), f.value);
                        let remove = format!("Remove the filter {text}");
                        view! {
                            <li>
                                <span>{text}</span>
                                <a href=href aria-label=remove title="Remove this filter">"×"</a>
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <p class="note" data-testid="filtered-pace">{format!(
                    "Filtered by a dimension, panels read raw events: live updates reach them every {} s.",
                    crate::dashboard::SLOW_LIVE_EVERY_MS / 1000
                )}</p>
            }
        })
    }
}
