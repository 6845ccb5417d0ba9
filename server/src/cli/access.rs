//! `projects`, `keys`, `users` and `tokens`: who may send and who may read.

use clap::Subcommand;

use super::{fmt_ms, read_password, AnyError, CLI};
use crate::{admin, Store};

#[derive(Subcommand)]
pub enum ProjectCmd {
    /// Create a project.
    Create { name: String },
    /// Rename a project (its events, keys, budgets and viewers follow).
    Rename { name: String, new_name: String },
    /// List projects.
    List,
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create an ingest key; the key is printed once, as the last line.
    Create {
        #[arg(long)]
        project: String,
    },
    /// List keys (prefixes only).
    List,
    /// Revoke the key with this prefix.
    Revoke { prefix: String },
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user. The password is read from UA_PASSWORD, or asked for at a prompt.
    Create {
        #[arg(long)]
        email: String,
        /// `admin` or `viewer`.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Limit a viewer to these projects (comma-separated names); default: all projects.
        #[arg(long, value_delimiter = ',')]
        projects: Option<Vec<String>>,
    },
    /// List users.
    List,
    /// Disable a user; their sessions end at once.
    Disable { email: String },
    /// Set the projects a viewer sees (comma-separated), or lift the limit with --all.
    Projects {
        email: String,
        #[arg(long, value_delimiter = ',', required_unless_present = "all")]
        projects: Option<Vec<String>>,
        #[arg(long, conflicts_with = "projects")]
        all: bool,
    },
    /// Set a user's password (from UA_PASSWORD or a prompt); their sessions end.
    Password { email: String },
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create a read token; the token is printed once, as the last line.
    Create {
        #[arg(long)]
        name: String,
        /// Limit the token to these projects (comma-separated names); default: all projects.
        #[arg(long, value_delimiter = ',')]
        projects: Option<Vec<String>>,
    },
    /// List tokens (prefixes only).
    List,
    /// Revoke the token with this prefix.
    Revoke { prefix: String },
}

/// `projects create|list`.
pub async fn projects(store: &Store, cmd: ProjectCmd) -> Result<(), AnyError> {
    match cmd {
        ProjectCmd::Create { name } => {
            let p = admin::create_project(store, CLI, &name).await?;
            println!("created project {:?} (id {})", p.name, p.id);
        }
        ProjectCmd::Rename { name, new_name } => {
            let p = admin::rename_project(store, CLI, &name, &new_name).await?;
            println!("renamed project {name:?} to {:?}", p.name);
        }
        ProjectCmd::List => {
            for p in store.list_projects().await? {
                println!("{}\t{}", p.id, p.name);
            }
        }
    }
    Ok(())
}

/// `keys create|list|revoke`.
pub async fn keys(store: &Store, cmd: KeyCmd) -> Result<(), AnyError> {
    match cmd {
        KeyCmd::Create { project } => {
            let (info, key) = admin::create_key(store, CLI, &project).await?;
            println!(
                "created ingest key {} for project {:?}; store it now, it is not shown again:",
                info.prefix, info.project
            );
            println!("{key}");
        }
        KeyCmd::List => {
            for k in store.list_keys().await? {
                let state = if k.revoked_at_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    k.prefix,
                    k.project,
                    state,
                    fmt_ms(k.created_at_ms)
                );
            }
        }
        KeyCmd::Revoke { prefix } => {
            admin::revoke_key(store, CLI, &prefix).await?;
            println!("revoked {prefix}");
        }
    }
    Ok(())
}

/// `users create|list|disable|password`.
pub async fn users(store: &Store, cmd: UserCmd) -> Result<(), AnyError> {
    match cmd {
        UserCmd::Create {
            email,
            role,
            projects,
        } => {
            let role = shared::Role::parse(&role)
                .ok_or_else(|| format!("--role {role:?}: expected admin or viewer"))?;
            let password = read_password()?;
            admin::create_user(store, CLI, &email, &password, role, projects.as_deref()).await?;
            println!("created {} {email}", role.as_str());
        }
        UserCmd::List => {
            for u in store.list_users().await? {
                let scope = u
                    .projects
                    .map(|p| p.join(","))
                    .unwrap_or_else(|| "all projects".into());
                let state = if u.disabled { "disabled" } else { "active" };
                println!("{}\t{}\t{scope}\t{state}", u.email, u.role.as_str());
            }
        }
        UserCmd::Disable { email } => {
            admin::disable_user(store, CLI, &email).await?;
            println!("disabled {email}");
        }
        UserCmd::Projects {
            email,
            projects,
            all: _,
        } => {
            admin::set_user_projects(store, CLI, &email, projects.as_deref()).await?;
            match projects {
                Some(p) => println!("{email} now sees {}", p.join(", ")),
                None => println!("{email} now sees every project"),
            }
        }
        UserCmd::Password { email } => {
            let password = read_password()?;
            admin::set_password(store, CLI, &email, &password).await?;
            println!("password of {email} set; their sessions ended");
        }
    }
    Ok(())
}

/// `tokens create|list|revoke`.
pub async fn tokens(store: &Store, cmd: TokenCmd) -> Result<(), AnyError> {
    match cmd {
        TokenCmd::Create { name, projects } => {
            let (info, token) = admin::create_token(store, CLI, &name, projects.as_deref()).await?;
            println!(
                "created read token {} {:?}; store it now, it is not shown again:",
                info.prefix, info.name
            );
            println!("{token}");
        }
        TokenCmd::List => {
            for t in store.list_tokens().await? {
                let scope = t
                    .projects
                    .map(|p| p.join(","))
                    .unwrap_or_else(|| "all projects".into());
                let state = if t.revoked_at_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{scope}\t{state}", t.prefix, t.name);
            }
        }
        TokenCmd::Revoke { prefix } => {
            admin::revoke_token(store, CLI, &prefix).await?;
            println!("revoked {prefix}");
        }
    }
    Ok(())
}
