//! One panel's answer, computed in one place for every surface that shows it: the read API
//! (`/api/v1/usage/{name}`, the seed's actions) and the dashboard's server function.

use serde_json::Value;
use shared::{BudgetsView, ErrorsView, HourlyView, Panel, PanelData, UsageQuery};

use crate::access::Principal;
use crate::alerting::{budgets, rules};
use crate::query::{self, forecast, insights, QueryError};
use crate::store::Store;

/// Budget alerts and alert-history entries a panel lists.
const BUDGET_ALERTS_SHOWN: i64 = 20;
const ALERT_HISTORY_SHOWN: i64 = 50;

/// Which page of the error log the Errors panel carries.
pub struct LogPage<'a> {
    /// The cursor of the previous page's last row; `None` for the newest rows.
    pub before: Option<&'a str>,
    pub limit: i64,
}

/// The answer of `panel` for query `q` (already scoped to `who`'s projects) at `now`.
pub async fn answer(
    store: &Store,
    who: &Principal,
    panel: Panel,
    q: &UsageQuery,
    now: i64,
    log: LogPage<'_>,
) -> Result<PanelData, QueryError> {
    Ok(match panel {
        Panel::Summary => PanelData::Summary(query::summary(store, q, now).await?),
        Panel::Budgets => {
            let visible = budgets::visible(store, who).await?;
            PanelData::Budgets(BudgetsView {
                alerts: budgets::alerts(store, &visible, BUDGET_ALERTS_SHOWN).await?,
                budgets: budgets::statuses(store, visible, now).await?,
            })
        }
        Panel::Alerts => PanelData::Alerts(rules::view(store, who, ALERT_HISTORY_SHOWN).await?),
        Panel::Daily => PanelData::Daily(query::daily(store, q, now).await?),
        Panel::Models => PanelData::Models(query::models(store, q, now).await?),
        Panel::Projects => PanelData::Projects(query::projects(store, q, now).await?),
        Panel::Hourly => {
            let (hours, heatmap) = query::hourly(store, q, now).await?;
            PanelData::Hourly(HourlyView { hours, heatmap })
        }
        Panel::Insights => PanelData::Insights(insights::insights(store, q, now).await?),
        Panel::Forecast => PanelData::Forecast(forecast::forecast(store, q, now).await?),
        Panel::Errors => PanelData::Errors(ErrorsView {
            types: query::error_types(store, q, now).await?,
            log: query::error_page(store, q, now, log.before, log.limit).await?,
        }),
    })
}

/// The read API's JSON of a panel: the value inside the variant, without its name.
pub fn to_json(data: &PanelData) -> Value {
    match serde_json::to_value(data) {
        // Serde writes an enum variant with content as `{"name": content}`.
        Ok(Value::Object(tagged)) => tagged.into_iter().next().map_or(Value::Null, |(_, v)| v),
        _ => Value::Null,
    }
}
