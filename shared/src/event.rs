//! One usage event as clients send it, and what ingest answers.

use serde::{Deserialize, Serialize};

/// Providers by the names of OpenTelemetry's GenAI conventions (`gen_ai.provider.name`),
/// the values the `provider` field is expected to hold; other names are kept as sent.
pub const PROVIDERS: [&str; 15] = [
    "openai",
    "anthropic",
    "gcp.gemini",
    "gcp.vertex_ai",
    "gcp.gen_ai",
    "azure.ai.openai",
    "azure.ai.inference",
    "aws.bedrock",
    "mistral_ai",
    "deepseek",
    "x_ai",
    "cohere",
    "groq",
    "perplexity",
    "ibm.watsonx.ai",
];

/// The service tier a request ran on, which picks the tier's price: batch is usually half
/// the list price, flex cheaper, priority dearer. Absent means the default tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ServiceTier {
    #[default]
    Default,
    Batch,
    Flex,
    Priority,
}

impl ServiceTier {
    pub const ALL: [ServiceTier; 4] = [
        ServiceTier::Default,
        ServiceTier::Batch,
        ServiceTier::Flex,
        ServiceTier::Priority,
    ];

    /// The name as sent and stored (`default`, `batch`, `flex`, `priority`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Default => "default",
            ServiceTier::Batch => "batch",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }

    /// The tier named `name` (exactly, lower case).
    pub fn from_name(name: &str) -> Option<ServiceTier> {
        ServiceTier::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Whether a request to the model succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    #[default]
    Success,
    Error,
}

/// One validated usage event: one request an application made to a language model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageEvent {
    /// Client idempotency key: an event with the same id and timestamp as one stored for the
    /// project is a duplicate (a retry); the same id at another timestamp is a new event.
    pub id: Option<String>,
    /// When the request happened, unix milliseconds UTC.
    pub timestamp_ms: i64,
    pub model: String,
    /// Who serves the model (OpenTelemetry's `gen_ai.provider.name` values, [`PROVIDERS`]).
    pub provider: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    /// The part of `cache_write_tokens` written to a 1-hour cache (Anthropic charges these
    /// more than 5-minute writes).
    #[serde(default)]
    pub cache_write_1h_tokens: i64,
    /// The tier the request ran on; `None` is the default tier.
    #[serde(default)]
    pub service_tier: Option<ServiceTier>,
    /// Cost sent by the client; `None` means "price it from the price table".
    pub cost_nanos: Option<i64>,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub status: EventStatus,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    /// End-user id of the calling application.
    pub user: Option<String>,
    /// A small JSON object, kept as its compact text.
    pub metadata: Option<String>,
}

/// What a successful ingest request reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestResponse {
    /// Events newly stored.
    pub accepted: u64,
    /// Events whose id and timestamp were already stored for the project (not counted again).
    pub duplicates: u64,
}

/// One reason a batch was refused: which event, which field, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Index of the event in the batch; `None` when the problem is with the body as a whole.
    pub index: Option<usize>,
    pub field: String,
    pub reason: String,
}

/// The body of every error answer of the JSON APIs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}
