//! Browser entry point: takes over the server-rendered page.

/// Called by the generated JS loader once the wasm module is ready.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A marker for end-to-end tests (and curious humans): clicks are handled from now on.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
