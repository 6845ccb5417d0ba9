//! Browser entry point: takes over the server-rendered page.

/// Called by the generated JS loader once the wasm module is ready. Hydration is asynchronous
/// because the admin and end-user pages are lazy routes: their code is a wasm chunk of its
/// own, fetched before such a page hydrates (docs/ARCHITECTURE.md, "The browser's wasm").
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        let root = leptos::tachys::dom::body();
        let handle = leptos::mount::hydrate_from_async(root, app::App).await;
        handle.forget();
        // A marker for end-to-end tests (and curious humans): clicks are handled from now on.
        if let Some(root) = leptos::prelude::document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
