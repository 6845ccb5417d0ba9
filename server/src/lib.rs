//! usage-analytics server: ingest, storage, queries and the host of the Leptos app.
//! docs/ARCHITECTURE.md maps the modules and how a request flows through them.

pub mod access;
pub mod admin;
pub mod alerting;
pub mod cli;
pub mod config;
pub mod dimension;
pub mod export;
pub mod ingest;
pub mod jobs;
pub mod pricing;
pub mod query;
pub mod rollup;
pub mod store;
pub mod web;

#[cfg(test)]
mod module_graph;

pub use config::Config;
pub use store::Store;
pub use web::{leptos_options, router, serve, serve_while_opening, AppState};
