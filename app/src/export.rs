//! Export buttons: fetch the file, hand it to the browser as a download, and say how it went.

use leptos::prelude::*;
use shared::UsageQuery;

use crate::filters::api_params;

/// What the last export did.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Done(String),
    Failed(String),
}

/// Excel, CSV and raw-event exports of exactly the current filters and time zone; the
/// workbook also holds the Breakdown panel's dimension (`by`) as a sheet.
#[component]
pub fn ExportBar(query: Memo<UsageQuery>, by: Memo<String>) -> impl IntoView {
    let run = Action::new_local(move |path: &String| {
        let mut url = format!("{path}{}", api_params(&query.get_untracked()));
        // The workbook's breakdown sheet follows the Breakdown panel's dimension.
        if path.contains("format=xlsx") {
            url.push_str(&format!(
                "&by={}",
                crate::filters::encode(&by.get_untracked())
            ));
        }
        async move {
            match download(&url).await {
                Ok(file) => Outcome::Done(format!("Usage data exported successfully ({file})")),
                Err(e) => Outcome::Failed(format!("Export failed: {e}")),
            }
        }
    });
    let button = move |label: &'static str, path: &'static str| {
        view! {
            <button type="button" disabled=move || run.pending().get()
                on:click=move |_| { run.dispatch(path.to_string()); }>
                {label}
            </button>
        }
    };
    view! {
        <div class="exports" role="group" aria-label="Export">
            {button("Export Excel", "/api/v1/usage/export?format=xlsx&")}
            {button("Export CSV", "/api/v1/usage/export?format=csv&table=daily&")}
            {button("Raw events", "/api/v1/events/export?format=csv&")}
            <span class="export-status" role="status" aria-live="polite" data-testid="export-status">
                {move || if run.pending().get() {
                    view! { <span class="spinner" aria-hidden="true"></span> "Exporting…" }.into_any()
                } else {
                    match run.value().get() {
                        Some(Outcome::Done(m)) => view! { <span class="ok">{m}</span> }.into_any(),
                        Some(Outcome::Failed(m)) => view! { <span class="failed">{m}</span> }.into_any(),
                        None => ().into_any(),
                    }
                }}
            </span>
        </div>
    }
}

/// Fetches `url` and saves the answer under the server's file name; on an error answer,
/// returns the server's message.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
async fn download(url: &str) -> Result<String, String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let js = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let window = web_sys::window().ok_or("no window")?;
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|_| "the server could not be reached".to_string())?
        .dyn_into()
        .map_err(js)?;
    if !resp.ok() {
        let text = JsFuture::from(resp.text().map_err(js)?)
            .await
            .map_err(js)?
            .as_string()
            .unwrap_or_default();
        let message = serde_json::from_str::<shared::ApiError>(&text)
            .map(|e| match e.problems.first() {
                Some(p) => format!("{}: {}", p.field, p.reason),
                None => e.error,
            })
            .unwrap_or_else(|_| format!("HTTP {}", resp.status()));
        return Err(message);
    }
    let name = resp
        .headers()
        .get("content-disposition")
        .ok()
        .flatten()
        .and_then(|d| {
            d.split("filename=\"")
                .nth(1)
                .map(|f| f.trim_end_matches('"').to_string())
        })
        .unwrap_or_else(|| "usage-export".into());
    let blob: web_sys::Blob = JsFuture::from(resp.blob().map_err(js)?)
        .await
        .map_err(js)?
        .dyn_into()
        .map_err(js)?;
    let href = web_sys::Url::create_object_url_with_blob(&blob).map_err(js)?;
    let a: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .map_err(js)?
        .dyn_into()
        .map_err(|_| "cannot create a link".to_string())?;
    a.set_href(&href);
    a.set_download(&name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&href);
    Ok(name)
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
async fn download(_url: &str) -> Result<String, String> {
    Err("exports run in the browser".into())
}
