//! Secrets handed to programs: ingest keys `ua_<8 chars>_<32 chars>` and read API tokens
//! `uat_<8 chars>_<32 chars>`. The first part is the visible, unique prefix; only a SHA-256
//! of the whole secret is stored (it is random, so a slow hash adds nothing).

use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new random ingest key and its prefix.
pub fn generate() -> (String, String) {
    generate_with("ua")
}

/// A new random read API token and its prefix.
pub fn generate_token() -> (String, String) {
    generate_with("uat")
}

fn generate_with(kind: &str) -> (String, String) {
    let mut rng = rand::thread_rng();
    let mut part = |n: usize| -> String {
        (&mut rng)
            .sample_iter(&Alphanumeric)
            .take(n)
            .map(|b| (b as char).to_ascii_lowercase())
            .collect()
    };
    let prefix = format!("{kind}_{}", part(8));
    let key = format!("{prefix}_{}", part(32));
    (prefix, key)
}

/// The prefix of a well-formed ingest key.
pub fn prefix_of(key: &str) -> Option<&str> {
    prefix_with(key, "ua_")
}

/// The prefix of a well-formed read API token.
pub fn token_prefix_of(token: &str) -> Option<&str> {
    prefix_with(token, "uat_")
}

fn prefix_with<'a>(secret: &'a str, kind: &str) -> Option<&'a str> {
    let rest = secret.strip_prefix(kind)?;
    let (head, random) = rest.split_once('_')?;
    (head.len() == 8 && random.len() == 32).then(|| &secret[..kind.len() + 8])
}

/// A random session cookie value (256 bits, hex).
pub fn session_secret() -> String {
    let bytes: [u8; 32] = rand::thread_rng().gen();
    hex::encode(bytes)
}

/// Hex SHA-256 of a key, as stored.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compares a presented key with a stored hash in constant time.
pub fn hash_matches(key: &str, stored: &str) -> bool {
    hash(key).as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_has_its_prefix_and_matches_only_its_hash() {
        let (prefix, key) = generate();
        assert_eq!(prefix_of(&key), Some(prefix.as_str()));
        assert!(hash_matches(&key, &hash(&key)));
        let (_, other) = generate();
        assert!(!hash_matches(&other, &hash(&key)));
    }

    #[test]
    fn tokens_and_ingest_keys_cannot_be_mistaken_for_each_other() {
        let (prefix, token) = generate_token();
        assert_eq!(token_prefix_of(&token), Some(prefix.as_str()));
        assert_eq!(prefix_of(&token), None);
        let (_, key) = generate();
        assert_eq!(token_prefix_of(&key), None);
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        for k in [
            "",
            "ua_",
            "ua_short_x",
            "xx_abcdefgh_abcdefghabcdefghabcdefghabcdefgh",
        ] {
            assert_eq!(prefix_of(k), None, "{k}");
        }
    }
}
