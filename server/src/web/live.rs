//! Live updates: a change feed that tells dashboards "new events were stored".
//!
//! PostgreSQL: every ingest transaction sends `NOTIFY usage_events`, and each replica LISTENs,
//! so an event stored through one replica reaches viewers of all of them. SQLite (one file,
//! possibly written by the CLI too): events newer than the last seen id are polled twice a
//! second. Each viewer hears only of projects they may see.
//! Each Server-Sent Events connection gets at most one `change` message per second, however
//! fast events arrive, so dashboards re-query at most once per second.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures::Stream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::AppState;
use crate::access::Principal;
use crate::store::Store;

/// How many times each project has changed since the process started. A counter per
/// project (rather than a plain signal) lets each stream wake only for the projects its
/// viewer may see, and a `watch` channel never drops changes however fast they come.
pub type Versions = Arc<BTreeMap<i64, u64>>;

/// Fan-out of "these projects changed" to every open dashboard of this process.
#[derive(Clone)]
pub struct ChangeFeed {
    tx: watch::Sender<Versions>,
}

/// Least time between two `change` messages on one connection.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const SQLITE_POLL: Duration = Duration::from_millis(500);
/// How often an open stream checks its session or token again: it ends within this time of
/// a log-out, a disabled user, a changed password, a revoked token or changed projects.
pub const RECHECK: Duration = Duration::from_secs(5);

impl ChangeFeed {
    /// Starts watching the store for new events (a background task for the process' life).
    pub fn start(store: Store) -> ChangeFeed {
        let (tx, _) = watch::channel(Versions::default());
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

    /// A receiver of project change counters.
    pub fn subscribe(&self) -> watch::Receiver<Versions> {
        self.tx.subscribe()
    }
}

fn bump(tx: &watch::Sender<Versions>, projects: &[i64]) {
    if projects.is_empty() {
        return;
    }
    tx.send_modify(|v| {
        let map = Arc::make_mut(v);
        for p in projects {
            *map.entry(*p).or_default() += 1;
        }
    });
}

async fn watch(
    store: &Store,
    tx: &watch::Sender<Versions>,
) -> Result<(), crate::store::StoreError> {
    if let Some(mut listener) = store.pg_listener().await? {
        loop {
            let n = listener.recv().await?;
            match n.payload().parse::<i64>() {
                Ok(project) => bump(tx, &[project]),
                // Not ours to interpret: treat it as a change of every project seen so far.
                Err(_) => {
                    let all: Vec<i64> = tx.borrow().keys().copied().collect();
                    bump(tx, &all);
                }
            }
        }
    }
    let mut last = store.last_event_id().await?;
    loop {
        tokio::time::sleep(SQLITE_POLL).await;
        let (projects, newest) = store.projects_changed_after(last).await?;
        last = newest;
        bump(tx, &projects);
    }
}

/// Sum of the counters of the projects `who` may see: it changes exactly when one of them does.
fn digest(v: &Versions, who: &Principal) -> u64 {
    v.iter()
        .filter(|(p, _)| crate::access::may_see_project(who, **p))
        .map(|(_, n)| *n)
        .sum()
}

/// Whether the credentials a stream was opened with still stand for the same principal.
async fn still_valid(state: &AppState, headers: &HeaderMap, who: &Principal) -> bool {
    matches!(super::session::principal_of(state, headers).await, Ok(Some(p)) if p == *who)
}

/// `GET /api/v1/live`: Server-Sent Events, one `change` message whenever new events of a
/// project the viewer may see were stored (at most one per second), and a keep-alive
/// comment every 15 s. The stream ends when its session or token no longer stands for the
/// same access (checked every [`RECHECK`]); the browser then reconnects, through the guard.
pub async fn sse(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut rx = state.changes.subscribe();
    let seen = digest(&rx.borrow_and_update(), &who);
    let stop = state.stopping.subscribe();
    let auth = (state, headers);
    let stream = futures::stream::unfold(
        (rx, seen, None::<Instant>, who, stop, auth),
        |(mut rx, mut seen, last, who, mut stop, auth)| async move {
            // Wait until a project this viewer may see changed (or the server stops, or the
            // credentials lapse).
            loop {
                let recheck = tokio::select! {
                    changed = rx.changed() => {
                        changed.ok()?;
                        false
                    }
                    _ = stop.wait_for(|s| *s) => return None,
                    _ = tokio::time::sleep(RECHECK) => true,
                };
                if recheck {
                    if !still_valid(&auth.0, &auth.1, &who).await {
                        return None;
                    }
                    continue;
                }
                if digest(&rx.borrow_and_update(), &who) != seen {
                    break;
                }
            }
            if !still_valid(&auth.0, &auth.1, &who).await {
                return None;
            }
            if let Some(last) = last {
                tokio::time::sleep_until(last + MIN_INTERVAL).await;
            }
            // Everything that arrived while waiting is covered by this one message.
            seen = digest(&rx.borrow_and_update(), &who);
            let event = Event::default().event("change").data("new events");
            Some((Ok(event), (rx, seen, Some(Instant::now()), who, stop, auth)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
