//! The `usage-analytics` command line: `serve` (the default), the admin commands (one file
//! per group), demo data, import, verify and the benchmark.

mod access;
mod alerting;
pub mod bench;
mod dimensions;
mod prices;

use clap::{Parser, Subcommand};

use crate::{AppState, Config, Store};

#[derive(Parser)]
#[command(
    name = "usage-analytics",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("UA_BUILD_COMMIT"), ")"),
    about = "Self-hosted analytics for LLM API usage"
)]
pub struct Cli {
    /// Where the SQLite database lives when DATABASE_URL is not set (also UA_DATA_DIR;
    /// default `data` in the working directory): DIR/usage-analytics.db.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default). Address: LEPTOS_SITE_ADDR (127.0.0.1:3000).
    Serve,
    /// Manage projects.
    #[command(subcommand)]
    Projects(access::ProjectCmd),
    /// Manage ingest keys.
    #[command(subcommand)]
    Keys(access::KeyCmd),
    /// Manage model prices.
    #[command(subcommand)]
    Prices(prices::PriceCmd),
    /// End users' ids in stored events: erase one, or show the hash an id is stored as.
    #[command(subcommand)]
    EndUsers(dimensions::EndUserCmd),
    /// Metadata keys declared as dimensions (breakdowns by team, feature, customer …).
    #[command(subcommand)]
    Dimensions(dimensions::DimensionCmd),
    /// Manage budgets (spend limits with alert thresholds).
    #[command(subcommand)]
    Budgets(alerting::BudgetCmd),
    /// Metric alert rules (error rate, p95 latency, request volume).
    #[command(subcommand)]
    Alerts(alerting::AlertCmd),
    /// Webhooks that receive alerts.
    #[command(subcommand)]
    Webhooks(alerting::WebhookCmd),
    /// Manage users of the dashboard.
    #[command(subcommand)]
    Users(access::UserCmd),
    /// Manage read API tokens (Bearer tokens for scripts).
    #[command(subcommand)]
    Tokens(access::TokenCmd),
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
        #[arg(long, default_value_t = crate::ingest::import::DEFAULT_BATCH)]
        batch: usize,
    },
    /// Check that the roll-ups equal a recomputation from raw events.
    Verify,
    /// Write a consistent copy of the SQLite database to FILE while ingest goes on (SQLite's
    /// VACUUM INTO); for PostgreSQL use pg_dump.
    Backup { file: std::path::PathBuf },
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
        /// Events carry end users (100,000, Zipf-distributed) and three declared metadata
        /// keys (team, feature, customer), and breakdowns and dimension filters are timed.
        #[arg(long)]
        dimensions: bool,
    },
}

pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(cli: Cli) -> Result<(), AnyError> {
    let mut config = Config::from_env()?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(Command::Bench {
        events,
        runs,
        panels_only,
        ingest_only,
        no_baseline,
        dimensions,
    }) = &cli.command
    {
        let url = config
            .database_url
            .clone()
            .ok_or("bench: set DATABASE_URL to an empty database (sqlite://… or postgres://…)")?;
        let options = bench::BenchOptions {
            events: *events,
            runs: *runs,
            panels_only: *panels_only,
            ingest_only: *ingest_only,
            no_baseline: *no_baseline,
            dimensions: *dimensions,
        };
        print!("{}", bench::run(&url, options).await?);
        return Ok(());
    }
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Serve = command {
        // Listening before the database is open: a long migration answers /readyz with 503
        // "migrating" meanwhile.
        let leptos_options = crate::leptos_options();
        if !leptos_options.site_addr.ip().is_loopback() && config.allowed_hosts.is_none() {
            tracing::warn!(
                "serving on {} to any Host name: set UA_ALLOWED_HOSTS (e.g. usage.example.com) \
                 so that pages answer only to your names (DNS-rebinding defence)",
                leptos_options.site_addr
            );
        }
        let listener = tokio::net::TcpListener::bind(leptos_options.site_addr).await?;
        println!(
            "usage-analytics serving on http://{}",
            listener.local_addr()?
        );
        let opening = async {
            let store = Store::connect(Some(&config.store_url()?)).await?;
            tracing::info!("{} storage", store.backend_name());
            if config.hash_end_users {
                store.enable_end_user_hashing().await?;
                tracing::info!("end users' ids are stored as keyed hashes (UA_HASH_END_USERS)");
            }
            let state = AppState::new(store, config, leptos_options);
            let c = &state.config;
            let allow_private = c.webhook_allow_private;
            crate::jobs::spawn_all(
                &state.store,
                c.retention_days,
                allow_private,
                &state.stopping,
            );
            Ok::<_, AnyError>(state)
        };
        crate::serve_while_opening(listener, opening).await?;
        return Ok(());
    }
    let store = Store::connect(Some(&config.store_url()?)).await?;
    if config.hash_end_users {
        store.enable_end_user_hashing().await?;
    }
    match command {
        Command::Projects(cmd) => access::projects(&store, cmd).await?,
        Command::Keys(cmd) => access::keys(&store, cmd).await?,
        Command::Users(cmd) => access::users(&store, cmd).await?,
        Command::Tokens(cmd) => access::tokens(&store, cmd).await?,
        Command::Prices(cmd) => prices::prices(&store, cmd).await?,
        Command::Backup { file } => {
            store.backup_to(&file).await?;
            println!("backed up to {}", file.display());
        }
        Command::Dimensions(cmd) => dimensions::dimensions(&store, cmd).await?,
        Command::EndUsers(cmd) => dimensions::end_users(&store, cmd).await?,
        Command::Budgets(cmd) => alerting::budgets(&store, cmd).await?,
        Command::Alerts(cmd) => alerting::alerts(&store, cmd).await?,
        Command::Webhooks(cmd) => alerting::webhooks(&store, cmd).await?,
        // Handled above.
        Command::Serve => {}
        Command::Demo { events, days, seed } => {
            let report = crate::ingest::demo::generate(&store, events, days, seed).await?;
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
            let report = crate::ingest::import::import_file(&store, &file, &project, batch).await?;
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
pub(super) const CLI: &str = "cli";

/// A new password from `UA_PASSWORD`, or typed at a prompt (twice, not echoed).
pub(super) fn read_password() -> Result<String, AnyError> {
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

pub(super) fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}
