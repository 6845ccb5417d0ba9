//! Storage of the metadata keys an admin declares as dimensions (docs/dimensions.md).

use super::{Backend, Store, StoreError};

/// A declared metadata key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredDimension {
    pub key: String,
    pub declared_at_ms: i64,
    pub declared_by: String,
}

impl Store {
    /// The declared keys, oldest first.
    pub async fn declared_dimensions(&self) -> Result<Vec<DeclaredDimension>, StoreError> {
        let sql = "SELECT meta_key, declared_at_ms, declared_by FROM dimensions ORDER BY declared_at_ms, meta_key";
        let rows: Vec<(String, i64, String)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(key, declared_at_ms, declared_by)| DeclaredDimension {
                key,
                declared_at_ms,
                declared_by,
            })
            .collect())
    }

    /// Declares `key`, unless it is declared already or `max` keys are; answers whether it
    /// was added. (On PostgreSQL two admins declaring at the same instant could pass the limit
    /// by one: each statement counts before the other commits.)
    pub async fn declare_dimension(
        &self,
        key: &str,
        max: i64,
        by: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO dimensions (meta_key, declared_at_ms, declared_by) \
                   SELECT $1, $2, $3 WHERE (SELECT COUNT(*) FROM dimensions) < $4 \
                   ON CONFLICT (meta_key) DO NOTHING";
        let added = dispatch!(self, pool => sqlx::query(sql)
            .bind(key).bind(now_ms).bind(by).bind(max)
            .execute(pool).await?.rows_affected());
        Ok(added == 1)
    }

    /// Whether `key` was declared.
    pub async fn remove_dimension(&self, key: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM dimensions WHERE meta_key = $1";
        Ok(
            dispatch!(self, pool => sqlx::query(sql).bind(key).execute(pool).await?.rows_affected())
                > 0,
        )
    }
}
