//! Storage of access control: users, sessions, read API tokens, the audit log and failed
//! log-ins. Everything lives in the database so that replicas share it.

use std::collections::HashMap;

use shared::{Account, AuditEntry, Role, TokenInfo, UserInfo};

use super::{now_ms, Backend, Store, StoreError};
use crate::access::Principal;

/// What a log-in attempt needs to know about an email address.
#[derive(Clone, Debug)]
pub struct LoginRow {
    pub user_id: i64,
    pub password_hash: String,
    pub disabled: bool,
}

/// Rows of `(id, name)` of the projects linked to one user or token.
type Scope = Option<Vec<(i64, String)>>;

impl Store {
    /// Ids of these project names; an unknown name is an error naming it.
    async fn project_ids_of(&self, names: &[String]) -> Result<Vec<i64>, StoreError> {
        let all = self.list_projects().await?;
        names
            .iter()
            .map(|n| {
                all.iter()
                    .find(|p| &p.name == n)
                    .map(|p| p.id)
                    .ok_or_else(|| StoreError::NotFound(format!("no project named {n:?}")))
            })
            .collect()
    }

    /// The projects linked in `table` (user_projects or token_projects) to `owner`.
    async fn linked_projects(
        &self,
        table: &str,
        column: &str,
        owner: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = format!(
            "SELECT p.id, p.name FROM {table} l JOIN projects p ON p.id = l.project_id \
             WHERE l.{column} = $1 ORDER BY p.name"
        );
        Ok(dispatch!(self, pool => sqlx::query_as(&sql).bind(owner).fetch_all(pool).await?))
    }

    /// Every owner's linked project names in `table`, for listings (one query, not one per
    /// user or token).
    async fn all_links(
        &self,
        table: &str,
        column: &str,
    ) -> Result<HashMap<i64, Vec<String>>, StoreError> {
        let sql = format!(
            "SELECT l.{column}, p.name FROM {table} l JOIN projects p ON p.id = l.project_id \
             ORDER BY p.name"
        );
        let rows: Vec<(i64, String)> =
            dispatch!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        for (owner, name) in rows {
            out.entry(owner).or_default().push(name);
        }
        Ok(out)
    }

    async fn scope_of(
        &self,
        table: &str,
        column: &str,
        owner: i64,
        limited: i64,
    ) -> Result<Scope, StoreError> {
        Ok(if limited != 0 {
            Some(self.linked_projects(table, column, owner).await?)
        } else {
            None
        })
    }

    // ---- users ----------------------------------------------------------------------

    /// Creates a user; `projects: Some(..)` limits a viewer to those projects.
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
        projects: Option<&[String]>,
    ) -> Result<i64, StoreError> {
        let ids = match projects {
            Some(names) => Some(self.project_ids_of(names).await?),
            None => None,
        };
        let sql = "INSERT INTO users (email, password_hash, role, limited, created_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING RETURNING id";
        let link = "INSERT INTO user_projects (user_id, project_id) VALUES ($1, $2)";
        let id: Option<i64> = dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(sql)
                .bind(email).bind(password_hash).bind(role.as_str())
                .bind(ids.is_some() as i64).bind(now_ms())
                .fetch_optional(&mut *tx).await?;
            if let Some(id) = id {
                for p in ids.iter().flatten() {
                    sqlx::query(link).bind(id).bind(p).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            id
        });
        id.ok_or_else(|| StoreError::Conflict(format!("a user with email {email:?} exists")))
    }

    /// Sets the projects a user sees: `Some(names)` limits them to those, `None` lifts the
    /// limit. Takes effect on their next request (sessions read it every time).
    pub async fn set_user_projects(
        &self,
        email: &str,
        projects: Option<&[String]>,
    ) -> Result<(), StoreError> {
        let ids = match projects {
            Some(names) => Some(self.project_ids_of(names).await?),
            None => None,
        };
        let limit = "UPDATE users SET limited = $1 WHERE email = $2 RETURNING id";
        let clear = "DELETE FROM user_projects WHERE user_id = $1";
        let link = "INSERT INTO user_projects (user_id, project_id) VALUES ($1, $2)";
        let found: Option<i64> = dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(limit)
                .bind(ids.is_some() as i64).bind(email)
                .fetch_optional(&mut *tx).await?;
            if let Some(id) = id {
                sqlx::query(clear).bind(id).execute(&mut *tx).await?;
                for p in ids.iter().flatten() {
                    sqlx::query(link).bind(id).bind(p).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            id
        });
        found
            .map(|_| ())
            .ok_or_else(|| StoreError::NotFound(format!("no user {email:?}")))
    }

    /// Every user, by email.
    pub async fn list_users(&self) -> Result<Vec<UserInfo>, StoreError> {
        let sql = "SELECT id, email, role, limited, created_at, disabled_at FROM users \
                   ORDER BY email";
        let rows: Vec<(i64, String, String, i64, i64, Option<i64>)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        let mut links = self.all_links("user_projects", "user_id").await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, email, role, limited, created_at_ms, disabled_at)| UserInfo {
                    id,
                    email,
                    role: Role::parse(&role).unwrap_or(Role::Viewer),
                    projects: (limited != 0).then(|| links.remove(&id).unwrap_or_default()),
                    created_at_ms,
                    disabled: disabled_at.is_some(),
                },
            )
            .collect())
    }

    /// What a log-in with this email checks, or `None` for an unknown email.
    pub async fn login_row(&self, email: &str) -> Result<Option<LoginRow>, StoreError> {
        let sql = "SELECT id, password_hash, disabled_at FROM users WHERE email = $1";
        let row: Option<(i64, String, Option<i64>)> =
            dispatch!(self, pool => sqlx::query_as(sql).bind(email).fetch_optional(pool).await?);
        Ok(row.map(|(user_id, password_hash, d)| LoginRow {
            user_id,
            password_hash,
            disabled: d.is_some(),
        }))
    }

    /// Disables a user and ends their sessions at once.
    pub async fn disable_user(&self, email: &str) -> Result<(), StoreError> {
        let sql = "UPDATE users SET disabled_at = $1 WHERE email = $2 AND disabled_at IS NULL \
                   RETURNING id";
        let end = "DELETE FROM sessions WHERE user_id = $1";
        let id: Option<i64> = dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(sql).bind(now_ms()).bind(email)
                .fetch_optional(&mut *tx).await?;
            if let Some(id) = id {
                sqlx::query(end).bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            id
        });
        id.map(|_| ())
            .ok_or_else(|| StoreError::NotFound(format!("no active user with email {email:?}")))
    }

    /// Replaces a user's password hash and ends their sessions.
    pub async fn set_password(&self, email: &str, password_hash: &str) -> Result<(), StoreError> {
        let sql = "UPDATE users SET password_hash = $1 WHERE email = $2 RETURNING id";
        let end = "DELETE FROM sessions WHERE user_id = $1";
        let id: Option<i64> = dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(sql).bind(password_hash).bind(email)
                .fetch_optional(&mut *tx).await?;
            if let Some(id) = id {
                sqlx::query(end).bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            id
        });
        id.map(|_| ())
            .ok_or_else(|| StoreError::NotFound(format!("no user with email {email:?}")))
    }

    // ---- sessions -------------------------------------------------------------------

    /// Records a session (by the hash of its cookie value) until `expires_at_ms`.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4)";
        let prune = "DELETE FROM sessions WHERE expires_at < $1";
        dispatch!(self, pool => {
            sqlx::query(prune).bind(now_ms()).execute(pool).await?;
            sqlx::query(sql).bind(token_hash).bind(user_id).bind(now_ms()).bind(expires_at_ms)
                .execute(pool).await.map(|_| ())?
        });
        Ok(())
    }

    /// Ends a session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM sessions WHERE token_hash = $1";
        dispatch!(self, pool => sqlx::query(sql).bind(token_hash).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// The principal of a live session of an enabled user.
    pub async fn session_principal(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<Principal>, StoreError> {
        let sql = "SELECT u.id, u.email, u.role, u.limited FROM sessions s \
                   JOIN users u ON u.id = s.user_id \
                   WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL";
        let row: Option<(i64, String, String, i64)> = dispatch!(self, pool => sqlx::query_as(sql)
            .bind(token_hash).bind(now_ms).fetch_optional(pool).await?);
        let Some((id, email, role, limited)) = row else {
            return Ok(None);
        };
        let scope = self
            .scope_of("user_projects", "user_id", id, limited)
            .await?;
        Ok(Some(principal(email, role, scope)))
    }

    // ---- read API tokens ------------------------------------------------------------

    /// Creates a read token; returns its listing and the full secret (shown once).
    pub async fn create_token(
        &self,
        name: &str,
        projects: Option<&[String]>,
        created_by: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(StoreError::Conflict(
                "a token name must have 1 to 200 characters".into(),
            ));
        }
        let ids = match projects {
            Some(names) => Some(self.project_ids_of(names).await?),
            None => None,
        };
        let (prefix, secret) = crate::access::secrets::generate_token();
        let created = now_ms();
        let sql = "INSERT INTO api_tokens (name, prefix, token_hash, limited, created_by, \
                   created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        let link = "INSERT INTO token_projects (token_id, project_id) VALUES ($1, $2)";
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(sql)
                .bind(name).bind(&prefix).bind(crate::access::secrets::hash(&secret))
                .bind(ids.is_some() as i64).bind(created_by).bind(created)
                .fetch_one(&mut *tx).await?;
            for p in ids.iter().flatten() {
                sqlx::query(link).bind(id).bind(p).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        let info = TokenInfo {
            prefix,
            name: name.to_string(),
            projects: projects.map(|p| p.to_vec()),
            created_by: created_by.to_string(),
            created_at_ms: created,
            revoked_at_ms: None,
        };
        Ok((info, secret))
    }

    /// Every read token, newest first.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let sql = "SELECT id, prefix, name, limited, created_by, created_at, revoked_at \
                   FROM api_tokens ORDER BY created_at DESC, id DESC";
        type Row = (i64, String, String, i64, String, i64, Option<i64>);
        let rows: Vec<Row> = dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        let mut links = self.all_links("token_projects", "token_id").await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, prefix, name, limited, created_by, created_at_ms, revoked_at_ms)| TokenInfo {
                    prefix,
                    name,
                    projects: (limited != 0).then(|| links.remove(&id).unwrap_or_default()),
                    created_by,
                    created_at_ms,
                    revoked_at_ms,
                },
            )
            .collect())
    }

    /// Revokes the read token with this prefix; it stops working at once.
    pub async fn revoke_token(&self, prefix: &str) -> Result<(), StoreError> {
        let sql = "UPDATE api_tokens SET revoked_at = $1 WHERE prefix = $2 AND revoked_at IS NULL";
        let done = dispatch!(self, pool => sqlx::query(sql)
            .bind(now_ms()).bind(prefix).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound(format!(
                "no active token with prefix {prefix:?}"
            )));
        }
        Ok(())
    }

    /// The principal of a valid, unrevoked read token.
    pub async fn token_principal(&self, secret: &str) -> Result<Option<Principal>, StoreError> {
        let Some(prefix) = crate::access::secrets::token_prefix_of(secret) else {
            return Ok(None);
        };
        let sql = "SELECT id, name, token_hash, limited FROM api_tokens \
                   WHERE prefix = $1 AND revoked_at IS NULL";
        let row: Option<(i64, String, String, i64)> = dispatch!(self, pool => sqlx::query_as(sql)
            .bind(prefix).fetch_optional(pool).await?);
        let Some((id, name, stored, limited)) = row else {
            return Ok(None);
        };
        if !crate::access::secrets::hash_matches(secret, &stored) {
            return Ok(None);
        }
        let scope = self
            .scope_of("token_projects", "token_id", id, limited)
            .await?;
        Ok(Some(principal(
            format!("token:{name}"),
            "viewer".into(),
            scope,
        )))
    }

    // ---- audit log and log-in failures ----------------------------------------------

    /// Records an admin action.
    pub async fn audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), StoreError> {
        let sql = "INSERT INTO audit_log (at, actor, action, detail) VALUES ($1, $2, $3, $4)";
        dispatch!(self, pool => sqlx::query(sql).bind(now_ms()).bind(actor).bind(action)
            .bind(detail).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// The newest `limit` admin actions, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = "SELECT at, actor, action, detail FROM audit_log ORDER BY id DESC LIMIT $1";
        let rows: Vec<(i64, String, String, String)> =
            dispatch!(self, pool => sqlx::query_as(sql).bind(limit).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(at_ms, actor, action, detail)| AuditEntry {
                at_ms,
                actor,
                action,
                detail,
            })
            .collect())
    }

    /// Reserves one log-in attempt against each subject (it counts as a failure until it
    /// succeeds), then answers, per subject, the attempts since `since_ms` (this one
    /// included) and the time of the oldest. Every insert is committed before any count is
    /// read, so of concurrent attempts no more than a limit's number see a count within it.
    pub async fn reserve_login_attempt(
        &self,
        subjects: &[String],
        now_ms: i64,
        since_ms: i64,
    ) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
        let insert = "INSERT INTO login_failures (subject, at) VALUES ($1, $2)";
        let prune = "DELETE FROM login_failures WHERE at < $1";
        let count = "SELECT COUNT(*), MIN(at) FROM login_failures WHERE subject = $1 AND at >= $2";
        let mut out = Vec::with_capacity(subjects.len());
        dispatch!(self, pool => {
            // A day of history is far more than any window the limiter looks at.
            sqlx::query(prune).bind(now_ms - 86_400_000).execute(pool).await?;
            for s in subjects {
                sqlx::query(insert).bind(s).bind(now_ms).execute(pool).await?;
            }
            for s in subjects {
                out.push(sqlx::query_as(count).bind(s).bind(since_ms).fetch_one(pool).await?);
            }
        });
        Ok(out)
    }

    /// Takes back the attempt reserved at `at_ms` for `subject` (a log-in that succeeded).
    pub async fn release_login_attempt(&self, subject: &str, at_ms: i64) -> Result<(), StoreError> {
        let sql = "DELETE FROM login_failures WHERE subject = $1 AND at = $2";
        dispatch!(self, pool => sqlx::query(sql).bind(subject).bind(at_ms).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Forgets the failed log-ins of a subject (after a successful log-in).
    pub async fn clear_login_failures(&self, subject: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM login_failures WHERE subject = $1";
        dispatch!(self, pool => sqlx::query(sql).bind(subject).execute(pool).await.map(|_| ())?);
        Ok(())
    }
}

fn principal(name: String, role: String, scope: Scope) -> Principal {
    let role = Role::parse(&role).unwrap_or(Role::Viewer);
    // Admins always see everything, whatever is linked to them.
    let scope = if role == Role::Admin { None } else { scope };
    Principal {
        account: Account {
            name,
            role,
            projects: scope
                .as_ref()
                .map(|s| s.iter().map(|(_, n)| n.clone()).collect()),
        },
        project_ids: scope.map(|s| s.into_iter().map(|(id, _)| id).collect()),
    }
}
