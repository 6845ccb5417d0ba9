//! Projects, ingest keys, the price table and model names.

use std::collections::HashMap;

use shared::ModelPrice;

use super::{now_ms, Backend, KeyInfo, Project, Store, StoreError};

impl Store {
    /// Creates a project; names are unique.
    pub async fn create_project(&self, name: &str) -> Result<Project, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(StoreError::Conflict(
                "a project name must have 1 to 200 characters".into(),
            ));
        }
        let created = now_ms();
        let sql = "INSERT INTO projects (name, created_at) VALUES ($1, $2) \
                   ON CONFLICT (name) DO NOTHING RETURNING id";
        let id: Option<i64> = dispatch!(self, pool => sqlx::query_scalar(sql)
            .bind(name).bind(created).fetch_optional(pool).await?);
        match id {
            Some(id) => Ok(Project {
                id,
                name: name.to_string(),
                created_at_ms: created,
            }),
            None => Err(StoreError::Conflict(format!(
                "a project named {name:?} already exists"
            ))),
        }
    }

    /// All projects, by name.
    pub async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let sql = "SELECT id, name, created_at FROM projects ORDER BY name";
        let rows: Vec<(i64, String, i64)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at_ms)| Project {
                id,
                name,
                created_at_ms,
            })
            .collect())
    }

    /// Renames a project; names stay unique. Events, keys, budgets and scopes refer to the
    /// project by id, so they follow the new name.
    pub async fn rename_project(&self, name: &str, new_name: &str) -> Result<Project, StoreError> {
        let new_name = new_name.trim();
        if new_name.is_empty() || new_name.chars().count() > 200 {
            return Err(StoreError::Conflict(
                "a project name must have 1 to 200 characters".into(),
            ));
        }
        let mut project = self.project_by_name(name).await?;
        if project.name == new_name {
            return Ok(project);
        }
        let sql = "UPDATE projects SET name = $1 WHERE id = $2 \
                   AND NOT EXISTS (SELECT 1 FROM projects WHERE name = $1)";
        let done = dispatch!(self, pool => sqlx::query(sql)
            .bind(new_name).bind(project.id).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::Conflict(format!(
                "a project named {new_name:?} exists"
            )));
        }
        project.name = new_name.to_string();
        Ok(project)
    }

    /// The project with this exact name.
    pub async fn project_by_name(&self, name: &str) -> Result<Project, StoreError> {
        self.list_projects()
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::NotFound(format!("no project named {name:?}")))
    }

    /// Creates an ingest key for a project and returns the full key; only its hash is kept.
    pub async fn create_key(&self, project: &str) -> Result<(KeyInfo, String), StoreError> {
        let project = self.project_by_name(project).await?;
        let (prefix, key) = crate::access::secrets::generate();
        let created = now_ms();
        let sql = "INSERT INTO api_keys (project_id, prefix, key_hash, created_at) \
                   VALUES ($1, $2, $3, $4)";
        dispatch!(self, pool => sqlx::query(sql)
            .bind(project.id).bind(&prefix).bind(crate::access::secrets::hash(&key)).bind(created)
            .execute(pool).await.map(|_| ())?);
        let info = KeyInfo {
            prefix,
            project: project.name,
            created_at_ms: created,
            revoked_at_ms: None,
        };
        Ok((info, key))
    }

    /// All ingest keys, newest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let sql = "SELECT k.prefix, p.name, k.created_at, k.revoked_at FROM api_keys k \
                   JOIN projects p ON p.id = k.project_id ORDER BY k.created_at DESC, k.id DESC";
        let rows: Vec<(String, String, i64, Option<i64>)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(prefix, project, created_at_ms, revoked_at_ms)| KeyInfo {
                prefix,
                project,
                created_at_ms,
                revoked_at_ms,
            })
            .collect())
    }

    /// Revokes the key with this prefix; it stops working at once.
    pub async fn revoke_key(&self, prefix: &str) -> Result<(), StoreError> {
        let sql = "UPDATE api_keys SET revoked_at = $1 WHERE prefix = $2 AND revoked_at IS NULL";
        let done = dispatch!(self, pool => sqlx::query(sql)
            .bind(now_ms()).bind(prefix).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound(format!(
                "no active key with prefix {prefix:?}"
            )));
        }
        Ok(())
    }

    /// The project an ingest key writes to, or `None` for an unknown or revoked key.
    /// The project and id of a valid, unrevoked ingest key.
    pub async fn authenticate_key(&self, key: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let Some(prefix) = crate::access::secrets::prefix_of(key) else {
            return Ok(None);
        };
        let sql = "SELECT project_id, id, key_hash FROM api_keys \
                   WHERE prefix = $1 AND revoked_at IS NULL";
        let row: Option<(i64, i64, String)> = dispatch!(self, pool => sqlx::query_as(sql)
            .bind(prefix).fetch_optional(pool).await?);
        Ok(row.and_then(|(project_id, key_id, stored)| {
            crate::access::secrets::hash_matches(key, &stored).then_some((project_id, key_id))
        }))
    }

    /// Records a price for a model from a date on (replacing one set for the same instant).
    pub async fn set_price(&self, p: &ModelPrice) -> Result<(), StoreError> {
        let sql = "INSERT INTO model_prices (model, effective_from, input_micros_per_mtok, \
                   cached_input_micros_per_mtok, cache_write_micros_per_mtok, output_micros_per_mtok) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (model, effective_from) DO UPDATE SET \
                   input_micros_per_mtok = excluded.input_micros_per_mtok, \
                   cached_input_micros_per_mtok = excluded.cached_input_micros_per_mtok, \
                   cache_write_micros_per_mtok = excluded.cache_write_micros_per_mtok, \
                   output_micros_per_mtok = excluded.output_micros_per_mtok";
        dispatch!(self, pool => sqlx::query(sql)
            .bind(&p.model).bind(p.effective_from_ms).bind(p.input).bind(p.cached_input)
            .bind(p.cache_write).bind(p.output).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Every price row, by model and date.
    pub async fn list_prices(&self) -> Result<Vec<ModelPrice>, StoreError> {
        let sql =
            "SELECT model, effective_from, input_micros_per_mtok, cached_input_micros_per_mtok, \
                   cache_write_micros_per_mtok, output_micros_per_mtok FROM model_prices \
                   ORDER BY model, effective_from";
        let rows: Vec<(String, i64, i64, i64, i64, i64)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(model, effective_from_ms, input, cached_input, cache_write, output)| ModelPrice {
                    model,
                    effective_from_ms,
                    input,
                    cached_input,
                    cache_write,
                    output,
                },
            )
            .collect())
    }

    /// Model names and ids that appear in the data.
    pub async fn list_models(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = "SELECT id, name FROM models ORDER BY name";
        Ok(dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// Model id → the provider its events last named.
    pub async fn model_providers(&self) -> Result<HashMap<i64, String>, StoreError> {
        let sql = "SELECT id, provider FROM models WHERE provider IS NOT NULL";
        let rows: Vec<(i64, String)> =
            dispatch!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows.into_iter().collect())
    }
}
