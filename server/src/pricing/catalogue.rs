//! The bundled price catalogue: list prices of the models people call (OpenAI, Anthropic,
//! Google, Mistral, DeepSeek, xAI, Cohere, and the same models on Azure, Bedrock and Vertex
//! AI), converted from LiteLLM's price file by scripts/convert-litellm-prices.py and embedded
//! in the binary (catalogue.json; LiteLLM's MIT notice in LICENSE-LiteLLM.txt beside it).
//! Nothing is fetched at run time.
//!
//! Matching a name as clients send it (`gpt-4o-2024-08-06`, `openai/gpt-4o`,
//! `us.anthropic.claude-sonnet-4-20250514-v1:0`, `models/gemini-2.5-pro`, `Claude-Sonnet-4`):
//! exactly (ignoring case), then without a routing prefix (`openai/`, `models/` …), then
//! without a region prefix (`us.`, `eu.` …) when the catalogue has no entry for the region;
//! only then a dated snapshot falls back to its family's price (`gpt-4o-2099-01-01` →
//! `gpt-4o`), marked as a fallback. Never across families: `gpt-4o-mini` is not `gpt-4o`.
//! The event's provider, when it names one the catalogue has the model for, picks that one.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// Prices of one tier, micro-USD per million tokens.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Rates {
    pub input: i64,
    pub output: i64,
    /// Cache reads; `None`: no discount (the input rate).
    pub cached_input: Option<i64>,
    /// Cache writes (5-minute at Anthropic); `None`: the input rate, never $0.
    pub cache_write: Option<i64>,
}

/// A long-context tier: when a request's input exceeds `above_input_tokens`, all its tokens
/// are charged at these rates.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct LongContext {
    pub above_input_tokens: i64,
    #[serde(flatten)]
    pub rates: Rates,
}

/// One model of one provider.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub model: String,
    pub provider: String,
    #[serde(flatten)]
    pub rates: Rates,
    /// Anthropic's 1-hour cache writes.
    pub cache_write_1h: Option<i64>,
    pub batch: Option<Rates>,
    pub flex: Option<Rates>,
    pub priority: Option<Rates>,
    pub long_context: Option<LongContext>,
}

#[derive(Deserialize)]
struct File {
    source: String,
    taken: String,
    models: Vec<Entry>,
}

/// How a name found its price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// The model itself (perhaps without a routing or region prefix).
    Exact,
    /// A dated snapshot priced as its family: snapshots can differ (the May 2024 gpt-4o cost
    /// $5 / $15, later ones $2.50 / $10), so the cost is marked as a fallback.
    Fallback,
}

/// The catalogue, indexed by lower-case model name.
pub struct Catalogue {
    pub source: String,
    /// When the prices were taken (YYYY-MM-DD).
    pub taken: String,
    entries: Vec<Entry>,
    by_name: HashMap<String, Vec<usize>>,
}

/// Routing prefixes clients and gateways put before a model name.
const PREFIXES: [&str; 16] = [
    "openai/",
    "azure/",
    "azure_ai/",
    "anthropic/",
    "models/",
    "google/",
    "gemini/",
    "vertex_ai/",
    "bedrock/",
    "mistral/",
    "mistralai/",
    "deepseek/",
    "xai/",
    "x-ai/",
    "cohere/",
    "publishers/google/models/",
];

/// Cross-region inference prefixes (Bedrock).
const REGIONS: [&str; 6] = ["us.", "eu.", "apac.", "jp.", "au.", "global."];

/// When several providers list a name, the model's maker first, then the clouds.
const PREFERENCE: [&str; 11] = [
    "openai",
    "anthropic",
    "gcp.gemini",
    "mistral_ai",
    "deepseek",
    "x_ai",
    "cohere",
    "gcp.vertex_ai",
    "azure.ai.openai",
    "aws.bedrock",
    "azure.ai.inference",
];

impl Catalogue {
    /// Reads a catalogue file (the bundled one, or an admin's newer copy).
    pub fn parse(json: &str) -> Result<Catalogue, String> {
        let file: File = serde_json::from_str(json).map_err(|e| format!("price catalogue: {e}"))?;
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in file.models.iter().enumerate() {
            by_name.entry(e.model.to_lowercase()).or_default().push(i);
        }
        for ids in by_name.values_mut() {
            let rank = |p: &str| PREFERENCE.iter().position(|x| *x == p).unwrap_or(99);
            ids.sort_by_key(|i| rank(&file.models[*i].provider));
        }
        Ok(Catalogue {
            source: file.source,
            taken: file.taken,
            entries: file.models,
            by_name,
        })
    }

    /// The catalogue embedded in the binary.
    pub fn bundled() -> &'static Catalogue {
        static BUNDLED: OnceLock<Catalogue> = OnceLock::new();
        BUNDLED.get_or_init(|| {
            Catalogue::parse(include_str!("catalogue.json"))
                .expect("the bundled catalogue is checked by a test")
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry of exactly this (lower-case) name, of `provider` if it has one.
    fn exact(&self, name: &str, provider: Option<&str>) -> Option<&Entry> {
        let ids = self.by_name.get(name)?;
        let of_provider =
            provider.and_then(|p| ids.iter().find(|i| self.entries[**i].provider == p));
        of_provider.or(ids.first()).map(|i| &self.entries[*i])
    }

    /// The price of a model name as a client sent it, and how it was found.
    pub fn resolve(&self, name: &str, provider: Option<&str>) -> Option<(&Entry, Match)> {
        let mut n = name.trim().to_lowercase();
        if let Some(e) = self.exact(&n, provider) {
            return Some((e, Match::Exact));
        }
        while let Some(rest) = PREFIXES.iter().find_map(|p| n.strip_prefix(p)) {
            n = rest.to_string();
        }
        if let Some(e) = self.exact(&n, provider) {
            return Some((e, Match::Exact));
        }
        if let Some(rest) = REGIONS.iter().find_map(|r| n.strip_prefix(r)) {
            n = rest.to_string();
            if let Some(e) = self.exact(&n, provider) {
                return Some((e, Match::Exact));
            }
        }
        let family = family_of(&n)?;
        self.exact(&family, provider).map(|e| (e, Match::Fallback))
    }
}

/// A dated snapshot's family: the name without its date or version suffix
/// (`-2024-08-06`, `-20250514`, `-2411`, `-001`, `-v1:0`, `@20240620`, `-latest`); `None`
/// if it has none.
fn family_of(name: &str) -> Option<String> {
    let mut n = name;
    if let Some((head, _)) = n.split_once('@') {
        n = head;
    }
    if let Some(i) = n.rfind("-v") {
        let tail = &n[i + 2..];
        if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit() || c == ':') {
            n = &n[..i];
        }
    }
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = n.split('-').collect();
    let keep = match parts.as_slice() {
        // -YYYY-MM-DD
        [.., y, m, d]
            if y.len() == 4
                && m.len() == 2
                && d.len() == 2
                && digits(y)
                && digits(m)
                && digits(d) =>
        {
            parts.len() - 3
        }
        // -YYYYMMDD, -YYMM (Mistral's 2411), -MMDD (OpenAI's 0613), -001, -latest
        [.., last] if (matches!(last.len(), 3 | 4 | 8) && digits(last)) || *last == "latest" => {
            parts.len() - 1
        }
        _ => parts.len(),
    };
    let family = parts[..keep.max(1)].join("-");
    (family != name).then_some(family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_catalogue_holds_the_models_people_use() {
        let c = Catalogue::bundled();
        assert!(c.len() >= 150, "{} models", c.len());
        for p in [
            "openai",
            "anthropic",
            "gcp.gemini",
            "mistral_ai",
            "deepseek",
            "x_ai",
            "cohere",
        ] {
            assert!(
                c.entries().iter().any(|e| e.provider == p),
                "no model of {p}"
            );
        }
        for p in ["azure.ai.openai", "aws.bedrock", "gcp.vertex_ai"] {
            assert!(
                c.entries().iter().any(|e| e.provider == p),
                "no model of {p}"
            );
        }
        // Every provider is one of the conventions' names.
        for e in c.entries() {
            assert!(shared::PROVIDERS.contains(&e.provider.as_str()), "{e:?}");
            assert!(e.rates.input >= 0 && e.rates.output >= 0, "{e:?}");
        }
    }

    #[test]
    fn names_match_exactly_then_without_prefixes_then_by_family() {
        let c = Catalogue::bundled();
        let found = |name: &str| c.resolve(name, None).map(|(e, m)| (e.model.clone(), m));
        assert_eq!(
            found("gpt-4o-mini"),
            Some(("gpt-4o-mini".into(), Match::Exact))
        );
        assert_eq!(
            found("GPT-4o-Mini"),
            Some(("gpt-4o-mini".into(), Match::Exact))
        );
        assert_eq!(
            found("openai/gpt-4.1"),
            Some(("gpt-4.1".into(), Match::Exact))
        );
        assert_eq!(
            found("models/gemini-2.5-pro").map(|f| f.1),
            Some(Match::Exact)
        );
        // A snapshot the catalogue lists is its own price, not its family's.
        assert_eq!(
            found("gpt-4o-2024-05-13"),
            Some(("gpt-4o-2024-05-13".into(), Match::Exact))
        );
        // One it does not list falls back to the family, marked so.
        assert_eq!(
            found("gpt-4o-2099-01-01"),
            Some(("gpt-4o".into(), Match::Fallback))
        );
        // Never across families.
        assert_eq!(
            found("gpt-4o-mini-2099-01-01").map(|f| f.0),
            Some("gpt-4o-mini".into())
        );
        assert_eq!(found("gpt-4o-minix"), None);
        assert_eq!(found("my-azure-deployment"), None);
        // Bedrock's regional names: the region's own entry when there is one.
        let (e, m) = c
            .resolve("us.anthropic.claude-sonnet-4-20250514-v1:0", None)
            .unwrap();
        assert_eq!((e.provider.as_str(), m), ("aws.bedrock", Match::Exact));
    }

    #[test]
    fn the_provider_narrows_the_match() {
        let c = Catalogue::bundled();
        let (plain, _) = c.resolve("gpt-4o", None).unwrap();
        assert_eq!(plain.provider, "openai");
        if let Some((azure, _)) = c.resolve("gpt-4o", Some("azure.ai.openai")) {
            assert!(azure.provider == "azure.ai.openai" || azure.provider == "openai");
        }
        // A provider the catalogue lacks the model for does not hide the model's price.
        let (other, _) = c.resolve("gpt-4o", Some("groq")).unwrap();
        assert_eq!(other.provider, "openai");
    }

    #[test]
    fn families_drop_only_a_date_or_version() {
        assert_eq!(family_of("gpt-4o-2024-08-06"), Some("gpt-4o".into()));
        assert_eq!(
            family_of("claude-sonnet-4-20250514"),
            Some("claude-sonnet-4".into())
        );
        assert_eq!(
            family_of("claude-3-5-sonnet@20240620"),
            Some("claude-3-5-sonnet".into())
        );
        assert_eq!(
            family_of("anthropic.claude-sonnet-4-20250514-v1:0"),
            Some("anthropic.claude-sonnet-4".into())
        );
        assert_eq!(
            family_of("mistral-large-latest"),
            Some("mistral-large".into())
        );
        assert_eq!(
            family_of("mistral-large-2411"),
            Some("mistral-large".into())
        );
        assert_eq!(family_of("gpt-4o-mini"), None);
        assert_eq!(family_of("gpt-4o"), None);
    }
}
