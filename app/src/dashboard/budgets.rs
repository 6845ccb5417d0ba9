//! The Budgets panel.

use leptos::prelude::*;
use shared::format_usd;

/// Budgets of this period (spend, share, projection) and the newest threshold alerts.
#[component]
pub(crate) fn BudgetsPanel(view: shared::BudgetsView) -> impl IntoView {
    if view.budgets.is_empty() {
        return view! { <p class="muted">"No budgets yet; admins set them on the admin page."</p> }
            .into_any();
    }
    let day = |s: i64| shared::format_utc_ms(s * 1000)[..10].to_string();
    view! {
        <table class="admin-table" data-testid="budgets">
            <thead><tr><th>"Scope"</th><th>"Period"</th><th>"Budget"</th><th>"Spent"</th>
                <th>"Used"</th><th>"Projected"</th><th>"Exceeds (UTC)"</th></tr></thead>
            <tbody>
                {view.budgets.into_iter().map(|b| view! {
                    <tr class:over={b.percent >= 100.0}>
                        <td>{b.label()}</td>
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
                    {format!("{} % of the {} budget reached", a.threshold, shared::budget_label(a.project.as_deref(), a.scope.as_ref()))}
                    <small>{format!(" · spent {} · period from {} · {}", format_usd(a.spend_nanos),
                        day(a.period_start), shared::format_utc_ms(a.fired_at_ms))}</small>
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}
