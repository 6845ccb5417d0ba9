//! `usage-analytics import FILE`: NDJSON or CSV files of events, in batches, with a progress
//! bar, through the same validation and storage path as HTTP ingest.

use std::io::{BufRead, BufReader};
use std::path::Path;

use futures::StreamExt;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use shared::{IngestResponse, UsageEvent};

use super::validate_batch;
use crate::store::Store;

/// Why an import stopped. Batches before the failing one stay stored (each is atomic).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}")]
    Csv(#[from] csv::Error),
    #[error("line {line}: {reason}")]
    Invalid { line: usize, reason: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Columns of a CSV file that hold numbers; everything else is text. Empty cells are absent.
const NUMERIC: [&str; 8] = [
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
];

/// Batches stored at once. Reading and validating run on a thread of their own, and two
/// batches in the store let one be priced and rolled up while the other is written: the
/// same overlap HTTP ingest gets from concurrent clients. One batch at a time, reading,
/// validating and storing took turns (2026-12-04: import 17-44k events/s against HTTP's
/// 43-86k).
const IN_FLIGHT: usize = 2;

/// Events per batch unless told otherwise (`import --batch`): one transaction each.
pub const DEFAULT_BATCH: usize = 5_000;

/// A validated batch, or why reading stopped.
type Read = Result<Vec<UsageEvent>, ImportError>;

/// Imports `path` into `project` in batches of `batch` events. Stops at the first invalid
/// record: the batches before its batch are stored, its batch and the rest are not. Each
/// batch is stored atomically; when storing one fails, the one stored beside it may have
/// landed too (a re-run adds only what is missing: stored events are duplicates).
pub async fn import_file(
    store: &Store,
    path: &Path,
    project: &str,
    batch: usize,
) -> Result<IngestResponse, ImportError> {
    let project_id = store.project_by_name(project).await?.id;
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| ImportError::Io(shown.clone(), e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("import {bar:40} {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Read>(IN_FLIGHT * 2);
    let reader = {
        let bar = bar.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = read_batches(bar.wrap_read(file), shown, is_csv, batch.max(1), &tx) {
                let _ = tx.blocking_send(Err(e));
            }
        })
    };
    let mut total = IngestResponse {
        accepted: 0,
        duplicates: 0,
    };
    let mut storing = futures::stream::FuturesOrdered::new();
    let mut failed = None;
    loop {
        // Keep IN_FLIGHT batches in the store while the reader has more.
        let next = if failed.is_none() && storing.len() < IN_FLIGHT {
            tokio::select! {
                read = rx.recv() => Some(read),
                Some(stored) = storing.next(), if !storing.is_empty() => {
                    count(&mut total, &mut failed, stored);
                    continue;
                }
            }
        } else {
            None
        };
        match next {
            Some(Some(Ok(events))) => storing.push_back(store_batch(store, project_id, events)),
            Some(Some(Err(e))) => failed = failed.or(Some(e)),
            // The reader is done, or we stopped: let the batches in the store finish.
            Some(None) | None => match storing.next().await {
                Some(stored) => count(&mut total, &mut failed, stored),
                None => break,
            },
        }
    }
    drop(rx);
    let _ = reader.await;
    bar.finish_and_clear();
    match failed {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Adds a stored batch's counts to `total`, or keeps the first failure.
fn count(
    total: &mut IngestResponse,
    failed: &mut Option<ImportError>,
    stored: Result<IngestResponse, ImportError>,
) {
    match stored {
        Ok(r) => {
            total.accepted += r.accepted;
            total.duplicates += r.duplicates;
        }
        Err(e) => *failed = failed.take().or(Some(e)),
    }
}

/// Stores one batch through the path every way in takes.
async fn store_batch(
    store: &Store,
    project_id: i64,
    events: Vec<UsageEvent>,
) -> Result<IngestResponse, ImportError> {
    Ok(super::submit(store, project_id, &events).await?)
}

/// Threads that parse and validate each batch: parsing JSON is most of an import's work, and
/// one thread alone could not keep the store busy.
const VALIDATORS: usize = 2;

/// A record as read: an NDJSON line still to parse, or a CSV row already made an object.
enum Record {
    Line(String),
    Object(Value),
}

/// Reads records from `reader` (CSV or NDJSON), validates them in batches of `batch` and
/// sends each batch to `tx`. Stops at the first invalid record, or when nobody listens.
fn read_batches(
    reader: impl std::io::Read,
    shown: String,
    is_csv: bool,
    batch: usize,
    tx: &tokio::sync::mpsc::Sender<Read>,
) -> Result<(), ImportError> {
    let mut records: Box<dyn Iterator<Item = Result<(usize, Record), ImportError>>> = if is_csv {
        let mut rdr = csv::Reader::from_reader(reader);
        let headers = rdr.headers()?.clone();
        Box::new(rdr.into_records().enumerate().map(move |(i, rec)| {
            let rec = rec?;
            let mut obj = Map::new();
            for (name, cell) in headers.iter().zip(rec.iter()) {
                if cell.is_empty() {
                    continue;
                }
                let value = if NUMERIC.contains(&name) {
                    serde_json::from_str::<Value>(cell).unwrap_or(Value::String(cell.into()))
                } else if name == "metadata" {
                    serde_json::from_str(cell).unwrap_or(Value::String(cell.into()))
                } else {
                    Value::String(cell.into())
                };
                obj.insert(name.to_string(), value);
            }
            Ok((i + 2, Record::Object(Value::Object(obj))))
        }))
    } else {
        let lines = BufReader::new(reader).lines().enumerate();
        Box::new(lines.filter_map(move |(i, line)| match line {
            Err(e) => Some(Err(ImportError::Io(shown.clone(), e))),
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(Ok((i + 1, Record::Line(l)))),
        }))
    };
    let mut pending: Vec<(usize, Record)> = Vec::with_capacity(batch);
    loop {
        let next = records.next().transpose()?;
        let done = next.is_none();
        if let Some(record) = next {
            pending.push(record);
            if pending.len() < batch {
                continue;
            }
        }
        if !pending.is_empty() {
            let events = validate_records(std::mem::take(&mut pending))?;
            if tx.blocking_send(Ok(events)).is_err() {
                return Ok(());
            }
        }
        if done {
            return Ok(());
        }
    }
}

/// Parses and validates one batch in [`VALIDATORS`] threads; the first problem in file order
/// is the one reported.
fn validate_records(records: Vec<(usize, Record)>) -> Result<Vec<UsageEvent>, ImportError> {
    let now = chrono::Utc::now().timestamp_millis();
    let per = records.len().div_ceil(VALIDATORS).max(1);
    let mut chunks: Vec<Vec<(usize, Record)>> = Vec::with_capacity(VALIDATORS);
    let mut rest = records;
    while rest.len() > per {
        let tail = rest.split_off(per);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    let results: Vec<Result<Vec<UsageEvent>, ImportError>> = std::thread::scope(|s| {
        let running: Vec<_> = (chunks.into_iter())
            .map(|chunk| s.spawn(move || validate_chunk(chunk, now)))
            .collect();
        (running.into_iter())
            .map(|t| {
                t.join().unwrap_or_else(|_| {
                    Err(ImportError::Io(
                        "validation".into(),
                        std::io::Error::other("a validation thread panicked"),
                    ))
                })
            })
            .collect()
    });
    let mut events = Vec::new();
    for r in results {
        events.extend(r?);
    }
    Ok(events)
}

/// Parses and validates consecutive records; a problem names the record's line.
fn validate_chunk(chunk: Vec<(usize, Record)>, now: i64) -> Result<Vec<UsageEvent>, ImportError> {
    let mut lines = Vec::with_capacity(chunk.len());
    let mut values = Vec::with_capacity(chunk.len());
    for (line, record) in chunk {
        values.push(match record {
            Record::Object(v) => v,
            Record::Line(l) => serde_json::from_str(&l).map_err(|e| ImportError::Invalid {
                line,
                reason: format!("not valid JSON: {e}"),
            })?,
        });
        lines.push(line);
    }
    validate_batch(&values, now).map_err(|problems| {
        let p = &problems[0];
        ImportError::Invalid {
            line: lines[p.index.unwrap_or(0)],
            reason: format!(
                "{} {} (nothing from this batch was stored)",
                p.field, p.reason
            ),
        }
    })
}
