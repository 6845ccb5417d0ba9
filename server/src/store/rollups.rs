//! Roll-up reads: each query reads one series (project x model, or with either or both
//! [`ANY`]) over the fewest whole buckets of the three levels; and the integrity checks that
//! `verify` and the tests run.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use shared::EventStatus;
use sqlx::Row;

use super::{
    delta_from_row, hist_columns, value_groups, Backend, Group, GroupKey, GroupRow, RollupFilter,
    RollupTotals, Store, StoreError, ROLLUP_SUMS,
};
use crate::rollup::{cover, expand, latency_bin, Level, RollupDelta, RollupKey, ANY};

/// The upsert adding `rows` deltas to a level's rows (column order: key, sums, histogram).
pub(super) fn upsert_sql(level: Level, rows: usize, numbered: bool) -> String {
    let table = level.table();
    let sums: Vec<String> = ROLLUP_SUMS
        .iter()
        .map(|c| c.to_string())
        .chain(hist_columns())
        .collect();
    let updates: Vec<String> = sums
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} (bucket, project_id, model_id, error_type, {}) VALUES {} \
         ON CONFLICT (project_id, model_id, bucket, error_type) DO UPDATE SET {}",
        sums.join(", "),
        value_groups(rows, 4 + sums.len(), numbered),
        updates.join(", ")
    )
}

/// The condition choosing one series' rows: a dimension the query filters or groups by reads
/// the rows of real ids (the filter's, or every id when grouping), any other reads `ANY`.
fn series_condition(f: &RollupFilter, group: Group, args: &mut Vec<i64>) -> String {
    let mut parts = Vec::new();
    for (column, ids, grouped, table) in [
        (
            "project_id",
            &f.project_ids,
            group == Group::Project,
            "projects",
        ),
        ("model_id", &f.model_ids, group == Group::Model, "models"),
    ] {
        if !ids.is_empty() {
            let marks: Vec<String> = (0..ids.len())
                .map(|i| format!("${}", args.len() + i + 1))
                .collect();
            parts.push(format!("{column} IN ({})", marks.join(",")));
            args.extend(ids.iter().copied());
        } else if grouped {
            // A list of ids (not `<> 0`) lets both databases seek each series in the key.
            parts.push(format!("{column} IN (SELECT id FROM {table})"));
        } else {
            parts.push(format!("{column} = {ANY}"));
        }
    }
    parts.join(" AND ")
}

impl Store {
    /// Sums every roll-up row the filter selects.
    pub async fn rollup_totals(&self, f: &RollupFilter) -> Result<RollupTotals, StoreError> {
        let rows = self.rollup_grouped(f, Group::Total, true).await?;
        Ok(rows.into_iter().next().map(|r| r.sums).unwrap_or_default())
    }

    /// Sums the roll-up rows the filter selects, per group. [`Group::Bucket`] answers per
    /// quarter-hour (local hours and days in any zone are unions of them); the other groups
    /// read whole UTC days where the range has them. The histogram is read only when
    /// `with_hist` (it is most of a row's width).
    pub async fn rollup_grouped(
        &self,
        f: &RollupFilter,
        group: Group,
        with_hist: bool,
    ) -> Result<Vec<GroupRow>, StoreError> {
        let pieces = match group {
            Group::Bucket => vec![(Level::Quarter, f.start_bucket, f.end_bucket)],
            _ => cover(f.start_bucket, f.end_bucket),
        };
        let mut merged: BTreeMap<GroupKey, GroupRow> = BTreeMap::new();
        for (level, start, end) in pieces {
            for row in self
                .rollup_piece(f, group, with_hist, level, start, end)
                .await?
            {
                match merged.entry(row.key.clone()) {
                    Entry::Vacant(v) => {
                        v.insert(row);
                    }
                    Entry::Occupied(mut o) => {
                        let g = o.get_mut();
                        g.errors += row.errors;
                        g.sums.add(&row.sums);
                    }
                }
            }
        }
        Ok(merged.into_values().collect())
    }

    /// [`Self::rollup_grouped`] over `[start, end)` of one level.
    async fn rollup_piece(
        &self,
        f: &RollupFilter,
        group: Group,
        with_hist: bool,
        level: Level,
        start: i64,
        end: i64,
    ) -> Result<Vec<GroupRow>, StoreError> {
        let hist = with_hist.then(hist_columns).into_iter().flatten();
        let sums: Vec<String> = ROLLUP_SUMS
            .iter()
            .map(|c| c.to_string())
            .chain(hist)
            .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT)"))
            .collect();
        let mut args = Vec::new();
        let mut cond = series_condition(f, group, &mut args);
        cond.push_str(&format!(
            " AND bucket >= ${} AND bucket < ${}",
            args.len() + 1,
            args.len() + 2
        ));
        args.extend([start, end]);
        match f.status {
            Some(EventStatus::Success) => cond.push_str(" AND error_type = ''"),
            Some(EventStatus::Error) => cond.push_str(" AND error_type <> ''"),
            None => {}
        }
        let column = match group {
            Group::Total => "0",
            Group::Bucket => "bucket",
            Group::Model => "model_id",
            Group::Project => "project_id",
            Group::ErrorType => "error_type",
        };
        let group_by = match group {
            Group::Total => String::new(),
            _ => format!(" GROUP BY {column}"),
        };
        let sql = format!(
            "SELECT {column}, \
             CAST(COALESCE(SUM(CASE WHEN error_type <> '' THEN requests ELSE 0 END), 0) AS BIGINT), \
             {} FROM {} WHERE {cond}{group_by}",
            sums.join(", "),
            level.table()
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
                    Group::Bucket => GroupKey::Bucket(row.try_get(0)?),
                    Group::Model => GroupKey::Model(row.try_get(0)?),
                    Group::Project => GroupKey::Project(row.try_get(0)?),
                    Group::ErrorType => GroupKey::ErrorType(row.try_get(0)?),
                };
                out.push(GroupRow {
                    key,
                    errors: row.try_get(1)?,
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
        let cols: Vec<String> = ROLLUP_SUMS
            .iter()
            .map(|c| c.to_string())
            .chain(hist_columns())
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
        let rows = dispatch!(self, pool => {
            let mut out = Vec::new();
            for row in sqlx::query(&sql).fetch_all(pool).await? {
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
    /// aggregation plus histogram binning), to check that the maintained roll-ups are exact.
    pub async fn rollups_from_raw_events(
        &self,
    ) -> Result<Vec<(RollupKey, RollupDelta)>, StoreError> {
        let sql = "SELECT (ts / 900000) * 900 AS b, project_id, model_id, \
            CASE WHEN is_error = 1 THEN COALESCE(error_type, 'unknown') ELSE '' END AS et, \
            CAST(COUNT(*) AS BIGINT), CAST(SUM(input_tokens) AS BIGINT), \
            CAST(SUM(output_tokens) AS BIGINT), CAST(SUM(cached_input_tokens) AS BIGINT), \
            CAST(SUM(cache_write_tokens) AS BIGINT), CAST(SUM(cost_nanos) AS BIGINT), \
            CAST(SUM(CASE WHEN cost_source = 0 THEN 1 ELSE 0 END) AS BIGINT), \
            CAST(COUNT(latency_ms) AS BIGINT), CAST(COALESCE(SUM(latency_ms), 0) AS BIGINT), \
            CAST(COUNT(ttft_ms) AS BIGINT), CAST(COALESCE(SUM(ttft_ms), 0) AS BIGINT) \
            FROM events GROUP BY 1, 2, 3, 4";
        let latencies = "SELECT (ts / 900000) * 900, project_id, model_id, \
            CASE WHEN is_error = 1 THEN COALESCE(error_type, 'unknown') ELSE '' END, latency_ms \
            FROM events WHERE latency_ms IS NOT NULL";
        let mut out: std::collections::BTreeMap<RollupKey, RollupDelta> = Default::default();
        dispatch!(self, pool => {
            for r in sqlx::query(sql).fetch_all(pool).await? {
                let key = RollupKey {
                    bucket: r.try_get(0)?,
                    project_id: r.try_get(1)?,
                    model_id: r.try_get(2)?,
                    error_type: r.try_get(3)?,
                };
                out.insert(key, delta_from_row(&r, 4, false)?);
            }
            for r in sqlx::query(latencies).fetch_all(pool).await? {
                let key = RollupKey {
                    bucket: r.try_get(0)?,
                    project_id: r.try_get(1)?,
                    model_id: r.try_get(2)?,
                    error_type: r.try_get(3)?,
                };
                let ms: i64 = r.try_get(4)?;
                if let Some(d) = out.get_mut(&key) {
                    d.hist[latency_bin(ms)] += 1;
                }
            }
        });
        Ok(out.into_iter().collect())
    }
}
