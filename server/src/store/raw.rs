//! Raw events read back: the error log and the streamed raw export.

use std::collections::HashMap;

use shared::EventStatus;
use sqlx::Row;

use super::rollups::push_id_filters;
use super::{dimensions, sqlite, Backend, RollupFilter, Store, StoreError};

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
pub(super) trait TextAt {
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
pub(super) struct ExportNames {
    projects: HashMap<i64, String>,
    models: HashMap<i64, String>,
    /// Ingest keys' prefixes (never the secret).
    keys: HashMap<i64, String>,
}

impl ExportNames {
    /// The three lists, in the order [`ExportNames::from_rows`] takes them.
    pub(super) const SQL: [&str; 3] = [
        "SELECT id, name FROM projects",
        "SELECT id, name FROM models",
        "SELECT id, prefix FROM api_keys",
    ];

    pub(super) fn from_rows([projects, models, keys]: [Vec<(i64, String)>; 3]) -> ExportNames {
        ExportNames {
            projects: projects.into_iter().collect(),
            models: models.into_iter().collect(),
            keys: keys.into_iter().collect(),
        }
    }

    /// An ingest key's prefix; `None` for events without a key (imported or generated, or
    /// stored before keys were recorded).
    pub(super) fn key(&self, id: Option<i64>) -> Option<&str> {
        id.and_then(|id| self.keys.get(&id)).map(String::as_str)
    }

    /// A project's name; events reference projects by foreign key, so one read in the same
    /// transaction always has it.
    pub(super) fn project(&self, id: i64) -> &str {
        self.projects.get(&id).map_or("", String::as_str)
    }

    pub(super) fn model(&self, id: i64) -> &str {
        self.models.get(&id).map_or("", String::as_str)
    }
}

/// Writes one exported event into a chunk of the export (see [`Store::stream_events`]).
pub type WriteEvent = fn(&mut Vec<u8>, &RawEvent<'_>);

/// Bytes after which [`Store::stream_events`] sends a chunk on (a chunk ends with a whole event).
pub const EXPORT_CHUNK_BYTES: usize = 128 * 1024;

/// Writes one event into the export's current `chunk`; hands back the full chunk, to be
/// sent, once it holds [`EXPORT_CHUNK_BYTES`].
pub(super) fn write_to_chunk(
    chunk: &mut Vec<u8>,
    write: WriteEvent,
    e: &RawEvent<'_>,
) -> Option<Vec<u8>> {
    write(chunk, e);
    (chunk.len() >= EXPORT_CHUNK_BYTES).then(|| std::mem::replace(chunk, new_chunk()))
}

/// An empty chunk with room for the event that crosses [`EXPORT_CHUNK_BYTES`].
pub(super) fn new_chunk() -> Vec<u8> {
    Vec::with_capacity(EXPORT_CHUNK_BYTES + 4096)
}

impl Store {
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
            match dimensions::dim_conditions(f, &keys, postgres, "e.", true, &mut args) {
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
            match dimensions::dim_conditions(f, &keys, postgres, "e.", true, &mut args) {
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
