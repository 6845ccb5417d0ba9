//! Test harness: a real server on port 0 over a real database (a fresh SQLite file, or a
//! fresh PostgreSQL database created for the test).

#![allow(dead_code)]

use server::{AppState, Config, Store};
use sqlx::Connection;

/// Which storage backend a test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server and a handle to its database.
pub struct TestApp {
    pub base: String,
    pub store: Store,
    /// The database URL, for starting replicas on the same database.
    pub url: String,
    /// Sends a read token that sees every project (as a script would).
    pub client: reqwest::Client,
    /// Sends no credentials at all.
    pub anon: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A client that never follows redirects (so tests see them) and sends `headers` always.
pub fn client_with(headers: &[(&str, &str)]) -> reqwest::Client {
    let mut map = reqwest::header::HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(map)
        .build()
        .unwrap()
}

/// The PostgreSQL server tests create their databases on (`TEST_POSTGRES_URL`).
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://usage:usage@localhost:5432/postgres".into())
}

/// Opens a fresh, empty, migrated database of the given kind.
pub async fn fresh_store(db: Db, dir: &tempfile::TempDir) -> Store {
    let url = fresh_url(db, dir).await;
    Store::connect(Some(&url)).await.expect("open store")
}

/// The URL of a new, empty database of the given kind.
pub async fn fresh_url(db: Db, dir: &tempfile::TempDir) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("test.db").display()),
        Db::Postgres => {
            let admin = postgres_admin_url();
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL tests need a server at TEST_POSTGRES_URL={admin}: {e}")
                });
            let name = format!("ua_test_{:016x}", rand_u64());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let (base, _) = admin.rsplit_once('/').expect("URL with a database name");
            format!("{base}/{name}")
        }
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// Starts the server with default limits.
pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, Config::default()).await
}

/// Starts the server with the given settings on 127.0.0.1:0.
pub async fn spawn_app_with(db: Db, config: Config) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_url(db, &dir).await;
    serve_on(url, config, dir).await
}

/// Another server process (a replica) on the same database as `app`.
pub async fn spawn_replica(app: &TestApp) -> TestApp {
    serve_on(
        app.url.clone(),
        Config::default(),
        tempfile::tempdir().expect("temp dir"),
    )
    .await
}

async fn serve_on(url: String, config: Config, dir: tempfile::TempDir) -> TestApp {
    let store = Store::connect(Some(&url)).await.expect("open store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(store.clone(), config, server::leptos_options());
    tokio::spawn(async move { server::serve(listener, state).await });
    let name = format!("test-{:x}", rand_u64());
    let (_, token) = store
        .create_token(&name, None, "test")
        .await
        .expect("create read token");
    TestApp {
        base,
        store,
        url,
        client: client_with(&[("authorization", &format!("Bearer {token}"))]),
        anon: client_with(&[]),
        _dir: dir,
    }
}

impl TestApp {
    /// Creates a project with an ingest key; returns the key.
    pub async fn project_with_key(&self, name: &str) -> String {
        self.store
            .create_project(name)
            .await
            .expect("create project");
        self.store.create_key(name).await.expect("create key").1
    }

    /// Creates a user (password `password-123`) and returns a client carrying their session
    /// cookie and this site's Origin, as a browser would.
    pub async fn user_client(
        &self,
        email: &str,
        role: shared::Role,
        projects: Option<&[&str]>,
    ) -> reqwest::Client {
        let projects: Option<Vec<String>> =
            projects.map(|p| p.iter().map(|s| s.to_string()).collect());
        server::admin::create_user(
            &self.store,
            "test",
            email,
            "password-123",
            role,
            projects.as_deref(),
        )
        .await
        .expect("create user");
        let cookie = self.login(email, "password-123").await.expect("log in");
        client_with(&[("cookie", &cookie), ("origin", &self.base)])
    }

    /// Logs in through the form; returns the `name=value` of the session cookie, or the
    /// status of the refusal.
    pub async fn login(&self, email: &str, password: &str) -> Result<String, u16> {
        let res = client_with(&[("origin", &self.base)])
            .post(format!("{}/login", self.base))
            .form(&[("email", email), ("password", password), ("next", "/")])
            .send()
            .await
            .expect("request");
        if res.status() != 303 {
            return Err(res.status().as_u16());
        }
        let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
        Ok(set.split(';').next().unwrap().to_string())
    }

    /// GETs `path` with the read token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    /// GETs `path` and returns the status and the JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON body"))
    }

    /// POSTs a JSON body to the ingest endpoint.
    pub async fn post_events(&self, key: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/events", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request")
    }
}

/// Reads a live (SSE) stream until a `change` event arrives or `within` passes.
pub async fn next_change(res: &mut reqwest::Response, within: std::time::Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = String::new();
    loop {
        match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(bytes))) => {
                seen.push_str(&String::from_utf8_lossy(&bytes));
                if seen.contains("event: change") {
                    return true;
                }
            }
            _ => return false,
        }
    }
}

/// A successful event `id` at `ts_ms` of model "m", one token in and one out, nothing else;
/// tests change what they need with `UsageEvent { …, ..event_at(id, ts) }`.
pub fn event_at(id: String, ts_ms: i64) -> shared::UsageEvent {
    shared::UsageEvent {
        id: Some(id),
        timestamp_ms: ts_ms,
        model: "m".into(),
        provider: None,
        input_tokens: 1,
        output_tokens: 1,
        cached_input_tokens: 0,
        cache_write_tokens: 0,
        cache_write_1h_tokens: 0,
        service_tier: None,
        cost_nanos: None,
        latency_ms: None,
        ttft_ms: None,
        status: shared::EventStatus::Success,
        error_type: None,
        error_message: None,
        user: None,
        metadata: None,
    }
}

/// Declares one test per backend from an `async fn(Db)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Db::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Db::Postgres).await
                }
            }
        )*
    };
}
