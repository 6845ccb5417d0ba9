//! The summary cards and their change against the previous period.

use leptos::prelude::*;
use shared::{format_count, format_usd, period_change, PeriodChange, UsageSummary};

use super::ms;

/// "▲ 12.3 % vs previous period", or nothing when there is no previous data.
/// A card's change against the previous period: a percentage, a factor for rises of 1,000 %
/// and more, "new" when the previous period held fewer than
/// [`shared::MIN_COMPARABLE_REQUESTS`] requests, or nothing.
pub(crate) fn change(
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
pub(crate) fn SummaryCards(summary: UsageSummary) -> impl IntoView {
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
