//! Storage: one interface ([`Store`]) over SQLite (default, a file) and PostgreSQL.
//!
//! Both backends run the same SQL text wherever the dialects agree (`$N` parameters,
//! `ON CONFLICT`, `RETURNING`); [`dispatch!`] expands a body once per backend so each copy is
//! type-checked against its own driver. Connection set-up and each backend's batch writer live
//! in `sqlite.rs` and `postgres.rs`, migrations in `migrate.rs`; the other files are one
//! group of tables or one job each: `ingest.rs` (the write model), `rollups.rs` (what a read
//! asks for, and the reads), `raw.rs` (error log, raw export), `projects.rs` (projects, keys,
//! prices, models), `live.rs` (the change feed), `baseline.rs` (the benchmark's naive
//! baseline), and access, alerts, budgets, dimensions, end users, overrides, re-pricing,
//! retention and backups.

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

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::{PgPool, SqlitePool};

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

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend is in use.
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
mod baseline;
mod budgets;
mod dimensions;
pub use dimensions::{EventSink, ScannedEvent};
mod end_users;
pub use end_users::ERASED;
mod ingest;
pub(crate) use ingest::Batch;
mod live;
pub use live::CHANGED_AFTER_SQL;
mod overrides;
mod projects;
mod raw;
pub use raw::{RawEvent, WriteEvent, EXPORT_CHUNK_BYTES};
pub mod reprice;
mod retention;
mod rollups;
pub use crate::access::Principal;
pub use access::LoginRow;
pub use alerts::{AlertChange, AlertRuleRow, Attempt, DueDelivery};
pub use budgets::{BudgetAlert, BudgetRow};
pub(crate) use postgres::MAX_CONNECTIONS as POSTGRES_CONNECTIONS;
pub use rollups::{Group, GroupKey, GroupRow, RollupFilter, RollupTotals, Sums};
pub use shared::{AuditEntry, KeyInfo, Project, TokenInfo, UserInfo};

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

/// PostgreSQL's "deadlock detected" and "could not serialize" errors.
fn is_deadlock(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40P01" || c == "40001")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
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
}
