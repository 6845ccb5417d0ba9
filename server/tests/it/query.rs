//! Every panel's numbers equal a straightforward recomputation from the events sent, in UTC
//! and in zones with DST and half- and quarter-hour offsets, on SQLite and PostgreSQL.

use crate::common;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;
use common::{spawn_app, Db};
use rand::{Rng, SeedableRng};
use serde_json::json;
use server::rollup::HIST_RELATIVE_ERROR;
use shared::{DateRange, EventStatus, UsageQuery};

/// One event as the test sent it.
#[derive(Clone, Debug)]
struct Sent {
    ts_ms: i64,
    project: &'static str,
    model: &'static str,
    input: i64,
    output: i64,
    cached: i64,
    cost_nanos: i64,
    latency: Option<i64>,
    error: Option<&'static str>,
}

const PROJECTS: [&str; 3] = ["Alpha", "Beta", "Gamma"];
const MODELS: [&str; 3] = ["Scalix Standard", "Scalix Advanced", "Scalix Coder"];

fn workload(seed: u64, n: usize) -> Vec<Sent> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // 2025-02-28 .. 2025-03-22 UTC: New York switches to DST on 2025-03-09.
    let start = 1_740_700_800_000i64;
    (0..n)
        .map(|_| {
            let input = rng.gen_range(1..5_000);
            Sent {
                ts_ms: start + rng.gen_range(0..22 * 86_400_000i64),
                project: PROJECTS[rng.gen_range(0..3)],
                model: MODELS[rng.gen_range(0..3)],
                input,
                output: rng.gen_range(0..2_000),
                cached: rng.gen_range(0..=input),
                cost_nanos: rng.gen_range(0..50_000_000),
                latency: rng.gen_bool(0.9).then(|| rng.gen_range(20..60_000)),
                error: rng.gen_bool(0.1).then(|| {
                    ["timeout", "rate_limit_exceeded", "server_error"][rng.gen_range(0..3)]
                }),
            }
        })
        .collect()
}

fn local_date(tz: Tz, ts_ms: i64) -> NaiveDate {
    tz.timestamp_millis_opt(ts_ms).unwrap().date_naive()
}

fn exact_percentile(sorted: &[i64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// Requests, cost, tokens in / out / cached and the mean latency of some events, as the daily
/// history and the breakdowns show them.
fn totals_of(events: &[&Sent]) -> (i64, i64, i64, i64, i64, Option<f64>) {
    let sum = |f: fn(&Sent) -> i64| events.iter().map(|e| f(e)).sum::<i64>();
    let latencies: Vec<i64> = events.iter().filter_map(|e| e.latency).collect();
    let mean = (!latencies.is_empty())
        .then(|| latencies.iter().sum::<i64>() as f64 / latencies.len() as f64);
    (
        events.len() as i64,
        sum(|e| e.cost_nanos),
        sum(|e| e.input),
        sum(|e| e.output),
        sum(|e| e.cached),
        mean,
    )
}

async fn every_panel_equals_a_recomputation_from_raw_events(db: Db) {
    let app = spawn_app(db).await;
    let sent = workload(42, 3_000);
    for project in PROJECTS {
        let key = app.project_with_key(project).await;
        let batch: Vec<_> = sent
            .iter()
            .filter(|e| e.project == project)
            .map(|e| {
                let mut v = json!({
                    "timestamp": chrono::DateTime::from_timestamp_millis(e.ts_ms).unwrap().to_rfc3339(),
                    "model": e.model,
                    "input_tokens": e.input,
                    "output_tokens": e.output,
                    "cached_input_tokens": e.cached,
                    "cost_usd": e.cost_nanos as f64 / 1e9,
                    "latency_ms": e.latency,
                });
                if let Some(t) = e.error {
                    v["status"] = json!("error");
                    v["error_type"] = json!(t);
                    v["error_message"] = json!(format!("{t} happened"));
                }
                v
            })
            .collect();
        assert_eq!(app.post_events(&key, &json!(batch)).await.status(), 200);
    }
    let now = 1_743_465_600_000; // 2025-04-01, after all events

    for tz_name in ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"] {
        let tz: Tz = tz_name.parse().unwrap();
        let (first, last) = (
            NaiveDate::from_ymd_opt(2025, 3, 2).unwrap(),
            NaiveDate::from_ymd_opt(2025, 3, 18).unwrap(),
        );
        // Each filter reads other roll-up series: "any project, any model", one or more
        // projects with any model, models with any project, project x model pairs.
        for (models, projects, status) in [
            (vec![], vec![], None),
            (vec!["Scalix Coder"], vec!["Beta", "Gamma"], None),
            (vec![], vec!["Beta"], None),
            (vec!["Scalix Coder", "Scalix Standard"], vec![], None),
            (vec![], vec![], Some(EventStatus::Error)),
            (vec!["Scalix Advanced"], vec![], Some(EventStatus::Success)),
        ] {
            let q = UsageQuery {
                range: DateRange::Custom {
                    start: first.to_string(),
                    end: last.to_string(),
                },
                tz: tz_name.into(),
                models: models.iter().map(|m| m.to_string()).collect(),
                projects: projects.iter().map(|p| p.to_string()).collect(),
                status,
                dims: Vec::new(),
            };
            let matching: Vec<&Sent> = sent
                .iter()
                .filter(|e| match status {
                    None => true,
                    Some(EventStatus::Error) => e.error.is_some(),
                    Some(EventStatus::Success) => e.error.is_none(),
                })
                .filter(|e| models.is_empty() || models.contains(&e.model))
                .filter(|e| projects.is_empty() || projects.contains(&e.project))
                .collect();
            let inside: Vec<&Sent> = matching
                .iter()
                .copied()
                .filter(|e| (first..=last).contains(&local_date(tz, e.ts_ms)))
                .collect();
            // The previous period: as long as the range, ending at its first local midnight.
            let midnight = |d: NaiveDate| {
                let t = tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap());
                t.earliest().unwrap().timestamp_millis()
            };
            let (from, until) = (midnight(first), midnight(last.succ_opt().unwrap()));
            let before: Vec<&Sent> = matching
                .iter()
                .copied()
                .filter(|e| (2 * from - until..from).contains(&e.ts_ms))
                .collect();
            let ctx = format!("{tz_name} models={models:?} projects={projects:?} {status:?}");
            let d = server::query::dashboard(&app.store, &q, now, 20)
                .await
                .unwrap();

            // Summary, and the previous period of its cards.
            let s = &d.summary;
            let (requests, cost, input, output, _, latency) = totals_of(&before);
            let p = s.previous.as_ref().expect("the previous period has events");
            assert_eq!(
                (p.total_requests, p.total_cost_nanos, p.total_tokens),
                (requests, cost, input + output),
                "{ctx}"
            );
            assert_eq!(p.average_response_time_ms, latency, "{ctx}");
            let ok = before.iter().filter(|e| e.error.is_none()).count() as f64;
            let rate = p.success_rate.unwrap();
            assert!((rate - ok * 100.0 / requests as f64).abs() < 1e-9, "{ctx}");
            assert_eq!(s.total_requests, inside.len() as i64, "{ctx}");
            assert_eq!(
                s.input_tokens,
                inside.iter().map(|e| e.input).sum::<i64>(),
                "{ctx}"
            );
            assert_eq!(
                s.output_tokens,
                inside.iter().map(|e| e.output).sum::<i64>(),
                "{ctx}"
            );
            assert_eq!(
                s.cached_input_tokens,
                inside.iter().map(|e| e.cached).sum::<i64>(),
                "{ctx}"
            );
            assert_eq!(
                s.total_cost_nanos,
                inside.iter().map(|e| e.cost_nanos).sum::<i64>(),
                "{ctx}"
            );
            let errors = inside.iter().filter(|e| e.error.is_some()).count() as i64;
            assert_eq!(s.error_requests, errors, "{ctx}");
            let mut lat: Vec<i64> = inside.iter().filter_map(|e| e.latency).collect();
            lat.sort();
            let avg = lat.iter().sum::<i64>() as f64 / lat.len() as f64;
            assert!(
                (s.average_response_time_ms.unwrap() - avg).abs() < 1e-6,
                "{ctx}"
            );
            for (p, got) in [(0.5, s.p50_ms), (0.95, s.p95_ms), (0.99, s.p99_ms)] {
                let exact = exact_percentile(&lat, p);
                let err = (got.unwrap() - exact).abs() / exact;
                assert!(err <= HIST_RELATIVE_ERROR, "{ctx} p{p}: {got:?} vs {exact}");
            }

            // Daily: every local day present, each equal to the events of that local day.
            // Requests, cost, tokens in / out / cached, and mean latency (sum, count) per day.
            type Day = (i64, i64, i64, i64, i64, Option<f64>);
            let mut by_day: BTreeMap<NaiveDate, Vec<&Sent>> = BTreeMap::new();
            let mut day = first;
            while day <= last {
                by_day.insert(day, Vec::new());
                day = day.succ_opt().unwrap();
            }
            for e in &inside {
                by_day.get_mut(&local_date(tz, e.ts_ms)).unwrap().push(e);
            }
            let got: Vec<(String, Day)> = d
                .daily
                .iter()
                .map(|x| {
                    let day = (
                        x.requests,
                        x.cost_nanos,
                        x.input_tokens,
                        x.output_tokens,
                        x.cached_input_tokens,
                        x.average_response_time_ms,
                    );
                    (x.date.clone(), day)
                })
                .collect();
            let want: Vec<(String, Day)> = by_day
                .into_iter()
                .map(|(k, of)| (k.to_string(), totals_of(&of)))
                .collect();
            assert_eq!(got, want, "{ctx}");

            // Models and projects.
            for m in &d.models {
                let of: Vec<&Sent> = inside
                    .iter()
                    .copied()
                    .filter(|e| e.model == m.model)
                    .collect();
                assert_eq!(m.stats.requests, of.len() as i64, "{ctx} {}", m.model);
                assert_eq!(
                    m.stats.cost_nanos,
                    of.iter().map(|e| e.cost_nanos).sum::<i64>(),
                    "{ctx}"
                );
                let (_, _, input, output, cached, latency) = totals_of(&of);
                let st = &m.stats;
                assert_eq!(
                    (st.input_tokens, st.output_tokens, st.cached_input_tokens),
                    (input, output, cached),
                    "{ctx} {}",
                    m.model
                );
                assert_eq!(st.average_response_time_ms, latency, "{ctx} {}", m.model);
                let errs = of.iter().filter(|e| e.error.is_some()).count() as f64;
                assert!(
                    (m.stats.error_rate - errs * 100.0 / of.len() as f64).abs() < 1e-9,
                    "{ctx}"
                );
            }
            let share: f64 = d.models.iter().map(|m| m.stats.request_share).sum();
            assert!((share - 100.0).abs() < 1e-9, "{ctx}");
            assert_eq!(
                d.projects.iter().map(|p| p.stats.requests).sum::<i64>(),
                inside.len() as i64
            );
            for p in &d.projects {
                let of = inside.iter().filter(|e| e.project == p.project).count() as i64;
                assert_eq!(p.stats.requests, of, "{ctx} {}", p.project);
            }

            // Hourly pattern and heat map in local time.
            let mut hours = [0i64; 24];
            let mut hour_costs = [0i64; 24];
            let mut cells = [0i64; 168];
            for e in &inside {
                let t = tz.timestamp_millis_opt(e.ts_ms).unwrap();
                hours[t.hour() as usize] += 1;
                hour_costs[t.hour() as usize] += e.cost_nanos;
                cells[t.weekday().num_days_from_monday() as usize * 24 + t.hour() as usize] += 1;
            }
            let got: Vec<i64> = d.hourly.iter().map(|h| h.requests).collect();
            assert_eq!(got, hours.to_vec(), "{ctx}");
            let got: Vec<i64> = d.hourly.iter().map(|h| h.cost_nanos).collect();
            assert_eq!(got, hour_costs.to_vec(), "{ctx}");
            let got: Vec<i64> = d.heatmap.iter().map(|c| c.requests).collect();
            assert_eq!(got, cells.to_vec(), "{ctx}");

            // Error types, and the error log paged to its end.
            let mut types: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
            for e in &inside {
                if let Some(t) = e.error {
                    let of = types.entry(t).or_default();
                    *of = (of.0 + 1, of.1 + e.cost_nanos);
                }
            }
            let got: BTreeMap<&str, (i64, i64)> = d
                .error_types
                .iter()
                .map(|t| (t.error_type.as_str(), (t.count, t.cost_nanos)))
                .collect();
            assert_eq!(got, types, "{ctx}");
            let mut logged = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = server::query::error_page(&app.store, &q, now, cursor.as_deref(), 37)
                    .await
                    .unwrap();
                logged.extend(page.items.iter().map(|e| e.timestamp_ms));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            let mut want: Vec<i64> = inside
                .iter()
                .filter(|e| e.error.is_some())
                .map(|e| e.ts_ms)
                .collect();
            want.sort_by(|a, b| b.cmp(a));
            assert_eq!(
                logged, want,
                "{ctx}: the error log, newest first, each once"
            );
        }
    }
}

async fn a_new_york_dst_day_has_23_hours_of_data(db: Db) {
    let app = spawn_app(db).await;
    let key = app.project_with_key("P").await;
    // One event per UTC hour across 2025-03-09 (New York springs forward at 2:00 local).
    let events: Vec<_> = (0..72)
        .map(|h| {
            let ts = 1_741_392_000_000i64 + h * 3_600_000; // from 2025-03-08 00:00 UTC
            json!({"timestamp": chrono::DateTime::from_timestamp_millis(ts).unwrap().to_rfc3339(),
                   "model": "m", "input_tokens": 1, "output_tokens": 0})
        })
        .collect();
    assert_eq!(app.post_events(&key, &json!(events)).await.status(), 200);
    let q = UsageQuery {
        range: DateRange::Custom {
            start: "2025-03-08".into(),
            end: "2025-03-10".into(),
        },
        tz: "America/New_York".into(),
        ..Default::default()
    };
    let daily = server::query::daily(&app.store, &q, 1_743_465_600_000)
        .await
        .unwrap();
    let got: Vec<(String, i64)> = daily.into_iter().map(|d| (d.date, d.requests)).collect();
    assert_eq!(
        got,
        [
            ("2025-03-08".to_string(), 24),
            ("2025-03-09".to_string(), 23),
            // Monday's local hours up to 2025-03-10 23:00 UTC, the last event: 20.
            ("2025-03-10".to_string(), 72 - 24 - 23 - 5),
        ]
    );
}

async fn bad_query_parameters_are_named(db: Db) {
    let app = spawn_app(db).await;
    let now = 1_743_465_600_000;
    let mut q = UsageQuery {
        tz: "Mars/Olympus".into(),
        ..Default::default()
    };
    let err = server::query::summary(&app.store, &q, now)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("tz:"), "{err}");
    q.tz = "UTC".into();
    q.range = DateRange::Custom {
        start: "2025-03-10".into(),
        end: "2025-03-01".into(),
    };
    let err = server::query::summary(&app.store, &q, now)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("endDate:"), "{err}");
    q.range = DateRange::Custom {
        start: "2025-13-10".into(),
        end: "2025-03-01".into(),
    };
    let err = server::query::summary(&app.store, &q, now)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("startDate:"), "{err}");
    // The last date chrono knows: no overflow, a clear error.
    let last = chrono::NaiveDate::MAX.to_string();
    q.range = DateRange::Custom {
        start: last.clone(),
        end: last,
    };
    let err = server::query::summary(&app.store, &q, now)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("endDate:"), "{err}");
    q.range = DateRange::Preset(shared::Period::Last7d);
    q.projects = vec!["Nope".into()];
    let err = server::query::summary(&app.store, &q, now)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("projectId:"), "{err}");
}

/// One event of the dimensions workload, as sent.
#[derive(Clone, Debug)]
struct DimSent {
    ts_ms: i64,
    key: usize,
    user: Option<String>,
    provider: Option<&'static str>,
    /// The `team` metadata value as shown: a string, a number's text, "(invalid)", "(none)".
    team: String,
    team_json: Option<serde_json::Value>,
    cost_nanos: i64,
    input: i64,
    latency: Option<i64>,
    error: bool,
    model: &'static str,
}

/// The models the breakdown test's events use: more than the five a daily chart follows.
const DIM_MODELS: [&str; 7] = [
    "Scalix Standard",
    "m-alpha",
    "m-beta",
    "m-gamma",
    "m-delta",
    "m-epsilon",
    "m-zeta",
];

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Breakdowns by end user, key, provider, a declared metadata key, model and project (these
/// two from the roll-ups), and every panel filtered by one value, equal a recomputation from
/// the events sent, in UTC, New York across its DST change and Kolkata. The listed values plus
/// "(other)" add up to the unfiltered panel, and so do each day's chart entries.
async fn breakdowns_and_dimension_filters_equal_a_recomputation(db: Db) {
    let app = spawn_app(db).await;
    let mut keys = Vec::new();
    for project in ["Alpha", "Beta"] {
        app.store.create_project(project).await.unwrap();
    }
    for project in ["Alpha", "Alpha", "Beta"] {
        keys.push(app.store.create_key(project).await.unwrap());
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    assert!(app
        .store
        .declare_dimension("team", 10, "test", now_ms)
        .await
        .unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let start = 1_740_700_800_000i64; // 2025-02-28
    let mut sent = Vec::new();
    // Skewed: "steady" spends a little every day and is never a day's top spender, while
    // each of 20 "spike-N" users spends more than it on one day only; over the range,
    // "steady" is first.
    for day in 0..20 {
        for _ in 0..3 {
            sent.push(DimSent {
                ts_ms: start + day * 86_400_000 + rng.gen_range(0..86_400_000),
                key: 0,
                user: Some("steady".into()),
                provider: Some("openai"),
                team: "search".into(),
                team_json: Some(json!("search")),
                cost_nanos: 10_000_000,
                input: 10,
                latency: Some(rng.gen_range(20..5_000)),
                error: false,
                model: DIM_MODELS[rng.gen_range(0..DIM_MODELS.len())],
            });
        }
        sent.push(DimSent {
            ts_ms: start + day * 86_400_000 + 43_200_000,
            key: 1,
            user: Some(format!("spike-{day}")),
            provider: Some("anthropic"),
            team: "1".into(),
            team_json: Some(json!(1)),
            cost_nanos: 40_000_000,
            input: 5,
            latency: None,
            error: false,
            model: DIM_MODELS[day as usize % DIM_MODELS.len()],
        });
    }
    for _ in 0..900 {
        let (team, team_json) = match rng.gen_range(0..5) {
            0 => ("search".to_string(), Some(json!("search"))),
            1 => ("1".to_string(), Some(json!("1"))),
            2 => ("(invalid)".to_string(), Some(json!([1]))),
            3 => ("ads".to_string(), Some(json!("ads"))),
            _ => ("(none)".to_string(), None),
        };
        sent.push(DimSent {
            ts_ms: start + rng.gen_range(0..22 * 86_400_000i64),
            key: rng.gen_range(0..3),
            user: rng
                .gen_bool(0.9)
                .then(|| format!("u-{}", rng.gen_range(0..40))),
            provider: [Some("openai"), Some("anthropic"), None][rng.gen_range(0..3)],
            team,
            team_json,
            cost_nanos: rng.gen_range(0..5_000_000),
            input: rng.gen_range(1..1_000),
            latency: rng.gen_bool(0.8).then(|| rng.gen_range(20..60_000)),
            error: rng.gen_bool(0.15),
            model: DIM_MODELS[rng.gen_range(0..DIM_MODELS.len())],
        });
    }
    for (k, (_, secret)) in keys.iter().enumerate() {
        let batch: Vec<_> = sent
            .iter()
            .filter(|e| e.key == k)
            .map(|e| {
                let mut v = json!({
                    "timestamp": chrono::DateTime::from_timestamp_millis(e.ts_ms).unwrap().to_rfc3339(),
                    "model": e.model,
                    "input_tokens": e.input,
                    "output_tokens": 1,
                    "cost_usd": e.cost_nanos as f64 / 1e9,
                    "latency_ms": e.latency,
                    "user": e.user,
                    "provider": e.provider,
                });
                if let Some(t) = &e.team_json {
                    v["metadata"] = json!({"team": t});
                }
                if e.error {
                    v["status"] = json!("error");
                    v["error_type"] = json!("timeout");
                }
                v
            })
            .collect();
        assert_eq!(app.post_events(secret, &json!(batch)).await.status(), 200);
    }
    let prefix = |k: usize| keys[k].0.prefix.clone();
    let value_of = |e: &DimSent, by: &str| -> String {
        match by {
            "user" => e.user.clone().unwrap_or("(none)".into()),
            "key" => prefix(e.key),
            "provider" => e.provider.unwrap_or("(none)").to_string(),
            "model" => e.model.to_string(),
            // Keys 0 and 1 are Alpha's, key 2 Beta's.
            "project" => if e.key == 2 { "Beta" } else { "Alpha" }.to_string(),
            _ => e.team.clone(),
        }
    };
    for tz_name in ["UTC", "America/New_York", "Asia/Kolkata"] {
        let tz: Tz = tz_name.parse().unwrap();
        let (first, last) = (
            NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            NaiveDate::from_ymd_opt(2025, 3, 19).unwrap(),
        );
        let range = format!("startDate={first}&endDate={last}&tz={}", encode(tz_name));
        let inside: Vec<&DimSent> = sent
            .iter()
            .filter(|e| (first..=last).contains(&local_date(tz, e.ts_ms)))
            .collect();
        let (_, summary) = app
            .get_json(&format!("/api/v1/usage/summary?{range}"))
            .await;
        assert_eq!(summary["totalRequests"], inside.len() as i64);
        for by in ["user", "key", "provider", "meta.team", "model", "project"] {
            let ctx = format!("{tz_name} by {by}");
            let (status, b) = app
                .get_json(&format!("/api/v1/usage/breakdown?by={by}&limit=5&{range}"))
                .await;
            assert_eq!(status, 200, "{ctx}: {b}");
            // Recompute: per value requests, cost, errors, input tokens.
            let mut per: BTreeMap<String, (i64, i64, i64, i64, Vec<i64>)> = BTreeMap::new();
            for e in &inside {
                let r = per.entry(value_of(e, by)).or_default();
                r.0 += 1;
                r.1 += e.cost_nanos;
                r.2 += e.error as i64;
                r.3 += e.input;
                r.4.extend(e.latency);
            }
            let mut ranked: Vec<_> = per.into_iter().collect();
            ranked.sort_by(|(va, a), (vb, b)| b.1.cmp(&a.1).then(b.0.cmp(&a.0)).then(va.cmp(vb)));
            let rows = b["rows"].as_array().unwrap();
            assert_eq!(rows.len(), ranked.len().min(5), "{ctx}");
            assert_eq!(b["distinctValues"], ranked.len() as i64, "{ctx}");
            for (row, (value, (n, cost, errors, input, lat))) in rows.iter().zip(&ranked) {
                assert_eq!(row["value"], value.as_str(), "{ctx}");
                assert_eq!(row["requests"], *n, "{ctx} {value}");
                assert_eq!(row["costNanos"], *cost, "{ctx} {value}");
                assert_eq!(row["errors"], *errors, "{ctx} {value}");
                assert_eq!(row["inputTokens"], *input, "{ctx} {value}");
                let mut lat = lat.clone();
                lat.sort_unstable();
                if !lat.is_empty() {
                    let exact = exact_percentile(&lat, 0.95);
                    let got = row["p95LatencyMs"].as_f64().unwrap();
                    assert!(
                        (got - exact).abs() <= exact * HIST_RELATIVE_ERROR + 1e-9,
                        "{ctx} {value}: p95 {got} vs {exact}"
                    );
                }
            }
            // Listed + other = total = the unfiltered summary.
            let listed: i64 = rows.iter().map(|r| r["costNanos"].as_i64().unwrap()).sum();
            let listed_n: i64 = rows.iter().map(|r| r["requests"].as_i64().unwrap()).sum();
            assert_eq!(
                listed + b["other"]["costNanos"].as_i64().unwrap(),
                summary["totalCostNanos"].as_i64().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                listed_n + b["other"]["requests"].as_i64().unwrap(),
                inside.len() as i64,
                "{ctx}"
            );
            assert_eq!(b["total"]["requests"], inside.len() as i64, "{ctx}");
            if by == "user" {
                assert_eq!(
                    rows[0]["value"], "steady",
                    "{ctx}: the user ranked below the top every day is first over the range"
                );
            }
            // The daily chart: the first five values and "(other)" (when there are more) per
            // local day, every day present; each day's entries add up to the day.
            let days = (last - first).num_days() + 1;
            let chart = b["daily"].as_array().unwrap();
            let charted: Vec<&str> = ranked.iter().take(5).map(|(v, _)| v.as_str()).collect();
            let series = charted.len() + usize::from(ranked.len() > 5);
            assert_eq!(chart.len() as i64, days * series as i64, "{ctx}");
            let mut per_day: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
            for d in chart {
                let date: NaiveDate = d["date"].as_str().unwrap().parse().unwrap();
                let value = d["value"].as_str().unwrap();
                let of_series = |e: &&&DimSent| match value {
                    "(other)" => !charted.contains(&value_of(e, by).as_str()),
                    _ => value_of(e, by) == value,
                };
                let mine: Vec<&&DimSent> = (inside.iter())
                    .filter(|e| local_date(tz, e.ts_ms) == date)
                    .filter(of_series)
                    .collect();
                let cost: i64 = mine.iter().map(|e| e.cost_nanos).sum();
                let tokens: i64 = mine.iter().map(|e| e.input + 1).sum();
                assert_eq!(d["costNanos"], cost, "{ctx} {date} {value}");
                assert_eq!(d["requests"], mine.len() as i64, "{ctx} {date} {value}");
                assert_eq!(d["tokens"], tokens, "{ctx} {date} {value}");
                let day = per_day.entry(date).or_default();
                day.0 += d["requests"].as_i64().unwrap();
                day.1 += d["costNanos"].as_i64().unwrap();
            }
            let (_, daily) = app.get_json(&format!("/api/v1/usage/daily?{range}")).await;
            for d in daily.as_array().unwrap() {
                let date: NaiveDate = d["date"].as_str().unwrap().parse().unwrap();
                let (n, cost) = per_day.get(&date).copied().unwrap_or_default();
                assert_eq!(
                    d["requests"], n,
                    "{ctx} {date}: the chart adds up to the day"
                );
                assert_eq!(
                    d["costNanos"], cost,
                    "{ctx} {date}: the chart adds up to the day"
                );
            }
        }
        // Every panel filtered by one value (rare and common ones, "(none)", a number's text,
        // several at once) equals the recomputation.
        type Keep = Box<dyn Fn(&DimSent) -> bool>;
        let filters: Vec<(Vec<(&str, String)>, Keep)> = vec![
            (
                vec![("user", "u-7".into())],
                Box::new(|e: &DimSent| e.user.as_deref() == Some("u-7")),
            ),
            (
                vec![("user", "spike-3".into())],
                Box::new(|e: &DimSent| e.user.as_deref() == Some("spike-3")),
            ),
            (
                vec![("provider", "(none)".into())],
                Box::new(|e: &DimSent| e.provider.is_none()),
            ),
            (vec![("key", prefix(1))], Box::new(|e: &DimSent| e.key == 1)),
            (
                vec![("meta.team", "1".into())],
                Box::new(|e: &DimSent| e.team == "1"),
            ),
            (
                vec![("meta.team", "(invalid)".into())],
                Box::new(|e: &DimSent| e.team == "(invalid)"),
            ),
            (
                vec![
                    ("meta.team", "search".into()),
                    ("provider", "openai".into()),
                ],
                Box::new(|e: &DimSent| e.team == "search" && e.provider == Some("openai")),
            ),
        ];
        for (params, keep) in filters {
            let qs: String = params
                .iter()
                .map(|(k, v)| format!("&{k}={}", encode(v)))
                .collect();
            let ctx = format!("{tz_name} {qs}");
            let chosen: Vec<&&DimSent> = inside.iter().filter(|e| keep(e)).collect();
            let (_, s) = app
                .get_json(&format!("/api/v1/usage/summary?{range}{qs}"))
                .await;
            assert_eq!(s["totalRequests"], chosen.len() as i64, "{ctx}");
            let cost: i64 = chosen.iter().map(|e| e.cost_nanos).sum();
            assert_eq!(s["totalCostNanos"], cost, "{ctx}");
            let errors = chosen.iter().filter(|e| e.error).count() as i64;
            assert_eq!(s["errorRequests"], errors, "{ctx}");
            let (_, daily) = app
                .get_json(&format!("/api/v1/usage/daily?{range}{qs}"))
                .await;
            for d in daily.as_array().unwrap() {
                let date: NaiveDate = d["date"].as_str().unwrap().parse().unwrap();
                let n = chosen
                    .iter()
                    .filter(|e| local_date(tz, e.ts_ms) == date)
                    .count();
                assert_eq!(d["requests"], n as i64, "{ctx} {date}");
            }
            let (_, hourly) = app
                .get_json(&format!("/api/v1/usage/hourly?{range}{qs}"))
                .await;
            let heat: i64 = hourly["heatmap"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["requests"].as_i64().unwrap())
                .sum();
            assert_eq!(heat, chosen.len() as i64, "{ctx}");
            let (_, errs) = app
                .get_json(&format!("/api/v1/usage/errors?limit=1000&{range}{qs}"))
                .await;
            let types: i64 = errs["types"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["count"].as_i64().unwrap())
                .sum();
            assert_eq!(types, errors, "{ctx}");
            if !qs.contains("invalid") {
                assert_eq!(
                    errs["log"]["items"].as_array().map_or(0, |l| l.len()) as i64,
                    errors,
                    "{ctx}: {}",
                    errs["log"]
                );
            }
        }
    }
    // A viewer limited to Beta sees only Beta's values: its key, its users' events.
    let viewer = app
        .user_client(
            "beta-viewer@example.com",
            shared::Role::Viewer,
            Some(&["Beta"]),
        )
        .await;
    let range = "startDate=2025-02-27&endDate=2025-03-23&tz=UTC";
    for by in ["key", "user"] {
        let res = viewer
            .get(format!(
                "{}/api/v1/usage/breakdown?by={by}&limit=1000&{range}",
                app.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let b: serde_json::Value = res.json().await.unwrap();
        let beta: Vec<&DimSent> = sent.iter().filter(|e| e.key == 2).collect();
        assert_eq!(b["total"]["requests"], beta.len() as i64, "{by}: {b}");
        let values: Vec<&str> = (b["rows"].as_array().unwrap().iter())
            .map(|r| r["value"].as_str().unwrap())
            .collect();
        if by == "key" {
            assert_eq!(values, [prefix(2).as_str()], "only Beta's key");
        } else {
            let mut users: Vec<String> = beta.iter().map(|e| value_of(e, "user")).collect();
            users.sort();
            users.dedup();
            let mut listed: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            listed.sort();
            assert_eq!(listed, users, "only users with Beta events");
        }
    }
    // Filtering by Alpha's key is an empty answer for the Beta viewer, not Alpha's numbers.
    let res = viewer
        .get(format!(
            "{}/api/v1/usage/summary?{range}&key={}",
            app.base,
            prefix(0)
        ))
        .send()
        .await
        .unwrap();
    let s: serde_json::Value = res.json().await.unwrap();
    assert_eq!(s["totalRequests"], 0, "{s}");

    // Bad dimension parameters are named.
    for (path, param) in [
        ("/api/v1/usage/breakdown?by=colour", "by"),
        ("/api/v1/usage/breakdown", "by"),
        ("/api/v1/usage/breakdown?by=meta.undeclared", "by"),
        ("/api/v1/usage/breakdown?by=user&limit=0", "limit"),
        ("/api/v1/usage/summary?user=a&user=b", "user"),
        // Only declared keys filter; a key is never SQL, whatever it holds.
        ("/api/v1/usage/summary?meta.undeclared=v", "meta"),
        ("/api/v1/usage/errors?meta.x%27)%20OR%201=1--=v", "meta"),
        ("/api/v1/events/export?meta.x%27)%20OR%201=1--=v", "meta"),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.to_string().contains(param), "{path}: {body}");
    }
    let long = "x".repeat(129);
    let (status, _) = app
        .get_json(&format!("/api/v1/usage/summary?meta.team={long}"))
        .await;
    assert_eq!(status, 400);
}

on_both_backends!(
    breakdowns_and_dimension_filters_equal_a_recomputation,
    every_panel_equals_a_recomputation_from_raw_events,
    a_new_york_dst_day_has_23_hours_of_data,
    bad_query_parameters_are_named,
);
