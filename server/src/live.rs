//! Live updates: a change feed that tells dashboards "new events were stored".
//!
//! PostgreSQL: every ingest transaction sends `NOTIFY usage_events`, and each replica LISTENs,
//! so an event stored through one replica reaches viewers of all of them. SQLite (one file,
//! possibly written by the CLI too): the newest event id is polled twice a second.
//! Each Server-Sent Events connection gets at most one `change` message per second, however
//! fast events arrive, so dashboards re-query at most once per second.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::store::Store;
use crate::AppState;

/// Fan-out of "something changed" to every open dashboard of this process.
#[derive(Clone)]
pub struct ChangeFeed {
    tx: broadcast::Sender<()>,
}

/// Least time between two `change` messages on one connection.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const SQLITE_POLL: Duration = Duration::from_millis(500);

impl ChangeFeed {
    /// Starts watching the store for new events (a background task for the process' life).
    pub fn start(store: Store) -> ChangeFeed {
        let (tx, _) = broadcast::channel(16);
        let feed = ChangeFeed { tx: tx.clone() };
        tokio::spawn(async move {
            loop {
                if let Err(e) = watch(&store, &tx).await {
                    tracing::warn!(error = %e, "change feed interrupted; retrying in 1 s");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        feed
    }

    /// A receiver of change signals.
    pub fn subscribe(&self) -> broadcast::Receiver<()> {
        self.tx.subscribe()
    }
}

async fn watch(store: &Store, tx: &broadcast::Sender<()>) -> Result<(), crate::store::StoreError> {
    if let Some(mut listener) = store.pg_listener().await? {
        loop {
            listener.recv().await?;
            let _ = tx.send(());
        }
    }
    let mut last = store.last_event_id().await?;
    loop {
        tokio::time::sleep(SQLITE_POLL).await;
        let now = store.last_event_id().await?;
        if now != last {
            last = now;
            let _ = tx.send(());
        }
    }
}

/// `GET /api/v1/live`: Server-Sent Events, one `change` message whenever new events were
/// stored (at most one per second), and a keep-alive comment every 15 s.
pub async fn sse(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.changes.subscribe();
    let stream = futures::stream::unfold((rx, None::<Instant>), |(mut rx, last)| async move {
        // Wait for a change (a lagged receiver also means "changed").
        match rx.recv().await {
            Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return None,
        }
        if let Some(last) = last {
            tokio::time::sleep_until(last + MIN_INTERVAL).await;
        }
        // Everything that arrived while waiting is covered by this one message.
        while rx.try_recv().is_ok() {}
        let event = Event::default().event("change").data("new events");
        Some((Ok(event), (rx, Some(Instant::now()))))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
