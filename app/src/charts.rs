//! Small SVG charts: a bar chart with axes, labels and tooltips (its bars may be stacked), and
//! a weekday × hour heat map.

use leptos::prelude::*;
use shared::{format_count, HeatmapCell};

/// One bar: its x-axis label, its value and the tooltip shown on hover or focus.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub tip: String,
    /// In a stacked chart, the value of each series (the chart's `series`), bottom first;
    /// they add up to `value`. Empty for a plain bar.
    pub parts: Vec<f64>,
}

/// Formats an axis value as a count (`1.2k`, `3.4M`).
pub fn fmt_count(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e3 => format!("{:.1}k", v / 1e3),
        a if a >= 10.0 || a == 0.0 => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    }
}

/// Formats an axis value in dollars.
pub fn fmt_usd(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("${}", fmt_count(v))
    } else if v.abs() >= 10.0 {
        format!("${v:.0}")
    } else {
        format!("${v:.2}")
    }
}

/// A "nice" axis maximum at or above `max`: 1, 2 or 5 times a power of ten.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * p)
}

const W: f64 = 800.0;
/// Colours a stacked chart cycles through (`.part-0` … in the stylesheet).
const SERIES_COLOURS: usize = 5;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 10.0;

/// A responsive bar chart with a y axis (4 gridlines), sparse x labels and a tooltip per bar.
/// With `series` (their names, bottom first, "(other)" last if any), each bar is stacked from
/// its `parts` and a legend names the colours.
#[component]
pub fn BarChart(
    #[prop(into)] label: String,
    bars: Vec<Bar>,
    fmt: fn(f64) -> String,
    #[prop(optional)] series: Vec<String>,
) -> impl IntoView {
    let stacked = !series.is_empty();
    let part_class = {
        let series = series.clone();
        move |i: usize| match series.get(i) {
            Some(name) if name.as_str() == shared::VALUE_OTHER => "part part-other".to_string(),
            _ => format!("part part-{}", i % SERIES_COLOURS),
        }
    };
    let max = nice_max(bars.iter().map(|b| b.value).fold(0.0, f64::max));
    // The bar under the pointer or the keyboard focus, read out below the chart (the SVG
    // title is a tooltip for the mouse only).
    let shown = RwSignal::new(None::<String>);
    let plot_w = W - LEFT - 8.0;
    let plot_h = H - TOP - BOTTOM;
    let n = bars.len().max(1) as f64;
    let step = plot_w / n;
    let every = (bars.len() / 12).max(1);
    let grid = (0..=4)
        .map(|i| {
            let v = max * i as f64 / 4.0;
            let y = TOP + plot_h - plot_h * i as f64 / 4.0;
            view! {
                <line x1=LEFT x2=W - 8.0 y1=y y2=y class="grid"/>
                <text x=LEFT - 6.0 y=y + 4.0 text-anchor="end" class="axis">{fmt(v)}</text>
            }
        })
        .collect_view();
    let rects = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let h = if max > 0.0 { plot_h * b.value / max } else { 0.0 };
            let x = LEFT + step * i as f64 + step * 0.1;
            let show = i % every == 0;
            let (on_focus, on_enter) = (b.tip.clone(), b.tip.clone());
            let width = (step * 0.8).max(1.0);
            // A plain bar is one rectangle; a stacked one a rectangle per series, bottom first.
            let rects = if stacked {
                let mut below = 0.0;
                (b.parts.iter().enumerate())
                    .map(|(s, v)| {
                        let ph = if max > 0.0 { plot_h * v.max(0.0) / max } else { 0.0 };
                        below += ph;
                        view! { <rect class=part_class(s) x=x y=TOP + plot_h - below width=width height=ph/> }
                    })
                    .collect_view()
                    .into_any()
            } else {
                view! { <rect x=x y=TOP + plot_h - h width=width height=h.max(0.0)/> }.into_any()
            };
            let class = if stacked { "bar stacked" } else { "bar" };
            view! {
                <g class=class tabindex="0"
                    on:focus=move |_| shown.set(Some(on_focus.clone()))
                    on:mouseenter=move |_| shown.set(Some(on_enter.clone()))>
                    <title>{b.tip.clone()}</title>
                    {rects}
                    {show.then(|| view! {
                        <text x=x + step * 0.4 y=H - 10.0 text-anchor="middle" class="axis">{b.label.clone()}</text>
                    })}
                </g>
            }
        })
        .collect_view();
    let legend = stacked.then(|| {
        view! {
            <ul class="legend" data-testid="chart-legend">
                {series.iter().enumerate().map(|(i, name)| view! {
                    <li><span class=part_class(i) aria-hidden="true"></span>{name.clone()}</li>
                }).collect_view()}
            </ul>
        }
    });
    view! {
        <figure class="chart">
            <figcaption>{label.clone()}</figcaption>
            {legend}
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=label preserveAspectRatio="none">
                {grid}
                <line x1=LEFT x2=LEFT y1=TOP y2=TOP + plot_h class="axis-line"/>
                {rects}
            </svg>
            <p class="chart-readout" aria-live="polite" data-testid="chart-readout">
                {move || shown.get().unwrap_or_else(|| "Point at a bar, or move to it with Tab, for its values.".into())}
            </p>
        </figure>
    }
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Requests per local weekday × hour; darker is busier.
#[component]
pub fn Heatmap(cells: Vec<HeatmapCell>) -> impl IntoView {
    let max = cells.iter().map(|c| c.requests).max().unwrap_or(0).max(1) as f64;
    view! {
        <figure class="heatmap">
            <figcaption>"Requests by weekday and local hour"</figcaption>
            <div class="heat-grid" role="table" aria-label="Requests by weekday and hour">
                // Rows are `display: contents`: the grid lays out their cells, the roles
                // still say which row and column each cell is in.
                <div class="heat-row" role="row">
                    <span role="columnheader" aria-label="Weekday"></span>
                    {(0..24).map(|h| view! {
                        <span class="heat-hour" role="columnheader" aria-label=format!("{h:02}:00")>
                            {(h % 3 == 0).then(|| format!("{h:02}"))}
                        </span>
                    }).collect_view()}
                </div>
                {WEEKDAYS.iter().enumerate().map(|(d, name)| {
                    let row = cells.iter().filter(|c| c.weekday as usize == d).cloned().collect::<Vec<_>>();
                    view! {
                        <div class="heat-row" role="row">
                            <span class="heat-day" role="rowheader">{*name}</span>
                            {row.into_iter().map(|c| {
                                let alpha = c.requests as f64 / max;
                                let text = format!("{} {:02}:00 · {} requests", name, c.hour, format_count(c.requests));
                                view! {
                                    <span class="heat-cell" role="cell" aria-label=text.clone()
                                        style=format!("background: rgba(11, 92, 173, {:.3})", 0.06 + 0.94 * alpha)
                                        title=text>
                                    </span>
                                }
                            }).collect_view()}
                        </div>
                    }
                }).collect_view()}
            </div>
        </figure>
    }
}
