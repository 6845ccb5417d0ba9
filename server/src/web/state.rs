//! What every request handler may reach: the store, the settings, the live feed, limits and
//! counters.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use super::{limit, live, metrics};
use crate::{Config, Store};

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
    /// Signals of newly stored events, for live dashboards.
    pub changes: live::ChangeFeed,
    /// Per-key ingest rate limit.
    pub ingest_limit: Arc<limit::RateLimiter>,
    /// Counters exposed at `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Set to `true` when the server starts shutting down: endless streams (live updates)
    /// end then, so that shutdown waits only for real work such as in-flight batches.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// State for a server over `store`; starts the change feed (needs a Tokio runtime).
    pub fn new(store: Store, config: Config, leptos_options: LeptosOptions) -> AppState {
        AppState {
            changes: live::ChangeFeed::start(store.clone()),
            ingest_limit: Arc::new(limit::RateLimiter::new(
                config.ingest_events_per_sec,
                config.max_batch_events,
            )),
            metrics: Arc::default(),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
            store,
            config: Arc::new(config),
            leptos_options,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
