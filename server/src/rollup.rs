//! Roll-up arithmetic: buckets and levels, the latency histogram, and per-batch deltas.
//!
//! Kept free of SQL so the same code answers "which bucket, which bin, which rows" for ingest,
//! queries and tests.
//!
//! Every stored event adds to twelve roll-up rows: at each of three [`Level`]s (15 minutes,
//! UTC hour, UTC day), the row of its project x model and the rows where the project, the
//! model or both are [`ANY`]. These are the rows of every status ([`ALL_STATUSES`]); a failed
//! event adds to the twelve rows of its error type as well. A query then reads one series (e.g. "any project, any model")
//! over whole days plus its ragged ends ([`cover`]), so its cost grows with the range and the
//! number of series it needs, not with the number of events.

use std::collections::BTreeMap;

use shared::{EventStatus, UsageEvent};

/// Width of a roll-up bucket. 15 minutes divides every UTC offset in use (+05:30, +05:45,
/// DST shifts), so local hours and days in any IANA zone are exact unions of buckets.
pub const BUCKET_SECONDS: i64 = 15 * 60;

/// Number of latency histogram bins (columns `h00`..`h79`).
pub const HIST_BINS: usize = 80;

/// Bins per doubling of latency: bin `k` holds latencies in `[2^(k/4), 2^((k+1)/4))` ms.
const BINS_PER_OCTAVE: u32 = 4;

/// Worst relative error of a percentile read from the histogram (`2^(1/8) - 1` = 0.0905077…, rounded up),
/// for latencies between 1 ms and the last bin's lower bound (~14.6 minutes).
pub const HIST_RELATIVE_ERROR: f64 = 0.090_508;

/// Start (unix seconds) of the bucket holding `ts_ms`.
pub fn bucket_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(BUCKET_SECONDS * 1000) * BUCKET_SECONDS
}

/// The histogram bin of a latency in ms. Exact integer arithmetic: `k = floor(log2(ms^4))`.
pub fn latency_bin(ms: i64) -> usize {
    if ms <= 1 {
        return 0;
    }
    // Clamp first so ms^4 fits in u128; anything at or past the cap lands in the last bin.
    let cap = 1i64 << (HIST_BINS as u32 / BINS_PER_OCTAVE);
    let m = ms.min(cap) as u128;
    let fourth = m * m * m * m;
    let bin = 127 - fourth.leading_zeros() as usize;
    bin.min(HIST_BINS - 1)
}

/// The value reported for a bin: the geometric middle of its bounds.
pub fn bin_value(bin: usize) -> f64 {
    2f64.powf((bin as f64 + 0.5) / BINS_PER_OCTAVE as f64)
}

/// Nearest-rank percentile (`p` in 0..=1) of a histogram, as the bin's middle value.
pub fn percentile(hist: &[i64], p: f64) -> Option<f64> {
    let total: i64 = hist.iter().sum();
    if total <= 0 {
        return None;
    }
    let rank = ((p * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (bin, &count) in hist.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(bin_value(bin));
        }
    }
    None
}

/// Stands for "every project" or "every model" in a roll-up key (ids start at 1).
pub const ANY: i64 = 0;

/// A roll-up level: one table of rows summed over buckets of one width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Quarter,
    Hour,
    Day,
}

impl Level {
    /// Finest first: writers take row locks in this order, so concurrent batches cannot deadlock.
    pub const ALL: [Level; 3] = [Level::Quarter, Level::Hour, Level::Day];

    /// Bucket width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Level::Quarter => BUCKET_SECONDS,
            Level::Hour => 3_600,
            Level::Day => 86_400,
        }
    }

    pub fn table(self) -> &'static str {
        match self {
            Level::Quarter => "rollup_15m",
            Level::Hour => "rollup_1h",
            Level::Day => "rollup_1d",
        }
    }

    /// Start of this level's bucket holding unix second `t`.
    pub fn floor(self, t: i64) -> i64 {
        t.div_euclid(self.seconds()) * self.seconds()
    }

    fn finer(self) -> Option<Level> {
        match self {
            Level::Quarter => None,
            Level::Hour => Some(Level::Quarter),
            Level::Day => Some(Level::Hour),
        }
    }
}

/// Splits `[start, end)` (unix seconds, multiples of 15 minutes) into the fewest pieces of whole
/// buckets no coarser than `coarsest`: whole UTC days in the middle, whole hours beside them,
/// quarter-hours at the ends. The pieces are disjoint, in time order, and cover the range.
pub fn cover(start: i64, end: i64, coarsest: Level) -> Vec<(Level, i64, i64)> {
    fn split(level: Level, start: i64, end: i64, out: &mut Vec<(Level, i64, i64)>) {
        if start >= end {
            return;
        }
        let Some(finer) = level.finer() else {
            out.push((level, start, end));
            return;
        };
        let w = level.seconds();
        let (first, last) = ((start + w - 1).div_euclid(w) * w, level.floor(end));
        if first >= last {
            return split(finer, start, end, out);
        }
        split(finer, start, first, out);
        out.push((level, first, last));
        split(finer, last, end, out);
    }
    let mut out = Vec::new();
    split(coarsest, start, end, &mut out);
    out
}

/// The offset (seconds east of UTC) in force at unix second `t`, of a zone whose offsets are
/// `offsets` (`(from, offset)` in order, as [`crate::query::zone_offsets`] gives them; none
/// is UTC).
pub fn offset_at(offsets: &[(i64, i64)], t: i64) -> i64 {
    let i = offsets.partition_point(|(from, _)| *from <= t);
    i.checked_sub(1).map_or(0, |i| offsets[i].1)
}

/// Splits `[start, end)` like [`cover`], but so that no bucket of a piece straddles a local
/// `unit` (a day or an hour) of a zone whose UTC offsets over the range are `offsets`
/// (`(from, seconds east of UTC)`, as [`crate::query::zone_offsets`] gives them), nor a change
/// of offset: each local unit, cut at offset changes, is covered with the coarsest buckets that
/// fit inside it, and touching pieces of one level are merged. So a Kolkata day (+05:30) reads
/// 23 UTC hours and four quarter-hours instead of 96 quarter-hours, a New York day reads
/// hours, and a UTC day one day row.
pub fn local_cover(
    start: i64,
    end: i64,
    offsets: &[(i64, i64)],
    unit: Level,
) -> Vec<(Level, i64, i64)> {
    let w = unit.seconds();
    // Where a local unit starts or the offset changes, inside the range.
    let mut cuts = vec![start];
    for (i, &(from, offset)) in offsets.iter().enumerate() {
        let until = offsets.get(i + 1).map_or(end, |next| next.0).min(end);
        let from = from.max(start);
        if from >= until {
            continue;
        }
        cuts.push(from);
        // The first local unit start after `from`: (t + offset) is a multiple of `w`.
        let mut t = (from + offset).div_euclid(w) * w + w - offset;
        while t < until {
            cuts.push(t);
            t += w;
        }
    }
    cuts.push(end);
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<(Level, i64, i64)> = Vec::new();
    for pair in cuts.windows(2) {
        for (level, s, e) in cover(pair[0], pair[1], unit) {
            match out.last_mut() {
                Some(last) if last.0 == level && last.2 == s => last.2 = e,
                _ => out.push((level, s, e)),
            }
        }
    }
    out
}

/// The `error_type` of the rows that sum every request, failed or not. Dashboards that do
/// not split by status read only these: one row per series and bucket instead of one per
/// error type seen (at 10M events, 30 days of project days: 1,500 rows instead of 3,865).
/// Successes alone are these rows minus the error rows. Clients cannot send an empty error
/// type (a missing one is stored as `unknown`).
pub const ALL_STATUSES: &str = "";

/// The key of one roll-up row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub bucket: i64,
    pub project_id: i64,
    pub model_id: i64,
    /// [`ALL_STATUSES`], or the error type of failed requests only.
    pub error_type: String,
}

/// The additive part of one roll-up row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollupDelta {
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_nanos: i64,
    pub unpriced_requests: i64,
    pub latency_count: i64,
    pub latency_sum_ms: i64,
    pub ttft_count: i64,
    pub ttft_sum_ms: i64,
    /// Failed requests among `requests`.
    pub errors: i64,
    /// Requests priced from the catalogue by a family fallback.
    pub fallback_requests: i64,
    /// Requests whose cost the client sent.
    pub client_cost_requests: i64,
    pub hist: [i64; HIST_BINS],
}

impl RollupDelta {
    /// The additive columns in the order of their fields (the store's `ROLLUP_SUMS`).
    pub fn sums(&self) -> [i64; 14] {
        [
            self.requests,
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.cache_write_tokens,
            self.cost_nanos,
            self.unpriced_requests,
            self.latency_count,
            self.latency_sum_ms,
            self.ttft_count,
            self.ttft_sum_ms,
            self.errors,
            self.fallback_requests,
            self.client_cost_requests,
        ]
    }
}

impl Default for RollupDelta {
    fn default() -> Self {
        RollupDelta {
            requests: 0,
            input_tokens: 0,
            output_tokens: 0,
            cached_input_tokens: 0,
            cache_write_tokens: 0,
            cost_nanos: 0,
            unpriced_requests: 0,
            latency_count: 0,
            latency_sum_ms: 0,
            ttft_count: 0,
            ttft_sum_ms: 0,
            errors: 0,
            fallback_requests: 0,
            client_cost_requests: 0,
            hist: [0; HIST_BINS],
        }
    }
}

impl RollupDelta {
    /// Adds `n` to the count of requests priced as `source` says (where one is kept).
    fn count_source(&mut self, source: CostSource, n: i64) {
        match source {
            CostSource::Unpriced => self.unpriced_requests += n,
            CostSource::Fallback => self.fallback_requests += n,
            CostSource::Client => self.client_cost_requests += n,
            CostSource::PriceTable | CostSource::Catalogue => {}
        }
    }

    /// Adds another row's sums into this one.
    pub fn add(&mut self, d: &RollupDelta) {
        self.requests += d.requests;
        self.input_tokens += d.input_tokens;
        self.output_tokens += d.output_tokens;
        self.cached_input_tokens += d.cached_input_tokens;
        self.cache_write_tokens += d.cache_write_tokens;
        // Money saturates rather than wraps (a hostile client can send $1M events).
        self.cost_nanos = self.cost_nanos.saturating_add(d.cost_nanos);
        self.unpriced_requests += d.unpriced_requests;
        self.latency_count += d.latency_count;
        self.latency_sum_ms += d.latency_sum_ms;
        self.ttft_count += d.ttft_count;
        self.ttft_sum_ms += d.ttft_sum_ms;
        self.errors += d.errors;
        self.fallback_requests += d.fallback_requests;
        self.client_cost_requests += d.client_cost_requests;
        for (a, b) in self.hist.iter_mut().zip(d.hist.iter()) {
            *a += b;
        }
    }
}

/// What one event adds to the sums of every row it counts in.
#[derive(Clone, Copy, Debug)]
pub struct EventFacts {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost: PricedCost,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub failed: bool,
}

impl EventFacts {
    pub fn of(event: &UsageEvent, cost: PricedCost) -> EventFacts {
        EventFacts {
            input_tokens: event.input_tokens,
            output_tokens: event.output_tokens,
            cached_input_tokens: event.cached_input_tokens,
            cache_write_tokens: event.cache_write_tokens,
            cost,
            latency_ms: event.latency_ms,
            ttft_ms: event.ttft_ms,
            failed: event.status == EventStatus::Error,
        }
    }
}

impl RollupDelta {
    /// Adds one event (ingest's batches, and queries that read raw events).
    pub fn add_event(&mut self, e: &EventFacts) {
        self.requests += 1;
        self.errors += i64::from(e.failed);
        self.input_tokens += e.input_tokens;
        self.output_tokens += e.output_tokens;
        self.cached_input_tokens += e.cached_input_tokens;
        self.cache_write_tokens += e.cache_write_tokens;
        // Money is the one sum a batch can overflow: 9,224 events at the largest client
        // cost ($1M) exceed i64 nano-USD. Saturate rather than panic or wrap negative.
        // Token and latency sums cannot: a 16 MiB batch holds too few events at their caps.
        self.cost_nanos = self.cost_nanos.saturating_add(e.cost.nanos);
        self.count_source(e.cost.source, 1);
        if let Some(ms) = e.latency_ms {
            self.latency_count += 1;
            self.latency_sum_ms += ms;
            self.hist[latency_bin(ms)] += 1;
        }
        if let Some(ms) = e.ttft_ms {
            self.ttft_count += 1;
            self.ttft_sum_ms += ms;
        }
    }
}

/// Every level's rows that base rows (15 minutes, one project x model) add to, each level's
/// rows in key order. Ingest writes these; `verify` compares them with the stored levels.
pub fn expand(
    base: &BTreeMap<RollupKey, RollupDelta>,
) -> Vec<(Level, BTreeMap<RollupKey, RollupDelta>)> {
    Level::ALL
        .iter()
        .map(|&level| {
            let mut rows: BTreeMap<RollupKey, RollupDelta> = BTreeMap::new();
            for (k, d) in base {
                let bucket = level.floor(k.bucket);
                for (project_id, model_id) in [
                    (k.project_id, k.model_id),
                    (ANY, k.model_id),
                    (k.project_id, ANY),
                    (ANY, ANY),
                ] {
                    let key = RollupKey {
                        bucket,
                        project_id,
                        model_id,
                        error_type: k.error_type.clone(),
                    };
                    rows.entry(key).or_default().add(d);
                }
            }
            (level, rows)
        })
        .collect()
}

/// A failed request's error type as roll-ups and panels show it: `unknown` when not given or
/// empty.
pub fn error_type_shown(t: Option<&str>) -> &str {
    match t {
        None | Some(ALL_STATUSES) => "unknown",
        Some(t) => t,
    }
}

/// The error type of a failed event's own roll-up rows (`unknown` when not given or empty,
/// which ingest rejects anyway); `None` for a success, which adds to the [`ALL_STATUSES`]
/// rows only.
pub fn rollup_error_type(event: &UsageEvent) -> Option<String> {
    match event.status {
        EventStatus::Success => None,
        EventStatus::Error => Some(error_type_shown(event.error_type.as_deref()).into()),
    }
}

/// The 15-minute rows an event adds to: the row of every status and, when it failed, the
/// row of its error type.
fn keys_of(project_id: i64, model_id: i64, event: &UsageEvent) -> impl Iterator<Item = RollupKey> {
    let bucket = bucket_of(event.timestamp_ms);
    std::iter::once(ALL_STATUSES.to_string())
        .chain(rollup_error_type(event))
        .map(move |error_type| RollupKey {
            bucket,
            project_id,
            model_id,
            error_type,
        })
}

/// Roll-up deltas of one batch, ordered by key so concurrent writers lock rows in one order.
#[derive(Default, Debug)]
pub struct BatchRollup {
    pub rows: BTreeMap<RollupKey, RollupDelta>,
}

impl BatchRollup {
    /// Adds one stored event (with its final cost) to the batch's deltas: to the row of every
    /// status and, when it failed, to the row of its error type.
    pub fn add(&mut self, project_id: i64, model_id: i64, event: &UsageEvent, cost: PricedCost) {
        let facts = EventFacts::of(event, cost);
        for key in keys_of(project_id, model_id, event) {
            self.rows.entry(key).or_default().add_event(&facts);
        }
    }

    /// Moves a stored event's cost from `old` to `new` (re-pricing): the rows it adds to
    /// change by the cost's difference and the counts of how it was priced, nothing else.
    pub fn reprice(
        &mut self,
        project_id: i64,
        model_id: i64,
        event: &UsageEvent,
        old: PricedCost,
        new: PricedCost,
    ) {
        for key in keys_of(project_id, model_id, event) {
            let d = self.rows.entry(key).or_default();
            d.cost_nanos = d
                .cost_nanos
                .saturating_add(new.nanos)
                .saturating_sub(old.nanos);
            d.count_source(old.source, -1);
            d.count_source(new.source, 1);
        }
    }
}

/// Where an event's stored cost came from (column `cost_source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostSource {
    Unpriced = 0,
    PriceTable = 1,
    Client = 2,
    /// The bundled catalogue's list price of the model.
    Catalogue = 3,
    /// The catalogue's price of the model's family (a dated snapshot it does not list).
    Fallback = 4,
}

impl CostSource {
    /// The source a stored `cost_source` code stands for (an unknown code: unpriced).
    pub fn from_code(code: i64) -> CostSource {
        match code {
            1 => CostSource::PriceTable,
            2 => CostSource::Client,
            3 => CostSource::Catalogue,
            4 => CostSource::Fallback,
            _ => CostSource::Unpriced,
        }
    }
}

/// An event's final cost and its origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PricedCost {
    pub nanos: i64,
    pub source: CostSource,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_quarter_hours_in_utc_even_before_1970() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(899_999), 0);
        assert_eq!(bucket_of(900_000), 900);
        assert_eq!(bucket_of(-1), -900);
    }

    #[test]
    fn latency_bins_follow_quarter_octaves_exactly() {
        assert_eq!(latency_bin(0), 0);
        assert_eq!(latency_bin(1), 0);
        assert_eq!(latency_bin(2), 4);
        assert_eq!(latency_bin(1024), 40);
        assert_eq!(latency_bin(1023), 39);
        // 2^(41/4) = 1217.9: 1217 is below, 1218 at or above.
        assert_eq!(latency_bin(1217), 40);
        assert_eq!(latency_bin(1218), 41);
        assert_eq!(latency_bin(i64::MAX), HIST_BINS - 1);
    }

    #[test]
    fn every_latency_reads_back_within_the_stated_relative_error() {
        for ms in (1..2_000_000i64).step_by(7) {
            let v = bin_value(latency_bin(ms));
            if ms < 1 << 19 {
                let err = (v - ms as f64).abs() / ms as f64;
                assert!(err <= HIST_RELATIVE_ERROR, "{ms} ms read back as {v}");
            }
        }
    }

    /// A successful request with tokens and no cost, latency or text.
    fn success() -> UsageEvent {
        UsageEvent {
            id: None,
            timestamp_ms: 1_748_779_200_000,
            model: "m".into(),
            provider: None,
            input_tokens: 100,
            output_tokens: 10,
            cached_input_tokens: 0,
            cache_write_tokens: 0,
            cache_write_1h_tokens: 0,
            service_tier: None,
            cost_nanos: None,
            latency_ms: None,
            ttft_ms: None,
            status: EventStatus::Success,
            error_type: None,
            error_message: None,
            user: None,
            metadata: None,
        }
    }

    #[test]
    fn a_batch_whose_cost_exceeds_i64_saturates_instead_of_overflowing() {
        // Found by the ingest_body fuzz target: 1,600 copies of one event priced at
        // ~1e18 nano-USD overflowed the bucket's cost sum ("attempt to add with overflow").
        // A client can reach the same with 9,224 events at the largest cost_usd, $1M.
        let event = UsageEvent {
            cost_nanos: Some(1_000_000 * shared::NANOS_PER_USD),
            ..success()
        };
        let cost = PricedCost {
            nanos: 1_000_000 * shared::NANOS_PER_USD,
            source: CostSource::Client,
        };
        let mut batch = BatchRollup::default();
        for _ in 0..10_000 {
            batch.add(1, 1, &event, cost);
        }
        let row = batch.rows.values().next().unwrap();
        assert_eq!(row.requests, 10_000);
        assert_eq!(row.cost_nanos, i64::MAX);
    }

    #[test]
    fn a_failure_adds_to_the_row_of_every_status_and_to_its_error_type() {
        let mut event = UsageEvent {
            latency_ms: Some(300),
            ..success()
        };
        let cost = PricedCost {
            nanos: 5,
            source: CostSource::PriceTable,
        };
        let mut batch = BatchRollup::default();
        batch.add(1, 2, &event, cost);
        event.status = EventStatus::Error;
        event.error_type = Some("timeout".into());
        batch.add(1, 2, &event, cost);
        event.error_type = None;
        batch.add(1, 2, &event, cost);
        let row = |error_type: &str| {
            let key = RollupKey {
                bucket: bucket_of(event.timestamp_ms),
                project_id: 1,
                model_id: 2,
                error_type: error_type.into(),
            };
            let d = &batch.rows[&key];
            (d.requests, d.errors, d.cost_nanos, d.hist[latency_bin(300)])
        };
        assert_eq!(batch.rows.len(), 3);
        assert_eq!(row(ALL_STATUSES), (3, 2, 15, 3));
        assert_eq!(row("timeout"), (1, 1, 5, 1));
        assert_eq!(row("unknown"), (1, 1, 5, 1));
    }

    #[test]
    fn cover_splits_a_range_into_whole_days_hours_and_quarters_exactly() {
        let day = 86_400;
        // Kolkata's 30 days: local midnight is 18:30 UTC.
        let start = 20_000 * day + 18 * 3_600 + 1_800;
        let end = start + 30 * day;
        let pieces = cover(start, end, Level::Day);
        assert_eq!(
            pieces,
            vec![
                (Level::Quarter, start, start + 1_800),
                (Level::Hour, start + 1_800, 20_001 * day),
                (Level::Day, 20_001 * day, 20_030 * day),
                (Level::Hour, 20_030 * day, 20_030 * day + 18 * 3_600),
                (Level::Quarter, 20_030 * day + 18 * 3_600, end),
            ]
        );
        // Any quarter-hour range: contiguous, aligned pieces whose union is the range.
        for (s, e) in [
            (0, 900),
            (-900, 900),
            (-day - 900, 3 * day + 2_700),
            (3_600, 7_200),
            (5, 5),
        ] {
            let pieces = cover(s, e, Level::Day);
            let mut at = s;
            for (level, lo, hi) in &pieces {
                assert_eq!(*lo, at, "{s}..{e}: {pieces:?}");
                assert!(lo < hi && level.floor(*lo) == *lo && level.floor(*hi) == *hi);
                at = *hi;
            }
            assert_eq!(at, s.max(e), "{s}..{e}: {pieces:?}");
        }
        // No coarser than asked: New York's local days are unions of UTC hours, not days.
        assert!(cover(start, end, Level::Hour)
            .iter()
            .all(|(level, _, _)| *level != Level::Day));
    }

    /// Checks that `pieces` cover `[start, end)` in order with aligned buckets, none of which
    /// straddles a local `unit` or a change of offset.
    fn assert_local_cover(start: i64, end: i64, offsets: &[(i64, i64)], unit: Level) {
        let pieces = local_cover(start, end, offsets, unit);
        let offset_at = |t: i64| offsets.iter().rev().find(|(from, _)| *from <= t).unwrap().1;
        let mut at = start;
        for (level, lo, hi) in &pieces {
            assert_eq!(*lo, at, "{pieces:?}");
            assert!(lo < hi && level.floor(*lo) == *lo && level.floor(*hi) == *hi);
            let w = level.seconds();
            for b in (*lo..*hi).step_by(w as usize) {
                let (first, last) = (b, b + w - BUCKET_SECONDS);
                assert_eq!(
                    offset_at(first),
                    offset_at(last),
                    "{level:?} {b} crosses a change"
                );
                let local_unit = |t: i64| (t + offset_at(t)).div_euclid(unit.seconds());
                assert_eq!(
                    local_unit(first),
                    local_unit(last),
                    "{level:?} {b} straddles a local {unit:?}: {pieces:?}"
                );
            }
            at = *hi;
        }
        assert_eq!(at, end, "{pieces:?}");
    }

    #[test]
    fn local_cover_reads_the_coarsest_buckets_inside_each_local_day_or_hour() {
        let (day, hour) = (86_400, 3_600);
        // UTC: the same pieces as cover.
        let start = 20_000 * day + 5 * hour + 2_700;
        let end = start + 30 * day + 900;
        for unit in [Level::Day, Level::Hour] {
            assert_eq!(
                local_cover(start, end, &[(start, 0)], unit),
                cover(start, end, unit)
            );
        }
        // Kolkata's days (+05:30, midnight at 18:30 UTC): 23 hours between two half-hours of
        // quarter-hours, never a UTC day.
        let kolkata = [(start, 19_800)];
        let midnight = 20_000 * day + 18 * hour + 1_800;
        assert_eq!(
            local_cover(midnight, midnight + 2 * day, &kolkata, Level::Day),
            vec![
                (Level::Quarter, midnight, midnight + 1_800),
                (Level::Hour, midnight + 1_800, midnight + day - 1_800),
                (
                    Level::Quarter,
                    midnight + day - 1_800,
                    midnight + day + 1_800
                ),
                (
                    Level::Hour,
                    midnight + day + 1_800,
                    midnight + 2 * day - 1_800
                ),
                (
                    Level::Quarter,
                    midnight + 2 * day - 1_800,
                    midnight + 2 * day
                ),
            ]
        );
        // Its local hours start at :30, so they read quarter-hours only.
        assert_eq!(
            local_cover(start, end, &kolkata, Level::Hour),
            vec![(Level::Quarter, start, end)]
        );
        // New York across both DST changes of 2025, Lord Howe's half-hour change, Kathmandu.
        let ny_start = 20_150 * day + 900;
        let zones: [&[(i64, i64)]; 4] = [
            &[
                (ny_start, -5 * hour),
                (20_156 * day + 7 * hour, -4 * hour),
                (20_394 * day + 6 * hour, -5 * hour),
            ],
            &[(ny_start, 11 * hour), (20_183 * day + 15 * hour, 37_800)],
            &[(ny_start, 20_700)],
            &[(ny_start, 0)],
        ];
        for offsets in zones {
            for unit in [Level::Day, Level::Hour] {
                assert_local_cover(ny_start, 20_400 * day + 2_700, offsets, unit);
                assert_local_cover(ny_start, ny_start + 900, offsets, unit);
            }
        }
    }

    #[test]
    fn each_base_row_adds_to_four_rows_per_level() {
        let mut base = BTreeMap::new();
        let mut d = RollupDelta {
            requests: 2,
            cost_nanos: 7,
            ..Default::default()
        };
        d.hist[3] = 2;
        for (bucket, project_id, model_id) in [(3_600, 1, 1), (4_500, 2, 1), (90_000, 1, 2)] {
            let key = RollupKey {
                bucket,
                project_id,
                model_id,
                error_type: String::new(),
            };
            base.insert(key, d.clone());
        }
        let levels = expand(&base);
        let rows = |level: Level| &levels.iter().find(|(l, _)| *l == level).unwrap().1;
        let get = |level: Level, bucket, project_id, model_id| {
            let key = RollupKey {
                bucket,
                project_id,
                model_id,
                error_type: String::new(),
            };
            rows(level).get(&key).map(|d| d.requests)
        };
        // Three base rows, each with its three "any" rows; the quarter level keeps them apart.
        assert_eq!(get(Level::Quarter, 3_600, 1, 1), Some(2));
        assert_eq!(get(Level::Quarter, 3_600, ANY, ANY), Some(2));
        assert_eq!(rows(Level::Quarter).len(), 12);
        // The hour level merges the two rows of hour 3,600 into one "any project" row.
        assert_eq!(get(Level::Hour, 3_600, ANY, 1), Some(4));
        assert_eq!(get(Level::Hour, 3_600, ANY, ANY), Some(4));
        assert_eq!(get(Level::Hour, 3_600, 2, ANY), Some(2));
        // The day level puts all three in day 0 and day 1 apart.
        assert_eq!(get(Level::Day, 0, ANY, ANY), Some(4));
        assert_eq!(get(Level::Day, 86_400, ANY, ANY), Some(2));
        assert_eq!(get(Level::Day, 86_400, 1, 2), Some(2));
        // Every level holds every request four times (own row and three "any" rows).
        for (level, rows) in &levels {
            let total: i64 = rows.values().map(|d| d.requests).sum();
            assert_eq!(total, 4 * 6, "{level:?}");
            let hist: i64 = rows.values().map(|d| d.hist[3]).sum();
            assert_eq!(hist, 4 * 6, "{level:?}");
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut hist = [0i64; HIST_BINS];
        hist[latency_bin(100)] = 50;
        hist[latency_bin(1000)] = 49;
        hist[latency_bin(10_000)] = 1;
        assert_eq!(percentile(&hist, 0.50), Some(bin_value(latency_bin(100))));
        assert_eq!(percentile(&hist, 0.51), Some(bin_value(latency_bin(1000))));
        assert_eq!(percentile(&hist, 0.99), Some(bin_value(latency_bin(1000))));
        assert_eq!(percentile(&hist, 1.0), Some(bin_value(latency_bin(10_000))));
        assert_eq!(percentile(&[0; HIST_BINS], 0.5), None);
    }
}
