//! Storage of metric alert rules, their history, webhooks and webhook deliveries.
//!
//! A state change and the deliveries that announce it are written in one transaction, and
//! the change is a conditional UPDATE on the state it leaves: of several replicas evaluating
//! the same rule, only the first changes it, records it and notifies.

use shared::{AlertRuleInfo, DeliveryInfo, WebhookInfo};

use super::dimensions::Arg;
use super::{Backend, Store, StoreError};

/// A rule as stored, with the ids the evaluator filters on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRuleRow {
    pub info: AlertRuleInfo,
    pub project_id: Option<i64>,
    pub model_id: Option<i64>,
}

/// One stored state change of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertChange {
    pub rule_id: i64,
    /// `firing` or `resolved`.
    pub state: String,
    pub value: i64,
    pub at_ms: i64,
}

/// A pending delivery as the sender needs it.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub kind: String,
    pub body: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
}

/// The outcome of one attempt to send a delivery.
#[derive(Clone, Debug)]
pub struct Attempt<'a> {
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// `delivered`, `pending` (retry at `next_attempt_at_ms`) or `failed` (none left).
    pub state: &'a str,
    pub status: Option<i64>,
    pub error: Option<&'a str>,
    pub next_attempt_at_ms: i64,
    pub now_ms: i64,
}

/// Queues `body` for every enabled webhook, inside the caller's transaction.
pub(super) const ENQUEUE: &str =
    "INSERT INTO webhook_deliveries (webhook_id, kind, body, state, attempts, \
    next_attempt_at, created_at) SELECT id, $1, $2, 'pending', 0, $3, $3 FROM webhooks \
    WHERE disabled_at IS NULL";

const RULES: &str = "SELECT r.id, r.name, r.metric, p.name, m.name, r.op, r.threshold, \
    r.window_minutes, r.min_requests, r.state, r.state_since, r.project_id, r.model_id, \
    r.scope_dim, r.scope_value FROM alert_rules r LEFT JOIN projects p ON p.id = r.project_id \
    LEFT JOIN models m ON m.id = r.model_id ORDER BY r.id";

type RuleRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

type DeliveryRow = (
    i64,
    i64,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

impl Store {
    /// Stores a rule (validated by the caller; its id and state are not read) in state `ok`;
    /// answers its id.
    pub async fn create_alert_rule(
        &self,
        rule: &AlertRuleRow,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let r = &rule.info;
        let sql = "INSERT INTO alert_rules (name, metric, project_id, model_id, op, threshold, \
                   window_minutes, min_requests, state, state_since, created_at, scope_dim, \
                   scope_value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'ok', $9, $9, $10, $11) \
                   RETURNING id";
        let scope = r.scope.as_ref();
        let (dim, value) = (scope.map(|d| d.dim.param()), scope.map(|d| d.value.clone()));
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(&r.name).bind(&r.metric).bind(rule.project_id).bind(rule.model_id).bind(&r.op)
            .bind(r.threshold).bind(r.window_minutes).bind(r.min_requests).bind(now_ms)
            .bind(&dim).bind(&value).fetch_one(pool).await?))
    }

    /// Changes a rule's threshold (in the rule's unit, already validated by the caller); the
    /// next evaluation compares against it.
    pub async fn update_alert_rule_threshold(
        &self,
        id: i64,
        threshold: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE alert_rules SET threshold = $1 WHERE id = $2";
        let done = dispatch!(self, pool => sqlx::query(sql).bind(threshold).bind(id)
            .execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound(format!("no alert rule {id}")));
        }
        Ok(())
    }

    /// Deletes a rule and its history.
    pub async fn delete_alert_rule(&self, id: i64) -> Result<(), StoreError> {
        let sql = "DELETE FROM alert_rules WHERE id = $1";
        let done = dispatch!(self, pool => sqlx::query(sql).bind(id).execute(pool).await?
            .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound(format!("no alert rule {id}")));
        }
        Ok(())
    }

    /// Every rule, oldest first.
    pub async fn alert_rules(&self) -> Result<Vec<AlertRuleRow>, StoreError> {
        let rows: Vec<RuleRow> =
            dispatch!(self, pool => sqlx::query_as(RULES).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|r| AlertRuleRow {
                info: AlertRuleInfo {
                    id: r.0,
                    name: r.1,
                    metric: r.2,
                    project: r.3,
                    model: r.4,
                    op: r.5,
                    threshold: r.6,
                    window_minutes: r.7,
                    min_requests: r.8,
                    state: r.9,
                    state_since_ms: r.10,
                    scope: super::dimensions::stored_scope(r.13, r.14),
                },
                project_id: r.11,
                model_id: r.12,
            })
            .collect())
    }

    /// The id of the model called `name`.
    pub async fn model_by_name(&self, name: &str) -> Result<i64, StoreError> {
        let sql = "SELECT id FROM models WHERE name = $1";
        let id: Option<i64> = dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(name).fetch_optional(pool).await?);
        id.ok_or_else(|| StoreError::NotFound(format!("no model named {name:?} has been seen")))
    }

    /// `FROM events WHERE …` selecting the events of `rule`'s project, model and dimension
    /// scope with a timestamp in `[start_ms, end_ms)`, and its bound values; `None` when no
    /// event can match (a scope on an ingest key that no longer exists).
    async fn window_events(
        &self,
        rule: &AlertRuleRow,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Option<(String, Vec<Arg>)>, StoreError> {
        let mut sql = String::from("FROM events WHERE ts >= $1 AND ts < $2");
        let mut args = vec![Arg::Int(start_ms), Arg::Int(end_ms)];
        for (column, id) in [("project_id", rule.project_id), ("model_id", rule.model_id)] {
            if let Some(id) = id {
                args.push(Arg::Int(id));
                sql.push_str(&format!(" AND {column} = ${}", args.len()));
            }
        }
        if let Some(scope) = &rule.info.scope {
            let keys = self.key_prefixes().await?;
            let postgres = matches!(self.backend, Backend::Postgres(_));
            // A rule's scope names one value exactly (a hashed id is scoped by its hash).
            let scoped = super::RollupFilter {
                dims: vec![scope.clone()],
                ..Default::default()
            };
            match super::dimensions::dim_conditions(&scoped, &keys, postgres, "", true, &mut args) {
                Some(conditions) => sql.push_str(&conditions),
                None => return Ok(None),
            }
        }
        Ok(Some((sql, args)))
    }

    /// Requests and failed requests of `rule`'s scope with a timestamp in
    /// `[start_ms, end_ms)`.
    pub async fn window_counts(
        &self,
        rule: &AlertRuleRow,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(i64, i64), StoreError> {
        let Some((from, args)) = self.window_events(rule, start_ms, end_ms).await? else {
            return Ok((0, 0));
        };
        let sql = format!("SELECT COUNT(*), CAST(COALESCE(SUM(is_error), 0) AS BIGINT) {from}");
        Ok(
            dispatch!(self, pool => bind_args!(sqlx::query_as(&sql), args)
            .fetch_one(pool).await?),
        )
    }

    /// How many of the same events have a latency, and their 95th percentile latency (nearest
    /// rank; `None` when none has one).
    pub async fn window_p95(
        &self,
        rule: &AlertRuleRow,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let Some((from, mut args)) = self.window_events(rule, start_ms, end_ms).await? else {
            return Ok((0, None));
        };
        let from = format!("{from} AND latency_ms IS NOT NULL");
        let count_sql = format!("SELECT COUNT(*) {from}");
        let n: i64 = dispatch!(self, pool => bind_args!(sqlx::query_scalar(&count_sql), args.clone())
            .fetch_one(pool).await?);
        if n == 0 {
            return Ok((0, None));
        }
        // Nearest rank: the ceil(0.95 n)-th smallest.
        let rank = (n * 95 + 99) / 100;
        args.push(Arg::Int(rank - 1));
        let sql = format!(
            "SELECT latency_ms {from} ORDER BY latency_ms LIMIT 1 OFFSET ${}",
            args.len()
        );
        let p95 = dispatch!(self, pool => bind_args!(sqlx::query_scalar(&sql), args)
            .fetch_optional(pool).await?);
        Ok((n, p95))
    }

    /// Moves a rule from state `from` to `to` (`ok` or `firing`) unless another evaluation
    /// already did; when this call does, records the change in the history and queues `body`
    /// (of webhook kind `kind`) for every webhook, all in one transaction. Answers whether
    /// this call changed the state.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_alert_state(
        &self,
        rule_id: i64,
        from: &str,
        to: &str,
        value: i64,
        now_ms: i64,
        kind: &str,
        body: &str,
    ) -> Result<bool, StoreError> {
        let update = "UPDATE alert_rules SET state = $1, state_since = $2 \
                      WHERE id = $3 AND state = $4";
        let history = "INSERT INTO alert_history (rule_id, state, value, at) \
                       VALUES ($1, $2, $3, $4)";
        let entry = if to == "firing" { "firing" } else { "resolved" };
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(update).bind(to).bind(now_ms).bind(rule_id).bind(from)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if changed {
                sqlx::query(history).bind(rule_id).bind(entry).bind(value).bind(now_ms)
                    .execute(&mut *tx).await?;
                sqlx::query(ENQUEUE).bind(kind).bind(body).bind(now_ms)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(changed)
        })
    }

    /// The newest `limit` state changes of these rules, newest first.
    pub async fn alert_history(
        &self,
        rule_ids: &[i64],
        limit: i64,
    ) -> Result<Vec<AlertChange>, StoreError> {
        if rule_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..rule_ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT rule_id, state, value, at FROM alert_history WHERE rule_id IN ({}) \
             ORDER BY at DESC, id DESC LIMIT $1",
            list.join(", ")
        );
        let rows: Vec<(i64, String, i64, i64)> = dispatch!(self, pool => {
            let mut q = sqlx::query_as(&sql).bind(limit);
            for id in rule_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(rule_id, state, value, at_ms)| AlertChange {
                rule_id,
                state,
                value,
                at_ms,
            })
            .collect())
    }

    /// Stores a webhook; answers its id.
    pub async fn create_webhook(
        &self,
        url: &str,
        secret: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO webhooks (url, secret, created_at) VALUES ($1, $2, $3) RETURNING id";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(url).bind(secret).bind(now_ms).fetch_one(pool).await?))
    }

    /// Stops sending to a webhook; its pending deliveries are marked failed.
    pub async fn disable_webhook(&self, id: i64, now_ms: i64) -> Result<(), StoreError> {
        let disable = "UPDATE webhooks SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL";
        let drop = "UPDATE webhook_deliveries SET state = 'failed', \
                    last_error = 'webhook disabled' WHERE webhook_id = $1 AND state = 'pending'";
        let done = dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(disable).bind(now_ms).bind(id).execute(&mut *tx).await?
                .rows_affected();
            sqlx::query(drop).bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            n
        });
        if done == 0 {
            return Err(StoreError::NotFound(format!("no enabled webhook {id}")));
        }
        Ok(())
    }

    /// Every webhook, oldest first.
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookInfo>, StoreError> {
        let sql = "SELECT id, url, created_at, disabled_at FROM webhooks ORDER BY id";
        let rows: Vec<(i64, String, i64, Option<i64>)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, url, created_at_ms, disabled_at_ms)| WebhookInfo {
                id,
                url,
                created_at_ms,
                disabled_at_ms,
            })
            .collect())
    }

    /// Queues `body` for one enabled webhook (alerts and budget crossings queue theirs for
    /// every webhook inside their own transaction).
    pub async fn enqueue_delivery(
        &self,
        webhook_id: i64,
        kind: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let sql = format!("{ENQUEUE} AND id = $4");
        let n = dispatch!(self, pool => sqlx::query(&sql)
            .bind(kind).bind(body).bind(now_ms).bind(webhook_id).execute(pool).await?
            .rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "no enabled webhook {webhook_id}"
            )));
        }
        Ok(())
    }

    /// Pending deliveries due at `now_ms`, oldest first.
    pub async fn due_deliveries(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let sql = "SELECT d.id, w.url, w.secret, d.kind, d.body, d.attempts, d.next_attempt_at \
                   FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                   WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                   AND w.disabled_at IS NULL \
                   ORDER BY d.next_attempt_at, d.id LIMIT $2";
        let rows: Vec<(i64, String, String, String, String, i64, i64)> = dispatch!(self, pool => sqlx::query_as(sql).bind(now_ms).bind(limit)
                .fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|r| DueDelivery {
                id: r.0,
                url: r.1,
                secret: r.2,
                kind: r.3,
                body: r.4,
                attempts: r.5,
                next_attempt_at_ms: r.6,
            })
            .collect())
    }

    /// Takes a due delivery for sending until `lease_until_ms`, unless another sender took it
    /// since it was read; answers whether this call took it.
    pub async fn claim_delivery(
        &self,
        d: &DueDelivery,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE webhook_deliveries SET next_attempt_at = $1 \
                   WHERE id = $2 AND state = 'pending' AND next_attempt_at = $3";
        let n = dispatch!(self, pool => sqlx::query(sql)
            .bind(lease_until_ms).bind(d.id).bind(d.next_attempt_at_ms).execute(pool).await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Records one attempt of a delivery claimed with lease `d.next_attempt_at_ms`, unless
    /// the delivery changed since (the lease ran out and another sender took it, or its
    /// webhook was disabled); answers whether it was recorded.
    pub async fn finish_attempt(
        &self,
        d: &DueDelivery,
        a: &Attempt<'_>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE webhook_deliveries SET attempts = $1, state = $2, last_status = $3, \
                   last_error = $4, next_attempt_at = $5, \
                   delivered_at = CASE WHEN $2 = 'delivered' THEN $6 ELSE NULL END \
                   WHERE id = $7 AND state = 'pending' AND next_attempt_at = $8";
        let n = dispatch!(self, pool => sqlx::query(sql)
            .bind(a.attempts).bind(a.state).bind(a.status).bind(a.error)
            .bind(a.next_attempt_at_ms).bind(a.now_ms).bind(d.id).bind(d.next_attempt_at_ms)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// The newest `limit` deliveries, newest first.
    pub async fn deliveries(&self, limit: i64) -> Result<Vec<DeliveryInfo>, StoreError> {
        let sql = "SELECT d.id, d.webhook_id, w.url, d.kind, d.state, d.attempts, d.last_status, \
                   d.last_error, d.created_at, d.next_attempt_at, d.delivered_at \
                   FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                   ORDER BY d.created_at DESC, d.id DESC LIMIT $1";
        let rows: Vec<DeliveryRow> =
            dispatch!(self, pool => sqlx::query_as(sql).bind(limit).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|r| DeliveryInfo {
                id: r.0,
                webhook_id: r.1,
                url: r.2,
                kind: r.3,
                state: r.4,
                attempts: r.5,
                last_status: r.6,
                last_error: r.7,
                created_at_ms: r.8,
                next_attempt_at_ms: r.9,
                delivered_at_ms: r.10,
            })
            .collect())
    }
}
