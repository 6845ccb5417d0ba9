//! One CSV table of the dashboard.

use super::*;

/// One CSV table of the dashboard for a query.
pub async fn csv_table(
    store: &Store,
    q: &UsageQuery,
    now_ms: i64,
    table: &str,
) -> Result<(String, Vec<u8>), ExportError> {
    if !Panel::all_tables().any(|t| t == table) {
        return Err(ExportError::UnknownTable(table.to_string()));
    }
    let r = query::resolve(store, q, now_ms).await?;
    let d = query::dashboard_of(store, &r, error_log_page::EXPORT).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    match table {
        "summary" => {
            let s = &d.summary;
            w.write_record(["metric", "value"])?;
            for (k, v) in [
                ("total_requests", s.total_requests.to_string()),
                ("total_cost_usd", usd_decimal(s.total_cost_nanos)),
                ("input_tokens", s.input_tokens.to_string()),
                ("output_tokens", s.output_tokens.to_string()),
                ("cached_input_tokens", s.cached_input_tokens.to_string()),
                ("cache_write_tokens", s.cache_write_tokens.to_string()),
                ("total_tokens", s.total_tokens.to_string()),
                ("failed_requests", s.error_requests.to_string()),
                ("unpriced_requests", s.unpriced_requests.to_string()),
                ("fallback_requests", s.fallback_requests.to_string()),
                ("average_response_time_ms", opt(s.average_response_time_ms)),
                ("p50_ms", opt(s.p50_ms)),
                ("p95_ms", opt(s.p95_ms)),
                ("p99_ms", opt(s.p99_ms)),
                ("success_rate_percent", opt(s.success_rate)),
            ] {
                w.write_record([k, v.as_str()])?;
            }
        }
        "daily" => {
            w.write_record([
                "date",
                "requests",
                "cost_usd",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "average_response_time_ms",
            ])?;
            for x in &d.daily {
                w.write_record([
                    x.date.clone(),
                    x.requests.to_string(),
                    usd_decimal(x.cost_nanos),
                    x.input_tokens.to_string(),
                    x.output_tokens.to_string(),
                    x.cached_input_tokens.to_string(),
                    opt(x.average_response_time_ms),
                ])?;
            }
        }
        "models" | "projects" => {
            // Models carry their provider and price source beside the name, and their unpriced
            // and fallback-priced requests after the stats.
            let models = table == "models";
            let rows: Vec<(Vec<String>, &shared::BreakdownStats, Vec<i64>)> = if models {
                (d.models.iter())
                    .map(|m| {
                        let names = vec![
                            neutralise(&m.model),
                            neutralise(m.provider.as_deref().unwrap_or("")),
                            m.price_source.as_str().to_string(),
                        ];
                        let counts = vec![m.unpriced_requests, m.fallback_requests];
                        (names, &m.stats, counts)
                    })
                    .collect()
            } else {
                (d.projects.iter())
                    .map(|p| (vec![neutralise(&p.project)], &p.stats, vec![]))
                    .collect()
            };
            let (first, last): (&[&str], &[&str]) = if models {
                (
                    &["model", "provider", "price_source"],
                    &["unpriced_requests", "fallback_requests"],
                )
            } else {
                (&["project"], &[])
            };
            w.write_record(
                (first.iter().copied())
                    .chain([
                        "requests",
                        "request_share_percent",
                        "cost_usd",
                        "cost_share_percent",
                        "input_tokens",
                        "output_tokens",
                        "cached_input_tokens",
                        "average_response_time_ms",
                        "error_rate_percent",
                    ])
                    .chain(last.iter().copied()),
            )?;
            for (names, s, counts) in rows {
                w.write_record(
                    names
                        .into_iter()
                        .chain([
                            s.requests.to_string(),
                            format!("{:.3}", s.request_share),
                            usd_decimal(s.cost_nanos),
                            format!("{:.3}", s.cost_share),
                            s.input_tokens.to_string(),
                            s.output_tokens.to_string(),
                            s.cached_input_tokens.to_string(),
                            opt(s.average_response_time_ms),
                            format!("{:.3}", s.error_rate),
                        ])
                        .chain(counts.iter().map(|n| n.to_string())),
                )?;
            }
        }
        "hourly" => {
            w.write_record(["hour", "requests", "cost_usd"])?;
            for h in &d.hourly {
                w.write_record([
                    h.hour.to_string(),
                    h.requests.to_string(),
                    usd_decimal(h.cost_nanos),
                ])?;
            }
        }
        "errors" => {
            w.write_record(["error_type", "count", "share_percent", "cost_usd"])?;
            for t in &d.error_types {
                w.write_record([
                    neutralise(&t.error_type),
                    t.count.to_string(),
                    format!("{:.3}", t.share),
                    usd_decimal(t.cost_nanos),
                ])?;
            }
        }
        _ => {
            w.write_record(["time", "project", "model", "error_type", "message"])?;
            for e in &d.errors.items {
                w.write_record([
                    e.local_time.clone(),
                    neutralise(&e.project),
                    neutralise(&e.model),
                    neutralise(&e.error_type),
                    neutralise(e.message.as_deref().unwrap_or("")),
                ])?;
            }
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ExportError::Csv(e.into_error().into()))?;
    Ok((format!("{}_{table}.csv", file_stem(&r)), bytes))
}
