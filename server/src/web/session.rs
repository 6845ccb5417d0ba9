//! Sessions: the request guard in front of every route, and the log-in and log-out pages.
//!
//! A request is authenticated by a read API token (`Authorization: Bearer uat_…`) or by the
//! `ua_session` cookie. Anonymous requests for pages are sent to `/login`; anonymous API
//! requests get 401. State-changing requests carried by the cookie must come from our own
//! origin (CSRF). Ingest (`/api/v1/events`, `/v1/traces`) has its own keys and is not
//! guarded here.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;

use super::error::HttpError;
use super::ingest::bearer;
use super::AppState;
use crate::access::passwords::{decoy_hash, verify_password};
use crate::access::Principal;
use crate::store::StoreError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "ua_session";
/// How long a session lasts after log-in.
pub const SESSION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Failed log-ins of one email from one address within [`LOGIN_WINDOW_MS`] before that pair
/// is refused.
pub const LOGIN_MAX_PER_PAIR: i64 = 5;
/// Failed log-ins of one email from anywhere within [`LOGIN_WINDOW_MS`] after which each
/// attempt for it is slowed down (never refused: a stranger must not lock the owner out).
pub const LOGIN_SLOW_AFTER_PER_ACCOUNT: i64 = 5;
/// The delay each further failure adds to an email's attempts, and its bound.
pub const LOGIN_DELAY_STEP_MS: u64 = 1_000;
pub const LOGIN_MAX_DELAY_MS: u64 = 10_000;
/// Failed log-ins from one address within [`LOGIN_WINDOW_MS`] before it is refused.
pub const LOGIN_MAX_PER_ADDRESS: i64 = 20;
/// The window the log-in limits count over.
pub const LOGIN_WINDOW_MS: i64 = 15 * 60 * 1000;

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The principal of a request's token or session cookie, if any.
pub(crate) async fn principal_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, StoreError> {
    if let Some(token) = bearer(headers) {
        return state.store.token_principal(token).await;
    }
    match cookie(headers, SESSION_COOKIE) {
        Some(secret) => {
            let now = chrono::Utc::now().timestamp_millis();
            state
                .store
                .session_principal(&crate::access::secrets::hash(secret), now)
                .await
        }
        None => Ok(None),
    }
}

/// The ways in: each checks its own ingest key.
const INGEST_PATHS: [&str; 2] = ["/api/v1/events", "/v1/traces"];

/// Paths anyone may reach: probes, metrics, ingest (own keys), the log-in page, static files.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/metrics" | "/login" | "/favicon.ico" | "/favicon.svg"
    ) || INGEST_PATHS.contains(&path)
        || path.starts_with("/pkg/")
}

/// The host a request was addressed to: `Host`, or behind a trusted proxy (the
/// trust-forwarded setting) the `X-Forwarded-Host` it set.
fn request_host(headers: &HeaderMap, trust_proxy: bool) -> Option<&str> {
    let forwarded = trust_proxy
        .then(|| headers.get("x-forwarded-host"))
        .flatten();
    forwarded
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
}

/// `host` of `host[:port]` or `[v6]:port`, lower-cased.
fn host_name(authority: &str) -> String {
    let name = match authority.strip_prefix('[') {
        Some(rest) => &authority[..rest.find(']').map_or(authority.len(), |i| i + 2)],
        None => authority.split(':').next().unwrap_or(authority),
    };
    name.to_ascii_lowercase()
}

/// DNS-rebinding defence for the browser-facing routes: the names of `UA_ALLOWED_HOSTS`
/// always (a loopback-bound server behind a reverse proxy that passes the public name);
/// besides, a server bound to loopback answers `localhost`, `127.0.0.1` and `[::1]` (any
/// port), and one bound elsewhere without `UA_ALLOWED_HOSTS` any name (with a warning at
/// start-up).
fn host_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(host) = request_host(headers, state.config.trust_forwarded_for) else {
        return false;
    };
    let name = host_name(host);
    let allowed = state.config.allowed_hosts.as_ref();
    if allowed.is_some_and(|a| a.contains(&name)) {
        return true;
    }
    if state.leptos_options.site_addr.ip().is_loopback() {
        return matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    }
    allowed.is_none()
}

/// `host[:port]` of an origin or URL such as `http://a.example:3000/path`.
fn authority_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// CSRF defence for state-changing browser requests: the Origin (or, failing that, the
/// Referer) must name the host the request was sent to.
fn same_origin(headers: &HeaderMap, trust_proxy: bool) -> Result<(), HttpError> {
    let refuse = |why: String| {
        HttpError::new(
            StatusCode::FORBIDDEN,
            format!("cross-site request refused: {why}"),
        )
    };
    let host = request_host(headers, trust_proxy).ok_or_else(|| refuse("no Host header".into()))?;
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse("neither Origin nor Referer is present".into()))?;
    match authority_of(source) {
        Some(a) if a.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(refuse(format!("{source:?} is not this site ({host})"))),
    }
}

/// The guard in front of every route: authenticates, refuses cross-site state changes, and
/// puts the [`Principal`] into the request's extensions for handlers and server functions.
pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let by_token = bearer(req.headers()).is_some();
    // Bearer routes (ingest, OTLP, token reads) are reached by exporters under any name;
    // probes by load balancers by address.
    let browser_facing = !by_token
        && !INGEST_PATHS.contains(&path.as_str())
        && !matches!(path.as_str(), "/healthz" | "/readyz");
    if browser_facing && !host_allowed(&state, req.headers()) {
        return HttpError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "this server does not answer to that host name (UA_ALLOWED_HOSTS)",
        )
        .into_response();
    }
    if unsafe_method && !by_token && !INGEST_PATHS.contains(&path.as_str()) {
        if let Err(e) = same_origin(req.headers(), state.config.trust_forwarded_for) {
            return e.into_response();
        }
    }
    if is_public(&path) {
        return next.run(req).await;
    }
    match principal_of(&state, req.headers()).await {
        Ok(Some(p)) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Ok(None) if path.starts_with("/api/") => HttpError::new(
            StatusCode::UNAUTHORIZED,
            "sign in, or send a read API token: Authorization: Bearer uat_…",
        )
        .into_response(),
        Ok(None) => {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            Redirect::to(&format!("/login?next={}", url_encode(target))).into_response()
        }
        Err(e) => HttpError::from(e).into_response(),
    }
}

fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// Only local paths may be redirected to after log-in (no open redirect): one leading `/`,
/// no backslash and no control character (URL parsers drop tabs and newlines, so `/\t/host`
/// reads as `//host`), else `/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.into()
        }
        _ => "/".into(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The log-in page, optionally with a message.
fn login_page(next: &str, email: &str, message: Option<&str>) -> Html<String> {
    // The stylesheet under the name the dashboard uses (content-hashed when embedded).
    let css = super::assets::output_name("usage-analytics");
    let message = message
        .map(|m| {
            format!(
                r#"<p class="login-error" role="alert">{}</p>"#,
                html_escape(m)
            )
        })
        .unwrap_or_default();
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · usage-analytics</title><link rel="stylesheet" href="/pkg/{css}.css"></head>
<body><main class="login">
<h1>usage-analytics</h1>
<form method="post" action="/login" class="login-form">
<h2>Sign in</h2>{message}
<input type="hidden" name="next" value="{next}">
<label>Email <input type="email" name="email" autocomplete="username" required value="{email}"></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit" class="primary">Sign in</button>
</form></main></body></html>"#,
        next = html_escape(next),
        email = html_escape(email),
    ))
}

/// Query of `GET /login`.
#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`.
pub async fn login_form(axum::extract::Query(q): axum::extract::Query<LoginQuery>) -> Html<String> {
    login_page(&safe_next(q.next.as_deref()), "", None)
}

/// The form `POST /login` receives.
#[derive(serde::Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// The client's address for the log-in limit: the TCP peer, or behind a trusted reverse
/// proxy the last `X-Forwarded-For` entry (the one the proxy appended).
fn client_address(
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
    trust_forwarded_for: bool,
) -> String {
    let forwarded = trust_forwarded_for
        .then(|| {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|a| !a.is_empty())
                .map(str::to_string)
        })
        .flatten();
    forwarded
        .or_else(|| peer.map(|c| c.0.ip().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// `POST /login`: checks the rate limits, then the password; on success starts a session.
/// An unknown email and a wrong password get the same answer in about the same time.
pub async fn login(
    State(state): State<AppState>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, HttpError> {
    let next = safe_next(form.next.as_deref());
    let email = form.email.trim().to_lowercase();
    let address = client_address(
        connect.as_ref().map(|c| &c.0),
        &headers,
        state.config.trust_forwarded_for,
    );
    // Known and unknown emails take the same path, so they get the same answers and delays.
    let subjects = [
        format!("pair:{email} {address}"),
        format!("ip:{address}"),
        format!("email:{email}"),
    ];
    let now = chrono::Utc::now().timestamp_millis();
    // The attempt is reserved before the password is checked: concurrent guesses each see
    // the others, so no more than the limit of them reach the check.
    let counts = state
        .store
        .reserve_login_attempt(&subjects, now, now - LOGIN_WINDOW_MS)
        .await?;
    for (&(count, oldest), max) in counts
        .iter()
        .zip([LOGIN_MAX_PER_PAIR, LOGIN_MAX_PER_ADDRESS])
    {
        if count > max {
            let wait_s = (oldest.unwrap_or(now) + LOGIN_WINDOW_MS - now).max(1000) / 1000;
            let mut res = (
                StatusCode::TOO_MANY_REQUESTS,
                login_page(
                    &next,
                    &email,
                    Some(&format!(
                        "Too many failed sign-ins; try again in {} minute(s).",
                        (wait_s + 59) / 60
                    )),
                ),
            )
                .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait_s));
            return Ok(res);
        }
    }
    // The email alone is slowed down, a bounded delay per failure beyond the first few.
    let over = (counts[2].0 - 1 - LOGIN_SLOW_AFTER_PER_ACCOUNT).max(0) as u64;
    if over > 0 {
        let delay = (over * LOGIN_DELAY_STEP_MS).min(LOGIN_MAX_DELAY_MS);
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let row = state.store.login_row(&email).await?;
    let stored = row
        .as_ref()
        .map(|r| r.password_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_string());
    let password = form.password;
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .unwrap_or(false);
    let user = row.filter(|r| matches && !r.disabled);
    let Some(user) = user else {
        // The reserved attempt stays counted as a failure.
        // Debug-formatted: what was typed is logged escaped (newlines, terminal escapes), so
        // it cannot forge a log line.
        tracing::info!(email = ?email, "failed sign-in");
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_page(&next, &email, Some("Wrong email or password.")),
        )
            .into_response());
    };
    state.store.clear_login_failures(&subjects[0]).await?;
    state.store.clear_login_failures(&subjects[2]).await?;
    state.store.release_login_attempt(&subjects[1], now).await?;
    let secret = crate::access::secrets::session_secret();
    state
        .store
        .create_session(
            &crate::access::secrets::hash(&secret),
            user.user_id,
            now + SESSION_TTL_MS,
        )
        .await?;
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
        || state.config.secure_cookies;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        SESSION_TTL_MS / 1000,
        if secure { "; Secure" } else { "" }
    );
    let mut res = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `POST /logout`: ends the session and forgets the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state
            .store
            .delete_session(&crate::access::secrets::hash(secret))
            .await?;
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("ua_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_redirected_to_after_login() {
        assert_eq!(safe_next(Some("/?period=7d")), "/?period=7d");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "evil",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\x0b/evil.example",
            "/\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
    }

    #[test]
    fn origins_must_name_the_requested_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&h, false).is_err(), "no Origin nor Referer");
        h.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&h, false).is_ok());
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(same_origin(&h, false).is_err());
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(same_origin(&h, false).is_err());
        // X-Forwarded-Host counts only behind a trusted proxy.
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        h.insert("x-forwarded-host", "evil.example".parse().unwrap());
        assert!(same_origin(&h, false).is_err());
        assert!(same_origin(&h, true).is_ok());
        assert_eq!(host_name("LocalHost:3000"), "localhost");
        assert_eq!(host_name("[::1]:3000"), "[::1]");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn the_forwarded_address_counts_only_behind_a_trusted_proxy() {
        let peer = ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 4000)));
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            "203.0.113.7, 198.51.100.2".parse().unwrap(),
        );
        assert_eq!(client_address(Some(&peer), &h, false), "10.0.0.9");
        // The proxy appends the address it saw last; earlier entries are the client's word.
        assert_eq!(client_address(Some(&peer), &h, true), "198.51.100.2");
        assert_eq!(
            client_address(Some(&peer), &HeaderMap::new(), true),
            "10.0.0.9"
        );
    }
}
