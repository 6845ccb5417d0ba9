//! The background jobs every replica runs while it serves: raw-event retention, metric
//! alert evaluation, scoped budget checks and webhook delivery. Each takes the store and a
//! stop signal, not the web state, and does work that is safe to repeat on several replicas
//! at once (deletes are idempotent, alert changes and deliveries are claimed conditionally
//! in the store, a budget's alert is recorded once by its unique key).

pub mod retention;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::alerting::{budgets, rules, webhooks};
use crate::Store;

/// Starts every job; they stop when `stopping` changes. `retention_days` 0 keeps raw
/// events forever (no retention job); `webhook_allow_private` lets webhooks reach private
/// addresses.
pub fn spawn_all(
    store: &Store,
    retention_days: u32,
    webhook_allow_private: bool,
    stopping: &watch::Sender<bool>,
) {
    if retention_days > 0 {
        let store = store.clone();
        every(
            Duration::from_secs(3_600),
            stopping.subscribe(),
            move || {
                let store = store.clone();
                async move { retention::run_once(&store, retention_days).await }
            },
        );
    }
    let evaluator = store.clone();
    every(Duration::from_secs(60), stopping.subscribe(), move || {
        let store = evaluator.clone();
        async move {
            let now = chrono::Utc::now().timestamp_millis();
            if let Err(e) = rules::evaluate(&store, now).await {
                tracing::error!(error = %e, "alert evaluation failed");
            }
        }
    });
    let budget_checker = store.clone();
    every(
        budgets::SCOPED_CHECK_EVERY,
        stopping.subscribe(),
        move || {
            let store = budget_checker.clone();
            async move {
                let now = chrono::Utc::now().timestamp_millis();
                if let Err(e) = budgets::check_scoped(&store, now).await {
                    tracing::error!(error = %e, "scoped budget check failed");
                }
            }
        },
    );
    let client = match webhooks::client(webhook_allow_private) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: no HTTP client; nothing will be sent");
            return;
        }
    };
    let sender = store.clone();
    every(Duration::from_secs(1), stopping.subscribe(), move || {
        let (store, client) = (sender.clone(), client.clone());
        async move {
            let clock = || chrono::Utc::now().timestamp_millis();
            let backoff = webhooks::Backoff::default();
            if let Err(e) = webhooks::send_due(&store, &client, &clock, backoff).await {
                tracing::error!(error = %e, "webhook sender failed");
            }
        }
    });
}

/// Runs `job` now and then every `period` until `stopping` changes; a job logs its own
/// failures and is tried again next time.
fn every<F, Fut>(period: Duration, mut stopping: watch::Receiver<bool>, job: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        loop {
            job().await;
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stopping.changed() => return,
            }
        }
    });
}
