//! Storage of the organisation's pricing over the catalogue: name rules, discounts, and
//! imported catalogues (the newest import replaces the bundled catalogue; an import without
//! a body goes back to the bundled one).

use shared::{Discount, DiscountScope, NameRule};

use super::{Backend, Store, StoreError};

impl Store {
    /// Name rules in the order they are tried (oldest first).
    pub async fn price_rules(&self) -> Result<Vec<NameRule>, StoreError> {
        let sql = "SELECT id, pattern, model FROM price_rules ORDER BY id";
        let rows: Vec<(i64, String, String)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, pattern, model)| NameRule { id, pattern, model })
            .collect())
    }

    pub async fn add_price_rule(&self, pattern: &str, model: &str) -> Result<i64, StoreError> {
        let sql = "INSERT INTO price_rules (pattern, model) VALUES ($1, $2) RETURNING id";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(pattern).bind(model).fetch_one(pool).await?))
    }

    /// Whether rule `id` existed.
    pub async fn delete_price_rule(&self, id: i64) -> Result<bool, StoreError> {
        let sql = "DELETE FROM price_rules WHERE id = $1";
        Ok(
            dispatch!(self, pool => sqlx::query(sql).bind(id).execute(pool).await?.rows_affected())
                > 0,
        )
    }

    /// Every discount, oldest first.
    pub async fn price_discounts(&self) -> Result<Vec<Discount>, StoreError> {
        let sql = "SELECT id, scope, name, basis_points, effective_from_ms FROM price_discounts \
                   ORDER BY id";
        let rows: Vec<(i64, String, String, i64, i64)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .filter_map(|(id, scope, name, basis_points, effective_from_ms)| {
                Some(Discount {
                    id,
                    scope: DiscountScope::parse(&scope)?,
                    name,
                    basis_points,
                    effective_from_ms,
                })
            })
            .collect())
    }

    pub async fn add_price_discount(
        &self,
        scope: DiscountScope,
        name: &str,
        basis_points: i64,
        effective_from_ms: i64,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO price_discounts (scope, name, basis_points, effective_from_ms) \
                   VALUES ($1, $2, $3, $4) RETURNING id";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(scope.as_str()).bind(name).bind(basis_points).bind(effective_from_ms)
            .fetch_one(pool).await?))
    }

    /// Whether discount `id` existed.
    pub async fn delete_price_discount(&self, id: i64) -> Result<bool, StoreError> {
        let sql = "DELETE FROM price_discounts WHERE id = $1";
        Ok(
            dispatch!(self, pool => sqlx::query(sql).bind(id).execute(pool).await?.rows_affected())
                > 0,
        )
    }

    /// The newest catalogue import's id (its version), if any.
    pub async fn price_catalogue_version(&self) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT MAX(id) FROM price_catalogues";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// The body of import `id` (`None`: back to the bundled catalogue).
    pub async fn price_catalogue_body(&self, id: i64) -> Result<Option<String>, StoreError> {
        let sql = "SELECT body FROM price_catalogues WHERE id = $1";
        let body: Option<Option<String>> =
            dispatch!(self, pool => sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await?);
        Ok(body.flatten())
    }

    /// Records an import (`body` `None`: back to the bundled catalogue); answers its id.
    pub async fn import_price_catalogue(
        &self,
        body: Option<&str>,
        imported_at_ms: i64,
    ) -> Result<i64, StoreError> {
        let sql =
            "INSERT INTO price_catalogues (imported_at_ms, body) VALUES ($1, $2) RETURNING id";
        Ok(dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(imported_at_ms).bind(body).fetch_one(pool).await?))
    }
}
