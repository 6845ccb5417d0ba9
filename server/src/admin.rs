//! Admin actions, shared by the command line and the admin page: each one changes the store
//! and records who did it in the audit log.

use shared::Role;

use crate::ingest::ModelPrice;
use crate::store::{KeyInfo, Project, Store, StoreError, TokenInfo};

/// Why an admin action failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a project.
pub async fn create_project(store: &Store, actor: &str, name: &str) -> Result<Project, AdminError> {
    let p = store.create_project(name).await?;
    store
        .audit(actor, "project.create", &format!("project {:?}", p.name))
        .await?;
    Ok(p)
}

/// Creates an ingest key; returns the secret (shown once).
pub async fn create_key(
    store: &Store,
    actor: &str,
    project: &str,
) -> Result<(KeyInfo, String), AdminError> {
    let (info, key) = store.create_key(project).await?;
    store
        .audit(
            actor,
            "key.create",
            &format!("ingest key {} for project {:?}", info.prefix, info.project),
        )
        .await?;
    Ok((info, key))
}

/// Revokes an ingest key.
pub async fn revoke_key(store: &Store, actor: &str, prefix: &str) -> Result<(), AdminError> {
    store.revoke_key(prefix).await?;
    store
        .audit(actor, "key.revoke", &format!("ingest key {prefix}"))
        .await?;
    Ok(())
}

/// Sets a model price.
pub async fn set_price(store: &Store, actor: &str, p: &ModelPrice) -> Result<(), AdminError> {
    if p.model.trim().is_empty() {
        return Err(AdminError::Invalid("model: must not be empty".into()));
    }
    store.set_price(p).await?;
    let detail = format!(
        "model {:?} from {} ms: input {} cached {} cache-write {} output {} micro-USD/Mtok",
        p.model, p.effective_from_ms, p.input, p.cached_input, p.cache_write, p.output
    );
    store.audit(actor, "price.set", &detail).await?;
    Ok(())
}

/// Creates a user; `projects: Some(..)` limits a viewer to those projects.
pub async fn create_user(
    store: &Store,
    actor: &str,
    email: &str,
    password: &str,
    role: Role,
    projects: Option<&[String]>,
) -> Result<(), AdminError> {
    let email = crate::auth::normalise_email(email).map_err(AdminError::Invalid)?;
    crate::auth::check_new_password(password).map_err(AdminError::Invalid)?;
    if role == Role::Admin && projects.is_some() {
        return Err(AdminError::Invalid(
            "admins see every project; limit viewers only".into(),
        ));
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .map_err(AdminError::Invalid)?;
    store.create_user(&email, &hash, role, projects).await?;
    let scope = match projects {
        None => "every project".to_string(),
        Some(p) => format!("projects {p:?}"),
    };
    store
        .audit(
            actor,
            "user.create",
            &format!("user {email} as {} seeing {scope}", role.as_str()),
        )
        .await?;
    Ok(())
}

/// Disables a user and ends their sessions.
pub async fn disable_user(store: &Store, actor: &str, email: &str) -> Result<(), AdminError> {
    let email = email.trim().to_lowercase();
    store.disable_user(&email).await?;
    store
        .audit(actor, "user.disable", &format!("user {email}"))
        .await?;
    Ok(())
}

/// Creates a read API token; returns the secret (shown once).
pub async fn create_token(
    store: &Store,
    actor: &str,
    name: &str,
    projects: Option<&[String]>,
) -> Result<(TokenInfo, String), AdminError> {
    let (info, secret) = store.create_token(name, projects, actor).await?;
    let scope = match projects {
        None => "every project".to_string(),
        Some(p) => format!("projects {p:?}"),
    };
    store
        .audit(
            actor,
            "token.create",
            &format!("read token {} {:?} seeing {scope}", info.prefix, info.name),
        )
        .await?;
    Ok((info, secret))
}

/// Revokes a read API token.
pub async fn revoke_token(store: &Store, actor: &str, prefix: &str) -> Result<(), AdminError> {
    store.revoke_token(prefix).await?;
    store
        .audit(actor, "token.revoke", &format!("read token {prefix}"))
        .await?;
    Ok(())
}
