//! PostgreSQL connection set-up; several stateless replicas may share the database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::StoreError;

/// Connects to PostgreSQL at `url` and migrates it (migrations take an advisory lock, so
/// replicas starting together do not race).
pub async fn open(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Url(e.to_string()))?
        // A dashboard statement sums ~90 columns over up to five pieces: PostgreSQL took ~5 ms
        // to plan one and ~2.5 ms to run it. Statements stay prepared per connection; generic
        // plans are made once, and ours (index seeks on keys and ranges) do not depend on the
        // values bound.
        //
        // No parallel workers: at 10M events the planner chose a Gather over the pieces of a
        // dashboard statement, and starting the workers took ~18 ms of a 20 ms statement whose
        // rows (a few hundred) took under 2 ms to read (six panels: ~100 ms median).
        .options([
            ("plan_cache_mode", "force_generic_plan"),
            ("max_parallel_workers_per_gather", "0"),
        ]);
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    sqlx::migrate!("../migrations/postgres").run(&pool).await?;
    Ok(pool)
}
