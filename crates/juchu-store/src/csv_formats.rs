//! CSV管理: the shop's CSV formats, stored as their JSON definition.

use crate::StoreError;
use crate::db::{Store, get_i64, get_str, now_text};
use juchu_domain::FieldErrors;
use juchu_domain::csv_format::CsvFormat;

fn from_row(r: &sqlx::any::AnyRow) -> Result<CsvFormat, StoreError> {
    let id = get_i64(r, "id")?;
    let mut f: CsvFormat = serde_json::from_str(&get_str(r, "definition_json")?)
        .map_err(|e| StoreError::Other(format!("CSV format {id} is unreadable: {e}")))?;
    f.id = id;
    Ok(f)
}

impl Store {
    pub async fn csv_formats(&self) -> Result<Vec<CsvFormat>, StoreError> {
        let rows = sqlx::query("SELECT id, definition_json FROM csv_formats ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn csv_format(&self, id: i64) -> Result<CsvFormat, StoreError> {
        let row = sqlx::query("SELECT id, definition_json FROM csv_formats WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("CSVフォーマット"))?;
        from_row(&row)
    }

    /// Adds a format; unknown columns are refused with their position.
    pub async fn add_csv_format(&self, f: &CsvFormat) -> Result<CsvFormat, StoreError> {
        let f = normalised(f)?;
        let now = now_text();
        let row = sqlx::query(
            "INSERT INTO csv_formats (name, definition_json, created_at, updated_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(f.name.clone())
        .bind(serde_json::to_string(&f).unwrap_or_default())
        .bind(now.clone())
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(CsvFormat {
            id: get_i64(&row, "id")?,
            ..f
        })
    }

    pub async fn update_csv_format(&self, f: &CsvFormat) -> Result<CsvFormat, StoreError> {
        let f = normalised(f)?;
        let n = sqlx::query(
            "UPDATE csv_formats SET name = $1, definition_json = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(f.name.clone())
        .bind(serde_json::to_string(&f).unwrap_or_default())
        .bind(now_text())
        .bind(f.id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound("CSVフォーマット"));
        }
        Ok(f)
    }

    pub async fn delete_csv_format(&self, id: i64) -> Result<(), StoreError> {
        let n = sqlx::query("DELETE FROM csv_formats WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound("CSVフォーマット"));
        }
        Ok(())
    }
}

fn normalised(f: &CsvFormat) -> Result<CsvFormat, FieldErrors> {
    f.validate()?;
    let mut f = f.clone();
    f.name = f.name.trim().to_string();
    for c in &mut f.columns {
        c.key = c.key.trim().to_string();
        c.header = c.header.trim().to_string();
    }
    Ok(f)
}
