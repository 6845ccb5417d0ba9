//! Alerting: budgets (spend limits checked after every stored batch), metric rules (error
//! rate, p95 latency, volume over a sliding window) and the webhooks that carry both.

pub mod address_guard;
pub mod budgets;
pub mod rules;
pub mod webhooks;
