//! The sortable table of the Models, Projects and Breakdown panels.

use leptos::prelude::*;
use shared::{format_count, format_usd, BreakdownStats, ProjectUsage};

use super::ms;

/// One row of the model or project breakdown.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    pub(crate) name: String,
    /// Shown small beside the name: a model's provider.
    pub(crate) detail: Option<String>,
    /// Shown small under the name: where a model's price comes from.
    pub(crate) price: Option<String>,
    /// Where the name links to (a breakdown's value filters the page by it).
    pub(crate) link: Option<String>,
    /// An end user's own page, linked beside the name: its URL and its link's label.
    pub(crate) profile: Option<(String, String)>,
    /// The 95th percentile latency, where the table shows one.
    pub(crate) p95_ms: Option<f64>,
    pub(crate) stats: BreakdownStats,
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

pub(crate) fn tokens(s: &BreakdownStats) -> i64 {
    s.input_tokens + s.output_tokens
}

pub(crate) fn latency(s: &BreakdownStats) -> f64 {
    s.average_response_time_ms.unwrap_or(0.0)
}

/// Columns a breakdown can be sorted by.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortBy {
    Name,
    Requests,
    Cost,
    Tokens,
    Latency,
    P95,
    ErrorRate,
}

/// Each table's chosen order, kept for the page's life: a table is rebuilt whenever its data
/// arrives (a range change, Refresh, a live update), and a person who sorted by cost expects
/// it to stay sorted by cost. Provided once by the app (`provide_sort_memory`).
#[derive(Clone, Copy)]
pub(crate) struct SortMemory(StoredValue<Vec<(&'static str, (SortBy, bool))>>);

pub(crate) fn provide_sort_memory() {
    provide_context(SortMemory(StoredValue::new(Vec::new())));
}

impl SortMemory {
    fn get(self, table: &'static str) -> Option<(SortBy, bool)> {
        self.0
            .with_value(|m| m.iter().find(|(t, _)| *t == table).map(|(_, s)| *s))
    }

    fn set(self, table: &'static str, sort: (SortBy, bool)) {
        self.0
            .update_value(|m| match m.iter_mut().find(|(t, _)| *t == table) {
                Some(entry) => entry.1 = sort,
                None => m.push((table, sort)),
            });
    }
}

/// A sortable breakdown table (click or press Enter on a header).
#[component]
pub(crate) fn BreakdownTable(rows: Vec<Row>, what: &'static str) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"No requests in this range."</p> }.into_any();
    }
    let memory = use_context::<SortMemory>();
    let remembered = memory.and_then(|m| m.get(what));
    let sort = RwSignal::new(remembered.unwrap_or((SortBy::Requests, true)));
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
                <button type="button" class="sort" on:click=move |_| {
                    sort.update(|(b, d)| {
                        if *b == by { *d = !*d } else { *b = by; *d = by != SortBy::Name }
                    });
                    if let Some(m) = memory {
                        m.set(what, sort.get_untracked());
                    }
                }>{text}</button>
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
