//! `prices`: the price list the ingest path prices events with.

use clap::Subcommand;

use shared::{parse_usd_micros, ModelPrice};

use crate::pricing::catalogue::{Catalogue, Match};
use crate::pricing::{list_charge, PriceBook};

use super::{fmt_ms, AnyError, CLI};
use crate::{admin, Store};

#[derive(Subcommand)]
pub enum PriceCmd {
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
            let book = PriceBook::new(store.list_prices().await?);
            if let Some(p) = book.price_at(&name, now) {
                println!(
                    "{name}: the price table, from {}",
                    fmt_ms(p.effective_from_ms)
                );
                print_rates(&p.clone());
                return Ok(());
            }
            let catalogue = Catalogue::bundled();
            match catalogue.resolve(&name, provider.as_deref()) {
                None => println!(
                    "{name}: no price (stored as unpriced): not in the price table, and the \
                     catalogue ({} models, taken {}) has no such model or family",
                    catalogue.len(),
                    catalogue.taken
                ),
                Some((entry, found)) => {
                    let how = match found {
                        Match::Exact => "the catalogue's list price of".to_string(),
                        Match::Fallback => {
                            format!("a fallback: {name} is not listed, so its family's price, of")
                        }
                    };
                    println!(
                        "{name}: {how} {} ({}), taken {}",
                        entry.model, entry.provider, catalogue.taken
                    );
                    let charge = list_charge(entry, 0, shared::ServiceTier::Default);
                    print_rates(&charge.as_price(&entry.model));
                    if entry.cache_write_1h.is_some() {
                        println!("1-hour cache write {}", fmt_micros(charge.cache_write_1h));
                    }
                    for (tier, rates) in [
                        ("batch", &entry.batch),
                        ("flex", &entry.flex),
                        ("priority", &entry.priority),
                    ] {
                        if let Some(r) = rates {
                            println!(
                                "{tier} tier: input {} output {}",
                                fmt_micros(r.input),
                                fmt_micros(r.output)
                            );
                        }
                    }
                    if let Some(lc) = &entry.long_context {
                        println!(
                            "above {} input tokens, the whole request: input {} output {}",
                            lc.above_input_tokens,
                            fmt_micros(lc.rates.input),
                            fmt_micros(lc.rates.output)
                        );
                    }
                }
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
                    fmt_micros(p.input),
                    fmt_micros(p.cached_input),
                    fmt_micros(p.cache_write),
                    fmt_micros(p.output)
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

/// A price's rates, USD per million tokens.
fn print_rates(p: &ModelPrice) {
    println!(
        "input {}  cached input {}  cache write {}  output {}  (USD per 1M tokens)",
        fmt_micros(p.input),
        fmt_micros(p.cached_input),
        fmt_micros(p.cache_write),
        fmt_micros(p.output)
    );
}
