//! Re-pricing history: when a price arrives late or changes with an effective date in the
//! past, stored events from that date are priced again with today's prices.
//!
//! - Only events priced by us (price table, catalogue, fallback, unpriced) change; a client's
//!   `cost_usd` always stays.
//! - Only raw events still kept can be re-priced: periods before the retention mark keep
//!   their roll-ups as they are, and the preview and the run say so.
//! - A run goes through the events that existed when it started, in id order, in batches.
//!   Each batch writes the events' new costs, the exact differences of every roll-up level
//!   and the run's progress in one transaction, so an interrupted run resumes after its last
//!   batch and never applies one twice. Ingest goes on meanwhile; events stored after the
//!   run started were priced with the new prices already.
//! - Budgets: alerts already recorded stay; when a run finishes, the budgets' current
//!   periods are checked again (and may fire, once); closed periods never fire new alerts.
//!   That check and the audit log's `reprice.finish` are `admin::run_reprice`'s: pricing sits
//!   below alerting.

use std::collections::HashMap;

use shared::{EventStatus, ServiceTier, UsageEvent};

use super::PriceBook;
use crate::rollup::{BatchRollup, CostSource, PricedCost};
pub use crate::store::reprice::RunRow;
use crate::store::reprice::{BatchOutcome, RepriceRow};
use crate::store::{Store, StoreError};

/// Events read and written per transaction unless told otherwise.
pub const DEFAULT_BATCH: i64 = 5_000;

/// What re-pricing from a date would do, or did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    /// The first instant re-priced: the date asked for, or the retention mark when later.
    pub from_ms: i64,
    /// When raw events before `from_ms` asked for were deleted by retention: those periods
    /// keep their roll-ups as they are.
    pub kept_from_ms: Option<i64>,
    /// Events looked at (client-priced ones excluded).
    pub events: i64,
    /// Events whose cost or cost source changes.
    pub changed: i64,
    /// Cost of the events that change, before and after, nano-USD.
    pub cost_before_nanos: i64,
    pub cost_after_nanos: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RepriceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no model named {0:?} has stored events")]
    UnknownModel(String),
    #[error(
        "re-pricing run {0} has not finished: resume it (`prices reprice --resume`) before starting another"
    )]
    Unfinished(i64),
    #[error("no re-pricing run to resume")]
    NothingToResume,
}

/// The stored event as the price book sees it (no client cost: only table-priced events are
/// re-priced).
fn to_event(row: &RepriceRow, model: &str) -> UsageEvent {
    UsageEvent {
        id: None,
        timestamp_ms: row.ts,
        model: model.to_string(),
        provider: row.provider.clone(),
        input_tokens: row.input_tokens,
        output_tokens: row.output_tokens,
        cached_input_tokens: row.cached_input_tokens,
        cache_write_tokens: row.cache_write_tokens,
        cache_write_1h_tokens: row.cache_write_1h_tokens,
        service_tier: row.service_tier.as_deref().and_then(ServiceTier::from_name),
        cost_nanos: None,
        latency_ms: None,
        ttft_ms: None,
        status: if row.is_error {
            EventStatus::Error
        } else {
            EventStatus::Success
        },
        error_type: row.error_type.clone(),
        error_message: None,
        user: None,
        metadata: None,
    }
}

/// Prices one batch of stored events again: the changes and roll-up differences to write.
fn reprice_batch(
    rows: &[RepriceRow],
    names: &HashMap<i64, String>,
    book: &PriceBook,
) -> BatchOutcome {
    let mut out = BatchOutcome {
        after_id: rows.last().map_or(0, |r| r.id),
        seen: rows.len() as i64,
        ..BatchOutcome::default()
    };
    let mut rollup = BatchRollup::default();
    for row in rows {
        let old = PricedCost {
            nanos: row.cost_nanos,
            source: CostSource::from_code(row.cost_source),
        };
        if old.source == CostSource::Client {
            continue;
        }
        let model = names.get(&row.model_id).map_or("", String::as_str);
        let event = to_event(row, model);
        let new = book.cost_of(&event);
        if new == old {
            continue;
        }
        out.changes.push((row.id, new.nanos, new.source as i64));
        out.cost_before_nanos = out.cost_before_nanos.saturating_add(old.nanos);
        out.cost_after_nanos = out.cost_after_nanos.saturating_add(new.nanos);
        rollup.reprice(row.project_id, row.model_id, &event, old, new);
    }
    out.deltas = rollup.rows;
    out
}

/// The model id of `model`, when given.
async fn model_id(store: &Store, model: Option<&str>) -> Result<Option<i64>, RepriceError> {
    let Some(name) = model else { return Ok(None) };
    let models = store.list_models().await?;
    match models.into_iter().find(|(_, n)| n == name) {
        Some((id, _)) => Ok(Some(id)),
        None => Err(RepriceError::UnknownModel(name.to_string())),
    }
}

/// `from_ms`, moved to the retention mark when raw events before it are gone; and the mark
/// when it moved.
async fn kept_from(store: &Store, from_ms: i64) -> Result<(i64, Option<i64>), StoreError> {
    match store.raw_deleted_before().await? {
        Some(mark) if mark > from_ms => Ok((mark, Some(mark))),
        _ => Ok((from_ms, None)),
    }
}

/// What re-pricing events from `from_ms` (of `model` only, when given) would change, without
/// changing anything.
pub async fn preview(
    store: &Store,
    from_ms: i64,
    model: Option<&str>,
) -> Result<Preview, RepriceError> {
    let model_id = model_id(store, model).await?;
    let (from_ms, kept_from_ms) = kept_from(store, from_ms).await?;
    let up_to_id = store.max_event_id().await?;
    let names: HashMap<i64, String> = store.list_models().await?.into_iter().collect();
    let book = PriceBook::load(store).await?;
    let mut p = Preview {
        from_ms,
        kept_from_ms,
        ..Preview::default()
    };
    let mut after_id = 0;
    loop {
        let rows = store
            .reprice_rows(after_id, up_to_id, from_ms, model_id, DEFAULT_BATCH)
            .await?;
        if rows.is_empty() {
            return Ok(p);
        }
        let b = reprice_batch(&rows, &names, &book);
        after_id = b.after_id;
        p.events += b.seen;
        p.changed += b.changes.len() as i64;
        p.cost_before_nanos = p.cost_before_nanos.saturating_add(b.cost_before_nanos);
        p.cost_after_nanos = p.cost_after_nanos.saturating_add(b.cost_after_nanos);
    }
}

/// Records a new run re-pricing events from `from_ms` (of `model` only, when given), after the
/// retention mark; refused while another run is unfinished. Run it with [`run`].
pub async fn start(
    store: &Store,
    actor: &str,
    from_ms: i64,
    model: Option<&str>,
    now_ms: i64,
) -> Result<RunRow, RepriceError> {
    if let Some(open) = unfinished(store).await? {
        return Err(RepriceError::Unfinished(open.id));
    }
    let model_id = model_id(store, model).await?;
    let (from_ms, _) = kept_from(store, from_ms).await?;
    let up_to_id = store.max_event_id().await?;
    let id = store
        .create_reprice_run(from_ms, model_id, up_to_id, actor, now_ms)
        .await?;
    store
        .audit(
            actor,
            "reprice.start",
            &format!(
                "run {id}: events from {} of {}",
                shared::format_utc_ms(from_ms),
                model.unwrap_or("every model")
            ),
        )
        .await?;
    store
        .reprice_run(id)
        .await?
        .ok_or(RepriceError::NothingToResume)
}

/// The newest run, when it has not finished.
pub async fn unfinished(store: &Store) -> Result<Option<RunRow>, StoreError> {
    let newest = store.reprice_runs(1).await?.into_iter().next();
    Ok(newest.filter(|r| r.finished_at_ms.is_none()))
}

/// Runs (or resumes) run `id` in batches of `batch` events, calling `progress` after each;
/// stops after `max_batches` batches when given (the run stays resumable). Use
/// `admin::run_reprice`, which also checks budgets and writes the audit log at the end.
pub async fn run(
    store: &Store,
    id: i64,
    batch: i64,
    max_batches: Option<usize>,
    mut progress: impl FnMut(&RunRow),
) -> Result<RunRow, RepriceError> {
    let names: HashMap<i64, String> = store.list_models().await?.into_iter().collect();
    let mut done = 0;
    loop {
        let run = store
            .reprice_run(id)
            .await?
            .ok_or(RepriceError::NothingToResume)?;
        if run.finished_at_ms.is_some() || max_batches.is_some_and(|m| done >= m) {
            return Ok(run);
        }
        let rows = store
            .reprice_rows(
                run.after_id,
                run.up_to_id,
                run.from_ms,
                run.model_id,
                batch.max(1),
            )
            .await?;
        if rows.is_empty() {
            let now = chrono::Utc::now().timestamp_millis();
            store.finish_reprice_run(id, now).await?;
            let finished = store.reprice_run(id).await?.unwrap_or(run);
            progress(&finished);
            return Ok(finished);
        }
        // Prices are read for every batch: one changed during the run applies from then on.
        let book = PriceBook::load(store).await?;
        let outcome = reprice_batch(&rows, &names, &book);
        // `false`: another process applied this batch; read the run again and go on.
        store.apply_reprice_batch(id, run.after_id, outcome).await?;
        done += 1;
        if let Some(now) = store.reprice_run(id).await? {
            progress(&now);
        }
    }
}
