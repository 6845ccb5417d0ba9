//! The dashboard's panels, listed once. The REST names (`/api/v1/usage/{name}`), the export's
//! CSV tables, Refresh and the dashboard's order all come from [`Panel`]; every place that
//! treats panels differently matches on it, so a new variant cannot be forgotten anywhere.

use serde::{Deserialize, Serialize};

use crate::{
    AlertsView, BudgetsView, CostInsights, DailyUsage, ErrorPage, ErrorTypeUsage, ForecastView,
    HeatmapCell, HourlyUsage, ModelUsage, ProjectUsage, UsageSummary,
};

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

/// A section of the dashboard (`section=` in its URL): the panels a person looks at together.
/// [`Section::DEFAULT`] shows when the URL names none; [`Section::All`] shows every panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    All,
    Overview,
    Costs,
    Traffic,
    Errors,
    Breakdown,
}

impl Section {
    /// The section of a URL without `section=`: the summary, budgets, alerts and daily
    /// history. Everything at once is eleven panels and, at scale, a raw-event read for the
    /// Breakdown panel on every visit.
    pub const DEFAULT: Section = Section::Overview;

    /// In the order the dashboard's section links list them.
    pub const ALL: [Section; 6] = [
        Section::All,
        Section::Overview,
        Section::Costs,
        Section::Traffic,
        Section::Errors,
        Section::Breakdown,
    ];

    /// The name in URLs (`section=costs`).
    pub fn name(self) -> &'static str {
        match self {
            Section::All => "all",
            Section::Overview => "overview",
            Section::Costs => "costs",
            Section::Traffic => "traffic",
            Section::Errors => "errors",
            Section::Breakdown => "breakdown",
        }
    }

    /// The link's text.
    pub fn title(self) -> &'static str {
        match self {
            Section::All => "Everything",
            Section::Overview => "Overview",
            Section::Costs => "Costs",
            Section::Traffic => "Traffic",
            Section::Errors => "Errors",
            Section::Breakdown => "Breakdown",
        }
    }

    /// The section a URL names; `None` for any other name.
    pub fn parse(name: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the section shows `panel`.
    pub fn shows(self, panel: Panel) -> bool {
        self == Section::All || panel.section() == self
    }

    /// Whether the section shows the Breakdown panel (not one of [`Panel`]: it answers by
    /// dimension, not the query's panels).
    pub fn shows_breakdown(self) -> bool {
        matches!(self, Section::All | Section::Breakdown)
    }
}

impl Panel {
    /// The dashboard section the panel belongs to.
    pub fn section(self) -> Section {
        match self {
            Panel::Summary | Panel::Budgets | Panel::Alerts | Panel::Daily => Section::Overview,
            Panel::Models | Panel::Projects | Panel::Insights | Panel::Forecast => Section::Costs,
            Panel::Hourly => Section::Traffic,
            Panel::Errors => Section::Errors,
        }
    }

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

    /// Whether the panel's answer depends on the query's range and filters. Budgets and
    /// alerts show settings and their current state, whatever the page filters by, so the
    /// dashboard does not ask for them again when the filters change.
    pub fn follows_query(self) -> bool {
        !matches!(self, Panel::Budgets | Panel::Alerts)
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

/// One panel's answer: what the dashboard's one server function (`get_panel`) sends, and
/// what the read API serves at `/api/v1/usage/{name}` (the value inside the variant). The
/// variant's serde name is the panel's name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelData {
    Summary(UsageSummary),
    Budgets(BudgetsView),
    Alerts(AlertsView),
    Daily(Vec<DailyUsage>),
    Models(Vec<ModelUsage>),
    Projects(Vec<ProjectUsage>),
    Hourly(HourlyView),
    Insights(CostInsights),
    Forecast(ForecastView),
    Errors(ErrorsView),
}

/// The Hourly pattern panel: requests by local hour of day, and the weekday × hour heat map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HourlyView {
    pub hours: Vec<HourlyUsage>,
    pub heatmap: Vec<HeatmapCell>,
}

/// The Errors panel: failed requests by type, and the first page of the error log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorsView {
    pub types: Vec<ErrorTypeUsage>,
    pub log: ErrorPage,
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

    #[test]
    fn panel_data_is_tagged_with_the_panel_name() {
        // The read API serves the value inside the tag; the tag must be the panel's name.
        let data = PanelData::Hourly(HourlyView::default());
        let json = serde_json::to_value(&data).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"hourly": {"hours": [], "heatmap": []}})
        );
        assert!(Panel::from_name("hourly").is_some());
    }

    #[test]
    fn every_panel_is_in_exactly_one_section_besides_everything() {
        for p in Panel::ALL {
            let showing: Vec<Section> = (Section::ALL.into_iter()).filter(|s| s.shows(p)).collect();
            assert_eq!(showing, [Section::All, p.section()], "{p:?}");
        }
        for s in Section::ALL {
            assert_eq!(Section::parse(s.name()), Some(s));
        }
        assert_eq!(Section::parse("everything"), None);
        assert!(Section::Breakdown.shows_breakdown() && !Section::Costs.shows_breakdown());
    }
}
