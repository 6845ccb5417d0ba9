//! The Models panel.

use leptos::prelude::*;
use shared::{format_count, ModelUsage};

use super::table::{BreakdownTable, Row};
use super::AccountResource;
use crate::filters;

impl From<ModelUsage> for Row {
    fn from(m: ModelUsage) -> Row {
        Row {
            price: Some(price_note(&m)),
            name: m.model,
            detail: m.provider,
            link: None,
            profile: None,
            p95_ms: None,
            stats: m.stats,
        }
    }
}

/// "catalogue", "no price · 12 unpriced", "fallback · 5 by fallback": a model's price source
/// and the requests of the range stored without an exact price.
pub(crate) fn price_note(m: &ModelUsage) -> String {
    let mut note = format!("price: {}", m.price_source.label());
    if m.unpriced_requests > 0 {
        note.push_str(&format!(
            " · {} unpriced",
            format_count(m.unpriced_requests)
        ));
    }
    if m.fallback_requests > 0 {
        note.push_str(&format!(
            " · {} by fallback",
            format_count(m.fallback_requests)
        ));
    }
    note
}

/// The Models panel: notices for models without an exact price (with a link to set one, for
/// admins), then the table.
#[component]
pub(crate) fn ModelsPanel(models: Vec<ModelUsage>, account: AccountResource) -> impl IntoView {
    let unpriced: Vec<(String, i64)> = (models.iter())
        .filter(|m| m.unpriced_requests > 0)
        .map(|m| (m.model.clone(), m.unpriced_requests))
        .collect();
    let fallback: Vec<(String, i64)> = (models.iter())
        .filter(|m| m.fallback_requests > 0)
        .map(|m| (m.model.clone(), m.fallback_requests))
        .collect();
    let admin = move || {
        account
            .get()
            .and_then(|a| a.ok())
            .is_some_and(|a| a.role == shared::Role::Admin)
    };
    let list = move |rows: Vec<(String, i64)>| {
        rows.into_iter()
            .map(|(model, n)| {
                let href = format!("/admin?model={}#prices", filters::encode(&model));
                view! {
                    <li>
                        <span class="model">{model}</span>
                        {format!(" · {} requests", format_count(n))}
                        {move || admin().then(|| view! { " · " <a href=href.clone()>"set a price"</a> })}
                    </li>
                }
            })
            .collect_view()
    };
    let total = |rows: &[(String, i64)]| rows.iter().map(|(_, n)| n).sum::<i64>();
    let unpriced_note = (!unpriced.is_empty()).then(|| {
        let n = total(&unpriced);
        view! {
            <div class="note warn" data-testid="unpriced-models">
                <p><strong>"Unpriced: "</strong>{format!("{} requests of models without a price count as $0:", format_count(n))}</p>
                <ul>{list(unpriced)}</ul>
            </div>
        }
    });
    let fallback_note = (!fallback.is_empty()).then(|| {
        let n = total(&fallback);
        view! {
            <div class="note" data-testid="fallback-models">
                <p><strong>"Fallback prices: "</strong>{format!("{} requests of snapshots the catalogue does not list are priced at their family's list price:", format_count(n))}</p>
                <ul>{list(fallback)}</ul>
            </div>
        }
    });
    view! {
        {unpriced_note}
        {fallback_note}
        <BreakdownTable rows=models.into_iter().map(Row::from).collect() what="Model"/>
    }
}
