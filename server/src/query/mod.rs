//! The query layer: a [`UsageQuery`] is resolved once per request into bucket bounds and ids,
//! then answered from roll-ups. Panels, REST endpoints, exports and tests call these functions.

pub mod breakdown;
pub mod forecast;
pub mod insights;

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use shared::{
    BreakdownStats, DailyUsage, DashboardData, DateRange, ErrorLog, ErrorPage, ErrorTypeUsage,
    EventStatus, HeatmapCell, HourlyUsage, ModelUsage, PeriodTotals, PriceSource, ProjectUsage,
    UsageQuery, UsageSummary,
};

use crate::access::Principal;
use crate::pricing::PriceBook;
use crate::rollup::{percentile, RollupDelta, BUCKET_SECONDS};
use crate::store::{Group, GroupKey, RollupFilter, Store, StoreError, Sums};

/// For a principal limited to some projects, every model asked for must be one their
/// projects have data for; any other name gets the answer of a name nobody has data for, so
/// that a viewer cannot tell which models other projects use.
pub async fn check_models_visible(
    store: &Store,
    who: &Principal,
    q: &UsageQuery,
) -> Result<(), QueryError> {
    let Some(ids) = &who.project_ids else {
        return Ok(());
    };
    if q.models.is_empty() {
        return Ok(());
    }
    let seen: std::collections::HashSet<String> =
        store.models_of_projects(ids).await?.into_iter().collect();
    match q.models.iter().find(|m| !seen.contains(*m)) {
        Some(name) => Err(bad("model", format!("no data for a model named {name:?}"))),
        None => Ok(()),
    }
}

/// Longest custom range, in days.
pub const MAX_RANGE_DAYS: i64 = 400;

/// Why a query cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{param}: {reason}")]
    BadParam { param: &'static str, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn bad(param: &'static str, reason: impl Into<String>) -> QueryError {
    QueryError::BadParam {
        param,
        reason: reason.into(),
    }
}

/// A query resolved against the clock, the time zone and the stored names.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub tz: Tz,
    pub filter: RollupFilter,
    /// Label of the range for display, e.g. `30d` or `2025-01-01..2025-01-16`.
    pub label: String,
}

/// Start (unix seconds) of local midnight of `date` in `tz`; when a DST jump skips
/// midnight, the first existing local instant of that day.
pub fn local_midnight(tz: Tz, date: NaiveDate) -> i64 {
    let mut t = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    for _ in 0..(24 * 4) {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.timestamp();
        }
        t += Duration::minutes(15);
    }
    // No zone skips a whole day at quarter-hour resolution except by date-line changes
    // (e.g. Pacific/Apia 2011-12-30); fall back to the UTC midnight.
    date.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
}

/// Seconds east of UTC of `tz` at unix second `t`.
fn offset_at(tz: Tz, t: i64) -> i64 {
    use chrono::Offset;
    let utc = chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .naive_utc();
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc() as i64
}

/// The offsets of `tz` over `[start, end)` (quarter-hours) as `(from, offset)` pairs: the first
/// from `start`, then one per change. Zones change offset on quarter-hours, at most a few times
/// a year: each day is checked at its last quarter-hour, and a change found by bisection.
pub fn zone_offsets(tz: Tz, start: i64, end: i64) -> Vec<(i64, i64)> {
    let mut current = offset_at(tz, start);
    let mut out = vec![(start, current)];
    let mut t = start;
    while t < end {
        let next = (t + 86_400).min(end);
        let last = next - BUCKET_SECONDS;
        if last <= t || offset_at(tz, last) == current {
            t = next;
            continue;
        }
        // offset_at(lo) == current, offset_at(hi) != current.
        let (mut lo, mut hi) = (t, last);
        while hi - lo > BUCKET_SECONDS {
            let mid = lo + (hi - lo) / BUCKET_SECONDS / 2 * BUCKET_SECONDS;
            if offset_at(tz, mid) == current {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        current = offset_at(tz, hi);
        out.push((hi, current));
        t = hi;
    }
    out
}

/// The time zone and bucket bounds of a query at time `now_ms`, without its model and
/// project filters: the part of [`resolve`] that needs no store (and no I/O).
pub fn resolve_range(q: &UsageQuery, now_ms: i64) -> Result<Resolved, QueryError> {
    let tz: Tz =
        q.tz.parse()
            .map_err(|_| bad("tz", format!("{:?} is not an IANA time zone", q.tz)))?;
    let (start_bucket, end_bucket, label) = match &q.range {
        DateRange::Preset(p) => {
            // The current quarter-hour is included; the range is the whole buckets before it.
            let end = now_ms.div_euclid(BUCKET_SECONDS * 1000) * BUCKET_SECONDS + BUCKET_SECONDS;
            (end - p.hours() * 3600, end, p.label().to_string())
        }
        DateRange::Custom { start, end } => {
            let parse = |param: &'static str, s: &str| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| bad(param, format!("{s:?} is not a date (YYYY-MM-DD)")))
            };
            let (s, e) = (parse("startDate", start)?, parse("endDate", end)?);
            if e < s {
                return Err(bad("endDate", "is before startDate"));
            }
            if (e - s).num_days() + 1 > MAX_RANGE_DAYS {
                return Err(bad(
                    "endDate",
                    format!("the range is longer than {MAX_RANGE_DAYS} days"),
                ));
            }
            let after = e
                .succ_opt()
                .ok_or_else(|| bad("endDate", "is out of range"))?;
            (
                local_midnight(tz, s),
                local_midnight(tz, after),
                format!("{s}..{e}"),
            )
        }
    };
    Ok(Resolved {
        tz,
        filter: RollupFilter {
            start_bucket,
            end_bucket,
            project_ids: Vec::new(),
            model_ids: Vec::new(),
            status: q.status,
            offsets: zone_offsets(tz, start_bucket, end_bucket),
            dims: q.dims.clone(),
            user_also: None,
        },
        label,
    })
}

/// Resolves the range, time zone and filters of a query at time `now_ms`.
pub async fn resolve(store: &Store, q: &UsageQuery, now_ms: i64) -> Result<Resolved, QueryError> {
    let mut resolved = resolve_range(q, now_ms)?;
    // Names are looked up only when the query filters by them (every panel resolves a query).
    let mut model_ids = Vec::new();
    if !q.models.is_empty() {
        let models = store.list_models().await?;
        for name in &q.models {
            match models.iter().find(|(_, n)| n == name) {
                Some((id, _)) => model_ids.push(*id),
                None => return Err(bad("model", format!("no data for a model named {name:?}"))),
            }
        }
    }
    let mut project_ids = Vec::new();
    if !q.projects.is_empty() {
        let projects = store.list_projects().await?;
        for name in &q.projects {
            match projects.iter().find(|p| &p.name == name) {
                Some(p) => project_ids.push(p.id),
                None => return Err(bad("projectId", format!("no project named {name:?}"))),
            }
        }
    }
    resolved.filter.model_ids = model_ids;
    resolved.filter.project_ids = project_ids;
    check_dims(store, &q.dims).await?;
    resolved.filter.user_also = hashed_user_filter(store, &q.dims).await?;
    Ok(resolved)
}

/// The keyed hash of the end-user filter's id, when ids have ever been stored hashed and the
/// filter names a plain id (not a hash, not "(none)" or "(erased)").
async fn hashed_user_filter(
    store: &Store,
    dims: &[shared::DimFilter],
) -> Result<Option<String>, QueryError> {
    let Some(user) = dims.iter().find(|d| d.dim == shared::Dimension::User) else {
        return Ok(None);
    };
    let plain = !user.value.starts_with(crate::dimension::HASHED_PREFIX)
        && user.value != user.dim.missing()
        && user.value != crate::store::ERASED;
    if !plain {
        return Ok(None);
    }
    Ok((store.stored_end_user_hash_key().await?)
        .map(|key| crate::dimension::hash_end_user(&key, &user.value)))
}

/// Dimension filters every way in (REST, server functions, exports) must pass: each
/// dimension at most once, a value of 1 to 128 characters, a metadata key that is declared.
pub(crate) async fn check_dims(
    store: &Store,
    dims: &[shared::DimFilter],
) -> Result<(), QueryError> {
    let param = |d: &shared::Dimension| match d {
        shared::Dimension::User => "user",
        shared::Dimension::Key => "key",
        shared::Dimension::Provider => "provider",
        shared::Dimension::Meta(_) => "meta",
    };
    for (i, f) in dims.iter().enumerate() {
        if dims[..i].iter().any(|g| g.dim == f.dim) {
            return Err(bad(
                param(&f.dim),
                format!("{} is given more than once", f.dim.param()),
            ));
        }
        let chars = f.value.chars().count();
        if chars == 0 || chars > crate::dimension::MAX_VALUE_CHARS {
            let most = crate::dimension::MAX_VALUE_CHARS;
            return Err(bad(
                param(&f.dim),
                format!(
                    "{}: a value is 1 to {most} characters (got {chars})",
                    f.dim.param()
                ),
            ));
        }
    }
    if dims
        .iter()
        .any(|f| matches!(f.dim, shared::Dimension::Meta(_)))
    {
        breakdown::check_declared(store, "meta", dims.iter().map(|f| &f.dim)).await?;
    }
    Ok(())
}

/// Mean of a sum over a count, `None` for no samples.
fn mean(sum: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| sum as f64 / count as f64)
}

/// `part` as a percentage of `whole` (0 when `whole` is 0).
fn share(part: i64, whole: i64) -> f64 {
    if whole > 0 {
        part as f64 * 100.0 / whole as f64
    } else {
        0.0
    }
}

/// The summary cards' numbers for a query, with the previous period of the same length.
pub async fn summary(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<UsageSummary, QueryError> {
    summary_of(store, &resolve(store, q, now_ms).await?).await
}

async fn summary_of(store: &Store, r: &Resolved) -> Result<UsageSummary, QueryError> {
    let current = store
        .rollup_grouped(&r.filter, Group::Total, Sums::AllWithHist)
        .await?;
    let len = r.filter.end_bucket - r.filter.start_bucket;
    let before = RollupFilter {
        start_bucket: r.filter.start_bucket - len,
        end_bucket: r.filter.start_bucket,
        ..r.filter.clone()
    };
    let previous = store
        .rollup_grouped(&before, Group::Total, Sums::Traffic)
        .await?;
    let t = current
        .into_iter()
        .next()
        .map(|g| g.sums)
        .unwrap_or_default();
    let errors = t.errors;
    let previous = previous.into_iter().next().map(|g| PeriodTotals {
        total_requests: g.sums.requests,
        total_cost_nanos: g.sums.cost_nanos,
        total_tokens: g.sums.input_tokens + g.sums.output_tokens,
        average_response_time_ms: mean(g.sums.latency_sum_ms, g.sums.latency_count),
        success_rate: mean(g.sums.requests - g.sums.errors, g.sums.requests).map(|v| v * 100.0),
    });
    Ok(UsageSummary {
        total_requests: t.requests,
        total_cost_nanos: t.cost_nanos,
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        cached_input_tokens: t.cached_input_tokens,
        cache_write_tokens: t.cache_write_tokens,
        total_tokens: t.input_tokens + t.output_tokens,
        error_requests: errors,
        unpriced_requests: t.unpriced_requests,
        fallback_requests: t.fallback_requests,
        average_response_time_ms: mean(t.latency_sum_ms, t.latency_count),
        p50_ms: percentile(&t.hist, 0.50),
        p95_ms: percentile(&t.hist, 0.95),
        p99_ms: percentile(&t.hist, 0.99),
        success_rate: mean(t.requests - errors, t.requests).map(|v| v * 100.0),
        period: r.label.clone(),
        previous: previous.filter(|p| p.total_requests > 0),
    })
}

/// The local date and the local time of a bucket's start.
fn local(tz: Tz, bucket: i64) -> chrono::NaiveDateTime {
    tz.timestamp_opt(bucket, 0)
        .single()
        .map(|t| t.naive_local())
        .unwrap_or_default()
}

/// Requests, cost, tokens and latency per local day, every day of the range present.
pub async fn daily(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<Vec<DailyUsage>, QueryError> {
    daily_of(store, &resolve(store, q, now_ms).await?).await
}

async fn daily_of(store: &Store, r: &Resolved) -> Result<Vec<DailyUsage>, QueryError> {
    let rows = store
        .rollup_grouped(&r.filter, Group::LocalDay, Sums::Traffic)
        .await?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let first = local(r.tz, r.filter.start_bucket).date();
    let last = local(r.tz, r.filter.end_bucket - BUCKET_SECONDS).date();
    let mut days: BTreeMap<NaiveDate, RollupDelta> = BTreeMap::new();
    let mut d = first;
    while d <= last {
        days.insert(d, Default::default());
        d += Duration::days(1);
    }
    for row in rows {
        if let GroupKey::LocalDay(n) = row.key {
            days.entry(epoch + Duration::days(n))
                .or_default()
                .add(&row.sums);
        }
    }
    Ok(days
        .into_iter()
        .map(|(date, s)| DailyUsage {
            date: date.format("%Y-%m-%d").to_string(),
            requests: s.requests,
            cost_nanos: s.cost_nanos,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            cached_input_tokens: s.cached_input_tokens,
            average_response_time_ms: mean(s.latency_sum_ms, s.latency_count),
        })
        .collect())
}

/// Breakdown rows by model or project id, with shares of the query's totals, and each row's
/// sums.
async fn breakdown(
    store: &Store,
    r: &Resolved,
    group: Group,
) -> Result<Vec<(i64, BreakdownStats, RollupDelta)>, QueryError> {
    let rows = store
        .rollup_grouped(&r.filter, group, Sums::Traffic)
        .await?;
    let requests: i64 = rows.iter().map(|g| g.sums.requests).sum();
    let cost: i64 = rows
        .iter()
        .fold(0i64, |acc, g| acc.saturating_add(g.sums.cost_nanos));
    Ok(rows
        .into_iter()
        .filter_map(|g| {
            let id = match g.key {
                GroupKey::Model(id) | GroupKey::Project(id) => id,
                _ => return None,
            };
            let s = &g.sums;
            let stats = BreakdownStats {
                requests: s.requests,
                cost_nanos: s.cost_nanos,
                input_tokens: s.input_tokens,
                output_tokens: s.output_tokens,
                cached_input_tokens: s.cached_input_tokens,
                request_share: share(s.requests, requests),
                cost_share: share(s.cost_nanos, cost),
                average_response_time_ms: mean(s.latency_sum_ms, s.latency_count),
                error_rate: share(s.errors, s.requests),
            };
            Some((id, stats, g.sums))
        })
        .collect())
}

/// Most requests first; ties by name, so the order is stable.
fn by_requests_then_name(
    a: (&BreakdownStats, &str),
    b: (&BreakdownStats, &str),
) -> std::cmp::Ordering {
    b.0.requests.cmp(&a.0.requests).then_with(|| a.1.cmp(b.1))
}

/// Requests, cost, tokens, shares, latency and error rate per model, most requests first.
pub async fn models(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<Vec<ModelUsage>, QueryError> {
    models_of(store, &resolve(store, q, now_ms).await?).await
}

async fn models_of(store: &Store, r: &Resolved) -> Result<Vec<ModelUsage>, QueryError> {
    let names: HashMap<i64, String> = store.list_models().await?.into_iter().collect();
    let providers = store.model_providers().await?;
    let prices = PriceBook::load(store).await?;
    let at_ms = r.filter.end_bucket * 1000 - 1;
    let mut out: Vec<ModelUsage> = breakdown(store, r, Group::Model)
        .await?
        .into_iter()
        .map(|(id, stats, sums)| {
            let model = names.get(&id).cloned().unwrap_or_default();
            let provider = providers.get(&id).cloned();
            let price_source = match prices.source_of(&model, provider.as_deref(), at_ms) {
                // No price here, and every request came with its client's cost.
                PriceSource::None
                    if sums.unpriced_requests == 0 && sums.client_cost_requests > 0 =>
                {
                    PriceSource::Client
                }
                source => source,
            };
            ModelUsage {
                model,
                provider,
                price_source,
                unpriced_requests: sums.unpriced_requests,
                fallback_requests: sums.fallback_requests,
                stats,
            }
        })
        .collect();
    out.sort_by(|a, b| by_requests_then_name((&a.stats, &a.model), (&b.stats, &b.model)));
    Ok(out)
}

/// The same breakdown per project.
pub async fn projects(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<Vec<ProjectUsage>, QueryError> {
    projects_of(store, &resolve(store, q, now_ms).await?).await
}

async fn projects_of(store: &Store, r: &Resolved) -> Result<Vec<ProjectUsage>, QueryError> {
    let names: HashMap<i64, String> = store
        .list_projects()
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let mut out: Vec<ProjectUsage> = breakdown(store, r, Group::Project)
        .await?
        .into_iter()
        .map(|(id, stats, _)| ProjectUsage {
            project_id: id,
            project: names.get(&id).cloned().unwrap_or_default(),
            stats,
        })
        .collect();
    out.sort_by(|a, b| by_requests_then_name((&a.stats, &a.project), (&b.stats, &b.project)));
    Ok(out)
}

/// Requests and cost per local hour of day (all 24 present), and the weekday × hour heat map
/// (all 168 cells present).
pub async fn hourly(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<(Vec<HourlyUsage>, Vec<HeatmapCell>), QueryError> {
    hourly_of(store, &resolve(store, q, now_ms).await?).await
}

async fn hourly_of(
    store: &Store,
    r: &Resolved,
) -> Result<(Vec<HourlyUsage>, Vec<HeatmapCell>), QueryError> {
    let rows = store
        .rollup_grouped(&r.filter, Group::LocalHourOfWeek, Sums::RequestsCost)
        .await?;
    let mut hours: Vec<HourlyUsage> = (0..24)
        .map(|hour| HourlyUsage {
            hour,
            ..Default::default()
        })
        .collect();
    let mut cells: Vec<HeatmapCell> = (0..7 * 24)
        .map(|i| HeatmapCell {
            weekday: (i / 24) as u8,
            hour: (i % 24) as u8,
            requests: 0,
        })
        .collect();
    for row in rows {
        if let GroupKey::LocalHourOfWeek(how) = row.key {
            let how = how.rem_euclid(7 * 24) as usize;
            let h = how % 24;
            hours[h].requests += row.sums.requests;
            hours[h].cost_nanos = hours[h].cost_nanos.saturating_add(row.sums.cost_nanos);
            cells[how].requests += row.sums.requests;
        }
    }
    Ok((hours, cells))
}

/// Failed requests by error type: count, share of failures and the cost they were billed.
pub async fn error_types(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<Vec<ErrorTypeUsage>, QueryError> {
    error_types_of(store, &resolve(store, q, now_ms).await?).await
}

async fn error_types_of(store: &Store, r: &Resolved) -> Result<Vec<ErrorTypeUsage>, QueryError> {
    if r.filter.status == Some(EventStatus::Success) {
        // Only successful requests are asked for: none of them failed.
        return Ok(Vec::new());
    }
    // Grouped by error type, the store reads the error rows alone.
    let rows = store
        .rollup_grouped(&r.filter, Group::ErrorType, Sums::RequestsCost)
        .await?;
    let total: i64 = rows.iter().map(|g| g.sums.requests).sum();
    let mut out: Vec<ErrorTypeUsage> = rows
        .into_iter()
        .filter_map(|g| match g.key {
            GroupKey::ErrorType(t) => Some(ErrorTypeUsage {
                error_type: t,
                count: g.sums.requests,
                share: share(g.sums.requests, total),
                cost_nanos: g.sums.cost_nanos,
            }),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.error_type.cmp(&b.error_type)));
    Ok(out)
}

/// Largest page of the error log.
pub const MAX_ERROR_PAGE: i64 = shared::error_log_page::EXPORT;

/// A page of failed requests, newest first; `before` is the previous page's `next_cursor`.
pub async fn error_page(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
    before: Option<&str>,
    limit: i64,
) -> Result<ErrorPage, QueryError> {
    error_page_of(store, &resolve(store, q, now_ms).await?, before, limit).await
}

async fn error_page_of(
    store: &Store,
    r: &Resolved,
    before: Option<&str>,
    limit: i64,
) -> Result<ErrorPage, QueryError> {
    let cursor = match before {
        None | Some("") => None,
        Some(c) => {
            let parsed = c
                .split_once('.')
                .and_then(|(t, i)| Some((t.parse::<i64>().ok()?, i.parse::<i64>().ok()?)));
            Some(parsed.ok_or_else(|| bad("before", "is not a cursor from a previous page"))?)
        }
    };
    if !(1..=MAX_ERROR_PAGE).contains(&limit) {
        return Err(bad(
            "limit",
            format!("must be between 1 and {MAX_ERROR_PAGE}"),
        ));
    }
    if r.filter.status == Some(EventStatus::Success) {
        return Ok(ErrorPage::default());
    }
    // The retention mark is read beside the page, not after it.
    let (rows, deleted_before) = tokio::try_join!(
        store.error_log(
            &r.filter,
            r.filter.start_bucket * 1000,
            r.filter.end_bucket * 1000,
            cursor,
            limit + 1,
        ),
        store.raw_deleted_before(),
    )?;
    let more = rows.len() as i64 > limit;
    let items: Vec<(i64, ErrorLog)> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = more
        .then(|| {
            items
                .last()
                .map(|(id, e)| format!("{}.{id}", e.timestamp_ms))
        })
        .flatten();
    let tz = r.tz;
    let raw_events_from_ms = deleted_before.filter(|from| r.filter.start_bucket * 1000 < *from);
    Ok(ErrorPage {
        raw_events_from_ms,
        items: items
            .into_iter()
            .map(|(_, mut e)| {
                e.local_time = tz
                    .timestamp_millis_opt(e.timestamp_ms)
                    .single()
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                e
            })
            .collect(),
        next_cursor,
    })
}

/// Model and project names the filter pickers offer `who`: only their projects, and only
/// models with data in them, when they are limited to some projects.
pub async fn filter_options(
    store: &Store,
    who: &crate::access::Principal,
) -> Result<shared::FilterOptions, QueryError> {
    let projects = store
        .list_projects()
        .await?
        .into_iter()
        .filter(|p| crate::access::may_see_project(who, p.id))
        .map(|p| p.name)
        .collect();
    let mut models: Vec<String> = match &who.project_ids {
        None => store
            .list_models()
            .await?
            .into_iter()
            .map(|(_, n)| n)
            .collect(),
        Some(ids) => store.models_of_projects(ids).await?,
    };
    models.sort();
    let dimensions = (store.declared_dimensions().await?.into_iter())
        .map(|d| d.key)
        .collect();
    Ok(shared::FilterOptions {
        models,
        projects,
        dimensions,
    })
}

/// Every panel of the dashboard for one query.
pub async fn dashboard(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
    errors: i64,
) -> Result<DashboardData, QueryError> {
    dashboard_of(store, &resolve(store, q, now_ms).await?, errors).await
}

/// Every panel for a resolved query, with up to `errors` rows of the error log.
pub async fn dashboard_of(
    store: &Store,
    r: &Resolved,
    errors: i64,
) -> Result<DashboardData, QueryError> {
    // The panels' queries are independent: both databases answer them side by side.
    let (summary, daily, models, projects, (hourly, heatmap), error_types, errors) = tokio::try_join!(
        summary_of(store, r),
        daily_of(store, r),
        models_of(store, r),
        projects_of(store, r),
        hourly_of(store, r),
        error_types_of(store, r),
        error_page_of(store, r, None, errors),
    )?;
    Ok(DashboardData {
        summary,
        daily,
        models,
        projects,
        hourly,
        heatmap,
        error_types,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_offsets_name_every_change_at_its_quarter_hour() {
        let utc = |y, m, d, h, min| {
            chrono::Utc
                .with_ymd_and_hms(y, m, d, h, min, 0)
                .unwrap()
                .timestamp()
        };
        let (start, end) = (utc(2025, 3, 1, 0, 0), utc(2025, 11, 30, 0, 0));
        // New York: EDT from 2025-03-09 07:00 UTC, EST again from 2025-11-02 06:00 UTC.
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            zone_offsets(ny, start, end),
            vec![
                (start, -5 * 3600),
                (utc(2025, 3, 9, 7, 0), -4 * 3600),
                (utc(2025, 11, 2, 6, 0), -5 * 3600)
            ]
        );
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        assert_eq!(zone_offsets(kolkata, start, end), vec![(start, 19_800)]);
        // Lord Howe moves by half an hour at 02:00 local on 2025-04-06 (15:00 UTC the day before).
        let lord_howe: Tz = "Australia/Lord_Howe".parse().unwrap();
        assert_eq!(
            zone_offsets(lord_howe, start, utc(2025, 5, 1, 0, 0)),
            vec![(start, 11 * 3600), (utc(2025, 4, 5, 15, 0), 37_800)]
        );
    }

    #[test]
    fn local_midnight_honours_odd_offsets_and_dst() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // Kathmandu is +05:45: midnight local is 18:15 UTC the day before.
        let kathmandu: Tz = "Asia/Kathmandu".parse().unwrap();
        assert_eq!(
            local_midnight(kathmandu, d("2025-01-02")),
            chrono::Utc
                .with_ymd_and_hms(2025, 1, 1, 18, 15, 0)
                .unwrap()
                .timestamp()
        );
        // New York's 2025-03-09 is 23 hours long.
        let ny: Tz = "America/New_York".parse().unwrap();
        let len = local_midnight(ny, d("2025-03-10")) - local_midnight(ny, d("2025-03-09"));
        assert_eq!(len, 23 * 3600);
        let len = local_midnight(ny, d("2025-11-03")) - local_midnight(ny, d("2025-11-02"));
        assert_eq!(len, 25 * 3600);
    }
}
