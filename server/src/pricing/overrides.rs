//! The organisation's own rules over the catalogue: name rules (a model name as clients send
//! it → the catalogue model it is, e.g. an Azure deployment name) and discounts (a percentage
//! off the catalogue's list price for a provider or a model, from a date).

pub use shared::{Discount, DiscountScope, NameRule};

/// Longest pattern or name accepted.
pub const MAX_PATTERN_LEN: usize = 256;

/// Whether `name` matches `pattern`: `*` is any run of characters (also none), everything
/// else matches itself, ignoring case.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    // Greedy with backtracking to the last star: linear in practice, never exponential.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && p[i] != '*' && p[i] == n[j] {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// The catalogue model the first matching rule names for `name` (rules in their order).
pub fn rule_for<'a>(rules: &'a [NameRule], name: &str) -> Option<&'a NameRule> {
    rules.iter().find(|r| matches(&r.pattern, name))
}

/// The discount in force at `ts_ms` for a catalogue price of `model` (as sent, or as the
/// catalogue names it) served by `provider`: a model's own discount wins over its
/// provider's; among several of one kind, the latest in force.
pub fn discount_for<'a>(
    discounts: &'a [Discount],
    models: &[&str],
    provider: &str,
    ts_ms: i64,
) -> Option<&'a Discount> {
    let latest = |scope: DiscountScope, hit: &dyn Fn(&str) -> bool| {
        (discounts.iter())
            .filter(|d| d.scope == scope && d.effective_from_ms <= ts_ms && hit(&d.name))
            .max_by_key(|d| (d.effective_from_ms, d.id))
    };
    latest(DiscountScope::Model, &|n| {
        models.iter().any(|m| m.eq_ignore_ascii_case(n))
    })
    .or_else(|| latest(DiscountScope::Provider, &|n| n == provider))
}

/// `nanos` less `basis_points` / 10,000 of it, rounded half up.
pub fn discounted(nanos: i64, basis_points: i64) -> i64 {
    let kept = 10_000 - basis_points.clamp(0, 10_000);
    ((nanos as i128 * kept as i128 + 5_000) / 10_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run_and_case_is_ignored() {
        assert!(matches("azure/my-gpt4o-*", "azure/my-gpt4o-eastus"));
        assert!(matches("azure/my-gpt4o-*", "Azure/My-GPT4o-"));
        assert!(matches("*-prod", "chat-model-prod"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(matches("exact", "EXACT"));
        assert!(!matches("exact", "exactly"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("*", ""));
        // Many stars against a long non-matching name stay fast (no exponential backtracking).
        let long = "a".repeat(5_000);
        assert!(!matches("*a*a*a*a*a*a*a*a*b", &long));
    }

    #[test]
    fn a_models_discount_wins_over_its_providers_and_the_latest_in_force_applies() {
        let d = |id, scope, name: &str, bp, from| Discount {
            id,
            scope,
            name: name.into(),
            basis_points: bp,
            effective_from_ms: from,
        };
        let all = [
            d(1, DiscountScope::Provider, "openai", 1_000, 0),
            d(2, DiscountScope::Provider, "openai", 2_000, 100),
            d(3, DiscountScope::Model, "gpt-4o", 500, 50),
        ];
        let pick = |models: &[&str], ts| discount_for(&all, models, "openai", ts).map(|d| d.id);
        assert_eq!(pick(&["gpt-4o-mini"], 10), Some(1));
        assert_eq!(pick(&["gpt-4o-mini"], 100), Some(2));
        assert_eq!(
            pick(&["gpt-4o"], 10),
            Some(1),
            "the model's discount starts at 50"
        );
        assert_eq!(pick(&["azure/x", "gpt-4o"], 60), Some(3));
        assert_eq!(discount_for(&all, &["claude"], "anthropic", 60), None);
        assert_eq!(discounted(1_000_000, 1_500), 850_000);
        assert_eq!(discounted(3, 5_000), 2, "half of 3 nano-USD rounds half up");
    }
}
