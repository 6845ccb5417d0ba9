//! Roll-up reads: what a read asks for ([`RollupFilter`], [`Group`], [`Sums`]); each query reads one series (project x model, or with either or both
//! [`ANY`]) over the fewest whole buckets of the three levels; and the integrity checks that
//! `verify` and the tests run.

use std::collections::BTreeMap;

use futures::TryStreamExt;

use shared::EventStatus;
use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::rollup::{
    cover, expand, latency_bin, local_cover, Level, RollupDelta, RollupKey, ALL_STATUSES, ANY,
    HIST_BINS,
};

/// Which roll-up rows a query reads: buckets `[start_bucket, end_bucket)` (unix seconds).
#[derive(Clone, Debug, Default)]
pub struct RollupFilter {
    pub start_bucket: i64,
    pub end_bucket: i64,
    /// Empty means every project.
    pub project_ids: Vec<i64>,
    /// Empty means every model.
    pub model_ids: Vec<i64>,
    pub status: Option<EventStatus>,
    /// The query's time zone as UTC offsets over the range: `(from, seconds east of UTC)`, in
    /// order, each in force from its unix second `from` (a quarter-hour) until the next.
    /// Empty means UTC. Used by [`Group::LocalDay`] and [`Group::LocalHourOfWeek`].
    pub offsets: Vec<(i64, i64)>,
    /// Dimension values every event must have. Roll-ups do not hold dimensions: a filter
    /// with any is answered from the raw events (`dimensions.rs`).
    pub dims: Vec<shared::DimFilter>,
    /// A second value the end-user filter among `dims` also matches: the id's keyed hash,
    /// when ids have ever been stored hashed (`UA_HASH_END_USERS`), so one id finds its
    /// events stored before and after hashing was turned on.
    pub user_also: Option<String>,
}

/// What roll-up rows are summed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Total,
    /// Local calendar day in the filter's zone.
    LocalDay,
    /// Local hour of the week in the filter's zone (Monday 00:00 is 0).
    LocalHourOfWeek,
    Model,
    Project,
    ErrorType,
    /// Project x model pairs.
    ProjectModel,
    /// Model x the bucket of each level read (a UTC day, hour or quarter-hour start).
    ModelBucket,
    /// Model x local calendar day in the filter's zone.
    ModelLocalDay,
    /// Project x local calendar day in the filter's zone.
    ProjectLocalDay,
}

/// Which sums a read of roll-ups adds up; the others come back as 0. Every summed column
/// costs every row read, so each panel asks for what it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sums {
    /// Requests and cost (the hourly pattern, error types, budgets).
    RequestsCost,
    /// Requests, failures, cost, how it was priced, tokens in / out / cached and latency (the
    /// daily history, the breakdowns, the previous period's cards).
    Traffic,
    /// Every additive column.
    All,
    /// Everything, and the latency histogram (most of a row's width: the summary's percentiles).
    AllWithHist,
}

impl Sums {
    /// Whether the read sums `column` (one of [`ROLLUP_SUMS`]).
    pub(super) fn includes(self, column: &str) -> bool {
        match self {
            Sums::RequestsCost => matches!(column, "requests" | "cost_nanos"),
            Sums::Traffic => matches!(
                column,
                "requests"
                    | "errors"
                    | "cost_nanos"
                    | "input_tokens"
                    | "output_tokens"
                    | "cached_input_tokens"
                    | "latency_count"
                    | "latency_sum_ms"
                    | "unpriced_requests"
                    | "fallback_requests"
                    | "client_cost_requests"
            ),
            Sums::All | Sums::AllWithHist => true,
        }
    }
}

/// The group a row of [`Store::rollup_grouped`] sums.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupKey {
    Total,
    /// Days since 1970-01-01 of the local date.
    LocalDay(i64),
    /// 0..168: local weekday (Monday 0) x 24 + local hour.
    LocalHourOfWeek(i64),
    Model(i64),
    Project(i64),
    /// A failed request's error type (`unknown` when not given).
    ErrorType(String),
    /// Project id, model id.
    ProjectModel(i64, i64),
    /// Model id, bucket start (unix seconds).
    ModelBucket(i64, i64),
    /// Model id, days since 1970-01-01 of the local date.
    ModelLocalDay(i64, i64),
    /// Project id, days since 1970-01-01 of the local date.
    ProjectLocalDay(i64, i64),
}

/// One group's sums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRow {
    pub key: GroupKey,
    pub sums: RollupDelta,
}

/// Sums of roll-up rows (the additive columns and the merged latency histogram).
pub type RollupTotals = RollupDelta;

/// The additive roll-up columns, in the order of [`RollupDelta`]'s fields.
pub(super) const ROLLUP_SUMS: [&str; 14] = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cost_nanos",
    "unpriced_requests",
    "latency_count",
    "latency_sum_ms",
    "ttft_count",
    "ttft_sum_ms",
    "errors",
    "fallback_requests",
    "client_cost_requests",
];

pub(super) fn hist_columns() -> impl Iterator<Item = String> {
    (0..HIST_BINS).map(|i| format!("h{i:02}"))
}

/// Appends `AND <prefix>project_id IN (…)` / `model_id IN (…)` for the filter's non-empty id
/// lists, numbering the parameters after those already in `args`.
pub(super) fn push_id_filters(
    sql: &mut String,
    args: &mut Vec<i64>,
    f: &RollupFilter,
    prefix: &str,
) {
    for (column, ids) in [("project_id", &f.project_ids), ("model_id", &f.model_ids)] {
        if ids.is_empty() {
            continue;
        }
        let marks: Vec<String> = (0..ids.len())
            .map(|i| format!("${}", args.len() + i + 1))
            .collect();
        sql.push_str(&format!(" AND {prefix}{column} IN ({})", marks.join(",")));
        args.extend(ids.iter().copied());
    }
}

/// Reads the additive columns and histogram from a row whose first columns are, in order,
/// the [`ROLLUP_SUMS`] columns and then (when `with_hist`) the histogram bins, from `offset`.
pub(super) fn delta_from_row<R: Row>(
    row: &R,
    offset: usize,
    with_hist: bool,
) -> Result<RollupDelta, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let g = |i: usize| -> Result<i64, sqlx::Error> { row.try_get::<i64, _>(offset + i) };
    let mut d = RollupDelta {
        requests: g(0)?,
        input_tokens: g(1)?,
        output_tokens: g(2)?,
        cached_input_tokens: g(3)?,
        cache_write_tokens: g(4)?,
        cost_nanos: g(5)?,
        unpriced_requests: g(6)?,
        latency_count: g(7)?,
        latency_sum_ms: g(8)?,
        ttft_count: g(9)?,
        ttft_sum_ms: g(10)?,
        errors: g(11)?,
        fallback_requests: g(12)?,
        client_cost_requests: g(13)?,
        hist: [0; HIST_BINS],
    };
    if with_hist {
        for (i, h) in d.hist.iter_mut().enumerate() {
            *h = g(ROLLUP_SUMS.len() + i)?;
        }
    }
    Ok(d)
}

/// Columns of a roll-up row: the key (`bucket`, `project_id`, `model_id`, `error_type`), the
/// sums and the histogram bins.
pub(super) const ROLLUP_COLUMN_COUNT: usize = 4 + ROLLUP_SUMS.len() + HIST_BINS;

/// The upsert adding deltas to a level's rows; `source` (a `VALUES` list or a `SELECT`) gives
/// the rows in column order: key, sums, histogram. With `sparse_hist` (PostgreSQL) a histogram
/// bin may be NULL, meaning 0, in the stored row and in `source`.
pub(super) fn upsert_sql(level: Level, source: &str, sparse_hist: bool) -> String {
    let table = level.table();
    let updates: Vec<String> = ROLLUP_SUMS
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .chain(hist_columns().map(|c| {
            if sparse_hist {
                format!("{c} = COALESCE({table}.{c} + excluded.{c}, {table}.{c}, excluded.{c})")
            } else {
                format!("{c} = {table}.{c} + excluded.{c}")
            }
        }))
        .collect();
    let columns: Vec<String> = ROLLUP_SUMS
        .iter()
        .map(|c| c.to_string())
        .chain(hist_columns())
        .collect();
    format!(
        "INSERT INTO {table} (bucket, project_id, model_id, error_type, {}) {source} \
         ON CONFLICT (project_id, model_id, bucket, error_type) DO UPDATE SET {}",
        columns.join(", "),
        updates.join(", ")
    )
}

/// The condition choosing one series' rows: a dimension the query filters or groups by reads
/// the rows of real ids (the filter's, or `every` id of the grouped dimension), any other
/// reads `ANY`. Listing the ids (not `<> 0` or a subquery) lets both databases seek each
/// series in the key; PostgreSQL otherwise scanned the whole history of `ANY` project.
fn series_condition(f: &RollupFilter, group: Group, every: &Every, args: &mut Vec<i64>) -> String {
    let mut parts = Vec::new();
    for (column, ids, grouped, all) in [
        (
            "project_id",
            &f.project_ids,
            group.by_project(),
            &every.projects,
        ),
        ("model_id", &f.model_ids, group.by_model(), &every.models),
    ] {
        let ids: &[i64] = if !ids.is_empty() {
            ids
        } else if grouped {
            all
        } else {
            parts.push(format!("{column} = {ANY}"));
            continue;
        };
        let marks: Vec<String> = (0..ids.len())
            .map(|i| format!("${}", args.len() + i + 1))
            .collect();
        parts.push(format!("{column} IN ({})", marks.join(",")));
        args.extend(ids.iter().copied());
    }
    parts.join(" AND ")
}

/// Every project and model id, for grouping by a dimension the filter leaves open.
#[derive(Default)]
struct Every {
    projects: Vec<i64>,
    models: Vec<i64>,
}

impl Group {
    fn by_project(self) -> bool {
        matches!(
            self,
            Group::Project | Group::ProjectModel | Group::ProjectLocalDay
        )
    }

    fn by_model(self) -> bool {
        matches!(
            self,
            Group::Model | Group::ProjectModel | Group::ModelBucket | Group::ModelLocalDay
        )
    }
}

/// The SQL expression of a bucket's local time (seconds, as if the zone were UTC).
fn local_seconds(offsets: &[(i64, i64)]) -> String {
    match offsets {
        [] => "bucket".into(),
        [(_, only)] => format!("(bucket + {only})"),
        [(_, first), rest @ ..] => {
            // Offsets are integers the server computed, never user text.
            let mut case = String::from("(bucket + CASE");
            let mut current = *first;
            for (from, offset) in rest {
                case.push_str(&format!(" WHEN bucket < {from} THEN {current}"));
                current = *offset;
            }
            case.push_str(&format!(" ELSE {current} END)"));
            case
        }
    }
}

impl Store {
    /// Sums every roll-up row the filter selects: the `sums` asked for (budgets check the cost
    /// after every batch).
    pub async fn rollup_totals(
        &self,
        f: &RollupFilter,
        sums: Sums,
    ) -> Result<RollupTotals, StoreError> {
        let rows = self.rollup_grouped(f, Group::Total, sums).await?;
        Ok(rows.into_iter().next().map(|r| r.sums).unwrap_or_default())
    }

    /// The bucket ranges a grouped read covers, per level: whole UTC days where the range has
    /// them, and for local days or hours buckets inside one of them and of one offset.
    fn ranges_to_read(&self, f: &RollupFilter, group: Group) -> BTreeMap<Level, Vec<(i64, i64)>> {
        let (start, end) = (f.start_bucket, f.end_bucket);
        let pieces = match group {
            Group::LocalDay | Group::ModelLocalDay | Group::ProjectLocalDay => {
                local_cover(start, end, &f.offsets, Level::Day)
            }
            Group::LocalHourOfWeek => local_cover(start, end, &f.offsets, Level::Hour),
            _ => cover(start, end, Level::Day),
        };
        let mut ranges: BTreeMap<Level, Vec<(i64, i64)>> = BTreeMap::new();
        for (level, s, e) in pieces {
            ranges.entry(level).or_default().push((s, e));
        }
        let ragged = ranges.values().any(|r| r.len() > 2);
        if ragged && matches!(self.backend, Backend::Postgres(_)) {
            // PostgreSQL's generic plan for the join of many ranges filtered the level's whole
            // series (the Kolkata daily history of 30 days at 1M events: 430 ms), and one scan
            // per range cost more to start than it saved (six panels 40 -> 54 ms): it reads
            // quarter-hours, which never straddle a local day or hour, over the whole range.
            // Listing the buckets in an array (`bucket = ANY($1)`) was 2.4x faster once the
            // roll-ups had statistics, but before autovacuum's first ANALYZE the generic plan
            // filtered the series' every row against the array (six Kolkata panels: 540 ms).
            return BTreeMap::from([(Level::Quarter, vec![(start, end)])]);
        }
        ranges
    }

    /// Sums the roll-up rows the filter selects, per group. Each group reads the coarsest
    /// buckets that fit: whole UTC days where the range has them, and for local days or hours
    /// the coarsest inside each of them ([`local_cover`]: Kolkata's days are UTC hours with
    /// quarter-hours around its midnight, New York's are hours). Only the `sums` asked for are
    /// added up; the others are 0.
    pub async fn rollup_grouped(
        &self,
        f: &RollupFilter,
        group: Group,
        sums: Sums,
    ) -> Result<Vec<GroupRow>, StoreError> {
        if !f.dims.is_empty() {
            return self.grouped_from_events(f, group).await;
        }
        let with_hist = sums == Sums::AllWithHist;
        let hist = with_hist.then(hist_columns).into_iter().flatten();
        // Every column in the order `delta_from_row` reads them, `None` where not summed.
        let columns: Vec<Option<String>> = ROLLUP_SUMS
            .iter()
            .map(|c| sums.includes(c).then(|| c.to_string()))
            .chain(hist.map(Some))
            .collect();
        // Which rows: those of every status, the error rows, or (successes) the rows of every
        // status minus the error rows. Error types are read from the error rows alone.
        let status = match group {
            Group::ErrorType => Some(EventStatus::Error),
            _ => f.status,
        };
        let (rows_read, sign) = match status {
            None => (format!(" AND error_type = '{ALL_STATUSES}'"), String::new()),
            Some(EventStatus::Error) => (
                format!(" AND error_type <> '{ALL_STATUSES}'"),
                String::new(),
            ),
            Some(EventStatus::Success) => (
                String::new(),
                format!("CASE WHEN error_type = '{ALL_STATUSES}' THEN 1 ELSE -1 END * "),
            ),
        };
        let selected: Vec<String> = columns
            .iter()
            .flatten()
            .map(|c| format!("{sign}{c} AS {c}"))
            .collect();
        let selected = selected.join(", ");
        // Local days and hours of the week count from 1970-01-01 (a Thursday); ingest keeps
        // timestamps after 2000, so the divisions never see negative numbers.
        let local = local_seconds(&f.offsets);
        // Two key columns: most groups use only the first.
        let (key, key2) = match group {
            Group::Total => ("0".to_string(), "0".to_string()),
            Group::LocalDay => (format!("{local} / 86400"), "0".into()),
            Group::LocalHourOfWeek => (format!("({local} / 3600 + 72) % 168"), "0".into()),
            Group::Model => ("model_id".into(), "0".into()),
            Group::Project => ("project_id".into(), "0".into()),
            Group::ErrorType => ("error_type".into(), "0".into()),
            Group::ProjectModel => ("project_id".into(), "model_id".into()),
            Group::ModelBucket => ("model_id".into(), "bucket".into()),
            Group::ModelLocalDay => ("model_id".into(), format!("{local} / 86400")),
            Group::ProjectLocalDay => ("project_id".into(), format!("{local} / 86400")),
        };
        // Grouping by a dimension the filter leaves open reads each of its ids' series.
        let mut every = Every::default();
        if group.by_project() && f.project_ids.is_empty() {
            every.projects = self
                .list_projects()
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect();
            if every.projects.is_empty() {
                return Ok(Vec::new());
            }
        }
        if group.by_model() && f.model_ids.is_empty() {
            every.models = self
                .list_models()
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            if every.models.is_empty() {
                return Ok(Vec::new());
            }
        }
        // One statement: the pieces' rows (whole days, hours, quarter-hours) summed together,
        // each range of a level one index range scan. A level read in many ranges (the
        // quarter-hours around each Kolkata midnight) joins the list of them instead (SQLite
        // allows at most 500 parts in a compound SELECT).
        let mark = |args: &mut Vec<i64>, v: i64| {
            args.push(v);
            format!("${}", args.len())
        };
        let mut args = Vec::new();
        let mut pieces = Vec::new();
        for (level, ranges) in self.ranges_to_read(f, group) {
            let table = level.table();
            // (what a read is FROM, its condition on the bucket)
            let reads: Vec<(String, String)> = if ranges.len() > 2 {
                let rows: Vec<String> = ranges
                    .iter()
                    .map(|(s, e)| {
                        let (s, e) = (mark(&mut args, *s), mark(&mut args, *e));
                        format!("(CAST({s} AS BIGINT), CAST({e} AS BIGINT))")
                    })
                    .collect();
                // CROSS JOIN makes SQLite loop over the ranges and seek each one; left to choose,
                // it read the whole range's series once per range (Kolkata's daily history for
                // 90 days at 10M events: 370 ms).
                let from = format!("(VALUES {}) AS r CROSS JOIN {table}", rows.join(", "));
                let within = " AND bucket >= r.column1 AND bucket < r.column2".to_string();
                vec![(from, within)]
            } else {
                ranges
                    .iter()
                    .map(|(s, e)| {
                        let (s, e) = (mark(&mut args, *s), mark(&mut args, *e));
                        (
                            table.to_string(),
                            format!(" AND bucket >= {s} AND bucket < {e}"),
                        )
                    })
                    .collect()
            };
            for (from, within) in reads {
                let mut cond = series_condition(f, group, &every, &mut args);
                cond.push_str(&within);
                cond.push_str(&rows_read);
                pieces.push(format!(
                    "SELECT {key} AS k, {key2} AS k2, {selected} FROM {from} WHERE {cond}"
                ));
            }
        }
        if pieces.is_empty() {
            return Ok(Vec::new());
        }
        let totals: Vec<String> = columns
            .iter()
            .map(|c| match c {
                Some(c) => format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT)"),
                None => "CAST(0 AS BIGINT)".to_string(),
            })
            .collect();
        let group_by = match group {
            Group::Total => "",
            _ => " GROUP BY k, k2",
        };
        let sql = format!(
            "SELECT {}, {} FROM ({}) AS pieces{group_by}",
            if group == Group::Total {
                "0, 0"
            } else {
                "k, k2"
            },
            totals.join(", "),
            pieces.join(" UNION ALL ")
        );
        let rows = dispatch!(self, pool => {
            let mut q = sqlx::query(&sql);
            for a in &args {
                q = q.bind(*a);
            }
            let mut out = Vec::new();
            for row in q.fetch_all(pool).await? {
                let key = match group {
                    Group::Total => GroupKey::Total,
                    Group::LocalDay => GroupKey::LocalDay(row.try_get(0)?),
                    Group::LocalHourOfWeek => GroupKey::LocalHourOfWeek(row.try_get(0)?),
                    Group::Model => GroupKey::Model(row.try_get(0)?),
                    Group::Project => GroupKey::Project(row.try_get(0)?),
                    Group::ErrorType => GroupKey::ErrorType(row.try_get(0)?),
                    Group::ProjectModel => GroupKey::ProjectModel(row.try_get(0)?, row.try_get(1)?),
                    Group::ModelBucket => GroupKey::ModelBucket(row.try_get(0)?, row.try_get(1)?),
                    Group::ModelLocalDay => {
                        GroupKey::ModelLocalDay(row.try_get(0)?, row.try_get(1)?)
                    }
                    Group::ProjectLocalDay => {
                        GroupKey::ProjectLocalDay(row.try_get(0)?, row.try_get(1)?)
                    }
                };
                out.push(GroupRow {
                    key,
                    sums: delta_from_row(&row, 2, with_hist)?,
                });
            }
            out
        });
        Ok(rows)
    }

    // ---- integrity ------------------------------------------------------------------

    /// Every row of one level, "any" rows included, in key order.
    async fn level_rows(
        &self,
        level: Level,
        base_only: bool,
    ) -> Result<Vec<(RollupKey, RollupDelta)>, StoreError> {
        // A histogram bin may be NULL (0) on PostgreSQL.
        let cols: Vec<String> = ROLLUP_SUMS
            .iter()
            .map(|c| c.to_string())
            .chain(hist_columns().map(|c| format!("COALESCE({c}, 0)")))
            .collect();
        let only = if base_only {
            format!(" WHERE project_id <> {ANY} AND model_id <> {ANY}")
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT bucket, project_id, model_id, error_type, {} FROM {}{only} \
             ORDER BY bucket, project_id, model_id, error_type",
            cols.join(", "),
            level.table()
        );
        // Streamed, each row converted as it arrives, rather than every row collected in sqlx's
        // form first: `verify` on a 1M-event SQLite database peaked at 1.7 GB resident
        // instead of 5.2 GB (43.7 -> 40.8 s).
        let rows = dispatch!(self, pool => {
            let mut out = Vec::new();
            let mut rows = sqlx::query(&sql).fetch(pool);
            while let Some(row) = rows.try_next().await? {
                let key = RollupKey {
                    bucket: row.try_get(0)?,
                    project_id: row.try_get(1)?,
                    model_id: row.try_get(2)?,
                    error_type: row.try_get(3)?,
                };
                out.push((key, delta_from_row(&row, 4, true)?));
            }
            out
        });
        Ok(rows)
    }

    /// Every stored 15-minute row of one project x model (the rows every other roll-up row is
    /// a sum of), in key order; for integrity checks, not for dashboards.
    pub async fn all_rollups(&self) -> Result<Vec<(RollupKey, RollupDelta)>, StoreError> {
        self.level_rows(Level::Quarter, true).await
    }

    /// Whether every level's rows, "any" rows included, are exactly the sums of the stored
    /// 15-minute project x model rows; `Some(what differs)` when not.
    pub async fn derived_rollups_mismatch(&self) -> Result<Option<String>, StoreError> {
        let base: BTreeMap<RollupKey, RollupDelta> =
            self.all_rollups().await?.into_iter().collect();
        for (level, expected) in expand(&base) {
            let stored: BTreeMap<RollupKey, RollupDelta> =
                self.level_rows(level, false).await?.into_iter().collect();
            if stored != expected {
                let wrong = expected
                    .iter()
                    .find(|(k, d)| stored.get(*k) != Some(*d))
                    .map(|(k, _)| format!("{k:?}"))
                    .unwrap_or_else(|| "a row no event adds to".into());
                return Ok(Some(format!(
                    "{} ({} rows) differs from the sums of the 15-minute rows ({} rows), e.g. {wrong}",
                    level.table(),
                    stored.len(),
                    expected.len()
                )));
            }
        }
        Ok(None)
    }

    /// Recomputes the 15-minute project x model rows straight from raw events (SQL
    /// aggregation per status plus histogram binning; the rows of every status summed here),
    /// to check that the maintained roll-ups are exact.
    pub async fn rollups_from_raw_events(
        &self,
    ) -> Result<Vec<(RollupKey, RollupDelta)>, StoreError> {
        let sql = "SELECT (ts / 900000) * 900 AS b, project_id, model_id, \
            CASE WHEN is_error = 1 THEN COALESCE(NULLIF(error_type, ''), 'unknown') END AS et, \
            CAST(COUNT(*) AS BIGINT), CAST(SUM(input_tokens) AS BIGINT), \
            CAST(SUM(output_tokens) AS BIGINT), CAST(SUM(cached_input_tokens) AS BIGINT), \
            CAST(SUM(cache_write_tokens) AS BIGINT), CAST(SUM(cost_nanos) AS BIGINT), \
            CAST(SUM(CASE WHEN cost_source = 0 THEN 1 ELSE 0 END) AS BIGINT), \
            CAST(COUNT(latency_ms) AS BIGINT), CAST(COALESCE(SUM(latency_ms), 0) AS BIGINT), \
            CAST(COUNT(ttft_ms) AS BIGINT), CAST(COALESCE(SUM(ttft_ms), 0) AS BIGINT), \
            CAST(SUM(is_error) AS BIGINT), \
            CAST(SUM(CASE WHEN cost_source = 4 THEN 1 ELSE 0 END) AS BIGINT), \
            CAST(SUM(CASE WHEN cost_source = 2 THEN 1 ELSE 0 END) AS BIGINT) \
            FROM events GROUP BY 1, 2, 3, 4";
        let latencies = "SELECT (ts / 900000) * 900, project_id, model_id, \
            CASE WHEN is_error = 1 THEN COALESCE(NULLIF(error_type, ''), 'unknown') END, latency_ms \
            FROM events WHERE latency_ms IS NOT NULL";
        // A group of raw events adds to the row of every status and, when failed, its own.
        let keys = |bucket, project_id, model_id, failed: Option<String>| {
            std::iter::once(ALL_STATUSES.to_string())
                .chain(failed)
                .map(move |error_type| RollupKey {
                    bucket,
                    project_id,
                    model_id,
                    error_type,
                })
        };
        let mut out: BTreeMap<RollupKey, RollupDelta> = BTreeMap::new();
        dispatch!(self, pool => {
            let mut rows = sqlx::query(sql).fetch(pool);
            while let Some(r) = rows.try_next().await? {
                let d = delta_from_row(&r, 4, false)?;
                for key in keys(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?) {
                    out.entry(key).or_default().add(&d);
                }
            }
            drop(rows);
            let mut rows = sqlx::query(latencies).fetch(pool);
            while let Some(r) = rows.try_next().await? {
                let ms: i64 = r.try_get(4)?;
                for key in keys(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?) {
                    out.entry(key).or_default().hist[latency_bin(ms)] += 1;
                }
            }
        });
        Ok(out.into_iter().collect())
    }
}
