//! Metric alerts: rules on the error rate, p95 latency or request volume of one project,
//! model or all traffic over a sliding window (e.g. error rate above 5 % over the last 10
//! minutes). A background task evaluates every rule each minute over raw events by event
//! time; a rule fires when its condition holds and resolves when it stops holding, and each
//! change is recorded and notified once (the store changes state conditionally).
//!
//! Error rate and p95 latency are judged only over at least `min_requests` requests; with
//! fewer the rule keeps its state (too little traffic says nothing either way).

use shared::{format_metric, metric_label, AlertHistoryEntry, AlertRuleInfo, AlertsView};

use crate::alerting::webhooks::iso;
use crate::store::{AlertRuleRow, Principal, StoreError};
use crate::Store;

/// The metrics a rule may watch.
pub const METRICS: [&str; 3] = ["error_rate", "p95_latency", "requests"];

/// A rule's measurement over its window: the value in the rule's unit, and whether the
/// condition holds. `None` when there is too little traffic to judge.
pub async fn measure(
    store: &Store,
    rule: &AlertRuleRow,
    now_ms: i64,
) -> Result<Option<(i64, bool)>, StoreError> {
    let r = &rule.info;
    let start = now_ms - r.window_minutes * 60_000;
    let above = r.op == "above";
    // Compares `value / per` with the threshold exactly, in integers.
    let holds = |value: i128, per: i128, threshold: i128| {
        if above {
            value > threshold * per
        } else {
            value < threshold * per
        }
    };
    Ok(match r.metric.as_str() {
        "p95_latency" => match store.window_p95(rule, start, now_ms).await? {
            (n, Some(p95)) if n >= r.min_requests => {
                Some((p95, holds(p95 as i128, 1, r.threshold as i128)))
            }
            _ => None,
        },
        metric => {
            let (requests, errors) = store.window_counts(rule, start, now_ms).await?;
            match metric {
                "requests" => Some((requests, holds(requests as i128, 1, r.threshold as i128))),
                "error_rate" if requests >= r.min_requests => {
                    // Shown rounded up, so that a rate just above 5 % never reads "5 %".
                    let bps = (errors * 10_000 + requests - 1) / requests;
                    let scaled = errors as i128 * 10_000;
                    Some((bps, holds(scaled, requests as i128, r.threshold as i128)))
                }
                _ => None,
            }
        }
    })
}

/// Evaluates every rule at `now_ms`; answers the changes this call recorded (rule id, new
/// state: `firing` or `resolved`).
pub async fn evaluate(store: &Store, now_ms: i64) -> Result<Vec<(i64, String)>, StoreError> {
    let mut changes = Vec::new();
    for rule in store.alert_rules().await? {
        // One rule failing (say, the database timing out) must not silence the others.
        let measured = match measure(store, &rule, now_ms).await {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(rule = rule.info.id, error = %e, "alert rule not evaluated");
                continue;
            }
        };
        let Some((value, holds)) = measured else {
            continue;
        };
        let (from, to, kind) = match (rule.info.state.as_str(), holds) {
            ("ok", true) => ("ok", "firing", "alert.firing"),
            ("firing", false) => ("firing", "ok", "alert.resolved"),
            _ => continue,
        };
        let body = body(&rule.info, kind, value, now_ms);
        let changed = store
            .change_alert_state(rule.info.id, from, to, value, now_ms, kind, &body)
            .await;
        let changed = match changed {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(rule = rule.info.id, error = %e, "alert state not changed");
                continue;
            }
        };
        if changed {
            let state = if to == "firing" { "firing" } else { "resolved" };
            tracing::info!(rule = rule.info.id, state, value, "metric alert changed");
            changes.push((rule.info.id, state.to_string()));
        }
    }
    Ok(changes)
}

/// What a change says, e.g. "Errors: error rate 7.5 % (above 5 % over 10 min, all traffic)".
fn message(rule: &AlertRuleInfo, firing: bool, value: i64) -> String {
    format!(
        "{} {}: {} {} ({})",
        rule.name,
        if firing { "firing" } else { "resolved" },
        metric_label(&rule.metric),
        format_metric(&rule.metric, value),
        rule.describe()
    )
}

/// The webhook body of a change.
fn body(rule: &AlertRuleInfo, kind: &str, value: i64, now_ms: i64) -> String {
    serde_json::json!({
        "type": kind,
        "message": message(rule, kind == "alert.firing", value),
        "ruleId": rule.id,
        "rule": rule.name,
        "metric": rule.metric,
        "project": rule.project,
        "model": rule.model,
        "op": rule.op,
        "threshold": rule.threshold,
        "windowMinutes": rule.window_minutes,
        "value": value,
        "at": iso(now_ms),
    })
    .to_string()
}

/// Whether `who` may see a rule: rules over every project only for those who see everything.
fn may_see(who: &Principal, rule: &AlertRuleRow) -> bool {
    match rule.project_id {
        None => who.project_ids.is_none(),
        Some(p) => crate::access::may_see_project(who, p),
    }
}

/// The rules `who` may see, the history of those rules and of the budgets they may see,
/// newest first (`limit` entries).
pub async fn view(store: &Store, who: &Principal, limit: i64) -> Result<AlertsView, StoreError> {
    let rules: Vec<AlertRuleRow> = store
        .alert_rules()
        .await?
        .into_iter()
        .filter(|r| may_see(who, r))
        .collect();
    let ids: Vec<i64> = rules.iter().map(|r| r.info.id).collect();
    let mut history: Vec<AlertHistoryEntry> = store
        .alert_history(&ids, limit)
        .await?
        .into_iter()
        .filter_map(|c| {
            let rule = rules.iter().find(|r| r.info.id == c.rule_id)?;
            Some(AlertHistoryEntry {
                at_ms: c.at_ms,
                message: message(&rule.info, c.state == "firing", c.value),
                kind: c.state,
            })
        })
        .collect();
    let budgets = crate::alerting::budgets::visible(store, who).await?;
    for a in crate::alerting::budgets::alerts(store, &budgets, limit).await? {
        let scope = a.project.as_deref().unwrap_or("organisation");
        history.push(AlertHistoryEntry {
            at_ms: a.fired_at_ms,
            kind: "budget".into(),
            message: format!(
                "{} % of the {scope} budget reached ({} spent)",
                a.threshold,
                shared::format_usd(a.spend_nanos)
            ),
        });
    }
    history.sort_by_key(|h| std::cmp::Reverse(h.at_ms));
    history.truncate(limit as usize);
    Ok(AlertsView {
        rules: rules.into_iter().map(|r| r.info).collect(),
        history,
    })
}
