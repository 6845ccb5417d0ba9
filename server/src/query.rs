//! The query layer: a [`UsageQuery`] is resolved once per request into bucket bounds and ids,
//! then answered from roll-ups. Panels, REST endpoints, exports and tests call these functions.

use chrono::{Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use shared::{DateRange, UsageQuery, UsageSummary};

use crate::rollup::{percentile, BUCKET_SECONDS};
use crate::store::{RollupFilter, Store, StoreError};

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
fn local_midnight(tz: Tz, date: NaiveDate) -> i64 {
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

/// Resolves the range, time zone and filters of a query at time `now_ms`.
pub async fn resolve(store: &Store, q: &UsageQuery, now_ms: i64) -> Result<Resolved, QueryError> {
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
            let after = e + Duration::days(1);
            (
                local_midnight(tz, s),
                local_midnight(tz, after),
                format!("{s}..{e}"),
            )
        }
    };
    let models = store.list_models().await?;
    let mut model_ids = Vec::new();
    for name in &q.models {
        match models.iter().find(|(_, n)| n == name) {
            Some((id, _)) => model_ids.push(*id),
            None => return Err(bad("model", format!("no data for a model named {name:?}"))),
        }
    }
    let projects = store.list_projects().await?;
    let mut project_ids = Vec::new();
    for name in &q.projects {
        match projects.iter().find(|p| &p.name == name) {
            Some(p) => project_ids.push(p.id),
            None => return Err(bad("projectId", format!("no project named {name:?}"))),
        }
    }
    Ok(Resolved {
        tz,
        filter: RollupFilter {
            start_bucket,
            end_bucket,
            project_ids,
            model_ids,
            status: q.status,
        },
        label,
    })
}

/// The summary cards' numbers for a query.
pub async fn summary(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<UsageSummary, QueryError> {
    let r = resolve(store, q, now_ms).await?;
    let t = store.rollup_totals(&r.filter).await?;
    let ratio = |num: i64, den: i64| (den > 0).then(|| num as f64 / den as f64);
    let errors = store
        .rollup_totals(&RollupFilter {
            status: Some(shared::EventStatus::Error),
            ..r.filter.clone()
        })
        .await?
        .requests;
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
        average_response_time_ms: ratio(t.latency_sum_ms, t.latency_count),
        p50_ms: percentile(&t.hist, 0.50),
        p95_ms: percentile(&t.hist, 0.95),
        p99_ms: percentile(&t.hist, 0.99),
        success_rate: ratio(t.requests - errors, t.requests).map(|r| r * 100.0),
        period: r.label,
        previous: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
