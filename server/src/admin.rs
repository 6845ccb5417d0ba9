//! Admin actions, shared by the command line and the admin page: each one changes the store
//! and records who did it in the audit log.

use shared::{format_count, format_usd, parse_usd_micros, AdminCommand, AlertRuleForm, Role};

use crate::pricing::catalogue::Catalogue;
use crate::pricing::{overrides, reprice, PriceBook};
use crate::store::{KeyInfo, Project, Store, StoreError, TokenInfo};
use shared::DiscountScope;
use shared::ModelPrice;

/// Why an admin action failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<reprice::RepriceError> for AdminError {
    fn from(e: reprice::RepriceError) -> AdminError {
        match e {
            reprice::RepriceError::Store(e) => AdminError::Store(e),
            other => AdminError::Invalid(other.to_string()),
        }
    }
}

/// Creates a project.
pub async fn create_project(store: &Store, actor: &str, name: &str) -> Result<Project, AdminError> {
    let p = store.create_project(name).await?;
    store
        .audit(actor, "project.create", &format!("project {:?}", p.name))
        .await?;
    Ok(p)
}

/// Renames a project (its events, keys, budgets and viewers follow: they refer to its id).
pub async fn rename_project(
    store: &Store,
    actor: &str,
    name: &str,
    new_name: &str,
) -> Result<Project, AdminError> {
    let p = store.rename_project(name.trim(), new_name).await?;
    store
        .audit(
            actor,
            "project.rename",
            &format!("project {:?} renamed {:?}", name.trim(), p.name),
        )
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
    let email = crate::access::passwords::normalise_email(email).map_err(AdminError::Invalid)?;
    if role == Role::Admin && projects.is_some() {
        return Err(AdminError::Invalid(
            "admins see every project; limit viewers only".into(),
        ));
    }
    let hash = hash_new_password(password).await?;
    store.create_user(&email, &hash, role, projects).await?;
    store
        .audit(
            actor,
            "user.create",
            &format!(
                "user {email} as {} seeing {}",
                role.as_str(),
                describe_scope(projects)
            ),
        )
        .await?;
    Ok(())
}

/// Checks a new password and hashes it off the async threads (argon2 takes tens of ms).
async fn hash_new_password(password: &str) -> Result<String, AdminError> {
    crate::access::passwords::check_new_password(password).map_err(AdminError::Invalid)?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || crate::access::passwords::hash_password(&password))
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .map_err(AdminError::Invalid)
}

/// Sets a user's password; their sessions end.
pub async fn set_password(
    store: &Store,
    actor: &str,
    email: &str,
    password: &str,
) -> Result<(), AdminError> {
    let email = email.trim().to_lowercase();
    let hash = hash_new_password(password).await?;
    store.set_password(&email, &hash).await?;
    store
        .audit(actor, "user.password", &format!("user {email}"))
        .await?;
    Ok(())
}

/// "every project" or the project list, for audit entries.
fn describe_scope(projects: Option<&[String]>) -> String {
    match projects {
        None => "every project".to_string(),
        Some(p) => format!("projects {p:?}"),
    }
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

/// Sets the projects a viewer sees (`None`: every project); admins see every project.
pub async fn set_user_projects(
    store: &Store,
    actor: &str,
    email: &str,
    projects: Option<&[String]>,
) -> Result<(), AdminError> {
    let email = email.trim().to_lowercase();
    let users = store.list_users().await?;
    let user = (users.iter().find(|u| u.email == email))
        .ok_or_else(|| AdminError::Invalid(format!("email {email:?}: no such user")))?;
    if user.role == Role::Admin && projects.is_some() {
        return Err(AdminError::Invalid(
            "admins see every project; limit viewers only".into(),
        ));
    }
    store.set_user_projects(&email, projects).await?;
    store
        .audit(
            actor,
            "user.projects",
            &format!("user {email} now sees {}", describe_scope(projects)),
        )
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
    store
        .audit(
            actor,
            "token.create",
            &format!(
                "read token {} {:?} seeing {}",
                info.prefix,
                info.name,
                describe_scope(projects)
            ),
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

/// A comma-separated project list from a form: empty means every project.
fn project_list(s: &str) -> Option<Vec<String>> {
    let list: Vec<String> = s
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    (!list.is_empty()).then_some(list)
}

/// A budget's alert thresholds from a form ("50, 80, 100 %"); empty means the defaults.
fn threshold_list(s: &str) -> Result<Option<Vec<i64>>, AdminError> {
    let list = (s.split(',').map(str::trim).filter(|t| !t.is_empty()))
        .map(|t| {
            t.trim_end_matches('%').trim().parse::<i64>().map_err(|_| {
                AdminError::Invalid(format!("thresholds: {t:?} is not a whole percentage"))
            })
        })
        .collect::<Result<Vec<i64>, _>>()?;
    Ok((!list.is_empty()).then_some(list))
}

fn parse_day(s: &str) -> Result<i64, AdminError> {
    if s.trim().is_empty() {
        return Ok(chrono::Utc::now().timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(|d| {
            d.and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc()
                .timestamp_millis()
        })
        .map_err(|_| AdminError::Invalid(format!("from {s:?}: expected YYYY-MM-DD")))
}

/// Carries out one command of the admin page as `actor`.
pub async fn run(
    store: &Store,
    actor: &str,
    cmd: AdminCommand,
) -> Result<Option<String>, AdminError> {
    let usd = |what: &str, s: &str| parse_usd_micros(what, s).map_err(AdminError::Invalid);
    let usd_or = |what: &str, s: &str, default: i64| {
        if s.trim().is_empty() {
            Ok(default)
        } else {
            usd(what, s)
        }
    };
    match cmd {
        AdminCommand::CreateProject { name } => {
            create_project(store, actor, &name).await.map(|_| None)
        }
        AdminCommand::RenameProject { name, new_name } => {
            rename_project(store, actor, &name, &new_name)
                .await
                .map(|_| None)
        }
        AdminCommand::CreateKey { project } => create_key(store, actor, &project)
            .await
            .map(|(_, k)| Some(k)),
        AdminCommand::RevokeKey { prefix } => revoke_key(store, actor, &prefix).await.map(|_| None),
        AdminCommand::SetPrice {
            model,
            input,
            output,
            cached_input,
            cache_write,
            from,
        } => {
            let input = usd("input", &input)?;
            let price = ModelPrice {
                model: model.trim().to_string(),
                effective_from_ms: parse_day(&from)?,
                input,
                cached_input: usd_or("cached input", &cached_input, input)?,
                cache_write: usd_or("cache write", &cache_write, input)?,
                output: usd("output", &output)?,
            };
            set_price(store, actor, &price).await.map(|_| None)
        }
        AdminCommand::CreateUser {
            email,
            password,
            role,
            projects,
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| AdminError::Invalid(format!("role {role:?}: admin or viewer")))?;
            let projects = project_list(&projects);
            create_user(store, actor, &email, &password, role, projects.as_deref())
                .await
                .map(|_| None)
        }
        AdminCommand::DisableUser { email } => {
            disable_user(store, actor, &email).await.map(|_| None)
        }
        AdminCommand::SetUserProjects { email, projects } => {
            let projects = project_list(&projects);
            set_user_projects(store, actor, &email, projects.as_deref())
                .await
                .map(|_| None)
        }
        AdminCommand::CreateToken { name, projects } => {
            let projects = project_list(&projects);
            create_token(store, actor, &name, projects.as_deref())
                .await
                .map(|(_, t)| Some(t))
        }
        AdminCommand::RevokeToken { prefix } => {
            revoke_token(store, actor, &prefix).await.map(|_| None)
        }
        AdminCommand::CreateBudget {
            project,
            usd,
            period,
            tz,
            thresholds,
            scope,
        } => {
            let project = Some(project.trim()).filter(|p| !p.is_empty());
            let thresholds = threshold_list(&thresholds)?;
            let tz = if tz.trim().is_empty() {
                "UTC"
            } else {
                tz.trim()
            };
            create_budget(
                store,
                actor,
                project,
                &usd,
                &period,
                tz,
                thresholds.as_deref(),
                &scope,
            )
            .await
            .map(|_| None)
        }
        AdminCommand::UpdateBudget {
            id,
            usd,
            thresholds,
        } => {
            let id = parse_id("budget", &id)?;
            let thresholds = threshold_list(&thresholds)?;
            update_budget(store, actor, id, &usd, thresholds.as_deref())
                .await
                .map(|_| None)
        }
        AdminCommand::DeleteBudget { id } => {
            let id = parse_id("budget", &id)?;
            delete_budget(store, actor, id).await.map(|_| None)
        }
        AdminCommand::UpdateAlertRule { id, threshold } => {
            let id = parse_id("rule", &id)?;
            update_alert_rule(store, actor, id, &threshold)
                .await
                .map(|_| None)
        }
        AdminCommand::CreateAlertRule(form) => {
            create_alert_rule(store, actor, &form).await.map(|_| None)
        }
        AdminCommand::DeleteAlertRule { id } => {
            let id = parse_id("rule", &id)?;
            store.delete_alert_rule(id).await?;
            store
                .audit(actor, "alert.delete", &format!("alert rule {id}"))
                .await?;
            Ok(None)
        }
        AdminCommand::CreateWebhook { url } => create_webhook(store, actor, &url)
            .await
            .map(|(_, secret)| Some(secret)),
        AdminCommand::DisableWebhook { id } => {
            let id = parse_id("webhook", &id)?;
            store.disable_webhook(id, now_ms()).await?;
            store
                .audit(actor, "webhook.disable", &format!("webhook {id}"))
                .await?;
            Ok(None)
        }
        AdminCommand::TestWebhook { id } => {
            test_webhook(store, actor, parse_id("webhook", &id)?).await?;
            Ok(None)
        }
        AdminCommand::RepricePreview { from, model } => {
            let model = Some(model.trim()).filter(|m| !m.is_empty());
            let p = reprice::preview(store, parse_past_day(&from)?, model).await?;
            let mut text = format!(
                "From {}: {} events looked at (client-sent costs excluded); {} change, {} -> {}.",
                shared::format_utc_ms(p.from_ms),
                format_count(p.events),
                format_count(p.changed),
                format_usd(p.cost_before_nanos),
                format_usd(p.cost_after_nanos)
            );
            if let Some(kept) = p.kept_from_ms {
                text.push_str(&format!(
                    " Raw events before {} were deleted by retention: those periods keep their costs.",
                    shared::format_utc_ms(kept)
                ));
            }
            Ok(Some(text))
        }
        AdminCommand::Reprice { from, model } => {
            let model = Some(model.trim()).filter(|m| !m.is_empty());
            let run = reprice::start(store, actor, parse_past_day(&from)?, model, now_ms()).await?;
            spawn_reprice(store, run.id);
            Ok(Some(format!("Re-pricing run {} started.", run.id)))
        }
        AdminCommand::AddPriceRule { pattern, model } => {
            add_price_rule(store, actor, &pattern, &model)
                .await
                .map(|_| None)
        }
        AdminCommand::DeletePriceRule { id } => {
            delete_price_rule(store, actor, parse_id("rule", &id)?)
                .await
                .map(|_| None)
        }
        AdminCommand::AddDiscount {
            scope,
            name,
            percent,
            from,
        } => add_discount(store, actor, &scope, &name, &percent, parse_day(&from)?)
            .await
            .map(|_| None),
        AdminCommand::DeleteDiscount { id } => {
            delete_discount(store, actor, parse_id("discount", &id)?)
                .await
                .map(|_| None)
        }
        AdminCommand::EraseEndUser { id } => {
            let n = erase_end_user(store, actor, &id).await?;
            Ok(Some(format!(
                "The end user's id was erased from {n} events."
            )))
        }
        AdminCommand::ResolvePrice { name, provider } => {
            let name = name.trim();
            if name.is_empty() {
                return Err(AdminError::Invalid("name: required".into()));
            }
            let provider = Some(provider.trim()).filter(|p| !p.is_empty());
            let book = PriceBook::load(store).await?;
            Ok(Some(book.explain(name, provider, now_ms()).join("\n")))
        }
        AdminCommand::RepriceResume => {
            let run = reprice::unfinished(store)
                .await?
                .ok_or(reprice::RepriceError::NothingToResume)?;
            spawn_reprice(store, run.id);
            Ok(Some(format!("Re-pricing run {} resumed.", run.id)))
        }
    }
}

/// Erases end user `id` from every stored event (their id becomes "(erased)"; their numbers
/// stay in every total), also where it was stored hashed; audited. Answers how many events
/// changed.
pub async fn erase_end_user(store: &Store, actor: &str, id: &str) -> Result<u64, AdminError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(AdminError::Invalid("end user: an id is required".into()));
    }
    let mut ids = vec![id.to_string()];
    if let Some(key) = store.stored_end_user_hash_key().await? {
        ids.push(crate::ingest::dimensions::hash_end_user(&key, id));
    }
    let changed = store.erase_end_user(&ids).await?;
    // The audit log names the erasure, not the id it erased.
    store
        .audit(
            actor,
            "end_user.erase",
            &format!("an end user erased from {changed} events"),
        )
        .await?;
    Ok(changed)
}

/// Declares metadata `key` as a dimension (at most 10 keys).
pub async fn declare_dimension(store: &Store, actor: &str, key: &str) -> Result<(), AdminError> {
    use crate::ingest::dimensions::{check_key, MAX_DECLARED};
    let key = key.trim();
    check_key(key).map_err(AdminError::Invalid)?;
    if !store
        .declare_dimension(key, MAX_DECLARED as i64, actor, now_ms())
        .await?
    {
        let declared = store.declared_dimensions().await?;
        return Err(AdminError::Invalid(
            if declared.iter().any(|d| d.key == key) {
                format!("key {key:?} is declared already")
            } else {
                format!("at most {MAX_DECLARED} metadata keys can be declared; remove one first")
            },
        ));
    }
    store
        .audit(actor, "dimension.declare", &format!("metadata key {key:?}"))
        .await?;
    Ok(())
}

pub async fn remove_dimension(store: &Store, actor: &str, key: &str) -> Result<(), AdminError> {
    let key = key.trim();
    if !store.remove_dimension(key).await? {
        return Err(AdminError::Invalid(format!("key {key:?} is not declared")));
    }
    store
        .audit(actor, "dimension.remove", &format!("metadata key {key:?}"))
        .await?;
    Ok(())
}

/// Adds a name rule: model names matching `pattern` (`*` any run of characters) are priced
/// as the catalogue's `model`.
pub async fn add_price_rule(
    store: &Store,
    actor: &str,
    pattern: &str,
    model: &str,
) -> Result<i64, AdminError> {
    let (pattern, model) = (pattern.trim(), model.trim());
    if pattern.is_empty() || pattern.chars().count() > overrides::MAX_PATTERN_LEN {
        return Err(AdminError::Invalid(format!(
            "pattern: 1 to {} characters",
            overrides::MAX_PATTERN_LEN
        )));
    }
    let book = PriceBook::load(store).await?;
    if book.catalogue().resolve(model, None).is_none() {
        return Err(AdminError::Invalid(format!(
            "model {model:?}: the price catalogue has no such model"
        )));
    }
    let id = store.add_price_rule(pattern, model).await?;
    store
        .audit(
            actor,
            "price.rule.add",
            &format!("rule {id}: {pattern:?} -> {model}"),
        )
        .await?;
    Ok(id)
}

pub async fn delete_price_rule(store: &Store, actor: &str, id: i64) -> Result<(), AdminError> {
    if !store.delete_price_rule(id).await? {
        return Err(AdminError::Invalid(format!("rule {id}: no such rule")));
    }
    store
        .audit(actor, "price.rule.delete", &format!("rule {id}"))
        .await?;
    Ok(())
}

/// Adds a discount of `percent` (up to two decimals, above 0 and at most 100) off the
/// catalogue's price for a provider's models or a model (`scope`), from `from_ms`.
pub async fn add_discount(
    store: &Store,
    actor: &str,
    scope: &str,
    name: &str,
    percent: &str,
    from_ms: i64,
) -> Result<i64, AdminError> {
    let scope = DiscountScope::parse(scope.trim())
        .ok_or_else(|| AdminError::Invalid(format!("scope {scope:?}: provider or model")))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > overrides::MAX_PATTERN_LEN {
        return Err(AdminError::Invalid(format!(
            "{}: 1 to {} characters",
            scope.as_str(),
            overrides::MAX_PATTERN_LEN
        )));
    }
    let basis_points = parse_percent(percent)?;
    let id = store
        .add_price_discount(scope, name, basis_points, from_ms)
        .await?;
    store
        .audit(
            actor,
            "price.discount.add",
            &format!(
                "discount {id}: {percent} % off {} {name} from {}",
                scope.as_str(),
                shared::format_utc_ms(from_ms)
            ),
        )
        .await?;
    Ok(id)
}

/// `15`, `12.5`, `0.25` percent as basis points, above 0 and at most 100 %.
fn parse_percent(s: &str) -> Result<i64, AdminError> {
    let bad = || {
        AdminError::Invalid(format!(
            "percent {s:?}: a number above 0 and at most 100, with at most two decimals"
        ))
    };
    let t = s.trim().trim_end_matches('%').trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |d: &str| d.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || whole.len() > 3 || frac.len() > 2 || !digits(whole) || !digits(frac) {
        return Err(bad());
    }
    let bp = whole.parse::<i64>().map_err(|_| bad())? * 100
        + format!("{frac:0<2}").parse::<i64>().map_err(|_| bad())?;
    if !(1..=10_000).contains(&bp) {
        return Err(bad());
    }
    Ok(bp)
}

pub async fn delete_discount(store: &Store, actor: &str, id: i64) -> Result<(), AdminError> {
    if !store.delete_price_discount(id).await? {
        return Err(AdminError::Invalid(format!(
            "discount {id}: no such discount"
        )));
    }
    store
        .audit(actor, "price.discount.delete", &format!("discount {id}"))
        .await?;
    Ok(())
}

/// Puts a catalogue file (the bundled one's format) in force instead of the bundled one,
/// after checking every entry; `None` goes back to the bundled catalogue. Answers what is in
/// force now.
pub async fn import_catalogue(
    store: &Store,
    actor: &str,
    body: Option<&str>,
) -> Result<String, AdminError> {
    let catalogue = match body {
        Some(text) => std::sync::Arc::new(Catalogue::parse(text).map_err(AdminError::Invalid)?),
        None => Catalogue::bundled(),
    };
    let what = format!(
        "{} models, taken {}, from {}",
        catalogue.len(),
        catalogue.taken,
        catalogue.source
    );
    let id = store.import_price_catalogue(body, now_ms()).await?;
    let action = if body.is_some() {
        "price.catalogue.import"
    } else {
        "price.catalogue.bundled"
    };
    store
        .audit(actor, action, &format!("catalogue {id}: {what}"))
        .await?;
    Ok(what)
}

/// Runs (or resumes) re-pricing run `id` (see [`reprice::run`]); when it finishes, checks
/// every budget's current period and writes `reprice.finish` to the audit log.
pub async fn run_reprice(
    store: &Store,
    id: i64,
    batch: i64,
    max_batches: Option<usize>,
    progress: impl FnMut(&reprice::RunRow),
) -> Result<reprice::RunRow, reprice::RepriceError> {
    let run = reprice::run(store, id, batch, max_batches, progress).await?;
    if let Some(at) = run.finished_at_ms {
        let fired = crate::alerting::budgets::after_repricing(store, at).await?;
        store
            .audit(
                &run.created_by,
                "reprice.finish",
                &format!(
                    "run {id}: {} events looked at, {} re-priced, {} -> {}; {fired} budget alerts",
                    run.events_seen,
                    run.events_changed,
                    format_usd(run.cost_before_nanos),
                    format_usd(run.cost_after_nanos)
                ),
            )
            .await?;
    }
    Ok(run)
}

/// Runs a re-pricing run in the background; a failure leaves it resumable.
fn spawn_reprice(store: &Store, id: i64) {
    let store = store.clone();
    tokio::spawn(async move {
        let batch = reprice::DEFAULT_BATCH;
        if let Err(e) = run_reprice(&store, id, batch, None, |_| {}).await {
            tracing::error!(run = id, error = %e, "re-pricing stopped; resume it from the admin page");
        }
    });
}

/// A `YYYY-MM-DD` date (UTC midnight), required.
fn parse_past_day(s: &str) -> Result<i64, AdminError> {
    if s.trim().is_empty() {
        return Err(AdminError::Invalid(
            "from: a date is required (YYYY-MM-DD)".into(),
        ));
    }
    parse_day(s)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn parse_id(what: &str, s: &str) -> Result<i64, AdminError> {
    s.trim()
        .parse()
        .map_err(|_| AdminError::Invalid(format!("{what} {s:?}: expected its number")))
}

/// Parses `s` as a whole number in `range`.
fn whole(what: &str, s: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, AdminError> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            AdminError::Invalid(format!(
                "{what} {s:?}: expected a whole number from {} to {}",
                range.start(),
                range.end()
            ))
        })
}

/// Parses a percentage with at most two decimals into basis points (`"2.5"` → 250).
fn basis_points(s: &str) -> Result<i64, AdminError> {
    let t = s.trim().trim_end_matches('%').trim();
    let (whole_part, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |d: &str| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit());
    let bps = (digits(whole_part) && (frac.is_empty() || digits(frac)) && frac.len() <= 2)
        .then(|| format!("{whole_part}{frac:0<2}").parse::<i64>().ok())
        .flatten()
        .filter(|b| (0..=10_000).contains(b));
    bps.ok_or_else(|| {
        AdminError::Invalid(format!(
            "threshold {s:?}: expected a percentage from 0 to 100 (at most 2 decimals)"
        ))
    })
}

/// A budget's or rule's dimension scope from the forms' text: empty for none, else
/// `DIMENSION=VALUE` with the dimension as the API names it (`user`, `key`, `provider`,
/// `meta.<key>`) or a declared metadata key alone (`team=search`). The value is compared
/// as text, as breakdowns show it.
pub async fn parse_scope(
    store: &Store,
    text: &str,
) -> Result<Option<shared::DimFilter>, AdminError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = |why: String| AdminError::Invalid(format!("scope {text:?}: {why}"));
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| invalid("expected DIMENSION=VALUE, e.g. team=search or user=u-1".into()))?;
    let (name, value) = (name.trim(), value.trim());
    let dim =
        shared::Dimension::parse(name).unwrap_or_else(|| shared::Dimension::Meta(name.to_string()));
    let filter = shared::DimFilter {
        dim,
        value: value.to_string(),
    };
    // The rules every dimension filter keeps (declared key, 1 to 128 characters).
    crate::query::check_dims(store, std::slice::from_ref(&filter))
        .await
        .map_err(|e| match e {
            crate::query::QueryError::BadParam { reason, .. } => invalid(reason),
            crate::query::QueryError::Store(e) => AdminError::Store(e),
        })?;
    if value == shared::VALUE_INVALID {
        return Err(invalid(
            "(invalid) cannot be a scope: it stands for many different values".into(),
        ));
    }
    if filter.dim == shared::Dimension::Key
        && value != shared::VALUE_NO_KEY
        && !store.list_keys().await?.iter().any(|k| k.prefix == value)
    {
        return Err(invalid(format!("no ingest key has the prefix {value:?}")));
    }
    Ok(Some(filter))
}

/// Creates a metric alert rule; answers its id.
pub async fn create_alert_rule(
    store: &Store,
    actor: &str,
    f: &AlertRuleForm,
) -> Result<i64, AdminError> {
    let invalid = AdminError::Invalid;
    let name = f.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid("name: 1 to 200 characters".into()));
    }
    let metric = f.metric.trim();
    if !crate::alerting::rules::METRICS.contains(&metric) {
        return Err(invalid(format!(
            "metric {metric:?}: expected error_rate, p95_latency or requests"
        )));
    }
    let op = f.op.trim();
    if op != "above" && op != "below" {
        return Err(invalid(format!("op {op:?}: expected above or below")));
    }
    let threshold = rule_threshold(metric, &f.threshold)?;
    let window_minutes = whole("window_minutes", &f.window_minutes, 1..=1440)?;
    let min_requests = if f.min_requests.trim().is_empty() {
        20
    } else {
        whole("min_requests", &f.min_requests, 1..=1_000_000_000)?
    };
    let project = f.project.trim();
    let project_id = match project {
        "" => None,
        p => Some(store.project_by_name(p).await?.id),
    };
    let model = f.model.trim();
    let model_id = match model {
        "" => None,
        m => Some(store.model_by_name(m).await?),
    };
    let scope = parse_scope(store, &f.scope).await?;
    let rule = crate::store::AlertRuleRow {
        info: shared::AlertRuleInfo {
            scope,
            name: name.to_string(),
            metric: metric.to_string(),
            project: project_id.map(|_| project.to_string()),
            model: model_id.map(|_| model.to_string()),
            op: op.to_string(),
            threshold,
            window_minutes,
            min_requests,
            ..Default::default()
        },
        project_id,
        model_id,
    };
    let id = store.create_alert_rule(&rule, now_ms()).await?;
    store
        .audit(
            actor,
            "alert.create",
            &format!("alert rule {id} {:?}: {}", name, rule.info.describe()),
        )
        .await?;
    Ok(id)
}

/// Queues a test notification to an enabled webhook (sent within a second by the server).
pub async fn test_webhook(store: &Store, actor: &str, id: i64) -> Result<(), AdminError> {
    let now = now_ms();
    let body = crate::alerting::webhooks::test_body(id, now);
    store.enqueue_delivery(id, "test", &body, now).await?;
    store
        .audit(
            actor,
            "webhook.test",
            &format!("test notification to webhook {id}"),
        )
        .await?;
    Ok(())
}

/// Adds a webhook; answers its id and its signing secret (shown once).
pub async fn create_webhook(
    store: &Store,
    actor: &str,
    url: &str,
) -> Result<(i64, String), AdminError> {
    let url = crate::alerting::webhooks::check_url(url).map_err(AdminError::Invalid)?;
    let secret = crate::alerting::webhooks::new_secret();
    let id = store.create_webhook(&url, &secret, now_ms()).await?;
    store
        .audit(actor, "webhook.create", &format!("webhook {id} to {url}"))
        .await?;
    Ok((id, secret))
}

/// Creates a budget of `amount_usd` per `period` in `tz` for a project (`None`: the whole
/// organisation), alerting at `thresholds` percent (default 50, 80, 100); `scope` (as
/// [`parse_scope`] reads it, empty for none) narrows it to one dimension value.
#[allow(clippy::too_many_arguments)]
pub async fn create_budget(
    store: &Store,
    actor: &str,
    project: Option<&str>,
    amount_usd: &str,
    period: &str,
    tz: &str,
    thresholds: Option<&[i64]>,
    scope: &str,
) -> Result<i64, AdminError> {
    let invalid = |m: String| AdminError::Invalid(m);
    let micros = budget_amount(amount_usd)?;
    crate::alerting::budgets::BudgetPeriod::parse(period)
        .ok_or_else(|| invalid(format!("period {period:?}: expected day, week or month")))?;
    tz.parse::<chrono_tz::Tz>()
        .map_err(|_| invalid(format!("tz {tz:?}: not an IANA time zone")))?;
    let list = budget_thresholds(thresholds)?;
    let project_id = match project {
        Some(name) => Some(store.project_by_name(name).await?.id),
        None => None,
    };
    let dim_scope = parse_scope(store, scope).await?;
    let id = store
        .create_budget(
            project_id,
            micros * 1000,
            period,
            tz,
            &list,
            dim_scope.as_ref(),
        )
        .await?;
    let mut scope = project.map_or("the organisation".to_string(), |p| format!("project {p:?}"));
    if let Some(d) = &dim_scope {
        scope = format!("{scope}, {}", d.describe());
    }
    store
        .audit(
            actor,
            "budget.create",
            &format!(
                "budget {id}: ${amount_usd} per {period} ({tz}) for {scope}, alerts at {list:?} %"
            ),
        )
        .await?;
    Ok(id)
}

/// A budget's amount in micro-USD from what was typed: more than 0.
fn budget_amount(amount_usd: &str) -> Result<i64, AdminError> {
    let micros = parse_usd_micros("amount", amount_usd).map_err(AdminError::Invalid)?;
    if micros == 0 {
        return Err(AdminError::Invalid("amount: must be more than 0".into()));
    }
    Ok(micros)
}

/// A budget's thresholds, sorted and without repeats (`None`: the defaults).
fn budget_thresholds(thresholds: Option<&[i64]>) -> Result<Vec<i64>, AdminError> {
    let mut list = thresholds
        .map(<[i64]>::to_vec)
        .unwrap_or_else(|| crate::alerting::budgets::DEFAULT_THRESHOLDS.to_vec());
    list.sort_unstable();
    list.dedup();
    if list.is_empty() || list.iter().any(|t| !(1..=1000).contains(t)) {
        return Err(AdminError::Invalid(
            "thresholds: whole percentages from 1 to 1000".into(),
        ));
    }
    Ok(list)
}

/// Changes budget `id`'s amount and thresholds (`None`: the defaults), then checks its
/// current period at once: a lowered amount or a new threshold may be reached already (each
/// threshold is still notified once per period). Answers how many alerts that check recorded.
pub async fn update_budget(
    store: &Store,
    actor: &str,
    id: i64,
    amount_usd: &str,
    thresholds: Option<&[i64]>,
) -> Result<usize, AdminError> {
    let micros = budget_amount(amount_usd)?;
    let list = budget_thresholds(thresholds)?;
    store.update_budget(id, micros * 1000, &list).await?;
    store
        .audit(
            actor,
            "budget.update",
            &format!(
                "budget {id}: ${} per period, alerts at {list:?} %",
                amount_usd.trim()
            ),
        )
        .await?;
    Ok(crate::alerting::budgets::after_edit(store, id, now_ms()).await?)
}

/// Changes rule `id`'s threshold, typed in its metric's unit (error rate: a percentage with
/// at most two decimals; p95 latency: ms; requests: a count). The next evaluation uses it.
pub async fn update_alert_rule(
    store: &Store,
    actor: &str,
    id: i64,
    threshold: &str,
) -> Result<(), AdminError> {
    let rule = (store.alert_rules().await?.into_iter())
        .map(|r| r.info)
        .find(|r| r.id == id)
        .ok_or_else(|| AdminError::Invalid(format!("rule {id}: no such rule")))?;
    let value = rule_threshold(&rule.metric, threshold)?;
    store.update_alert_rule_threshold(id, value).await?;
    store
        .audit(
            actor,
            "alert.update",
            &format!(
                "alert rule {id} ({:?}): threshold {}",
                rule.name,
                shared::format_metric(&rule.metric, value)
            ),
        )
        .await?;
    Ok(())
}

/// A rule's threshold as stored, from what was typed in its metric's unit.
fn rule_threshold(metric: &str, typed: &str) -> Result<i64, AdminError> {
    match metric {
        "error_rate" => basis_points(typed),
        _ => whole("threshold", typed, 0..=1_000_000_000),
    }
}

/// Deletes budget `id` and its recorded alerts.
pub async fn delete_budget(store: &Store, actor: &str, id: i64) -> Result<(), AdminError> {
    store.delete_budget(id).await?;
    store
        .audit(actor, "budget.delete", &format!("budget {id}"))
        .await?;
    Ok(())
}
