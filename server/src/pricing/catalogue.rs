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
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// Prices of one tier, micro-USD per million tokens.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Rates {
    pub input: i64,
    pub output: i64,
    /// Cache reads; `None`: no discount (the input rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<i64>,
    /// Cache writes (5-minute at Anthropic); `None`: the input rate, never $0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<i64>,
}

/// A long-context tier: when a request's input exceeds `above_input_tokens`, all its tokens
/// are charged at these rates.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct LongContext {
    pub above_input_tokens: i64,
    #[serde(flatten)]
    pub rates: Rates,
}

/// One model of one provider.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub model: String,
    pub provider: String,
    #[serde(flatten)]
    pub rates: Rates,
    /// Anthropic's 1-hour cache writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<Rates>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flex: Option<Rates>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Rates>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
    /// Reads a catalogue file (the bundled one, or an admin's newer copy), checking every
    /// entry: a name and provider, prices from 0 to $1M per million tokens, a long-context
    /// threshold above 0. The first bad entry is named.
    pub fn parse(json: &str) -> Result<Catalogue, String> {
        let file: File = serde_json::from_str(json).map_err(|e| format!("price catalogue: {e}"))?;
        if file.models.is_empty() {
            return Err("price catalogue: no models".into());
        }
        for (i, e) in file.models.iter().enumerate() {
            check_entry(e).map_err(|why| {
                format!("price catalogue: model {} ({:?}): {why}", i + 1, e.model)
            })?;
        }
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
    pub fn bundled() -> Arc<Catalogue> {
        static BUNDLED: OnceLock<Arc<Catalogue>> = OnceLock::new();
        BUNDLED
            .get_or_init(|| {
                Arc::new(
                    Catalogue::parse(include_str!("catalogue.json"))
                        .expect("the bundled catalogue is checked by a test"),
                )
            })
            .clone()
    }

    /// The catalogue as a file of the bundled one's format (one model per line).
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\n \"source\": {},\n \"taken\": {},\n \"unit\": \"micro-USD per million tokens\",\n \"models\": [\n",
            serde_json::to_string(&self.source).unwrap_or_default(),
            serde_json::to_string(&self.taken).unwrap_or_default()
        );
        let lines: Vec<String> = (self.entries.iter())
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect();
        out.push_str(&lines.join(",\n"));
        out.push_str("\n ]\n}\n");
        out
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

/// Largest price accepted: $1M per million tokens, in micro-USD.
const MAX_RATE: i64 = 1_000_000 * 1_000_000;

fn check_entry(e: &Entry) -> Result<(), String> {
    if e.model.trim().is_empty() || e.model.len() > 256 {
        return Err("the model name must be 1 to 256 characters".into());
    }
    if e.provider.trim().is_empty() || e.provider.len() > 64 {
        return Err("the provider must be 1 to 64 characters".into());
    }
    let rate = |what: &str, v: i64| {
        if (0..=MAX_RATE).contains(&v) {
            Ok(())
        } else {
            Err(format!(
                "{what} {v} is not a price from 0 to {MAX_RATE} micro-USD per 1M tokens"
            ))
        }
    };
    let rates = |tier: &str, r: &Rates| -> Result<(), String> {
        rate(&format!("{tier}input"), r.input)?;
        rate(&format!("{tier}output"), r.output)?;
        if let Some(v) = r.cached_input {
            rate(&format!("{tier}cached_input"), v)?;
        }
        if let Some(v) = r.cache_write {
            rate(&format!("{tier}cache_write"), v)?;
        }
        Ok(())
    };
    rates("", &e.rates)?;
    if let Some(v) = e.cache_write_1h {
        rate("cache_write_1h", v)?;
    }
    for (tier, r) in [
        ("batch.", &e.batch),
        ("flex.", &e.flex),
        ("priority.", &e.priority),
    ] {
        if let Some(r) = r {
            rates(tier, r)?;
        }
    }
    if let Some(lc) = &e.long_context {
        if lc.above_input_tokens <= 0 {
            return Err("long_context.above_input_tokens must be above 0".into());
        }
        rates("long_context.", &lc.rates)?;
    }
    Ok(())
}

/// The catalogue in force: the newest import (parsed once per import and kept), else the
/// bundled one. An import that no longer parses (it was checked when imported) falls back to
/// the bundled catalogue, with a warning.
pub async fn in_force(store: &Store) -> Result<Arc<Catalogue>, StoreError> {
    let Some(version) = store.price_catalogue_version().await? else {
        return Ok(Catalogue::bundled());
    };
    if let Some(c) = store.cached::<Catalogue>(version) {
        return Ok(c);
    }
    let c = match store.price_catalogue_body(version).await? {
        None => Catalogue::bundled(),
        Some(body) => match Catalogue::parse(&body) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::warn!(import = version, error = %e, "imported price catalogue unreadable; using the bundled one");
                Catalogue::bundled()
            }
        },
    };
    store.cache(version, c.clone());
    Ok(c)
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
