//! Cost insights: what failed requests cost, how much input came from the provider's cache
//! and what that saved, and which project x model pairs drive the cost against the previous
//! period. Answered from roll-ups, like the panels.

use std::collections::HashMap;

use shared::{CostDriver, CostInsights, EventStatus, UsageQuery};

use crate::pricing::PriceBook;
use crate::query::{self, QueryError, Resolved};
use crate::store::{Group, GroupKey, RollupFilter, Store, Sums};

/// Most drivers listed.
pub const TOP_DRIVERS: usize = 10;

/// The insights for a query at time `now_ms`.
pub async fn insights(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
) -> Result<CostInsights, QueryError> {
    insights_of(store, &query::resolve(store, q, now_ms).await?).await
}

/// Savings, in nano-USD, of `tokens` cached input tokens at `price` (micro-USD per million
/// tokens): `tokens x (input - cached) / 1,000`, exact until rounded once by the caller.
fn savings_milli_nanos(tokens: i64, price: &shared::ModelPrice) -> i128 {
    tokens as i128 * (price.input as i128 - price.cached_input as i128)
}

pub async fn insights_of(store: &Store, r: &Resolved) -> Result<CostInsights, QueryError> {
    let f = &r.filter;
    let total = store.rollup_totals(f, Sums::All).await?;
    let failed_filter = RollupFilter {
        status: Some(EventStatus::Error),
        ..f.clone()
    };
    let failed = if f.status == Some(EventStatus::Success) {
        Default::default()
    } else {
        store.rollup_totals(&failed_filter, Sums::All).await?
    };

    // Cached tokens per model and bucket, priced at the bucket's start.
    let models: HashMap<i64, String> = store.list_models().await?.into_iter().collect();
    let prices = PriceBook::load(store).await?;
    let mut saved: i128 = 0;
    let mut unpriced_cached_tokens = 0;
    for row in store
        .rollup_grouped(f, Group::ModelBucket, Sums::Traffic)
        .await?
    {
        let GroupKey::ModelBucket(model_id, bucket) = row.key else {
            continue;
        };
        let tokens = row.sums.cached_input_tokens;
        if tokens == 0 {
            continue;
        }
        let name = models.get(&model_id).map(String::as_str).unwrap_or("");
        match prices.base_price(name, bucket * 1000) {
            Some(p) => saved += savings_milli_nanos(tokens, &p),
            None => unpriced_cached_tokens += tokens,
        }
    }
    // Micro-USD per million tokens x tokens / 1,000 = nano-USD; rounded half away from zero.
    let cache_savings_nanos =
        ((saved + saved.signum() * 500) / 1_000).clamp(i64::MIN as i128, i64::MAX as i128) as i64;

    // Drivers: this period against the previous one of the same length.
    let len = f.end_bucket - f.start_bucket;
    let before = RollupFilter {
        start_bucket: f.start_bucket - len,
        end_bucket: f.start_bucket,
        ..f.clone()
    };
    let now_rows = store
        .rollup_grouped(f, Group::ProjectModel, Sums::All)
        .await?;
    let then_rows = store
        .rollup_grouped(&before, Group::ProjectModel, Sums::All)
        .await?;
    let previous: HashMap<GroupKey, i64> = then_rows
        .into_iter()
        .map(|g| (g.key, g.sums.cost_nanos))
        .collect();
    let projects: HashMap<i64, String> = store
        .list_projects()
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let mut drivers: Vec<CostDriver> = now_rows
        .into_iter()
        .filter_map(|g| {
            let GroupKey::ProjectModel(p, m) = g.key else {
                return None;
            };
            let cost = g.sums.cost_nanos;
            let prev = previous.get(&g.key).copied().unwrap_or(0);
            let change = cost.saturating_sub(prev);
            Some(CostDriver {
                project: projects.get(&p).cloned().unwrap_or_default(),
                model: models.get(&m).cloned().unwrap_or_default(),
                cost_nanos: cost,
                previous_cost_nanos: prev,
                change_nanos: change,
                change_percent: (prev > 0).then(|| change as f64 * 100.0 / prev as f64),
            })
        })
        .collect();
    drivers.sort_by(|a, b| {
        b.cost_nanos
            .cmp(&a.cost_nanos)
            .then_with(|| (&a.project, &a.model).cmp(&(&b.project, &b.model)))
    });
    drivers.truncate(TOP_DRIVERS);

    Ok(CostInsights {
        failed_cost_nanos: failed.cost_nanos,
        failed_requests: failed.requests,
        cache_hit_rate: (total.input_tokens > 0)
            .then(|| total.cached_input_tokens as f64 * 100.0 / total.input_tokens as f64),
        cached_input_tokens: total.cached_input_tokens,
        input_tokens: total.input_tokens,
        cache_savings_nanos,
        unpriced_cached_tokens,
        drivers,
    })
}
