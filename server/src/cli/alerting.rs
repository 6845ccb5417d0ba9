//! `budgets`, `alerts` and `webhooks`.

use clap::Subcommand;

use super::{AnyError, CLI};
use crate::alerting::{budgets, rules};
use crate::{admin, Store};

#[derive(Subcommand)]
pub enum BudgetCmd {
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
        /// Only events of one dimension value count, e.g. team=search (a declared
        /// metadata key), user=u-1, key=ua_1a2b or provider=openai.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Change a budget's amount and thresholds; its current period is checked at once.
    Update {
        id: i64,
        #[arg(long)]
        usd: String,
        /// Alert thresholds in percent (default 50,80,100).
        #[arg(long, value_delimiter = ',')]
        thresholds: Option<Vec<i64>>,
    },
    /// Delete a budget and its recorded alerts.
    Delete { id: i64 },
    /// List budgets with this period's spend.
    List,
}

// Parsed once per command line: the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum AlertCmd {
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
        /// Only events of one dimension value count, e.g. team=search (a declared
        /// metadata key), user=u-1, key=ua_1a2b or provider=openai.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Change a rule's threshold (in its metric's unit: %, ms or a count).
    Update {
        id: i64,
        #[arg(long)]
        threshold: String,
    },
    /// List rules with their state.
    List,
    /// Evaluate every rule now (the server does it every minute).
    Check,
}

#[derive(Subcommand)]
pub enum WebhookCmd {
    /// Add a webhook; prints its signing secret (shown once).
    Create { url: String },
    /// List webhooks and the newest deliveries.
    List,
    /// Queue a test notification (the server sends it within a second).
    Test { id: String },
}

/// `budgets create|list`.
pub async fn budgets(store: &Store, cmd: BudgetCmd) -> Result<(), AnyError> {
    match cmd {
        BudgetCmd::Create {
            project,
            usd,
            period,
            tz,
            thresholds,
            scope,
        } => {
            let id = admin::create_budget(
                store,
                CLI,
                project.as_deref(),
                &usd,
                &period,
                &tz,
                thresholds.as_deref(),
                scope.as_deref().unwrap_or(""),
            )
            .await?;
            println!("created budget {id}");
        }
        BudgetCmd::Update {
            id,
            usd,
            thresholds,
        } => {
            let fired = admin::update_budget(store, CLI, id, &usd, thresholds.as_deref()).await?;
            println!("updated budget {id}; {fired} alerts recorded by its check");
        }
        BudgetCmd::Delete { id } => {
            admin::delete_budget(store, CLI, id).await?;
            println!("deleted budget {id}");
        }
        BudgetCmd::List => {
            let now = chrono::Utc::now().timestamp_millis();
            for s in budgets::statuses(store, store.list_budgets().await?, now).await? {
                println!(
                    "{}\t{}\t{} per {} ({})\tspent {} ({:.1} %)\tprojected {}",
                    s.id,
                    s.label(),
                    shared::format_usd(s.amount_nanos),
                    s.period,
                    s.tz,
                    shared::format_usd(s.spend_nanos),
                    s.percent,
                    shared::format_usd(s.projected_nanos)
                );
            }
        }
    }
    Ok(())
}

/// `alerts create|list|check`.
pub async fn alerts(store: &Store, cmd: AlertCmd) -> Result<(), AnyError> {
    match cmd {
        AlertCmd::Create {
            name,
            metric,
            above,
            below,
            minutes,
            project,
            model,
            min_requests,
            scope,
        } => {
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
                scope: scope.unwrap_or_default(),
            };
            let id = admin::create_alert_rule(store, CLI, &form).await?;
            println!("created alert rule {id}");
        }
        AlertCmd::Update { id, threshold } => {
            admin::update_alert_rule(store, CLI, id, &threshold).await?;
            println!("updated alert rule {id}");
        }
        AlertCmd::List => {
            for r in store.alert_rules().await? {
                let r = r.info;
                println!("{}\t{}\t{}\t{}", r.id, r.name, r.describe(), r.state);
            }
        }
        AlertCmd::Check => {
            let now = chrono::Utc::now().timestamp_millis();
            for (id, state) in rules::evaluate(store, now).await? {
                println!("rule {id}: {state}");
            }
        }
    }
    Ok(())
}

/// `webhooks create|list|test`.
pub async fn webhooks(store: &Store, cmd: WebhookCmd) -> Result<(), AnyError> {
    match cmd {
        WebhookCmd::Create { url } => {
            let (id, secret) = admin::create_webhook(store, CLI, &url).await?;
            println!("created webhook {id}; its signing secret (shown once):\n{secret}");
        }
        WebhookCmd::List => {
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
        WebhookCmd::Test { id } => {
            let id: i64 = id
                .parse()
                .map_err(|_| format!("{id:?}: expected the webhook's number"))?;
            admin::test_webhook(store, CLI, id).await?;
            println!("queued a test notification to webhook {id}");
        }
    }
    Ok(())
}
