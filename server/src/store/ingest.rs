//! The ingest write model: a validated, priced batch becomes raw events and roll-up rows in
//! one transaction (the backend files write it).

use std::collections::{HashMap, HashSet};

use shared::{EventStatus, IngestResponse, UsageEvent};

use super::{is_deadlock, now_ms, postgres, sqlite, Backend, Store, StoreError, NO_SQLITE_FILE};
use crate::rollup::{BatchRollup, PricedCost};

/// One batch of one project, ready to store: new events (no repeated id and timestamp), their costs and
/// the ids of their models.
pub(crate) struct Batch {
    pub project_id: i64,
    /// The ingest key the batch came through (`None`: imported or generated).
    pub key_id: Option<i64>,
    pub received_ms: i64,
    pub events: Vec<UsageEvent>,
    pub costs: Vec<PricedCost>,
    pub model_ids: HashMap<String, i64>,
}

/// One event's values in [`EVENT_COLUMNS`] order after `project_id`: the client's id, ten
/// integers (`ts` to `cache_write_1h_tokens`), latency, time to first token, the error flag
/// six texts (`error_type`, `error_message`, `end_user`, `metadata`, `provider`,
/// `service_tier`) and the ingest key.
pub(crate) struct EventRow<'a> {
    pub client_id: Option<&'a str>,
    pub ints: [i64; 10],
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub is_error: i64,
    pub texts: [Option<&'a str>; 6],
    pub key_id: Option<i64>,
}

impl Batch {
    /// The roll-up deltas of the events whose `accepted` flag is set (all when `None`).
    pub fn rollup(&self, accepted: Option<&[bool]>) -> BatchRollup {
        let mut rollup = BatchRollup::default();
        for (i, (e, cost)) in self.events.iter().zip(&self.costs).enumerate() {
            if accepted.is_none_or(|a| a[i]) {
                rollup.add(self.project_id, self.model_ids[&e.model], e, *cost);
            }
        }
        rollup
    }

    /// The events' values as stored, in the batch's order.
    pub fn rows(&self) -> impl Iterator<Item = EventRow<'_>> {
        self.events
            .iter()
            .zip(&self.costs)
            .map(|(e, cost)| EventRow {
                client_id: e.id.as_deref(),
                ints: [
                    e.timestamp_ms,
                    self.received_ms,
                    self.model_ids[&e.model],
                    e.input_tokens,
                    e.output_tokens,
                    e.cached_input_tokens,
                    e.cache_write_tokens,
                    cost.nanos,
                    cost.source as i64,
                    e.cache_write_1h_tokens,
                ],
                latency_ms: e.latency_ms,
                ttft_ms: e.ttft_ms,
                is_error: (e.status == EventStatus::Error) as i64,
                texts: [
                    e.error_type.as_deref(),
                    e.error_message.as_deref(),
                    e.user.as_deref(),
                    e.metadata.as_deref(),
                    e.provider.as_deref(),
                    e.service_tier.map(|t| t.as_str()),
                ],
                key_id: self.key_id,
            })
    }
}

pub(super) const EVENT_COLUMNS: &str =
    "project_id, client_id, ts, received_at, model_id, input_tokens, \
    output_tokens, cached_input_tokens, cache_write_tokens, cost_nanos, cost_source, \
    cache_write_1h_tokens, latency_ms, ttft_ms, is_error, error_type, error_message, end_user, \
    metadata, provider, service_tier, key_id";

impl Store {
    /// Ids of these model names, creating the missing ones.
    pub(super) async fn model_ids(
        &self,
        names: &HashSet<&str>,
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.models.read().expect("model cache poisoned");
            for name in names {
                match cache.get(*name) {
                    Some(id) => {
                        out.insert(name.to_string(), *id);
                    }
                    None => missing.push(*name),
                }
            }
        }
        for name in missing {
            let insert = "INSERT INTO models (name) VALUES ($1) ON CONFLICT (name) DO NOTHING";
            let select = "SELECT id FROM models WHERE name = $1";
            let id: i64 = dispatch!(self, pool => {
                sqlx::query(insert).bind(name).execute(pool).await?;
                sqlx::query_scalar(select).bind(name).fetch_one(pool).await?
            });
            self.models
                .write()
                .expect("model cache poisoned")
                .insert(name.to_string(), id);
            out.insert(name.to_string(), id);
        }
        Ok(out)
    }

    /// The batch's (model id, provider) pairs the models table does not hold yet.
    pub(super) fn new_providers(&self, b: &Batch) -> Vec<(i64, String)> {
        let known = self.providers.read().expect("provider cache poisoned");
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for e in &b.events {
            if let Some(p) = &e.provider {
                let id = b.model_ids[&e.model];
                if known.get(&id) != Some(p) && seen.insert(id) {
                    out.push((id, p.clone()));
                }
            }
        }
        out
    }

    /// Stores a validated, priced batch for one project (`costs[i]` is `events[i]`'s; see
    /// `ingest::submit`): raw events and their roll-ups in one transaction. Events whose `id` and timestamp are already stored for the project (or
    /// repeated within the batch) are duplicates and change nothing, also when retried
    /// concurrently. The same id at another timestamp is a new event.
    pub async fn ingest(
        &self,
        project_id: i64,
        key_id: Option<i64>,
        events: &[UsageEvent],
        costs: &[PricedCost],
    ) -> Result<IngestResponse, StoreError> {
        // PostgreSQL may pick this transaction as a deadlock victim when batches of several
        // projects add to the same "any" rows; it was rolled back whole, so run it again.
        let mut attempt = 0;
        loop {
            match self.ingest_once(project_id, key_id, events, costs).await {
                Err(StoreError::Db(e)) if attempt < 3 && is_deadlock(&e) => {
                    attempt += 1;
                    tracing::warn!("ingest: deadlock, retrying the batch (attempt {attempt})");
                }
                other => return other,
            }
        }
    }

    pub(super) async fn ingest_once(
        &self,
        project_id: i64,
        key_id: Option<i64>,
        events: &[UsageEvent],
        costs: &[PricedCost],
    ) -> Result<IngestResponse, StoreError> {
        let events_len = events.len() as u64;
        // Later copies of an id and timestamp within the batch are duplicates of the first.
        let mut seen = HashSet::new();
        let (fresh, costs): (Vec<UsageEvent>, Vec<PricedCost>) = (events.iter().zip(costs))
            .filter(|(e, _)| {
                (e.id.as_ref()).is_none_or(|id| seen.insert((id.as_str(), e.timestamp_ms)))
            })
            .map(|(e, c)| (e.clone(), *c))
            .unzip();
        let names: HashSet<&str> = fresh.iter().map(|e| e.model.as_str()).collect();
        let model_ids = self.model_ids(&names).await?;
        let batch = Batch {
            project_id,
            key_id,
            received_ms: now_ms(),
            events: fresh,
            costs,
            model_ids,
        };
        let providers = self.new_providers(&batch);
        let accepted = match &self.backend {
            Backend::Sqlite(_) => {
                // Built before waiting for the writer, so on the other core while it writes
                // the previous batch: the roll-ups of the batch if every event is new.
                let expected = sqlite::expected_rollups(&batch);
                let mut writer = self.write_lock.clone().lock_owned().await;
                let changed = providers.clone();
                tokio::task::spawn_blocking(move || match writer.as_mut() {
                    Some(conn) => {
                        for (id, provider) in &changed {
                            conn.execute(
                                "UPDATE models SET provider = ?1 WHERE id = ?2",
                                rusqlite::params![provider, id],
                            )?;
                        }
                        sqlite::write_batch(conn, &batch, expected)
                    }
                    None => Err(StoreError::Url(NO_SQLITE_FILE.into())),
                })
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))??
            }
            Backend::Postgres(pool) => {
                for (id, provider) in &providers {
                    sqlx::query("UPDATE models SET provider = $1 WHERE id = $2")
                        .bind(provider)
                        .bind(id)
                        .execute(pool)
                        .await?;
                }
                let accepted = postgres::write_batch(pool, &batch).await?;
                if self.statistics.count(accepted) {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        match postgres::analyze_grown_rollups(&pool).await {
                            Ok(tables) if !tables.is_empty() => {
                                tracing::info!("analysed {} grown roll-up tables", tables.len())
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!("analysing the roll-ups: {e}"),
                        }
                    });
                }
                accepted
            }
        };
        if !providers.is_empty() {
            let mut known = self.providers.write().expect("provider cache poisoned");
            known.extend(providers);
        }
        Ok(IngestResponse {
            accepted,
            duplicates: events_len - accepted,
        })
    }
}
