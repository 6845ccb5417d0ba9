//! Ingest: any body must be refused with problems or turned into events that price and roll
//! up without overflow. Input: byte 0 picks the format (low bit: 0 JSON, 1 NDJSON) and how
//! many times the batch is repeated when rolled up (high 7 bits; a real batch may hold up to
//! `max_batch_events` copies of an event); the rest is the body.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use server::config::Config;
use server::ingest::{split_body, validate_batch, BodyFormat, ModelPrice, PriceBook};
use server::rollup::BatchRollup;

/// 2026-01-01T00:00:00Z: the clock the events are validated against.
const NOW_MS: i64 = 1_767_225_600_000;

fn prices() -> PriceBook {
    let price =
        |model: &str, from: i64, input: i64, cached: i64, write: i64, output: i64| ModelPrice {
            model: model.into(),
            effective_from_ms: from,
            input,
            cached_input: cached,
            cache_write: write,
            output,
        };
    PriceBook::new(vec![
        // Micro-USD per million tokens.
        price("gpt-4o", 0, 2_500_000, 1_250_000, 2_500_000, 10_000_000),
        price(
            "gpt-4o",
            1_750_000_000_000,
            2_000_000,
            1_000_000,
            2_000_000,
            8_000_000,
        ),
        price("claude", 0, 15_000_000, 1_500_000, 18_750_000, 75_000_000),
        price("free", 0, 0, 0, 0, 0),
        // The largest price `prices set` accepts ($9,223,372,036,854.775807 per million).
        price("max", 0, i64::MAX, i64::MAX, i64::MAX, i64::MAX),
    ])
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, body)) = data.split_first() else {
        return;
    };
    let format = if head & 1 == 0 {
        BodyFormat::Json
    } else {
        BodyFormat::Ndjson
    };
    let Ok(items) = split_body(body, format) else {
        return;
    };
    let max_events = Config::default().max_batch_events;
    if items.is_empty() || items.len() > max_events {
        return;
    }
    let Ok(events) = validate_batch(&items, NOW_MS) else {
        return;
    };
    let wanted = usize::from(head >> 1).pow(2).max(1);
    let repeat = wanted.min(max_events / events.len());

    let book = prices();
    let mut model_ids: HashMap<&str, i64> = HashMap::new();
    let mut rollup = BatchRollup::default();
    for event in &events {
        let next = model_ids.len() as i64 + 1;
        let model_id = *model_ids.entry(event.model.as_str()).or_insert(next);
        let cost = book.cost_of(event);
        assert!(cost.nanos >= 0, "negative cost {cost:?} for {event:?}");
        for _ in 0..repeat {
            rollup.add(1, model_id, event, cost);
        }
    }
    for (key, delta) in &rollup.rows {
        assert!(
            delta.cost_nanos >= 0 && delta.latency_sum_ms >= 0 && delta.input_tokens >= 0,
            "roll-up row {key:?} went negative: {delta:?}"
        );
        assert!(
            (0..=delta.requests).contains(&delta.errors),
            "roll-up row {key:?} counts more failures than requests: {delta:?}"
        );
    }
});
