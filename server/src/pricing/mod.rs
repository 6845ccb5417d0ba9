//! Pricing: which price was in force for a model at an event's time, and what its tokens
//! cost at that price. An admin's prices (the price table) win; models without one are
//! priced from the bundled catalogue of list prices ([`catalogue`]).

pub mod catalogue;
pub mod overrides;
pub mod reprice;

use std::collections::HashMap;
use std::sync::Arc;

use shared::{PriceSource, ServiceTier, UsageEvent};

use self::catalogue::{Catalogue, Entry, Match, Rates};
use self::overrides::{discount_for, discounted, rule_for, Discount, NameRule};
use crate::rollup::{CostSource, PricedCost};
use crate::store::{Store, StoreError};

pub use shared::ModelPrice;

/// All prices, answering "which price was in force for this model at this time": the price
/// table, the organisation's name rules and discounts, and the catalogue in force.
#[derive(Clone)]
pub struct PriceBook {
    by_model: HashMap<String, Vec<ModelPrice>>,
    catalogue: Arc<Catalogue>,
    rules: Vec<NameRule>,
    discounts: Vec<Discount>,
}

impl Default for PriceBook {
    fn default() -> Self {
        PriceBook::new(Vec::new())
    }
}

impl PriceBook {
    /// Everything the store holds: the price table, name rules, discounts and the catalogue
    /// in force (the newest import, else the bundled one).
    pub async fn load(store: &Store) -> Result<PriceBook, StoreError> {
        let mut book = PriceBook::new(store.list_prices().await?);
        book.rules = store.price_rules().await?;
        book.discounts = store.price_discounts().await?;
        book.catalogue = catalogue::in_force(store).await?;
        Ok(book)
    }

    /// The catalogue this book prices from.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Builds a book of price-table rows in any order, over the bundled catalogue.
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
            rules: Vec::new(),
            discounts: Vec::new(),
        }
    }

    /// The price of `model` in force at `ts_ms`, if any.
    pub fn price_at(&self, model: &str, ts_ms: i64) -> Option<&ModelPrice> {
        let rows = self.by_model.get(model)?;
        let after = rows.partition_point(|r| r.effective_from_ms <= ts_ms);
        after.checked_sub(1).map(|i| &rows[i])
    }

    /// The name a catalogue and price-table lookup uses for `model`: the model a name rule
    /// names, else the name itself.
    pub fn mapped<'a>(&'a self, model: &'a str) -> &'a str {
        rule_for(&self.rules, model).map_or(model, |r| r.model.as_str())
    }

    /// The price-table row in force for `model` as sent, else for the model a name rule
    /// names for it.
    pub fn table_price(&self, model: &str, ts_ms: i64) -> Option<&ModelPrice> {
        (self.price_at(model, ts_ms)).or_else(|| self.price_at(self.mapped(model), ts_ms))
    }

    /// The name rule that maps `model`, if one does.
    pub fn rule_of(&self, model: &str) -> Option<&NameRule> {
        rule_for(&self.rules, model)
    }

    /// The discount in force at `ts_ms` for a catalogue price of any of `models` served by
    /// `provider`.
    pub fn discount_of(&self, models: &[&str], provider: &str, ts_ms: i64) -> Option<&Discount> {
        discount_for(&self.discounts, models, provider, ts_ms)
    }

    /// The stored cost of an event: the client's; else the price table's; else the
    /// catalogue's list price for the event's tier (for the model a name rule names, when
    /// one matches), less the discount in force; else 0 (unpriced).
    pub fn cost_of(&self, event: &UsageEvent) -> PricedCost {
        if let Some(nanos) = event.cost_nanos {
            return PricedCost {
                nanos,
                source: CostSource::Client,
            };
        }
        if let Some(price) = self.table_price(&event.model, event.timestamp_ms) {
            return PricedCost {
                nanos: token_cost_nanos(event, &Charge::from_table(price)),
                source: CostSource::PriceTable,
            };
        }
        let name = self.mapped(&event.model);
        match self.catalogue.resolve(name, event.provider.as_deref()) {
            Some((entry, found)) => {
                let tier = event.service_tier.unwrap_or_default();
                let list = token_cost_nanos(event, &list_charge(entry, event.input_tokens, tier));
                let names = [event.model.as_str(), name, entry.model.as_str()];
                let nanos = match discount_for(
                    &self.discounts,
                    &names,
                    &entry.provider,
                    event.timestamp_ms,
                ) {
                    Some(d) => discounted(list, d.basis_points),
                    None => list,
                };
                PricedCost {
                    nanos,
                    source: match found {
                        Match::Exact => CostSource::Catalogue,
                        Match::Fallback => CostSource::Fallback,
                    },
                }
            }
            None => PricedCost {
                nanos: 0,
                source: CostSource::Unpriced,
            },
        }
    }

    /// Why `model` (from `provider`, when known) gets the price it gets at `ts_ms`, in
    /// words: the admin page's and `prices resolve`'s answer.
    pub fn explain(&self, model: &str, provider: Option<&str>, ts_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = self.table_price(model, ts_ms) {
            out.push(format!(
                "{model}: the price table's price of {} from {}: input {} cached input {} \
                 cache write {} output {} (USD per 1M tokens)",
                p.model,
                shared::format_utc_ms(p.effective_from_ms),
                micros(p.input),
                micros(p.cached_input),
                micros(p.cache_write),
                micros(p.output)
            ));
            return out;
        }
        let rule = rule_for(&self.rules, model);
        if let Some(r) = rule {
            out.push(format!(
                "{model}: name rule {} ({:?}) says it is {}",
                r.id, r.pattern, r.model
            ));
        }
        let name = self.mapped(model);
        match self.catalogue.resolve(name, provider) {
            None => out.push(format!(
                "{name}: no price (stored as unpriced): not in the price table, and the \
                 catalogue ({} models, taken {}) has no such model or family",
                self.catalogue.len(),
                self.catalogue.taken
            )),
            Some((entry, found)) => {
                let how = match found {
                    Match::Exact => "the catalogue's list price of".to_string(),
                    Match::Fallback => {
                        format!("a fallback: {name} is not listed, so its family's price, of")
                    }
                };
                let c = list_charge(entry, 0, ServiceTier::Default);
                out.push(format!(
                    "{name}: {how} {} ({}), taken {}: input {} cached input {} cache write {} \
                     output {} (USD per 1M tokens)",
                    entry.model,
                    entry.provider,
                    self.catalogue.taken,
                    micros(c.input),
                    micros(c.cached_input),
                    micros(c.cache_write),
                    micros(c.output)
                ));
                if entry.cache_write_1h.is_some() {
                    out.push(format!("1-hour cache write {}", micros(c.cache_write_1h)));
                }
                for (tier, rates) in [
                    ("batch", &entry.batch),
                    ("flex", &entry.flex),
                    ("priority", &entry.priority),
                ] {
                    if let Some(r) = rates {
                        out.push(format!(
                            "{tier} tier: input {} output {}",
                            micros(r.input),
                            micros(r.output)
                        ));
                    }
                }
                if let Some(lc) = &entry.long_context {
                    out.push(format!(
                        "above {} input tokens, the whole request: input {} output {}",
                        lc.above_input_tokens,
                        micros(lc.rates.input),
                        micros(lc.rates.output)
                    ));
                }
                let names = [model, name, entry.model.as_str()];
                if let Some(d) = discount_for(&self.discounts, &names, &entry.provider, ts_ms) {
                    out.push(format!(
                        "less the {} discount of {} % for {} since {}",
                        d.scope.as_str(),
                        d.basis_points as f64 / 100.0,
                        d.name,
                        shared::format_utc_ms(d.effective_from_ms)
                    ));
                }
            }
        }
        out
    }

    /// Where a request of `model` at `ts_ms` without a client cost gets its price.
    pub fn source_of(&self, model: &str, provider: Option<&str>, ts_ms: i64) -> PriceSource {
        if self.table_price(model, ts_ms).is_some() {
            return PriceSource::PriceTable;
        }
        match self.catalogue.resolve(self.mapped(model), provider) {
            Some((_, Match::Exact)) => PriceSource::Catalogue,
            Some((_, Match::Fallback)) => PriceSource::Fallback,
            None => PriceSource::None,
        }
    }

    /// The price of `model` at `ts_ms` for a request of ordinary size on the default tier:
    /// the price table's, else the catalogue's list price.
    pub fn base_price(&self, model: &str, ts_ms: i64) -> Option<ModelPrice> {
        if let Some(p) = self.table_price(model, ts_ms) {
            return Some(p.clone());
        }
        let (entry, _) = self.catalogue.resolve(self.mapped(model), None)?;
        Some(list_charge(entry, 0, ServiceTier::Default).as_price(&entry.model))
    }
}

/// The rates one request is charged at, micro-USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    pub input: i64,
    pub cached_input: i64,
    /// 5-minute cache writes (and every cache write where the provider has one kind).
    pub cache_write: i64,
    pub cache_write_1h: i64,
    pub output: i64,
}

impl Charge {
    /// An admin's price: it has one cache-write rate, for 5-minute and 1-hour writes alike,
    /// and holds for every service tier.
    pub fn from_table(p: &ModelPrice) -> Charge {
        Charge {
            input: p.input,
            cached_input: p.cached_input,
            cache_write: p.cache_write,
            cache_write_1h: p.cache_write,
            output: p.output,
        }
    }

    /// The rates as a price-table row (1-hour writes are not part of one).
    pub fn as_price(&self, model: &str) -> ModelPrice {
        ModelPrice {
            model: model.to_string(),
            effective_from_ms: 0,
            input: self.input,
            cached_input: self.cached_input,
            cache_write: self.cache_write,
            output: self.output,
        }
    }
}

/// A catalogue entry's rates for a request with `input_tokens` on `tier`.
///
/// - Above the long-context threshold the long-context rates apply to the whole request.
/// - A tier the entry has rates for (batch, flex, priority) uses them; a tier it has none for
///   is charged the default tier's rates. Above the long-context threshold on such a tier,
///   each long-context rate is scaled as the tier scales the ordinary rate (Gemini 2.5 Pro
///   batch: half of $2.50 and $15 above 200k input tokens).
/// - Cache reads and writes without a price of their own cost the tier's input rate, never
///   $0 (OpenAI charges cache writes as ordinary input; its batch tier has no cache discount).
/// - 1-hour cache writes cost the entry's 1-hour rate, scaled like the input rate on another
///   tier or above the threshold (Anthropic: 2x the input rate in every tier); entries
///   without one charge them as 5-minute writes.
pub fn list_charge(entry: &Entry, input_tokens: i64, tier: ServiceTier) -> Charge {
    let base = &entry.rates;
    let tiered = match tier {
        ServiceTier::Default => None,
        ServiceTier::Batch => entry.batch.as_ref(),
        ServiceTier::Flex => entry.flex.as_ref(),
        ServiceTier::Priority => entry.priority.as_ref(),
    };
    let long = (entry.long_context.as_ref()).filter(|lc| input_tokens > lc.above_input_tokens);
    let rates: Rates = match (tiered, long) {
        (None, None) => base.clone(),
        (Some(t), None) => t.clone(),
        (None, Some(lc)) => lc.rates.clone(),
        (Some(t), Some(lc)) => Rates {
            input: scale(lc.rates.input, t.input, base.input),
            output: scale(lc.rates.output, t.output, base.output),
            cached_input: lc.rates.cached_input.map(|c| {
                scale(
                    c,
                    t.cached_input.unwrap_or(t.input),
                    base.cached_input.unwrap_or(base.input),
                )
            }),
            cache_write: lc.rates.cache_write.map(|c| {
                scale(
                    c,
                    t.cache_write.unwrap_or(t.input),
                    base.cache_write.unwrap_or(base.input),
                )
            }),
        },
    };
    let cache_write = rates.cache_write.unwrap_or(rates.input);
    Charge {
        input: rates.input,
        cached_input: rates.cached_input.unwrap_or(rates.input),
        cache_write,
        cache_write_1h: match entry.cache_write_1h {
            Some(one_hour) => scale(one_hour, rates.input, base.input),
            None => cache_write,
        },
        output: rates.output,
    }
}

/// Micro-USD as dollars with six decimals.
pub fn micros(m: i64) -> String {
    format!("{}.{:06}", m / 1_000_000, m % 1_000_000)
}

/// `rate * to / from`, rounded half up; `rate` itself when `from` is 0.
fn scale(rate: i64, to: i64, from: i64) -> i64 {
    if from == 0 {
        return rate;
    }
    let (rate, to, from) = (rate as i128, to as i128, from as i128);
    ((rate * to + from / 2) / from).clamp(0, i64::MAX.into()) as i64
}

/// Cost of an event's tokens at `charge`, in nano-USD rounded half up.
///
/// `input_tokens` includes cached and cache-write tokens, which are charged at their own
/// rates; only the remainder is charged at the input rate. `cache_write_1h_tokens` are the
/// part of `cache_write_tokens` written for an hour. A cost beyond `i64` (about $9.2
/// billion, only with absurd prices) saturates instead of wrapping to a negative cost.
pub fn token_cost_nanos(event: &UsageEvent, charge: &Charge) -> i64 {
    let uncached = event.input_tokens - event.cached_input_tokens - event.cache_write_tokens;
    let five_minute = event.cache_write_tokens - event.cache_write_1h_tokens;
    // tokens * micro-USD per million tokens = pico-USD; divide by 1000 for nano-USD.
    // With validated counts (at most 1e9) and i64 prices each product is below 1e28: no
    // i128 overflow.
    let pico: i128 = uncached as i128 * charge.input as i128
        + event.cached_input_tokens as i128 * charge.cached_input as i128
        + five_minute as i128 * charge.cache_write as i128
        + event.cache_write_1h_tokens as i128 * charge.cache_write_1h as i128
        + event.output_tokens as i128 * charge.output as i128;
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
        let charge = Charge::from_table(&price);
        assert_eq!(token_cost_nanos(&e, &charge), 1_605_000_000);
        e.input_tokens = 1;
        e.cached_input_tokens = 0;
        e.cache_write_tokens = 0;
        e.output_tokens = 0;
        // 1 token at $3/M = 3000 nano-USD exactly.
        assert_eq!(token_cost_nanos(&e, &charge), 3_000);
    }

    #[test]
    fn tiers_long_context_and_one_hour_writes_pick_their_rates() {
        let catalogue = Catalogue::bundled();
        let entry = |name: &str| catalogue.resolve(name, None).unwrap().0;
        let rates = |c: Charge| (c.input, c.cache_write, c.cache_write_1h, c.output);
        let sonnet = entry("claude-sonnet-4-20250514");
        // Anthropic: 1-hour writes at 2x input, in every tier and above 200k input tokens.
        assert_eq!(
            rates(list_charge(sonnet, 1_000, ServiceTier::Default)),
            (3_000_000, 3_750_000, 6_000_000, 15_000_000)
        );
        assert_eq!(
            rates(list_charge(sonnet, 1_000, ServiceTier::Batch)),
            (1_500_000, 1_875_000, 3_000_000, 7_500_000)
        );
        assert_eq!(
            rates(list_charge(sonnet, 300_000, ServiceTier::Default)),
            (6_000_000, 7_500_000, 12_000_000, 22_500_000)
        );
        // Gemini 2.5 Pro batch above 200k: half the long-context rates.
        let pro = list_charge(entry("gemini-2.5-pro"), 250_000, ServiceTier::Batch);
        assert_eq!((pro.input, pro.output), (1_250_000, 7_500_000));
        // A tier the model has no price for is charged the default tier's rates; a tier
        // without a cache price has no cache discount.
        let mini = entry("gpt-4o-mini");
        assert_eq!(
            list_charge(mini, 10, ServiceTier::Flex),
            list_charge(mini, 10, ServiceTier::Default)
        );
        let batch = list_charge(mini, 10, ServiceTier::Batch);
        assert_eq!(
            (
                batch.input,
                batch.cached_input,
                batch.cache_write,
                batch.output
            ),
            (75_000, 75_000, 75_000, 300_000)
        );
    }

    #[test]
    fn one_hour_cache_writes_are_charged_at_their_rate() {
        let mut e = validate_event(&valid(), NOW).unwrap();
        e.input_tokens = 3_000;
        e.cache_write_tokens = 3_000;
        e.cache_write_1h_tokens = 1_000;
        e.output_tokens = 0;
        let charge = Charge {
            input: 3_000_000,
            cached_input: 300_000,
            cache_write: 3_750_000,
            cache_write_1h: 6_000_000,
            output: 15_000_000,
        };
        // 2,000 x $3.75 + 1,000 x $6 per million = $0.0075 + $0.006.
        assert_eq!(token_cost_nanos(&e, &charge), 13_500_000);
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
        assert_eq!(token_cost_nanos(&e, &Charge::from_table(&price)), i64::MAX);
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
