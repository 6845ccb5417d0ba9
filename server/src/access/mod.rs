//! Who may see and do what, without HTTP: the principal behind a request, the projects it
//! may see, admin checks, passwords, and the secrets handed to programs (ingest keys, read
//! tokens).

pub mod passwords;
pub mod secrets;

use shared::{Account, Role, UsageQuery};

/// Who a session or token belongs to, with the ids of the projects it may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account: Account,
    /// `None`: every project.
    pub project_ids: Option<Vec<i64>>,
}

/// Why a principal may not see what it asked for.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub String);

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

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{DateRange, Period};

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
}
