//! Re-pricing history: a price that arrives late re-prices exactly the affected stored events,
//! every roll-up level moves by exactly the difference (what `verify` checks), a second run
//! changes nothing, an interrupted run resumes without applying a batch twice, periods past
//! retention are reported and left alone, the current budget period fires once, and events
//! arriving during a run keep the price they were stored with.

use crate::common;

use chrono::Datelike;
use common::{event_at, fresh_url, Db};
use server::pricing::reprice::{self, RepriceError};
use server::store::{RollupFilter, Sums};
use server::Store;
use shared::{ModelPrice, UsageEvent};

const HOUR_MS: i64 = 3_600_000;
/// 2025-01-10T00:00:00Z: events past retention.
const OLD_MS: i64 = 1_736_467_200_000;

fn everything() -> RollupFilter {
    RollupFilter {
        start_bucket: i64::MIN / 2,
        end_bucket: i64::MAX / 2,
        ..Default::default()
    }
}

/// Cost, unpriced and fallback-priced requests of every stored event.
async fn totals(store: &Store, f: &RollupFilter) -> (i64, i64, i64) {
    let t = store.rollup_totals(f, Sums::All).await.unwrap();
    (t.cost_nanos, t.unpriced_requests, t.client_cost_requests)
}

/// What `verify` checks: the 15-minute rows equal the raw events, every level their sums.
async fn assert_verified(store: &Store) {
    let mut stored = store.all_rollups().await.unwrap();
    let mut raw = store.rollups_from_raw_events().await.unwrap();
    if let Some(mark) = store.raw_deleted_before().await.unwrap() {
        stored.retain(|(k, _)| k.bucket * 1000 >= mark);
        raw.retain(|(k, _)| k.bucket * 1000 >= mark);
    }
    assert_eq!(stored, raw);
    assert_eq!(store.derived_rollups_mismatch().await.unwrap(), None);
}

fn late(i: usize, ts_ms: i64) -> UsageEvent {
    UsageEvent {
        model: "late-model".into(),
        input_tokens: 1_000,
        output_tokens: 500,
        ..event_at(format!("late-{i}"), ts_ms)
    }
}

fn price(input_usd: i64, output_usd: i64) -> ModelPrice {
    ModelPrice {
        model: "late-model".into(),
        effective_from_ms: OLD_MS - 30 * 24 * HOUR_MS,
        input: input_usd * 1_000_000,
        cached_input: input_usd * 1_000_000,
        cache_write: input_usd * 1_000_000,
        output: output_usd * 1_000_000,
    }
}

async fn a_late_price_reprices_exactly_the_affected_events(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_url(db, &dir).await;
    let store = Store::connect(Some(&url)).await.unwrap();
    let project = store.create_project("p").await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    // 30 recent events of a model nobody prices yet, 10 of them with the client's own cost;
    // 5 of a catalogue model; 4 old ones that retention will delete.
    let mut events: Vec<UsageEvent> = (0..30)
        .map(|i| late(i, now - 1_000 - i as i64 * 1_000))
        .collect();
    for e in events.iter_mut().take(10) {
        e.cost_nanos = Some(7_000);
    }
    events.extend((0..5).map(|i| UsageEvent {
        model: "gpt-4o-mini".into(),
        ..event_at(format!("mini-{i}"), now - 2_000)
    }));
    events.extend((0..4).map(|i| late(100 + i, OLD_MS + i as i64 * HOUR_MS)));
    server::ingest::submit(&store, project.id, &events)
        .await
        .unwrap();
    server::admin::create_budget(
        &store,
        "test",
        None,
        "0.01",
        "month",
        "UTC",
        Some(&[100]),
        "",
    )
    .await
    .unwrap();
    let before = totals(&store, &everything()).await;
    assert_eq!(before, (10 * 7_000 + catalogue_cost(&store).await, 24, 10));

    // Retention deleted January 2025's raw events; their roll-ups stay.
    let mark = OLD_MS + 20 * 24 * HOUR_MS;
    store.mark_raw_deleted_before(mark).await.unwrap();
    assert_eq!(store.delete_raw_events_before(mark, 100).await.unwrap(), 4);
    let january = RollupFilter {
        start_bucket: OLD_MS / 1000,
        end_bucket: mark / 1000,
        ..Default::default()
    };
    assert_eq!(totals(&store, &january).await, (0, 4, 0));

    // The price arrives with an effective date long past: $1 in, $2 out per million, so each
    // event costs 1,000 x $1 + 500 x $2 per million = $0.002.
    server::admin::set_price(&store, "test", &price(1, 2))
        .await
        .unwrap();
    let p = reprice::preview(&store, OLD_MS - 24 * HOUR_MS, None)
        .await
        .unwrap();
    assert_eq!(p.kept_from_ms, Some(mark), "the deleted period is reported");
    assert_eq!(p.from_ms, mark);
    assert_eq!(
        (p.events, p.changed),
        (25, 20),
        "client costs are never re-priced"
    );
    assert_eq!(
        (p.cost_before_nanos, p.cost_after_nanos),
        (0, 20 * 2_000_000)
    );
    // The preview changed nothing.
    assert_eq!(totals(&store, &everything()).await, before);

    let run = reprice::start(&store, "test", OLD_MS - 24 * HOUR_MS, None, now)
        .await
        .unwrap();
    let done = server::admin::run_reprice(&store, run.id, 7, None, |_| {})
        .await
        .unwrap();
    assert!(done.finished_at_ms.is_some());
    assert_eq!((done.events_seen, done.events_changed), (25, 20));
    assert_eq!(
        totals(&store, &everything()).await,
        (before.0 + 20 * 2_000_000, 4, 10),
        "20 events moved from $0 to $0.002; January's 4 stay unpriced"
    );
    assert_eq!(totals(&store, &january).await, (0, 4, 0));
    assert_verified(&store).await;
    // The budget's current period crossed 100 %: one alert, once.
    assert_eq!(store.budget_alerts(10).await.unwrap().len(), 1);

    // A second run changes nothing and fires nothing.
    let again = reprice::start(&store, "test", OLD_MS, None, now)
        .await
        .unwrap();
    let again = server::admin::run_reprice(&store, again.id, 1_000, None, |_| {})
        .await
        .unwrap();
    assert_eq!((again.events_seen, again.events_changed), (25, 0));
    assert_eq!(
        totals(&store, &everything()).await.0,
        before.0 + 20 * 2_000_000
    );
    assert_eq!(store.budget_alerts(10).await.unwrap().len(), 1);

    // The price changes again ($3 / $4: $0.005 an event), and the run is interrupted after
    // two batches of 3: it cannot be started twice, and resumes where it stopped.
    server::admin::set_price(&store, "test", &price(3, 4))
        .await
        .unwrap();
    let run = reprice::start(&store, "test", OLD_MS, Some("late-model"), now)
        .await
        .unwrap();
    let stopped = server::admin::run_reprice(&store, run.id, 3, Some(2), |_| {})
        .await
        .unwrap();
    assert_eq!(stopped.finished_at_ms, None);
    assert_eq!(stopped.events_seen, 6);
    let middle = totals(&store, &everything()).await.0;
    assert_eq!(middle, before.0 + 14 * 2_000_000 + 6 * 5_000_000);
    assert_verified(&store).await;
    assert!(matches!(
        reprice::start(&store, "test", OLD_MS, None, now).await,
        Err(RepriceError::Unfinished(id)) if id == run.id
    ));
    let open = reprice::unfinished(&store).await.unwrap().unwrap();
    assert_eq!(open.id, run.id);
    let resumed = server::admin::run_reprice(&store, open.id, 3, None, |_| {})
        .await
        .unwrap();
    assert!(resumed.finished_at_ms.is_some());
    assert_eq!((resumed.events_seen, resumed.events_changed), (20, 20));
    assert_eq!(
        totals(&store, &everything()).await,
        (before.0 + 20 * 5_000_000, 4, 10)
    );
    assert_verified(&store).await;
    // Both runs are in the audit log.
    let audit = store.audit_log(50).await.unwrap();
    let finished = audit
        .iter()
        .filter(|a| a.action == "reprice.finish")
        .count();
    assert_eq!(finished, 3);
}

/// The cost the catalogue gave the 5 gpt-4o-mini events (1 token in, 1 out each).
async fn catalogue_cost(store: &Store) -> i64 {
    let f = RollupFilter {
        model_ids: store
            .list_models()
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, n)| n == "gpt-4o-mini")
            .map(|(id, _)| id)
            .collect(),
        ..everything()
    };
    let cost = store.rollup_totals(&f, Sums::All).await.unwrap().cost_nanos;
    // $0.15 in and $0.60 out per million tokens: 150 + 600 nano-USD per event.
    assert_eq!(cost, 5 * 750);
    cost
}

/// Re-pricing a closed budget period past its budget fires nothing for it (the alerts of a
/// period are recorded while it runs); the current period is checked and fires once.
async fn only_the_current_budget_period_fires_after_repricing(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_url(db, &dir).await;
    let store = Store::connect(Some(&url)).await.unwrap();
    let project = store.create_project("p").await.unwrap();
    server::admin::create_budget(
        &store,
        "test",
        None,
        "0.001",
        "month",
        "UTC",
        Some(&[100]),
        "",
    )
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    // 45 days ago is always in an earlier calendar month.
    let closed: Vec<UsageEvent> = (0..3).map(|i| late(i, now - 45 * 24 * HOUR_MS)).collect();
    server::ingest::submit(&store, project.id, &closed)
        .await
        .unwrap();
    server::admin::set_price(&store, "test", &price(1, 2))
        .await
        .unwrap();
    let run = reprice::start(&store, "test", OLD_MS, None, now)
        .await
        .unwrap();
    let done = server::admin::run_reprice(&store, run.id, 10, None, |_| {})
        .await
        .unwrap();
    assert_eq!(
        done.events_changed, 3,
        "$0.006 now lies in the closed month"
    );
    assert!(store.budget_alerts(10).await.unwrap().is_empty());

    // An event of this month stored at a $0 price from an hour ago; then that price is
    // corrected and the event re-priced: the current period fires, once.
    server::admin::set_price(
        &store,
        "test",
        &ModelPrice {
            effective_from_ms: now - HOUR_MS,
            ..price(0, 0)
        },
    )
    .await
    .unwrap();
    let this_month = vec![late(10, now - 1_000)];
    server::ingest::submit(&store, project.id, &this_month)
        .await
        .unwrap();
    assert!(
        store.budget_alerts(10).await.unwrap().is_empty(),
        "$0 so far"
    );
    server::admin::set_price(
        &store,
        "test",
        &ModelPrice {
            effective_from_ms: now - HOUR_MS,
            ..price(1, 2)
        },
    )
    .await
    .unwrap();
    let run = reprice::start(&store, "test", OLD_MS, None, now)
        .await
        .unwrap();
    server::admin::run_reprice(&store, run.id, 10, None, |_| {})
        .await
        .unwrap();
    let alerts = store.budget_alerts(10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    let month_start = chrono::Utc::now()
        .date_naive()
        .with_day(1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    assert_eq!(alerts[0].period_start, month_start);
}

on_both_backends!(
    a_late_price_reprices_exactly_the_affected_events,
    only_the_current_budget_period_fires_after_repricing
);
