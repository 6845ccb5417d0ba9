//! The filter bar and the URL form of a query.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use shared::{DateRange, DimFilter, Dimension, FilterOptions, Period, UsageQuery};

/// Longest custom range the form accepts, in days (the server enforces the same).
const MAX_DAYS: i64 = 400;

/// Time zones offered in the selector (the browser's own is added when missing).
const ZONES: [&str; 17] = [
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
];

const TZ_COOKIE: &str = "ua_tz";

fn split_list(v: Option<String>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// The query a URL describes; `tz_fallback` applies when the URL names no zone.
pub fn query_from_params(p: &ParamsMap, tz_fallback: &str) -> UsageQuery {
    let range = match (p.get("start"), p.get("end")) {
        (Some(start), Some(end)) => DateRange::Custom { start, end },
        _ => DateRange::Preset(
            p.get("period")
                .and_then(|s| Period::parse(&s))
                .unwrap_or_default(),
        ),
    };
    UsageQuery {
        range,
        tz: p.get("tz").unwrap_or_else(|| tz_fallback.to_string()),
        models: split_list(p.get("model")),
        projects: split_list(p.get("project")),
        status: None,
        dims: dims_from_params(p),
    }
}

/// The dimension filters of a URL (`user=…`, `key=…`, `provider=…`, `meta.<key>=…`), in the
/// order of their names.
pub fn dims_from_params(p: &ParamsMap) -> Vec<DimFilter> {
    let mut dims: Vec<DimFilter> = p
        .into_iter()
        .filter_map(|(name, value)| {
            let dim = Dimension::parse(name)?;
            (!value.is_empty()).then(|| DimFilter {
                dim,
                value: value.to_string(),
            })
        })
        .collect();
    dims.sort_by(|a, b| a.dim.cmp(&b.dim));
    dims.dedup_by(|a, b| a.dim == b.dim);
    dims
}

/// `name=value` query parts of a query's dimension filters.
fn dim_params(q: &UsageQuery) -> impl Iterator<Item = String> + '_ {
    (q.dims.iter()).map(|d| format!("{}={}", encode(&d.dim.param()), encode(&d.value)))
}

/// `s` percent-encoded for a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The dashboard's URL of a query (the inverse of [`query_from_params`]).
pub fn url_of(q: &UsageQuery) -> String {
    url_at("/", q)
}

/// The URL of a query on the page at `path`.
pub fn url_at(path: &str, q: &UsageQuery) -> String {
    let mut parts = Vec::new();
    match &q.range {
        DateRange::Preset(p) => parts.push(format!("period={}", p.label())),
        DateRange::Custom { start, end } => {
            parts.push(format!("start={}", encode(start)));
            parts.push(format!("end={}", encode(end)));
        }
    }
    parts.push(format!("tz={}", encode(&q.tz)));
    if !q.models.is_empty() {
        parts.push(format!("model={}", encode(&q.models.join(","))));
    }
    if !q.projects.is_empty() {
        parts.push(format!("project={}", encode(&q.projects.join(","))));
    }
    parts.extend(dim_params(q));
    format!("{path}?{}", parts.join("&"))
}

/// The REST API's query string for a query (`period=…&tz=…&model=…&projectId=…`).
pub fn api_params(q: &UsageQuery) -> String {
    let mut parts = Vec::new();
    match &q.range {
        DateRange::Preset(p) => parts.push(format!("period={}", p.label())),
        DateRange::Custom { start, end } => {
            parts.push(format!("startDate={}", encode(start)));
            parts.push(format!("endDate={}", encode(end)));
        }
    }
    parts.push(format!("tz={}", encode(&q.tz)));
    parts.extend(q.models.iter().map(|m| format!("model={}", encode(m))));
    parts.extend(
        q.projects
            .iter()
            .map(|p| format!("projectId={}", encode(p))),
    );
    parts.extend(dim_params(q));
    parts.join("&")
}

/// The `ua_tz` cookie the browser set on an earlier visit, as the page's request brought it.
/// Read on the server and handed to hydration (a `SharedValue`): the browser may set the
/// cookie between the request and hydration (a page left a moment earlier does), and reading
/// it again then made the client render another zone than the server and hydration fail.
pub fn remembered_zone() -> Option<String> {
    SharedValue::new(cookie_tz).into_inner()
}

/// The zone used when the URL names none: the remembered one, else UTC.
pub fn initial_time_zone(remembered: &Option<String>) -> String {
    remembered.clone().unwrap_or_else(|| "UTC".into())
}

#[cfg(feature = "ssr")]
fn cookie_tz() -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    let header = parts
        .headers
        .get(http::header::COOKIE)?
        .to_str()
        .ok()?
        .to_string();
    find_cookie(&header)
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn cookie_tz() -> Option<String> {
    use wasm_bindgen::JsCast;
    let doc = document().dyn_into::<web_sys::HtmlDocument>().ok()?;
    find_cookie(&doc.cookie().ok()?)
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn cookie_tz() -> Option<String> {
    None
}

#[cfg_attr(not(any(feature = "ssr", feature = "hydrate")), allow(dead_code))]
fn find_cookie(header: &str) -> Option<String> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == TZ_COOKIE)
        .map(|(_, v)| v.replace("%2F", "/"))
        .filter(|v| !v.is_empty() && v.len() < 64)
}

/// The browser's IANA zone (client only).
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn browser_tz() -> Option<String> {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into())
        .ok()?
        .as_string()
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
fn browser_tz() -> Option<String> {
    None
}

/// The local dates (`YYYY-MM-DD`, in `tz`) a preset range starts and ends on, for the date
/// inputs to show what it means (client only).
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn preset_dates(p: Period, tz: &str) -> Option<(String, String)> {
    use js_sys::{Array, Date, Function, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    let options = Object::new();
    Reflect::set(&options, &"timeZone".into(), &tz.into()).ok()?;
    // Built through Reflect: an unknown zone throws a RangeError, which must come back as an
    // error here rather than abort the app. en-CA writes dates as YYYY-MM-DD.
    let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    let constructor: Function = Reflect::get(&intl, &"DateTimeFormat".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let args = Array::of2(&Array::of1(&"en-CA".into()), &options);
    let format = Reflect::construct(&constructor, &args).ok()?;
    let format_fn: Function = Reflect::get(&format, &"format".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let date_of = |ms: f64| -> Option<String> {
        let date = Date::new(&JsValue::from_f64(ms));
        let text = format_fn.call1(&format, &date).ok()?.as_string()?;
        (text.len() == 10).then_some(text)
    };
    let now = Date::now();
    Some((
        date_of(now - p.hours() as f64 * 3_600_000.0)?,
        date_of(now)?,
    ))
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
fn preset_dates(_: Period, _: &str) -> Option<(String, String)> {
    None
}

/// Today's date as `YYYY-MM-DD` in the browser (UTC), for the "future date" check.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn today() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())[..10].to_string()
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
fn today() -> String {
    "9999-12-31".into()
}

/// Days from `a` to `b` (`YYYY-MM-DD`), by the civil calendar.
fn days_between(a: &str, b: &str) -> Option<i64> {
    fn day_number(s: &str) -> Option<i64> {
        let mut it = s.splitn(3, '-').map(|x| x.parse::<i64>().ok());
        let (y, m, d) = (it.next()??, it.next()??, it.next()??);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        // Days since 1970-01-01 (Howard Hinnant's civil-from-days inverse).
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(era * 146_097 + doe - 719_468)
    }
    Some(day_number(b)? - day_number(a)?)
}

/// Checks a custom range before any request is made.
pub fn validate_range(start: &str, end: &str, today: &str) -> Result<(), String> {
    if start.is_empty() || end.is_empty() {
        return Err("Choose both a start and an end date.".into());
    }
    let span = days_between(start, end).ok_or("Dates must look like 2025-01-31.")?;
    if span < 0 {
        return Err("The end date is before the start date.".into());
    }
    if start > today {
        return Err("The start date is in the future.".into());
    }
    if span + 1 > MAX_DAYS {
        return Err(format!("Choose at most {MAX_DAYS} days."));
    }
    Ok(())
}

/// The page's own parameters named `names` (of those it has), as `&name=value`, for links
/// that keep the page's view.
fn kept_params(p: &ParamsMap, names: &[&str]) -> String {
    let mut out = String::new();
    for name in names {
        if let Some(v) = p.get(name) {
            out.push_str(&format!("&{name}={}", encode(&v)));
        }
    }
    out
}

/// The daily chart's `metric=` and `split=` of a page's URL, for links that keep the page's
/// view (section links, a breakdown value, removing a dimension filter).
pub fn chart_params(p: &ParamsMap) -> String {
    kept_params(p, &["metric", "split"])
}

/// Range buttons, custom dates, model/project/time-zone pickers, Apply and Reset, for the
/// page at `path` (the dashboard, or an end user's page, whose Reset keeps the end user).
#[component]
pub fn FilterBar(
    query: Memo<UsageQuery>,
    options: Resource<Result<FilterOptions, ServerFnError>>,
    #[prop(default = "/")] path: &'static str,
) -> impl IntoView {
    let navigate = use_navigate();
    // The page's own parameters (the breakdown's dimension, the section, the daily chart's
    // metric and split) stay when a filter changes.
    let page = use_query_map();
    let go = move |q: UsageQuery| {
        let kept = page.with_untracked(|p| kept_params(p, &["by", "section", "metric", "split"]));
        navigate(&(url_at(path, &q) + &kept), Default::default())
    };
    let start = RwSignal::new(String::new());
    let end = RwSignal::new(String::new());
    let models = RwSignal::new(Vec::<String>::new());
    let projects = RwSignal::new(Vec::<String>::new());
    let tz = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    // The dates shown for the active preset: Apply keeps the preset unless they were edited.
    let preset_shown = RwSignal::new(None::<(String, String)>);
    // Keep the form in step with the URL (also on back/forward).
    Effect::new(move |_| {
        let q = query.get();
        match &q.range {
            DateRange::Custom { start: s, end: e } => {
                start.set(s.clone());
                end.set(e.clone());
            }
            // The dates a preset covers, so the inputs never read "mm/dd/yyyy" while one is
            // active (and Apply turns them into the same range as custom dates).
            DateRange::Preset(p) => {
                if let Some((s, e)) = preset_dates(*p, &q.tz) {
                    start.set(s.clone());
                    end.set(e.clone());
                    preset_shown.set(Some((s, e)));
                }
            }
        }
        models.set(q.models.clone());
        projects.set(q.projects.clone());
        tz.set(q.tz.clone());
    });
    // First visit: remember the browser's zone and switch to it, unless the URL names one.
    // Either way the dashboard now knows the zone (see ZoneKnown).
    let go_tz = go.clone();
    let url_params = use_query_map();
    let zone = use_context::<ZoneKnown>();
    Effect::new(move |_| {
        if let Some(browser) = browser_tz() {
            set_tz_cookie(&browser);
            let q = query.get_untracked();
            let url_names_zone = url_params.with_untracked(|p| p.get("tz").is_some());
            if cookie_missing_before() && !url_names_zone && q.tz != browser {
                go_tz(UsageQuery { tz: browser, ..q });
                return;
            }
        }
        if let Some(zone) = zone {
            zone.confirmed.set(true);
        }
    });
    let go_period = go.clone();
    let period_button = move |p: Period| {
        let go = go_period.clone();
        view! {
            <button type="button"
                aria-pressed=move || (query.get().range == DateRange::Preset(p)).to_string()
                on:click=move |_| {
                    problem.set(None);
                    go(UsageQuery { range: DateRange::Preset(p), ..query.get_untracked() });
                }>
                {p.label()}
            </button>
        }
    };
    let go_apply = go.clone();
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (s, e) = (start.get_untracked(), end.get_untracked());
        let mut q = query.get_untracked();
        let preset_untouched = matches!(q.range, DateRange::Preset(_))
            && preset_shown.get_untracked() == Some((s.clone(), e.clone()));
        let dates_given = !s.is_empty() || !e.is_empty();
        if dates_given && !preset_untouched {
            if let Err(msg) = validate_range(&s, &e, &today()) {
                problem.set(Some(msg));
                return;
            }
            q.range = DateRange::Custom { start: s, end: e };
        }
        problem.set(None);
        q.models = models.get_untracked();
        q.projects = projects.get_untracked();
        q.tz = tz.get_untracked();
        go_apply(q);
    };
    let go_reset = go.clone();
    let reset = move |_| {
        start.set(String::new());
        end.set(String::new());
        problem.set(None);
        let q = query.get_untracked();
        go_reset(UsageQuery {
            tz: q.tz,
            dims: if path == "/" { Vec::new() } else { q.dims },
            ..Default::default()
        });
    };
    let checklist =
        move |label: &'static str, names: Vec<String>, chosen: RwSignal<Vec<String>>| {
            view! {
                <details class="picker">
                    <summary>{move || {
                        let n = chosen.get().len();
                        if n == 0 { format!("All {label}") } else { format!("{n} {label}") }
                    }}</summary>
                    <div class="picker-list">
                        {names.into_iter().map(|name| {
                            let value = name.clone();
                            let checked_name = name.clone();
                            view! {
                                <label>
                                    <input type="checkbox"
                                        prop:checked=move || chosen.get().contains(&checked_name)
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            chosen.update(|c| {
                                                c.retain(|x| x != &value);
                                                if on { c.push(value.clone()) }
                                            });
                                        }/>
                                    {name}
                                </label>
                            }
                        }).collect_view()}
                    </div>
                </details>
            }
        };
    view! {
        <form class="filters" on:submit=apply>
            <div class="periods" role="group" aria-label="Time range">
                {[Period::Last24h, Period::Last7d, Period::Last30d, Period::Last90d]
                    .into_iter().map(period_button).collect_view()}
            </div>
            <label class="date">"From" <input type="date" prop:value=start
                on:input=move |ev| start.set(event_target_value(&ev))/></label>
            <label class="date">"To" <input type="date" prop:value=end
                on:input=move |ev| end.set(event_target_value(&ev))/></label>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let o = options.await.unwrap_or_default();
                    view! {
                        {checklist("models", o.models, models)}
                        {checklist("projects", o.projects, projects)}
                    }
                })}
            </Transition>
            <label class="tz">"Time zone"
                <select on:change=move |ev| tz.set(event_target_value(&ev)) prop:value=tz>
                    {move || {
                        let mut zones: Vec<String> = ZONES.iter().map(|z| z.to_string()).collect();
                        let current = tz.get();
                        if !current.is_empty() && !zones.contains(&current) {
                            zones.insert(0, current.clone());
                        }
                        zones.into_iter().map(|z| {
                            let selected = z == current;
                            view! { <option value=z.clone() selected=selected>{z.clone()}</option> }
                        }).collect_view()
                    }}
                </select>
            </label>
            <button type="submit" class="primary">"Apply"</button>
            <button type="button" on:click=reset>"Reset"</button>
            <span class="range-label" data-testid="range-label">{move || describe(&query.get())}</span>
            {move || problem.get().map(|p| view! { <p class="form-error" role="alert" data-testid="filter-error">{p}</p> })}
        </form>
    }
}

/// "Last 30 days · Asia/Kolkata" or "2025-01-01 – 2025-01-16 · UTC".
pub fn describe(q: &UsageQuery) -> String {
    let range = match &q.range {
        DateRange::Preset(Period::Last24h) => "Last 24 hours".to_string(),
        DateRange::Preset(Period::Last7d) => "Last 7 days".to_string(),
        DateRange::Preset(Period::Last30d) => "Last 30 days".to_string(),
        DateRange::Preset(Period::Last90d) => "Last 90 days".to_string(),
        DateRange::Custom { start, end } => format!("{start} – {end}"),
    };
    format!("{range} · {}", q.tz)
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
thread_local! {
    static HAD_COOKIE: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Whether the dashboard knows the viewer's time zone (issue 32). On a very first visit the
/// server cannot know it (no `tz` in the URL, no `ua_tz` cookie yet): panels then hold their
/// numbers until the browser has said (its zone goes into the URL, or it is the zone already
/// shown), instead of showing UTC's numbers and jumping to the local ones.
#[derive(Clone, Copy)]
pub struct ZoneKnown {
    /// Known from the URL, the cookie, or the browser.
    pub known: Signal<bool>,
    /// Set when the browser's zone turned out to be the one shown.
    confirmed: RwSignal<bool>,
}

impl ZoneKnown {
    /// For the page whose URL parameters are `params` and whose request brought
    /// `remembered` ([`remembered_zone`]: the same on the server and while hydrating).
    pub fn new(params: Memo<ParamsMap>, remembered: &Option<String>) -> ZoneKnown {
        let confirmed = RwSignal::new(remembered.is_some());
        let known =
            Signal::derive(move || confirmed.get() || params.with(|p| p.get("tz").is_some()));
        ZoneKnown { known, confirmed }
    }
}

/// Whether the page loaded without a zone cookie (answered once, before we set one).
fn cookie_missing_before() -> bool {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        HAD_COOKIE.with(|h| match h.get() {
            Some(had) => !had,
            None => {
                let had = cookie_tz().is_some();
                h.set(Some(had));
                !had
            }
        })
    }
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    false
}

fn set_tz_cookie(_zone: &str) {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        use wasm_bindgen::JsCast;
        let _ = cookie_missing_before();
        if let Ok(doc) = document().dyn_into::<web_sys::HtmlDocument>() {
            let value = format!(
                "{TZ_COOKIE}={}; path=/; max-age=31536000; samesite=lax",
                _zone.replace('/', "%2F")
            );
            let _ = doc.set_cookie(&value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ranges_are_checked_before_any_request() {
        let today = "2025-06-01";
        assert!(validate_range("2025-01-01", "2025-01-16", today).is_ok());
        assert!(validate_range("2025-01-16", "2025-01-01", today)
            .unwrap_err()
            .contains("before"));
        assert!(validate_range("2025-07-01", "2025-07-02", today)
            .unwrap_err()
            .contains("future"));
        assert!(validate_range("2023-01-01", "2025-01-01", today)
            .unwrap_err()
            .contains("400"));
        assert!(validate_range("", "2025-01-01", today).is_err());
        assert!(validate_range("2025-02-30x", "2025-03-01", today).is_err());
    }

    #[test]
    fn day_counts_follow_the_calendar() {
        assert_eq!(days_between("2024-02-28", "2024-03-01"), Some(2));
        assert_eq!(days_between("2025-02-28", "2025-03-01"), Some(1));
        assert_eq!(days_between("2024-01-01", "2025-01-01"), Some(366));
    }

    #[test]
    fn a_url_round_trips_to_the_same_query() {
        let q = UsageQuery {
            range: DateRange::Custom {
                start: "2025-01-01".into(),
                end: "2025-01-16".into(),
            },
            tz: "Asia/Kathmandu".into(),
            models: vec!["Scalix Standard".into(), "Scalix Coder".into()],
            projects: vec!["Data Analysis Tool".into()],
            status: None,
            dims: Vec::new(),
        };
        let url = url_of(&q);
        let params: Vec<(String, String)> = url[2..]
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                let bytes = v.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' {
                        out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                (k.to_string(), String::from_utf8(out).unwrap())
            })
            .collect();
        let map = ParamsMap::from_iter(params);
        assert_eq!(query_from_params(&map, "UTC"), q);
    }
}
