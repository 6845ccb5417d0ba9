//! The Breakdown panel (issue 30): a dimension's (or the model's, or the project's) top values
//! by cost over the range, each with exact numbers, the rest summed as "(other)", and per
//! local day the top five and the rest (the Breakdown panel's charts, the Daily panel's
//! stacked chart).
//!
//! A dimension is read from the raw events the query selects (docs/dimensions.md says why and
//! what it costs); the model and project from the roll-ups, which are keyed by them. Either
//! way every number is exact in any zone, the listed values are the true top values, and the
//! listed rows plus "(other)" equal the whole range's totals by construction.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use shared::{
    Breakdown, BreakdownBy, BreakdownDay, BreakdownRow, DimFilter, Dimension, UsageQuery,
    VALUE_NOT_RECORDED, VALUE_OTHER,
};

use super::{bad, resolve, QueryError, Resolved};
use crate::rollup::{
    bucket_of, latency_bin, offset_at, percentile, EventFacts, RollupDelta, HIST_BINS,
};
use crate::store::{EventSink, Group, GroupKey, RollupFilter, ScannedEvent, Store, Sums};

/// Rows listed when the caller does not say.
pub const DEFAULT_LIMIT: usize = 20;
/// Most rows a breakdown lists.
pub const MAX_LIMIT: usize = 1_000;
/// Values the daily chart follows.
const CHART_VALUES: usize = 5;

/// One value's sums while events are read. The latency histogram is kept sparse: most values
/// of a large dimension (end users) have a handful of requests.
#[derive(Clone, Debug, Default)]
struct Acc {
    requests: i64,
    errors: i64,
    cost_nanos: i64,
    input_tokens: i64,
    output_tokens: i64,
    cached_input_tokens: i64,
    latency_count: i64,
    latency_sum_ms: i64,
    /// (bin, count), by bin.
    hist: Vec<(u8, i64)>,
}

impl Acc {
    /// A roll-up group's sums (read with the histogram).
    fn from_sums(d: &RollupDelta) -> Acc {
        Acc {
            requests: d.requests,
            errors: d.errors,
            cost_nanos: d.cost_nanos,
            input_tokens: d.input_tokens,
            output_tokens: d.output_tokens,
            cached_input_tokens: d.cached_input_tokens,
            latency_count: d.latency_count,
            latency_sum_ms: d.latency_sum_ms,
            hist: (d.hist.iter().enumerate())
                .filter(|(_, n)| **n != 0)
                .map(|(bin, n)| (bin as u8, *n))
                .collect(),
        }
    }

    fn add_event(&mut self, f: &EventFacts) {
        self.requests += 1;
        self.errors += i64::from(f.failed);
        self.cost_nanos = self.cost_nanos.saturating_add(f.cost.nanos);
        self.input_tokens += f.input_tokens;
        self.output_tokens += f.output_tokens;
        self.cached_input_tokens += f.cached_input_tokens;
        if let Some(ms) = f.latency_ms {
            self.latency_count += 1;
            self.latency_sum_ms += ms;
            self.add_bin(latency_bin(ms) as u8, 1);
        }
    }

    /// What `self` holds beyond `part` (a day's roll-up beyond its raw events kept).
    fn minus(&self, part: &Acc) -> Acc {
        let mut hist = [0i64; HIST_BINS];
        for &(bin, n) in &self.hist {
            hist[bin as usize] += n;
        }
        for &(bin, n) in &part.hist {
            hist[bin as usize] -= n;
        }
        Acc {
            requests: self.requests - part.requests,
            errors: self.errors - part.errors,
            cost_nanos: self.cost_nanos.saturating_sub(part.cost_nanos),
            input_tokens: self.input_tokens - part.input_tokens,
            output_tokens: self.output_tokens - part.output_tokens,
            cached_input_tokens: self.cached_input_tokens - part.cached_input_tokens,
            latency_count: self.latency_count - part.latency_count,
            latency_sum_ms: self.latency_sum_ms - part.latency_sum_ms,
            hist: (hist.iter().enumerate())
                .filter(|(_, n)| **n > 0)
                .map(|(bin, n)| (bin as u8, *n))
                .collect(),
        }
    }

    fn add_bin(&mut self, bin: u8, n: i64) {
        match self.hist.binary_search_by_key(&bin, |(b, _)| *b) {
            Ok(i) => self.hist[i].1 += n,
            Err(i) => self.hist.insert(i, (bin, n)),
        }
    }

    fn add(&mut self, o: &Acc) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.cost_nanos = self.cost_nanos.saturating_add(o.cost_nanos);
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cached_input_tokens += o.cached_input_tokens;
        self.latency_count += o.latency_count;
        self.latency_sum_ms += o.latency_sum_ms;
        for &(bin, n) in &o.hist {
            self.add_bin(bin, n);
        }
    }

    fn row(&self, value: &str, total_cost: i64) -> BreakdownRow {
        let mut hist = [0i64; HIST_BINS];
        for &(bin, n) in &self.hist {
            hist[bin as usize] += n;
        }
        let pct = |part: i64, whole: i64| {
            if whole > 0 {
                part as f64 * 100.0 / whole as f64
            } else {
                0.0
            }
        };
        BreakdownRow {
            value: value.to_string(),
            requests: self.requests,
            cost_nanos: self.cost_nanos,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cached_input_tokens: self.cached_input_tokens,
            errors: self.errors,
            error_rate: pct(self.errors, self.requests),
            avg_latency_ms: (self.latency_count > 0)
                .then(|| self.latency_sum_ms as f64 / self.latency_count as f64),
            p95_latency_ms: percentile(&hist, 0.95),
            cost_share: pct(self.cost_nanos, total_cost),
        }
    }
}

/// Sums per value of one dimension, and per local day up to `days_until` (the days whose
/// raw events retention may have deleted: compared with the roll-ups afterwards).
struct ValueSink {
    by: Dimension,
    values: HashMap<String, Acc>,
    offsets: Vec<(i64, i64)>,
    days_until: Option<i64>,
    days: BTreeMap<i64, Acc>,
}

impl EventSink for ValueSink {
    fn add(&mut self, e: &ScannedEvent<'_>) {
        let value = e.dims.value(&self.by);
        let acc = match self.values.get_mut(value.as_ref()) {
            Some(acc) => acc,
            None => self.values.entry(value.into_owned()).or_default(),
        };
        acc.add_event(&e.facts);
        if let Some(until) = self.days_until {
            let day = local_day(&self.offsets, bucket_of(e.ts_ms));
            if day <= until {
                self.days.entry(day).or_default().add_event(&e.facts);
            }
        }
    }
}

/// Days since 1970-01-01 of the local date holding `bucket` (unix seconds).
fn local_day(offsets: &[(i64, i64)], bucket: i64) -> i64 {
    (bucket + offset_at(offsets, bucket)).div_euclid(86_400)
}

/// One charted value's (or "(other)"'s) sums on one local day.
#[derive(Clone, Copy, Debug, Default)]
struct DayCell {
    cost_nanos: i64,
    requests: i64,
    tokens: i64,
}

impl DayCell {
    fn add(&mut self, cost_nanos: i64, requests: i64, tokens: i64) {
        self.cost_nanos = self.cost_nanos.saturating_add(cost_nanos);
        self.requests += requests;
        self.tokens += tokens;
    }
}

/// Per (charted value, local day) sums; the index `values.len()` is every other value.
type DayCells = BTreeMap<(usize, i64), DayCell>;

/// Sums per (charted value or "(other)", local day).
struct DailySink {
    by: Dimension,
    values: Vec<String>,
    offsets: Vec<(i64, i64)>,
    days: DayCells,
}

impl EventSink for DailySink {
    fn add(&mut self, e: &ScannedEvent<'_>) {
        let value = e.dims.value(&self.by);
        let i = (self.values.iter().position(|v| *v == value)).unwrap_or(self.values.len());
        let day = local_day(&self.offsets, bucket_of(e.ts_ms));
        let f = &e.facts;
        (self.days.entry((i, day)).or_default()).add(
            f.cost.nanos,
            1,
            f.input_tokens + f.output_tokens,
        );
    }
}

/// Checks that every metadata key among `dims` is declared (built-in dimensions always are);
/// `param` names the parameter they came in.
pub async fn check_declared<'a>(
    store: &Store,
    param: &'static str,
    dims: impl Iterator<Item = &'a Dimension>,
) -> Result<(), QueryError> {
    let declared = store.declared_dimensions().await?;
    for dim in dims {
        if let Dimension::Meta(key) = dim {
            if !declared.iter().any(|d| &d.key == key) {
                return Err(bad(
                    param,
                    format!(
                        "meta.{key} is not a declared dimension (an admin declares it: dimensions add {key})"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The breakdown of the query's events by `by`: at most `limit` values.
pub async fn breakdown(
    store: &Store,
    q: &UsageQuery,
    by: &BreakdownBy,
    limit: usize,
    now_ms: i64,
) -> Result<Breakdown, QueryError> {
    if let BreakdownBy::Dim(dim) = by {
        check_declared(store, "by", std::iter::once(dim)).await?;
    }
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad("limit", format!("must be 1 to {MAX_LIMIT}")));
    }
    let r = resolve(store, q, now_ms).await?;
    match by {
        BreakdownBy::Dim(dim) => by_events(store, &r, dim, limit).await,
        BreakdownBy::Model => by_rollups(store, &r, Group::Model, limit).await,
        BreakdownBy::Project => by_rollups(store, &r, Group::Project, limit).await,
    }
}

/// A dimension's breakdown, from the raw events.
async fn by_events(
    store: &Store,
    r: &Resolved,
    by: &Dimension,
    limit: usize,
) -> Result<Breakdown, QueryError> {
    let metadata = matches!(by, Dimension::Meta(_));
    let f = &r.filter;
    // Raw events before the retention mark may be gone; the roll-ups of those days are kept.
    // Without a dimension filter the difference is known: "(not recorded)", per local day.
    let raw_events_from_ms =
        (store.raw_deleted_before().await?).filter(|from| f.start_bucket * 1000 < *from);
    let days_until = raw_events_from_ms
        .filter(|_| f.dims.is_empty())
        .map(|from| local_day(&f.offsets, bucket_of(from - 1)));
    let sink = ValueSink {
        by: by.clone(),
        values: HashMap::new(),
        offsets: f.offsets.clone(),
        days_until,
        days: BTreeMap::new(),
    };
    let ValueSink {
        values: mut per_value,
        days: raw_days,
        ..
    } = store.scan_events(f, metadata, sink).await?;
    let mut not_recorded = BTreeMap::new();
    if let Some(until) = days_until {
        for g in store
            .rollup_grouped(f, Group::LocalDay, Sums::AllWithHist)
            .await?
        {
            match g.key {
                GroupKey::LocalDay(day) if day <= until => {
                    let kept = raw_days.get(&day).cloned().unwrap_or_default();
                    let gone = Acc::from_sums(&g.sums).minus(&kept);
                    if gone.requests > 0 {
                        not_recorded.insert(day, gone);
                    }
                }
                _ => {}
            }
        }
        for gone in not_recorded.values() {
            (per_value.entry(VALUE_NOT_RECORDED.to_string()).or_default()).add(gone);
        }
    }
    let values = ranked(per_value);
    let chart = charted(&values);
    let mut days = DayCells::new();
    if !chart.is_empty() {
        // Narrowed by SQL when the range holds one value only (no "(other)" to count).
        let narrowed = match values.as_slice() {
            [(only, _)] if not_recorded.is_empty() => {
                let mut f = f.clone();
                f.dims.push(DimFilter {
                    dim: by.clone(),
                    value: only.clone(),
                });
                f
            }
            _ => f.clone(),
        };
        let sink = DailySink {
            by: by.clone(),
            values: chart.clone(),
            offsets: f.offsets.clone(),
            days,
        };
        days = store.scan_events(&narrowed, metadata, sink).await?.days;
    }
    let i = (chart.iter().position(|v| v == VALUE_NOT_RECORDED)).unwrap_or(chart.len());
    for (day, gone) in &not_recorded {
        (days.entry((i, *day)).or_default()).add(
            gone.cost_nanos,
            gone.requests,
            gone.input_tokens + gone.output_tokens,
        );
    }
    Ok(Breakdown {
        raw_events_from_ms,
        ..assemble(
            by.param(),
            &values,
            limit,
            daily_rows(f, &chart, &days, values.len() > chart.len()),
        )
    })
}

/// The model's or the project's breakdown (`group` is [`Group::Model`] or
/// [`Group::Project`]), from the roll-ups.
async fn by_rollups(
    store: &Store,
    r: &Resolved,
    group: Group,
    limit: usize,
) -> Result<Breakdown, QueryError> {
    let (names, per_day, by): (HashMap<i64, String>, Group, BreakdownBy) = match group {
        Group::Model => (
            store.list_models().await?.into_iter().collect(),
            Group::ModelLocalDay,
            BreakdownBy::Model,
        ),
        _ => (
            (store.list_projects().await?.into_iter())
                .map(|p| (p.id, p.name))
                .collect(),
            Group::ProjectLocalDay,
            BreakdownBy::Project,
        ),
    };
    let mut values = HashMap::new();
    let mut ids = HashMap::new();
    for g in store
        .rollup_grouped(&r.filter, group, Sums::AllWithHist)
        .await?
    {
        if let GroupKey::Model(id) | GroupKey::Project(id) = g.key {
            if g.sums.requests != 0 {
                let name = names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
                ids.insert(name.clone(), id);
                values.insert(name, Acc::from_sums(&g.sums));
            }
        }
    }
    let values = ranked(values);
    let chart = charted(&values);
    let chart_ids: Vec<i64> = chart.iter().map(|name| ids[name]).collect();
    let mut days = DayCells::new();
    if !chart.is_empty() {
        for g in store
            .rollup_grouped(&r.filter, per_day, Sums::Traffic)
            .await?
        {
            if let GroupKey::ModelLocalDay(id, day) | GroupKey::ProjectLocalDay(id, day) = g.key {
                let i = (chart_ids.iter().position(|c| *c == id)).unwrap_or(chart.len());
                let s = &g.sums;
                (days.entry((i, day)).or_default()).add(
                    s.cost_nanos,
                    s.requests,
                    s.input_tokens + s.output_tokens,
                );
            }
        }
    }
    Ok(assemble(
        by.param(),
        &values,
        limit,
        daily_rows(&r.filter, &chart, &days, values.len() > chart.len()),
    ))
}

/// Values as the panel lists them: by cost, then requests, then value.
fn ranked(values: HashMap<String, Acc>) -> Vec<(String, Acc)> {
    let mut values: Vec<(String, Acc)> = values.into_iter().collect();
    values.sort_by(|(va, a), (vb, b)| {
        (b.cost_nanos.cmp(&a.cost_nanos))
            .then(b.requests.cmp(&a.requests))
            .then(va.cmp(vb))
    });
    values
}

/// The values the daily chart follows: the first [`CHART_VALUES`].
fn charted(values: &[(String, Acc)]) -> Vec<String> {
    (values.iter().take(CHART_VALUES))
        .map(|(v, _)| v.clone())
        .collect()
}

/// The breakdown of ranked `values`: the first `limit` listed, the rest as "(other)".
fn assemble(
    by: String,
    values: &[(String, Acc)],
    limit: usize,
    daily: Vec<BreakdownDay>,
) -> Breakdown {
    let mut total = Acc::default();
    for (_, acc) in values {
        total.add(acc);
    }
    let mut other = Acc::default();
    for (_, acc) in values.iter().skip(limit) {
        other.add(acc);
    }
    Breakdown {
        by,
        rows: (values.iter().take(limit))
            .map(|(v, acc)| acc.row(v, total.cost_nanos))
            .collect(),
        other: other.row(VALUE_OTHER, total.cost_nanos),
        total: total.row("(total)", total.cost_nanos),
        distinct_values: values.len() as i64,
        top_exact: true,
        daily,
        raw_events_from_ms: None,
    }
}

/// Every local day of the filter's range for each charted value, then for "(other)" when
/// `with_other` (some values are not charted).
fn daily_rows(
    f: &RollupFilter,
    chart: &[String],
    days: &DayCells,
    with_other: bool,
) -> Vec<BreakdownDay> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let day_of = |t: i64| local_day(&f.offsets, t);
    let (first, last) = (
        day_of(f.start_bucket),
        day_of(f.end_bucket - crate::rollup::BUCKET_SECONDS),
    );
    let series = (chart.iter().map(String::as_str))
        .chain(with_other.then_some(VALUE_OTHER))
        .enumerate();
    let mut daily = Vec::new();
    for (i, value) in series {
        for day in first..=last {
            let cell = days.get(&(i, day)).copied().unwrap_or_default();
            daily.push(BreakdownDay {
                date: (epoch + Duration::days(day)).format("%Y-%m-%d").to_string(),
                value: value.to_string(),
                cost_nanos: cell.cost_nanos,
                requests: cell.requests,
                tokens: cell.tokens,
            });
        }
    }
    daily
}
