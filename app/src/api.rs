//! Server functions of the dashboard and the seam through which they reach the server's
//! query layer ([`DashboardData`], provided as context by the server binary).

use leptos::prelude::*;
use shared::UsageSummary;

#[cfg(feature = "ssr")]
pub use ssr::*;

#[cfg(feature = "ssr")]
mod ssr {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use shared::{UsageQuery, UsageSummary};

    /// A boxed future, as the object-safe trait below needs.
    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    /// What the dashboard needs from the server; implemented by the `server` crate.
    pub trait DashboardData: Send + Sync + 'static {
        /// Summary cards for a query; errors are messages fit for the user.
        fn summary(&self, query: UsageQuery) -> BoxFuture<'_, Result<UsageSummary, String>>;
    }

    /// The shared handle put into Leptos context.
    pub type DataHandle = Arc<dyn DashboardData>;
}

/// Summary cards for a preset period (`24h`, `7d`, `30d`, `90d`) in a time zone.
#[server]
pub async fn get_summary(period: String, tz: String) -> Result<UsageSummary, ServerFnError> {
    let data = use_context::<DataHandle>()
        .ok_or_else(|| ServerFnError::new("the data source is not configured"))?;
    let period = shared::Period::parse(&period).ok_or_else(|| {
        ServerFnError::new(format!("period {period:?} is not one of 24h, 7d, 30d, 90d"))
    })?;
    let query = shared::UsageQuery {
        range: shared::DateRange::Preset(period),
        tz,
        ..Default::default()
    };
    data.summary(query).await.map_err(ServerFnError::new)
}
