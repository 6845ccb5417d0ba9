//! Access control and abuse, over HTTP on both backends: anonymous refusal, project scoping
//! on every surface, revocation, the log-in rate limit, CSRF, and hostile ingest.

use crate::common;

use std::time::Duration;

use common::{client_with, next_change, spawn_app, spawn_app_with, Db, TestApp};
use serde_json::{json, Value};
use server::Config;
use shared::{Role, UsageQuery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `n` events of `model` a few minutes ago, with an error message and end users naming `tag`.
fn events(n: usize, model: &str, tag: &str) -> Value {
    let ts = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    Value::Array(
        (0..n)
            .map(|i| {
                json!({"id": format!("{tag}-{i}"), "timestamp": ts, "model": model,
                       "user": format!("{tag}-user-{i}"),
                       "input_tokens": 10, "output_tokens": 5, "status": "error",
                       "error_type": "timeout", "error_message": format!("{tag} message")})
            })
            .collect(),
    )
}

async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("request");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

/// Calls a server function of the app the way the hydrated page does.
async fn server_fn(
    client: &reqwest::Client,
    app: &TestApp,
    name: &str,
    body: Value,
) -> (u16, String) {
    let res = client
        .post(format!("{}/api/{name}", app.base))
        .json(&body)
        .send()
        .await
        .expect("request");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

/// Two projects: `alpha` with 3 events of `model-a`, `bravo-secret` with 5 events of
/// `model-bravo-only`. Returns the ingest keys.
async fn two_projects(app: &TestApp) -> (String, String) {
    let a = app.project_with_key("alpha").await;
    let b = app.project_with_key("bravo-secret").await;
    let res = app.post_events(&a, &events(3, "model-a", "alpha")).await;
    assert_eq!(res.status(), 200);
    let res = app
        .post_events(&b, &events(5, "model-bravo-only", "bravo-secret"))
        .await;
    assert_eq!(res.status(), 200);
    (a, b)
}

async fn anonymous_requests_are_refused_on_every_surface(db: Db) {
    let app = spawn_app(db).await;
    two_projects(&app).await;
    for path in [
        "/api/v1/usage/summary",
        "/api/v1/usage/dashboard",
        "/api/usage?action=summary",
        "/api/v1/usage/export?format=csv",
        "/api/v1/events/export",
        "/api/v1/live",
    ] {
        let (status, body) = get(&app.anon, &app, path).await;
        assert_eq!(status, 401, "{path}");
        assert!(!body.contains("alpha"), "{path}: {body}");
    }
    for path in ["/", "/?period=7d", "/admin"] {
        let res = app
            .anon
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        let location = res.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login?next=%2F"), "{location}");
    }
    let browser = client_with(&[("origin", &app.base)]);
    for panel in ["summary", "projects"] {
        let q = json!({"panel": panel, "q": UsageQuery::default()});
        let (status, body) = server_fn(&browser, &app, "get_panel", q).await;
        assert_eq!(status, 401, "{panel}: {body}");
    }
    let (status, _) = server_fn(&browser, &app, "get_filter_options", json!({})).await;
    assert_eq!(status, 401);
    // An ingest key is not a read credential, and a made-up token is nothing.
    let (key, _) = (app.project_with_key("gamma").await, ());
    for bearer in [
        key.as_str(),
        "uat_abcdefgh_abcdefghabcdefghabcdefghabcdefgh",
    ] {
        let c = client_with(&[("authorization", &format!("Bearer {bearer}"))]);
        assert_eq!(get(&c, &app, "/api/v1/usage/summary").await.0, 401);
    }
    // The log-in page and probes stay open.
    assert_eq!(get(&app.anon, &app, "/login").await.0, 200);
    assert_eq!(get(&app.anon, &app, "/healthz").await.0, 200);
}

/// Everything a viewer limited to `alpha` can reach, checked for any trace of bravo.
async fn assert_sees_only_alpha(app: &TestApp, who: &reqwest::Client, label: &str) {
    let (status, body) = get(who, app, "/api/v1/usage/summary?period=24h").await;
    assert_eq!(status, 200, "{label}: {body}");
    let summary: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(summary["totalRequests"], 3, "{label}");
    for (path, expected) in [
        ("/api/v1/usage/dashboard?period=24h", "alpha"),
        ("/api/usage?action=dashboard&period=24h", "alpha"),
        ("/api/v1/usage/errors?period=24h", "alpha message"),
        ("/api/v1/events/export?period=24h", "alpha"),
        ("/api/v1/events/export?period=24h&format=ndjson", "alpha"),
        (
            "/api/v1/usage/export?format=csv&table=projects&period=24h",
            "alpha",
        ),
        (
            "/api/v1/usage/export?format=csv&table=models&period=24h",
            "model-a",
        ),
        (
            "/api/v1/usage/export?format=csv&table=errors&period=24h",
            "timeout,3,",
        ),
        (
            "/api/v1/usage/export?format=csv&table=error_log&period=24h",
            "alpha message",
        ),
        // Breakdowns list only the viewer's projects' values.
        ("/api/v1/usage/breakdown?by=user&period=24h", "alpha-user-2"),
        ("/api/v1/usage/breakdown?by=model&period=24h", "model-a"),
        ("/api/v1/usage/breakdown?by=project&period=24h", "alpha"),
    ] {
        let (status, body) = get(who, app, path).await;
        assert_eq!(status, 200, "{label} {path}: {body}");
        assert!(body.contains(expected), "{label} {path}: {body}");
        assert!(!body.contains("bravo"), "{label} {path}: {body}");
    }
    let (_, raw) = get(who, app, "/api/v1/events/export?period=24h").await;
    assert_eq!(
        raw.lines().count(),
        1 + 3,
        "{label}: header and alpha's rows"
    );
    let bravo_id = app.store.project_by_name("bravo-secret").await.unwrap().id;
    for path in [
        "/api/v1/usage/summary?projectId=bravo-secret".to_string(),
        format!("/api/v1/usage/summary?projectId={bravo_id}"),
        "/api/v1/usage/summary?projectId=alpha,bravo-secret".to_string(),
        // Not even whether a project exists is told.
        "/api/v1/usage/summary?projectId=no-such-project".to_string(),
        "/api/v1/events/export?projectId=bravo-secret".to_string(),
        "/api/v1/usage/export?projectId=bravo-secret".to_string(),
        "/api/usage?action=summary&projectId=bravo-secret".to_string(),
        "/api/v1/usage/breakdown?by=user&projectId=bravo-secret".to_string(),
    ] {
        let (status, body) = get(who, app, &path).await;
        assert_eq!(status, 403, "{label} {path}: {body}");
        assert!(!body.contains("model-bravo"), "{label} {path}: {body}");
    }
    let (status, body) = server_fn(who, app, "get_filter_options", json!({})).await;
    assert_eq!(status, 200, "{label}: {body}");
    let options: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(options["projects"], json!(["alpha"]), "{label}");
    assert_eq!(options["models"], json!(["model-a"]), "{label}");
    for panel in shared::Panel::ALL {
        let all = json!({"panel": panel, "q": UsageQuery::default()});
        let (status, body) = server_fn(who, app, "get_panel", all).await;
        assert_eq!(status, 200, "{label} {panel:?}: {body}");
        assert!(!body.contains("bravo"), "{label} {panel:?}: {body}");
        let q = UsageQuery {
            projects: vec!["bravo-secret".into()],
            ..UsageQuery::default()
        };
        let (status, body) =
            server_fn(who, app, "get_panel", json!({"panel": panel, "q": q})).await;
        assert_eq!(status, 403, "{label} {panel:?}: {body}");
    }
    for (by, expected) in [
        ("user", "alpha-user-2"),
        ("model", "model-a"),
        ("project", "alpha"),
    ] {
        let (status, body) = server_fn(
            who,
            app,
            "get_breakdown",
            json!({"q": UsageQuery::default(), "by": by}),
        )
        .await;
        assert_eq!(status, 200, "{label} {by}: {body}");
        assert!(body.contains(expected), "{label} {by}: {body}");
        assert!(!body.contains("bravo"), "{label} {by}: {body}");
    }
    // A filter on another project's end user finds nothing.
    let (status, body) = get(
        who,
        app,
        "/api/v1/usage/summary?period=24h&user=bravo-secret-user-0",
    )
    .await;
    assert_eq!(status, 200, "{label}: {body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["totalRequests"],
        0,
        "{label}"
    );
    let (status, body) = server_fn(
        who,
        app,
        "get_error_page",
        json!({"q": UsageQuery::default(), "before": null}),
    )
    .await;
    assert_eq!(status, 200, "{label}: {body}");
    assert!(body.contains("alpha message"), "{label}: {body}");
    assert!(!body.contains("bravo"), "{label}: {body}");
}

async fn a_viewer_limited_to_one_project_gets_no_byte_of_another(db: Db) {
    let app = spawn_app(db).await;
    let (a, b) = two_projects(&app).await;
    let viewer = app
        .user_client("viewer@example.com", Role::Viewer, Some(&["alpha"]))
        .await;
    assert_sees_only_alpha(&app, &viewer, "viewer").await;
    let (_, token) = app
        .store
        .create_token("alpha-script", Some(&["alpha".to_string()]), "test")
        .await
        .unwrap();
    let script = client_with(&[("authorization", &format!("Bearer {token}"))]);
    assert_sees_only_alpha(&app, &script, "token").await;

    // A model only another project uses gets the same answer as one nobody uses: the viewer
    // cannot tell which models other projects call. Admins still get zeros for it.
    for who in [&viewer, &script] {
        let (s1, b1) = get(who, &app, "/api/v1/usage/summary?model=model-bravo-only").await;
        let (s2, b2) = get(who, &app, "/api/v1/usage/summary?model=never-used").await;
        assert_eq!((s1, s2), (400, 400), "{b1} {b2}");
        assert_eq!(
            b1.replace("model-bravo-only", "X"),
            b2.replace("never-used", "X")
        );
        let q = |m: &str| UsageQuery {
            models: vec![m.to_string()],
            ..UsageQuery::default()
        };
        if std::ptr::eq(who, &viewer) {
            let summary = |m: &str| json!({"panel": "summary", "q": q(m)});
            let (s1, _) = server_fn(who, &app, "get_panel", summary("model-bravo-only")).await;
            let (s2, _) = server_fn(who, &app, "get_panel", summary("never-used")).await;
            assert_eq!((s1, s2), (400, 400));
        }
    }
    let (status, _) = app
        .get_json("/api/v1/usage/summary?model=model-bravo-only")
        .await;
    assert_eq!(status, 200);

    // A bad parameter is the caller's fault (400) for a server function; the page that
    // carries it still renders (200) and shows the error in each panel.
    let bad_tz = UsageQuery {
        tz: "Nowhere/Land".into(),
        ..UsageQuery::default()
    };
    let bad = json!({"panel": "summary", "q": bad_tz});
    let (status, body) = server_fn(&viewer, &app, "get_panel", bad).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(get(&viewer, &app, "/?tz=Nowhere/Land").await.0, 200);

    // The page itself, rendered on the server, names no other project.
    let (status, page) = get(&viewer, &app, "/?period=24h").await;
    assert_eq!(status, 200);
    assert!(page.contains("viewer@example.com"), "{page}");
    assert!(!page.contains("bravo"), "the page leaks project bravo");

    // Live updates: bravo's events are not even a signal to this viewer; alpha's are.
    let mut live = viewer
        .get(format!("{}/api/v1/live", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let res = app.post_events(&b, &events(2, "m", "bravo-late")).await;
    assert_eq!(res.status(), 200);
    assert!(
        !next_change(&mut live, Duration::from_millis(2500)).await,
        "a change of bravo reached the alpha viewer"
    );
    let res = app.post_events(&a, &events(1, "m", "alpha-late")).await;
    assert_eq!(res.status(), 200);
    assert!(next_change(&mut live, Duration::from_millis(3000)).await);
}

async fn an_ingest_key_writes_only_to_its_own_project(db: Db) {
    let app = spawn_app(db).await;
    let (a, _) = two_projects(&app).await;
    // Naming another project in the events changes nothing: the key decides.
    let mut batch = events(2, "model-a", "sneaky");
    for e in batch.as_array_mut().unwrap() {
        e["project"] = json!("bravo-secret");
        e["projectId"] = json!("bravo-secret");
    }
    let res = app.post_events(&a, &batch).await;
    assert!(res.status().is_success() || res.status() == 422);
    let (_, bravo) = app
        .get_json("/api/v1/usage/summary?period=24h&projectId=bravo-secret")
        .await;
    assert_eq!(bravo["totalRequests"], 5);
}

async fn revoked_keys_tokens_and_users_stop_working_at_once(db: Db) {
    let app = spawn_app(db).await;
    let (a, _) = two_projects(&app).await;
    let (info, token) = app.store.create_token("t", None, "test").await.unwrap();
    let script = client_with(&[("authorization", &format!("Bearer {token}"))]);
    assert_eq!(get(&script, &app, "/api/v1/usage/summary").await.0, 200);
    server::admin::revoke_token(&app.store, "test", &info.prefix)
        .await
        .unwrap();
    assert_eq!(get(&script, &app, "/api/v1/usage/summary").await.0, 401);

    let prefix = &a[..11];
    server::admin::revoke_key(&app.store, "test", prefix)
        .await
        .unwrap();
    let res = app.post_events(&a, &events(1, "m", "after-revoke")).await;
    assert_eq!(res.status(), 401);

    let viewer = app
        .user_client("gone@example.com", Role::Viewer, None)
        .await;
    assert_eq!(get(&viewer, &app, "/api/v1/usage/summary").await.0, 200);
    server::admin::disable_user(&app.store, "test", "gone@example.com")
        .await
        .unwrap();
    assert_eq!(get(&viewer, &app, "/api/v1/usage/summary").await.0, 401);
    assert_eq!(
        app.login("gone@example.com", "password-123").await,
        Err(401)
    );

    // Signing out ends the session on the server, not only in the browser.
    let other = app
        .user_client("leaving@example.com", Role::Viewer, None)
        .await;
    let res = other
        .post(format!("{}/logout", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(get(&other, &app, "/api/v1/usage/summary").await.0, 401);

    let audit = app.store.audit_log(10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    for a in ["token.revoke", "key.revoke", "user.disable", "user.create"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

async fn log_in_is_rate_limited_and_does_not_tell_unknown_emails_apart(db: Db) {
    let app = spawn_app(db).await;
    app.user_client("user@example.com", Role::Viewer, None)
        .await;
    let form = |email: &'static str, password: &'static str| {
        client_with(&[("origin", &app.base)])
            .post(format!("{}/login", app.base))
            .form(&[("email", email), ("password", password)])
            .send()
    };
    let unknown = form("nobody@example.com", "whatever-123").await.unwrap();
    let unknown = (unknown.status(), unknown.text().await.unwrap());
    let wrong = form("user@example.com", "wrong-password").await.unwrap();
    let wrong = (wrong.status(), wrong.text().await.unwrap());
    assert_eq!(unknown.0, 401);
    assert_eq!(wrong.0, 401);
    let message = |page: &str| {
        page.split("role=\"alert\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .map(str::to_string)
    };
    assert_eq!(message(&unknown.1), message(&wrong.1));
    assert_eq!(
        message(&wrong.1).as_deref(),
        Some("Wrong email or password.")
    );

    for _ in 1..server::web::session::LOGIN_MAX_PER_PAIR {
        assert_eq!(
            form("user@example.com", "wrong").await.unwrap().status(),
            401
        );
    }
    // Locked now, even with the right password.
    let locked = form("user@example.com", "password-123").await.unwrap();
    assert_eq!(locked.status(), 429);
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    // Another account from the same address is not locked by it.
    app.user_client("other@example.com", Role::Viewer, None)
        .await;
}

/// Concurrent guesses cannot outrun the limits, and nobody can lock an account's owner out.
async fn log_in_limits_hold_under_concurrency_and_lock_no_owner_out(db: Db) {
    use server::web::session::{LOGIN_MAX_DELAY_MS, LOGIN_MAX_PER_PAIR};
    let config = Config {
        trust_forwarded_for: true,
        ..Config::default()
    };
    let app = spawn_app_with(db, config).await;
    app.user_client("owner@example.com", Role::Viewer, None)
        .await;
    let attempt = |email: &'static str, password: &'static str, from: &'static str| {
        client_with(&[("origin", &app.base), ("x-forwarded-for", from)])
            .post(format!("{}/login", app.base))
            .form(&[("email", email), ("password", password)])
            .send()
    };
    // 50 wrong passwords at once, for a known and for an unknown email, each from one
    // address: at most the limit reach the password check, the rest get 429.
    for (email, from) in [
        ("owner@example.com", "198.51.100.7"),
        ("nobody@example.com", "198.51.100.8"),
    ] {
        let answers =
            futures::future::join_all((0..50).map(|_| attempt(email, "wrong-guess", from))).await;
        let status: Vec<u16> = answers
            .iter()
            .map(|r| r.as_ref().unwrap().status().as_u16())
            .collect();
        let checked = status.iter().filter(|s| **s == 401).count() as i64;
        let refused = status.iter().filter(|s| **s == 429).count() as i64;
        assert_eq!(checked + refused, 50, "{email}: {status:?}");
        assert!(
            checked <= LOGIN_MAX_PER_PAIR,
            "{email}: {checked} reached the password check"
        );
    }
    // The owner, from another address, still signs in: slowed down (a bounded delay), not
    // refused.
    let started = std::time::Instant::now();
    let res = attempt("owner@example.com", "password-123", "203.0.113.5")
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(res.status(), 303);
    assert!(
        took >= std::time::Duration::from_millis(LOGIN_MAX_DELAY_MS),
        "slowed down: {took:?}"
    );
    assert!(
        took < std::time::Duration::from_millis(3 * LOGIN_MAX_DELAY_MS),
        "{took:?}"
    );
}

async fn log_in_from_one_address_is_limited_behind_a_trusted_proxy(db: Db) {
    let config = Config {
        trust_forwarded_for: true,
        ..Config::default()
    };
    let app = spawn_app_with(db, config).await;
    let attempt = |email: String, from: &'static str| {
        client_with(&[("origin", &app.base), ("x-forwarded-for", from)])
            .post(format!("{}/login", app.base))
            .form(&[("email", email), ("password", "guess-123".to_string())])
            .send()
    };
    for i in 0..server::web::session::LOGIN_MAX_PER_ADDRESS {
        let res = attempt(format!("user{i}@example.com"), "198.51.100.7")
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    // A new email from the same address is refused; another address is not.
    let res = attempt("fresh@example.com".into(), "198.51.100.7")
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let res = attempt("fresh@example.com".into(), "203.0.113.9")
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn cross_site_state_changes_are_refused(db: Db) {
    let app = spawn_app(db).await;
    two_projects(&app).await;
    let viewer = app
        .user_client("csrf@example.com", Role::Viewer, None)
        .await;
    let cookie = app.login("csrf@example.com", "password-123").await.unwrap();
    let q = json!({"panel": "summary", "q": UsageQuery::default()});
    let post = |origin: Option<&str>| {
        let mut headers = vec![("cookie", cookie.as_str())];
        if let Some(o) = origin {
            headers.push(("origin", o));
        }
        client_with(&headers)
            .post(format!("{}/api/get_panel", app.base))
            .json(&q)
            .send()
    };
    assert_eq!(
        post(Some("https://evil.example")).await.unwrap().status(),
        403
    );
    assert_eq!(post(Some("null")).await.unwrap().status(), 403);
    assert_eq!(post(None).await.unwrap().status(), 403);
    assert_eq!(post(Some(&app.base)).await.unwrap().status(), 200);
    // A forged log-out does not end the session; a forged log-in is refused too.
    let evil = client_with(&[("cookie", &cookie), ("origin", "https://evil.example")]);
    let res = evil
        .post(format!("{}/logout", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(get(&viewer, &app, "/api/v1/usage/summary").await.0, 200);
    let res = evil
        .post(format!("{}/login", app.base))
        .form(&[("email", "csrf@example.com"), ("password", "password-123")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn hostile_ingest_gets_4xx_and_the_server_keeps_serving(db: Db) {
    let config = Config {
        max_body_bytes: 64 * 1024,
        max_batch_events: 100,
        ingest_events_per_sec: 100,
        request_timeout_secs: 2,
        ..Config::default()
    };
    let app = spawn_app_with(db, config).await;
    let key = app.project_with_key("p").await;
    let raw = |body: Vec<u8>, content_type: &'static str| {
        app.anon
            .post(format!("{}/api/v1/events", app.base))
            .bearer_auth(&key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let cases: Vec<(Vec<u8>, &str, u16)> = vec![
        (b"{not json".to_vec(), "application/json", 422),
        (deep.into_bytes(), "application/json", 422),
        (vec![b'x'; 100 * 1024], "application/json", 413),
        (vec![0xff, 0xfe, 0x00], "application/x-ndjson", 422),
        (b"[]".to_vec(), "text/plain", 415),
        (
            events(101, "m", "big").to_string().into_bytes(),
            "application/json",
            413,
        ),
    ];
    for (body, ct, want) in cases {
        let res = raw(body, ct).await.unwrap();
        assert_eq!(res.status(), want, "{ct}");
        let err: Value = res.json().await.expect("a JSON error");
        assert!(err["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // The rate limit: a full second's worth passes, the next batch waits.
    let res = app.post_events(&key, &events(100, "m", "first")).await;
    assert_eq!(res.status(), 200);
    let res = app.post_events(&key, &events(100, "m", "second")).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let res = app.post_events(&key, &events(100, "m", "second")).await;
    assert_eq!(res.status(), 200, "after Retry-After the batch passes");

    // A client that stops sending its body is cut off.
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: 1000\r\n\r\n[{{"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut answer))
        .await
        .expect("the server answers a stalled body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // Still serving, and nothing but the accepted batches was stored.
    assert_eq!(get(&app.anon, &app, "/healthz").await.0, 200);
    let (_, s) = app.get_json("/api/v1/usage/summary?period=24h").await;
    assert_eq!(s["totalRequests"], 200);
    let (status, metrics) = get(&app.anon, &app, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("ua_ingest_events_total 200"), "{metrics}");
    assert!(
        metrics.contains("ua_ingest_rejected_total{reason=\"rate_limited\"} 100"),
        "{metrics}"
    );
    assert!(metrics.contains("ua_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/events\",status=\"200\"} 2"), "{metrics}");
}

/// Posts a form to a server function (how the admin page's forms send).
async fn form_fn(
    client: &reqwest::Client,
    app: &TestApp,
    name: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let res = client
        .post(format!("{}/api/{name}", app.base))
        .form(form)
        .send()
        .await
        .expect("request");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

async fn only_admins_may_administer_and_every_admin_action_is_audited(db: Db) {
    let app = spawn_app(db).await;
    let viewer = app
        .user_client("viewer@example.com", Role::Viewer, None)
        .await;
    let admin = app.user_client("boss@example.com", Role::Admin, None).await;
    let anon = client_with(&[("origin", &app.base)]);
    assert_eq!(form_fn(&anon, &app, "admin_overview", &[]).await.0, 401);
    assert_eq!(form_fn(&viewer, &app, "admin_overview", &[]).await.0, 403);
    let (status, body) = form_fn(&viewer, &app, "admin_create_project", &[("name", "web")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(app.store.project_by_name("web").await.is_err());
    // Every pricing, re-pricing and end-user action is the admin's too.
    for (endpoint, form) in [
        (
            "admin_reprice_preview",
            &[("from", "2025-01-01"), ("model", "")][..],
        ),
        ("admin_reprice", &[("from", "2025-01-01"), ("model", "")]),
        ("admin_reprice_resume", &[]),
        (
            "admin_add_price_rule",
            &[("pattern", "x*"), ("model", "gpt-4o")],
        ),
        ("admin_delete_price_rule", &[("id", "1")]),
        (
            "admin_add_discount",
            &[
                ("scope", "provider"),
                ("name", "openai"),
                ("percent", "10"),
                ("from", ""),
            ],
        ),
        ("admin_delete_discount", &[("id", "1")]),
        (
            "admin_resolve_price",
            &[("name", "gpt-4o"), ("provider", "")],
        ),
        ("admin_erase_end_user", &[("id", "someone")]),
        (
            "admin_rename_project",
            &[("name", "web"), ("new_name", "x")],
        ),
        (
            "admin_set_user_projects",
            &[("email", "viewer@example.com"), ("projects", "")],
        ),
        (
            "admin_update_budget",
            &[("id", "1"), ("usd", "1"), ("thresholds", "")],
        ),
        ("admin_delete_budget", &[("id", "1")]),
        (
            "admin_update_alert_rule",
            &[("id", "1"), ("threshold", "1")],
        ),
    ] {
        let (status, body) = form_fn(&viewer, &app, endpoint, form).await;
        assert_eq!(status, 403, "{endpoint}: {body}");
    }
    assert!(app.store.price_rules().await.unwrap().is_empty());
    assert!(app.store.price_discounts().await.unwrap().is_empty());
    assert!(app.store.reprice_runs(1).await.unwrap().is_empty());

    let (status, body) = form_fn(&admin, &app, "admin_create_project", &[("name", "web")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = form_fn(&admin, &app, "admin_create_key", &[("project", "web")]).await;
    assert_eq!(status, 200, "{body}");
    let key: Option<String> = serde_json::from_str(&body).unwrap();
    let key = key.expect("the new key is answered once");
    let res = app
        .post_events(&key, &events(2, "m", "via-admin-key"))
        .await;
    assert_eq!(res.status(), 200);

    let (status, body) = form_fn(
        &admin,
        &app,
        "admin_set_price",
        &[
            ("model", "m"),
            ("input", "abc"),
            ("output", "1"),
            ("cached_input", ""),
            ("cache_write", ""),
            ("from", ""),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("input"), "{body}");
    let (status, body) = form_fn(
        &admin,
        &app,
        "admin_create_user",
        &[
            ("email", "new@example.com"),
            ("password", "long-enough-1"),
            ("role", "viewer"),
            ("projects", "web"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = form_fn(&admin, &app, "admin_overview", &[]).await;
    assert_eq!(status, 200, "{body}");
    let overview: Value = serde_json::from_str(&body).unwrap();
    let users = overview["users"].as_array().unwrap();
    let new = users
        .iter()
        .find(|u| u["email"] == "new@example.com")
        .unwrap();
    assert_eq!(new["projects"], json!(["web"]));
    assert!(
        !body.contains("password"),
        "no password hash is sent: {body}"
    );
    let audit = app.store.audit_log(20).await.unwrap();
    for action in ["project.create", "key.create", "user.create"] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.actor == "boss@example.com"),
            "{action} by boss@example.com missing: {audit:?}"
        );
    }
}

/// Requests a client sees in the last 24 hours, per the read API.
async fn requests_seen(client: &reqwest::Client, app: &TestApp) -> i64 {
    let (status, body) = get(client, app, "/api/v1/usage/summary?period=24h").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["totalRequests"]
        .as_i64()
        .unwrap()
}

/// The admin page's row edits (issue 32): a project renamed, a viewer's projects changed, a
/// budget's amount and thresholds changed (checked at once, each threshold still once per
/// period) and deleted, a rule's threshold changed; bad input refused by name with nothing
/// changed; every change audited.
async fn an_admin_edits_rows_in_place(db: Db) {
    let app = spawn_app(db).await;
    let web = app.project_with_key("web").await;
    let api = app.project_with_key("api").await;
    let costly = |n: usize, tag: &str| {
        let ts = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
        Value::Array(
            (0..n)
                .map(|i| {
                    json!({"id": format!("{tag}-{i}"), "timestamp": ts, "model": "m",
                       "input_tokens": 10, "output_tokens": 5, "cost_usd": 1.0})
                })
                .collect(),
        )
    };
    assert_eq!(app.post_events(&web, &costly(2, "w")).await.status(), 200);
    assert_eq!(app.post_events(&api, &costly(4, "a")).await.status(), 200);
    let viewer = app
        .user_client("v@example.com", Role::Viewer, Some(&["web"]))
        .await;
    let admin = app.user_client("boss@example.com", Role::Admin, None).await;
    assert_eq!(requests_seen(&viewer, &app).await, 2);

    // Rename: a taken name or an empty one is refused and changes nothing.
    let rename = |new: &'static str| [("name", "web"), ("new_name", new)];
    let (status, body) = form_fn(&admin, &app, "admin_rename_project", &rename("api")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"api\" exists"), "{body}");
    let (status, body) = form_fn(&admin, &app, "admin_rename_project", &rename(" ")).await;
    assert_eq!(status, 400, "{body}");
    assert!(app.store.project_by_name("web").await.is_ok());
    let (status, body) = form_fn(&admin, &app, "admin_rename_project", &rename("website")).await;
    assert_eq!(status, 200, "{body}");
    assert!(app.store.project_by_name("web").await.is_err());
    let (_, by_name) = app
        .get_json("/api/v1/usage/summary?period=24h&projectId=website")
        .await;
    assert_eq!(
        by_name["totalRequests"], 2,
        "the events follow the new name"
    );
    // The viewer's limit follows the project, and so does its key.
    assert_eq!(requests_seen(&viewer, &app).await, 2);
    assert_eq!(app.post_events(&web, &costly(1, "w2")).await.status(), 200);
    assert_eq!(requests_seen(&viewer, &app).await, 3);

    // A viewer's projects: changed, lifted; never for an admin, never an unknown project.
    let set =
        |email: &'static str, projects: &'static str| [("email", email), ("projects", projects)];
    let (status, body) = form_fn(
        &admin,
        &app,
        "admin_set_user_projects",
        &set("v@example.com", "api"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(requests_seen(&viewer, &app).await, 4, "now api's");
    let (status, body) = form_fn(
        &admin,
        &app,
        "admin_set_user_projects",
        &set("v@example.com", "nope"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("nope"), "{body}");
    let (status, body) = form_fn(
        &admin,
        &app,
        "admin_set_user_projects",
        &set("boss@example.com", "api"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("admins see every project"), "{body}");
    let (status, body) = form_fn(
        &admin,
        &app,
        "admin_set_user_projects",
        &set("v@example.com", ""),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(requests_seen(&viewer, &app).await, 7, "every project");
    let users = app.store.list_users().await.unwrap();
    let v = users.iter().find(|u| u.email == "v@example.com").unwrap();
    assert_eq!(v.projects, None);

    // A budget far above the $7 spent: nothing fires. Lowered to $5, its current period is
    // checked at once (50, 80 and 100 % reached); the same edit again records nothing new.
    let id =
        server::admin::create_budget(&app.store, "test", None, "1000", "month", "UTC", None, "")
            .await
            .unwrap();
    let id_text = id.to_string();
    let update = |usd: &'static str, thresholds: &'static str| {
        let form = [
            ("id", id_text.as_str()),
            ("usd", usd),
            ("thresholds", thresholds),
        ];
        let admin = &admin;
        let app = &app;
        async move { form_fn(admin, app, "admin_update_budget", &form).await }
    };
    for (usd, thresholds, reason) in [
        ("0", "", "amount"),
        ("abc", "", "amount"),
        ("5", "50, x", "thresholds"),
        ("5", "2000", "thresholds"),
    ] {
        let (status, body) = update(usd, thresholds).await;
        assert_eq!(status, 400, "{usd} {thresholds}: {body}");
        assert!(body.contains(reason), "{body}");
    }
    assert_eq!(
        app.store.budget(id).await.unwrap().amount_nanos,
        1_000_000_000_000
    );
    assert!(app.store.budget_alerts(10).await.unwrap().is_empty());
    let (status, body) = update("5", "50, 80, 100").await;
    assert_eq!(status, 200, "{body}");
    let stored = app.store.budget(id).await.unwrap();
    assert_eq!(
        (stored.amount_nanos, stored.thresholds),
        (5_000_000_000, vec![50, 80, 100])
    );
    let fired: Vec<i64> = (app.store.budget_alerts(10).await.unwrap().into_iter())
        .map(|a| a.threshold)
        .collect();
    assert_eq!(fired.len(), 3, "{fired:?}");
    let (status, body) = update("5", "100, 80, 50, 80").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.store.budget_alerts(10).await.unwrap().len(),
        3,
        "once per period"
    );
    let (status, body) = form_fn(
        &admin,
        &app,
        "admin_update_budget",
        &[("id", "999"), ("usd", "5"), ("thresholds", "")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no budget 999"), "{body}");
    // Deleted with its alerts; a second delete says there is none.
    let (status, body) = form_fn(&admin, &app, "admin_delete_budget", &[("id", &id_text)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(app.store.list_budgets().await.unwrap().is_empty());
    assert!(app.store.budget_alerts(10).await.unwrap().is_empty());
    let (status, _) = form_fn(&admin, &app, "admin_delete_budget", &[("id", &id_text)]).await;
    assert_eq!(status, 400);

    // A rule's threshold, in its metric's unit.
    let form = |metric: &str| shared::AlertRuleForm {
        name: format!("{metric} rule"),
        metric: metric.into(),
        project: String::new(),
        model: String::new(),
        op: "above".into(),
        threshold: "5".into(),
        window_minutes: "10".into(),
        min_requests: "20".into(),
        scope: String::new(),
    };
    let errors = server::admin::create_alert_rule(&app.store, "test", &form("error_rate"))
        .await
        .unwrap();
    let latency = server::admin::create_alert_rule(&app.store, "test", &form("p95_latency"))
        .await
        .unwrap();
    let threshold_of = |rules: Vec<server::store::AlertRuleRow>, id: i64| {
        rules
            .into_iter()
            .find(|r| r.info.id == id)
            .unwrap()
            .info
            .threshold
    };
    for (id, typed, stored) in [(errors, "12.5", 1250), (latency, "800", 800)] {
        let id = id.to_string();
        let (status, body) = form_fn(
            &admin,
            &app,
            "admin_update_alert_rule",
            &[("id", &id), ("threshold", typed)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let rules = app.store.alert_rules().await.unwrap();
        assert_eq!(threshold_of(rules, id.parse().unwrap()), stored);
    }
    let id = errors.to_string();
    let (status, body) = form_fn(
        &admin,
        &app,
        "admin_update_alert_rule",
        &[("id", &id), ("threshold", "101")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("threshold"), "{body}");
    assert_eq!(
        threshold_of(app.store.alert_rules().await.unwrap(), errors),
        1250
    );

    let audit = app.store.audit_log(50).await.unwrap();
    for action in [
        "project.rename",
        "user.projects",
        "budget.update",
        "budget.delete",
        "alert.update",
    ] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.actor == "boss@example.com"),
            "{action} by boss@example.com missing: {audit:?}"
        );
    }
    // The admin page lists the budgets (for their row actions).
    let id = server::admin::create_budget(
        &app.store,
        "test",
        Some("api"),
        "20",
        "week",
        "UTC",
        None,
        "",
    )
    .await
    .unwrap();
    let (status, body) = form_fn(&admin, &app, "admin_overview", &[]).await;
    assert_eq!(status, 200, "{body}");
    let overview: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(overview["budgets"][0]["id"], id);
    assert_eq!(overview["budgets"][0]["project"], "api");
}

/// Everything the server logs from now on (the first call installs the process' logger).
fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .init();
        buf
    })
    .clone()
}

async fn what_is_typed_at_log_in_cannot_forge_a_log_line_or_a_redirect(db: Db) {
    let logs = captured_logs();
    let app = spawn_app(db).await;
    // A newline, a forged line and a terminal escape in the email field.
    let forged = "mallory@example.com\n2026-12-06T00:00:00.000000Z  INFO server: signed in ok \
                  email=admin@example.com\u{1b}[2K";
    for next in ["/\t/evil.example", "/\n/evil.example", "/\x0b/evil.example"] {
        let res = client_with(&[("origin", &app.base)])
            .post(format!("{}/login", app.base))
            .form(&[
                ("email", forged),
                ("password", "wrong-password"),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{next:?}");
        let page = res.text().await.unwrap();
        // The form keeps a safe `next` for the next try, never the one sent.
        assert!(
            page.contains(r#"name="next" value="/""#),
            "{next:?}: {page}"
        );
    }
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("mallory")).collect();
    assert!(!ours.is_empty(), "the failed sign-in is logged");
    for line in &ours {
        assert!(line.contains("failed sign-in"), "{line}");
        assert!(
            line.contains("\\n2026-12-06"),
            "the newline is escaped: {line}"
        );
    }
    assert!(
        !text.contains('\u{1b}'),
        "no terminal escape reaches the log"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-12-06T00:00:00.000000Z")),
        "no forged line"
    );

    // A user who signs in with such a `next` lands on `/`, not on another host.
    server::admin::create_user(
        &app.store,
        "test",
        "eve@example.com",
        "password-123",
        Role::Admin,
        None,
    )
    .await
    .unwrap();
    let res = client_with(&[("origin", &app.base)])
        .post(format!("{}/login", app.base))
        .form(&[
            ("email", "eve@example.com"),
            ("password", "password-123"),
            ("next", "/\t/evil.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
}

/// A server bound to loopback answers its pages only to loopback names, so a DNS-rebinding
/// page cannot reach the log-in form or /metrics from a victim's browser; bearer routes and
/// probes answer to any name.
async fn browser_routes_answer_only_to_allowed_host_names(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    let port = app.base.rsplit(':').next().unwrap().to_string();
    let with_host = |host: String| client_with(&[("host", &host)]);
    for path in ["/login", "/metrics", "/", "/admin"] {
        let res = with_host(format!("rebind.evil.example:{port}"))
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 421, "{path}");
        for host in [
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ] {
            let res = with_host(host.clone())
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert_ne!(res.status(), 421, "{path} as {host}");
        }
    }
    // Log-in by form under a foreign name is refused too.
    let res = client_with(&[
        ("host", "rebind.evil.example"),
        ("origin", "http://rebind.evil.example"),
    ])
    .post(format!("{}/login", app.base))
    .form(&[("email", "a@example.com"), ("password", "whatever-123")])
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 421);
    // Behind a reverse proxy that passes the public name, UA_ALLOWED_HOSTS admits it.
    let proxied = common::spawn_app_with(
        db,
        Config {
            allowed_hosts: Some(vec!["usage.example.com".into()]),
            ..Config::default()
        },
    )
    .await;
    for (host, status) in [("usage.example.com", 200), ("rebind.evil.example", 421)] {
        let res = client_with(&[("host", host)])
            .get(format!("{}/login", proxied.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{host}");
    }
    // Bearer routes and probes answer to any name: exporters and balancers use many.
    let any = |path: &str| {
        client_with(&[("host", "collector.internal")]).get(format!("{}{path}", app.base))
    };
    assert_eq!(any("/healthz").send().await.unwrap().status(), 200);
    let res = any("/api/v1/usage/summary")
        .header("authorization", app_token_header(&app).await)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client_with(&[("host", "collector.internal")])
        .post(format!("{}/api/v1/events", app.base))
        .bearer_auth(&key)
        .json(
            &json!([{"timestamp": chrono::Utc::now().to_rfc3339(), "model": "m",
                        "input_tokens": 1, "output_tokens": 1}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // X-Forwarded-Host is not believed without the trusted-proxy setting: a cross-site form
    // that names itself there is still cross-site.
    let res = client_with(&[
        ("origin", "http://evil.example"),
        ("x-forwarded-host", "evil.example"),
    ])
    .post(format!("{}/logout", app.base))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
}

/// `Authorization` for a read token that sees everything.
async fn app_token_header(app: &TestApp) -> String {
    let (_, token) = app
        .store
        .create_token("any-host", None, "test")
        .await
        .unwrap();
    format!("Bearer {token}")
}

on_both_backends!(
    browser_routes_answer_only_to_allowed_host_names,
    what_is_typed_at_log_in_cannot_forge_a_log_line_or_a_redirect,
    only_admins_may_administer_and_every_admin_action_is_audited,
    an_admin_edits_rows_in_place,
    anonymous_requests_are_refused_on_every_surface,
    a_viewer_limited_to_one_project_gets_no_byte_of_another,
    an_ingest_key_writes_only_to_its_own_project,
    revoked_keys_tokens_and_users_stop_working_at_once,
    log_in_is_rate_limited_and_does_not_tell_unknown_emails_apart,
    cross_site_state_changes_are_refused,
    log_in_from_one_address_is_limited_behind_a_trusted_proxy,
    log_in_limits_hold_under_concurrency_and_lock_no_owner_out,
    hostile_ingest_gets_4xx_and_the_server_keeps_serving,
);
