//! Budgets: spend limits per project or for the whole organisation, per calendar day, week
//! or month in an IANA time zone, with thresholds that each alert exactly once per period.
//!
//! After every stored batch, the periods its events fall in (by event time, so a late event
//! counts towards the period it happened in) are re-summed from the roll-ups, and every
//! threshold reached is recorded with `INSERT … ON CONFLICT DO NOTHING` on
//! (budget, period, threshold): whichever replica gets there first records it, the others
//! change nothing.

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use shared::{format_usd, BudgetAlertInfo, BudgetStatus, UsageEvent};

use crate::query::local_midnight;
use crate::rollup::BUCKET_SECONDS;
use crate::store::{BudgetRow, Principal, RollupFilter, Store, StoreError, Sums};

/// Thresholds used when none are given.
pub const DEFAULT_THRESHOLDS: [i64; 3] = [50, 80, 100];

/// Calendar lengths a budget may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetPeriod {
    Day,
    Week,
    Month,
}

impl BudgetPeriod {
    /// Parses `day`, `week` or `month`.
    pub fn parse(s: &str) -> Option<BudgetPeriod> {
        match s {
            "day" => Some(BudgetPeriod::Day),
            "week" => Some(BudgetPeriod::Week),
            "month" => Some(BudgetPeriod::Month),
            _ => None,
        }
    }

    /// The first local date of the period holding `date`, and of the next one.
    fn bounds(self, date: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            BudgetPeriod::Day => (date, date + Duration::days(1)),
            BudgetPeriod::Week => {
                let monday = date - Duration::days(date.weekday().num_days_from_monday() as i64);
                (monday, monday + Duration::days(7))
            }
            BudgetPeriod::Month => {
                let first = date.with_day(1).unwrap_or(date);
                let next = if first.month() == 12 {
                    NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
                };
                (first, next.unwrap_or(first + Duration::days(31)))
            }
        }
    }
}

/// The period `[start, end)` (unix seconds) of `period` in `tz` holding instant `ts_ms`.
pub fn period_of(period: BudgetPeriod, tz: Tz, ts_ms: i64) -> (i64, i64) {
    let local = tz
        .timestamp_millis_opt(ts_ms)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let (first, next) = period.bounds(local);
    (local_midnight(tz, first), local_midnight(tz, next))
}

/// Spend of a budget's scope in `[start, end)` (unix seconds), in nano-USD.
async fn spend(store: &Store, b: &BudgetRow, start: i64, end: i64) -> Result<i64, StoreError> {
    let filter = RollupFilter {
        start_bucket: start,
        end_bucket: end,
        project_ids: b.project_id.into_iter().collect(),
        dims: b.scope.iter().cloned().collect(),
        ..RollupFilter::default()
    };
    Ok(store
        .rollup_totals(&filter, Sums::RequestsCost)
        .await?
        .cost_nanos)
}

/// Whether `spend` reaches `threshold` percent of `amount` (exactly, in integers).
pub fn reaches(spend_nanos: i64, amount_nanos: i64, threshold: i64) -> bool {
    (spend_nanos as i128) * 100 >= (amount_nanos as i128) * (threshold as i128)
}

/// The webhook body announcing that budget `b` reached `threshold` % in the period from
/// `period_start` (unix seconds).
fn alert_body(b: &BudgetRow, period_start: i64, threshold: i64, spent: i64) -> String {
    let mut scope = b.project.as_deref().unwrap_or("organisation").to_string();
    if let Some(d) = &b.scope {
        scope = format!("{scope} {}", d.describe());
    }
    serde_json::json!({
        "type": "budget.threshold",
        "message": format!("{threshold} % of the {scope} budget reached ({} of {} per {})",
            format_usd(spent), format_usd(b.amount_nanos), b.period),
        "budgetId": b.id,
        "project": b.project,
        "scope": b.scope.as_ref().map(|d| d.describe()),
        "threshold": threshold,
        "period": b.period,
        "tz": b.tz,
        "periodStart": crate::alerting::webhooks::iso(period_start * 1000),
        "spendNanos": spent,
        "amountNanos": b.amount_nanos,
    })
    .to_string()
}

/// Checks the budgets without a dimension scope that a stored batch of `project_id` counts
/// towards; answers how many new alerts were recorded. Called after every ingest path
/// (HTTP, import, demo). Scoped budgets are checked by [`check_scoped`].
pub async fn after_ingest(
    store: &Store,
    project_id: i64,
    events: &[UsageEvent],
) -> Result<usize, StoreError> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut budgets = store.budgets_of_project(project_id).await?;
    budgets.retain(|b| b.scope.is_none());
    let times: Vec<i64> = events.iter().map(|e| e.timestamp_ms).collect();
    check(store, &budgets, &times).await
}

/// How often every replica checks the budgets scoped to a dimension value.
pub const SCOPED_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// How long after a period ends a scoped budget's check still reads it, for events that
/// arrive late.
const SCOPED_LATE_MS: i64 = 3_600_000;

/// Checks the budgets scoped to a dimension value (e.g. team=search) at `now_ms`: the period
/// holding it and, for late events, the one holding an hour earlier; answers how many new
/// alerts were recorded. Their spend is read from raw events (dimension roll-ups do not
/// exist yet, docs/dimensions.md), too slow to repeat after every batch, so a background job
/// runs this every [`SCOPED_CHECK_EVERY`]: an alert comes within that time of the batch
/// that crossed it, and the database still records it once however many replicas check.
pub async fn check_scoped(store: &Store, now_ms: i64) -> Result<usize, StoreError> {
    let mut budgets = store.list_budgets().await?;
    budgets.retain(|b| b.scope.is_some());
    check(store, &budgets, &[now_ms - SCOPED_LATE_MS, now_ms]).await
}

/// Checks every budget's current period (the one holding `now_ms`) after stored costs
/// changed (re-pricing); answers how many new alerts were recorded. Closed periods are not
/// checked: they never fire new alerts, and the alerts already recorded stay.
pub async fn after_repricing(store: &Store, now_ms: i64) -> Result<usize, StoreError> {
    let budgets = store.list_budgets().await?;
    check(store, &budgets, &[now_ms]).await
}

/// Checks budget `id`'s current period after an admin changed its amount or thresholds (a
/// lowered amount or a new threshold may be reached already); answers how many new alerts
/// were recorded.
pub async fn after_edit(store: &Store, id: i64, now_ms: i64) -> Result<usize, StoreError> {
    let budget = store.budget(id).await?;
    check(store, &[budget], &[now_ms]).await
}

/// Records the alerts of `budgets` whose thresholds the periods holding `times` reach.
async fn check(store: &Store, budgets: &[BudgetRow], times: &[i64]) -> Result<usize, StoreError> {
    let mut fired = 0;
    for b in budgets {
        let (Some(period), Ok(tz)) = (BudgetPeriod::parse(&b.period), b.tz.parse::<Tz>()) else {
            tracing::warn!(
                budget = b.id,
                "budget with an unknown period or zone skipped"
            );
            continue;
        };
        // The distinct periods the times fall in (usually one).
        let mut periods: Vec<(i64, i64)> =
            times.iter().map(|&ms| period_of(period, tz, ms)).collect();
        periods.sort_unstable();
        periods.dedup();
        for (start, end) in periods {
            let spent = spend(store, b, start, end).await?;
            for &t in &b.thresholds {
                if reaches(spent, b.amount_nanos, t)
                    && store
                        .record_budget_alert(b.id, start, t, spent, &alert_body(b, start, t, spent))
                        .await?
                {
                    tracing::info!(
                        budget = b.id,
                        threshold = t,
                        period_start = start,
                        "budget threshold crossed"
                    );
                    fired += 1;
                }
            }
        }
    }
    Ok(fired)
}

/// The current period's numbers of these budgets.
pub async fn statuses(
    store: &Store,
    budgets: Vec<BudgetRow>,
    now_ms: i64,
) -> Result<Vec<BudgetStatus>, StoreError> {
    let mut out = Vec::new();
    for b in budgets {
        let (Some(period), Ok(tz)) = (BudgetPeriod::parse(&b.period), b.tz.parse::<Tz>()) else {
            continue;
        };
        let (start, end) = period_of(period, tz, now_ms);
        // Roll-up buckets are whole quarter hours; the current one is included.
        let now_s = now_ms.div_euclid(1000);
        let upto = (now_s.div_euclid(BUCKET_SECONDS) + 1) * BUCKET_SECONDS;
        let spent = spend(store, &b, start, upto.min(end)).await?;
        let elapsed = (now_s - start).max(1);
        let length = end - start;
        let projected = ((spent as i128) * (length as i128) / (elapsed as i128)) as i64;
        let exceed_at = (spent > 0 && projected >= b.amount_nanos).then(|| {
            if spent >= b.amount_nanos {
                now_s
            } else {
                start + ((b.amount_nanos as i128) * (elapsed as i128) / (spent as i128)) as i64
            }
        });
        out.push(BudgetStatus {
            id: b.id,
            project: b.project,
            amount_nanos: b.amount_nanos,
            period: b.period,
            tz: b.tz,
            thresholds: b.thresholds,
            percent: spent as f64 * 100.0 / b.amount_nanos as f64,
            period_start: start,
            period_end: end,
            spend_nanos: spent,
            projected_nanos: projected,
            projected_exceed_at: exceed_at,
            scope: b.scope,
        });
    }
    Ok(out)
}

/// Whether `who` may see a budget: organisation budgets only for those who see everything.
pub fn may_see(who: &Principal, b: &BudgetRow) -> bool {
    match b.project_id {
        None => who.project_ids.is_none(),
        Some(p) => crate::access::may_see_project(who, p),
    }
}

/// The budgets `who` may see.
pub async fn visible(store: &Store, who: &Principal) -> Result<Vec<BudgetRow>, StoreError> {
    let mut rows = store.list_budgets().await?;
    rows.retain(|b| may_see(who, b));
    Ok(rows)
}

/// The newest `limit` crossings of these budgets, newest first.
pub async fn alerts(
    store: &Store,
    budgets: &[BudgetRow],
    limit: i64,
) -> Result<Vec<BudgetAlertInfo>, StoreError> {
    Ok(store
        .budget_alerts(limit)
        .await?
        .into_iter()
        .filter_map(|a| {
            let b = budgets.iter().find(|b| b.id == a.budget_id)?;
            Some(BudgetAlertInfo {
                budget_id: a.budget_id,
                project: b.project.clone(),
                threshold: a.threshold,
                period_start: a.period_start,
                spend_nanos: a.spend_nanos,
                fired_at_ms: a.fired_at_ms,
                scope: b.scope.clone(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn a_month_in_new_york_starts_at_local_midnight() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2025-03-01 03:00 UTC is still February 28 in New York.
        let (start, end) = period_of(BudgetPeriod::Month, ny, ms("2025-03-01T03:00:00Z"));
        assert_eq!(start * 1000, ms("2025-02-01T05:00:00Z"));
        assert_eq!(end * 1000, ms("2025-03-01T05:00:00Z"));
    }

    #[test]
    fn weeks_start_on_monday_and_december_rolls_into_january() {
        let utc: Tz = "UTC".parse().unwrap();
        // 2025-01-01 was a Wednesday.
        let (start, end) = period_of(BudgetPeriod::Week, utc, ms("2025-01-01T12:00:00Z"));
        assert_eq!(start * 1000, ms("2024-12-30T00:00:00Z"));
        assert_eq!(end - start, 7 * 86_400);
        let (start, end) = period_of(BudgetPeriod::Month, utc, ms("2024-12-31T23:59:59Z"));
        assert_eq!(start * 1000, ms("2024-12-01T00:00:00Z"));
        assert_eq!(end * 1000, ms("2025-01-01T00:00:00Z"));
    }

    #[test]
    fn a_threshold_is_reached_exactly_at_its_boundary() {
        // $10 budget: $8.00 is exactly 80 %; one nano-dollar less is not.
        assert!(reaches(8_000_000_000, 10_000_000_000, 80));
        assert!(!reaches(7_999_999_999, 10_000_000_000, 80));
        assert!(reaches(i64::MAX, i64::MAX, 100), "no overflow");
    }
}
