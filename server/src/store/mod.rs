//! Storage: one interface ([`Store`]) over SQLite (default, a file) and PostgreSQL.
//!
//! Both backends run the same SQL text wherever the dialects agree (`$N` parameters,
//! `ON CONFLICT`, `RETURNING`); [`dispatch!`] expands a body once per backend so each copy is
//! type-checked against its own driver. Connection set-up and migrations live in
//! `sqlite.rs` and `postgres.rs`.

/// A [`RawEvent`] borrowing from a row of the raw export's query (columns in
/// `stream_events`' order); `$get` is the row type's getter for numbers: `try_get` for sqlx,
/// `get` for rusqlite. Text is read in place through [`TextAt`], without a copy; project and
/// model names come from `$names` (an [`ExportNames`]).
macro_rules! raw_event_from_row {
    ($r:expr, $get:ident, $names:expr) => {
        RawEvent {
            id: $r.text_at(0)?,
            timestamp_ms: $r.$get(1)?,
            project: $names.project($r.$get(2)?),
            model: $names.model($r.$get(3)?),
            input_tokens: $r.$get(4)?,
            output_tokens: $r.$get(5)?,
            cached_input_tokens: $r.$get(6)?,
            cache_write_tokens: $r.$get(7)?,
            cost_nanos: $r.$get(8)?,
            cost_source: $r.$get(9)?,
            latency_ms: $r.$get(10)?,
            ttft_ms: $r.$get(11)?,
            is_error: {
                let flag: i64 = $r.$get(12)?;
                flag == 1
            },
            error_type: $r.text_at(13)?,
            error_message: $r.text_at(14)?,
            user: $r.text_at(15)?,
            metadata: $r.text_at(16)?,
            provider: $r.text_at(17)?,
            cache_write_1h_tokens: $r.$get(18)?,
            service_tier: $r.text_at(19)?,
            key: $names.key($r.$get(20)?),
        }
    };
}

mod migrate;
mod postgres;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use shared::{EventStatus, IngestResponse, ModelPrice, UsageEvent};
use sqlx::{PgPool, Row, SqlitePool};

use crate::rollup::{BatchRollup, PricedCost, RollupDelta, HIST_BINS};

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Read(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("cannot create the data directory: {0}")]
    Io(#[from] std::io::Error),
}

/// The connection pool of the chosen backend.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend is in use.
/// `q` with every [`dimensions::Arg`] of `args` bound in order.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                $crate::store::dimensions::Arg::Int(i) => q.bind(i),
                $crate::store::dimensions::Arg::Text(t) => q.bind(t),
            };
        }
        q
    }};
}

macro_rules! dispatch {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

mod access;
mod alerts;
mod backup;
mod budgets;
mod dimensions;
pub use dimensions::{EventSink, ScannedEvent};
mod end_users;
pub use end_users::ERASED;
mod overrides;
pub mod reprice;
mod retention;
mod rollups;
pub use crate::access::Principal;
pub use access::LoginRow;
pub use alerts::{AlertChange, AlertRuleRow, Attempt, DueDelivery};
pub use budgets::{BudgetAlert, BudgetRow};
pub(crate) use postgres::MAX_CONNECTIONS as POSTGRES_CONNECTIONS;
pub use shared::{AuditEntry, KeyInfo, Project, TokenInfo, UserInfo};

/// One batch of one project, ready to store: new events (no repeated id and timestamp), their costs and
/// the ids of their models.
pub(crate) struct Batch {
    pub project_id: i64,
    /// The ingest key the batch came through (`None`: imported or generated).
    pub key_id: Option<i64>,
    pub received_ms: i64,
    pub events: Vec<UsageEvent>,
    pub costs: Vec<PricedCost>,
    pub model_ids: HashMap<String, i64>,
}

/// One event's values in [`EVENT_COLUMNS`] order after `project_id`: the client's id, ten
/// integers (`ts` to `cache_write_1h_tokens`), latency, time to first token, the error flag
/// six texts (`error_type`, `error_message`, `end_user`, `metadata`, `provider`,
/// `service_tier`) and the ingest key.
pub(crate) struct EventRow<'a> {
    pub client_id: Option<&'a str>,
    pub ints: [i64; 10],
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub is_error: i64,
    pub texts: [Option<&'a str>; 6],
    pub key_id: Option<i64>,
}

impl Batch {
    /// The roll-up deltas of the events whose `accepted` flag is set (all when `None`).
    pub fn rollup(&self, accepted: Option<&[bool]>) -> BatchRollup {
        let mut rollup = BatchRollup::default();
        for (i, (e, cost)) in self.events.iter().zip(&self.costs).enumerate() {
            if accepted.is_none_or(|a| a[i]) {
                rollup.add(self.project_id, self.model_ids[&e.model], e, *cost);
            }
        }
        rollup
    }

    /// The events' values as stored, in the batch's order.
    pub fn rows(&self) -> impl Iterator<Item = EventRow<'_>> {
        self.events
            .iter()
            .zip(&self.costs)
            .map(|(e, cost)| EventRow {
                client_id: e.id.as_deref(),
                ints: [
                    e.timestamp_ms,
                    self.received_ms,
                    self.model_ids[&e.model],
                    e.input_tokens,
                    e.output_tokens,
                    e.cached_input_tokens,
                    e.cache_write_tokens,
                    cost.nanos,
                    cost.source as i64,
                    e.cache_write_1h_tokens,
                ],
                latency_ms: e.latency_ms,
                ttft_ms: e.ttft_ms,
                is_error: (e.status == EventStatus::Error) as i64,
                texts: [
                    e.error_type.as_deref(),
                    e.error_message.as_deref(),
                    e.user.as_deref(),
                    e.metadata.as_deref(),
                    e.provider.as_deref(),
                    e.service_tier.map(|t| t.as_str()),
                ],
                key_id: self.key_id,
            })
    }
}

/// The live feed's poll (twice a second on SQLite): the projects of events above a row id.
/// `+project_id` keeps SQLite from answering the GROUP BY by walking the whole (project_id,
/// ts, client_id) index, which covers `id` and is already in project order: it chose that
/// plan, a full scan every poll (several seconds at 60M events, on the core ingest needed),
/// over reading only the new rows through the primary key.
pub const CHANGED_AFTER_SQL: &str =
    "SELECT +project_id, MAX(id) FROM events WHERE id > $1 GROUP BY +project_id";

/// SQLite is written through a connection of our own to its file.
const NO_SQLITE_FILE: &str =
    "SQLite needs a database file (sqlite://path/to/file.db); in-memory databases are not supported";

/// Handle to the database; cheap to clone and shared by every request.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Model name → id. Model rows are never changed or deleted, so caching them is safe
    /// across replicas.
    models: Arc<RwLock<HashMap<String, i64>>>,
    /// Model id → the provider last recorded for it (`models.provider`), so that a batch
    /// writes a model's provider only when it changes.
    providers: Arc<RwLock<HashMap<i64, String>>>,
    /// SQLite has one writer: ingest batches (and retention's deletes) queue here rather than
    /// spin on SQLITE_BUSY. It holds the connection ingest writes through (`None` on
    /// PostgreSQL).
    write_lock: Arc<tokio::sync::Mutex<Option<rusqlite::Connection>>>,
    /// When to analyse PostgreSQL's roll-ups (unused on SQLite, which needs no statistics
    /// for its plans).
    statistics: Arc<postgres::StatisticsKeeper>,
    /// The pricing module's parsed copy of the imported price catalogue, by import id (the
    /// store does not know its type: pricing sits above storage).
    catalogue: Arc<RwLock<Option<(i64, Cached)>>>,
    /// The key end users' ids are hashed with at ingest (`UA_HASH_END_USERS=1`); `None`:
    /// stored as sent.
    end_user_key: Arc<RwLock<Option<String>>>,
}

/// A value kept by [`Store::cache`], of a type the store does not know.
type Cached = Arc<dyn std::any::Any + Send + Sync>;

/// One stored event as exported, with project and model names; the text borrows from the
/// database row it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct RawEvent<'a> {
    pub id: Option<&'a str>,
    pub timestamp_ms: i64,
    pub project: &'a str,
    pub model: &'a str,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_nanos: i64,
    /// A [`crate::rollup::CostSource`]: 0 unpriced, 1 price table, 2 sent by the client,
    /// 3 catalogue, 4 catalogue by fallback.
    pub cost_source: i64,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub is_error: bool,
    pub error_type: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub user: Option<&'a str>,
    pub metadata: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub cache_write_1h_tokens: i64,
    /// `batch`, `flex` or `priority`; `None` is the default tier.
    pub service_tier: Option<&'a str>,
    /// The prefix of the ingest key the event came through.
    pub key: Option<&'a str>,
}

/// A text column of a row, borrowed (NULL is `None`).
trait TextAt {
    type Error;
    fn text_at(&self, i: usize) -> Result<Option<&str>, Self::Error>;
}

impl TextAt for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn text_at(&self, i: usize) -> Result<Option<&str>, rusqlite::Error> {
        self.get_ref(i)?.as_str_or_null().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    }
}

impl TextAt for sqlx::sqlite::SqliteRow {
    type Error = sqlx::Error;
    fn text_at(&self, i: usize) -> Result<Option<&str>, sqlx::Error> {
        self.try_get(i)
    }
}

impl TextAt for sqlx::postgres::PgRow {
    type Error = sqlx::Error;
    fn text_at(&self, i: usize) -> Result<Option<&str>, sqlx::Error> {
        self.try_get(i)
    }
}

/// The names of projects and models by id, read in the raw export's transaction: looked up
/// here, the export's query joins nothing (two B-tree searches less per event).
struct ExportNames {
    projects: HashMap<i64, String>,
    models: HashMap<i64, String>,
    /// Ingest keys' prefixes (never the secret).
    keys: HashMap<i64, String>,
}

impl ExportNames {
    /// The three lists, in the order [`ExportNames::from_rows`] takes them.
    const SQL: [&str; 3] = [
        "SELECT id, name FROM projects",
        "SELECT id, name FROM models",
        "SELECT id, prefix FROM api_keys",
    ];

    fn from_rows([projects, models, keys]: [Vec<(i64, String)>; 3]) -> ExportNames {
        ExportNames {
            projects: projects.into_iter().collect(),
            models: models.into_iter().collect(),
            keys: keys.into_iter().collect(),
        }
    }

    /// An ingest key's prefix; `None` for events without a key (imported or generated, or
    /// stored before keys were recorded).
    fn key(&self, id: Option<i64>) -> Option<&str> {
        id.and_then(|id| self.keys.get(&id)).map(String::as_str)
    }

    /// A project's name; events reference projects by foreign key, so one read in the same
    /// transaction always has it.
    fn project(&self, id: i64) -> &str {
        self.projects.get(&id).map_or("", String::as_str)
    }

    fn model(&self, id: i64) -> &str {
        self.models.get(&id).map_or("", String::as_str)
    }
}

/// Writes one exported event into a chunk of the export (see [`Store::stream_events`]).
pub type WriteEvent = fn(&mut Vec<u8>, &RawEvent<'_>);

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
    fn includes(self, column: &str) -> bool {
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
}

/// One group's sums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRow {
    pub key: GroupKey,
    pub sums: RollupDelta,
}

/// Sums of roll-up rows (the additive columns and the merged latency histogram).
pub type RollupTotals = RollupDelta;

const EVENT_COLUMNS: &str = "project_id, client_id, ts, received_at, model_id, input_tokens, \
    output_tokens, cached_input_tokens, cache_write_tokens, cost_nanos, cost_source, \
    cache_write_1h_tokens, latency_ms, ttft_ms, is_error, error_type, error_message, end_user, \
    metadata, provider, service_tier, key_id";
/// Bytes after which [`Store::stream_events`] sends a chunk on (a chunk ends with a whole event).
pub const EXPORT_CHUNK_BYTES: usize = 128 * 1024;

/// Writes one event into the export's current `chunk`; hands back the full chunk, to be
/// sent, once it holds [`EXPORT_CHUNK_BYTES`].
fn write_to_chunk(chunk: &mut Vec<u8>, write: WriteEvent, e: &RawEvent<'_>) -> Option<Vec<u8>> {
    write(chunk, e);
    (chunk.len() >= EXPORT_CHUNK_BYTES).then(|| std::mem::replace(chunk, new_chunk()))
}

/// An empty chunk with room for the event that crosses [`EXPORT_CHUNK_BYTES`].
fn new_chunk() -> Vec<u8> {
    Vec::with_capacity(EXPORT_CHUNK_BYTES + 4096)
}
/// The additive roll-up columns, in the order of [`RollupDelta`]'s fields.
const ROLLUP_SUMS: [&str; 14] = [
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

fn hist_columns() -> impl Iterator<Item = String> {
    (0..HIST_BINS).map(|i| format!("h{i:02}"))
}

/// Appends `AND <prefix>project_id IN (…)` / `model_id IN (…)` for the filter's non-empty id
/// lists, numbering the parameters after those already in `args`.
fn push_id_filters(sql: &mut String, args: &mut Vec<i64>, f: &RollupFilter, prefix: &str) {
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

/// PostgreSQL's "deadlock detected" and "could not serialize" errors.
fn is_deadlock(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40P01" || c == "40001")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Reads the additive columns and histogram from a row whose first columns are, in order,
/// the [`ROLLUP_SUMS`] columns and then (when `with_hist`) the histogram bins, from `offset`.
fn delta_from_row<R: Row>(
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

impl Store {
    /// Opens the database named by `url` (SQLite when `None`: `data/usage-analytics.db`)
    /// and applies pending migrations.
    pub async fn connect(url: Option<&str>) -> Result<Store, StoreError> {
        let backend = match url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Backend::Postgres(postgres::open(u).await?)
            }
            Some(u) if u.starts_with("sqlite:") => Backend::Sqlite(sqlite::open(u).await?),
            Some(u) => {
                return Err(StoreError::Url(format!(
                    "{u:?}: expected postgres://… or sqlite:…"
                )))
            }
            None => {
                std::fs::create_dir_all("data")?;
                Backend::Sqlite(sqlite::open("sqlite://data/usage-analytics.db").await?)
            }
        };
        let writer = match &backend {
            Backend::Sqlite(pool) => {
                let path = pool.connect_options().get_filename().to_path_buf();
                if !path.exists() {
                    return Err(StoreError::Url(NO_SQLITE_FILE.into()));
                }
                Some(sqlite::open_writer(&path)?)
            }
            Backend::Postgres(_) => None,
        };
        Ok(Store {
            backend,
            models: Arc::default(),
            providers: Arc::default(),
            write_lock: Arc::new(tokio::sync::Mutex::new(writer)),
            catalogue: Arc::new(RwLock::new(None)),
            end_user_key: Arc::new(RwLock::new(None)),
            statistics: Arc::default(),
        })
    }

    /// `sqlite` or `postgres`, for logs and reports.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Answers whether the database can be reached.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?);
        Ok(())
    }

    // ---- projects -------------------------------------------------------------------

    /// Creates a project; names are unique.
    pub async fn create_project(&self, name: &str) -> Result<Project, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(StoreError::Conflict(
                "a project name must have 1 to 200 characters".into(),
            ));
        }
        let created = now_ms();
        let sql = "INSERT INTO projects (name, created_at) VALUES ($1, $2) \
                   ON CONFLICT (name) DO NOTHING RETURNING id";
        let id: Option<i64> = dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(name).bind(created).fetch_optional(pool).await?);
        match id {
            Some(id) => Ok(Project {
                id,
                name: name.to_string(),
                created_at_ms: created,
            }),
            None => Err(StoreError::Conflict(format!(
                "a project named {name:?} already exists"
            ))),
        }
    }

    /// All projects, by name.
    pub async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let sql = "SELECT id, name, created_at FROM projects ORDER BY name";
        let rows: Vec<(i64, String, i64)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at_ms)| Project {
                id,
                name,
                created_at_ms,
            })
            .collect())
    }

    /// The project with this exact name.
    pub async fn project_by_name(&self, name: &str) -> Result<Project, StoreError> {
        self.list_projects()
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::NotFound(format!("no project named {name:?}")))
    }

    // ---- ingest keys ----------------------------------------------------------------

    /// Creates an ingest key for a project and returns the full key; only its hash is kept.
    pub async fn create_key(&self, project: &str) -> Result<(KeyInfo, String), StoreError> {
        let project = self.project_by_name(project).await?;
        let (prefix, key) = crate::access::secrets::generate();
        let created = now_ms();
        let sql = "INSERT INTO api_keys (project_id, prefix, key_hash, created_at) \
                   VALUES ($1, $2, $3, $4)";
        dispatch!(self, pool => sqlx::query(sql)
            .bind(project.id).bind(&prefix).bind(crate::access::secrets::hash(&key)).bind(created)
            .execute(pool).await.map(|_| ())?);
        let info = KeyInfo {
            prefix,
            project: project.name,
            created_at_ms: created,
            revoked_at_ms: None,
        };
        Ok((info, key))
    }

    /// All ingest keys, newest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let sql = "SELECT k.prefix, p.name, k.created_at, k.revoked_at FROM api_keys k \
                   JOIN projects p ON p.id = k.project_id ORDER BY k.created_at DESC, k.id DESC";
        let rows: Vec<(String, String, i64, Option<i64>)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(prefix, project, created_at_ms, revoked_at_ms)| KeyInfo {
                prefix,
                project,
                created_at_ms,
                revoked_at_ms,
            })
            .collect())
    }

    /// Revokes the key with this prefix; it stops working at once.
    pub async fn revoke_key(&self, prefix: &str) -> Result<(), StoreError> {
        let sql = "UPDATE api_keys SET revoked_at = $1 WHERE prefix = $2 AND revoked_at IS NULL";
        let done = dispatch!(self, pool => sqlx::query(sql)
            .bind(now_ms()).bind(prefix).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound(format!(
                "no active key with prefix {prefix:?}"
            )));
        }
        Ok(())
    }

    /// The project an ingest key writes to, or `None` for an unknown or revoked key.
    /// The project and id of a valid, unrevoked ingest key.
    pub async fn authenticate_key(&self, key: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let Some(prefix) = crate::access::secrets::prefix_of(key) else {
            return Ok(None);
        };
        let sql = "SELECT project_id, id, key_hash FROM api_keys \
                   WHERE prefix = $1 AND revoked_at IS NULL";
        let row: Option<(i64, i64, String)> = dispatch!(self, pool => sqlx::query_as(sql)
            .bind(prefix).fetch_optional(pool).await?);
        Ok(row.and_then(|(project_id, key_id, stored)| {
            crate::access::secrets::hash_matches(key, &stored).then_some((project_id, key_id))
        }))
    }

    // ---- prices ---------------------------------------------------------------------

    /// Records a price for a model from a date on (replacing one set for the same instant).
    pub async fn set_price(&self, p: &ModelPrice) -> Result<(), StoreError> {
        let sql = "INSERT INTO model_prices (model, effective_from, input_micros_per_mtok, \
                   cached_input_micros_per_mtok, cache_write_micros_per_mtok, output_micros_per_mtok) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (model, effective_from) DO UPDATE SET \
                   input_micros_per_mtok = excluded.input_micros_per_mtok, \
                   cached_input_micros_per_mtok = excluded.cached_input_micros_per_mtok, \
                   cache_write_micros_per_mtok = excluded.cache_write_micros_per_mtok, \
                   output_micros_per_mtok = excluded.output_micros_per_mtok";
        dispatch!(self, pool => sqlx::query(sql)
            .bind(&p.model).bind(p.effective_from_ms).bind(p.input).bind(p.cached_input)
            .bind(p.cache_write).bind(p.output).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Every price row, by model and date.
    pub async fn list_prices(&self) -> Result<Vec<ModelPrice>, StoreError> {
        let sql =
            "SELECT model, effective_from, input_micros_per_mtok, cached_input_micros_per_mtok, \
                   cache_write_micros_per_mtok, output_micros_per_mtok FROM model_prices \
                   ORDER BY model, effective_from";
        let rows: Vec<(String, i64, i64, i64, i64, i64)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(model, effective_from_ms, input, cached_input, cache_write, output)| ModelPrice {
                    model,
                    effective_from_ms,
                    input,
                    cached_input,
                    cache_write,
                    output,
                },
            )
            .collect())
    }

    // ---- models ---------------------------------------------------------------------

    /// Ids of these model names, creating the missing ones.
    async fn model_ids(&self, names: &HashSet<&str>) -> Result<HashMap<String, i64>, StoreError> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.models.read().expect("model cache poisoned");
            for name in names {
                match cache.get(*name) {
                    Some(id) => {
                        out.insert(name.to_string(), *id);
                    }
                    None => missing.push(*name),
                }
            }
        }
        for name in missing {
            let insert = "INSERT INTO models (name) VALUES ($1) ON CONFLICT (name) DO NOTHING";
            let select = "SELECT id FROM models WHERE name = $1";
            let id: i64 = dispatch!(self, pool => {
                sqlx::query(insert).bind(name).execute(pool).await?;
                sqlx::query_scalar(select).bind(name).fetch_one(pool).await?
            });
            self.models
                .write()
                .expect("model cache poisoned")
                .insert(name.to_string(), id);
            out.insert(name.to_string(), id);
        }
        Ok(out)
    }

    /// Model names and ids that appear in the data.
    pub async fn list_models(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = "SELECT id, name FROM models ORDER BY name";
        Ok(dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// Model id → the provider its events last named.
    pub async fn model_providers(&self) -> Result<HashMap<i64, String>, StoreError> {
        let sql = "SELECT id, provider FROM models WHERE provider IS NOT NULL";
        let rows: Vec<(i64, String)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows.into_iter().collect())
    }

    /// The batch's (model id, provider) pairs the models table does not hold yet.
    fn new_providers(&self, b: &Batch) -> Vec<(i64, String)> {
        let known = self.providers.read().expect("provider cache poisoned");
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for e in &b.events {
            if let Some(p) = &e.provider {
                let id = b.model_ids[&e.model];
                if known.get(&id) != Some(p) && seen.insert(id) {
                    out.push((id, p.clone()));
                }
            }
        }
        out
    }

    // ---- ingest ---------------------------------------------------------------------

    /// Stores a validated, priced batch for one project (`costs[i]` is `events[i]`'s; see
    /// `ingest::submit`): raw events and their roll-ups in one transaction. Events whose `id` and timestamp are already stored for the project (or
    /// repeated within the batch) are duplicates and change nothing, also when retried
    /// concurrently. The same id at another timestamp is a new event.
    pub async fn ingest(
        &self,
        project_id: i64,
        key_id: Option<i64>,
        events: &[UsageEvent],
        costs: &[PricedCost],
    ) -> Result<IngestResponse, StoreError> {
        // PostgreSQL may pick this transaction as a deadlock victim when batches of several
        // projects add to the same "any" rows; it was rolled back whole, so run it again.
        let mut attempt = 0;
        loop {
            match self.ingest_once(project_id, key_id, events, costs).await {
                Err(StoreError::Db(e)) if attempt < 3 && is_deadlock(&e) => {
                    attempt += 1;
                    tracing::warn!("ingest: deadlock, retrying the batch (attempt {attempt})");
                }
                other => return other,
            }
        }
    }

    async fn ingest_once(
        &self,
        project_id: i64,
        key_id: Option<i64>,
        events: &[UsageEvent],
        costs: &[PricedCost],
    ) -> Result<IngestResponse, StoreError> {
        let events_len = events.len() as u64;
        // Later copies of an id and timestamp within the batch are duplicates of the first.
        let mut seen = HashSet::new();
        let (fresh, costs): (Vec<UsageEvent>, Vec<PricedCost>) = (events.iter().zip(costs))
            .filter(|(e, _)| {
                (e.id.as_ref()).is_none_or(|id| seen.insert((id.as_str(), e.timestamp_ms)))
            })
            .map(|(e, c)| (e.clone(), *c))
            .unzip();
        let names: HashSet<&str> = fresh.iter().map(|e| e.model.as_str()).collect();
        let model_ids = self.model_ids(&names).await?;
        let batch = Batch {
            project_id,
            key_id,
            received_ms: now_ms(),
            events: fresh,
            costs,
            model_ids,
        };
        let providers = self.new_providers(&batch);
        let accepted = match &self.backend {
            Backend::Sqlite(_) => {
                // Built before waiting for the writer, so on the other core while it writes
                // the previous batch: the roll-ups of the batch if every event is new.
                let expected = sqlite::expected_rollups(&batch);
                let mut writer = self.write_lock.clone().lock_owned().await;
                let changed = providers.clone();
                tokio::task::spawn_blocking(move || match writer.as_mut() {
                    Some(conn) => {
                        for (id, provider) in &changed {
                            conn.execute(
                                "UPDATE models SET provider = ?1 WHERE id = ?2",
                                rusqlite::params![provider, id],
                            )?;
                        }
                        sqlite::write_batch(conn, &batch, expected)
                    }
                    None => Err(StoreError::Url(NO_SQLITE_FILE.into())),
                })
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))??
            }
            Backend::Postgres(pool) => {
                for (id, provider) in &providers {
                    sqlx::query("UPDATE models SET provider = $1 WHERE id = $2")
                        .bind(provider)
                        .bind(id)
                        .execute(pool)
                        .await?;
                }
                let accepted = postgres::write_batch(pool, &batch).await?;
                if self.statistics.count(accepted) {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        match postgres::analyze_grown_rollups(&pool).await {
                            Ok(tables) if !tables.is_empty() => {
                                tracing::info!("analysed {} grown roll-up tables", tables.len())
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!("analysing the roll-ups: {e}"),
                        }
                    });
                }
                accepted
            }
        };
        if !providers.is_empty() {
            let mut known = self.providers.write().expect("provider cache poisoned");
            known.extend(providers);
        }
        Ok(IngestResponse {
            accepted,
            duplicates: events_len - accepted,
        })
    }

    /// The value kept by [`Store::cache`] for `version`, if that is the one kept.
    pub fn cached<T: std::any::Any + Send + Sync>(&self, version: i64) -> Option<Arc<T>> {
        let slot = self.catalogue.read().ok()?;
        let (v, value) = slot.as_ref()?;
        (*v == version).then(|| value.clone().downcast::<T>().ok())?
    }

    /// Keeps `value` as what `version` parses to (one value at a time).
    pub fn cache<T: std::any::Any + Send + Sync>(&self, version: i64, value: Arc<T>) {
        if let Ok(mut slot) = self.catalogue.write() {
            *slot = Some((version, value));
        }
    }

    // ---- benchmark baseline ---------------------------------------------------------

    /// The six panels answered straight from raw events, the naive way (the benchmark's
    /// baseline; never used by the product). `offset_ms` is a fixed UTC offset for local days
    /// and hours. Exact percentiles are not computed, which flatters the baseline.
    pub async fn naive_panels(
        &self,
        start_ms: i64,
        end_ms: i64,
        project_ids: &[i64],
        offset_ms: i64,
    ) -> Result<(), StoreError> {
        let mut cond = String::from("ts >= $1 AND ts < $2");
        for (i, _) in project_ids.iter().enumerate() {
            cond.push_str(if i == 0 { " AND project_id IN (" } else { "," });
            cond.push_str(&format!("${}", i + 3));
        }
        if !project_ids.is_empty() {
            cond.push(')');
        }
        let sums = "COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_nanos), \
                    SUM(is_error), SUM(latency_ms), COUNT(latency_ms)";
        // The offset is the last parameter, bound only by the queries that use it.
        let off = format!("${}", project_ids.len() + 3);
        let queries = [
            (format!("SELECT {sums} FROM events WHERE {cond}"), false),
            (format!("SELECT (ts + {off}) / 86400000, {sums} FROM events WHERE {cond} GROUP BY 1"), true),
            (format!("SELECT model_id, {sums} FROM events WHERE {cond} GROUP BY 1"), false),
            (format!("SELECT project_id, {sums} FROM events WHERE {cond} GROUP BY 1"), false),
            (format!("SELECT ((ts + {off}) / 3600000) % 24, {sums} FROM events WHERE {cond} GROUP BY 1"), true),
            (format!("SELECT error_type, {sums} FROM events WHERE {cond} AND is_error = 1 GROUP BY 1"), false),
        ];
        // Scanning raw events is where parallel workers pay: give the baseline PostgreSQL's
        // default of two back (our connections turn them off, see `postgres::open`).
        let set_up: &[&str] = match self.backend {
            Backend::Postgres(_) => &["SET LOCAL max_parallel_workers_per_gather = 2"],
            Backend::Sqlite(_) => &[],
        };
        for (sql, uses_offset) in &queries {
            dispatch!(self, pool => {
                let mut tx = pool.begin().await?;
                for statement in set_up {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                let mut q = sqlx::query(sql).bind(start_ms).bind(end_ms);
                for id in project_ids {
                    q = q.bind(*id);
                }
                if *uses_offset {
                    q = q.bind(offset_ms);
                }
                q.fetch_all(&mut *tx).await?;
                tx.commit().await?
            });
        }
        Ok(())
    }

    /// Bytes the database takes on disk (raw events, roll-ups and everything else): on
    /// SQLite the file after copying the write-ahead log into it, on PostgreSQL the
    /// database's size. For the benchmark's bytes per stored event.
    pub async fn bytes_on_disk(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                let _writer = self.write_lock.lock().await;
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(pool)
                    .await?;
                let path = pool.connect_options().get_filename().to_path_buf();
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len());
                Ok(size(&path)? + size(std::path::Path::new(&wal)).unwrap_or(0))
            }
            Backend::Postgres(pool) => {
                let sql = "SELECT pg_database_size(current_database())";
                let bytes: i64 = sqlx::query_scalar(sql).fetch_one(pool).await?;
                Ok(bytes.max(0) as u64)
            }
        }
    }

    // ---- change feed ----------------------------------------------------------------

    /// The id of the newest stored event (0 when empty); it grows with every stored batch.
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        let sql = "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM events";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// The timestamp (unix ms) of the newest stored event, `None` when there is none.
    pub async fn newest_event_ms(&self) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT MAX(ts) FROM events";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// Projects with events stored after event id `after`, and the newest event id seen.
    pub async fn projects_changed_after(&self, after: i64) -> Result<(Vec<i64>, i64), StoreError> {
        let sql = CHANGED_AFTER_SQL;
        let rows: Vec<(i64, i64)> =
            dispatch!(self, pool => sqlx::query_as(sql).bind(after).fetch_all(pool).await?);
        let last = rows.iter().map(|(_, id)| *id).max().unwrap_or(after);
        Ok((rows.into_iter().map(|(p, _)| p).collect(), last))
    }

    /// Model names with data in any of these projects.
    pub async fn models_of_projects(&self, project_ids: &[i64]) -> Result<Vec<String>, StoreError> {
        if project_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=project_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT DISTINCT m.name FROM project_models pm JOIN models m ON m.id = pm.model_id \
             WHERE pm.project_id IN ({}) ORDER BY m.name",
            marks.join(",")
        );
        Ok(dispatch!(self, pool => {
            let mut q = sqlx::query_scalar(&sql);
            for id in project_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        }))
    }

    /// A PostgreSQL listener on the `usage_events` channel, or `None` on SQLite.
    pub async fn pg_listener(&self) -> Result<Option<sqlx::postgres::PgListener>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen("usage_events").await?;
                Ok(Some(listener))
            }
            Backend::Sqlite(_) => Ok(None),
        }
    }

    /// Failed requests in `[start_ms, end_ms)` matching the filter's projects and models,
    /// newest first, strictly older than `before` (`(ts, id)` of the last row seen).
    pub async fn error_log(
        &self,
        f: &RollupFilter,
        start_ms: i64,
        end_ms: i64,
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<(i64, shared::ErrorLog)>, StoreError> {
        let mut sql = String::from(
            "SELECT e.id, e.ts, p.name, m.name, COALESCE(e.error_type, 'unknown'), e.error_message \
             FROM events e JOIN projects p ON p.id = e.project_id JOIN models m ON m.id = e.model_id \
             WHERE e.is_error = 1 AND e.ts >= $1 AND e.ts < $2",
        );
        let mut ints = vec![start_ms, end_ms];
        push_id_filters(&mut sql, &mut ints, f, "e.");
        let mut args: Vec<dimensions::Arg> = ints.into_iter().map(dimensions::Arg::Int).collect();
        if !f.dims.is_empty() {
            let keys = self.key_prefixes().await?;
            let postgres = matches!(self.backend, Backend::Postgres(_));
            match dimensions::dim_conditions(&f.dims, &keys, postgres, "e.", true, &mut args) {
                Some(conditions) => sql.push_str(&conditions),
                None => return Ok(Vec::new()),
            }
        }
        if let Some((ts, id)) = before {
            let n = args.len();
            sql.push_str(&format!(
                " AND (e.ts < ${} OR (e.ts = ${} AND e.id < ${}))",
                n + 1,
                n + 1,
                n + 2
            ));
            args.extend([dimensions::Arg::Int(ts), dimensions::Arg::Int(id)]);
        }
        sql.push_str(&format!(
            " ORDER BY e.ts DESC, e.id DESC LIMIT ${}",
            args.len() + 1
        ));
        args.push(dimensions::Arg::Int(limit));
        type Row = (i64, i64, String, String, String, Option<String>);
        let rows: Vec<Row> =
            dispatch!(self, pool => bind_args!(sqlx::query_as(&sql), args).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, ts, project, model, error_type, message)| {
                let log = shared::ErrorLog {
                    timestamp_ms: ts,
                    local_time: String::new(),
                    project,
                    model,
                    error_type,
                    message,
                };
                (id, log)
            })
            .collect())
    }

    /// Writes every raw event in `[start_ms, end_ms)` matching the filter's projects, models
    /// and status with `write`, oldest first, and sends the bytes to `sink` in chunks of about
    /// [`EXPORT_CHUNK_BYTES`] (the channel's bound keeps memory flat). Events are formatted
    /// straight from the database's rows, without copying their text. Stops early, without
    /// error, when the receiver is dropped.
    pub async fn stream_events(
        &self,
        f: &RollupFilter,
        start_ms: i64,
        end_ms: i64,
        write: WriteEvent,
        sink: tokio::sync::mpsc::Sender<Vec<u8>>,
    ) -> Result<(), StoreError> {
        use futures::TryStreamExt;
        let mut sql = String::from(
            "SELECT e.client_id, e.ts, e.project_id, e.model_id, e.input_tokens, \
             e.output_tokens, e.cached_input_tokens, e.cache_write_tokens, e.cost_nanos, \
             e.cost_source, e.latency_ms, e.ttft_ms, e.is_error, e.error_type, e.error_message, \
             e.end_user, e.metadata, e.provider, e.cache_write_1h_tokens, e.service_tier, \
             e.key_id FROM events e WHERE e.ts >= $1 AND e.ts < $2",
        );
        let mut ints = vec![start_ms, end_ms];
        push_id_filters(&mut sql, &mut ints, f, "e.");
        let mut args: Vec<dimensions::Arg> = ints.into_iter().map(dimensions::Arg::Int).collect();
        match f.status {
            Some(EventStatus::Success) => sql.push_str(" AND e.is_error = 0"),
            Some(EventStatus::Error) => sql.push_str(" AND e.is_error = 1"),
            None => {}
        }
        if !f.dims.is_empty() {
            let keys = self.key_prefixes().await?;
            let postgres = matches!(self.backend, Backend::Postgres(_));
            match dimensions::dim_conditions(&f.dims, &keys, postgres, "e.", true, &mut args) {
                Some(conditions) => sql.push_str(&conditions),
                None => return Ok(()),
            }
        }
        sql.push_str(" ORDER BY e.ts, e.id");
        if let Backend::Sqlite(pool) = &self.backend {
            let path = pool.connect_options().get_filename().to_path_buf();
            if path.exists() {
                let read = move || sqlite::read_events(&path, &sql, &args, write, sink);
                return tokio::task::spawn_blocking(read)
                    .await
                    .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
            }
        }
        // PostgreSQL: one snapshot for the names and the events, and this one statement
        // planned with its values (with the connection's generic plans it sorted the whole
        // range before sending the first row). SQLite's transaction is one snapshot already.
        let set_up: &[&str] = match self.backend {
            Backend::Postgres(_) => &[
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                "SET LOCAL plan_cache_mode = force_custom_plan",
            ],
            Backend::Sqlite(_) => &[],
        };
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            for statement in set_up {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            let [projects, models, keys] = ExportNames::SQL;
            let names = ExportNames::from_rows([
                sqlx::query_as(projects).fetch_all(&mut *tx).await?,
                sqlx::query_as(models).fetch_all(&mut *tx).await?,
                sqlx::query_as(keys).fetch_all(&mut *tx).await?,
            ]);
            let mut rows = bind_args!(sqlx::query(&sql), args.iter().cloned()).fetch(&mut *tx);
            let mut chunk = new_chunk();
            while let Some(r) = rows.try_next().await? {
                let event = raw_event_from_row!(r, try_get, names);
                if let Some(full) = write_to_chunk(&mut chunk, write, &event) {
                    if sink.send(full).await.is_err() {
                        return Ok(());
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = sink.send(chunk).await;
            }
            drop(rows);
            tx.commit().await?;
        });
        Ok(())
    }
}
