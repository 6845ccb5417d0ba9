//! The one way into storage. Every source of events (HTTP, `import`, `demo`, and the next
//! ways in) validates what it received ([`validate`]), then calls [`submit`], which prices the
//! events, stores them with their roll-ups in one transaction, and checks the budgets they
//! count towards.

pub mod demo;
pub mod dimensions;
pub mod import;
pub mod otlp;
pub(crate) mod validate;

use shared::{IngestResponse, UsageEvent};

pub use validate::{
    split_body, validate_batch, validate_event, BodyFormat, MAX_COST_USD, MAX_FUTURE_SKEW_MS,
    MAX_ID_LEN, MAX_LATENCY_MS, MAX_MESSAGE_LEN, MAX_METADATA_BYTES, MAX_NAME_LEN, MAX_TOKENS,
    MIN_TIMESTAMP_MS,
};

use crate::pricing::PriceBook;
use crate::store::{Store, StoreError};

/// Prices and stores one project's validated batch, then checks its budgets. Events whose id
/// and timestamp the project already holds are duplicates and change nothing.
///
/// One rule for every way in: once the batch is stored it stays stored and is acknowledged,
/// whatever the budget check does. A failed check is logged, and the next stored batch of the
/// same period checks again (alerts are recorded from the period's totals, never from one
/// batch, so nothing is lost but time).
pub async fn submit(
    store: &Store,
    project_id: i64,
    events: &[UsageEvent],
) -> Result<IngestResponse, StoreError> {
    submit_through(store, project_id, None, events).await
}

/// [`submit`] of a batch that came through ingest key `key_id` (recorded with each event).
pub async fn submit_through(
    store: &Store,
    project_id: i64,
    key_id: Option<i64>,
    events: &[UsageEvent],
) -> Result<IngestResponse, StoreError> {
    let hashed: Vec<UsageEvent>;
    let events = match store.end_user_hashing() {
        Some(key) => {
            hashed = (events.iter())
                .map(|e| UsageEvent {
                    user: e
                        .user
                        .as_deref()
                        .map(|u| dimensions::hash_end_user(&key, u)),
                    ..e.clone()
                })
                .collect();
            &hashed[..]
        }
        None => events,
    };
    let prices = PriceBook::load(store).await?;
    let costs: Vec<_> = events.iter().map(|e| prices.cost_of(e)).collect();
    let counts = store.ingest(project_id, key_id, events, &costs).await?;
    if let Err(e) = crate::alerting::budgets::after_ingest(store, project_id, events).await {
        tracing::error!(
            error = %e,
            project_id,
            "budget check after a stored batch failed; the next batch of the period checks again"
        );
    }
    Ok(counts)
}
