//! Migrations, with care for the ones that rewrite a large table: before such a migration
//! runs, the free disk space is checked (SQLite) or a half-built index of an interrupted run
//! is dropped (PostgreSQL), and progress is logged while it runs. Meanwhile the server answers
//! `/readyz` with 503 "migrating" (see `server::serve_while_starting`).

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::{PgPool, SqlitePool};

use super::StoreError;

/// The migration that changes the duplicate key to (project_id, ts, client_id): SQLite
/// rebuilds its events table, PostgreSQL builds a new index (issue 26).
const DUPLICATE_KEY: i64 = 12;

/// How often a long migration logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Whether the SQLite database has a table of this name.
async fn sqlite_table_exists(pool: &SqlitePool, name: &str) -> Result<bool, StoreError> {
    let sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?";
    let found: Option<i64> = sqlx::query_scalar(sql)
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// Whether migration `version` is still to run (true on a new database too).
async fn pending_sqlite(pool: &SqlitePool, version: i64) -> Result<bool, StoreError> {
    if !sqlite_table_exists(pool, "_sqlx_migrations").await? {
        return Ok(true);
    }
    let done: Option<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE version = ? AND success")
            .bind(version)
            .fetch_optional(pool)
            .await?;
    Ok(done.is_none())
}

/// Bytes free for us on the file system that holds `path`.
fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let st = rustix::fs::statvfs(dir).map_err(std::io::Error::from)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Whole megabytes, rounded down (so "needs 3000 MB, only 2999 MB free" never reads equal).
fn mb(bytes: u64) -> String {
    format!("{} MB", bytes / 1_000_000)
}

/// Runs SQLite's pending migrations on the database file at `path`. When the events table is
/// to be rebuilt, refuses to start without room for it: the copy passes through the
/// write-ahead log and then into the file, so it needs up to twice the file's size.
pub async fn sqlite(pool: &SqlitePool, path: &Path) -> Result<(), StoreError> {
    let migrator = sqlx::migrate!("../migrations/sqlite");
    let rebuild = pending_sqlite(pool, DUPLICATE_KEY).await? && has_events_sqlite(pool).await?;
    if !rebuild {
        migrator.run(pool).await?;
        return Ok(());
    }
    let file = std::fs::metadata(path)?.len();
    let free = free_bytes(path)?;
    let needed = room_for_rebuild(path, file, free)?;
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(pool)
        .await?;
    tracing::info!(
        "migration {DUPLICATE_KEY}: rebuilding the events table ({events} events, database \
         file {}; up to {} of disk needed, {} free) for the duplicate key (project, timestamp, id)",
        mb(file),
        mb(needed),
        mb(free)
    );
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let started = Instant::now();
    let progress = tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            let written = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
            tracing::info!(
                "migration {DUPLICATE_KEY}: {:.0} s, {} of the new table written (about {} in all)",
                started.elapsed().as_secs_f64(),
                mb(written),
                mb(file)
            );
        }
    });
    let result = migrator.run(pool).await;
    progress.abort();
    result?;
    // The copy went through the write-ahead log; give its space back now.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await?;
    tracing::info!(
        "migration {DUPLICATE_KEY}: done in {:.1} s; the old table's pages are free pages of \
         the file now, reused by new events (VACUUM gives them back to the disk)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The disk space the rebuild of a database file of `file` bytes needs (twice the file: the
/// new table passes through the write-ahead log, then into the file), or why it cannot start
/// with `free` bytes free.
fn room_for_rebuild(path: &Path, file: u64, free: u64) -> Result<u64, StoreError> {
    let needed = file.saturating_mul(2);
    if free < needed {
        return Err(StoreError::Conflict(format!(
            "migration {DUPLICATE_KEY} rebuilds the events table of {} and needs up to {} of \
             free disk space beside it (twice the database file); only {} is free. Free some \
             space and start again; nothing was changed.",
            path.display(),
            mb(needed),
            mb(free)
        )));
    }
    Ok(needed)
}

async fn has_events_sqlite(pool: &SqlitePool) -> Result<bool, StoreError> {
    if !sqlite_table_exists(pool, "events").await? {
        return Ok(false);
    }
    let any: Option<i64> = sqlx::query_scalar("SELECT id FROM events LIMIT 1")
        .fetch_optional(pool)
        .await?;
    Ok(any.is_some())
}

/// Runs PostgreSQL's pending migrations. The new duplicate key is built CONCURRENTLY (other
/// replicas keep writing); an INVALID index left by an interrupted build is dropped first,
/// else `IF NOT EXISTS` would take it for done. PostgreSQL's disk is not ours to look at: the
/// space the index needs is logged (about the size of the old key's index), and a build that
/// runs out of space fails without harm and is retried at the next start.
pub async fn postgres(pool: &PgPool) -> Result<(), StoreError> {
    let migrator = sqlx::migrate!("../migrations/postgres");
    let invalid: Option<String> = sqlx::query_scalar(
        "SELECT c.relname::TEXT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = 'events_project_ts_client' AND NOT i.indisvalid",
    )
    .fetch_optional(pool)
    .await?;
    if invalid.is_some() {
        tracing::warn!(
            "migration {DUPLICATE_KEY}: dropping the unfinished index of an interrupted run"
        );
        sqlx::query("DROP INDEX CONCURRENTLY IF EXISTS events_project_ts_client")
            .execute(pool)
            .await?;
    }
    let old_index: Option<i64> = sqlx::query_scalar(
        "SELECT pg_relation_size(old) \
         FROM (SELECT to_regclass('events_project_id_client_id_key') AS old) AS o \
         WHERE old IS NOT NULL AND to_regclass('events_project_ts_client') IS NULL",
    )
    .fetch_optional(pool)
    .await?;
    let Some(old_index) = old_index else {
        migrator.run(pool).await?;
        return Ok(());
    };
    tracing::info!(
        "migration {DUPLICATE_KEY}: building the duplicate key (project, timestamp, id) \
         concurrently; it needs about {} of disk on the database server",
        mb((old_index as u64).saturating_mul(5) / 4)
    );
    let started = Instant::now();
    let watcher = pool.clone();
    let progress = tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            let row: Option<(String, i64, i64)> = sqlx::query_as(
                "SELECT phase, blocks_done, blocks_total FROM pg_stat_progress_create_index \
                 WHERE relid = 'events'::regclass",
            )
            .fetch_optional(&watcher)
            .await
            .ok()
            .flatten();
            if let Some((phase, done, total)) = row {
                tracing::info!(
                    "migration {DUPLICATE_KEY}: {:.0} s, {phase}: {done} of {total} blocks",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    });
    let result = migrator.run(pool).await;
    progress.abort();
    result?;
    tracing::info!(
        "migration {DUPLICATE_KEY}: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuild_without_twice_the_file_free_is_refused_saying_what_it_needs() {
        let path = Path::new("/data/usage-analytics.db");
        let err = room_for_rebuild(path, 1_500_000_000, 2_999_999_999)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs up to 3000 MB"), "{err}");
        assert!(err.contains("only 2999 MB is free"), "{err}");
        assert!(err.contains("/data/usage-analytics.db"), "{err}");
        assert_eq!(
            room_for_rebuild(path, 1_500_000_000, 3_000_000_000).unwrap(),
            3_000_000_000
        );
    }

    #[test]
    fn free_space_is_read_for_a_file_in_the_working_directory() {
        assert!(free_bytes(Path::new("test.db")).unwrap() > 0);
    }
}
