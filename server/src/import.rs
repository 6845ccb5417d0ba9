//! `usage-analytics import FILE`: NDJSON or CSV files of events, in batches, with a progress
//! bar, through the same validation and storage path as HTTP ingest.

use std::io::{BufRead, BufReader};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use shared::IngestResponse;

use crate::ingest::validate_batch;
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
const NUMERIC: [&str; 7] = [
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
];

/// Imports `path` into `project` in batches of `batch` events.
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
    let reader = bar.wrap_read(file);
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut total = IngestResponse {
        accepted: 0,
        duplicates: 0,
    };
    let mut pending: Vec<Value> = Vec::with_capacity(batch);
    // Line number of each record in `pending`, for error messages.
    let mut lines: Vec<usize> = Vec::with_capacity(batch);
    let mut records: Box<dyn Iterator<Item = Result<(usize, Value), ImportError>>> = if is_csv {
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
            Ok((i + 2, Value::Object(obj)))
        }))
    } else {
        let lines = BufReader::new(reader).lines().enumerate();
        Box::new(lines.filter_map(move |(i, line)| match line {
            Err(e) => Some(Err(ImportError::Io(shown.clone(), e))),
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(serde_json::from_str(&l).map(|v| (i + 1, v)).map_err(|e| {
                ImportError::Invalid {
                    line: i + 1,
                    reason: format!("not valid JSON: {e}"),
                }
            })),
        }))
    };
    loop {
        let next = records.next().transpose()?;
        let done = next.is_none();
        if let Some((line, value)) = next {
            lines.push(line);
            pending.push(value);
            if pending.len() < batch.max(1) {
                continue;
            }
        }
        if pending.is_empty() {
            break;
        }
        let now = chrono::Utc::now().timestamp_millis();
        let events = validate_batch(&pending, now).map_err(|problems| {
            let p = &problems[0];
            ImportError::Invalid {
                line: lines[p.index.unwrap_or(0)],
                reason: format!(
                    "{} {} (nothing from this batch was stored)",
                    p.field, p.reason
                ),
            }
        })?;
        let r = store.ingest(project_id, &events).await?;
        crate::budgets::after_ingest(store, project_id, &events).await?;
        total.accepted += r.accepted;
        total.duplicates += r.duplicates;
        pending.clear();
        lines.clear();
        if done {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(total)
}
