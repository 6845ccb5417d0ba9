//! SQLite connection set-up: a file in WAL mode with durable (synchronous = FULL) commits.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::{RawEvent, StoreError, EXPORT_CHUNK};

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
        .row_buffer_size(4096);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

/// Reads the raw export on its own connection, in a blocking thread, sending chunks of
/// [`EXPORT_CHUNK`] events. Through sqlx every row crossed from SQLite's thread to ours on its
/// own and the export ran at about 60,000 events/s; read here it is several times faster.
pub fn read_events(
    path: &Path,
    sql: &str,
    args: &[i64],
    sink: tokio::sync::mpsc::Sender<Vec<RawEvent>>,
) -> Result<(), StoreError> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut chunk = Vec::with_capacity(EXPORT_CHUNK);
    while let Some(r) = rows.next()? {
        chunk.push(raw_event_from_row!(r, get));
        if chunk.len() == EXPORT_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(EXPORT_CHUNK));
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
