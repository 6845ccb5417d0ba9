//! Server settings, read from the environment with safe defaults.

/// Limits and addresses the server runs with.
#[derive(Clone, Debug)]
pub struct Config {
    /// `DATABASE_URL`; `None` means the SQLite file `data/usage-analytics.db`.
    pub database_url: Option<String>,
    /// Largest ingest body in bytes (`UA_MAX_BODY_BYTES`, default 16 MiB); larger gets 413.
    pub max_body_bytes: usize,
    /// Most events in one ingest batch (`UA_MAX_BATCH_EVENTS`, default 10,000).
    pub max_batch_events: usize,
    /// Events per second one ingest key may send, sustained (`UA_INGEST_EVENTS_PER_SEC`,
    /// default 200,000; 0 = no limit). Bursts of one second's worth, or one full batch, pass.
    pub ingest_events_per_sec: usize,
    /// Longest time a request may take before it gets 408 (`UA_REQUEST_TIMEOUT_SECS`,
    /// default 30). Streams (live updates, exports) are bounded only until their headers.
    pub request_timeout_secs: u64,
    /// Mark the session cookie `Secure` even without `X-Forwarded-Proto: https`
    /// (`UA_SECURE_COOKIES=1`).
    pub secure_cookies: bool,
    /// Take the client's address for the log-in limit from the last `X-Forwarded-For` entry
    /// (the one our own reverse proxy appended) instead of the TCP peer
    /// (`UA_TRUST_FORWARDED_FOR=1`). Only behind a proxy that sets it: otherwise clients could
    /// pick their own address.
    pub trust_forwarded_for: bool,
    /// Days after which raw events are deleted (`UA_RETENTION_DAYS`, default 400; 0 keeps
    /// them forever). Roll-ups are always kept.
    pub retention_days: u32,
    /// Let webhooks reach loopback, private and link-local addresses
    /// (`UA_WEBHOOK_ALLOW_PRIVATE=1`); refused by default (server-side request forgery).
    pub webhook_allow_private: bool,
    /// Host names the browser-facing routes answer to when the server is not bound to
    /// loopback (`UA_ALLOWED_HOSTS`, comma-separated); `None`: any, with a start-up warning.
    pub allowed_hosts: Option<Vec<String>>,
    /// Store a keyed hash of each end user's id instead of the id (`UA_HASH_END_USERS=1`).
    pub hash_end_users: bool,
    /// Where the SQLite database lives when `database_url` is not set (`UA_DATA_DIR`,
    /// `--data-dir`; default `data`).
    pub data_dir: std::path::PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: None,
            max_body_bytes: 16 * 1024 * 1024,
            max_batch_events: 10_000,
            ingest_events_per_sec: 200_000,
            request_timeout_secs: 30,
            secure_cookies: false,
            trust_forwarded_for: false,
            retention_days: crate::jobs::retention::DEFAULT_DAYS,
            webhook_allow_private: false,
            allowed_hosts: None,
            hash_end_users: false,
            data_dir: "data".into(),
        }
    }
}

impl Config {
    /// The database to open: `DATABASE_URL`, else the SQLite file in the data directory
    /// (made if missing).
    pub fn store_url(&self) -> Result<String, std::io::Error> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)?;
        Ok(format!(
            "sqlite://{}",
            self.data_dir.join("usage-analytics.db").display()
        ))
    }

    /// Reads the settings from environment variables; unparsable numbers are an error.
    pub fn from_env() -> Result<Config, String> {
        let mut c = Config {
            database_url: std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty()),
            ..Config::default()
        };
        if let Some(n) = env_usize("UA_MAX_BODY_BYTES")? {
            c.max_body_bytes = n;
        }
        if let Some(n) = env_usize("UA_MAX_BATCH_EVENTS")? {
            c.max_batch_events = n;
        }
        if let Some(n) = env_usize("UA_INGEST_EVENTS_PER_SEC")? {
            c.ingest_events_per_sec = n;
        }
        if let Some(n) = env_usize("UA_REQUEST_TIMEOUT_SECS")? {
            c.request_timeout_secs = n.max(1) as u64;
        }
        if let Some(n) = env_usize("UA_RETENTION_DAYS")? {
            c.retention_days =
                u32::try_from(n).map_err(|_| format!("UA_RETENTION_DAYS={n} is too large"))?;
        }
        c.secure_cookies = env_flag("UA_SECURE_COOKIES");
        c.trust_forwarded_for = env_flag("UA_TRUST_FORWARDED_FOR");
        c.webhook_allow_private = env_flag("UA_WEBHOOK_ALLOW_PRIVATE");
        c.hash_end_users = env_flag("UA_HASH_END_USERS");
        if let Some(dir) = std::env::var_os("UA_DATA_DIR").filter(|d| !d.is_empty()) {
            c.data_dir = dir.into();
        }
        c.allowed_hosts = std::env::var("UA_ALLOWED_HOSTS").ok().map(|v| {
            (v.split(','))
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        });
        Ok(c)
    }
}

/// A yes/no setting: `1`, `true` or `yes` is yes.
fn env_flag(name: &str) -> bool {
    matches!(std::env::var(name).as_deref(), Ok("1" | "true" | "yes"))
}

fn env_usize(name: &str) -> Result<Option<usize>, String> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}={v:?} is not a whole number")),
        Err(_) => Ok(None),
    }
}
