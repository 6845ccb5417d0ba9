//! Raw-event retention: events older than `UA_RETENTION_DAYS` (default 400; 0 keeps them
//! forever) are deleted by a background task in small batches. Roll-ups are kept, so the
//! panels still answer for old periods; the error log and the raw export say from when raw
//! events are kept.

use std::time::Duration;

use crate::store::StoreError;
use crate::Store;

/// Default age, in days, after which raw events are deleted.
pub const DEFAULT_DAYS: u32 = 400;
/// Events deleted per transaction.
pub const BATCH: i64 = 5_000;

/// The cutoff for `days` at `now_ms`: the UTC midnight `days` days ago (whole days, so that
/// no roll-up bucket keeps only part of its raw events). `None` for 0 (keep forever).
pub fn cutoff(now_ms: i64, days: u32) -> Option<i64> {
    const DAY_MS: i64 = 86_400_000;
    (days > 0).then(|| (now_ms - days as i64 * DAY_MS).div_euclid(DAY_MS) * DAY_MS)
}

/// Deletes every raw event before `cutoff_ms`, `batch` at a time, pausing between batches so
/// that ingest goes on; marks the cutoff first. Answers how many events were deleted.
pub async fn sweep(store: &Store, cutoff_ms: i64, batch: i64) -> Result<u64, StoreError> {
    store.mark_raw_deleted_before(cutoff_ms).await?;
    let mut total = 0;
    loop {
        let n = store.delete_raw_events_before(cutoff_ms, batch).await?;
        total += n;
        if n < batch as u64 {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One sweep at `days`, logged (the job runs it every hour).
pub async fn run_once(store: &Store, days: u32) {
    let now = chrono::Utc::now().timestamp_millis();
    let Some(at) = cutoff(now, days) else {
        return;
    };
    match sweep(store, at, BATCH).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, days, "retention: deleted old raw events"),
        Err(e) => tracing::error!(error = %e, "retention sweep failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_a_utc_midnight_and_zero_keeps_everything() {
        let now = 1_764_420_000_000; // 2025-11-29T12:40:00Z
        assert_eq!(cutoff(now, 0), None);
        // 400 days before is 2024-10-25T12:40Z; whole days: from 2024-10-25T00:00Z.
        assert_eq!(cutoff(now, 400), Some(1_729_814_400_000));
        assert_eq!(cutoff(now, 1), Some(1_764_288_000_000));
    }
}
