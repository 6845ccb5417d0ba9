//! The Alerts panel: metric alert rules and the alert history.

use leptos::prelude::*;

/// Metric alert rules with their state, and the alert history (metric and budget alerts).
#[component]
pub(crate) fn AlertsPanel(view: shared::AlertsView) -> impl IntoView {
    let since = |ms: i64| shared::format_utc_ms(ms);
    view! {
        <div data-testid="alerts">
            {view.rules.is_empty().then(|| view! {
                <p class="muted">"No metric alert rules; admins add them on the admin page."</p>
            })}
            <ul class="plain" data-testid="alert-rules">
                {view.rules.into_iter().map(|r| {
                    let firing = r.state == "firing";
                    view! {
                        <li>
                            <span class="badge" class:firing=firing>{if firing { "firing" } else { "ok" }}</span>
                            " " <strong>{r.name.clone()}</strong>
                            <small>{format!(" · {} · since {}", r.describe(), since(r.state_since_ms))}</small>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <h3>"History"</h3>
            <ul class="plain" data-testid="alert-history">
                {view.history.is_empty().then(|| view! { <li class="muted">"No alerts yet."</li> })}
                {view.history.into_iter().map(|h| view! {
                    <li>
                        <span class="badge" class:firing={h.kind != "resolved"}>{h.kind.clone()}</span>
                        " " {h.message}
                        <small>{format!(" · {}", since(h.at_ms))}</small>
                    </li>
                }).collect_view()}
            </ul>
        </div>
    }
}
