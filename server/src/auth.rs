//! Who may do what: password hashing, sessions, the request guard in front of every route,
//! the log-in and log-out pages, and the project scope applied to every query.
//!
//! A request is authenticated by a read API token (`Authorization: Bearer uat_…`) or by the
//! `ua_session` cookie. Anonymous requests for pages are sent to `/login`; anonymous API
//! requests get 401. State-changing requests carried by the cookie must come from our own
//! origin (CSRF). Ingest (`/api/v1/events`) has its own keys and is not guarded here.

use std::net::SocketAddr;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use shared::{Role, UsageQuery};

use crate::http::{bearer, HttpError};
use crate::store::{Principal, StoreError};
use crate::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "ua_session";
/// How long a session lasts after log-in.
pub const SESSION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Failed log-ins of one email within [`LOGIN_WINDOW_MS`] before it is locked.
pub const LOGIN_MAX_PER_ACCOUNT: i64 = 5;
/// Failed log-ins from one address within [`LOGIN_WINDOW_MS`] before it is locked.
pub const LOGIN_MAX_PER_ADDRESS: i64 = 20;
/// The window the log-in limits count over.
pub const LOGIN_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Shortest password accepted when creating a user.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Checks a password against a stored PHC string (false for a malformed one).
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the email is unknown, so that an unknown email costs as
/// much time as a wrong password and the two cannot be told apart.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password(&crate::keys::session_secret()).unwrap_or_else(|_| String::new())
    })
}

/// Checks the rules a new password must meet.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    if password.len() > 1024 {
        return Err("a password may have at most 1024 bytes".into());
    }
    Ok(())
}

/// Normalises an email for storage and look-up, or says why it is not one.
pub fn normalise_email(email: &str) -> Result<String, String> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !e.chars().any(char::is_whitespace);
    if valid {
        Ok(e)
    } else {
        Err(format!("{email:?} is not an email address"))
    }
}

/// Why a principal may not see what it asked for.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub String);

impl From<Forbidden> for HttpError {
    fn from(e: Forbidden) -> Self {
        HttpError::new(StatusCode::FORBIDDEN, e.0)
    }
}

/// Limits a query to the projects `who` may see: a limited principal asking for no project
/// gets its own projects; asking for any other project is refused, never silently emptied.
pub fn scope_query(who: &Principal, mut q: UsageQuery) -> Result<UsageQuery, Forbidden> {
    let Some(allowed) = &who.account.projects else {
        return Ok(q);
    };
    if let Some(other) = q.projects.iter().find(|p| !allowed.contains(p)) {
        return Err(Forbidden(format!(
            "you may not see project {other:?}; ask an admin for access"
        )));
    }
    if q.projects.is_empty() {
        if allowed.is_empty() {
            return Err(Forbidden(
                "your account is not given any project yet; ask an admin for access".into(),
            ));
        }
        q.projects = allowed.clone();
    }
    Ok(q)
}

/// The principal the guard attached to the request a server function or page is answering.
pub fn current_principal() -> Result<Principal, String> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>().cloned())
        .ok_or_else(|| "sign in to see usage".to_string())
}

/// Sets the HTTP status of a failed server-function call (a page being rendered keeps its
/// 200: its panels show their own errors). Answers `message` for chaining.
pub fn fail_server_fn(status: axum::http::StatusCode, message: String) -> String {
    let is_server_fn = leptos::prelude::use_context::<axum::http::request::Parts>()
        .is_some_and(|p| p.uri.path().starts_with("/api/"));
    if is_server_fn {
        if let Some(r) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            r.set_status(status);
        }
    }
    message
}

/// Whether `who` may see events of project `id`.
pub fn may_see_project(who: &Principal, id: i64) -> bool {
    who.project_ids.as_ref().is_none_or(|ids| ids.contains(&id))
}

/// Refuses anyone but an admin.
pub fn require_admin(who: &Principal) -> Result<(), Forbidden> {
    if who.account.role == Role::Admin {
        Ok(())
    } else {
        Err(Forbidden("only admins may do this".into()))
    }
}

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
async fn principal_of(
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
                .session_principal(&crate::keys::hash(secret), now)
                .await
        }
        None => Ok(None),
    }
}

/// Paths anyone may reach: probes, metrics, ingest (own keys), the log-in page, static files.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/metrics" | "/login" | "/api/v1/events" | "/favicon.ico"
    ) || path.starts_with("/pkg/")
}

/// The host a request was addressed to (as the browser saw it, behind a proxy too).
fn request_host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
}

/// `host[:port]` of an origin or URL such as `http://a.example:3000/path`.
fn authority_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// CSRF defence for state-changing browser requests: the Origin (or, failing that, the
/// Referer) must name the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> Result<(), HttpError> {
    let refuse = |why: String| {
        HttpError::new(
            StatusCode::FORBIDDEN,
            format!("cross-site request refused: {why}"),
        )
    };
    let host = request_host(headers).ok_or_else(|| refuse("no Host header".into()))?;
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
    if unsafe_method && !by_token && path != "/api/v1/events" {
        if let Err(e) = same_origin(req.headers()) {
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

/// Only local paths may be redirected to after log-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
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
<title>Sign in · usage-analytics</title><link rel="stylesheet" href="/pkg/usage-analytics.css"></head>
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
    let subjects = [
        format!("email:{email}"),
        format!(
            "ip:{}",
            client_address(
                connect.as_ref().map(|c| &c.0),
                &headers,
                state.config.trust_forwarded_for
            )
        ),
    ];
    let now = chrono::Utc::now().timestamp_millis();
    for (subject, max) in subjects
        .iter()
        .zip([LOGIN_MAX_PER_ACCOUNT, LOGIN_MAX_PER_ADDRESS])
    {
        let (count, oldest) = state
            .store
            .login_failures_since(subject, now - LOGIN_WINDOW_MS)
            .await?;
        if count >= max {
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
        state.store.record_login_failure(&subjects).await?;
        tracing::info!(email = %email, "failed sign-in");
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_page(&next, &email, Some("Wrong email or password.")),
        )
            .into_response());
    };
    state.store.clear_login_failures(&subjects[0]).await?;
    let secret = crate::keys::session_secret();
    state
        .store
        .create_session(
            &crate::keys::hash(&secret),
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
            .delete_session(&crate::keys::hash(secret))
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
    use shared::{Account, DateRange, Period};

    fn viewer(projects: Option<Vec<&str>>) -> Principal {
        Principal {
            account: Account {
                name: "v@example.com".into(),
                role: Role::Viewer,
                projects: projects
                    .clone()
                    .map(|p| p.into_iter().map(String::from).collect()),
            },
            project_ids: projects.map(|p| (1..=p.len() as i64).collect()),
        }
    }

    fn query(projects: &[&str]) -> UsageQuery {
        UsageQuery {
            range: DateRange::Preset(Period::Last30d),
            projects: projects.iter().map(|s| s.to_string()).collect(),
            ..UsageQuery::default()
        }
    }

    #[test]
    fn a_limited_viewer_asking_for_everything_gets_only_their_projects() {
        let q = scope_query(&viewer(Some(vec!["a"])), query(&[])).unwrap();
        assert_eq!(q.projects, vec!["a".to_string()]);
    }

    #[test]
    fn a_limited_viewer_asking_for_another_project_is_refused() {
        assert!(scope_query(&viewer(Some(vec!["a"])), query(&["a", "b"])).is_err());
        assert!(scope_query(&viewer(Some(vec![])), query(&[])).is_err());
    }

    #[test]
    fn an_unlimited_viewer_keeps_the_query_as_asked() {
        let q = scope_query(&viewer(None), query(&[])).unwrap();
        assert!(q.projects.is_empty());
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn only_local_paths_are_redirected_to_after_login() {
        assert_eq!(safe_next(Some("/?period=7d")), "/?period=7d");
        for bad in ["https://evil.example", "//evil.example", "/\\evil", "evil"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
    }

    #[test]
    fn origins_must_name_the_requested_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&h).is_err(), "no Origin nor Referer");
        h.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&h).is_ok());
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(same_origin(&h).is_err());
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(same_origin(&h).is_err());
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

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalise_email(" A@Example.COM ").unwrap(), "a@example.com");
        for bad in ["", "a", "a@b", "@b.c", "a b@c.d"] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }
}
