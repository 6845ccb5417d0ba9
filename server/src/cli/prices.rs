//! `prices`: the price list the ingest path prices events with.

use clap::Subcommand;

use shared::{parse_usd_micros, ModelPrice};

use crate::pricing::{micros, PriceBook};

use super::{fmt_ms, AnyError, CLI};
use crate::{admin, Store};

#[derive(Subcommand)]
pub enum RuleCmd {
    /// Name rules in the order they are tried.
    List,
    /// Model names matching PATTERN (`*` any run of characters, case ignored) are priced as
    /// the catalogue's MODEL, e.g. `azure/my-gpt4o-*` gpt-4o.
    Add {
        pattern: String,
        model: String,
    },
    Delete {
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum DiscountCmd {
    List,
    /// A discount off the catalogue's list price for one provider's models or one model.
    Add {
        #[arg(long, conflicts_with = "model", required_unless_present = "model")]
        provider: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// Percent off, e.g. 15 or 12.5.
        #[arg(long)]
        percent: String,
        /// `YYYY-MM-DD` (UTC); defaults to now.
        #[arg(long)]
        from: Option<String>,
    },
    Delete {
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum PriceCmd {
    /// Name rules: a model name as clients send it -> the catalogue model it is.
    #[command(subcommand)]
    Rules(RuleCmd),
    /// Discounts off the catalogue's list prices, by provider or model, from a date.
    #[command(subcommand)]
    Discounts(DiscountCmd),
    /// Put a catalogue file (the format `prices export` writes) in force instead of the one
    /// bundled in the binary, e.g. a newer release's, after checking every entry.
    Import {
        #[arg(required_unless_present = "bundled")]
        file: Option<std::path::PathBuf>,
        /// Go back to the catalogue bundled in the binary.
        #[arg(long, conflicts_with = "file")]
        bundled: bool,
    },
    /// Write the catalogue in force (to FILE, or standard output).
    Export { file: Option<std::path::PathBuf> },
    /// Price stored events again with today's prices, from a date: after a price arrived late
    /// or changed with a past effective date. Client-sent costs never change; periods whose
    /// raw events retention deleted keep their roll-ups. Shows what would change first.
    Reprice {
        /// `YYYY-MM-DD` (UTC) or RFC 3339: the first instant re-priced.
        #[arg(long, required_unless_present = "resume")]
        from: Option<String>,
        /// Only this model's events.
        #[arg(long)]
        model: Option<String>,
        /// Show what would change and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Resume the unfinished run (after an interruption).
        #[arg(long, conflicts_with_all = ["from", "model", "dry_run"])]
        resume: bool,
        /// Events per transaction.
        #[arg(long, default_value_t = crate::pricing::reprice::DEFAULT_BATCH)]
        batch: i64,
    },
    /// List the price table: the organisation's own prices (USD per million tokens), which
    /// win over the bundled catalogue.
    List,
    /// Which price a model name as clients send it gets, and why.
    Resolve {
        name: String,
        /// The event's provider (`openai`, `aws.bedrock` …), which narrows the match.
        #[arg(long)]
        provider: Option<String>,
    },
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

/// `prices list|resolve|set`.
pub async fn prices(store: &Store, cmd: PriceCmd) -> Result<(), AnyError> {
    match cmd {
        PriceCmd::Resolve { name, provider } => {
            let now = chrono::Utc::now().timestamp_millis();
            let book = PriceBook::load(store).await?;
            for line in book.explain(&name, provider.as_deref(), now) {
                println!("{line}");
            }
        }
        PriceCmd::Rules(cmd) => match cmd {
            RuleCmd::List => {
                println!("id\tpattern\tmodel");
                for r in store.price_rules().await? {
                    println!("{}\t{}\t{}", r.id, r.pattern, r.model);
                }
            }
            RuleCmd::Add { pattern, model } => {
                let id = admin::add_price_rule(store, CLI, &pattern, &model).await?;
                println!("rule {id}: {pattern:?} is priced as {model}");
            }
            RuleCmd::Delete { id } => {
                admin::delete_price_rule(store, CLI, id).await?;
                println!("rule {id} deleted");
            }
        },
        PriceCmd::Discounts(cmd) => match cmd {
            DiscountCmd::List => {
                println!("id\tscope\tname\tpercent\tfrom");
                for d in store.price_discounts().await? {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        d.id,
                        d.scope.as_str(),
                        d.name,
                        d.basis_points as f64 / 100.0,
                        fmt_ms(d.effective_from_ms)
                    );
                }
            }
            DiscountCmd::Add {
                provider,
                model,
                percent,
                from,
            } => {
                let (scope, name) = match (provider, model) {
                    (Some(p), _) => ("provider", p),
                    (None, Some(m)) => ("model", m),
                    (None, None) => return Err("--provider or --model is required".into()),
                };
                let from_ms = match from {
                    Some(f) => parse_from(&f)?,
                    None => chrono::Utc::now().timestamp_millis(),
                };
                let id = admin::add_discount(store, CLI, scope, &name, &percent, from_ms).await?;
                println!(
                    "discount {id}: {percent} % off {scope} {name} from {}",
                    fmt_ms(from_ms)
                );
            }
            DiscountCmd::Delete { id } => {
                admin::delete_discount(store, CLI, id).await?;
                println!("discount {id} deleted");
            }
        },
        PriceCmd::Import { file, bundled } => {
            let body = match (file, bundled) {
                (_, true) => None,
                (Some(f), false) => Some(
                    std::fs::read_to_string(&f)
                        .map_err(|e| format!("cannot read {}: {e}", f.display()))?,
                ),
                (None, false) => return Err("a FILE or --bundled is required".into()),
            };
            let what = admin::import_catalogue(store, CLI, body.as_deref()).await?;
            println!("price catalogue in force: {what}");
            println!(
                "stored events keep their costs; `prices reprice --from DATE` prices them again"
            );
        }
        PriceCmd::Export { file } => {
            let json = PriceBook::load(store).await?.catalogue().to_json();
            match file {
                Some(f) => std::fs::write(&f, json)
                    .map_err(|e| format!("cannot write {}: {e}", f.display()))?,
                None => print!("{json}"),
            }
        }
        PriceCmd::Reprice {
            from,
            model,
            dry_run,
            resume,
            batch,
        } => reprice_cmd(store, from, model, dry_run, resume, batch).await?,
        PriceCmd::List => {
            println!("model\tfrom\tinput\tcached_input\tcache_write\toutput  (USD per 1M tokens)");
            for p in store.list_prices().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    p.model,
                    fmt_ms(p.effective_from_ms),
                    micros(p.input),
                    micros(p.cached_input),
                    micros(p.cache_write),
                    micros(p.output)
                );
            }
        }
        PriceCmd::Set {
            model,
            input,
            output,
            cached_input,
            cache_write,
            from,
        } => {
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
            admin::set_price(store, CLI, &price).await?;
            println!(
                "price of {:?} set from {}",
                price.model,
                fmt_ms(price.effective_from_ms)
            );
        }
    }
    Ok(())
}

/// `prices reprice`: the preview, then the run with a progress bar (or the resumed run).
async fn reprice_cmd(
    store: &Store,
    from: Option<String>,
    model: Option<String>,
    dry_run: bool,
    resume: bool,
    batch: i64,
) -> Result<(), AnyError> {
    use crate::pricing::reprice;
    let run = if resume {
        reprice::unfinished(store)
            .await?
            .ok_or(reprice::RepriceError::NothingToResume)?
    } else {
        let from_ms = parse_from(from.as_deref().unwrap_or_default())?;
        let p = reprice::preview(store, from_ms, model.as_deref()).await?;
        if let Some(kept) = p.kept_from_ms {
            println!(
                "raw events before {} were deleted by retention: those periods keep their \
                 roll-ups and costs as they are",
                fmt_ms(kept)
            );
        }
        println!(
            "from {}: {} events looked at (client-sent costs excluded), {} change: \
             {} -> {}",
            fmt_ms(p.from_ms),
            p.events,
            p.changed,
            shared::format_usd(p.cost_before_nanos),
            shared::format_usd(p.cost_after_nanos)
        );
        if dry_run {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp_millis();
        reprice::start(store, CLI, from_ms, model.as_deref(), now).await?
    };
    let bar = indicatif::ProgressBar::new((run.up_to_id - run.after_id).max(0) as u64);
    let started = std::time::Instant::now();
    let first_id = run.after_id;
    let done = admin::run_reprice(store, run.id, batch, None, |r| {
        bar.set_position((r.after_id - first_id).max(0) as u64)
    })
    .await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "run {}: {} events looked at, {} re-priced ({} -> {}) in {secs:.1} s ({:.0} events/s)",
        done.id,
        done.events_seen,
        done.events_changed,
        shared::format_usd(done.cost_before_nanos),
        shared::format_usd(done.cost_after_nanos),
        done.events_seen as f64 / secs
    );
    Ok(())
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
