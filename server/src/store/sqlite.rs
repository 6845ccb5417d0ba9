//! SQLite connection set-up: a file in WAL mode with durable (synchronous = FULL) commits;
//! the raw export's reader and ingest's writer, which use rusqlite on blocking threads.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use super::ingest::EVENT_COLUMNS;
use super::raw::{new_chunk, write_to_chunk, ExportNames, TextAt};
use super::rollups::{upsert_sql, ROLLUP_COLUMN_COUNT};
use super::{Batch, RawEvent, StoreError, WriteEvent};
use crate::rollup::{expand, Level, RollupDelta, RollupKey, ANY};

/// Bytes of the database file each connection may read through a memory map (4 GiB).
const MMAP_SIZE: i64 = 1 << 32;

/// Pages the write-ahead log may hold before a commit copies them into the database file
/// (SQLite's default: 1,000). Commits are durable either way (the log is synced on every
/// commit); a larger log copies each page once for many commits. Every batch rewrites the
/// same hot roll-up pages ("any" series, today's buckets), so at 1,000 the writer spent about
/// a tenth of its time copying them again: 1M events over HTTP, alternated, 119k / 122k /
/// 123k events/s at 1,000 pages, 134k / 130k / 129k at 10,000, 135k / 133k without
/// checkpoints. The log stays at about 40 MB.
const WAL_CHECKPOINT_PAGES: i64 = 10_000;

/// Opens (creating if needed) the SQLite database at `url` and migrates it.
pub async fn open(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Url(e.to_string()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged batch survives power loss, not only a process crash.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        // Rows cross from SQLite's thread to ours through this buffer; at the default 50 the
        // two threads handed over every few rows, most of the raw export's time.
        .row_buffer_size(4096)
        // Dashboard reads come straight from the page cache through a memory map, shared by
        // every connection, instead of each connection's own 2 MB cache refilled by read()
        // calls (and emptied whenever another connection commits).
        .pragma("mmap_size", MMAP_SIZE.to_string())
        .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES.to_string());
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    let path = pool.connect_options().get_filename().to_path_buf();
    super::migrate::sqlite(&pool, &path).await?;
    Ok(pool)
}

/// Reads the raw export on its own connection, in a blocking thread, formatting each row with
/// `write` in place and sending chunks of about [`super::EXPORT_CHUNK_BYTES`]. Through sqlx every
/// row crossed from SQLite's thread to ours on its own and the export ran at about 60,000
/// events/s; read here it is several times faster.
pub fn read_events(
    path: &Path,
    sql: &str,
    args: &[super::dimensions::Arg],
    write: WriteEvent,
    sink: tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Result<(), StoreError> {
    let conn = open_reader(path)?;
    // One read transaction: the names and the events come from the same snapshot.
    let tx = conn.unchecked_transaction()?;
    let list = |sql: &str| -> rusqlite::Result<Vec<(i64, String)>> {
        let mut stmt = tx.prepare(sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    };
    let [projects, models, keys] = ExportNames::SQL;
    let names = ExportNames::from_rows([list(projects)?, list(models)?, list(keys)?]);
    let mut stmt = tx.prepare(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut chunk = new_chunk();
    while let Some(r) = rows.next()? {
        if let Some(full) = write_to_chunk(&mut chunk, write, &raw_event_from_row!(r, get, names)) {
            if sink.blocking_send(full).is_err() {
                return Ok(());
            }
        }
    }
    if !chunk.is_empty() {
        let _ = sink.blocking_send(chunk);
    }
    Ok(())
}

/// Opens a connection of its own for a long read of raw events on a blocking thread (the raw
/// export, dimension reads).
pub fn open_reader(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    // Pages read through a memory map rather than copied by a read() call each (a read of
    // a whole range, ~1 KB per event, reads each page once).
    conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
    Ok(conn)
}

/// Opens the connection that ingest writes through (see [`write_batch`]).
pub fn open_writer(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    // Per connection: durable commits and foreign keys, as on the pool's connections (WAL
    // is a property of the file, set by the pool).
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
    Ok(conn)
}

/// `n` anonymous placeholders. Not `$N`: SQLite looks those names up linearly per parameter,
/// which made bulk statements quadratic (90 % of demo ingest time in
/// `sqlite3_bind_parameter_name`, measured with perf).
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A batch's roll-up rows at every level, finest first, each level in key order, as they are
/// if every event of the batch is new (see [`write_batch`]).
pub fn expected_rollups(b: &Batch) -> Vec<(Level, BTreeMap<RollupKey, RollupDelta>)> {
    expand(&b.rollup(None).rows)
}

/// The upsert of each level, with one `?` per column.
pub(super) fn upsert_statement(level: Level) -> &'static str {
    static SQL: OnceLock<[String; 3]> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let values = format!("VALUES ({})", placeholders(ROLLUP_COLUMN_COUNT));
        Level::ALL.map(|level| upsert_sql(level, &values, false))
    });
    &sql[level as usize]
}

/// Adds every level's deltas to its rows, finest first and each in key order (one writer: no
/// lock order to keep).
pub(super) fn upsert_levels(
    tx: &rusqlite::Transaction<'_>,
    levels: &[(Level, BTreeMap<RollupKey, RollupDelta>)],
) -> Result<(), StoreError> {
    for (level, rows) in levels {
        let mut upsert = tx.prepare_cached(upsert_statement(*level))?;
        for (k, d) in rows {
            upsert.raw_bind_parameter(1, k.bucket)?;
            upsert.raw_bind_parameter(2, k.project_id)?;
            upsert.raw_bind_parameter(3, k.model_id)?;
            upsert.raw_bind_parameter(4, &k.error_type)?;
            for (i, v) in d.sums().iter().chain(d.hist.iter()).enumerate() {
                upsert.raw_bind_parameter(5 + i, v)?;
            }
            upsert.raw_execute()?;
        }
    }
    Ok(())
}

/// Stores a batch on the writer connection, in one transaction: raw events (an id already
/// stored for the project at the same timestamp changes nothing), every roll-up level and the project's models.
/// Answers how many events were new. `expected` is [`expected_rollups`] of the batch, built
/// before the writer was free; when an event turns out to be stored already, the roll-ups of
/// the new ones are built here instead.
///
/// The same work as the sqlx path of `Store::ingest`, with prepared single-row statements
/// bound in place: through sqlx each statement crossed to the connection's thread and back
/// and every value was boxed on the way.
pub fn write_batch(
    conn: &mut rusqlite::Connection,
    b: &Batch,
    expected: Vec<(Level, BTreeMap<RollupKey, RollupDelta>)>,
) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut new = Vec::with_capacity(b.events.len());
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO events ({EVENT_COLUMNS}) VALUES ({}) \
             ON CONFLICT (project_id, ts, client_id) DO NOTHING",
            placeholders(22)
        ))?;
        for row in b.rows() {
            insert.raw_bind_parameter(1, b.project_id)?;
            insert.raw_bind_parameter(2, row.client_id)?;
            for (i, v) in row.ints.iter().enumerate() {
                insert.raw_bind_parameter(3 + i, v)?;
            }
            insert.raw_bind_parameter(13, row.latency_ms)?;
            insert.raw_bind_parameter(14, row.ttft_ms)?;
            insert.raw_bind_parameter(15, row.is_error)?;
            for (i, v) in row.texts.iter().enumerate() {
                insert.raw_bind_parameter(16 + i, v)?;
            }
            insert.raw_bind_parameter(22, row.key_id)?;
            new.push(insert.raw_execute()? == 1);
        }
    }
    let accepted = new.iter().filter(|n| **n).count();
    let levels = if accepted == b.events.len() {
        expected
    } else {
        expand(&b.rollup(Some(&new)).rows)
    };
    upsert_levels(&tx, &levels)?;
    {
        let mut pair = tx.prepare_cached(
            "INSERT INTO project_models (project_id, model_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )?;
        // The finest level's rows of the batch's own project name each of its models.
        let own_rows = levels.first().map(|(_, rows)| rows.keys());
        let models: HashSet<i64> = (own_rows.into_iter().flatten())
            .filter(|k| k.project_id == b.project_id && k.model_id != ANY)
            .map(|k| k.model_id)
            .collect();
        for model_id in models {
            pair.execute([b.project_id, model_id])?;
        }
    }
    tx.commit()?;
    Ok(accepted as u64)
}
