//! `usage-analytics backup FILE`: a consistent copy of a SQLite database while ingest goes on.

use std::path::Path;

use super::{Backend, Store, StoreError};

impl Store {
    /// Writes a consistent copy of the SQLite database to `file` with `VACUUM INTO` (one read
    /// transaction: ingest goes on meanwhile, and the copy holds exactly the batches committed
    /// before it started). Refuses to overwrite a file, and PostgreSQL (use `pg_dump`).
    pub async fn backup_to(&self, file: &Path) -> Result<(), StoreError> {
        let Backend::Sqlite(pool) = &self.backend else {
            return Err(StoreError::Url(
                "backup copies SQLite databases; for PostgreSQL use pg_dump (README, Backups)"
                    .into(),
            ));
        };
        if file.exists() {
            return Err(StoreError::Url(format!(
                "{} exists; backup never overwrites a file",
                file.display()
            )));
        }
        let path = file
            .to_str()
            .ok_or_else(|| StoreError::Url(format!("{}: not a UTF-8 path", file.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(pool)
            .await?;
        Ok(())
    }
}
