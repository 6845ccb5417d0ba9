//! Webhook notifications: alerts are queued as deliveries in the database (in the transaction
//! that records the alert) and a background sender POSTs them, signed, retrying with
//! exponential backoff until a 2xx answer or the attempts run out.
//!
//! Each POST carries the JSON body and these headers:
//! - `X-UA-Event`: `budget.threshold`, `alert.firing`, `alert.resolved` or `test`;
//! - `X-UA-Delivery`: the delivery's id (the same on every retry, for de-duplication);
//! - `X-UA-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the
//!   webhook's secret (the whole `whsec_…` string as the key)>`. Receivers recompute it and
//!   reject old timestamps (replays).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::address_guard;
use crate::store::{DueDelivery, StoreError};
use crate::Store;

/// Retry schedule: after failed attempt n (1-based) the next waits `base_ms x 2^(n-1)`, at most
/// an hour; after `max_attempts` the delivery is marked failed.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base_ms: i64,
    pub max_attempts: i64,
}

impl Default for Backoff {
    /// 30 s, 1, 2, 4, 8, 16, 32 min: eight attempts over about an hour.
    fn default() -> Self {
        Backoff {
            base_ms: 30_000,
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// How long to wait after failed attempt `attempt` (1-based).
    pub fn delay_ms(&self, attempt: i64) -> i64 {
        let doublings = (attempt - 1).clamp(0, 20) as u32;
        self.base_ms.saturating_mul(1 << doublings).min(3_600_000)
    }
}

/// How long a sender holds a delivery it is sending (longer than the request timeout), so
/// that other replicas leave it alone.
const LEASE_MS: i64 = 60_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries sent per pass.
const BATCH: i64 = 20;

/// The `X-UA-Signature` value for `body` sent at `t` (unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A new webhook secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Checks a webhook URL: absolute `http` or `https` with a host.
pub fn check_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("url {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "url {url:?}: expected an http:// or https:// address"
        ));
    }
    Ok(url.to_string())
}

/// Unix milliseconds as RFC 3339 in UTC, for webhook bodies.
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The body of a test delivery.
pub fn test_body(webhook_id: i64, now_ms: i64) -> String {
    serde_json::json!({
        "type": "test",
        "message": "Test notification from usage-analytics",
        "webhookId": webhook_id,
        "at": iso(now_ms),
    })
    .to_string()
}

/// What deliveries are sent with: an HTTP client without redirects and with a timeout well
/// inside the lease, which reaches only public addresses unless `allow_private`
/// ([`address_guard`]).
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    allow_private: bool,
}

/// The deliveries' [`Sender`]; `allow_private` is `UA_WEBHOOK_ALLOW_PRIVATE`.
pub fn client(allow_private: bool) -> Result<Sender, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if !allow_private {
        builder = builder.dns_resolver(std::sync::Arc::new(address_guard::PublicOnly));
    }
    Ok(Sender {
        http: builder.build()?,
        allow_private,
    })
}

/// Sends every delivery due now (up to a batch) and records each attempt; answers how many
/// were attempted. `clock` answers the time in unix ms (read again for each delivery, since a
/// POST may take seconds). Safe to run on several replicas at once: a delivery is claimed for
/// a lease before it is sent, and its attempt is recorded only by the holder of that lease.
pub async fn send_due(
    store: &Store,
    client: &Sender,
    clock: &(dyn Fn() -> i64 + Sync),
    backoff: Backoff,
) -> Result<usize, StoreError> {
    let mut sent = 0;
    for mut d in store.due_deliveries(clock(), BATCH).await? {
        let lease = clock() + LEASE_MS;
        if !store.claim_delivery(&d, lease).await? {
            continue;
        }
        d.next_attempt_at_ms = lease;
        let (status, error) = post(client, &d, clock()).await;
        let now = clock();
        let attempts = d.attempts + 1;
        let ok = error.is_none();
        let state = if ok {
            "delivered"
        } else if attempts >= backoff.max_attempts {
            "failed"
        } else {
            "pending"
        };
        let next = if ok {
            now
        } else {
            now + backoff.delay_ms(attempts)
        };
        let attempt = crate::store::Attempt {
            attempts,
            state,
            status,
            error: error.as_deref(),
            next_attempt_at_ms: next,
            now_ms: now,
        };
        if !store.finish_attempt(&d, &attempt).await? {
            tracing::warn!(
                delivery = d.id,
                "webhook delivery changed while it was sent (lease lost or webhook disabled)"
            );
        }
        if !ok {
            tracing::warn!(delivery = d.id, attempts, state, error = ?error, "webhook delivery failed");
        }
        sent += 1;
    }
    Ok(sent)
}

/// POSTs one delivery; answers the status code and, unless it was a 2xx, what went wrong.
async fn post(client: &Sender, d: &DueDelivery, now_ms: i64) -> (Option<i64>, Option<String>) {
    if !client.allow_private {
        // IP literals never reach the resolver: checked here.
        if let Err(why) = address_guard::check_literal(&d.url) {
            return (None, Some(why));
        }
    }
    let t = now_ms.div_euclid(1000);
    let sent = client
        .http
        .post(&d.url)
        .header("content-type", "application/json")
        .header("user-agent", "usage-analytics-webhooks")
        .header("x-ua-event", &d.kind)
        .header("x-ua-delivery", d.id.to_string())
        .header("x-ua-signature", signature(&d.secret, t, &d.body))
        .body(d.body.clone())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16() as i64), None),
        Ok(r) => (
            Some(r.status().as_u16() as i64),
            Some(format!("answered {}", r.status())),
        ),
        Err(e) => (None, Some(describe(&e))),
    }
}

/// A failed request's reason: the resolver's refusal as it is, else reqwest's message.
fn describe(e: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.to_string() == address_guard::REFUSED {
            return address_guard::REFUSED.into();
        }
        source = s.source();
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped_at_an_hour() {
        let b = Backoff::default();
        assert_eq!(b.delay_ms(1), 30_000);
        assert_eq!(b.delay_ms(2), 60_000);
        assert_eq!(b.delay_ms(4), 240_000);
        assert_eq!(b.delay_ms(30), 3_600_000);
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(check_url("https://hooks.example.com/ua").is_ok());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("not a url").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
    }
}
