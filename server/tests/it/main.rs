//! The integration tests, in one binary (one link of the server and the app, not one per
//! file): each module tests one surface against a real server on port 0 over a fresh SQLite
//! file and a fresh PostgreSQL database (`common`, the harness). `scripts/test.sh` runs them
//! with cargo-nextest, one process per test, as the server runs: a single Tokio runtime per
//! process.
//!
//!     cargo nextest run -p server golden      # one module (or any test name filter)

#[macro_use]
mod common;

mod access;
mod alerts;
mod bench;
mod budgets;
mod durability;
mod export;
mod forecast;
mod golden;
mod import;
mod ingest;
mod insights;
mod live;
mod migrations;
mod otlp;
mod prices;
mod query;
mod reprice;
mod rest;
mod retention;
