//! Storage of budgets and their alerts.

use super::{now_ms, Backend, Store, StoreError};

/// A budget as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetRow {
    pub id: i64,
    /// `None`: the whole organisation.
    pub project_id: Option<i64>,
    pub project: Option<String>,
    pub amount_nanos: i64,
    /// `day`, `week` or `month`.
    pub period: String,
    pub tz: String,
    /// Whole percentages, ascending.
    pub thresholds: Vec<i64>,
    /// Only events of this dimension value count (e.g. `meta.team=search`).
    pub scope: Option<shared::DimFilter>,
}

/// One recorded threshold crossing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetAlert {
    pub budget_id: i64,
    /// Unix seconds of the period's start.
    pub period_start: i64,
    pub threshold: i64,
    pub spend_nanos: i64,
    pub fired_at_ms: i64,
}

type Row = (
    i64,
    Option<i64>,
    Option<String>,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn row(r: Row) -> BudgetRow {
    let (id, project_id, project, amount_nanos, period, tz, thresholds, scope_dim, scope_value) = r;
    BudgetRow {
        id,
        project_id,
        project,
        amount_nanos,
        period,
        tz,
        thresholds: thresholds
            .split(',')
            .filter_map(|t| t.trim().parse().ok())
            .collect(),
        scope: super::dimensions::stored_scope(scope_dim, scope_value),
    }
}

const SELECT: &str = "SELECT b.id, b.project_id, p.name, b.amount_nanos, b.period, b.tz, \
    b.thresholds, b.scope_dim, b.scope_value FROM budgets b LEFT JOIN projects p ON p.id = b.project_id";

impl Store {
    /// Stores a budget (already validated by the caller); answers its id.
    pub async fn create_budget(
        &self,
        project_id: Option<i64>,
        amount_nanos: i64,
        period: &str,
        tz: &str,
        thresholds: &[i64],
        scope: Option<&shared::DimFilter>,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO budgets (project_id, amount_nanos, period, tz, thresholds, \
                   created_at, scope_dim, scope_value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                   RETURNING id";
        let list: Vec<String> = thresholds.iter().map(|t| t.to_string()).collect();
        let (dim, value) = (scope.map(|d| d.dim.param()), scope.map(|d| d.value.clone()));
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(project_id).bind(amount_nanos).bind(period).bind(tz).bind(list.join(","))
            .bind(now_ms()).bind(&dim).bind(&value).fetch_one(pool).await?))
    }

    /// Changes a budget's amount and thresholds (already validated by the caller).
    /// Crossings already recorded stay recorded: a threshold is notified once per period.
    pub async fn update_budget(
        &self,
        id: i64,
        amount_nanos: i64,
        thresholds: &[i64],
    ) -> Result<(), StoreError> {
        let sql = "UPDATE budgets SET amount_nanos = $1, thresholds = $2 WHERE id = $3";
        let list: Vec<String> = thresholds.iter().map(|t| t.to_string()).collect();
        let done = dispatch!(self, pool => sqlx::query(sql)
            .bind(amount_nanos).bind(list.join(",")).bind(id).execute(pool).await?
            .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound(format!("no budget {id}")));
        }
        Ok(())
    }

    /// Deletes a budget and its recorded crossings.
    pub async fn delete_budget(&self, id: i64) -> Result<(), StoreError> {
        let alerts = "DELETE FROM budget_alerts WHERE budget_id = $1";
        let budget = "DELETE FROM budgets WHERE id = $1";
        let done = dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(alerts).bind(id).execute(&mut *tx).await?;
            let n = sqlx::query(budget).bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        });
        if done == 0 {
            return Err(StoreError::NotFound(format!("no budget {id}")));
        }
        Ok(())
    }

    /// One budget.
    pub async fn budget(&self, id: i64) -> Result<BudgetRow, StoreError> {
        let sql = format!("{SELECT} WHERE b.id = $1");
        let found: Option<Row> = dispatch!(self, pool => sqlx::query_as(&sql)
            .bind(id).fetch_optional(pool).await?);
        found
            .map(row)
            .ok_or_else(|| StoreError::NotFound(format!("no budget {id}")))
    }

    /// Every budget, organisation-wide first.
    pub async fn list_budgets(&self) -> Result<Vec<BudgetRow>, StoreError> {
        let sql = format!("{SELECT} ORDER BY b.project_id IS NOT NULL, p.name, b.id");
        let rows: Vec<Row> = dispatch!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(row).collect())
    }

    /// The budgets a project's spend counts towards: its own and the organisation's.
    pub async fn budgets_of_project(&self, project_id: i64) -> Result<Vec<BudgetRow>, StoreError> {
        let sql = format!("{SELECT} WHERE b.project_id = $1 OR b.project_id IS NULL");
        let rows: Vec<Row> = dispatch!(self, pool => sqlx::query_as(&sql)
            .bind(project_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(row).collect())
    }

    /// Records a crossing unless it is already recorded, and then queues `body` for every
    /// webhook in the same transaction; answers whether this call recorded it.
    pub async fn record_budget_alert(
        &self,
        budget_id: i64,
        period_start: i64,
        threshold: i64,
        spend_nanos: i64,
        body: &str,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO budget_alerts (budget_id, period_start, threshold, spend_nanos, \
                   fired_at) VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (budget_id, period_start, threshold) DO NOTHING RETURNING id";
        let now = now_ms();
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(sql)
                .bind(budget_id).bind(period_start).bind(threshold).bind(spend_nanos).bind(now)
                .fetch_optional(&mut *tx).await?;
            if id.is_some() {
                sqlx::query(super::alerts::ENQUEUE).bind("budget.threshold").bind(body).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(id.is_some())
        })
    }

    /// Recorded crossings, newest first.
    pub async fn budget_alerts(&self, limit: i64) -> Result<Vec<BudgetAlert>, StoreError> {
        let sql = "SELECT budget_id, period_start, threshold, spend_nanos, fired_at \
                   FROM budget_alerts ORDER BY fired_at DESC, id DESC LIMIT $1";
        let rows: Vec<(i64, i64, i64, i64, i64)> =
            dispatch!(self, pool => sqlx::query_as(sql).bind(limit).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(budget_id, period_start, threshold, spend_nanos, fired_at_ms)| BudgetAlert {
                    budget_id,
                    period_start,
                    threshold,
                    spend_nanos,
                    fired_at_ms,
                },
            )
            .collect())
    }
}
