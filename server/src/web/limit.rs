//! Per-key rate limiting of ingest: a token bucket per key, in this process' memory.
//!
//! Each replica limits on its own, so behind a load balancer over N replicas a key may send
//! up to N times the rate; the limit protects a replica, it is not a billing quota.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Token buckets keyed by an ingest key's prefix.
pub struct RateLimiter {
    /// Tokens (events) added per second; 0 disables the limit.
    rate: f64,
    /// Most tokens a bucket holds.
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter of `per_sec` events per second per key that lets a burst of one second's
    /// worth, and at least `min_burst` (one full batch) through.
    pub fn new(per_sec: usize, min_burst: usize) -> RateLimiter {
        RateLimiter {
            rate: per_sec as f64,
            burst: per_sec.max(min_burst) as f64,
            buckets: Mutex::default(),
        }
    }

    /// Takes `n` tokens from `key`'s bucket, or says how long until they would be there.
    pub fn take(&self, key: &str, n: usize) -> Result<(), Duration> {
        self.take_at(key, n, Instant::now())
    }

    fn take_at(&self, key: &str, n: usize, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Keys that are idle long enough to be full again carry no state worth keeping.
            let horizon = Duration::from_secs_f64(self.burst / self.rate);
            buckets.retain(|_, (_, at)| now.duration_since(*at) < horizon);
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        let refilled =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        let need = n as f64;
        if refilled >= need {
            *tokens = refilled - need;
            *at = now;
            Ok(())
        } else {
            *tokens = refilled;
            *at = now;
            Err(Duration::from_secs_f64((need - refilled) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_rate_waits_and_other_keys_do_not() {
        let l = RateLimiter::new(100, 10);
        let t0 = Instant::now();
        assert!(l.take_at("a", 100, t0).is_ok());
        let wait = l.take_at("a", 50, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert!(l.take_at("b", 100, t0).is_ok());
        // Half a second later there are 50 tokens again.
        assert!(l.take_at("a", 50, t0 + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn a_zero_rate_means_no_limit() {
        let l = RateLimiter::new(0, 10);
        assert!(l.take("a", 1_000_000).is_ok());
    }
}
