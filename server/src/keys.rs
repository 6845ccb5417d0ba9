//! Ingest keys: `ua_<8 chars>_<32 chars>`. The first part is the visible, unique prefix;
//! only a SHA-256 of the whole key is stored (the key is random, so a slow hash adds nothing).

use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new random key and its prefix.
pub fn generate() -> (String, String) {
    let mut rng = rand::thread_rng();
    let mut part = |n: usize| -> String {
        (&mut rng)
            .sample_iter(&Alphanumeric)
            .take(n)
            .map(|b| (b as char).to_ascii_lowercase())
            .collect()
    };
    let prefix = format!("ua_{}", part(8));
    let key = format!("{prefix}_{}", part(32));
    (prefix, key)
}

/// The prefix of a well-formed key.
pub fn prefix_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("ua_")?;
    let (head, secret) = rest.split_once('_')?;
    (head.len() == 8 && secret.len() == 32).then(|| &key[..11])
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
