//! The month-end forecast panel.

use leptos::prelude::*;
use shared::format_usd;

/// This month's spend so far, the expected month total and its 80 % range, overall and for
/// the largest projects.
#[component]
pub(crate) fn ForecastPanel(view: shared::ForecastView) -> impl IntoView {
    let rows = std::iter::once(view.overall).chain(view.projects);
    view! {
        <p class="muted">{format!("{} ({}): trend x weekday pattern of the last 8 weeks; the range holds the month's total 8 times in 10.", view.month, view.tz)}</p>
        <table class="admin-table" data-testid="forecast">
            <thead><tr><th>"Scope"</th><th>"Spent so far"</th><th>"Expected month"</th><th>"80 % range"</th><th>"History"</th></tr></thead>
            <tbody>
                {rows.map(|f| view! {
                    <tr>
                        <td>{f.project.clone().unwrap_or_else(|| "All".into())}</td>
                        <td>{format_usd(f.spent_nanos)}</td>
                        <td><strong>{format_usd(f.expected_nanos)}</strong></td>
                        <td>{format!("{} – {}", format_usd(f.low_nanos), format_usd(f.high_nanos))}</td>
                        <td>{if f.history_days < 7 { format!("{} days (too few for a weekday pattern)", f.history_days) } else { format!("{} days", f.history_days) }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
