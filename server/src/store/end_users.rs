//! End users' ids in stored events: erasure, and the key their ids are hashed with when
//! `UA_HASH_END_USERS=1` (docs/dimensions.md, "End users' data").

use super::{Backend, Store, StoreError};

/// Events looked at per erasure transaction (by id range), so ingest waits at most one.
const ERASE_SPAN: i64 = 100_000;

/// What an erased end user's id becomes.
pub const ERASED: &str = "(erased)";

impl Store {
    /// The key end users' ids are hashed with, made once (random) and kept in the database,
    /// so every replica and every restart hashes an id the same way.
    pub async fn end_user_hash_key(&self) -> Result<String, StoreError> {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let fresh = hex::encode(bytes);
        let insert = "INSERT INTO settings (name, value) VALUES ('end_user_hash_key', $1) \
                      ON CONFLICT (name) DO NOTHING";
        let select = "SELECT value FROM settings WHERE name = 'end_user_hash_key'";
        Ok(dispatch!(self, pool => {
            sqlx::query(insert).bind(&fresh).execute(pool).await?;
            sqlx::query_scalar(select).fetch_one(pool).await?
        }))
    }

    /// The hashing key if one was ever made (events may hold ids hashed with it).
    pub async fn stored_end_user_hash_key(&self) -> Result<Option<String>, StoreError> {
        let select = "SELECT value FROM settings WHERE name = 'end_user_hash_key'";
        Ok(dispatch!(self, pool => sqlx::query_scalar(select).fetch_optional(pool).await?))
    }

    /// From now on, ingest stores a keyed hash of each end user's id instead of the id.
    pub async fn enable_end_user_hashing(&self) -> Result<(), StoreError> {
        let key = self.end_user_hash_key().await?;
        if let Ok(mut slot) = self.end_user_key.write() {
            *slot = Some(key);
        }
        Ok(())
    }

    /// The key ingest hashes end users' ids with, when hashing is on.
    pub fn end_user_hashing(&self) -> Option<String> {
        self.end_user_key.read().ok().and_then(|k| k.clone())
    }

    /// Replaces the end-user id of every stored event whose id is one of `ids` with
    /// "(erased)", a span of event ids per transaction; answers how many events changed.
    pub async fn erase_end_user(&self, ids: &[String]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let last = self.max_event_id().await?;
        let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "UPDATE events SET end_user = $1 WHERE id > $2 AND id <= $3 AND end_user IN ({})",
            list.join(", ")
        );
        let mut changed = 0;
        let mut from = 0;
        while from < last {
            let to = from + ERASE_SPAN;
            let _writer = match self.backend {
                Backend::Sqlite(_) => Some(self.write_lock.lock().await),
                Backend::Postgres(_) => None,
            };
            changed += dispatch!(self, pool => {
                let mut q = sqlx::query(&sql).bind(ERASED).bind(from).bind(to);
                for id in ids {
                    q = q.bind(id);
                }
                q.execute(pool).await?.rows_affected()
            });
            from = to;
        }
        Ok(changed)
    }
}
