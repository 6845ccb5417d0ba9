//! PostgreSQL connection set-up; several stateless replicas may share the database.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use super::StoreError;

/// Connects to PostgreSQL at `url` and migrates it (migrations take an advisory lock, so
/// replicas starting together do not race).
pub async fn open(url: &str) -> Result<PgPool, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    sqlx::migrate!("../migrations/postgres").run(&pool).await?;
    Ok(pool)
}
