//! Query parameters: any query string of the REST API (`/api/v1/usage/...`,
//! `/api/usage?action=...`), or any JSON query a server function of the web UI receives, must
//! become a 400 naming the parameter or a range whose bounds the query layer can use.
//! Input: byte 0 picks the entry point (low bit: 0 query string, 1 JSON `UsageQuery`); the
//! rest is the query string or the JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use server::export::file_stem;
use server::query::resolve_range;
use server::web::read_api::usage_query_from_query_string;
use shared::UsageQuery;

/// 2026-01-01T00:00:00Z: the clock preset periods end at.
const NOW_MS: i64 = 1_767_225_600_000;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let query: UsageQuery = if head & 1 == 0 {
        // The server sees the raw query of a URI, which is text.
        let Ok(raw) = std::str::from_utf8(rest) else {
            return;
        };
        match usage_query_from_query_string(raw) {
            Ok(q) => q,
            Err(e) => {
                assert!(!e.body().problems.is_empty(), "an error names no parameter");
                return;
            }
        }
    } else {
        match serde_json::from_slice(rest) {
            Ok(q) => q,
            Err(_) => return,
        }
    };
    let Ok(r) = resolve_range(&query, NOW_MS) else {
        return;
    };
    let f = &r.filter;
    assert!(
        f.start_bucket < f.end_bucket,
        "empty or inverted range {f:?}"
    );
    // Raw exports and the error log read events by ms bounds.
    assert!(f.start_bucket.checked_mul(1000).is_some() && f.end_bucket.checked_mul(1000).is_some());
    // The export's file name formats the local dates of the bounds.
    let _ = file_stem(&r);
});
