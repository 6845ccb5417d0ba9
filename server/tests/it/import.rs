//! `import` reads NDJSON and CSV through the ingest path, on SQLite and PostgreSQL.

use crate::common;

use common::{fresh_store, Db};
use server::ingest::import::{import_file, ImportError};
use server::rollup::ALL_STATUSES;

async fn ndjson_and_csv_files_are_imported_in_batches_and_retries_dedupe(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(db, &dir).await;
    store.create_project("Imports").await.unwrap();

    let nd = dir.path().join("events.ndjson");
    let line = |i: usize| {
        format!(
            "{{\"id\":\"n{i}\",\"timestamp\":\"2025-01-0{}T10:00:00Z\",\"model\":\"m\",\"input_tokens\":{i},\"output_tokens\":1}}",
            1 + i % 9
        )
    };
    let body: Vec<String> = (0..25).map(line).collect();
    std::fs::write(&nd, body.join("\n\n")).unwrap();
    let r = import_file(&store, &nd, "Imports", 10).await.unwrap();
    assert_eq!((r.accepted, r.duplicates), (25, 0));
    let again = import_file(&store, &nd, "Imports", 7).await.unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 25));

    let csv = dir.path().join("events.csv");
    std::fs::write(
        &csv,
        "timestamp,model,input_tokens,cached_input_tokens,output_tokens,status,error_type,error_message,latency_ms\n\
         2025-01-02T00:00:00Z,m,100,40,5,success,,,120\n\
         2025-01-02T00:01:00Z,m,100,,5,error,timeout,\"took too long, gave up\",30000\n",
    )
    .unwrap();
    let r = import_file(&store, &csv, "Imports", 100).await.unwrap();
    assert_eq!(r.accepted, 2);
    let stored = store.all_rollups().await.unwrap();
    assert_eq!(stored, store.rollups_from_raw_events().await.unwrap());
    let errors: i64 = stored
        .iter()
        .filter(|(k, _)| k.error_type == "timeout")
        .map(|(_, d)| d.requests)
        .sum();
    assert_eq!(errors, 1);
    let requests: i64 = stored
        .iter()
        .filter(|(k, _)| k.error_type == ALL_STATUSES)
        .map(|(_, d)| d.requests)
        .sum();
    assert_eq!(requests, 27);
}

async fn an_invalid_line_stops_the_import_and_is_named(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(db, &dir).await;
    store.create_project("Imports").await.unwrap();
    let nd = dir.path().join("bad.ndjson");
    std::fs::write(
        &nd,
        "{\"timestamp\":\"2025-01-01T00:00:00Z\",\"model\":\"m\",\"input_tokens\":1,\"output_tokens\":1}\n\
         \n\
         {\"timestamp\":\"2025-01-01T00:00:00Z\",\"model\":\"m\",\"input_tokens\":1}\n",
    )
    .unwrap();
    match import_file(&store, &nd, "Imports", 100).await {
        Err(ImportError::Invalid { line, reason }) => {
            assert_eq!(line, 3);
            assert!(reason.contains("output_tokens"), "{reason}");
        }
        other => panic!("expected an invalid-line error, got {other:?}"),
    }
    assert!(
        store.all_rollups().await.unwrap().is_empty(),
        "the failing batch stored nothing"
    );
    assert!(import_file(&store, &nd, "Nope", 100).await.is_err());
}

/// Batches are stored two at a time while the file is read on, yet an invalid record still
/// stops the import exactly at its batch: every batch before it is stored, none after.
async fn batches_before_an_invalid_one_are_stored_and_none_after(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(db, &dir).await;
    store.create_project("Imports").await.unwrap();
    let nd = dir.path().join("many.ndjson");
    let mut lines: Vec<String> = (0..2_000)
        .map(|i| {
            format!(
                "{{\"id\":\"b{i}\",\"timestamp\":\"2025-01-01T10:00:00Z\",\"model\":\"m\",\"input_tokens\":1,\"output_tokens\":1}}"
            )
        })
        .collect();
    // Line 1,234 is in the 13th batch of 100 (lines 1,201-1,300).
    lines[1_233] = "{\"timestamp\":\"2025-01-01T10:00:00Z\",\"model\":\"m\"}".into();
    std::fs::write(&nd, lines.join("\n")).unwrap();
    match import_file(&store, &nd, "Imports", 100).await {
        Err(ImportError::Invalid { line, .. }) => assert_eq!(line, 1_234),
        other => panic!("expected an invalid-line error, got {other:?}"),
    }
    let requests: i64 = (store.all_rollups().await.unwrap().iter())
        .filter(|(k, _)| k.error_type == ALL_STATUSES)
        .map(|(_, d)| d.requests)
        .sum();
    assert_eq!(
        requests, 1_200,
        "the twelve batches before the invalid one, no more"
    );
}

on_both_backends!(
    ndjson_and_csv_files_are_imported_in_batches_and_retries_dedupe,
    an_invalid_line_stops_the_import_and_is_named,
    batches_before_an_invalid_one_are_stored_and_none_after,
);
