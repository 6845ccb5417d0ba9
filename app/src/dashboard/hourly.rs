//! The Hourly pattern panel.

use leptos::prelude::*;
use shared::{format_count, format_usd};

use crate::charts::{self, BarChart, Heatmap};

/// The Hourly pattern panel: requests by local hour of day, and the weekday-by-hour heat map.
#[component]
pub(crate) fn HourlyPanel(
    hours: Vec<shared::HourlyUsage>,
    cells: Vec<shared::HeatmapCell>,
) -> impl IntoView {
    view! {
        <div class="split">
            <BarChart
                label="Requests by local hour of day"
                bars=hours.iter().map(|h| charts::Bar {
                    label: format!("{:02}", h.hour),
                    value: h.requests as f64,
                    tip: format!("{:02}:00 · {} requests · {}", h.hour, format_count(h.requests), format_usd(h.cost_nanos)),
                    ..Default::default()
                }).collect()
                fmt=charts::fmt_count
            />
            <Heatmap cells/>
        </div>
    }
}
