//! The `usage-analytics` binary: the server (default) and the admin command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::ingest::ModelPrice;
use server::{admin, AppState, Config, Store};
use shared::parse_usd_micros;

#[derive(Parser)]
#[command(
    name = "usage-analytics",
    version,
    about = "Self-hosted analytics for LLM API usage"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default). Address: LEPTOS_SITE_ADDR (127.0.0.1:3000).
    Serve,
    /// Manage projects.
    #[command(subcommand)]
    Projects(ProjectCmd),
    /// Manage ingest keys.
    #[command(subcommand)]
    Keys(KeyCmd),
    /// Manage model prices.
    #[command(subcommand)]
    Prices(PriceCmd),
    /// Manage budgets (spend limits with alert thresholds).
    #[command(subcommand)]
    Budgets(BudgetCmd),
    /// Metric alert rules (error rate, p95 latency, request volume).
    #[command(subcommand)]
    Alerts(AlertCmd),
    /// Webhooks that receive alerts.
    #[command(subcommand)]
    Webhooks(WebhookCmd),
    /// Manage users of the dashboard.
    #[command(subcommand)]
    Users(UserCmd),
    /// Manage read API tokens (Bearer tokens for scripts).
    #[command(subcommand)]
    Tokens(TokenCmd),
    /// Generate realistic demo traffic through the ingest path.
    Demo {
        /// How many events to generate.
        #[arg(long, default_value_t = 50_000)]
        events: usize,
        /// Over how many days, ending now.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Seed for a reproducible data set.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Import events from an NDJSON or CSV file (by extension) into a project.
    Import {
        file: std::path::PathBuf,
        #[arg(long)]
        project: String,
        /// Events per ingest batch.
        #[arg(long, default_value_t = server::ingest::import::DEFAULT_BATCH)]
        batch: usize,
    },
    /// Check that the roll-ups equal a recomputation from raw events.
    Verify,
    /// Benchmark ingest, the six panels and the raw export on the EMPTY database of
    /// DATABASE_URL (it writes N events into it) and print a markdown table.
    Bench {
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Timed runs per panel scenario.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Only re-time the panels on a database that a previous bench filled.
        #[arg(long)]
        panels_only: bool,
        /// Only measure ingest over HTTP (on an empty database): for trying a change to ingest.
        #[arg(long, conflicts_with = "panels_only")]
        ingest_only: bool,
        /// Skip the panels' baseline straight from raw events (minutes per panel at 100M).
        #[arg(long)]
        no_baseline: bool,
    },
}

#[derive(Subcommand)]
enum ProjectCmd {
    /// Create a project.
    Create { name: String },
    /// List projects.
    List,
}

#[derive(Subcommand)]
enum KeyCmd {
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
enum BudgetCmd {
    /// Create a budget for a project, or for the whole organisation without --project.
    Create {
        #[arg(long)]
        project: Option<String>,
        /// USD per period, e.g. 500 or 99.50.
        #[arg(long)]
        usd: String,
        /// day, week (from Monday) or month.
        #[arg(long, default_value = "month")]
        period: String,
        /// IANA time zone the period's days start in.
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Alert thresholds in percent (default 50,80,100).
        #[arg(long, value_delimiter = ',')]
        thresholds: Option<Vec<i64>>,
    },
    /// List budgets with this period's spend.
    List,
}

#[derive(Subcommand)]
enum AlertCmd {
    /// Create a rule, e.g. `--metric error_rate --above 5 --minutes 10 --project P`.
    Create {
        #[arg(long)]
        name: String,
        /// error_rate (threshold in %), p95_latency (ms) or requests (a count).
        #[arg(long)]
        metric: String,
        /// Fires when the metric is above this value...
        #[arg(long, conflicts_with = "below", required_unless_present = "below")]
        above: Option<String>,
        /// ...or below it.
        #[arg(long)]
        below: Option<String>,
        /// The sliding window, in minutes.
        #[arg(long, default_value = "10")]
        minutes: String,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// Error rate and p95 latency are judged over at least this many requests.
        #[arg(long, default_value = "20")]
        min_requests: String,
    },
    /// List rules with their state.
    List,
    /// Evaluate every rule now (the server does it every minute).
    Check,
}

#[derive(Subcommand)]
enum WebhookCmd {
    /// Add a webhook; prints its signing secret (shown once).
    Create { url: String },
    /// List webhooks and the newest deliveries.
    List,
    /// Queue a test notification (the server sends it within a second).
    Test { id: String },
}

#[derive(Subcommand)]
enum UserCmd {
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
    /// Set a user's password (from UA_PASSWORD or a prompt); their sessions end.
    Password { email: String },
}

#[derive(Subcommand)]
enum TokenCmd {
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

#[derive(Subcommand)]
enum PriceCmd {
    /// List prices (USD per million tokens).
    List,
    /// Set a model's prices in USD per million tokens, in force from a date (UTC).
    Set {
        #[arg(long)]
        model: String,
        #[arg(long)]
        input: String,
        #[arg(long)]
        output: String,
        /// Defaults to the input price.
        #[arg(long)]
        cached_input: Option<String>,
        /// Defaults to the input price.
        #[arg(long)]
        cache_write: Option<String>,
        /// `YYYY-MM-DD` or RFC 3339; defaults to now.
        #[arg(long)]
        from: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

async fn run(cli: Cli) -> Result<(), AnyError> {
    let config = Config::from_env()?;
    if let Some(Command::Bench {
        events,
        runs,
        panels_only,
        ingest_only,
        no_baseline,
    }) = &cli.command
    {
        let url = config
            .database_url
            .clone()
            .ok_or("bench: set DATABASE_URL to an empty database (sqlite://… or postgres://…)")?;
        let options = server::bench::BenchOptions {
            events: *events,
            runs: *runs,
            panels_only: *panels_only,
            ingest_only: *ingest_only,
            no_baseline: *no_baseline,
        };
        print!("{}", server::bench::run(&url, options).await?);
        return Ok(());
    }
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Serve = command {
        // Listening before the database is open: a long migration answers /readyz with 503
        // "migrating" meanwhile.
        let leptos_options = server::leptos_options();
        let listener = tokio::net::TcpListener::bind(leptos_options.site_addr).await?;
        println!(
            "usage-analytics serving on http://{}",
            listener.local_addr()?
        );
        let opening = async {
            let store = Store::connect(config.database_url.as_deref()).await?;
            tracing::info!("{} storage", store.backend_name());
            let state = AppState::new(store, config, leptos_options);
            let (store, stopping) = (&state.store, &state.stopping);
            server::retention::spawn(
                store.clone(),
                state.config.retention_days,
                stopping.subscribe(),
            );
            server::alerts::spawn(store.clone(), stopping.subscribe());
            server::webhooks::spawn(store.clone(), stopping.subscribe());
            Ok::<_, AnyError>(state)
        };
        server::serve_while_opening(listener, opening).await?;
        return Ok(());
    }
    let store = Store::connect(config.database_url.as_deref()).await?;
    match command {
        // Handled above.
        Command::Serve => {}
        Command::Projects(ProjectCmd::Create { name }) => {
            let p = admin::create_project(&store, CLI, &name).await?;
            println!("created project {:?} (id {})", p.name, p.id);
        }
        Command::Projects(ProjectCmd::List) => {
            for p in store.list_projects().await? {
                println!("{}\t{}", p.id, p.name);
            }
        }
        Command::Keys(KeyCmd::Create { project }) => {
            let (info, key) = admin::create_key(&store, CLI, &project).await?;
            println!(
                "created ingest key {} for project {:?}; store it now, it is not shown again:",
                info.prefix, info.project
            );
            println!("{key}");
        }
        Command::Keys(KeyCmd::List) => {
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
        Command::Keys(KeyCmd::Revoke { prefix }) => {
            admin::revoke_key(&store, CLI, &prefix).await?;
            println!("revoked {prefix}");
        }
        Command::Prices(PriceCmd::List) => {
            println!("model\tfrom\tinput\tcached_input\tcache_write\toutput  (USD per 1M tokens)");
            for p in store.list_prices().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    p.model,
                    fmt_ms(p.effective_from_ms),
                    fmt_micros(p.input),
                    fmt_micros(p.cached_input),
                    fmt_micros(p.cache_write),
                    fmt_micros(p.output)
                );
            }
        }
        Command::Prices(PriceCmd::Set {
            model,
            input,
            output,
            cached_input,
            cache_write,
            from,
        }) => {
            let input = parse_usd_micros("--input", &input)?;
            let price = ModelPrice {
                model,
                effective_from_ms: match from {
                    Some(f) => parse_from(&f)?,
                    None => chrono::Utc::now().timestamp_millis(),
                },
                input,
                cached_input: match cached_input {
                    Some(v) => parse_usd_micros("--cached-input", &v)?,
                    None => input,
                },
                cache_write: match cache_write {
                    Some(v) => parse_usd_micros("--cache-write", &v)?,
                    None => input,
                },
                output: parse_usd_micros("--output", &output)?,
            };
            admin::set_price(&store, CLI, &price).await?;
            println!(
                "price of {:?} set from {}",
                price.model,
                fmt_ms(price.effective_from_ms)
            );
        }
        Command::Budgets(BudgetCmd::Create {
            project,
            usd,
            period,
            tz,
            thresholds,
        }) => {
            let id = admin::create_budget(
                &store,
                CLI,
                project.as_deref(),
                &usd,
                &period,
                &tz,
                thresholds.as_deref(),
            )
            .await?;
            println!("created budget {id}");
        }
        Command::Budgets(BudgetCmd::List) => {
            let now = chrono::Utc::now().timestamp_millis();
            for s in server::budgets::statuses(&store, store.list_budgets().await?, now).await? {
                println!(
                    "{}\t{}\t{} per {} ({})\tspent {} ({:.1} %)\tprojected {}",
                    s.id,
                    s.project.as_deref().unwrap_or("(organisation)"),
                    shared::format_usd(s.amount_nanos),
                    s.period,
                    s.tz,
                    shared::format_usd(s.spend_nanos),
                    s.percent,
                    shared::format_usd(s.projected_nanos)
                );
            }
        }
        Command::Alerts(AlertCmd::Create {
            name,
            metric,
            above,
            below,
            minutes,
            project,
            model,
            min_requests,
        }) => {
            let (op, threshold) = match (above, below) {
                (Some(t), _) => ("above", t),
                (None, Some(t)) => ("below", t),
                (None, None) => return Err("give --above or --below".into()),
            };
            let form = shared::AlertRuleForm {
                name,
                metric,
                project: project.unwrap_or_default(),
                model: model.unwrap_or_default(),
                op: op.to_string(),
                threshold,
                window_minutes: minutes,
                min_requests,
            };
            let id = admin::create_alert_rule(&store, CLI, &form).await?;
            println!("created alert rule {id}");
        }
        Command::Alerts(AlertCmd::List) => {
            for r in store.alert_rules().await? {
                let r = r.info;
                println!("{}\t{}\t{}\t{}", r.id, r.name, r.describe(), r.state);
            }
        }
        Command::Alerts(AlertCmd::Check) => {
            let now = chrono::Utc::now().timestamp_millis();
            for (id, state) in server::alerts::evaluate(&store, now).await? {
                println!("rule {id}: {state}");
            }
        }
        Command::Webhooks(WebhookCmd::Create { url }) => {
            let (id, secret) = admin::create_webhook(&store, CLI, &url).await?;
            println!("created webhook {id}; its signing secret (shown once):\n{secret}");
        }
        Command::Webhooks(WebhookCmd::List) => {
            for w in store.list_webhooks().await? {
                let state = if w.disabled_at_ms.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!("{}\t{}\t{state}", w.id, w.url);
            }
            for d in store.deliveries(20).await? {
                println!(
                    "delivery {}\twebhook {}\t{}\t{}\t{} attempts\t{}",
                    d.id,
                    d.webhook_id,
                    d.kind,
                    d.state,
                    d.attempts,
                    d.last_error.unwrap_or_default()
                );
            }
        }
        Command::Webhooks(WebhookCmd::Test { id }) => {
            let id: i64 = id
                .parse()
                .map_err(|_| format!("{id:?}: expected the webhook's number"))?;
            admin::test_webhook(&store, CLI, id).await?;
            println!("queued a test notification to webhook {id}");
        }
        Command::Users(UserCmd::Create {
            email,
            role,
            projects,
        }) => {
            let role = shared::Role::parse(&role)
                .ok_or_else(|| format!("--role {role:?}: expected admin or viewer"))?;
            let password = read_password()?;
            admin::create_user(&store, CLI, &email, &password, role, projects.as_deref()).await?;
            println!("created {} {email}", role.as_str());
        }
        Command::Users(UserCmd::List) => {
            for u in store.list_users().await? {
                let scope = u
                    .projects
                    .map(|p| p.join(","))
                    .unwrap_or_else(|| "all projects".into());
                let state = if u.disabled { "disabled" } else { "active" };
                println!("{}\t{}\t{scope}\t{state}", u.email, u.role.as_str());
            }
        }
        Command::Users(UserCmd::Disable { email }) => {
            admin::disable_user(&store, CLI, &email).await?;
            println!("disabled {email}");
        }
        Command::Users(UserCmd::Password { email }) => {
            let password = read_password()?;
            admin::set_password(&store, CLI, &email, &password).await?;
            println!("password of {email} set; their sessions ended");
        }
        Command::Tokens(TokenCmd::Create { name, projects }) => {
            let (info, token) =
                admin::create_token(&store, CLI, &name, projects.as_deref()).await?;
            println!(
                "created read token {} {:?}; store it now, it is not shown again:",
                info.prefix, info.name
            );
            println!("{token}");
        }
        Command::Tokens(TokenCmd::List) => {
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
        Command::Tokens(TokenCmd::Revoke { prefix }) => {
            admin::revoke_token(&store, CLI, &prefix).await?;
            println!("revoked {prefix}");
        }
        Command::Demo { events, days, seed } => {
            let report = server::ingest::demo::generate(&store, events, days, seed).await?;
            println!(
                "demo: {} events stored over {} days in {} projects",
                report.accepted, days, report.projects
            );
        }
        Command::Import {
            file,
            project,
            batch,
        } => {
            let report =
                server::ingest::import::import_file(&store, &file, &project, batch).await?;
            println!(
                "imported {} events ({} duplicates) into {project:?}",
                report.accepted, report.duplicates
            );
        }
        // Handled above: the bench opens its own database.
        Command::Bench { .. } => {}
        Command::Verify => {
            let mut stored = store.all_rollups().await?;
            let mut raw = store.rollups_from_raw_events().await?;
            // Raw events before the retention mark are deleted; their roll-ups are kept.
            if let Some(mark) = store.raw_deleted_before().await? {
                stored.retain(|(k, _)| k.bucket * 1000 >= mark);
                raw.retain(|(k, _)| k.bucket * 1000 >= mark);
            }
            if stored != raw {
                return Err(format!(
                    "roll-ups differ from raw events ({} stored rows, {} recomputed)",
                    stored.len(),
                    raw.len()
                )
                .into());
            }
            if let Some(what) = store.derived_rollups_mismatch().await? {
                return Err(format!("roll-up levels differ: {what}").into());
            }
            println!(
                "ok: {} roll-up rows equal the raw events, and every level equals their sums",
                stored.len()
            );
        }
    }
    Ok(())
}

/// The actor the audit log names for command-line actions.
const CLI: &str = "cli";

/// A new password from `UA_PASSWORD`, or typed at a prompt (twice, not echoed).
fn read_password() -> Result<String, AnyError> {
    if let Ok(p) = std::env::var("UA_PASSWORD") {
        return Ok(p);
    }
    let first = rpassword::prompt_password("password: ")?;
    let again = rpassword::prompt_password("again: ")?;
    if first != again {
        return Err("the two passwords differ".into());
    }
    Ok(first)
}

fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn fmt_micros(m: i64) -> String {
    format!("{}.{:06}", m / 1_000_000, m % 1_000_000)
}

fn parse_from(s: &str) -> Result<i64, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("--from {s:?}: expected YYYY-MM-DD or an RFC 3339 date-time"))
}
