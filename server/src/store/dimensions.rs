//! Dimensions in storage (docs/dimensions.md): the metadata keys an admin declares, and the
//! reads of raw events that breakdowns and dimension filters are answered from.

use std::collections::{BTreeMap, HashMap};

use shared::{Dimension, EventStatus};
use sqlx::Row;

use super::raw::{ExportNames, TextAt};
use super::rollups::push_id_filters;
use super::{Backend, Group, GroupKey, GroupRow, RollupFilter, Store, StoreError};
use crate::dimension::EventDims;
use crate::rollup::{
    bucket_of, error_type_shown, offset_at, CostSource, EventFacts, PricedCost, RollupDelta,
};

/// A declared metadata key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredDimension {
    pub key: String,
    pub declared_at_ms: i64,
    pub declared_by: String,
}

impl Store {
    /// The declared keys, oldest first.
    pub async fn declared_dimensions(&self) -> Result<Vec<DeclaredDimension>, StoreError> {
        let sql = "SELECT meta_key, declared_at_ms, declared_by FROM dimensions ORDER BY declared_at_ms, meta_key";
        let rows: Vec<(String, i64, String)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(key, declared_at_ms, declared_by)| DeclaredDimension {
                key,
                declared_at_ms,
                declared_by,
            })
            .collect())
    }

    /// Declares `key`, unless it is declared already or `max` keys are; answers whether it
    /// was added. (On PostgreSQL two admins declaring at the same instant could pass the limit
    /// by one: each statement counts before the other commits.)
    pub async fn declare_dimension(
        &self,
        key: &str,
        max: i64,
        by: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO dimensions (meta_key, declared_at_ms, declared_by) \
                   SELECT $1, $2, $3 WHERE (SELECT COUNT(*) FROM dimensions) < $4 \
                   ON CONFLICT (meta_key) DO NOTHING";
        let added = dispatch!(self, pool => sqlx::query(sql)
            .bind(key).bind(now_ms).bind(by).bind(max)
            .execute(pool).await?.rows_affected());
        Ok(added == 1)
    }

    /// Whether `key` was declared.
    pub async fn remove_dimension(&self, key: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM dimensions WHERE meta_key = $1";
        Ok(
            dispatch!(self, pool => sqlx::query(sql).bind(key).execute(pool).await?.rows_affected())
                > 0,
        )
    }
}

// ---- reading raw events by dimension -----------------------------------------------------

/// One stored event as a dimension read sees it; the texts borrow from the database row.
pub struct ScannedEvent<'a> {
    pub ts_ms: i64,
    pub project_id: i64,
    pub model_id: i64,
    pub facts: EventFacts,
    pub error_type: Option<&'a str>,
    pub dims: EventDims<'a>,
}

/// What a scan of raw events adds each event to (it runs on a blocking thread on SQLite).
pub trait EventSink: Send + 'static {
    fn add(&mut self, e: &ScannedEvent<'_>);
}

/// A budget's or rule's dimension scope from its stored columns (`scope_dim`, `scope_value`).
pub(super) fn stored_scope(
    dim: Option<String>,
    value: Option<String>,
) -> Option<shared::DimFilter> {
    Some(shared::DimFilter {
        dim: Dimension::parse(&dim?)?,
        value: value?,
    })
}

/// A value bound to a read's SQL.
#[derive(Clone, Debug)]
pub(super) enum Arg {
    Int(i64),
    Text(String),
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::Int(i) => i.to_sql(),
            Arg::Text(t) => t.to_sql(),
        }
    }
}

/// The columns a scan selects, in the order [`scanned_event!`] reads them.
const SCAN_COLUMNS: &str = "ts, project_id, model_id, input_tokens, output_tokens, \
    cached_input_tokens, cache_write_tokens, cost_nanos, cost_source, latency_ms, ttft_ms, \
    is_error, error_type, end_user, provider, key_id";

/// A [`ScannedEvent`] from a row of a scan (`$get`: `try_get` for sqlx, `get` for rusqlite).
macro_rules! scanned_event {
    ($r:expr, $get:ident, $keys:expr, $metadata:expr) => {{
        let is_error: i64 = $r.$get(11)?;
        let key_id: Option<i64> = $r.$get(15)?;
        ScannedEvent {
            ts_ms: $r.$get(0)?,
            project_id: $r.$get(1)?,
            model_id: $r.$get(2)?,
            facts: EventFacts {
                input_tokens: $r.$get(3)?,
                output_tokens: $r.$get(4)?,
                cached_input_tokens: $r.$get(5)?,
                cache_write_tokens: $r.$get(6)?,
                cost: PricedCost {
                    nanos: $r.$get(7)?,
                    source: CostSource::from_code($r.$get(8)?),
                },
                latency_ms: $r.$get(9)?,
                ttft_ms: $r.$get(10)?,
                failed: is_error == 1,
            },
            error_type: $r.text_at(12)?,
            dims: EventDims {
                user: $r.text_at(13)?,
                provider: $r.text_at(14)?,
                key: key_id.and_then(|id| $keys.get(&id)).map(String::as_str),
                metadata: $metadata,
            },
        }
    }};
}

/// `AND …` conditions on events (columns after `prefix`) for the filter's dimension values
/// (`f.dims`, the end user also as `f.user_also`), with their values appended to `args`
/// (numbered after those already there); `None` when no event can match (an unknown key
/// prefix). With `exact`, a declared key's value is compared through the database's JSON
/// functions (a value "(invalid)" is then not narrowed); without, SQL only narrows by a
/// substring and the caller checks each event with [`RollupFilter::wants`].
pub(super) fn dim_conditions(
    f: &RollupFilter,
    keys: &HashMap<i64, String>,
    postgres: bool,
    prefix: &str,
    exact: bool,
    args: &mut Vec<Arg>,
) -> Option<String> {
    let mut sql = String::new();
    for d in &f.dims {
        let missing = d.value == d.dim.missing();
        let column = match &d.dim {
            Dimension::User => "end_user",
            Dimension::Provider => "provider",
            Dimension::Key if missing => {
                sql.push_str(&format!(" AND {prefix}key_id IS NULL"));
                continue;
            }
            Dimension::Key => {
                let (id, _) = keys.iter().find(|(_, p)| **p == d.value)?;
                args.push(Arg::Int(*id));
                sql.push_str(&format!(" AND {prefix}key_id = ${}", args.len()));
                continue;
            }
            Dimension::Meta(key) => {
                if d.value == shared::VALUE_INVALID {
                    continue;
                }
                if exact {
                    // The key is bound, never written into the SQL text: a filter may name
                    // any key, declared or not.
                    let field = if postgres {
                        args.push(Arg::Text(key.clone()));
                        format!("({prefix}metadata::jsonb ->> ${})", args.len())
                    } else {
                        args.push(Arg::Text(format!("$.\"{}\"", key.replace('"', "\\\""))));
                        format!(
                            "CAST(json_extract({prefix}metadata, ${}) AS TEXT)",
                            args.len()
                        )
                    };
                    if missing {
                        sql.push_str(&format!(" AND {field} IS NULL"));
                    } else {
                        args.push(Arg::Text(d.value.clone()));
                        sql.push_str(&format!(" AND {field} = ${}", args.len()));
                    }
                } else if !missing && crate::dimension::verbatim_in_json(&d.value) {
                    args.push(Arg::Text(d.value.clone()));
                    let find = if postgres { "strpos" } else { "instr" };
                    sql.push_str(&format!(
                        " AND {find}({prefix}metadata, ${}) > 0",
                        args.len()
                    ));
                }
                continue;
            }
        };
        if missing {
            sql.push_str(&format!(" AND {prefix}{column} IS NULL"));
        } else if let (Dimension::User, Some(also)) = (&d.dim, &f.user_also) {
            args.push(Arg::Text(d.value.clone()));
            args.push(Arg::Text(also.clone()));
            let (a, b) = (args.len() - 1, args.len());
            sql.push_str(&format!(" AND {prefix}{column} IN (${a}, ${b})"));
        } else {
            args.push(Arg::Text(d.value.clone()));
            sql.push_str(&format!(" AND {prefix}{column} = ${}", args.len()));
        }
    }
    Some(sql)
}

impl RollupFilter {
    /// Whether an event has every dimension value the filter asks for.
    pub fn wants(&self, e: &EventDims<'_>) -> bool {
        self.dims.iter().all(|d| {
            let value = e.value(&d.dim);
            value == d.value
                || (d.dim == Dimension::User && self.user_also.as_deref() == Some(&*value))
        })
    }
}

impl Store {
    /// Ingest keys' prefixes by id.
    pub(super) async fn key_prefixes(&self) -> Result<HashMap<i64, String>, StoreError> {
        let [_, _, keys] = ExportNames::SQL;
        let rows: Vec<(i64, String)> =
            dispatch!(self, pool => sqlx::query_as(keys).fetch_all(pool).await?);
        Ok(rows.into_iter().collect())
    }

    /// Adds every stored event the filter selects (range, projects, models, status and
    /// dimension values) to `sink`, and hands the sink back. `metadata` says whether the
    /// events' metadata is read (declared keys); the dimension filters' own needs are added.
    /// SQL narrows the events by each filter where a column or an index can (end user,
    /// provider, key; a substring of the metadata); every event is then checked exactly.
    pub async fn scan_events<S: EventSink>(
        &self,
        f: &RollupFilter,
        metadata: bool,
        sink: S,
    ) -> Result<S, StoreError> {
        let keys = self.key_prefixes().await?;
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let metadata = metadata || f.dims.iter().any(|d| matches!(d.dim, Dimension::Meta(_)));
        let mut sql = format!(
            "SELECT {SCAN_COLUMNS}, {} FROM events WHERE ts >= $1 AND ts < $2",
            if metadata { "metadata" } else { "NULL" }
        );
        let mut range = vec![f.start_bucket * 1000, f.end_bucket * 1000];
        push_id_filters(&mut sql, &mut range, f, "");
        let mut args: Vec<Arg> = range.into_iter().map(Arg::Int).collect();
        match f.status {
            Some(EventStatus::Success) => sql.push_str(" AND is_error = 0"),
            Some(EventStatus::Error) => sql.push_str(" AND is_error = 1"),
            None => {}
        }
        match dim_conditions(f, &keys, postgres, "", false, &mut args) {
            Some(conditions) => sql.push_str(&conditions),
            None => return Ok(sink),
        }
        let filter = f.clone();
        let wanted = move |e: &ScannedEvent<'_>| filter.wants(&e.dims);
        match &self.backend {
            Backend::Sqlite(pool) => {
                let path = pool.connect_options().get_filename().to_path_buf();
                let read = move || -> Result<S, StoreError> {
                    let mut sink = sink;
                    let conn = super::sqlite::open_reader(&path)?;
                    let mut stmt = conn.prepare(&sql)?;
                    let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
                    while let Some(r) = rows.next()? {
                        let meta = r.text_at(16)?;
                        let e = scanned_event!(r, get, keys, meta);
                        if wanted(&e) {
                            sink.add(&e);
                        }
                    }
                    Ok(sink)
                };
                tokio::task::spawn_blocking(read)
                    .await
                    .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
            }
            Backend::Postgres(pool) => {
                use futures::TryStreamExt;
                let mut sink = sink;
                let mut rows = bind_args!(sqlx::query(&sql), args).fetch(pool);
                while let Some(r) = rows.try_next().await? {
                    let meta = r.text_at(16)?;
                    let e = scanned_event!(r, try_get, keys, meta);
                    if wanted(&e) {
                        sink.add(&e);
                    }
                }
                Ok(sink)
            }
        }
    }

    /// [`Store::rollup_grouped`] for a filter with dimension values: the same groups and
    /// sums, added up from the raw events (every sum, whatever `sums` asks for).
    pub(super) async fn grouped_from_events(
        &self,
        f: &RollupFilter,
        group: Group,
    ) -> Result<Vec<GroupRow>, StoreError> {
        let filter = match group {
            Group::ErrorType => RollupFilter {
                status: Some(EventStatus::Error),
                ..f.clone()
            },
            _ => f.clone(),
        };
        let sink = GroupSink {
            group,
            offsets: f.offsets.clone(),
            rows: BTreeMap::new(),
        };
        let sink = self.scan_events(&filter, false, sink).await?;
        Ok(sink
            .rows
            .into_iter()
            .map(|(key, sums)| GroupRow { key, sums })
            .collect())
    }
}

/// Sums events per [`GroupKey`], as the roll-up reads would.
struct GroupSink {
    group: Group,
    offsets: Vec<(i64, i64)>,
    rows: BTreeMap<GroupKey, RollupDelta>,
}

impl EventSink for GroupSink {
    fn add(&mut self, e: &ScannedEvent<'_>) {
        let bucket = bucket_of(e.ts_ms);
        let local = bucket + offset_at(&self.offsets, bucket);
        let key = match self.group {
            Group::Total => GroupKey::Total,
            Group::LocalDay => GroupKey::LocalDay(local.div_euclid(86_400)),
            Group::LocalHourOfWeek => {
                GroupKey::LocalHourOfWeek((local.div_euclid(3_600) + 72).rem_euclid(168))
            }
            Group::Model => GroupKey::Model(e.model_id),
            Group::Project => GroupKey::Project(e.project_id),
            Group::ErrorType => GroupKey::ErrorType(error_type_shown(e.error_type).to_string()),
            Group::ProjectModel => GroupKey::ProjectModel(e.project_id, e.model_id),
            Group::ModelBucket => GroupKey::ModelBucket(e.model_id, bucket),
            Group::ModelLocalDay => GroupKey::ModelLocalDay(e.model_id, local.div_euclid(86_400)),
            Group::ProjectLocalDay => {
                GroupKey::ProjectLocalDay(e.project_id, local.div_euclid(86_400))
            }
        };
        self.rows.entry(key).or_default().add_event(&e.facts);
    }
}
