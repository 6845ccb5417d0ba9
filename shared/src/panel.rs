//! The dashboard's panels, listed once. The REST names (`/api/v1/usage/{name}`), the export's
//! CSV tables, Refresh and the dashboard's order all come from [`Panel`]; every place that
//! treats panels differently matches on it, so a new variant cannot be forgotten anywhere.

use serde::{Deserialize, Serialize};

/// One panel of the dashboard, in the dashboard's order in [`Panel::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Panel {
    Summary,
    Budgets,
    Alerts,
    Daily,
    Models,
    Projects,
    Hourly,
    Insights,
    Forecast,
    Errors,
}

impl Panel {
    /// Every panel, in the order the dashboard shows them.
    pub const ALL: [Panel; 10] = [
        Panel::Summary,
        Panel::Budgets,
        Panel::Alerts,
        Panel::Daily,
        Panel::Models,
        Panel::Projects,
        Panel::Hourly,
        Panel::Insights,
        Panel::Forecast,
        Panel::Errors,
    ];

    /// The name in URLs (`/api/v1/usage/{name}`) and element ids.
    pub fn name(self) -> &'static str {
        match self {
            Panel::Summary => "summary",
            Panel::Budgets => "budgets",
            Panel::Alerts => "alerts",
            Panel::Daily => "daily",
            Panel::Models => "models",
            Panel::Projects => "projects",
            Panel::Hourly => "hourly",
            Panel::Insights => "insights",
            Panel::Forecast => "forecast",
            Panel::Errors => "errors",
        }
    }

    /// The heading a person reads (the dashboard, Refresh's messages).
    pub fn title(self) -> &'static str {
        match self {
            Panel::Summary => "Summary",
            Panel::Budgets => "Budgets",
            Panel::Alerts => "Alerts",
            Panel::Daily => "Daily history",
            Panel::Models => "Models",
            Panel::Projects => "Projects",
            Panel::Hourly => "Hourly pattern",
            Panel::Insights => "Cost insights",
            Panel::Forecast => "Month-end forecast",
            Panel::Errors => "Errors",
        }
    }

    /// The CSV tables of this panel the export offers (`table=`); the workbook has a sheet
    /// for each panel that has any. Budgets, alerts, insights and the forecast are views of
    /// settings and projections, not tables of the query's numbers.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Panel::Summary => &["summary"],
            Panel::Daily => &["daily"],
            Panel::Models => &["models"],
            Panel::Projects => &["projects"],
            Panel::Hourly => &["hourly"],
            Panel::Errors => &["errors", "error_log"],
            Panel::Budgets | Panel::Alerts | Panel::Insights | Panel::Forecast => &[],
        }
    }

    /// Whether the panel spans the dashboard's whole width.
    pub fn wide(self) -> bool {
        !matches!(self, Panel::Models | Panel::Projects)
    }

    /// The panel named `name`.
    pub fn from_name(name: &str) -> Option<Panel> {
        Panel::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Every panel's name, comma-separated, for error messages.
    pub fn names() -> String {
        Panel::ALL.map(Panel::name).join(", ")
    }

    /// Every export table's name, comma-separated, for error messages.
    pub fn table_names() -> String {
        Panel::all_tables().collect::<Vec<_>>().join(", ")
    }

    /// Every export table, in sheet order.
    pub fn all_tables() -> impl Iterator<Item = &'static str> {
        Panel::ALL
            .into_iter()
            .flat_map(|p| p.tables().iter().copied())
    }
}

/// Error-log rows per page, one size per surface.
pub mod error_log_page {
    /// The dashboard's Errors panel, and each "Load more".
    pub const DASHBOARD: i64 = 20;
    /// The read API (`/api/v1/usage/errors` without `limit`, and `dashboard`).
    pub const REST: i64 = 50;
    /// The workbook's Errors sheet and the `error_log` CSV table; also the most `limit`
    /// may ask for.
    pub const EXPORT: i64 = 1_000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for p in Panel::ALL {
            assert_eq!(Panel::from_name(p.name()), Some(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.name()));
        }
        assert_eq!(Panel::from_name("dashboard"), None);
        let tables: Vec<_> = Panel::all_tables().collect();
        assert_eq!(
            tables,
            [
                "summary",
                "daily",
                "models",
                "projects",
                "hourly",
                "errors",
                "error_log"
            ]
        );
    }
}
