//! Month-end spend forecast, overall and per project, from the daily spend of the last eight
//! weeks in the viewer's time zone.
//!
//! The model is multiplicative: day spend = trend(day) x weekday factor x noise.
//! 1. A straight line is fitted to the history (least squares; flat below two weeks).
//! 2. Each weekday's factor is the mean of its days' spend over the line, normalised to
//!    average 1 (all 1 below two weeks: one day per weekday would fit its noise exactly).
//! 3. The line is fitted again to the spend divided by the factors, and the spread of the
//!    residuals (in that deseasonalised unit) gives the noise.
//!
//! The rest of the month is the line times the factors: the remaining share of today, then
//! each full day. The 80 % interval adds the day-to-day noise of those days to the
//! uncertainty of the fitted level and slope (normal approximation, z = 1.2816); the low end
//! never goes below what was already spent.

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use shared::{DateRange, ForecastView, SpendForecast, UsageQuery};

use crate::query::{self, local_midnight, QueryError};
use crate::Store;

/// Complete days of history the forecast learns from.
pub const HISTORY_DAYS: i64 = 56;
/// Projects forecast one by one (the largest by spend in the history and this month).
pub const TOP_PROJECTS: usize = 10;
/// The two-sided 80 % quantile of the normal distribution.
const Z80: f64 = 1.281_551_6;

/// A fitted model: `level + slope x t` (t = days since the first history day) times the
/// weekday factor (Monday first); `sigma` is the residual spread of the deseasonalised spend.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub level: f64,
    pub slope: f64,
    pub factors: [f64; 7],
    pub sigma: f64,
    n: f64,
    /// History days per weekday (each factor's sample size).
    counts: [f64; 7],
    t_mean: f64,
    sxx: f64,
    first: NaiveDate,
}

/// Least squares line through `(t, y)`: (intercept, slope, mean t, sum of squares of t).
fn line(points: &[(f64, f64)], with_slope: bool) -> (f64, f64, f64, f64) {
    let n = points.len() as f64;
    let t_mean = points.iter().map(|p| p.0).sum::<f64>() / n;
    let y_mean = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - t_mean).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - t_mean) * (p.1 - y_mean)).sum();
    let slope = if with_slope && sxx > 0.0 {
        sxy / sxx
    } else {
        0.0
    };
    (y_mean - slope * t_mean, slope, t_mean, sxx)
}

fn weekday(d: NaiveDate) -> usize {
    d.weekday().num_days_from_monday() as usize
}

/// Fits the model to consecutive days of spend (nano-USD), oldest first; `None` without any.
pub fn fit(first: NaiveDate, days: &[i64]) -> Option<Model> {
    if days.is_empty() {
        return None;
    }
    // Below two weeks: a flat line, and no weekday pattern.
    let with_slope = days.len() >= 14;
    let with_factors = days.len() >= 14;
    let raw: Vec<(f64, f64)> = days
        .iter()
        .enumerate()
        .map(|(t, &y)| (t as f64, y as f64))
        .collect();
    let day_of = |t: f64| weekday(first + Duration::days(t as i64));
    let mut counts = [0.0; 7];
    for &(t, _) in &raw {
        counts[day_of(t)] += 1.0;
    }
    // Alternate between the line and the weekday factors until they settle.
    let mut factors = [1.0; 7];
    let mut fitted = line(&raw, with_slope);
    let mut adjusted = raw.clone();
    for _ in 0..(if with_factors { 8 } else { 0 }) {
        let (a, b, _, _) = fitted;
        let mut sums = [(0.0, 0); 7];
        for &(t, y) in &raw {
            let trend = a + b * t;
            if trend > 0.0 {
                sums[day_of(t)].0 += y / trend;
                sums[day_of(t)].1 += 1;
            }
        }
        let seen: Vec<f64> = sums
            .iter()
            .filter(|s| s.1 > 0)
            .map(|s| s.0 / s.1 as f64)
            .collect();
        let mean = seen.iter().sum::<f64>() / seen.len().max(1) as f64;
        if mean <= 0.0 {
            break;
        }
        for (f, s) in factors.iter_mut().zip(sums) {
            *f = if s.1 > 0 {
                s.0 / s.1 as f64 / mean
            } else {
                1.0
            };
        }
        adjusted = raw
            .iter()
            .filter(|&&(t, _)| factors[day_of(t)] > 0.0)
            .map(|&(t, y)| (t, y / factors[day_of(t)]))
            .collect();
        if adjusted.is_empty() {
            return None;
        }
        fitted = line(&adjusted, with_slope);
    }
    let (level, slope, t_mean, sxx) = fitted;
    // Degrees of freedom: the line's one or two parameters and six free weekday factors.
    let fitted_params = if with_slope { 2.0 } else { 1.0 } + if with_factors { 6.0 } else { 0.0 };
    let dof = adjusted.len() as f64 - fitted_params;
    let sse: f64 = adjusted
        .iter()
        .map(|&(t, y)| (y - level - slope * t).powi(2))
        .sum();
    Some(Model {
        level,
        slope,
        factors,
        sigma: if dof > 0.0 { (sse / dof).sqrt() } else { 0.0 },
        n: adjusted.len() as f64,
        counts,
        t_mean,
        sxx,
        first,
    })
}

impl Model {
    /// Expected spend of a whole day.
    pub fn day(&self, d: NaiveDate) -> f64 {
        let t = (d - self.first).num_days() as f64;
        ((self.level + self.slope * t) * self.factors[weekday(d)]).max(0.0)
    }

    /// Expected spend and 80 % interval of `share` of each day `(day, share)`.
    pub fn sum(&self, days: &[(NaiveDate, f64)]) -> (f64, f64) {
        let mut expected = 0.0;
        let (mut noise, mut level, mut slope) = (0.0, 0.0, 0.0);
        let mut by_weekday = [0.0; 7];
        for &(d, share) in days {
            let f = self.factors[weekday(d)];
            let t = (d - self.first).num_days() as f64;
            expected += self.day(d) * share;
            by_weekday[weekday(d)] += self.day(d) * share;
            noise += share * (f * self.sigma).powi(2);
            level += share * f;
            slope += share * f * (t - self.t_mean);
        }
        let s2 = self.sigma.powi(2);
        let mut var = noise + s2 * level.powi(2) / self.n;
        if self.sxx > 0.0 && self.slope != 0.0 {
            var += s2 * slope.powi(2) / self.sxx;
        }
        // Each weekday factor is a mean of that weekday's days: its relative error is the
        // relative noise over the square root of their number.
        let mid = self.level + self.slope * self.t_mean;
        if mid > 0.0 {
            let rel2 = s2 / mid.powi(2);
            for (e, n) in by_weekday.iter().zip(self.counts) {
                if n > 1.0 {
                    var += e.powi(2) * rel2 / n;
                }
            }
        }
        (expected, Z80 * var.sqrt())
    }
}

/// The forecast for one scope from its daily spend: `history` are the complete days before
/// `today` (oldest first, the first on `first`), `today_so_far` what today has spent, `elapsed`
/// the share of today gone, `next_month` the first day of the next month.
pub fn month_end(
    first: NaiveDate,
    history: &[i64],
    month_before_today: i64,
    today: NaiveDate,
    today_so_far: i64,
    elapsed: f64,
    next_month: NaiveDate,
) -> (i64, i64, i64, i64) {
    let spent = month_before_today + today_so_far;
    let Some(model) = fit(first, history) else {
        return (spent, spent, spent, spent);
    };
    let mut rest = vec![(today, (1.0 - elapsed).clamp(0.0, 1.0))];
    let mut d = today + Duration::days(1);
    while d < next_month {
        rest.push((d, 1.0));
        d += Duration::days(1);
    }
    let (more, half) = model.sum(&rest);
    let expected = spent as f64 + more;
    let low = (expected - half).max(spent as f64);
    (
        spent,
        expected.round() as i64,
        low.round() as i64,
        (expected + half).round() as i64,
    )
}

/// The forecast for `q`'s projects, models and zone (its date range is not used: the forecast
/// is always of the current month) at `now_ms`.
pub async fn forecast(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<ForecastView, QueryError> {
    // Validates the zone and the names as every query does.
    let tz: Tz = query::resolve_range(q, now_ms)?.tz;
    let today = tz
        .timestamp_millis_opt(now_ms)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let month_first = today.with_day(1).unwrap_or(today);
    let next_month = (month_first + Duration::days(32))
        .with_day(1)
        .unwrap_or(today);
    let first = today - Duration::days(HISTORY_DAYS);
    let start = first.min(month_first);
    let day_start = local_midnight(tz, today);
    let day_end = local_midnight(tz, today + Duration::days(1));
    let elapsed = (now_ms as f64 / 1000.0 - day_start as f64) / (day_end - day_start) as f64;
    let window = UsageQuery {
        range: DateRange::Custom {
            start: start.format("%Y-%m-%d").to_string(),
            end: today.format("%Y-%m-%d").to_string(),
        },
        ..q.clone()
    };

    let scope = |project: Option<String>, days: Vec<shared::DailyUsage>| {
        let spend = |from: NaiveDate, to: NaiveDate| -> Vec<i64> {
            let mut out = Vec::new();
            let mut d = from;
            while d < to {
                let key = d.format("%Y-%m-%d").to_string();
                out.push(
                    days.iter()
                        .find(|x| x.date == key)
                        .map_or(0, |x| x.cost_nanos),
                );
                d += Duration::days(1);
            }
            out
        };
        // The model learns from the first day with spend on: zeros before a project began
        // would read as a steep trend.
        let all = spend(first, today);
        let skipped = all.iter().take_while(|&&s| s == 0).count();
        let history = &all[skipped..];
        let month_before_today: i64 = spend(month_first, today).iter().sum();
        let today_so_far = spend(today, today + Duration::days(1))[0];
        let (spent, expected, low, high) = month_end(
            first + Duration::days(skipped as i64),
            history,
            month_before_today,
            today,
            today_so_far,
            elapsed,
            next_month,
        );
        SpendForecast {
            project,
            spent_nanos: spent,
            expected_nanos: expected,
            low_nanos: low,
            high_nanos: high,
            history_days: history.len() as i64,
        }
    };

    let overall = scope(None, query::daily(store, &window, now_ms).await?);
    let mut projects = query::projects(store, &window, now_ms).await?;
    projects.retain(|p| p.stats.cost_nanos > 0);
    projects.sort_by_key(|p| std::cmp::Reverse(p.stats.cost_nanos));
    projects.truncate(TOP_PROJECTS);
    let queries: Vec<UsageQuery> = projects
        .iter()
        .map(|p| UsageQuery {
            projects: vec![p.project.clone()],
            ..window.clone()
        })
        .collect();
    let days =
        futures::future::try_join_all(queries.iter().map(|q| query::daily(store, q, now_ms)))
            .await?;
    let per_project = projects
        .into_iter()
        .zip(days)
        .map(|(p, d)| scope(Some(p.project), d))
        .collect();
    Ok(ForecastView {
        tz: tz.name().to_string(),
        month: month_first.format("%Y-%m").to_string(),
        month_start: local_midnight(tz, month_first),
        month_end: local_midnight(tz, next_month),
        overall,
        projects: per_project,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const WEEK: [f64; 7] = [1.2, 1.25, 1.15, 1.1, 1.0, 0.6, 0.7];

    /// Spend of day `t` (days since `first`): $100 + $1.5 a day, times the weekday's factor,
    /// times `1 + noise` with noise normal(0, `sd`).
    fn generated(first: NaiveDate, t: i64, sd: f64, rng: &mut rand::rngs::StdRng) -> f64 {
        let trend = 100e9 + 1.5e9 * t as f64;
        let d = first + Duration::days(t);
        // Box-Muller.
        let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (trend * WEEK[weekday(d)] * (1.0 + sd * z)).max(0.0)
    }

    /// Forecast at noon of `today` from generated days; answers (truth, expected, low, high).
    fn back_test(today: NaiveDate, sd: f64, seed: u64) -> (i64, i64, i64, i64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let first = today - Duration::days(HISTORY_DAYS);
        let month_first = today.with_day(1).unwrap();
        let next_month = (month_first + Duration::days(32)).with_day(1).unwrap();
        let all: Vec<i64> = (0..(next_month - first).num_days())
            .map(|t| generated(first, t, sd, &mut rng).round() as i64)
            .collect();
        let at = |d: NaiveDate| (d - first).num_days() as usize;
        let history = &all[..at(today)];
        let before: i64 = all[at(month_first)..at(today)].iter().sum();
        // Half of today has passed and spent half of its day.
        let today_half = all[at(today)] / 2;
        let truth: i64 = all[at(month_first)..].iter().sum();
        let (_, expected, low, high) =
            month_end(first, history, before, today, today_half, 0.5, next_month);
        (truth, expected, low, high)
    }

    #[test]
    fn without_noise_the_forecast_is_the_generating_trend_exactly() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 11).unwrap();
        let (truth, expected, low, high) = back_test(today, 0.0, 1);
        let err = (expected - truth).abs() as f64 / truth as f64;
        assert!(err < 1e-6, "expected {expected}, truth {truth}");
        assert!(
            high - low < truth / 1_000_000,
            "no noise, no spread: {low}..{high}"
        );
    }

    #[test]
    fn the_80_percent_interval_holds_the_month_end_about_80_percent_of_the_time() {
        let (mut inside, mut rel_err) = (0, 0.0);
        let trials = 400;
        for seed in 0..trials {
            // Forecasts from the 3rd to the 27th of months across a year.
            let month = 1 + (seed % 12) as u32;
            let day = 3 + (seed * 7 % 25) as u32;
            let today = NaiveDate::from_ymd_opt(2026, month, day).unwrap();
            let (truth, expected, low, high) = back_test(today, 0.15, seed);
            assert!(low <= expected && expected <= high);
            if low <= truth && truth <= high {
                inside += 1;
            }
            rel_err += (expected - truth) as f64 / truth as f64;
        }
        let coverage = inside as f64 / trials as f64;
        assert!(
            (0.72..=0.90).contains(&coverage),
            "coverage {coverage} of the 80 % interval"
        );
        let bias = rel_err / trials as f64;
        assert!(bias.abs() < 0.01, "mean relative error {bias}");
    }

    #[test]
    fn short_histories_use_a_flat_line_and_no_history_forecasts_what_was_spent() {
        let first = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let m = fit(first, &[10, 20, 30]).unwrap();
        assert_eq!((m.level, m.slope, m.factors), (20.0, 0.0, [1.0; 7]));
        let today = NaiveDate::from_ymd_opt(2026, 3, 4).unwrap();
        let next = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        assert_eq!(month_end(today, &[], 0, today, 7, 0.5, next), (7, 7, 7, 7));
    }
}
