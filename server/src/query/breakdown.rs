//! The Breakdown panel (issue 30): a dimension's top values by cost over the range, each with
//! exact numbers, the rest summed as "(other)", and the top five's cost per local day.
//!
//! Read from the raw events the query selects (docs/dimensions.md says why and what it
//! costs): so every number is exact in any zone, the listed values are the true top values,
//! and the listed rows plus "(other)" equal the whole range's totals by construction.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use shared::{
    Breakdown, BreakdownDay, BreakdownRow, DimFilter, Dimension, UsageQuery, VALUE_OTHER,
};

use super::{bad, resolve, QueryError, Resolved};
use crate::rollup::{bucket_of, latency_bin, offset_at, percentile, HIST_BINS};
use crate::store::{EventSink, ScannedEvent, Store};

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

/// Sums per value of one dimension.
struct ValueSink {
    by: Dimension,
    values: HashMap<String, Acc>,
}

impl EventSink for ValueSink {
    fn add(&mut self, e: &ScannedEvent<'_>) {
        let value = e.dims.value(&self.by);
        let acc = match self.values.get_mut(value.as_ref()) {
            Some(acc) => acc,
            None => self.values.entry(value.into_owned()).or_default(),
        };
        let f = &e.facts;
        acc.requests += 1;
        acc.errors += i64::from(f.failed);
        acc.cost_nanos = acc.cost_nanos.saturating_add(f.cost.nanos);
        acc.input_tokens += f.input_tokens;
        acc.output_tokens += f.output_tokens;
        acc.cached_input_tokens += f.cached_input_tokens;
        if let Some(ms) = f.latency_ms {
            acc.latency_count += 1;
            acc.latency_sum_ms += ms;
            acc.add_bin(latency_bin(ms) as u8, 1);
        }
    }
}

/// Cost and requests per (listed value, local day) of a few values.
struct DailySink {
    by: Dimension,
    values: Vec<String>,
    offsets: Vec<(i64, i64)>,
    days: BTreeMap<(usize, i64), (i64, i64)>,
}

impl EventSink for DailySink {
    fn add(&mut self, e: &ScannedEvent<'_>) {
        let value = e.dims.value(&self.by);
        let Some(i) = self.values.iter().position(|v| *v == value) else {
            return;
        };
        let bucket = bucket_of(e.ts_ms);
        let day = (bucket + offset_at(&self.offsets, bucket)).div_euclid(86_400);
        let cell = self.days.entry((i, day)).or_default();
        cell.0 = cell.0.saturating_add(e.facts.cost.nanos);
        cell.1 += 1;
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
    by: &Dimension,
    limit: usize,
    now_ms: i64,
) -> Result<Breakdown, QueryError> {
    check_declared(store, "by", std::iter::once(by)).await?;
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad("limit", format!("must be 1 to {MAX_LIMIT}")));
    }
    let r = resolve(store, q, now_ms).await?;
    breakdown_of(store, &r, by, limit).await
}

async fn breakdown_of(
    store: &Store,
    r: &Resolved,
    by: &Dimension,
    limit: usize,
) -> Result<Breakdown, QueryError> {
    let metadata = matches!(by, Dimension::Meta(_));
    let sink = ValueSink {
        by: by.clone(),
        values: HashMap::new(),
    };
    let sink = store.scan_events(&r.filter, metadata, sink).await?;
    let mut values: Vec<(String, Acc)> = sink.values.into_iter().collect();
    values.sort_by(|(va, a), (vb, b)| {
        (b.cost_nanos.cmp(&a.cost_nanos))
            .then(b.requests.cmp(&a.requests))
            .then(va.cmp(vb))
    });
    let mut total = Acc::default();
    for (_, acc) in &values {
        total.add(acc);
    }
    let mut other = Acc::default();
    for (_, acc) in values.iter().skip(limit) {
        other.add(acc);
    }
    let listed: Vec<&(String, Acc)> = values.iter().take(limit).collect();
    let rows = (listed.iter())
        .map(|(v, acc)| acc.row(v, total.cost_nanos))
        .collect();

    // The chart: every local day of the range, for each of the first values.
    let chart: Vec<String> = (listed.iter().take(CHART_VALUES))
        .map(|(v, _)| v.clone())
        .collect();
    let mut daily = Vec::new();
    if !chart.is_empty() {
        let f = &r.filter;
        let sink = DailySink {
            by: by.clone(),
            values: chart.clone(),
            offsets: f.offsets.clone(),
            days: BTreeMap::new(),
        };
        // Narrowed to the chart's values where one SQL condition can (a single value).
        let narrowed = match chart.as_slice() {
            [only] => {
                let mut f = f.clone();
                f.dims.push(DimFilter {
                    dim: by.clone(),
                    value: only.clone(),
                });
                f
            }
            _ => f.clone(),
        };
        let sink = store.scan_events(&narrowed, metadata, sink).await?;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
        let day_of = |t: i64| (t + offset_at(&f.offsets, t)).div_euclid(86_400);
        let (first, last) = (
            day_of(f.start_bucket),
            day_of(f.end_bucket - crate::rollup::BUCKET_SECONDS),
        );
        for (i, value) in chart.iter().enumerate() {
            for day in first..=last {
                let (cost_nanos, requests) = sink.days.get(&(i, day)).copied().unwrap_or((0, 0));
                daily.push(BreakdownDay {
                    date: (epoch + Duration::days(day)).format("%Y-%m-%d").to_string(),
                    value: value.clone(),
                    cost_nanos,
                    requests,
                });
            }
        }
    }
    Ok(Breakdown {
        by: by.param(),
        rows,
        other: other.row(VALUE_OTHER, total.cost_nanos),
        total: total.row("(total)", total.cost_nanos),
        distinct_values: values.len() as i64,
        top_exact: true,
        daily,
    })
}
