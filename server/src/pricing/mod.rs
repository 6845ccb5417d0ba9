//! Pricing: which price was in force for a model at an event's time, and what its tokens
//! cost at that price. An admin's prices (the price table) win; models without one are
//! priced from the bundled catalogue of list prices ([`catalogue`]).

pub mod catalogue;

use std::collections::HashMap;

use shared::UsageEvent;

use self::catalogue::{Catalogue, Entry, Match};
use crate::rollup::{CostSource, PricedCost};

pub use shared::ModelPrice;

/// All prices, answering "which price was in force for this model at this time".
#[derive(Clone)]
pub struct PriceBook {
    by_model: HashMap<String, Vec<ModelPrice>>,
    catalogue: &'static Catalogue,
}

impl Default for PriceBook {
    fn default() -> Self {
        PriceBook::new(Vec::new())
    }
}

impl PriceBook {
    /// Builds the book from rows in any order.
    pub fn new(rows: Vec<ModelPrice>) -> PriceBook {
        let mut by_model: HashMap<String, Vec<ModelPrice>> = HashMap::new();
        for row in rows {
            by_model.entry(row.model.clone()).or_default().push(row);
        }
        for rows in by_model.values_mut() {
            rows.sort_by_key(|r| r.effective_from_ms);
        }
        PriceBook {
            by_model,
            catalogue: Catalogue::bundled(),
        }
    }

    /// The price of `model` in force at `ts_ms`, if any.
    pub fn price_at(&self, model: &str, ts_ms: i64) -> Option<&ModelPrice> {
        let rows = self.by_model.get(model)?;
        let after = rows.partition_point(|r| r.effective_from_ms <= ts_ms);
        after.checked_sub(1).map(|i| &rows[i])
    }

    /// The stored cost of an event: the client's, else the price table's, else 0 (unpriced).
    pub fn cost_of(&self, event: &UsageEvent) -> PricedCost {
        if let Some(nanos) = event.cost_nanos {
            return PricedCost {
                nanos,
                source: CostSource::Client,
            };
        }
        if let Some(price) = self.price_at(&event.model, event.timestamp_ms) {
            return PricedCost {
                nanos: token_cost_nanos(event, price),
                source: CostSource::PriceTable,
            };
        }
        match self
            .catalogue
            .resolve(&event.model, event.provider.as_deref())
        {
            Some((entry, found)) => PricedCost {
                nanos: token_cost_nanos(event, &list_price(entry, event.input_tokens)),
                source: match found {
                    Match::Exact => CostSource::Catalogue,
                    Match::Fallback => CostSource::Fallback,
                },
            },
            None => PricedCost {
                nanos: 0,
                source: CostSource::Unpriced,
            },
        }
    }

    /// The price of `model` at `ts_ms` for a request of ordinary size: the price table's,
    /// else the catalogue's list price.
    pub fn base_price(&self, model: &str, ts_ms: i64) -> Option<ModelPrice> {
        if let Some(p) = self.price_at(model, ts_ms) {
            return Some(p.clone());
        }
        let (entry, _) = self.catalogue.resolve(model, None)?;
        Some(list_price(entry, 0))
    }
}

/// A catalogue entry's rates for a request with `input_tokens`: the long-context tier's for
/// the whole request above its threshold. Cache reads and writes without a price of their
/// own cost the input rate (never $0).
pub fn list_price(entry: &Entry, input_tokens: i64) -> ModelPrice {
    let rates = match &entry.long_context {
        Some(lc) if input_tokens > lc.above_input_tokens => &lc.rates,
        _ => &entry.rates,
    };
    ModelPrice {
        model: entry.model.clone(),
        effective_from_ms: 0,
        input: rates.input,
        cached_input: rates.cached_input.unwrap_or(rates.input),
        cache_write: rates.cache_write.unwrap_or(rates.input),
        output: rates.output,
    }
}

/// Cost of an event's tokens at a price, in nano-USD rounded half up.
///
/// `input_tokens` includes cached and cache-write tokens, which are charged at their own
/// rates; only the remainder is charged at the input rate. A cost beyond `i64` (about
/// $9.2 billion, only with absurd prices) saturates instead of wrapping to a negative cost.
pub fn token_cost_nanos(event: &UsageEvent, price: &ModelPrice) -> i64 {
    let uncached = event.input_tokens - event.cached_input_tokens - event.cache_write_tokens;
    // tokens * micro-USD per million tokens = pico-USD; divide by 1000 for nano-USD.
    // With validated counts (at most 1e9) and i64 prices each product is below 1e28: no
    // i128 overflow.
    let pico: i128 = uncached as i128 * price.input as i128
        + event.cached_input_tokens as i128 * price.cached_input as i128
        + event.cache_write_tokens as i128 * price.cache_write as i128
        + event.output_tokens as i128 * price.output as i128;
    ((pico + 500) / 1000).clamp(i64::MIN.into(), i64::MAX.into()) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::validate::tests::{valid, NOW};
    use crate::ingest::validate_event;
    use serde_json::json;

    #[test]
    fn cached_and_cache_write_tokens_are_charged_at_their_own_rates() {
        let price = ModelPrice {
            model: "m".into(),
            effective_from_ms: 0,
            input: 3_000_000,       // $3 / M
            cached_input: 300_000,  // $0.30 / M
            cache_write: 3_750_000, // $3.75 / M
            output: 15_000_000,     // $15 / M
        };
        let mut e = validate_event(&valid(), NOW).unwrap();
        e.input_tokens = 1_000_000;
        e.cached_input_tokens = 600_000;
        e.cache_write_tokens = 100_000;
        e.output_tokens = 10_000;
        // 300k*3 + 600k*0.3 + 100k*3.75 + 10k*15 = 0.9 + 0.18 + 0.375 + 0.15 = $1.605
        assert_eq!(token_cost_nanos(&e, &price), 1_605_000_000);
        e.input_tokens = 1;
        e.cached_input_tokens = 0;
        e.cache_write_tokens = 0;
        e.output_tokens = 0;
        // 1 token at $3/M = 3000 nano-USD exactly.
        assert_eq!(token_cost_nanos(&e, &price), 3_000);
    }

    #[test]
    fn a_cost_beyond_i64_saturates_instead_of_turning_negative() {
        // Found by the ingest_body fuzz target: 2e9 tokens at the largest price `prices set`
        // accepts wrapped to -2,000,000 nano-USD.
        let price = ModelPrice {
            model: "max".into(),
            effective_from_ms: 0,
            input: i64::MAX,
            cached_input: i64::MAX,
            cache_write: i64::MAX,
            output: i64::MAX,
        };
        let event = json!({"timestamp": "2025-06-01T12:00:00Z", "model": "max",
            "input_tokens": 1_000_000_000, "output_tokens": 1_000_000_000});
        let e = validate_event(&event, NOW).unwrap();
        assert_eq!(token_cost_nanos(&e, &price), i64::MAX);
        let cost = PriceBook::new(vec![price]).cost_of(&e);
        assert_eq!(cost.nanos, i64::MAX);
    }

    #[test]
    fn the_price_in_force_at_the_event_time_is_used() {
        let p = |from: i64, input: i64| ModelPrice {
            model: "m".into(),
            effective_from_ms: from,
            input,
            cached_input: 0,
            cache_write: 0,
            output: 0,
        };
        let book = PriceBook::new(vec![p(2_000, 2), p(1_000, 1)]);
        assert_eq!(book.price_at("m", 999), None);
        assert_eq!(book.price_at("m", 1_000).unwrap().input, 1);
        assert_eq!(book.price_at("m", 1_999).unwrap().input, 1);
        assert_eq!(book.price_at("m", 2_000).unwrap().input, 2);
        assert_eq!(book.price_at("other", 2_000), None);
    }
}
