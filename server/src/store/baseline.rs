//! The benchmark's naive baseline: the panels summed from raw events, as a tool without
//! roll-ups would.

use super::{Backend, Store, StoreError};

impl Store {
    /// The six panels answered straight from raw events, the naive way (the benchmark's
    /// baseline; never used by the product). `offset_ms` is a fixed UTC offset for local days
    /// and hours. Exact percentiles are not computed, which flatters the baseline.
    pub async fn naive_panels(
        &self,
        start_ms: i64,
        end_ms: i64,
        project_ids: &[i64],
        offset_ms: i64,
    ) -> Result<(), StoreError> {
        let mut cond = String::from("ts >= $1 AND ts < $2");
        for (i, _) in project_ids.iter().enumerate() {
            cond.push_str(if i == 0 { " AND project_id IN (" } else { "," });
            cond.push_str(&format!("${}", i + 3));
        }
        if !project_ids.is_empty() {
            cond.push(')');
        }
        let sums = "COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_nanos), \
                    SUM(is_error), SUM(latency_ms), COUNT(latency_ms)";
        // The offset is the last parameter, bound only by the queries that use it.
        let off = format!("${}", project_ids.len() + 3);
        let queries = [
            (format!("SELECT {sums} FROM events WHERE {cond}"), false),
            (format!("SELECT (ts + {off}) / 86400000, {sums} FROM events WHERE {cond} GROUP BY 1"), true),
            (format!("SELECT model_id, {sums} FROM events WHERE {cond} GROUP BY 1"), false),
            (format!("SELECT project_id, {sums} FROM events WHERE {cond} GROUP BY 1"), false),
            (format!("SELECT ((ts + {off}) / 3600000) % 24, {sums} FROM events WHERE {cond} GROUP BY 1"), true),
            (format!("SELECT error_type, {sums} FROM events WHERE {cond} AND is_error = 1 GROUP BY 1"), false),
        ];
        // Scanning raw events is where parallel workers pay: give the baseline PostgreSQL's
        // default of two back (our connections turn them off, see `postgres::open`).
        let set_up: &[&str] = match self.backend {
            Backend::Postgres(_) => &["SET LOCAL max_parallel_workers_per_gather = 2"],
            Backend::Sqlite(_) => &[],
        };
        for (sql, uses_offset) in &queries {
            dispatch!(self, pool => {
                let mut tx = pool.begin().await?;
                for statement in set_up {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                let mut q = sqlx::query(sql).bind(start_ms).bind(end_ms);
                for id in project_ids {
                    q = q.bind(*id);
                }
                if *uses_offset {
                    q = q.bind(offset_ms);
                }
                q.fetch_all(&mut *tx).await?;
                tx.commit().await?
            });
        }
        Ok(())
    }
}
