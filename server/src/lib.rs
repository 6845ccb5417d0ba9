//! usage-analytics server: ingest, storage, queries and the host of the Leptos app.
//! docs/ARCHITECTURE.md maps the modules and how a request flows through them.

pub mod access;
pub mod admin;
pub mod alerts;
pub mod bench;
pub mod budgets;
pub mod config;
pub mod export;
pub mod forecast;
pub mod ingest;
pub mod insights;
pub mod query;
pub mod retention;
pub mod rollup;
pub mod store;
pub mod web;
pub mod webhooks;

#[cfg(test)]
mod module_graph;

pub use config::Config;
pub use store::Store;
pub use web::{leptos_options, router, serve, serve_while_opening, AppState};
